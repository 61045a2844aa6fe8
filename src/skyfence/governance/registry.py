"""Terminal registry: owners (with per-owner limits), groups, terminals; every write is one
transaction that also appends its log entry (see :mod:`skyfence.governance.ledger`).

A terminal is ``registered`` (known, not yet served), ``active`` or ``suspended``. An owner's
``max_terminals`` caps how many of its terminals are *active* at once (the whitelist policies seen
in the field: 1, 3 or 10 terminals per owner); activation past the cap is refused.

Bulk import (`import_terminals_csv`): a CSV with a header holding at least ``id,lat,lon`` and
optionally ``group`` (several separated by ``;``), ``owner`` and ``status``. All rows go in ONE
transaction with ONE log entry ``terminals.imported`` that lists every row, so 15,000 terminals
take about a second; a bad row aborts the whole import with an error naming its line.

The tables are checked against the log before they are acted on: every write compares the rows
it reads (the terminal, its owner's limit and active terminals) with what the log's registry
entries establish (:func:`skyfence.governance.state.check_terminal`, `check_owner`), and
`get_terminal` given the log's state does the same for a decision, so a direct edit of a table
makes the server refuse (`StateMismatchError`) instead of acting on it.

Size: over 400 lines because the writes, the CSV import and the reads of one set of tables stay
together with the row checks they share.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from skyfence.errors import ConflictError, InvalidError, NotFoundError, RefusedError
from skyfence.governance.db import (
    Group,
    Owner,
    Terminal,
    TerminalGroup,
)
from skyfence.governance.rules.canonical import canonical_bytes
from skyfence.governance.state import check_owner, check_terminal

__all__ = [
    "STATUSES",
    "create_owner",
    "create_group",
    "register_terminal",
    "set_terminal_status",
    "move_terminal",
    "import_terminals_csv",
    "parse_terminals_csv",
    "terminal_dict",
    "get_terminal",
    "list_terminals",
    "terminal_groups",
    "list_groups",
    "list_owners",
]

STATUSES = ("registered", "active", "suspended")
_MAX_ID = 128


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_ID:
        raise InvalidError(f"{what}: must be a non-empty string of at most {_MAX_ID} characters")
    if value != value.strip() or any(ord(c) < 32 for c in value):
        raise InvalidError(f"{what}: no leading/trailing spaces or control characters allowed")
    return value


def _check_latlon(lat: Any, lon: Any, what: str) -> tuple[float, float]:
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        raise InvalidError(f"{what}: lat/lon must be numbers, got {lat!r}, {lon!r}") from None
    if not (math.isfinite(lat_f) and -90.0 <= lat_f <= 90.0):
        raise InvalidError(f"{what}: lat must be in [-90, 90] degrees, got {lat!r}")
    if not (math.isfinite(lon_f) and -180.0 <= lon_f <= 180.0):
        raise InvalidError(f"{what}: lon must be in [-180, 180] degrees, got {lon!r}")
    return lat_f, lon_f


# --------------------------------------------------------------------------- owners and groups


def create_owner(ledger, actor: str, owner_id: str, max_terminals: int | None = None) -> dict:
    """Create (or update the limit of) an owner. Logged as ``owner.set``."""
    _check_id(owner_id, "owner")
    if max_terminals is not None and (not isinstance(max_terminals, int) or max_terminals < 0):
        raise InvalidError("max_terminals: must be a non-negative integer or null")
    with ledger.transaction() as tx:
        s = tx.session
        owner = s.get(Owner, owner_id)
        if owner is None:
            if owner_id in ledger.state(s).owners:
                _check_owner(ledger, s, owner_id)  # a row the log has was deleted
            s.add(Owner(id=owner_id, max_terminals=max_terminals))
        else:
            _check_owner(ledger, s, owner_id)
            if max_terminals is not None:
                active = _active_count(s, owner_id)
                if active > max_terminals:
                    raise RefusedError(
                        f"owner {owner_id!r} has {active} active terminals, more than the new limit "
                        f"{max_terminals}: suspend some first")
            owner.max_terminals = max_terminals
        tx.append("owner.set", actor, {"owner": owner_id, "max_terminals": max_terminals})
    return {"id": owner_id, "max_terminals": max_terminals}


def create_group(ledger, actor: str, name: str, description: str = "") -> dict:
    """Create a group (Cedar ``Group::"name"``). Logged as ``group.created``."""
    _check_id(name, "group")
    with ledger.transaction() as tx:
        if tx.session.get(Group, name) is not None:
            raise ConflictError(f"group {name!r} already exists")
        tx.session.add(Group(name=name, description=description or ""))
        tx.append("group.created", actor, {"group": name, "description": description or ""})
    return {"name": name, "description": description or ""}


def _ensure_groups(s: Session, names: Iterable[str]) -> list[str]:
    """Create missing groups implicitly; returns the new ones (logged by the caller)."""
    names = sorted(set(names))
    if not names:
        return []
    have = set(s.scalars(select(Group.name).where(Group.name.in_(names))))
    new = [n for n in names if n not in have]
    if new:
        s.execute(insert(Group), [{"name": n, "description": ""} for n in new])
    return new


def _active_count(s: Session, owner_id: str) -> int:
    return int(s.scalar(select(func.count()).select_from(Terminal).where(
        Terminal.owner_id == owner_id, Terminal.status == "active")) or 0)


def _check_owner(ledger, s: Session, owner_id: str) -> None:
    """`StateMismatchError` unless the owner's row and active terminals are the log's."""
    owner = s.get(Owner, owner_id)
    active = s.scalars(select(Terminal.id).where(Terminal.owner_id == owner_id,
                                                 Terminal.status == "active"))
    check_owner(ledger.state(s), owner_id, None if owner is None else owner.max_terminals,
                list(active))


def _check_row(ledger, s: Session, terminal_id: str) -> Terminal | None:
    """The terminal's row after checking it (and its groups) against the log."""
    t = s.get(Terminal, terminal_id)
    state = ledger.state(s)
    if t is None:
        if terminal_id in state.terminals:
            check_terminal(state, (terminal_id, None, None, None, None), ())
        return None
    check_terminal(state, (t.id, t.lat_deg, t.lon_deg, t.owner_id, t.status),
                   terminal_groups(s, t.id))
    return t


