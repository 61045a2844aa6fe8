"""Cedar service policies (cedarpy): loading, the entity model, single-request decisions.

Entity model
------------
* principal  ``Terminal::"<terminal id>"``, member of ``Group::"<name>"`` for each of its groups;
* action     ``Action::"connect"`` (the only action);
* resource   ``Cell::"<h3 hex>"`` (e.g. ``Cell::"851e6b1bfffffff"``, the cell at the scenario's H3
  resolution), member of ``Region::"<name>"`` for every named region that holds it;
* context    ``{ time: datetime, speed_kmh: Long }``:
  ``time`` is the step's UTC instant as a Cedar ``datetime`` (millisecond resolution, written
  ``"YYYY-MM-DDThh:mm:ss.sssZ"``; sub-millisecond parts are floored), so policies can hold windows:
  ``when { context.time >= datetime("2026-04-30T06:00:00Z") }`` or time-of-day with
  ``context.time.toTime() >= duration("18h")``;
  ``speed_kmh`` is the terminal's ground speed in km/h **rounded to the nearest integer** (ties to
  even, numpy ``rint``; 0 for fixed terminals), as Cedar has no floats.
Entities carry no attributes; groups and regions have no parents (flat hierarchy).

Semantics
---------
No policy files: the caller skips policy and everything covered is served. With a policy set,
Cedar's semantics apply unchanged: **default deny** (a request is allowed only if some ``permit``
matches and no ``forbid`` does), so a policy set must ``permit`` explicitly; the bundled examples
start with a broad ``permit(principal, action, resource);`` and then ``forbid`` geofences.
Policies are validated against `SCHEMA` on load (strict Cedar validation): type errors and unknown
attributes are reported as PolicyError naming the file, instead of silently never matching.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import PolicyError

__all__ = [
    "PolicyError",
    "ServicePolicy",
    "SCHEMA",
    "ACTION",
    "load_policies",
    "epoch_ms",
    "cedar_datetime",
    "speed_to_long",
    "cell_id",
    "terminal_entity",
    "cell_entity",
    "make_request",
    "is_allowed",
]

ACTION = {"type": "Action", "id": "connect"}

SCHEMA = """
entity Group;
entity Region;
entity Terminal in [Group];
entity Cell in [Region];
action connect appliesTo {
  principal: [Terminal],
  resource: [Cell],
  context: { time: datetime, speed_kmh: Long }
};
"""


@dataclass(frozen=True)
class ServicePolicy:
    """A parsed, validated Cedar policy set and where it came from.

    Attributes: ``text`` (all files concatenated), ``sources`` (file names or "<string>"),
    ``policy_set`` (the cedarpy.PolicySet handle, parsed once), ``ast`` (Cedar's JSON form, a dict).
    """

    text: str
    sources: tuple[str, ...]
    policy_set: Any
    ast: dict

    @classmethod
    def from_text(cls, text: str, source: str = "<string>", *, validate: bool = True) -> ServicePolicy:
        """Parse (and validate against SCHEMA) Cedar text; PolicyError names `source`, line, message."""
        raise NotImplementedError

    @classmethod
    def from_files(
        cls, paths: Sequence[str | Path], *, base_dir: Path | None = None, validate: bool = True
    ) -> ServicePolicy:
        """Load and join .cedar files (each parsed on its own first, so errors name the right file)."""
        raise NotImplementedError


def load_policies(
    paths: Sequence[str | Path] | str | Path, *, base_dir: Path | None = None, validate: bool = True
) -> ServicePolicy:
    """`ServicePolicy.from_files`, accepting one path or a list (relative to `base_dir`)."""
    raise NotImplementedError


def epoch_ms(t: Any) -> np.ndarray | int:
    """UTC instant(s) -> int64 milliseconds since 1970 (floored). Accepts numpy datetime64 (scalar or
    array), datetime (naive = UTC), ISO strings ("...Z"), or numbers (already epoch ms)."""
    raise NotImplementedError


def cedar_datetime(t: Any) -> str:
    """One UTC instant as Cedar's datetime literal text: "2026-04-30T06:00:00.000Z"."""
    raise NotImplementedError


def speed_to_long(speed_kmh: Any) -> np.ndarray | int:
    """km/h (float, scalar or array) -> the Long put in ``context.speed_kmh`` (np.rint)."""
    raise NotImplementedError


def cell_id(cell: int | str) -> str:
    """The Cedar id of a cell: its H3 hex string (uint64 accepted)."""
    raise NotImplementedError


def terminal_entity(terminal_id: str, groups: Iterable[str] = ()) -> dict:
    """Cedar JSON entity for a terminal in its groups."""
    raise NotImplementedError


def cell_entity(cell: int | str, regions: Iterable[str] = ()) -> dict:
    """Cedar JSON entity for a cell in its regions."""
    raise NotImplementedError


def make_request(terminal_id: str, cell: int | str, time: Any, speed_kmh: Any = 0) -> dict:
    """cedarpy request dict: Terminal connects to Cell with context {time, speed_kmh}."""
    raise NotImplementedError


def is_allowed(
    policy: ServicePolicy,
    terminal_id: str,
    groups: Iterable[str],
    cell: int | str,
    regions: Iterable[str],
    time: Any,
    speed_kmh: Any = 0,
) -> bool:
    """Cedar's own answer for one request (cedarpy.is_authorized): the reference the bulk evaluator
    must equal."""
    raise NotImplementedError
