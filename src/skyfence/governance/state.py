"""The tables the server acts on, compared with what the log establishes.

What is in force (principals and their keys, API keys, the quorums, proposals, approvals and
enactments, the terminal registry) is the `LogState` that the log's entries establish
(:func:`skyfence.governance.rules.entries.check_entry`). The database also holds these as
tables (for queries); `table_rows` reads the rows the server acts on, `expected_rows` derives the
same rows from a `LogState`, and `disagreements` names every row where the two differ. The server
refuses to act on a database whose tables disagree with its log (`StateMismatchError`, HTTP 503)
and `skyfence verify` reports the same disagreements (:func:`skyfence.governance.audit.check_tables`).

Compared rows (one tuple per row, keyed by the leading columns):

* ``principals``: id, roles (comma-separated), public key;
* ``api_keys``: SHA-256 of the key, principal;
* ``settings``: ``quorum_k``, ``membership_k``, ``emergency_k`` and their values;
* ``proposals``: id, proposer, digest, emergency, status (``open``/``enacted``), entry index,
  enactment index;
* ``approvals``: proposal, approver, signature, time, entry index;
* ``owners``: id, max_terminals; ``groups``: name, description; ``terminals``: id, lat_deg,
  lon_deg, owner, status; ``terminal_groups``: terminal, group.

`STATE_TABLES` are compared whole before every decision (`Ledger.state`); the registry tables
(`REGISTRY_TABLES`, up to many thousands of terminals) are compared whole by ``skyfence verify``
and row by row for the terminal and owner a decision or a write reads (`check_terminal`,
`check_owner`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from skyfence.errors import GovernanceError
from skyfence.governance.rules.entries import LogState

__all__ = ["TABLE_QUERIES", "STATE_TABLES", "REGISTRY_TABLES", "StateMismatchError", "table_rows",
           "expected_rows", "disagreements", "check_terminal", "check_owner"]

TABLE_QUERIES: dict[str, str] = {
    "principals": "SELECT id, roles, public_key FROM principals",
    "api_keys": "SELECT key_sha256, principal_id FROM api_keys",
    "settings": "SELECT key, value FROM settings WHERE key IN ('quorum_k', 'membership_k', "
                "'emergency_k')",
    "proposals": "SELECT id, proposer, digest, emergency, status, entry_index, enacted_index "
                 "FROM proposals",
    "approvals": "SELECT proposal_id, approver, signature, t_utc, entry_index FROM approvals",
    "owners": "SELECT id, max_terminals FROM owners",
    "groups": "SELECT name, description FROM groups",
    "terminals": "SELECT id, lat_deg, lon_deg, owner_id, status FROM terminals",
    "terminal_groups": "SELECT terminal_id, group_name FROM terminal_groups",
}
"""The SQL that reads each compared table (plain SQL: run by SQLAlchemy and by ``sqlite3``)."""

STATE_TABLES = ("principals", "api_keys", "settings", "proposals", "approvals")
REGISTRY_TABLES = ("owners", "groups", "terminals", "terminal_groups")
_KEY_COLUMNS = {"principals": 1, "api_keys": 1, "settings": 1, "proposals": 1, "approvals": 2,
                "owners": 1, "groups": 1, "terminals": 1, "terminal_groups": 2}

Rows = dict[str, list[tuple]]


class StateMismatchError(GovernanceError):
    """The database's tables disagree with its log: the server refuses to act (HTTP 503)."""


def _norm(table: str, row: Sequence[Any]) -> tuple:
    row = tuple(row)
    if table == "proposals":
        row = (*row[:3], bool(row[3]), *row[4:])
    return row


def table_rows(execute: Callable[[str], Iterable[Sequence[Any]]],
               tables: Iterable[str] | None = None) -> Rows:
    """The compared rows of `tables` (default all), sorted; `execute(sql)` runs a query and
    returns rows."""
    return {t: sorted((_norm(t, r) for r in execute(TABLE_QUERIES[t])), key=repr)
            for t in (TABLE_QUERIES if tables is None else tables)}


