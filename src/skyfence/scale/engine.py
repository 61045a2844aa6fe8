"""``run_sharded`` and ``impact_sharded``: a scenario's run (or policy impact) cut into shards
(:mod:`~skyfence.scale.shards`), the shards computed on a Dask cluster (or one after the other in
this process), their Parquet files folded into whole-run statistics.

The scenario, its ground, regions and policies are read and validated here first, as in a
single-process run, so input errors are reported before any work is sent out. Shard files go to
``shard_dir`` (default: a temporary folder, removed afterwards); with ``scheduler`` the folder
must be visible to every worker (a shared file system).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd

from skyfence.funding.resolve import FundedSet
from skyfence.ground.terminals import Terminals, empty_terminals
from skyfence.scale.distributed import dask_client, map_tasks
from skyfence.scale.reduce import (
    first_hits,
    fold_cells,
    fold_impact,
    fold_terminals,
    read_steps,
    read_timeline,
    read_tracks,
    sum_counts,
)
from skyfence.scale.result import ShardedRun
from skyfence.scale.runs import CoveragePart, StatePart
from skyfence.scale.shards import STEPS_PER_SHARD, Shard, ShardPlan, plan_shards
from skyfence.scale.tasks import (
    ShardGround,
    impact_shard,
    run_shard,
    shard_ground,
    window_terminals,
)
from skyfence.service.outputs import MAX_TRACKS, moving_terminals
from skyfence.service.scenario import Scenario
from skyfence.service.simulate import Ground, build_ground, load_policy_segments, resolve_funding

__all__ = ["run_sharded", "impact_sharded"]

Progress = Callable[[int], None]


def _merge(lists) -> list[str]:
    out: list[str] = []
    for items in lists:
        out += [x for x in items if x not in out]
    return out


def _sources(metas: list[dict], key: str, log: str | None) -> tuple[str, ...]:
    """Policy sources of the whole run: each chunk's in time order (a chunk without an enacted
    policy names the log itself, dropped when any policy was in force)."""
    merged = _merge(m[key] for m in sorted(metas, key=lambda m: m["shard"]))
    if log and len(merged) > 1:
        merged = [x for x in merged if x != log]
    return tuple(merged)


def _shard_task(item: tuple[ShardGround, Terminals | None, tuple, Shard], fn, sc, base, shard_dir, extra):
    part, terms, (funding, new_funding), shard = item
    part = dataclasses.replace(part, terminals=terms, funding=funding, new_funding=new_funding)
    return fn(sc, base, part, shard, shard_dir, extra)


def _window(fs: FundedSet | None, lo: int, hi: int) -> FundedSet | None:
    return None if fs is None else fs.window(lo, hi)


class _Session:
    """The client (or none), the plan and the shared inputs of one sharded computation
    (``funding``: the run's funded set and, for an impact run, the changed one, cut to each shard
    with the terminals)."""

    def __init__(self, sc: Scenario, ground: Ground, client, cells_per_shard, steps_per_shard,
                 funding: tuple[FundedSet | None, FundedSet | None] = (None, None)):  # fmt: skip
        n_workers = 1 if client is None else max(1, len(client.scheduler_info()["workers"]))
        self.plan: ShardPlan = plan_shards(len(ground.cells), len(ground.t_utc), n_workers=n_workers,
                                           cells_per_shard=cells_per_shard, steps_per_shard=steps_per_shard)  # fmt: skip
        self.client = client
        base = dataclasses.replace(ground, cells=ground.cells[:0], cell_lat_deg=ground.cell_lat_deg[:0],
                                   cell_lon_deg=ground.cell_lon_deg[:0], cell_area_km2=ground.cell_area_km2[:0],
                                   terminals=empty_terminals(), region_geom=None)  # fmt: skip
        if client is not None:
            self.sc, self.base = client.scatter([sc, base], broadcast=True)
        else:
            self.sc, self.base = sc, base
        blocks = {s.block: shard_ground(ground, s) for s in self.plan.shards if s.chunk == 0}
        if client is not None:  # each block's cells sent once (to every worker: a lost worker loses no input)
            blocks = dict(zip(blocks, client.scatter(list(blocks.values()), broadcast=True), strict=True))
        self.items = [(blocks[s.block], window_terminals(ground.terminals, s.step_lo, s.step_hi) if s.terminals
                       else None, tuple(_window(f, s.step_lo, s.step_hi) if s.terminals else None for f in funding),
                       s) for s in self.plan.shards]  # fmt: skip

    def map_shards(self, fn, shard_dir: str, extra, progress: Progress | None) -> list[dict]:
        return map_tasks(self.client, _shard_task, self.items, fn, self.sc, self.base, shard_dir, extra,
                         weight=lambda it: it[3].n_steps, progress=progress)  # fmt: skip

    def map(self, fn, items, *args) -> list:
        return map_tasks(self.client, fn, items, *args, key="reduce")


def _engine(workers: int | None, scheduler: str | None):
    return dask_client(workers, scheduler) if (workers or scheduler) else nullcontext(None)


def _shard_dir(shard_dir: str | Path | None):
    if shard_dir is not None:
        Path(shard_dir).mkdir(parents=True, exist_ok=True)
        return nullcontext(str(shard_dir))
    return _TempDir()


class _TempDir:
    def __enter__(self) -> str:
        self.path = tempfile.mkdtemp(prefix="skyfence-shards-")
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _fold_cells_task(shards, shard_dir):
    return fold_cells(shard_dir, shards)


def run_sharded(
    sc: Scenario,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    cells_per_shard: int | None = None,
    steps_per_shard: int = STEPS_PER_SHARD,
    shard_dir: str | Path | None = None,
    progress: Progress | None = None,
    on_total: Progress | None = None,
) -> ShardedRun:
    """Coverage and policy of a scenario, shard by shard: on a local cluster of ``workers``
    processes, on the cluster of ``scheduler``, or (neither) in this process. ``on_total(n)`` then
    ``progress(k)`` count cell-block steps (blocks x steps). A scenario's ``[funding]`` is
    resolved here, once for the whole run, and each shard decides with its steps' part of it."""
    ground = build_ground(sc)
    load_policy_segments(sc, ground)  # validated before any shard runs
    funding = resolve_funding(sc, ground)  # likewise
    moving = moving_terminals(ground) if len(ground.terminals) else np.zeros(0, bool)
    tracks = np.flatnonzero(moving)[:MAX_TRACKS]
    with _engine(workers, scheduler) as client, _shard_dir(shard_dir) as sdir:
        s = _Session(sc, ground, client, cells_per_shard, steps_per_shard, (funding, None))
        plan = s.plan
        if on_total:
            on_total(plan.n_blocks * plan.n_steps)
        metas = s.map_shards(run_shard, sdir, tracks, progress)
        blocks = s.map(_fold_cells_task, [plan.block(b) for b in range(plan.n_blocks)], sdir)
        observers = metas[0]["observers"]
        folded = {}  # the optional per-row counts, summed over the shards
        if observers is not None:
            cell_obs = [sum_counts(sdir, "observed-cells", plan.block(b)) for b in range(plan.n_blocks)]
            folded["observed_cells"] = {k: np.concatenate([c[k] for c in cell_obs]) for k in cell_obs[0]}
        n_t = plan.n_steps
        cell_part = CoveragePart.from_frame(pd.concat(blocks, ignore_index=True), 0, n_t)
        t_shards = plan.terminal_shards()
        n_term = len(ground.terminals)
        term_part = StatePart.from_frame(fold_terminals(sdir, t_shards), 0, n_t) if n_term else None
        steps = read_steps(sdir, t_shards)
        track_states = read_tracks(sdir, t_shards, tracks)
        timeline = read_timeline(sdir, t_shards, n_term) if sc.output.get("timeline") else None
        if observers is not None:
            folded["observed_terminals"] = (sum_counts(sdir, "observed-terminals", t_shards) if n_term else
                                            {k: np.zeros(0, np.int64) for k in folded["observed_cells"]})  # fmt: skip
        if funding is not None:
            folded["denied_unfunded_steps"] = (sum_counts(sdir, "funding", t_shards)["denied_unfunded_steps"]
                                               if n_term else np.zeros(0, np.int64))  # fmt: skip
    errors: dict[int, int] = {}
    for m in sorted(metas, key=lambda m: m["shard"]):
        for code, n in m["sgp4_errors"].items():
            errors[code] = errors.get(code, 0) + n
    ground.n_sat, ground.elements_source = metas[0]["n_sat"], metas[0]["elements_source"]
    return ShardedRun(sc, ground, cell_part, term_part, steps, track_states, errors,
                      _sources(metas, "policy_sources", sc.policy_log), tuple(_merge(m["warnings"] for m in metas)),
                      timeline, len(plan.shards), funding=funding, observers=observers, **folded)  # fmt: skip


