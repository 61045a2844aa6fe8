"""Scenario files (TOML): what to simulate, validated with errors that name the key.

Schema (every key optional unless marked; relative paths resolve against the scenario's folder)::

    kind = "run"                             # optional; "revisit" marks a skyfence revisit scenario
    name = "ukraine-crimea"                  # default: the file's stem
    description = "..."

    [constellation]
    elements = "starlink"                    # preset, bundled snapshot, TLE/OMM path, or a list (required)
    min_elevation_deg = 25                   # default: per constellation (starlink 25, kuiper 35, ...)
    skip_invalid = false                     # skip malformed element records

    [time]
    start = "2026-04-30T00:00:00Z"           # required
    duration_s = 86400                       # required
    step_s = 60                              # required

    [ground]
    region = "UKR"                           # required: region spec (see skyfence.geo.regions) or a
                                             # [regions] key, or a list of them (union)
    h3_resolution = 5                        # Starlink publishes availability as res-5 cells
    terminals = "terminals.csv"              # fixed terminals: id,lat,lon[,group] (CSV/GeoJSON/Parquet)
    tracks = "drone.csv"                     # mobile terminals: id,t_utc,lat,lon[,group]
    fleet = { n = 15000, seed = 1, group = "donated", rural_share = 0.1 }   # synthetic fleet in the region
                                             # (or in fleet.region, a region spec / [regions] key)
    cell_groups = ["public"]                 # Cedar groups of the anonymous probe terminal used for
                                             # the cell-level decision (cells.parquet, map)
    cell_membership = "overlap"              # which H3 cells belong to a region: "overlap" (any part
                                             # of the cell in it: no gap at borders), "centre" (its
                                             # centre in it) or "within" (the whole cell in it).
                                             # Terminals: their own position, point in polygon.

    [regions]                                # named regions, Region::"<key>" in policies
    crimea = "B89"
    sevastopol = { lat = 44.6, lon = 33.52, radius_km = 60 }

    [policy]
    files = ["policy.cedar"]                 # no [policy] (or no files): everything covered is served
    log = "governance.sqlite"                # OR replay a governance log (export JSON, SQLite file or
                                             # server URL): verified, then at each step the policy set
                                             # in force at that time (none before the first enactment)

    [funding]                                # who pays (skyfence.funding); no [funding]: no payment
                                             # model, every terminal is funded with no sponsors
    sponsors = ["usaid", "mod-ukraine"]      # the known sponsors (required with agreements)
    log = "governance.sqlite"                # OR the agreements in force in a governance log (verified)
    file = "agreements.toml"                 # agreements from a TOML/JSON file ({sponsors, agreements}),
    [[funding.agreements]]                   # and/or inline (see skyfence.funding.agreements)
    id = "usaid-2022"
    sponsor = "usaid"
    group = "usaid"                          # or terminals = [...] or region = "<[regions] key>"
    start = "2022-05-01T00:00:00Z"
    end = "2022-10-01T00:00:00Z"
    price_per_terminal_month = 500
    monthly_cap = 100000                     # optional; total_budget, grace_days also optional

    [observers]                              # imaging satellites watching the ground (optional):
    elements = "active-2025-10-07:SKYSAT*"   # as skyfence revisit's [observers] (groups too), adds
    [sensor]                                 # observed_fraction and observed_while_served_fraction
    kind = "optical"                         # per cell and terminal and an "observers" summary block
    max_off_nadir_deg = 30                   # (skyfence.imaging.sensors)

    [output]
    map = true                               # map.png
    plot = true                              # terminals.png
    timeline = false                         # terminal_states.parquet: one row per (terminal, step)
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from os import PathLike
from pathlib import Path
from typing import Any

from skyfence.errors import ScenarioError

SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], bool]]] = {
    "constellation": {
        "elements": ((str, list), True),
        "min_elevation_deg": ((int, float), False),
        "skip_invalid": (bool, False),
    },
    "time": {
        "start": (str, True),
        "duration_s": ((int, float), True),
        "step_s": ((int, float), True),
    },
    "ground": {
        "region": ((str, list, dict), True),
        "h3_resolution": (int, False),
        "terminals": ((str, list), False),
        "tracks": ((str, list), False),
        "fleet": (dict, False),
        "cell_groups": (list, False),
        "cell_membership": (str, False),
    },
    "regions": {},
    "policy": {"files": (list, False), "log": (str, False)},
    "funding": {"sponsors": (list, False), "agreements": (list, False), "file": (str, False), "log": (str, False)},
    "output": {"map": (bool, False), "plot": (bool, False), "timeline": (bool, False)},
}
TOP_LEVEL = {"name": str, "description": str, "kind": str}
#: sections parsed by skyfence.imaging.scenario.parse_observers
OBSERVER_SECTIONS = ("observers", "sensor")
FLEET_KEYS = {"n": int, "seed": int, "group": (str, list), "rural_share": (int, float), "id_prefix": str,
              "region": (str, list, dict)}
REQUIRED_SECTIONS = ("constellation", "time", "ground")


@dataclass
class Scenario:
    """A validated scenario. ``base_dir`` is the folder relative paths resolve against."""

    name: str
    base_dir: Path
    elements: str | list[str]
    start: str
    duration_s: float
    step_s: float
    region: Any
    description: str = ""
    min_elevation_deg: float | None = None
    skip_invalid: bool = False
    h3_resolution: int = 5
    terminals: list[str] = field(default_factory=list)
    tracks: list[str] = field(default_factory=list)
    fleet: dict | None = None
    cell_groups: list[str] = field(default_factory=lambda: ["public"])
    cell_membership: str = "overlap"
    regions: dict[str, Any] = field(default_factory=dict)
    policy_files: list[str] = field(default_factory=list)
    policy_log: str | None = None
    output: dict[str, bool] = field(default_factory=lambda: {"map": True, "plot": True, "timeline": False})
    source: str = ""
    sponsors: list[str] | None = None  # None: no [funding] table (no payment model)
    agreements: list = field(default_factory=list)  # skyfence.funding.agreements.Agreement
    funding_log: str | None = None  # [funding] log: agreements from a governance log
    observers: list = field(default_factory=list)  # skyfence.imaging.scenario.ObserverGroup

    def path(self, p: str) -> Path:
        """Resolve a path from the scenario against its folder."""
        q = Path(p)
        return q if q.is_absolute() else self.base_dir / q


def _suggest(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(sorted(allowed))})"


def _typename(t) -> str:
    ts = t if isinstance(t, tuple) else (t,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list", dict: "a table"}
    return " or ".join(names.get(x, x.__name__) for x in ts)


def _check_type(where: str, value: Any, t) -> None:
    ts = t if isinstance(t, tuple) else (t,)
    # bool is an int in Python, but `true` is not a number in a scenario
    if not isinstance(value, ts) or (isinstance(value, bool) and bool not in ts):
        raise ScenarioError(f"{where}: expected {_typename(t)}, got {value!r}")


def parse_scenario(data: dict, *, base_dir: Path, source: str = "<scenario>", name: str = "scenario") -> Scenario:
    """Validate a scenario dictionary (as read from TOML) and return a :class:`Scenario`."""
    from skyfence.imaging.scenario import KIND as REVISIT
    from skyfence.imaging.scenario import parse_observers

    if data.get("kind") == REVISIT:
        raise ScenarioError(f"{source}: a revisit scenario (kind = {REVISIT!r}): run it with skyfence revisit")
    if data.get("kind", "run") != "run":
        raise ScenarioError(f"{source}: kind must be 'run' or {REVISIT!r}, got {data['kind']!r}")
    allowed = set(SCHEMA) | set(TOP_LEVEL) | set(OBSERVER_SECTIONS)
    for key in data:
        if key not in allowed:
            raise ScenarioError(f"{source}: unknown key {key!r}" + _suggest(key, allowed))
    for sec in REQUIRED_SECTIONS:
        if sec not in data:
            raise ScenarioError(f"{source}: missing section [{sec}]")
    for sec, keys in SCHEMA.items():
        body = data.get(sec, {})
        if not isinstance(body, dict):
            raise ScenarioError(f"{source}: [{sec}] must be a table")
        if sec == "regions":
            continue
        for key, value in body.items():
            if key not in keys:
                raise ScenarioError(f"{source}: unknown key {sec}.{key}" + _suggest(key, keys))
            _check_type(f"{source}: {sec}.{key}", value, keys[key][0])
        for key, (_, required) in keys.items():
            if required and key not in body:
                raise ScenarioError(f"{source}: missing key {sec}.{key}")
    observers = parse_observers(data, source)
    for key in ("name", "description"):
        if key in data:
            _check_type(f"{source}: {key}", data[key], str)
    c, t, g = data["constellation"], data["time"], data["ground"]
    if t["duration_s"] < 0:
        raise ScenarioError(f"{source}: time.duration_s must be >= 0, got {t['duration_s']}")
    if t["step_s"] <= 0:
        raise ScenarioError(f"{source}: time.step_s must be > 0, got {t['step_s']}")
    res = g.get("h3_resolution", 5)
    from skyfence.geo.regions import CELL_MEMBERSHIP

    membership = g.get("cell_membership", "overlap")
    if membership not in CELL_MEMBERSHIP:
        raise ScenarioError(f"{source}: ground.cell_membership must be one of "
                            f"{', '.join(map(repr, CELL_MEMBERSHIP))}, got {membership!r}")
    if not 0 <= res <= 15:
        raise ScenarioError(f"{source}: ground.h3_resolution must be 0..15, got {res}")
    if "min_elevation_deg" in c and not 0 <= c["min_elevation_deg"] < 90:
        raise ScenarioError(f"{source}: constellation.min_elevation_deg must be in [0, 90), got {c['min_elevation_deg']}")
    fleet = g.get("fleet")
    if fleet is not None:
        for key, value in fleet.items():
            if key not in FLEET_KEYS:
                raise ScenarioError(f"{source}: unknown key ground.fleet.{key}" + _suggest(key, FLEET_KEYS))
            _check_type(f"{source}: ground.fleet.{key}", value, FLEET_KEYS[key])
        if "n" not in fleet or fleet["n"] < 0:
            raise ScenarioError(f"{source}: ground.fleet.n (number of terminals, >= 0) is required")
    from skyfence.orbits.frames import as_utc

    try:
        as_utc(t["start"])
    except Exception as exc:  # noqa: BLE001
        raise ScenarioError(f"{source}: time.start: {exc}") from None
    pol = data.get("policy", {})
    for i, f in enumerate(pol.get("files", [])):
        _check_type(f"{source}: policy.files[{i}]", f, str)
    if pol.get("files") and pol.get("log"):
        raise ScenarioError(f"{source}: [policy] takes files or log, not both")
    out = {"map": True, "plot": True, "timeline": False} | data.get("output", {})
    fund = data.get("funding", {})
    if fund.get("log") and (fund.get("agreements") or fund.get("file")):
        raise ScenarioError(f"{source}: [funding] takes log, or agreements/file, not both")
    sponsors, agreements = _funding(fund, base_dir, source, set(data.get("regions", {}))) \
        if "funding" in data and not fund.get("log") else (None, [])
    if fund.get("log"):
        sponsors = []

    def as_list(v) -> list[str]:
        return [v] if isinstance(v, str) else list(v or [])

    return Scenario(
        name=data.get("name", name),
        description=data.get("description", ""),
        base_dir=base_dir,
        elements=c["elements"],
        min_elevation_deg=c.get("min_elevation_deg"),
        skip_invalid=c.get("skip_invalid", False),
        start=t["start"],
        duration_s=float(t["duration_s"]),
        step_s=float(t["step_s"]),
        region=g["region"],
        h3_resolution=res,
        terminals=as_list(g.get("terminals")),
        tracks=as_list(g.get("tracks")),
        fleet=fleet,
        cell_groups=list(g.get("cell_groups", ["public"])),
        cell_membership=membership,
        regions=dict(data.get("regions", {})),
        policy_files=list(pol.get("files", [])),
        policy_log=(pol["log"] if pol["log"].startswith(("http://", "https://")) else str(base_dir / pol["log"]))
        if pol.get("log") else None,
        output=out,
        source=source,
        sponsors=sponsors,
        agreements=agreements,
        funding_log=(fund["log"] if fund["log"].startswith(("http://", "https://")) else str(base_dir / fund["log"]))
        if fund.get("log") else None,
        observers=observers,
    )


def read_funding_file(path: Path, where: str) -> dict:
    """A funding file (TOML or JSON): ``{sponsors = [...], agreements = [{...}, ...]}``."""
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{where}: {path}: invalid {path.suffix.lstrip('.').upper() or 'TOML'}: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"sponsors", "agreements"}:
        raise ScenarioError(f"{where}: {path}: expected the keys sponsors and agreements")
    return data


def _funding(body: dict, base_dir: Path, source: str, regions: set[str]) -> tuple[list[str], list]:
    """Sponsors and agreements of a [funding] table (inline and/or from its file), validated: the
    sponsors and regions they name must exist (groups are checked against the ground's terminals
    when the ground is built)."""
    from skyfence.errors import FundingError
    from skyfence.funding.agreements import parse_agreements, validate_agreements

    sponsors = list(body.get("sponsors", []))
    items = list(body.get("agreements", []))
    if "file" in body:
        extra = read_funding_file(base_dir / body["file"], f"{source}: funding.file")
        sponsors += [x for x in extra.get("sponsors", []) if x not in sponsors]
        items += list(extra.get("agreements", []))
    for i, x in enumerate(sponsors):
        _check_type(f"{source}: funding.sponsors[{i}]", x, str)
    try:
        agreements = parse_agreements(items, "funding.agreements")
        validate_agreements(agreements, sponsors=sponsors, regions=regions)
    except FundingError as exc:
        raise ScenarioError(f"{source}: [funding]: {exc}") from None
    return sponsors, agreements


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{p}: no such scenario file (bundled examples: {', '.join(example_names())})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p}: invalid TOML: {exc}") from None
    return parse_scenario(data, base_dir=p.resolve().parent, source=str(p), name=p.stem)


def examples_dir() -> Path:
    return Path(str(files("skyfence") / "examples"))


def scenario_kind(path: Path) -> str:
    """The top-level ``kind`` of a scenario file (``"run"`` when absent or unreadable)."""
    try:
        kind = tomllib.loads(path.read_text(encoding="utf-8")).get("kind", "run")
    except (OSError, tomllib.TOMLDecodeError):
        return "run"
    return kind if isinstance(kind, str) else "run"


def example_names(kind: str = "run") -> list[str]:
    """The bundled examples of ``kind`` (``"run"``: ``skyfence run`` scenarios; ``"revisit"``:
    ``skyfence revisit`` ones, marked ``kind = "revisit"``)."""
    d = examples_dir()
    if not d.exists():
        return []
    return sorted(x.name for x in d.iterdir() if (x / "scenario.toml").exists() and scenario_kind(x / "scenario.toml") == kind)


def example_path(name: str) -> Path:
    """Path of a bundled example's scenario.toml (a run or a revisit example)."""
    p = examples_dir() / name / "scenario.toml"
    if not p.exists():
        have = example_names() + example_names("revisit")
        close = difflib.get_close_matches(name, have, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ScenarioError(f"no bundled example {name!r} (have: {', '.join(have)}){hint}")
    return p


def scenario_file(scenario: str | PathLike) -> Path:
    """The scenario file that ``scenario`` names: a path, a folder holding ``scenario.toml``, or
    (neither existing nor ending in ``.toml``) a bundled example's name."""
    p = Path(scenario)
    if p.is_dir():
        return p / "scenario.toml"
    if not p.exists() and p.suffix.lower() != ".toml":
        return example_path(str(scenario))
    return p
