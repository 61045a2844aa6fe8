"""One shard's computation, pure apart from the Parquet files it writes: the ground cut to the
shard's cells and steps, the constellation propagated over those steps only, visibility and the
policy decisions by the single-process pipeline (:mod:`skyfence.service.simulate`), then per-row
statistics of the window (:mod:`skyfence.scale.runs`) written to ``<shard_dir>/<kind>/<shard>.parquet``.

Files (one row per cell / terminal of the shard, or per step):

* ``cells/``: :class:`~skyfence.scale.runs.CoveragePart` of the shard's cells;
* ``terminals/`` (shards with the terminals): :class:`~skyfence.scale.runs.StatePart`;
* ``steps/`` (same shards): terminals per state at each step;
* ``tracks/`` (same shards): the states of the drawn mobile terminals at each step;
* ``timeline/`` (same shards, when the scenario asks for ``terminal_states.parquet``);
* ``funding/`` (same shards, scenarios with ``[funding]``): steps each terminal was denied while
  unfunded (the ``steps/`` rows then also count the terminals so denied);
* ``observed-cells/``, ``observed-terminals/`` (scenarios with ``[observers]``): per row the
  :func:`~skyfence.service.outputs.observed_counts` of the window;
* ``impact/`` (impact runs): per cell and terminal, whether the new policy newly denies or restores
  it; per step, whether anything changed and the terminals changed.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from skyfence.coverage.stats import DENIED, SERVED, state_counts
from skyfence.funding.resolve import FundedSet
from skyfence.ground.terminals import Terminals
from skyfence.scale.runs import CoveragePart, StatePart
from skyfence.scale.shards import Shard
from skyfence.service.scenario import Scenario
from skyfence.service.simulate import Ground, compute_visibility, decide, load_policy_segments

__all__ = ["ShardGround", "shard_ground", "window_terminals", "run_shard", "impact_shard", "write_parquet"]


@dataclasses.dataclass
class ShardGround:
    """What a shard needs of the ground beyond the scenario: the ground without its cells and
    terminals (regions, times, mask: sent once to every worker), and the shard's own cells; for
    shards with the terminals, the funded set of the shard's steps (resolved once for the whole
    run: budgets are spent from its start) and, for an impact run, the changed one."""

    base: Ground
    cells: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    area_km2: np.ndarray
    terminals: Terminals | None
    funding: FundedSet | None = None
    new_funding: FundedSet | None = None


def window_terminals(terms: Terminals, lo: int, hi: int) -> Terminals:
    """The terminals over steps ``[lo, hi)`` (mobile form cut in time; fixed ones unchanged)."""
    if not terms.mobile:
        return terms
    return dataclasses.replace(
        terms, lat_deg=terms.lat_deg[:, lo:hi], lon_deg=terms.lon_deg[:, lo:hi], t_utc=terms.t_utc[lo:hi],
        speed_kmh=None if terms.speed_kmh is None else terms.speed_kmh[:, lo:hi],
    )  # fmt: skip


def shard_ground(ground: Ground, shard: Shard) -> ShardGround:
    """The cells of the shard's block (shared by every shard of the block; no terminals)."""
    c = slice(shard.cell_lo, shard.cell_hi)
    return ShardGround(None, ground.cells[c], ground.cell_lat_deg[c], ground.cell_lon_deg[c],
                       ground.cell_area_km2[c], None)  # fmt: skip