def _check_owner_room(s: Session, owner_id: str | None, adding: int, ledger) -> None:
    if owner_id is None or adding <= 0:
        return
    owner = s.get(Owner, owner_id)
    if owner is None:
        raise NotFoundError(f"owner {owner_id!r} does not exist")
    _check_owner(ledger, s, owner_id)
    if owner.max_terminals is not None:
        active = _active_count(s, owner_id)
        if active + adding > owner.max_terminals:
            raise RefusedError(
                f"owner {owner_id!r} may have at most {owner.max_terminals} active terminals "
                f"({active} active already)")


# --------------------------------------------------------------------------- terminals


def register_terminal(
    ledger,
    actor: str,
    terminal_id: str,
    lat_deg: float,
    lon_deg: float,
    *,
    owner: str | None = None,
    groups: Sequence[str] = (),
    status: str = "registered",
) -> dict:
    """Register one terminal. Logged as ``terminal.registered``."""
    _check_id(terminal_id, "id")
    lat, lon = _check_latlon(lat_deg, lon_deg, f"terminal {terminal_id!r}")
    if status not in STATUSES:
        raise InvalidError(f"status: must be one of {', '.join(STATUSES)}")
    groups = sorted({_check_id(g, "groups[]") for g in groups})
    with ledger.transaction() as tx:
        s = tx.session
        if _check_row(ledger, s, terminal_id) is not None:
            raise ConflictError(f"terminal {terminal_id!r} is already registered")
        if owner is not None:
            _check_id(owner, "owner")
            if s.get(Owner, owner) is None:
                raise NotFoundError(f"owner {owner!r} does not exist")
            if status == "active":
                _check_owner_room(s, owner, 1, ledger)
        new_groups = _ensure_groups(s, groups)
        s.add(Terminal(id=terminal_id, lat_deg=lat, lon_deg=lon, owner_id=owner, status=status,
                       updated_utc=tx.now_utc))
        s.flush()
        if groups:
            s.execute(insert(TerminalGroup),
                      [{"terminal_id": terminal_id, "group_name": g} for g in groups])
        tx.append("terminal.registered", actor, {
            "id": terminal_id, "lat_deg": lat, "lon_deg": lon, "owner": owner,
            "groups": groups, "status": status, "new_groups": new_groups})
    return {"id": terminal_id, "lat_deg": lat, "lon_deg": lon, "owner": owner, "groups": groups,
            "status": status, "updated_utc": tx.now_utc}


