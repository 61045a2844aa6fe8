"""Revisit scenario files (TOML), validated with errors that name the key.

Schema (relative paths resolve against the scenario's folder)::

    kind = "revisit"                          # optional; marks a revisit scenario (not `skyfence run`)
    name = "sevastopol-watch"
    description = "..."

    [observers]                               # the imaging constellation (required)
    elements = "active-2025-10-07:SKYSAT*"    # preset, snapshot (with a ":PATTERN,NORAD" selection),
                                              # file, or a list of them
    [observers.groups.iceye]                  # optional further groups, each with its own sensor
    elements = "active-2025-10-07:ICEYE*"
    sensor = { kind = "sar", look_angle_deg = [15, 35], side = "right" }

    [sensor]                                  # the sensor of [observers].elements (required with it)
    kind = "optical"                          # optical | sar | elevation (skyfence.imaging.sensors)
    max_off_nadir_deg = 30
    min_sun_elevation_deg = 10

    [time]                                    # as `skyfence run` (required)
    start = "2025-10-07T00:00:00Z"
    duration_s = 604800
    step_s = 30

    [ground]                                  # optional: H3 cells of a region, one target per centre
    region = "TWN"                            # region spec or [regions] key, or a list
    h3_resolution = 5
    cell_membership = "overlap"

    [targets]                                 # optional named sites: name = { lat = .., lon = .. }
    sevastopol_bay = { lat = 44.62, lon = 33.53 }

    [regions]                                 # named region specs (for [ground].region)

    [output]
    map = true                                # revisit_map.png (mean and max revisit of the cells)
    timeline = true                           # timeline.png (accesses of each named target)

``kind = "revisit"`` is what tells a revisit scenario from a ``skyfence run`` one (the bundled
revisit examples carry it); a run scenario may have ``[observers]`` and ``[sensor]`` too (parsed
by :func:`parse_observers`), joining revisit to service.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyfence.errors import ScenarioError
from skyfence.imaging.sensors import Sensor, sensor_from_dict

__all__ = ["RevisitScenario", "ObserverGroup", "KIND", "load_revisit_scenario", "parse_revisit_scenario",
           "parse_observers", "is_revisit_scenario"]

#: the value of the top-level ``kind`` key of a revisit scenario
KIND = "revisit"

_SECTIONS = {"observers", "sensor", "time", "ground", "targets", "regions", "output"}


@dataclass(frozen=True)
class ObserverGroup:
    name: str
    elements: str | list[str]
    sensor: Sensor


@dataclass
class RevisitScenario:
    name: str
    base_dir: Path
    groups: list[ObserverGroup]
    start: str
    duration_s: float
    step_s: float
    description: str = ""
    region: Any = None
    h3_resolution: int = 5
    cell_membership: str = "overlap"
    targets: dict[str, tuple[float, float]] = field(default_factory=dict)
    regions: dict[str, Any] = field(default_factory=dict)
    output: dict[str, bool] = field(default_factory=lambda: {"map": True, "timeline": True})
    source: str = ""


def is_revisit_scenario(data: dict) -> bool:
    """Whether a parsed TOML document is a revisit scenario (top-level ``kind = "revisit"``)."""
    return data.get("kind") == KIND


def _need(cond: bool, msg: str) -> None:
    if not cond:
        raise ScenarioError(msg)


def parse_observers(data: dict, source: str) -> list[ObserverGroup]:
    """The observer groups of a scenario's ``[observers]`` (and ``[sensor]``) tables; ``[]``
    without ``[observers]``. Errors name the key."""
    if "observers" not in data:
        _need("sensor" not in data, f"{source}: [sensor] without [observers]")
        return []
    obs = data["observers"]
    _need(isinstance(obs, dict), f"{source}: [observers] must be a table")
    groups = []
    for key in obs:
        _need(key in ("elements", "groups"), f"{source}: unknown key observers.{key}")
    if "elements" in obs:
        _need(isinstance(obs["elements"], str | list), f"{source}: observers.elements: expected a string or a list")
        _need(isinstance(data.get("sensor"), dict), f"{source}: [observers].elements needs a [sensor] table")
        groups.append(ObserverGroup("observers", obs["elements"],
                                    sensor_from_dict(data["sensor"], f"{source}: sensor")))
    _need(isinstance(obs.get("groups", {}), dict), f"{source}: observers.groups must be a table")
    for gname, g in obs.get("groups", {}).items():
        where = f"{source}: observers.groups.{gname}"
        _need(isinstance(g, dict) and "elements" in g, f"{where}: needs elements")
        sensor = g.get("sensor", data.get("sensor"))
        _need(isinstance(sensor, dict), f"{where}: needs a sensor (or a [sensor] table)")
        groups.append(ObserverGroup(gname, g["elements"], sensor_from_dict(sensor, f"{where}.sensor")))
    _need(bool(groups), f"{source}: [observers] has no elements and no groups")
    return groups


def parse_revisit_scenario(data: dict, *, base_dir: Path, source: str = "<scenario>",
                           name: str = "scenario") -> RevisitScenario:
    """Validate a revisit scenario dictionary (as read from TOML)."""
    for key in data:
        _need(key in _SECTIONS or key in ("name", "description", "kind"), f"{source}: unknown key {key!r}")
    _need(data.get("kind", KIND) == KIND, f"{source}: kind must be {KIND!r} in a revisit scenario, "
                                          f"got {data.get('kind')!r}")
    for sec in ("observers", "time"):
        _need(isinstance(data.get(sec), dict), f"{source}: missing section [{sec}]")
    t = data["time"]
    groups = parse_observers(data, source)
    for key in ("start", "duration_s", "step_s"):
        _need(key in t, f"{source}: missing key time.{key}")
    _need(t["duration_s"] > 0 and t["step_s"] > 0, f"{source}: time.duration_s and time.step_s must be > 0")
    ground = data.get("ground", {})
    targets = {}
    for tname, v in data.get("targets", {}).items():
        _need(isinstance(v, dict) and {"lat", "lon"} <= set(v), f"{source}: targets.{tname}: give lat and lon")
        _need(-90 <= v["lat"] <= 90 and -180 <= v["lon"] <= 360, f"{source}: targets.{tname}: lat/lon out of range")
        targets[tname] = (float(v["lat"]), float(v["lon"]))
    _need("region" in ground or targets, f"{source}: give [ground].region and/or [targets]")
    from skyfence.orbits.frames import as_utc

    try:
        as_utc(t["start"])
    except Exception as exc:  # noqa: BLE001
        raise ScenarioError(f"{source}: time.start: {exc}") from None
    return RevisitScenario(
        name=data.get("name", name), base_dir=base_dir, groups=groups, start=t["start"],
        duration_s=float(t["duration_s"]), step_s=float(t["step_s"]), description=data.get("description", ""),
        region=ground.get("region"), h3_resolution=int(ground.get("h3_resolution", 5)),
        cell_membership=ground.get("cell_membership", "overlap"), targets=targets,
        regions=dict(data.get("regions", {})), output={"map": True, "timeline": True} | data.get("output", {}),
        source=source,
    )


def load_revisit_scenario(path: str | Path) -> RevisitScenario:
    """Read and validate a revisit scenario TOML file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{p}: no such scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p}: invalid TOML: {exc}") from None
    return parse_revisit_scenario(data, base_dir=p.resolve().parent, source=str(p), name=p.stem)