def _local_ground(base: Ground, part: ShardGround, shard: Shard) -> Ground:
    from skyfence.ground.terminals import empty_terminals

    return dataclasses.replace(
        base, cells=part.cells, cell_lat_deg=part.lat_deg, cell_lon_deg=part.lon_deg, cell_area_km2=part.area_km2,
        terminals=part.terminals if part.terminals is not None else empty_terminals(),
        t_utc=base.t_utc[shard.step_lo : shard.step_hi],
    )  # fmt: skip


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` atomically (a killed worker leaves no half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


#: elements loaded by this process, by (spec, skip_invalid): a worker parses a catalogue once
_ELEMENTS: dict[tuple[str, bool], object] = {}


def _elements(sc: Scenario):
    from skyfence.orbits.catalog import load_elements

    key = (repr(sc.elements), bool(sc.skip_invalid))
    if key not in _ELEMENTS:
        _ELEMENTS.clear()
        _ELEMENTS[key] = load_elements(sc.elements, skip_invalid=sc.skip_invalid)
    return _ELEMENTS[key]


def _simulate(sc: Scenario, base: Ground, part: ShardGround, shard: Shard, policy_files=None):
    ground = _local_ground(base, part, shard)
    vis = compute_visibility(sc, ground, chunk_steps=shard.n_steps, elements=_elements(sc))
    decisions = [decide(sc, ground, vis, segments=load_policy_segments(sc, ground), funding=part.funding)]
    if policy_files is not None:
        segs = load_policy_segments(sc, ground, policy_files=policy_files) if policy_files else None
        new_funding = part.new_funding if part.new_funding is not None else part.funding
        decisions.append(decide(sc, ground, vis, policy_files=policy_files or None, segments=segs,
                                funding=new_funding))  # fmt: skip
    meta = {"shard": shard.index, "n_sat": ground.n_sat, "elements_source": ground.elements_source,
            "sgp4_errors": vis.sgp4_errors if shard.block == 0 else {},
            "policy_sources": list(decisions[-1].policy_sources), "warnings": list(decisions[-1].warnings),
            "old_policy_sources": list(decisions[0].policy_sources), "observers": vis.observers}  # fmt: skip
    return ground, vis, decisions, meta


def run_shard(sc: Scenario, base: Ground, part: ShardGround, shard: Shard, shard_dir: str,
              tracks: np.ndarray | None = None) -> dict:  # fmt: skip
    """Compute one shard of ``skyfence run`` and write its files; returns its metadata (satellites,
    SGP4 errors, policy sources and warnings, observer groups). ``tracks``: rows of the terminals
    drawn as tracks."""
    from skyfence.service.funding_outputs import denied_unfunded
    from skyfence.service.outputs import observed_counts

    out = Path(shard_dir)
    ground, vis, (dec,), meta = _simulate(sc, base, part, shard)
    write_parquet(CoveragePart.of(vis.cell_counts, dec.cell_states, shard.step_lo).frame(),
                  out / "cells" / f"{shard.name}.parquet")  # fmt: skip
    if vis.cell_observed is not None:
        write_parquet(pd.DataFrame(observed_counts(vis.cell_observed, dec.cell_states)),
                      out / "observed-cells" / f"{shard.name}.parquet")  # fmt: skip
    if shard.terminals:
        ts = dec.terminal_states
        write_parquet(StatePart.of(ts, shard.step_lo).frame(), out / "terminals" / f"{shard.name}.parquet")
        steps = pd.DataFrame({"step": np.arange(shard.step_lo, shard.step_hi), **state_counts(ts)})
        if dec.funding is not None:
            du = denied_unfunded(dec)
            steps["denied_unfunded"] = du.sum(axis=0).astype(np.int64)
            write_parquet(pd.DataFrame({"denied_unfunded_steps": du.sum(axis=1).astype(np.int64)}),
                          out / "funding" / f"{shard.name}.parquet")  # fmt: skip
        if vis.terminal_observed is not None:
            write_parquet(pd.DataFrame(observed_counts(vis.terminal_observed, ts)),
                          out / "observed-terminals" / f"{shard.name}.parquet")  # fmt: skip
        write_parquet(steps, out / "steps" / f"{shard.name}.parquet")
        if tracks is not None and len(tracks):
            write_parquet(pd.DataFrame(ts[tracks].T, columns=[str(k) for k in tracks]),
                          out / "tracks" / f"{shard.name}.parquet")  # fmt: skip
        if sc.output.get("timeline"):
            from skyfence.service.outputs import timeline_frame

            write_parquet(timeline_frame(ground, vis, dec), out / "timeline" / f"{shard.name}.parquet")
    return meta


def impact_shard(sc: Scenario, base: Ground, part: ShardGround, shard: Shard, shard_dir: str,
                 policy_files: list[str]) -> dict:  # fmt: skip
    """Compute one shard of ``skyfence impact`` (current policy vs ``policy_files``) and write its
    ``impact/`` files; returns its metadata."""
    out = Path(shard_dir) / "impact"
    _, vis, (old, new), meta = _simulate(sc, base, part, shard, policy_files)
    cols, step_cols = {}, {"step": np.arange(shard.step_lo, shard.step_hi)}
    for key, frm, to in (("newly_denied", SERVED, DENIED), ("restored", DENIED, SERVED)):
        c_hit = (old.cell_states == frm) & (new.cell_states == to)
        t_hit = (old.terminal_states == frm) & (new.terminal_states == to)
        cols[key] = c_hit.any(axis=1)
        step_cols[f"{key}_any"] = c_hit.any(axis=0) | t_hit.any(axis=0)
        step_cols[f"{key}_terminals"] = t_hit.sum(axis=0).astype(np.int64)
        if shard.terminals:
            hit = t_hit.any(axis=1)
            write_parquet(pd.DataFrame({"hit": hit}), out / f"terminals-{key}" / f"{shard.name}.parquet")
            if part.new_funding is not None:  # a funding change: where each terminal stands when it bites
                first = t_hit.argmax(axis=1)
                cell = vis.terminal_cells[np.arange(len(first)), first].astype(np.int64)
                write_parquet(pd.DataFrame({"first_step": np.where(hit, shard.step_lo + first, -1),
                                            "first_cell": np.where(hit, cell, -1)}),
                              out / f"terminals-{key}-first" / f"{shard.name}.parquet")  # fmt: skip
    write_parquet(pd.DataFrame(cols), out / "cells" / f"{shard.name}.parquet")
    write_parquet(pd.DataFrame(step_cols), out / "steps" / f"{shard.name}.parquet")
    return meta