def expected_rows(state: LogState, tables: Iterable[str] | None = None) -> Rows:
    """The rows the compared `tables` (default all) must hold, derived from what the log
    establishes."""
    rows: Rows = {
        "principals": [(p, ",".join(v["roles"]), v.get("public_key"))
                       for p, v in state.principals.items()],
        "api_keys": list(state.api_keys.items()),
        "settings": [("quorum_k", str(state.quorum_k)), ("membership_k", str(state.membership_k)),
                     ("emergency_k", str(state.emergency_k))] if state.size else [],
        "proposals": [],
        "approvals": [],
        "owners": list(state.owners.items()),
        "groups": list(state.groups.items()),
        "terminals": [(t, *v) for t, v in state.terminals.items()],
        "terminal_groups": [(t, g) for t, gs in state.terminal_groups.items() for g in gs],
    }
    for pid, fields in state.proposals.items():
        index, digest = state.proposal_entries[pid]
        enacted = state.enacted.get(pid)
        rows["proposals"].append((pid, fields["proposer"], digest, bool(fields["emergency"]),
                                  "open" if enacted is None else "enacted", index, enacted))
        for a, i in zip(state.accepted[pid], state.approval_entries[pid], strict=True):
            rows["approvals"].append((pid, a.approver, a.signature, a.t_utc, i))
    return {t: sorted(rows[t], key=repr) for t in (TABLE_QUERIES if tables is None else tables)}


def _mismatch(what: str, have: Any, want: Any) -> StateMismatchError:
    return StateMismatchError(f"the database's tables disagree with its log, refusing to act: "
                              f"{what} is {have!r} but the log says {want!r}")


def check_terminal(state: LogState, row: Sequence[Any] | None, groups: Iterable[str]) -> None:
    """`StateMismatchError` unless a terminal's row (id, lat_deg, lon_deg, owner, status; None:
    no row) and its groups are what the log established for it."""
    if row is None:
        return
    tid = row[0]
    want = state.terminals.get(tid)
    have = tuple(row[1:])
    if want is None or have != tuple(want):
        raise _mismatch(f"table terminals: row {tid!r}", list(have),
                        None if want is None else list(want))
    want_groups = tuple(sorted(state.terminal_groups.get(tid, ())))
    if tuple(sorted(groups)) != want_groups:
        raise _mismatch(f"table terminal_groups: groups of {tid!r}", sorted(groups),
                        list(want_groups))


def check_owner(state: LogState, owner_id: str, max_terminals: Any,
                active: Iterable[str]) -> None:
    """`StateMismatchError` unless an owner's limit and its active terminals (ids) are the log's."""
    if owner_id not in state.owners or state.owners[owner_id] != max_terminals:
        raise _mismatch(f"table owners: limit of {owner_id!r}", max_terminals,
                        state.owners.get(owner_id))
    want = sorted(t for t, v in state.terminals.items() if v[2] == owner_id and v[3] == "active")
    if sorted(active) != want:
        raise _mismatch(f"table terminals: active terminals of {owner_id!r}", sorted(active), want)


def disagreements(expected: Mapping[str, Sequence[Sequence[Any]]],
                  actual: Mapping[str, Sequence[Sequence[Any]]], *, limit: int = 5) -> list[str]:
    """Each row where `actual` (the tables) differs from `expected` (the log), named by table and
    key: a row the log does not have, a row missing from the table, or a row with other values."""
    out: list[str] = []
    for table, n in _KEY_COLUMNS.items():
        want = {tuple(r[:n]): tuple(r) for r in expected.get(table, [])}
        have = {tuple(r[:n]): tuple(r) for r in actual.get(table, [])}
        for key in sorted(set(want) | set(have), key=repr):
            w, h = want.get(key), have.get(key)
            name = key[0] if n == 1 else key
            if w == h:
                continue
            if w is None:
                out.append(f"table {table}: row {name!r} is not in the log ({list(h)})")
            elif h is None:
                out.append(f"table {table}: row {name!r} of the log is missing")
            else:
                out.append(f"table {table}: row {name!r} is {list(h)} but the log says {list(w)}")
            if len(out) >= limit:
                return out
    return out
