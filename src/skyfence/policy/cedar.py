"""Cedar service policies (cedarpy): loading, the entity model, single-request decisions.

Entity model
------------
* principal  ``Terminal::"<terminal id>"``, member of ``Group::"<name>"`` for each of its groups;
* action     ``Action::"connect"`` (the only action);
* resource   ``Cell::"<h3 hex>"`` (e.g. ``Cell::"851e6b1bfffffff"``, the cell at the scenario's H3
  resolution), member of ``Region::"<name>"`` for every named region that holds it;
* context    ``{ time: datetime, speed_kmh: Long, funded: Bool, sponsors: Set<String> }``:
  ``time`` is the step's UTC instant as a Cedar ``datetime`` (millisecond resolution, written
  ``"YYYY-MM-DDThh:mm:ss.sssZ"``; sub-millisecond parts are floored), so policies can hold windows:
  ``when { context.time >= datetime("2026-04-30T06:00:00Z") }`` or time-of-day with
  ``context.time.toTime() >= duration("18h")``;
  ``speed_kmh`` is the terminal's ground speed in km/h **rounded to the nearest integer** (ties to
  even, numpy ``rint``; 0 for fixed terminals), as Cedar has no floats;
  ``funded`` is whether some funding agreement pays for the terminal at that step or the terminal
  is within an agreement's grace period after its last paid step (``skyfence.funding``), and
  ``sponsors`` the sponsors whose agreements pay at that step (empty in a grace period); a scenario
  without ``[funding]`` models no payment: every terminal is funded with no sponsors, and so is the
  anonymous probe of cell decisions.
Entities carry no attributes; groups and regions have no parents (flat hierarchy).

Semantics
---------
No policy files: the caller skips policy and everything covered is served. With a policy set,
Cedar's semantics apply unchanged: **default deny** (a request is allowed only if some ``permit``
matches and no ``forbid`` does), so a policy set must ``permit`` explicitly; the bundled examples
start with a broad ``permit(principal, action, resource);`` and then ``forbid`` geofences.
Policies are validated against `SCHEMA` on load (strict Cedar validation): type errors, bad
datetime literals and unknown attributes are reported as PolicyError naming the file and line,
instead of silently never matching. A set with no ``permit`` at all is legal but denies everything:
`ServicePolicy.warnings` says so, for the CLI to print.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cedarpy
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
    "request_context",
    "make_request",
    "is_allowed",
    "cedar_answer",
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
  context: { time: datetime, speed_kmh: Long, funded: Bool, sponsors: Set<String> }
};
"""

_NO_PERMIT = (
    "no `permit` policy: Cedar denies by default, so every request is denied; start the set with "
    "`permit(principal, action, resource);` and add `forbid` geofences"
)


# --------------------------------------------------------------------------- locating things in text

def _statement_starts(text: str) -> list[int]:
    """Line numbers (1-based) where each top-level Cedar policy starts (skips strings, comments)."""
    starts: list[int] = []
    i, n, line = 0, len(text), 1
    in_policy = False
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if not in_policy:
            starts.append(line)
            in_policy = True
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                elif text[i] == "\n":
                    line += 1
                i += 1
            i += 1
            continue
        if c == ";":
            in_policy = False
        i += 1
    return starts


def _parse_error_line(text: str, message: str) -> int | None:
    """The first line whose prefix reproduces Cedar's parse error (Cedar's messages have no position)."""
    if "end of input" in message:
        return None
    lines = text.splitlines()
    for k in range(1, len(lines) + 1):
        try:
            cedarpy.PolicySet.from_str("\n".join(lines[:k]))
        except ValueError as exc:
            if str(exc) == message:
                return k
    return None


def _policy_number(policy_id: str) -> int | None:
    m = re.fullmatch(r"policy(\d+)", policy_id)
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------- the policy set