def set_terminal_status(ledger, actor: str, terminal_id: str, status: str) -> dict:
    """Activate or suspend (or reset to registered) a terminal. Logged as ``terminal.status``."""
    if status not in STATUSES:
        raise InvalidError(f"status: must be one of {', '.join(STATUSES)}")
    with ledger.transaction() as tx:
        s = tx.session
        t = _check_row(ledger, s, terminal_id)
        if t is None:
            raise NotFoundError(f"terminal {terminal_id!r} is not registered")
        before = t.status
        if status == "active" and before != "active":
            _check_owner_room(s, t.owner_id, 1, ledger)
        t.status = status
        t.updated_utc = tx.now_utc
        tx.append("terminal.status", actor, {"id": terminal_id, "from": before, "to": status})
        out = terminal_dict(s, t)
    return out


def move_terminal(ledger, actor: str, terminal_id: str, groups: Sequence[str]) -> dict:
    """Replace a terminal's groups (moving it between groups). Logged as ``terminal.groups``."""
    groups = sorted({_check_id(g, "groups[]") for g in groups})
    with ledger.transaction() as tx:
        s = tx.session
        t = _check_row(ledger, s, terminal_id)
        if t is None:
            raise NotFoundError(f"terminal {terminal_id!r} is not registered")
        before = terminal_groups(s, terminal_id)
        new_groups = _ensure_groups(s, groups)
        s.execute(delete(TerminalGroup).where(TerminalGroup.terminal_id == terminal_id))
        if groups:
            s.execute(insert(TerminalGroup),
                      [{"terminal_id": terminal_id, "group_name": g} for g in groups])
        t.updated_utc = tx.now_utc
        tx.append("terminal.groups", actor, {"id": terminal_id, "from": before, "to": groups,
                                             "new_groups": new_groups})
        out = terminal_dict(s, t)
    return out


