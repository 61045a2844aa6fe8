"""Shards' files -> whole-run statistics: each cell block's time chunks folded in time order
(:meth:`~skyfence.scale.runs.CoveragePart.then`), the blocks stacked; the terminals' chunks folded
the same way; per-step tables concatenated. Only one block's per-cell rows and one chunk's are in
memory at a time; nothing is ``[cell x time]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from skyfence.scale.runs import CoveragePart, StatePart
from skyfence.scale.shards import Shard

__all__ = ["fold_cells", "fold_terminals", "read_steps", "read_tracks", "read_timeline", "fold_impact",
           "sum_counts", "first_hits"]


def _read(shard_dir: str | Path, kind: str, shard: Shard) -> pd.DataFrame:
    return pd.read_parquet(Path(shard_dir) / kind / f"{shard.name}.parquet")


def fold_cells(shard_dir: str | Path, shards: list[Shard]) -> pd.DataFrame:
    """The :class:`CoveragePart` of one cell block over the whole run (its shards in time order),
    as a frame."""
    acc = None
    for s in shards:
        part = CoveragePart.from_frame(_read(shard_dir, "cells", s), s.step_lo, s.n_steps)
        acc = part if acc is None else acc.then(part)
    return acc.frame()


def fold_terminals(shard_dir: str | Path, shards: list[Shard]) -> pd.DataFrame:
    """The :class:`StatePart` of the terminals over the whole run, as a frame."""
    acc = None
    for s in shards:
        part = StatePart.from_frame(_read(shard_dir, "terminals", s), s.step_lo, s.n_steps)
        acc = part if acc is None else acc.then(part)
    return acc.frame()


def read_steps(shard_dir: str | Path, shards: list[Shard], kind: str = "steps") -> pd.DataFrame:
    """The per-step rows of the shards (time order), one frame."""
    return pd.concat([_read(shard_dir, kind, s) for s in shards], ignore_index=True)


def read_tracks(shard_dir: str | Path, shards: list[Shard], rows: np.ndarray) -> dict[int, np.ndarray]:
    """The states at every step of the terminals ``rows`` drawn as tracks."""
    if not len(rows):
        return {}
    df = pd.concat([_read(shard_dir, "tracks", s) for s in shards], ignore_index=True)
    return {int(k): df[str(k)].to_numpy(np.int8) for k in rows}


def read_timeline(shard_dir: str | Path, shards: list[Shard], n_terminals: int) -> pd.DataFrame:
    """``terminal_states.parquet``: the shards' rows reordered terminal by terminal, then by step."""
    parts = [_read(shard_dir, "timeline", s) for s in shards]
    whole = pd.concat(parts, ignore_index=True)
    term = np.concatenate([np.repeat(np.arange(n_terminals), s.n_steps) for s in shards])
    step = np.concatenate([np.tile(np.arange(s.step_lo, s.step_hi), n_terminals) for s in shards])
    return whole.iloc[np.lexsort((step, term))].reset_index(drop=True)


def fold_impact(shard_dir: str | Path, shards: list[Shard], kind: str) -> pd.DataFrame:
    """Per row of one block (``kind`` ``cells``) or of the terminals (``terminals-newly_denied`` /
    ``terminals-restored``): True where any shard hit it."""
    acc = None
    for s in shards:
        df = _read(Path(shard_dir) / "impact", kind, s)
        acc = df if acc is None else (acc | df)
    return acc


def sum_counts(shard_dir: str | Path, kind: str, shards: list[Shard]) -> dict[str, np.ndarray]:
    """Per row, the sum over the shards (one row set: one cell block's or the terminals') of each
    count column of ``kind`` (counts over time windows add up)."""
    acc: dict[str, np.ndarray] | None = None
    for s in shards:
        df = _read(shard_dir, kind, s)
        cols = {c: df[c].to_numpy(np.int64) for c in df.columns}
        acc = cols if acc is None else {c: acc[c] + cols[c] for c in acc}
    return acc


def first_hits(shard_dir: str | Path, shards: list[Shard], kind: str) -> pd.DataFrame:
    """Per row, the first shard's ``first_step`` / ``first_cell`` that is not -1 (shards in time
    order): the first step at which something happened to the row, and where."""
    acc = None
    for s in sorted(shards, key=lambda s: s.step_lo):
        df = _read(shard_dir, kind, s)
        if acc is None:
            acc = df.copy()
            continue
        take = (acc["first_step"].to_numpy() < 0) & (df["first_step"].to_numpy() >= 0)
        acc.loc[take, ["first_step", "first_cell"]] = df.loc[take, ["first_step", "first_cell"]]
    return acc
