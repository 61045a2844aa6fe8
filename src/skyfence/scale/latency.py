"""Latency runs cut into time chunks on a Dask cluster (or one after the other in this process).

* :func:`latency_sharded` — the :func:`skyfence.network.latency.latency` run, each time chunk
  propagated and routed by its own task and written to Parquet (lengths, hops, path hashes and
  path nodes), the chunks then read back in order into the very
  :class:`~skyfence.network.result.LatencyResult` of the single-process run (bit for bit: chunks
  start at multiples of :data:`~skyfence.network.routing.TREE_RESET_STEPS`, where the
  single-process run searches its trees from scratch too, and propagation is per instant).
* :func:`pair_statistics` — for runs too large to hold (all 499,500 pairs of the top-1,000 cities
  over an hour at 1 s is 1.8 G values): per pair, the count of steps connected, the sum, minimum
  and maximum RTT and the largest RTTs needed for an exact 95th percentile; per step, pairs
  connected and their mean RTT. Each task folds its own chunk and writes it (Parquet, plus the
  ``[pairs, k]`` block of largest RTTs as ``.npy``); chunks are then folded in time order.

The p95 is the nearest-rank percentile (the ``ceil(0.95 n)``-th smallest of a pair's ``n``
connected RTTs), kept exact across chunks by carrying each pair's ``floor(0.05 N) + 1`` largest
RTTs (``N`` the run's steps) as float32.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

from skyfence.errors import SkyfenceError
from skyfence.ground.fibre import C_KM_S
from skyfence.network.latency import LatencyPlan, plan_latency
from skyfence.network.result import LatencyResult
from skyfence.network.routing import TREE_RESET_STEPS, RouteSeries, source_trees
from skyfence.scale.distributed import map_tasks
from skyfence.scale.engine import _engine, _shard_dir
from skyfence.scale.tasks import write_parquet

__all__ = ["latency_sharded", "pair_statistics", "time_chunks"]

Progress = Callable[[int], None]


def time_chunks(n_steps: int, steps_per_shard: int | None, n_workers: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` step ranges, each a multiple of :data:`TREE_RESET_STEPS` long (but the last);
    by default about two per worker."""
    if steps_per_shard is None:
        per = math.ceil(n_steps / max(1, 2 * n_workers))
        steps_per_shard = max(1, math.ceil(per / TREE_RESET_STEPS)) * TREE_RESET_STEPS
    if steps_per_shard < 1 or steps_per_shard % TREE_RESET_STEPS:
        raise SkyfenceError(f"steps per shard must be a multiple of {TREE_RESET_STEPS}, got {steps_per_shard}")
    return [(lo, min(lo + steps_per_shard, n_steps)) for lo in range(0, n_steps, steps_per_shard)]


def _n_workers(client) -> int:
    return 1 if client is None else max(1, len(client.scheduler_info()["workers"]))


def _share(client, plan: LatencyPlan):
    """The plan on every worker (it travels with the elements' name, reloaded there)."""
    if client is None:
        return plan
    if plan.elements_spec is None:
        raise SkyfenceError("--workers/--scheduler need the elements as a preset name or a file")
    return client.scatter(plan, broadcast=True)


# --- whole tables -------------------------------------------------------------------------------


def _route_chunk(chunk: tuple[int, int], plan: LatencyPlan, shard_dir: str) -> str:
    lo, hi = chunk
    routes = plan.route(plan.positions(lo, hi), first_step=lo)
    stem = Path(shard_dir) / f"latency-t{lo:08d}"
    counts = np.diff(routes.path_offsets)
    write_parquet(pd.DataFrame({"length_km": routes.length_km.ravel(), "hops": routes.hops.ravel(),
                                "path_hash": routes.path_hash.ravel(), "path_nodes": counts}),
                  stem.with_suffix(".parquet"))  # fmt: skip
    write_parquet(pd.DataFrame({"node": routes.path_nodes}), stem.with_name(stem.name + "-paths.parquet"))
    return str(stem)


def _read_routes(stems: list[str], n_pair: int) -> RouteSeries:
    """The chunks' routes in time order, as one :class:`RouteSeries`."""
    steps = [pd.read_parquet(f"{s}.parquet") for s in stems]
    nodes = [pd.read_parquet(f"{s}-paths.parquet")["node"].to_numpy() for s in stems]
    table = pd.concat(steps, ignore_index=True)
    counts = table["path_nodes"].to_numpy()
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return RouteSeries(
        table["length_km"].to_numpy().reshape(-1, n_pair),
        table["hops"].to_numpy().reshape(-1, n_pair),
        np.concatenate(nodes).astype(np.int32) if nodes else np.zeros(0, dtype=np.int32),
        offsets,
        table["path_hash"].to_numpy().reshape(-1, n_pair),
    )