def parse_terminals_csv(text: str, *, source: str = "<csv>") -> list[dict]:
    """Rows of a terminals CSV (header with id, lat, lon; optional group, owner, status).
    GovernanceError naming the line on the first bad row."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    for col in ("id", "lat", "lon"):
        if col not in header:
            raise InvalidError(f"{source}: the header must have columns id, lat, lon (missing {col!r})")
    gcol = "group" if "group" in header else ("groups" if "groups" in header else None)
    rows: list[dict] = []
    seen: set[str] = set()
    for line_no, rec in enumerate(reader, start=2):
        where = f"{source}:{line_no}"
        tid = (rec.get("id") or "").strip()
        _check_id(tid, f"{where}: id")
        if tid in seen:
            raise InvalidError(f"{where}: duplicate terminal id {tid!r}")
        seen.add(tid)
        lat, lon = _check_latlon(rec.get("lat"), rec.get("lon"), where)
        groups = sorted({g.strip() for g in (rec.get(gcol) or "").split(";") if g.strip()}) if gcol else []
        owner = (rec.get("owner") or "").strip() or None
        status = (rec.get("status") or "").strip() or None
        if status is not None and status not in STATUSES:
            raise InvalidError(f"{where}: status must be one of {', '.join(STATUSES)}")
        rows.append({"id": tid, "lat_deg": lat, "lon_deg": lon, "groups": groups, "owner": owner,
                     "status": status})
    return rows


def import_terminals_csv(
    ledger,
    actor: str,
    csv_source: str | Path,
    *,
    status: str = "registered",
    source: str | None = None,
) -> dict:
    """Import a CSV of terminals (text, or a path) in ONE transaction with ONE log entry
    ``terminals.imported`` that lists every row. Rows without a status get `status`.
    Returns {"count", "sha256", "log_index"}."""
    if isinstance(csv_source, Path) or (isinstance(csv_source, str) and "\n" not in csv_source
                                         and Path(csv_source).is_file()):
        p = Path(csv_source)
        text = p.read_text(encoding="utf-8-sig")
        source = source or str(p)
    else:
        text = str(csv_source)
    rows = parse_terminals_csv(text, source=source or "<csv>")
    if status not in STATUSES:
        raise InvalidError(f"status: must be one of {', '.join(STATUSES)}")
    for r in rows:
        r["status"] = r["status"] or status
    if not rows:
        raise InvalidError(f"{source or '<csv>'}: no terminals in the file")
    return import_terminals(ledger, actor, rows)


def import_terminals(ledger, actor: str, rows: Sequence[Mapping[str, Any]]) -> dict:
    """Insert many terminals (dicts: id, lat_deg, lon_deg, groups, owner, status) in one transaction."""
    rows = [dict(r) for r in rows]
    ids = [r["id"] for r in rows]
    dup = [k for k, c in Counter(ids).items() if c > 1]
    if dup:
        raise InvalidError(f"duplicate terminal id(s) in the import: {dup[:5]}")
    for r in rows:
        _check_id(r["id"], "id")
        r["lat_deg"], r["lon_deg"] = _check_latlon(r["lat_deg"], r["lon_deg"], f"terminal {r['id']!r}")
        r["groups"] = sorted(set(r.get("groups") or []))
        r["owner"] = r.get("owner")
        r["status"] = r.get("status") or "registered"
        if r["status"] not in STATUSES:
            raise InvalidError(f"terminal {r['id']!r}: bad status {r['status']!r}")
    payload = [[r["id"], r["lat_deg"], r["lon_deg"], r["owner"], r["groups"], r["status"]] for r in rows]
    digest = hashlib.sha256(canonical_bytes(payload)).hexdigest()
    with ledger.transaction() as tx:
        s = tx.session
        existing: set[str] = set()
        for k in range(0, len(ids), 500):
            existing |= set(s.scalars(select(Terminal.id).where(Terminal.id.in_(ids[k:k + 500]))))
        if existing:
            raise ConflictError(f"already registered: {sorted(existing)[:5]} ({len(existing)} in all)")
        logged = set(ids) & set(ledger.state(s).terminals)
        if logged:
            check_terminal(ledger.state(s), (min(logged), None, None, None, None), ())
        owners = sorted({r["owner"] for r in rows if r["owner"] is not None})
        if owners:
            have = set(s.scalars(select(Owner.id).where(Owner.id.in_(owners))))
            missing = [o for o in owners if o not in have]
            if missing:
                raise NotFoundError(f"unknown owner(s): {missing[:5]}")
            adding = Counter(r["owner"] for r in rows if r["owner"] and r["status"] == "active")
            for o, n in adding.items():
                _check_owner_room(s, o, n, ledger)
        new_groups = _ensure_groups(s, [g for r in rows for g in r["groups"]])
        s.execute(insert(Terminal), [
            {"id": r["id"], "lat_deg": r["lat_deg"], "lon_deg": r["lon_deg"], "owner_id": r["owner"],
             "status": r["status"], "updated_utc": tx.now_utc} for r in rows])
        links = [{"terminal_id": r["id"], "group_name": g} for r in rows for g in r["groups"]]
        if links:
            s.execute(insert(TerminalGroup), links)
        index = tx.append("terminals.imported", actor, {
            "count": len(rows), "sha256": digest, "new_groups": new_groups,
            "columns": ["id", "lat_deg", "lon_deg", "owner", "groups", "status"], "rows": payload})
    return {"count": len(rows), "sha256": digest, "log_index": index}


# --------------------------------------------------------------------------- reads


def terminal_groups(s: Session, terminal_id: str) -> list[str]:
    return sorted(s.scalars(select(TerminalGroup.group_name).where(
        TerminalGroup.terminal_id == terminal_id)))


def terminal_dict(s: Session, t: Terminal) -> dict:
    return {"id": t.id, "lat_deg": t.lat_deg, "lon_deg": t.lon_deg, "owner": t.owner_id,
            "groups": terminal_groups(s, t.id), "status": t.status, "updated_utc": t.updated_utc}


def get_terminal(s: Session, terminal_id: str, state=None) -> dict | None:
    """The terminal's row as a dict (None: not registered). Given `state` (the log's
    :class:`~skyfence.governance.rules.entries.LogState`), the row and its groups are first
    checked against the log (`StateMismatchError` if they differ, or if the log has a terminal
    whose row is missing)."""
    t = s.get(Terminal, terminal_id)
    if state is not None:
        if t is None:
            if terminal_id in state.terminals:
                check_terminal(state, (terminal_id, None, None, None, None), ())
            return None
        out = terminal_dict(s, t)
        check_terminal(state, (t.id, t.lat_deg, t.lon_deg, t.owner_id, t.status), out["groups"])
        return out
    return None if t is None else terminal_dict(s, t)


def list_terminals(s: Session, *, offset: int = 0, limit: int = 100, status: str | None = None,
                   group: str | None = None, owner: str | None = None) -> list[dict]:
    q = select(Terminal).order_by(Terminal.id)
    if status:
        q = q.where(Terminal.status == status)
    if owner:
        q = q.where(Terminal.owner_id == owner)
    if group:
        q = q.where(Terminal.id.in_(select(TerminalGroup.terminal_id).where(
            TerminalGroup.group_name == group)))
    ts = list(s.scalars(q.offset(max(0, offset)).limit(max(0, min(limit, 10_000)))))
    groups: dict[str, list[str]] = {t.id: [] for t in ts}
    if ts:
        for tid, g in s.execute(select(TerminalGroup.terminal_id, TerminalGroup.group_name).where(
                TerminalGroup.terminal_id.in_(list(groups)))):
            groups[tid].append(g)
    return [{"id": t.id, "lat_deg": t.lat_deg, "lon_deg": t.lon_deg, "owner": t.owner_id,
             "groups": sorted(groups[t.id]), "status": t.status, "updated_utc": t.updated_utc}
            for t in ts]


def list_groups(s: Session) -> list[dict]:
    counts = dict(s.execute(select(TerminalGroup.group_name, func.count()).group_by(
        TerminalGroup.group_name)).all())
    return [{"name": g.name, "description": g.description, "terminals": int(counts.get(g.name, 0))}
            for g in s.scalars(select(Group).order_by(Group.name))]


def list_owners(s: Session) -> list[dict]:
    out = []
    for o in s.scalars(select(Owner).order_by(Owner.id)):
        out.append({"id": o.id, "max_terminals": o.max_terminals, "active": _active_count(s, o.id)})
    return out


def count_terminals(s: Session, status: str | None = None) -> int:
    """Number of registered terminals (optionally with `status`)."""
    q = select(func.count()).select_from(Terminal)
    if status:
        q = q.where(Terminal.status == status)
    return int(s.scalar(q) or 0)
