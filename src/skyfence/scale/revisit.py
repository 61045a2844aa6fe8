"""``revisit_sharded``: a revisit scenario's accesses computed on a Dask cluster, the targets cut
into contiguous chunks, one task per chunk; everything else as :func:`skyfence.imaging.run.revisit`.

Each task loads the scenario's ``[observers]`` itself (SGP4's ``Satrec`` objects do not pickle;
with ``scheduler`` the workers must see the same element files), propagates every satellite over
the whole period and finds the accesses of its targets with
:func:`skyfence.imaging.access.find_accesses`, screening with the whole target set's radii
(``ground_radii_km``), so each target's accesses are the same bits as in one process. The chunks'
accesses are put back in target order and sorted as ``find_accesses`` sorts them: the tables and
``summary.json`` equal the single-process run's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import pandas as pd

from skyfence.imaging.access import find_accesses
from skyfence.imaging.observed import Observers
from skyfence.imaging.run import RevisitResult, revisit
from skyfence.imaging.scenario import ObserverGroup, RevisitScenario, load_revisit_scenario
from skyfence.links import ground_points
from skyfence.scale.distributed import dask_client, map_tasks

__all__ = ["TARGETS_PER_SHARD", "revisit_sharded", "target_chunks"]

#: targets per task (a task's time is about linear in its targets; the propagation is per task)
TARGETS_PER_SHARD = 2000

Progress = Callable[[int], None]


def target_chunks(n_targets: int, n_workers: int, targets_per_shard: int | None = None) -> list[tuple[int, int]]:
    """``[(lo, hi)]`` contiguous target ranges: at most ``targets_per_shard`` each (default
    :data:`TARGETS_PER_SHARD`), and at least two per worker when there are enough targets."""
    if n_targets == 0:
        return []
    size = targets_per_shard or min(TARGETS_PER_SHARD, max(1, -(-n_targets // (2 * max(1, n_workers)))))
    return [(lo, min(lo + size, n_targets)) for lo in range(0, n_targets, size)]


def _chunk_task(chunk: tuple[int, int], groups: list[ObserverGroup], source: str, lat: np.ndarray,
                lon: np.ndarray, options: dict) -> pd.DataFrame:
    lo, hi = chunk
    obs = Observers.load(groups, source)
    df = find_accesses(obs.elements, obs.sensors, lat[lo:hi], lon[lo:hi], **options)
    df["target"] += lo
    return df


def revisit_sharded(
    scenario: str | os.PathLike | RevisitScenario,
    *,
    start: str | None = None,
    duration_s: float | None = None,
    step_s: float | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    targets_per_shard: int | None = None,
    progress: Progress | None = None,
    on_total: Progress | None = None,
) -> RevisitResult:
    """:func:`skyfence.imaging.run.revisit` with the accesses computed in target chunks on a local
    cluster of ``workers`` processes or the cluster at ``scheduler`` (neither: the chunks one after
    the other in this process). ``on_total(n)`` then ``progress(k)`` count targets."""
    sc = scenario if isinstance(scenario, RevisitScenario) else load_revisit_scenario(scenario)

    def find(elements, sensors, lat, lon, **options) -> pd.DataFrame:
        lat, lon = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
        g, _ = ground_points(lat, lon, options.get("alt_km", 0.0))
        rg = np.linalg.norm(g.reshape(-1, 3), axis=-1)
        if len(rg):
            options = dict(options, ground_radii_km=(float(rg.min()), float(rg.max())))
        ctx = dask_client(workers, scheduler) if (workers or scheduler) else nullcontext(None)
        with ctx as client:
            n_workers = 1 if client is None else max(1, len(client.scheduler_info()["workers"]))
            chunks = target_chunks(len(lat), n_workers, targets_per_shard)
            if on_total:
                on_total(len(lat))
            shared = (sc.groups, sc.source, lat, lon, options)
            if client is not None:
                shared = tuple(client.scatter(list(shared), broadcast=True))
            parts = map_tasks(client, _chunk_task, chunks, *shared, key="revisit",
                              weight=lambda c: c[1] - c[0], progress=progress)  # fmt: skip
        if not parts:
            return find_accesses(elements, sensors, lat, lon, **options)
        df = pd.concat(parts, ignore_index=True)
        return df.sort_values(["target", "start_utc", "satellite"], kind="stable").reset_index(drop=True)

    return revisit(sc, start=start, duration_s=duration_s, step_s=step_s, find=find)