def latency_sharded(
    elements,
    pairs=None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    steps_per_shard: int | None = None,
    shard_dir: str | Path | None = None,
    progress: Progress | None = None,
    **options,
) -> LatencyResult:
    """:func:`skyfence.network.latency.latency` (same arguments in ``options``) with the time grid
    cut into chunks of ``steps_per_shard`` steps (a multiple of :data:`TREE_RESET_STEPS`), routed
    on a local cluster of ``workers`` processes, on the cluster at ``scheduler``, or (neither) in
    this process; ``progress(n)`` counts steps as chunks finish. The same result as
    ``latency(elements, pairs, **options)``."""
    if options.get("sat_ecef_km") is not None:
        raise SkyfenceError("a sharded latency run propagates its own chunks: leave out sat_ecef_km")
    options.pop("sat_ecef_km", None)
    plan = plan_latency(elements, pairs, **options)
    with _engine(workers, scheduler) as client, _shard_dir(shard_dir) as sdir:
        chunks = time_chunks(len(plan.t_utc), steps_per_shard, _n_workers(client))
        shared = _share(client, plan)
        stems = map_tasks(client, _route_chunk, chunks, shared, sdir, weight=lambda c: c[1] - c[0],
                          progress=progress, key="latency")  # fmt: skip
        routes = _read_routes(stems, len(plan.pairs))
    return plan.result(routes)