def _fold_impact_task(shards, shard_dir, kind):
    return fold_impact(shard_dir, shards, kind)


def impact_sharded(
    sc: Scenario,
    new_policy_files: list[str] | None,
    *,
    end_funding: Sequence[tuple[str, np.datetime64]] = (),
    add_funding: Sequence[str | Path] = (),
    workers: int | None = None,
    scheduler: str | None = None,
    cells_per_shard: int | None = None,
    steps_per_shard: int = STEPS_PER_SHARD,
    shard_dir: str | Path | None = None,
    progress: Progress | None = None,
    on_total: Progress | None = None,
) -> dict:
    """The impact report of :func:`skyfence.service.impact.compare` for a policy change
    (``new_policy_files``; None keeps the policy) and/or a funding change (``end_funding``,
    ``add_funding`` as there), shard by shard."""
    from skyfence.ground.population import METHOD as POPULATION_METHOD
    from skyfence.service.impact import funding_change, fundings, terminal_places
    from skyfence.service.outputs import cell_population, iso_utc

    ground = build_ground(sc)
    # both policy sets and both fundings are read and validated before any shard runs
    load_policy_segments(sc, ground)
    if new_policy_files:
        load_policy_segments(sc, ground, policy_files=new_policy_files)
    funding_changed = bool(end_funding or add_funding)
    old_funding, new_funding = fundings(sc, ground, end_funding, add_funding)
    with _engine(workers, scheduler) as client, _shard_dir(shard_dir) as sdir:
        s = _Session(sc, ground, client, cells_per_shard, steps_per_shard,
                     (old_funding, new_funding if funding_changed else None))  # fmt: skip
        plan = s.plan
        if on_total:
            on_total(plan.n_blocks * plan.n_steps)
        metas = s.map_shards(impact_shard, sdir, list(new_policy_files or []), progress)
        blocks = [plan.block(b) for b in range(plan.n_blocks)]
        cells = pd.concat(s.map(_fold_impact_task, blocks, sdir, "cells"), ignore_index=True)
        n_term = len(ground.terminals)
        keys = ("newly_denied", "restored")
        t_rows = {k: fold_impact(sdir, plan.terminal_shards(), f"terminals-{k}")["hit"].to_numpy() if n_term
                  else np.zeros(0, bool) for k in keys}  # fmt: skip
        first = ({k: first_hits(Path(sdir) / "impact", plan.terminal_shards(), f"terminals-{k}-first") for k in keys}
                 if funding_changed and n_term else {})  # fmt: skip
        steps = pd.concat([read_steps(Path(sdir) / "impact", plan.block(b)) for b in range(plan.n_blocks)])
    per_step = steps.groupby("step").agg({c: ("max" if c.endswith("_any") else "sum") for c in steps.columns
                                          if c != "step"}).sort_index()  # fmt: skip
    pop = cell_population(ground.cells, ground.regions.resolution)
    t = ground.t_utc
    ids = np.array([str(i) for i in ground.terminals.ids], dtype=object)
    report = {
        "scenario": sc.name,
        "current_policy": list(_sources(metas, "old_policy_sources", sc.policy_log)),
        "new_policy": list(_sources(metas, "policy_sources", None if new_policy_files else sc.policy_log)),
        "warnings": _merge(m["warnings"] for m in sorted(metas, key=lambda m: m["shard"])),
        "steps": len(t),
        "people_method": POPULATION_METHOD,
    }
    for key in keys:
        c_rows = cells[key].to_numpy()
        hit_steps = np.flatnonzero(per_step[f"{key}_any"].to_numpy())
        per_step_terms = per_step[f"{key}_terminals"].to_numpy()
        report[key] = {
            "terminals": int(t_rows[key].sum()),
            "terminal_ids": ids[t_rows[key]][:200].tolist(),
            "cells": int(c_rows.sum()),
            "area_km2": float(ground.cell_area_km2[c_rows].sum()),
            "people": float(pop[c_rows].sum()),
            "first_utc": iso_utc(t[hit_steps[0]]) if len(hit_steps) else None,
            "last_utc": iso_utc(t[hit_steps[-1]]) if len(hit_steps) else None,
            "max_terminals_at_once": int(per_step_terms.max()) if len(per_step_terms) else 0,
        }
        if funding_changed:
            rows = np.flatnonzero(t_rows[key])
            cells_then = first[key]["first_cell"].to_numpy()[rows] if n_term else np.zeros(0, np.int64)
            report[key].update(terminal_places(ground, rows, cells_then, pop))
    if funding_changed:
        report["funding"] = funding_change(old_funding, new_funding, end_funding, add_funding)
    return report