@dataclass(frozen=True, eq=False)
class ServicePolicy:
    """A parsed, validated Cedar policy set and where it came from.

    Attributes: ``text`` (all files concatenated), ``sources`` (file names or "<string>"),
    ``policy_set`` (the cedarpy.PolicySet handle, parsed once), ``ast`` (Cedar's JSON form, a dict),
    ``origins`` (Cedar policy id such as "policy3" -> (source, line), to explain a decision's
    ``diagnostics.reasons``), ``warnings`` (e.g. no permit at all).
    """

    text: str
    sources: tuple[str, ...]
    policy_set: Any
    ast: dict
    origins: dict[str, tuple[str, int]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @staticmethod
    def _check_one(text: str, source: str, validate: bool) -> int:
        """Parse and validate one source; returns its number of policies. PolicyError on failure."""
        try:
            ps = cedarpy.PolicySet.from_str(text)
        except ValueError as exc:
            msg = str(exc)
            line = _parse_error_line(text, msg)
            where = f"{source}:{line}" if line else source
            raise PolicyError(f"{where}: invalid Cedar policy: {msg}") from None
        if validate and len(ps):
            res = cedarpy.validate_policies(text, SCHEMA)
            if not res.validation_passed:
                starts = _statement_starts(text)
                msgs = []
                for err in res.errors:
                    num = _policy_number(err.policy_id)
                    line = starts[num] if num is not None and num < len(starts) else None
                    where = f"{source}:{line}" if line else source
                    msgs.append(f"{where}: invalid Cedar policy: {err.error}")
                raise PolicyError(
                    "; ".join(msgs) + " (skyfence's entity model: Terminal in Group, "
                    "Action::\"connect\", Cell in Region, context {time: datetime, speed_kmh: Long, funded: Bool, sponsors: Set<String>})"
                )
        return len(ps)

    @classmethod
    def _build(cls, parts: Sequence[tuple[str, str]], validate: bool) -> ServicePolicy:
        origins: dict[str, tuple[str, int]] = {}
        count = 0
        for text, source in parts:
            n = cls._check_one(text, source, validate)
            starts = _statement_starts(text)
            for k in range(n):
                origins[f"policy{count + k}"] = (source, starts[k] if k < len(starts) else 0)
            count += n
        joined = "\n".join(text for text, _ in parts)
        try:
            ps = cedarpy.PolicySet.from_str(joined)
            ast = json.loads(cedarpy.policies_to_json_str(joined))
        except ValueError as exc:  # e.g. duplicate explicit ids across files
            raise PolicyError(f"{', '.join(s for _, s in parts)}: cannot combine the policy files: {exc}") from None
        warnings = []
        effects = [p.get("effect") for p in ast.get("staticPolicies", {}).values()]
        effects += ["permit" for link in ast.get("templateLinks", [])
                    if ast.get("templates", {}).get(link.get("templateId"), {}).get("effect") == "permit"]
        if "permit" not in effects:
            warnings.append(_NO_PERMIT)
        return cls(text=joined, sources=tuple(s for _, s in parts), policy_set=ps, ast=ast,
                   origins=origins, warnings=tuple(warnings))

    @classmethod
    def from_text(cls, text: str, source: str = "<string>", *, validate: bool = True) -> ServicePolicy:
        """Parse (and validate against SCHEMA) Cedar text; PolicyError names `source`, line, message."""
        if not isinstance(text, str):
            raise PolicyError(f"{source}: policy text must be a string")
        return cls._build([(text, source)], validate)

    @classmethod
    def from_files(
        cls, paths: Sequence[str | Path], *, base_dir: Path | None = None, validate: bool = True
    ) -> ServicePolicy:
        """Load and join .cedar files (each parsed on its own first, so errors name the right file)."""
        parts = []
        for path in paths:
            p = Path(path).expanduser()
            if not p.is_absolute() and base_dir is not None:
                p = Path(base_dir) / p
            try:
                text = p.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise PolicyError(f"policy file not found: {p}") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise PolicyError(f"cannot read policy file {p}: {exc}") from None
            parts.append((text, str(p)))
        if not parts:
            raise PolicyError("no policy files given")
        return cls._build(parts, validate)

    def __len__(self) -> int:
        return len(self.policy_set)

    def explain(self, reasons: Iterable[str]) -> list[str]:
        """Cedar's policy ids (AuthzResult.diagnostics.reasons) as "file:line (@id)" strings."""
        out = []
        static = self.ast.get("staticPolicies", {})
        for r in reasons:
            src, line = self.origins.get(r, (r, 0))
            text = f"{src}:{line}" if line else src
            label = (static.get(r, {}).get("annotations") or {}).get("id")
            out.append(f"{text} ({label})" if label else text)
        return out


def load_policies(
    paths: Sequence[str | Path] | str | Path, *, base_dir: Path | None = None, validate: bool = True
) -> ServicePolicy:
    """`ServicePolicy.from_files`, accepting one path or a list (relative to `base_dir`)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return ServicePolicy.from_files(list(paths), base_dir=base_dir, validate=validate)


# --------------------------------------------------------------------------- values

def epoch_ms(t: Any) -> np.ndarray | int:
    """UTC instant(s) -> int64 milliseconds since 1970 (floored). Accepts numpy datetime64 (scalar or
    array), datetime (naive = UTC), ISO strings ("...Z"), or integers (already epoch ms)."""
    if isinstance(t, np.ndarray):
        if np.issubdtype(t.dtype, np.datetime64):
            return t.astype("datetime64[ns]").astype(np.int64) // 1_000_000
        if np.issubdtype(t.dtype, np.integer):
            return t.astype(np.int64)
        if t.dtype.kind in "OU":
            return np.array([epoch_ms(x) for x in t.ravel()], dtype=np.int64).reshape(t.shape)
        raise PolicyError(f"cannot read times from an array of {t.dtype}")
    if isinstance(t, (list, tuple)):
        return np.array([epoch_ms(x) for x in t], dtype=np.int64)
    if isinstance(t, np.datetime64):
        return int(t.astype("datetime64[ns]").astype(np.int64)) // 1_000_000
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.UTC)
        delta = t - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if isinstance(t, (bool, np.bool_)):
        raise PolicyError(f"not a time: {t!r}")
    if isinstance(t, (int, np.integer)):
        return int(t)
    if isinstance(t, str):
        s = t.strip()
        try:
            d = _dt.datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith(("Z", "z")) else s)
        except ValueError:
            raise PolicyError(f"not an ISO 8601 time: {t!r}") from None
        return epoch_ms(d)
    try:
        import pandas as pd

        if isinstance(t, pd.Timestamp):
            return epoch_ms(t.to_datetime64())
    except ImportError:  # pragma: no cover
        pass
    raise PolicyError(f"cannot read a time from {type(t).__name__} {t!r}")


def cedar_datetime(t: Any) -> str:
    """One UTC instant as Cedar's datetime literal text: "2026-04-30T06:00:00.000Z"."""
    ms = epoch_ms(t)
    if isinstance(ms, np.ndarray):
        raise PolicyError("cedar_datetime takes one instant")
    return str(np.datetime64(int(ms), "ms")) + "Z"


def speed_to_long(speed_kmh: Any) -> np.ndarray | int:
    """km/h (float, scalar or array) -> the Long put in ``context.speed_kmh`` (np.rint: nearest
    integer, ties to even)."""
    a = np.asarray(speed_kmh, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise PolicyError("speed_kmh must be finite")
    r = np.rint(a).astype(np.int64)
    return int(r) if r.ndim == 0 else r


def cell_id(cell: int | str) -> str:
    """The Cedar id of a cell: its H3 hex string (uint64 accepted)."""
    if isinstance(cell, str):
        return cell.lower()
    return format(int(cell), "x")


def _uid(kind: str, ident: str) -> dict:
    return {"type": kind, "id": str(ident)}


def terminal_entity(terminal_id: str, groups: Iterable[str] = ()) -> dict:
    """Cedar JSON entity for a terminal in its groups."""
    return {"uid": _uid("Terminal", terminal_id), "attrs": {},
            "parents": [_uid("Group", g) for g in sorted(set(groups))]}


def cell_entity(cell: int | str, regions: Iterable[str] = ()) -> dict:
    """Cedar JSON entity for a cell in its regions."""
    return {"uid": _uid("Cell", cell_id(cell)), "attrs": {},
            "parents": [_uid("Region", r) for r in sorted(set(regions))]}


def request_context(ms: int, speed_long: int, funded: bool = True, sponsors: Iterable[str] = ()) -> dict:
    """Cedar JSON context of one request: ``{time, speed_kmh, funded, sponsors}``."""
    return {"time": {"__extn": {"fn": "datetime", "arg": str(np.datetime64(int(ms), "ms")) + "Z"}},
            "speed_kmh": int(speed_long), "funded": bool(funded), "sponsors": sorted(set(sponsors))}


def make_request(terminal_id: str, cell: int | str, time: Any, speed_kmh: Any = 0, *,
                 funded: bool = True, sponsors: Iterable[str] = ()) -> dict:
    """cedarpy request dict: Terminal connects to Cell with context {time, speed_kmh, funded,
    sponsors}."""
    return {"principal": _uid("Terminal", terminal_id), "action": dict(ACTION),
            "resource": _uid("Cell", cell_id(cell)),
            "context": request_context(epoch_ms(time), speed_to_long(speed_kmh), funded, sponsors)}


def cedar_answer(
    policy: ServicePolicy,
    terminal_id: str,
    groups: Iterable[str],
    cell: int | str,
    regions: Iterable[str],
    time: Any,
    speed_kmh: Any = 0,
    *,
    funded: bool = True,
    sponsors: Iterable[str] = (),
) -> tuple[bool, tuple[str, ...]]:
    """Cedar's own answer for one request (cedarpy.is_authorized): (allowed, the ids of the policies
    that decided it, sorted: Cedar's ``diagnostics.reasons``). The reference the bulk evaluator must
    equal."""
    entities = [terminal_entity(terminal_id, groups), cell_entity(cell, regions)]
    result = cedarpy.is_authorized(make_request(terminal_id, cell, time, speed_kmh, funded=funded, sponsors=sponsors),
                                   policy.policy_set, entities)
    return bool(result.allowed), tuple(sorted(result.diagnostics.reasons))


def is_allowed(policy: ServicePolicy, terminal_id: str, groups: Iterable[str], cell: int | str, regions: Iterable[str],
               time: Any, speed_kmh: Any = 0, *, funded: bool = True, sponsors: Iterable[str] = ()) -> bool:
    """Cedar's own answer for one request (:func:`cedar_answer` without the reasons)."""
    return cedar_answer(policy, terminal_id, groups, cell, regions, time, speed_kmh, funded=funded, sponsors=sponsors)[0]
