"""``skyfence.run`` and ``skyfence.impact``: in this process (:mod:`skyfence.service.run`, the
default, no Dask needed) or sharded over a Dask cluster (:mod:`skyfence.scale.engine`).

>>> import skyfence
>>> result = skyfence.run("ukraine-crimea", duration_s=3600, workers=2)   # a local 2-process cluster
>>> result.summary == skyfence.run("ukraine-crimea", duration_s=3600).summary
True

``workers``: a local ``dask.distributed`` cluster of that many processes (one thread each, 4 GB
each); ``scheduler``: the address of a running cluster (``tcp://host:8786``), whose workers must
see the same files (scenario inputs and ``shard_dir``). Progress then counts cell-block steps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from skyfence.scale.engine import impact_sharded, run_sharded
from skyfence.scale.result import ShardedRun
from skyfence.service import run as service_run
from skyfence.service.scenario import Scenario

__all__ = ["run", "impact", "latency", "revisit"]

Progress = Callable[[int], None]


def run(
    scenario: str | os.PathLike | Scenario,
    *,
    start: str | None = None,
    duration_s: float | None = None,
    step_s: float | None = None,
    progress: Progress | None = None,
    on_total: Progress | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> service_run.RunResult | ShardedRun:
    """Coverage AND policy for every H3 cell and terminal of a scenario at every step
    (:func:`skyfence.service.run.run`); with ``workers`` or ``scheduler``, sharded on Dask, giving a
    :class:`~skyfence.scale.result.ShardedRun` with the same ``summary``, ``cells``, ``terminals``
    and ``write``."""
    if not (workers or scheduler):
        return service_run.run(scenario, start=start, duration_s=duration_s, step_s=step_s,
                               progress=progress, on_total=on_total)  # fmt: skip
    sc = service_run.resolve_scenario(scenario, start=start, duration_s=duration_s, step_s=step_s)
    return run_sharded(sc, workers=workers, scheduler=scheduler, progress=progress, on_total=on_total)


def impact(
    scenario: str | os.PathLike | Scenario,
    policy_files: Sequence[str | os.PathLike] | None = None,
    *,
    end_funding: Sequence[str] = (),
    add_funding: Sequence[str | os.PathLike] = (),
    start: str | None = None,
    duration_s: float | None = None,
    step_s: float | None = None,
    progress: Progress | None = None,
    on_total: Progress | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> dict:
    """What replacing the scenario's policy by ``policy_files`` (and changing its funding) changes
    (:func:`skyfence.service.run.impact`); with ``workers`` or ``scheduler``, sharded on Dask
    (:func:`skyfence.scale.engine.impact_sharded`: the same report)."""
    if not (workers or scheduler):
        return service_run.impact(scenario, policy_files, end_funding=end_funding, add_funding=add_funding,
                                  start=start, duration_s=duration_s, step_s=step_s, progress=progress,
                                  on_total=on_total)  # fmt: skip
    sc, files, ends, adds = service_run.impact_inputs(scenario, policy_files, end_funding, add_funding,
                                                      start=start, duration_s=duration_s, step_s=step_s)  # fmt: skip
    return impact_sharded(sc, files, end_funding=ends, add_funding=adds, workers=workers, scheduler=scheduler,
                          progress=progress, on_total=on_total)  # fmt: skip


def latency(elements, pairs=None, *, workers: int | None = None, scheduler: str | None = None,
            steps_per_shard: int | None = None, shard_dir: str | os.PathLike | None = None, **options):
    """RTT between pairs of places over a constellation (:func:`skyfence.network.latency.latency`,
    same arguments in ``options``); with ``workers`` or ``scheduler``, cut into time chunks on Dask
    (:func:`skyfence.scale.latency.latency_sharded`: the same result)."""
    if not (workers or scheduler):
        from skyfence.network.latency import latency as latency_one

        return latency_one(elements, pairs, **options)
    from skyfence.scale.latency import latency_sharded

    return latency_sharded(elements, pairs, workers=workers, scheduler=scheduler,
                           steps_per_shard=steps_per_shard, shard_dir=shard_dir, **options)  # fmt: skip


def revisit(scenario, *, workers: int | None = None, scheduler: str | None = None,
            targets_per_shard: int | None = None, progress: Progress | None = None,
            on_total: Progress | None = None, **options):
    """Accesses and revisit statistics of a revisit scenario (:func:`skyfence.imaging.run.revisit`,
    ``start`` / ``duration_s`` / ``step_s`` in ``options``); with ``workers`` or ``scheduler``, the
    targets cut into chunks on Dask (:func:`skyfence.scale.revisit.revisit_sharded`: the same result).
    ``scenario``: a path, a folder holding ``scenario.toml``, a bundled revisit example's name
    (``"sevastopol-watch"``) or a parsed scenario."""
    if isinstance(scenario, str | os.PathLike):
        from skyfence.service.scenario import scenario_file

        scenario = scenario_file(scenario)
    if not (workers or scheduler):
        from skyfence.imaging.run import revisit as revisit_one

        return revisit_one(scenario, **options)
    from skyfence.scale.revisit import revisit_sharded

    return revisit_sharded(scenario, workers=workers, scheduler=scheduler, targets_per_shard=targets_per_shard,
                           progress=progress, on_total=on_total, **options)  # fmt: skip
