"""Funding agreements: a sponsor pays a price per terminal-month for what the agreement covers.

An agreement (TOML / JSON table)::

    id = "usaid-2022"
    sponsor = "usaid"                       # a known sponsor (a principal in the governance plane)
    group = "usaid"                         # covers: exactly one of group, terminals, region
    # terminals = ["UA-00001", "UA-00002"]  #   a list of terminal ids
    # region = "frontline"                  #   every terminal whose position is in the named region
    start = "2022-05-01T00:00:00Z"          # period [start, end), UTC
    end = "2022-10-01T00:00:00Z"
    price_per_terminal_month = 500.0        # >= 0, the sponsor's currency units
    monthly_cap = 100000.0                  # optional: at most this much a calendar month
    total_budget = 400000.0                 # optional: at most this much over the whole period
    grace_days = 7                          # optional (or grace_s): service after the last paid step

Validation (:func:`validate_agreements`) raises :class:`~skyfence.errors.FundingError` naming the
agreement and the field: unknown sponsor, negative price or cap, a period ending before it starts,
an unknown group / region / terminal, a duplicate id.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from skyfence.errors import FundingError

__all__ = ["Agreement", "COVERS", "parse_agreement", "parse_agreements", "validate_agreements", "to_ms"]

#: what an agreement can cover
COVERS = ("group", "terminals", "region")
_KEYS = {"id", "sponsor", "group", "terminals", "region", "start", "end", "price_per_terminal_month",
         "monthly_cap", "total_budget", "grace_days", "grace_s"}


def to_ms(t: Any, where: str) -> np.datetime64:
    """A UTC instant (ISO 8601 text, datetime64, datetime) as datetime64[ms]."""
    try:
        if isinstance(t, str):
            text = t.strip()
            if text.endswith("Z"):
                text = text[:-1]
            elif len(text) > 10 and text[-6] in "+-" and text[-3] == ":":
                import pandas as pd

                return np.datetime64(pd.Timestamp(text).tz_convert("UTC").tz_localize(None), "ms")
            return np.datetime64(text, "ms")
        return np.datetime64(t, "ms")
    except (ValueError, TypeError) as exc:
        raise FundingError(f"{where}: not a UTC time: {t!r} ({exc})") from None


@dataclass(frozen=True)
class Agreement:
    """One funding agreement. ``covers`` is "group", "terminals" or "region"; ``target`` the group
    name, the terminal ids, or the region name. The period is ``[start_utc, end_utc)``."""

    id: str
    sponsor: str
    covers: str
    target: tuple[str, ...]
    start_utc: np.datetime64
    end_utc: np.datetime64
    price_per_terminal_month: float
    monthly_cap: float | None = None
    total_budget: float | None = None
    grace_s: float = 0.0

    @property
    def capped(self) -> bool:
        return self.monthly_cap is not None or self.total_budget is not None

    def to_dict(self) -> dict:
        """The table form :func:`parse_agreement` reads (JSON-able)."""
        out: dict[str, Any] = {"id": self.id, "sponsor": self.sponsor}
        out[self.covers] = list(self.target) if self.covers == "terminals" else self.target[0]
        out["start"] = str(self.start_utc) + "Z"
        out["end"] = str(self.end_utc) + "Z"
        out["price_per_terminal_month"] = self.price_per_terminal_month
        if self.monthly_cap is not None:
            out["monthly_cap"] = self.monthly_cap
        if self.total_budget is not None:
            out["total_budget"] = self.total_budget
        if self.grace_s:
            out["grace_s"] = self.grace_s
        return out


def _number(d: Mapping, key: str, where: str, *, required: bool = False) -> float | None:
    if key not in d:
        if required:
            raise FundingError(f"{where}: missing {key}")
        return None
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        raise FundingError(f"{where}: {key} must be a number, got {v!r}")
    if v < 0:
        raise FundingError(f"{where}: {key} must be >= 0, got {v!r}")
    return float(v)


def parse_agreement(d: Mapping[str, Any], where: str = "agreement") -> Agreement:
    """One agreement from its table form; FundingError naming the field on malformed input."""
    if not isinstance(d, Mapping):
        raise FundingError(f"{where}: expected a table, got {d!r}")
    ident = d.get("id")
    if not isinstance(ident, str) or not ident:
        raise FundingError(f"{where}: id must be a non-empty string, got {ident!r}")
    where = f"agreement {ident!r}"
    for k in d:
        if k not in _KEYS:
            close = difflib.get_close_matches(k, sorted(_KEYS), n=1)
            raise FundingError(f"{where}: unknown key {k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    sponsor = d.get("sponsor")
    if not isinstance(sponsor, str) or not sponsor:
        raise FundingError(f"{where}: sponsor must be a non-empty string, got {sponsor!r}")
    given = [k for k in COVERS if k in d]
    if len(given) != 1:
        raise FundingError(f"{where}: give exactly one of group, terminals, region (got {given or 'none'})")
    covers = given[0]
    raw = d[covers]
    if covers == "terminals":
        if isinstance(raw, str) or not isinstance(raw, Sequence) or not all(isinstance(x, str) and x for x in raw):
            raise FundingError(f"{where}: terminals must be a list of terminal ids, got {raw!r}")
        target = tuple(dict.fromkeys(raw))
    else:
        if not isinstance(raw, str) or not raw:
            raise FundingError(f"{where}: {covers} must be a name, got {raw!r}")
        target = (raw,)
    for k in ("start", "end"):
        if k not in d:
            raise FundingError(f"{where}: missing {k}")
    start, end = to_ms(d["start"], f"{where}: start"), to_ms(d["end"], f"{where}: end")
    if end <= start:
        raise FundingError(f"{where}: period ends ({end}Z) before it starts ({start}Z)")
    price = _number(d, "price_per_terminal_month", where, required=True)
    if "grace_days" in d and "grace_s" in d:
        raise FundingError(f"{where}: give grace_days or grace_s, not both")
    grace = _number(d, "grace_s", where) or 0.0
    if "grace_days" in d:
        grace = (_number(d, "grace_days", where) or 0.0) * 86400.0
    return Agreement(ident, sponsor, covers, target, start, end, float(price or 0.0),
                     _number(d, "monthly_cap", where), _number(d, "total_budget", where), grace)


def parse_agreements(items: Iterable[Mapping[str, Any]], where: str = "agreements") -> list[Agreement]:
    """Several agreements; ids must be distinct."""
    out: list[Agreement] = []
    seen: set[str] = set()
    for i, d in enumerate(items):
        a = parse_agreement(d, f"{where}[{i}]")
        if a.id in seen:
            raise FundingError(f"agreement {a.id!r}: duplicate id")
        seen.add(a.id)
        out.append(a)
    return out


def _known(name: str, known: Iterable[str], what: str, where: str) -> None:
    known = set(known)
    if name not in known:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known)) or 'none'})"
        raise FundingError(f"{where}: unknown {what} {name!r}" + hint)


def validate_agreements(
    agreements: Sequence[Agreement],
    *,
    sponsors: Iterable[str],
    groups: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    terminals: Iterable[str] | None = None,
) -> None:
    """Check every agreement against the known sponsors, groups, regions and terminal ids (None:
    not checked); the first problem raises FundingError naming the agreement and the field."""
    sponsors = set(sponsors)
    seen: set[str] = set()
    for a in agreements:
        where = f"agreement {a.id!r}"
        if a.id in seen:
            raise FundingError(f"{where}: duplicate id")
        seen.add(a.id)
        _known(a.sponsor, sponsors, "sponsor", where)
        if a.price_per_terminal_month < 0:
            raise FundingError(f"{where}: price_per_terminal_month must be >= 0")
        if a.end_utc <= a.start_utc:
            raise FundingError(f"{where}: period ends before it starts")
        if a.covers == "group" and groups is not None:
            _known(a.target[0], groups, "group", where)
        if a.covers == "region" and regions is not None:
            _known(a.target[0], regions, "region", where)
        if a.covers == "terminals" and terminals is not None:
            known = set(terminals)
            missing = [x for x in a.target if x not in known]
            if missing:
                raise FundingError(f"{where}: unknown terminal {missing[0]!r}"
                                   + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
