"""skyfence: a digital twin of a Starlink-class satellite-internet service.

Library calls (each returns DataFrames or plain data; the CLI commands are thin shells over them)::

    skyfence.run(scenario, *, start=None, duration_s=None, step_s=None,
                 workers=None, scheduler=None) -> RunResult (ShardedRun on Dask)
    skyfence.impact(scenario, policy_files, ...) -> dict
    skyfence.latency(elements, pairs, ..., workers=None, scheduler=None) -> LatencyResult
    skyfence.positions(elements, *, start, duration_s, step_s, frame="ecef") -> DataFrame
    skyfence.revisit(scenario, *, start=None, duration_s=None, step_s=None,
                     workers=None, scheduler=None) -> RevisitResult (accesses, targets, cells)

Data flow, one subpackage per layer (lower layers never import higher ones; see the import-linter
contract in pyproject.toml)::

    geo -> orbits / ground -> links / coverage / policy / funding -> network -> governance / viz
        -> imaging (access, revisit) -> service (run, impact) -> scale (Dask) -> api -> commands
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["run", "impact", "latency", "positions", "revisit", "load_scenario", "Scenario", "RunResult",
           "LatencyResult", "RevisitResult"]

#: public name -> module that defines it (imported on first use, so ``import skyfence`` stays cheap)
_EXPORTS = {
    "run": "skyfence.scale.calls",
    "impact": "skyfence.scale.calls",
    "RunResult": "skyfence.service.run",
    "load_scenario": "skyfence.service.scenario",
    "Scenario": "skyfence.service.scenario",
    "latency": "skyfence.scale.calls",
    "LatencyResult": "skyfence.network.result",
    "positions": "skyfence.orbits.tables",
    "revisit": "skyfence.scale.calls",
    "RevisitResult": "skyfence.imaging.run",
}

if TYPE_CHECKING:
    from skyfence.imaging.run import RevisitResult
    from skyfence.network.result import LatencyResult
    from skyfence.orbits.tables import positions
    from skyfence.scale.calls import impact, latency, revisit, run
    from skyfence.service.run import RunResult
    from skyfence.service.scenario import Scenario, load_scenario


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skyfence' has no attribute {name!r}")