# --- per-pair statistics ------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _fold_step(dist, row, target, n_ok, total, lo, hi, top, n_top):
    """Add one step's RTTs (from the trees' ``dist``) to the per-pair statistics; ``top[p]`` is
    a min-heap of the pair's largest RTTs (``n_top[p]`` of them). Returns (pairs connected, sum)."""
    k = top.shape[1]
    n_conn = 0
    s = 0.0
    for p in range(len(row)):
        length = dist[row[p], target[p]]
        if not length < np.inf:
            continue
        rtt = 2.0 * length / C_KM_S * 1000.0  # as skyfence.network.routing.rtt_ms_from_length_km
        n_conn += 1
        s += rtt
        n_ok[p] += 1
        total[p] += rtt
        lo[p] = min(lo[p], rtt)
        hi[p] = max(hi[p], rtt)
        v = np.float32(rtt)
        h = top[p]
        if n_top[p] < k:  # heap not full: sift up
            j = n_top[p]
            n_top[p] += 1
            while j > 0 and h[(j - 1) // 2] > v:
                h[j] = h[(j - 1) // 2]
                j = (j - 1) // 2
            h[j] = v
        elif v > h[0]:  # larger than the smallest kept: replace it, sift down
            j = 0
            while True:
                c = 2 * j + 1
                if c >= k:
                    break
                if c + 1 < k and h[c + 1] < h[c]:
                    c += 1
                if h[c] >= v:
                    break
                h[j] = h[c]
                j = c
            h[j] = v
    return n_conn, s


def _kept(n_steps: int) -> int:
    """Largest RTTs kept per pair for an exact nearest-rank p95 over ``n_steps`` steps."""
    return n_steps // 20 + 1


def _stats_chunk(chunk: tuple[int, int], plan: LatencyPlan, n_steps: int, shard_dir: str) -> str:
    lo_step, hi_step = chunk
    sources, row = np.unique(plan.pairs[:, 0], return_inverse=True)
    n_sat, n_gs, n_pair = len(plan.elements), len(plan.places), len(plan.pairs)
    target = (n_sat + n_gs + plan.pairs[:, 1]).astype(np.int64)
    row = row.astype(np.int64)
    n_ok = np.zeros(n_pair, dtype=np.int64)
    total = np.zeros(n_pair)
    lo, hi = np.full(n_pair, np.inf), np.full(n_pair, -np.inf)
    top = np.full((n_pair, _kept(n_steps)), -np.inf, dtype=np.float32)
    n_top = np.zeros(n_pair, dtype=np.int64)
    per_step = np.zeros((hi_step - lo_step, 2))
    sat = plan.positions(lo_step, hi_step)
    for t, trees in source_trees(sat, plan.isl_pairs, plan.places.ecef_km, sources, first_step=lo_step,
                                 **plan.route_kw):  # fmt: skip
        per_step[t] = _fold_step(trees.dist, row, target, n_ok, total, lo, hi, top, n_top)
    stem = Path(shard_dir) / f"pairs-t{lo_step:08d}"
    write_parquet(pd.DataFrame({"connected_steps": n_ok, "rtt_sum_ms": total, "min_rtt_ms": lo, "max_rtt_ms": hi}),
                  stem.with_suffix(".parquet"))  # fmt: skip
    write_parquet(pd.DataFrame({"step": np.arange(lo_step, hi_step), "pairs_connected": per_step[:, 0].astype(np.int64),
                                "rtt_sum_ms": per_step[:, 1]}), stem.with_name(stem.name + "-steps.parquet"))  # fmt: skip
    tmp = stem.with_name(f".{stem.name}.{os.getpid()}.npy")
    np.save(tmp, top)
    os.replace(tmp, stem.with_name(stem.name + "-top.npy"))
    return str(stem)


def _fold_chunks(stems: list[str], n_pair: int, k: int):
    n_ok = np.zeros(n_pair, dtype=np.int64)
    total = np.zeros(n_pair)
    lo, hi = np.full(n_pair, np.inf), np.full(n_pair, -np.inf)
    top = np.full((n_pair, k), -np.inf, dtype=np.float32)
    steps = []
    for s in stems:  # in time order: the sums add up in the same order whatever ran them
        part = pd.read_parquet(f"{s}.parquet")
        n_ok += part["connected_steps"].to_numpy()
        total += part["rtt_sum_ms"].to_numpy()
        lo = np.minimum(lo, part["min_rtt_ms"].to_numpy())
        hi = np.maximum(hi, part["max_rtt_ms"].to_numpy())
        both = np.concatenate([top, np.load(f"{s}-top.npy")], axis=1)
        top = -np.partition(-both, k - 1, axis=1)[:, :k]
        steps.append(pd.read_parquet(f"{s}-steps.parquet"))
    return n_ok, total, lo, hi, top, pd.concat(steps, ignore_index=True)


def pair_statistics(
    elements,
    pairs=None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    steps_per_shard: int | None = None,
    shard_dir: str | Path | None = None,
    progress: Progress | None = None,
    **options,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-pair and per-step RTT statistics of a latency run (arguments as
    :func:`latency_sharded`), without holding its ``[steps, pairs]`` RTTs anywhere.

    Returns ``(pairs, steps)``: ``pairs`` has ``src, dst, min_rtt_ms, mean_rtt_ms, max_rtt_ms,
    p95_rtt_ms`` (over connected steps; NaN if never), ``reachable_fraction``; ``steps`` has
    ``t_utc, pairs_connected, mean_rtt_ms``."""
    plan = plan_latency(elements, pairs, **options)
    n_steps, n_pair = len(plan.t_utc), len(plan.pairs)
    with _engine(workers, scheduler) as client, _shard_dir(shard_dir) as sdir:
        chunks = time_chunks(n_steps, steps_per_shard, _n_workers(client))
        shared = _share(client, plan)
        stems = map_tasks(client, _stats_chunk, chunks, shared, n_steps, sdir, weight=lambda c: c[1] - c[0],
                          progress=progress, key="pairs")  # fmt: skip
        n_ok, total, lo, hi, top, steps = _fold_chunks(stems, n_pair, _kept(n_steps))
    never = n_ok == 0
    top = -np.sort(-top, axis=1)  # largest first
    rank = np.maximum(n_ok - (95 * n_ok + 99) // 100, 0)  # the p95's place from the top
    p95 = np.take_along_axis(top, np.minimum(rank, top.shape[1] - 1)[:, None], axis=1)[:, 0].astype(float)
    names = np.array(plan.places.names, dtype=object)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_pair = pd.DataFrame({
            "src": names[plan.pairs[:, 0]], "dst": names[plan.pairs[:, 1]],
            "min_rtt_ms": np.where(never, np.nan, lo), "mean_rtt_ms": np.where(never, np.nan, total / n_ok),
            "max_rtt_ms": np.where(never, np.nan, hi), "p95_rtt_ms": np.where(never, np.nan, p95),
            "reachable_fraction": n_ok / n_steps,
        })  # fmt: skip
        per_step = pd.DataFrame({
            "t_utc": pd.to_datetime(plan.t_utc[steps["step"].to_numpy()]).tz_localize("UTC"),
            "pairs_connected": steps["pairs_connected"].to_numpy(),
            "mean_rtt_ms": steps["rtt_sum_ms"].to_numpy() / steps["pairs_connected"].to_numpy(),
        })  # fmt: skip
    return per_pair, per_step
