"""Canonical bytes (what is signed and hashed) and the fixed-width UTC time text of the log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from skyfence.errors import GovernanceError, InvalidError

__all__ = ["canonical_json", "canonical_bytes", "iso_utc", "parse_utc"]


def canonical_json(obj: Any) -> str:
    """Canonical JSON text: keys sorted, separators without spaces, non-ASCII kept, no NaN/inf."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise GovernanceError(f"not canonical JSON: {exc}") from None


def canonical_bytes(obj: Any) -> bytes:
    """`canonical_json` encoded as UTF-8: the bytes that are signed and hashed."""
    return canonical_json(obj).encode("utf-8")


def iso_utc(t: dt.datetime | str | None = None) -> str:
    """A UTC instant as fixed-width ISO 8601 text, ``YYYY-MM-DDThh:mm:ss.ffffffZ`` (sorts as text).
    None means now; naive datetimes are taken as UTC; strings are parsed first."""
    if t is None:
        t = dt.datetime.now(dt.UTC)
    elif isinstance(t, str):
        t = parse_utc(t)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str | dt.datetime, what: str = "time") -> dt.datetime:
    """Parse an ISO 8601 instant (``Z`` or an offset; naive = UTC) into an aware UTC datetime."""
    if isinstance(text, dt.datetime):
        return text if text.tzinfo else text.replace(tzinfo=dt.UTC)
    if not isinstance(text, str):
        raise InvalidError(f"{what}: not an ISO 8601 time: {text!r}")
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        t = dt.datetime.fromisoformat(s)
    except ValueError:
        raise InvalidError(f"{what}: not an ISO 8601 time: {text!r}") from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
