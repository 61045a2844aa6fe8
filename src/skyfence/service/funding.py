"""The library call behind ``skyfence funding report``: who pays for which terminals, what it
costs per month, budget burn, when a capped budget runs out, terminals funded by nobody.

From a scenario (its ``[funding]`` agreements or log, its terminals and time grid; nothing is
propagated: funding does not depend on the satellites) or from a governance log alone (the log's
agreements and active registry terminals over a given time grid).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from skyfence.errors import ScenarioError
from skyfence.funding.report import funding_report, write_report
from skyfence.service.scenario import Scenario

__all__ = ["report"]


def report(
    scenario: str | os.PathLike | Scenario | None = None,
    *,
    log: str | None = None,
    start: str | None = None,
    duration_s: float | None = None,
    step_s: float | None = None,
    out_dir: str | os.PathLike | None = None,
    fmt: str = "csv",
    plot: bool = True,
) -> dict:
    """The funding frames (:func:`skyfence.funding.report.funding_report`: ``monthly``,
    ``sponsors``, ``agreements``, ``unfunded``), written to ``out_dir`` when given (with
    ``funding.png``)."""
    if (scenario is None) == (log is None):
        raise ScenarioError("give a scenario or a governance log (not both)")
    if scenario is not None:
        from skyfence.service.run import resolve_scenario
        from skyfence.service.simulate import build_ground, resolve_funding

        sc = resolve_scenario(scenario, start=start, duration_s=duration_s, step_s=step_s)
        ground = build_ground(sc)
        fs = resolve_funding(sc, ground)
        if fs is None:
            raise ScenarioError(f"{sc.source}: no [funding] table")
        ids, name = [str(i) for i in ground.terminals.ids], sc.name
    else:
        from skyfence.governance.funding import log_funded_set
        from skyfence.orbits.frames import time_grid

        if start is None or duration_s is None or step_s is None:
            raise ScenarioError("a report from a log needs --start, --duration and --step")
        fs, ids = log_funded_set(str(log), time_grid(start, duration_s, step_s))
        name = Path(str(log)).name
    frames = funding_report(fs, ids)
    if out_dir is not None:
        write_report(frames, out_dir, fmt=fmt)
        if plot:
            from skyfence.viz.funding import funding_over_time

            funding_over_time(Path(out_dir) / "funding.png", frames["sponsors"], title=f"{name}: funding by sponsor")
    frames["funded_share"] = float(np.mean(fs.funded)) if fs.funded.size else 1.0
    return frames
