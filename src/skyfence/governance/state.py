"""The tables the server acts on, compared with what the log establishes.

What is in force (principals and their keys, API keys, the quorum, proposals, approvals and
enactments) is the `LogState` that the log's entries establish
(:func:`skyfence.governance.rules.entries.replay_state`). The database also holds these as
tables (for queries); `table_rows` reads the rows the server acts on, `expected_rows` derives the
same rows from a `LogState`, and `disagreements` names every row where the two differ. The server
refuses to act on a database whose tables disagree with its log (`StateMismatchError`, HTTP 503)
and `skyfence verify` reports the same disagreements (:func:`skyfence.governance.audit.check_tables`).

Compared rows (one tuple per row, keyed by the leading columns):

* ``principals``: id, roles (comma-separated), public key;
* ``api_keys``: SHA-256 of the key, principal;
* ``settings``: ``quorum_k`` and its value;
* ``proposals``: id, proposer, digest, emergency, status (``open``/``enacted``), entry index,
  enactment index;
* ``approvals``: proposal, approver, signature, time, entry index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from skyfence.errors import GovernanceError
from skyfence.governance.rules.entries import LogState

__all__ = ["TABLE_QUERIES", "StateMismatchError", "table_rows", "expected_rows", "disagreements"]

TABLE_QUERIES: dict[str, str] = {
    "principals": "SELECT id, roles, public_key FROM principals",
    "api_keys": "SELECT key_sha256, principal_id FROM api_keys",
    "settings": "SELECT key, value FROM settings WHERE key = 'quorum_k'",
    "proposals": "SELECT id, proposer, digest, emergency, status, entry_index, enacted_index "
                 "FROM proposals",
    "approvals": "SELECT proposal_id, approver, signature, t_utc, entry_index FROM approvals",
}
"""The SQL that reads each compared table (plain SQL: run by SQLAlchemy and by ``sqlite3``)."""

_KEY_COLUMNS = {"principals": 1, "api_keys": 1, "settings": 1, "proposals": 1, "approvals": 2}

Rows = dict[str, list[tuple]]


class StateMismatchError(GovernanceError):
    """The database's tables disagree with its log: the server refuses to act (HTTP 503)."""


def _norm(table: str, row: Sequence[Any]) -> tuple:
    row = tuple(row)
    if table == "proposals":
        row = (*row[:3], bool(row[3]), *row[4:])
    return row


def table_rows(execute: Callable[[str], Iterable[Sequence[Any]]]) -> Rows:
    """The compared rows of every table, sorted; `execute(sql)` runs a query and returns rows."""
    return {t: sorted((_norm(t, r) for r in execute(q)), key=repr)
            for t, q in TABLE_QUERIES.items()}


def expected_rows(state: LogState) -> Rows:
    """The rows the compared tables must hold, derived from what the log establishes."""
    rows: Rows = {
        "principals": [(p, ",".join(v["roles"]), v.get("public_key"))
                       for p, v in state.principals.items()],
        "api_keys": list(state.api_keys.items()),
        "settings": [("quorum_k", str(state.quorum_k))],
        "proposals": [],
        "approvals": [],
    }
    for pid, fields in state.proposals.items():
        index, digest = state.proposal_entries[pid]
        enacted = state.enacted.get(pid)
        rows["proposals"].append((pid, fields["proposer"], digest, bool(fields["emergency"]),
                                  "open" if enacted is None else "enacted", index, enacted))
        for a, i in zip(state.accepted[pid], state.approval_entries[pid], strict=True):
            rows["approvals"].append((pid, a.approver, a.signature, a.t_utc, i))
    return {t: sorted(r, key=repr) for t, r in rows.items()}


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
