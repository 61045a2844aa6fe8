"""The library calls behind ``skyfence run`` and ``skyfence impact``.

>>> import skyfence
>>> result = skyfence.run("ukraine-crimea", duration_s=3600)      # a bundled example, shortened
>>> result.summary["denied_fraction"], result.cells.head(), result.terminals.head()
>>> result.write("out/uc")                                          # the files skyfence run writes

``scenario`` is a TOML path, a folder holding ``scenario.toml``, a bundled example's name or a
:class:`~skyfence.service.scenario.Scenario`;
``start`` (ISO 8601 UTC), ``duration_s`` and ``step_s`` override its ``[time]`` table.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from skyfence.errors import ScenarioError
from skyfence.service.outputs import (
    cells_frame,
    summarize,
    terminals_frame,
    timeline_frame,
    write_outputs,
)
from skyfence.service.scenario import Scenario, load_scenario, scenario_file
from skyfence.service.simulate import (
    Decisions,
    Ground,
    Visibility,
    build_ground,
    compute_visibility,
    decide,
    load_policy_segments,
    resolve_funding,
)

__all__ = ["RunResult", "resolve_scenario", "run", "impact", "impact_inputs", "policy_path"]

Progress = Callable[[int], None]


def resolve_scenario(
    scenario: str | os.PathLike | Scenario,
    *,
    start: str | None = None,
    duration_s: float | None = None,
    step_s: float | None = None,
) -> Scenario:
    """A validated :class:`Scenario` from a path, a bundled example's name or a Scenario, with its
    time window overridden by whichever of ``start``, ``duration_s``, ``step_s`` are given."""
    if isinstance(scenario, Scenario):
        sc = scenario
    else:
        sc = load_scenario(scenario_file(scenario))
    changes: dict = {}
    if start is not None:
        from skyfence.orbits.frames import as_utc

        try:
            as_utc(start)
        except Exception as exc:
            raise ScenarioError(f"--start {start!r}: {exc}") from None
        changes["start"] = str(start)
    if duration_s is not None:
        if not duration_s > 0:
            raise ScenarioError(f"duration_s must be positive, got {duration_s}")
        changes["duration_s"] = float(duration_s)
    if step_s is not None:
        if not step_s > 0:
            raise ScenarioError(f"step_s must be positive, got {step_s}")
        changes["step_s"] = float(step_s)
    return dataclasses.replace(sc, **changes) if changes else sc


@dataclass
class RunResult:
    """The outcome of :func:`run`: the resolved ground, visibility and decisions, and the tables
    built from them (pandas DataFrames, computed on first use)."""

    scenario: Scenario
    ground: Ground
    visibility: Visibility
    decisions: Decisions

    @cached_property
    def summary(self) -> dict:
        """The ``summary.json`` document."""
        return summarize(self.scenario, self.ground, self.visibility, self.decisions)

    @cached_property
    def cells(self) -> pd.DataFrame:
        """One row per H3 cell (``cells.parquet``)."""
        return cells_frame(self.ground, self.visibility, self.decisions)

    @cached_property
    def terminals(self) -> pd.DataFrame:
        """One row per terminal (``terminals.parquet``)."""
        return terminals_frame(self.ground, self.decisions, self.visibility)

    @property
    def timeline(self) -> pd.DataFrame:
        """One row per (terminal, step): id, t_utc, state, visible (``terminal_states.parquet``)."""
        return timeline_frame(self.ground, self.visibility, self.decisions)

    def write(self, out_dir: str | os.PathLike) -> dict:
        """Write the files of ``skyfence run`` into ``out_dir``; returns the summary."""
        return write_outputs(self.scenario, self.ground, self.visibility, self.decisions, Path(out_dir),
                             summary=self.summary, cells=self.cells, terminals=self.terminals)  # fmt: skip


def run(
    scenario: str | os.PathLike | Scenario,
    *,
    start: str | None = None,
    duration_s: float | None = None,
    step_s: float | None = None,
    progress: Progress | None = None,
    on_total: Progress | None = None,
) -> RunResult:
    """Coverage AND policy for every H3 cell and terminal of a scenario at every step.

    ``progress(n)`` is called as ``n`` more steps are done, after ``on_total(n_steps)``.
    """
    sc = resolve_scenario(scenario, start=start, duration_s=duration_s, step_s=step_s)
    ground = build_ground(sc)  # regions, cells, terminal and track files: validated here
    segments = load_policy_segments(sc, ground)  # Cedar files or the governance log, before propagation
    funding = resolve_funding(sc, ground)  # [funding] agreements: validated and resolved here
    if on_total:
        on_total(len(ground.t_utc))
    vis = compute_visibility(sc, ground, progress=progress)
    dec = decide(sc, ground, vis, segments=segments, funding=funding)
    return RunResult(sc, ground, vis, dec)


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
    on_decided: Callable[[object, object, object], None] | None = None,
) -> dict:
    """What replacing the scenario's policy by ``policy_files`` and changing its funding
    (``end_funding``: ``"SPONSOR@DATE"`` texts; ``add_funding``: funding files) changes: terminals,
    cells, km2 and people newly denied or restored, and when, and the monthly cost saved or added
    (see :mod:`skyfence.service.impact`; ``on_decided`` as there)."""
    from skyfence.service.impact import compare

    sc, files, ends, adds = impact_inputs(scenario, policy_files, end_funding, add_funding,
                                          start=start, duration_s=duration_s, step_s=step_s)  # fmt: skip
    return compare(sc, files, end_funding=ends, add_funding=adds, progress=progress, on_total=on_total,
                   on_decided=on_decided)


def impact_inputs(
    scenario: str | os.PathLike | Scenario,
    policy_files: Sequence[str | os.PathLike] | None,
    end_funding: Sequence[str],
    add_funding: Sequence[str | os.PathLike],
    *,
    start: str | None = None,
    duration_s: float | None = None,
    step_s: float | None = None,
) -> tuple[Scenario, list[str] | None, list, list[str]]:
    """The parsed inputs of an impact run, in one process or sharded: (scenario, new policy files
    or None, ``(sponsor, instant)`` ends, absolute funding-file paths); an impact of nothing and a
    malformed ``SPONSOR@DATE`` are errors here."""
    from skyfence.service.impact import parse_end_funding

    if not policy_files and not end_funding and not add_funding:
        raise ScenarioError("impact of what? give new policy files, --end-funding or --add-funding")
    ends = [parse_end_funding(x) for x in end_funding]
    sc = resolve_scenario(scenario, start=start, duration_s=duration_s, step_s=step_s)
    adds = [str(Path(f).expanduser().resolve()) for f in add_funding]
    return sc, [str(policy_path(p)) for p in policy_files] if policy_files else None, ends, adds


def policy_path(p: str | os.PathLike) -> Path:
    """A Cedar policy file: ``p`` itself if it exists, else the bundled policy of that name
    (``allow-all`` or ``allow-all.cedar`` -> ``skyfence/data/policies/allow-all.cedar``); a name that
    is neither is returned as given (loading it then fails naming the path)."""
    from importlib.resources import files

    q = Path(p).expanduser()
    if q.exists() or q.parent != Path("."):
        return q.resolve()
    bundled = Path(str(files("skyfence") / "data" / "policies"))
    for name in (q.name, f"{q.name}.cedar"):
        if (bundled / name).is_file():
            return bundled / name
    return q.resolve()
