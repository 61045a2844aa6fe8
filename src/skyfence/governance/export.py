"""Exports of the governance log for offline verification: from a `Ledger` (any database, through
SQLAlchemy) or straight from a SQLite file (read-only, byte-faithful, for auditing a copy of the
database). Both add the entry columns and the approvals and proposals tables to the export, so
that `skyfence.governance.audit.check_tables` compares them with the log."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from skyfence.errors import GovernanceError
from skyfence.governance.db import Approval, LogEntry, MerkleNode, Proposal
from skyfence.governance.ledger import DEFAULT_ORIGIN, Ledger
from skyfence.governance.log.export import make_export
from skyfence.governance.state import table_rows

__all__ = ["export_ledger", "export_sqlite_file", "is_sqlite_file"]

SQLITE_MAGIC = b"SQLite format 3\x00"


def is_sqlite_file(path: str | Path) -> bool:
    """True iff `path` is a readable file that starts with the SQLite header."""
    try:
        with Path(path).open("rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def export_ledger(ledger: Ledger, s: Session | None = None) -> dict:
    """The whole log for offline verification (the format of
    :mod:`skyfence.governance.log.export`), plus the entry columns and the approvals and proposals
    tables so that they are checked against the log (`skyfence.governance.audit.check_tables`)."""
    if s is None:
        with ledger.db.read_session() as s2:
            return export_ledger(ledger, s2)
    size = ledger.size(s)
    texts = [e.body.encode("utf-8") for e in s.scalars(
        select(LogEntry).where(LogEntry.idx < size).order_by(LogEntry.idx))]
    rows = [{"idx": e.idx, "t_utc": e.t_utc, "kind": e.kind}
            for e in s.scalars(select(LogEntry).where(LogEntry.idx < size).order_by(LogEntry.idx))]
    notes = [c["note"] for c in ledger.checkpoints(s, 0, 10**9) if c["tree_size"] <= size]
    approvals = [{"proposal_id": a.proposal_id, "approver": a.approver,
                  "signature": a.signature, "t_utc": a.t_utc, "entry_index": a.entry_index}
                 for a in s.scalars(select(Approval).order_by(Approval.entry_index))]
    proposals = [{"id": p.id, "canonical": p.canonical, "digest": p.digest,
                  "entry_index": p.entry_index, "enacted_index": p.enacted_index}
                 for p in s.scalars(select(Proposal).order_by(Proposal.entry_index))]
    leaf_rows = s.execute(select(MerkleNode.key, MerkleNode.hash).where(
        MerkleNode.key.like("0/%"))).all()
    leaf_by_index = {int(k.split("/", 1)[1]): bytes(h) for k, h in leaf_rows}
    leaf_hashes = [leaf_by_index.get(i, b"") for i in range(size)]
    return make_export(ledger.origin, ledger.verifier_key, texts, notes, leaf_hashes=leaf_hashes, extra={
        "entry_columns": rows, "approvals": approvals, "proposals": proposals,
        "tables": table_rows(lambda q: s.execute(text(q)).all())})


def export_sqlite_file(path: str) -> dict:
    """Export the log straight from a SQLite file, read-only and byte-faithful: text that is not
    valid UTF-8 (a tampered byte) is kept with surrogate escapes so verification names the row
    instead of failing to read it. The checkpoint's own origin/key come from entry 0."""
    p = Path(path)
    if not p.is_file():
        raise GovernanceError(f"no such database file: {p}")
    conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    conn.text_factory = lambda b: b.decode("utf-8", errors="surrogateescape")
    try:
        size = conn.execute("SELECT size FROM log_head WHERE id = 1").fetchone()[0]
        rows = conn.execute("SELECT idx, t_utc, kind, body FROM log_entries WHERE idx < ? "
                            "ORDER BY idx", (size,)).fetchall()
        notes = [r[0] for r in conn.execute(
            "SELECT note FROM checkpoints WHERE tree_size <= ? ORDER BY tree_size", (size,))]
        approvals = [{"proposal_id": r[0], "approver": r[1], "signature": r[2], "t_utc": r[3],
                      "entry_index": r[4]} for r in conn.execute(
            "SELECT proposal_id, approver, signature, t_utc, entry_index FROM approvals ORDER BY id")]
        proposals = [{"id": r[0], "canonical": r[1], "digest": r[2], "entry_index": r[3],
                      "enacted_index": r[4]} for r in conn.execute(
            "SELECT id, canonical, digest, entry_index, enacted_index FROM proposals "
            "ORDER BY entry_index")]
        leaf_by_index = {}
        for key, h in conn.execute("SELECT key, hash FROM merkle_nodes WHERE key LIKE '0/%'"):
            with contextlib.suppress(ValueError):
                leaf_by_index[int(str(key).split("/", 1)[1])] = bytes(h)
        origin = conn.execute("SELECT value FROM settings WHERE key = 'log_origin'").fetchone()
        tables = table_rows(lambda q: conn.execute(q).fetchall())
    except sqlite3.DatabaseError as exc:
        raise GovernanceError(f"{p}: not a readable skyfence governance database: {exc}") from None
    finally:
        conn.close()
    if [r[0] for r in rows] != list(range(size)):
        raise GovernanceError(f"{p}: log entries are missing or renumbered (head says {size})")
    datas = [str(r[3]).encode("utf-8", errors="surrogateescape") for r in rows]
    try:
        vkey = json.loads(datas[0])["data"]["verifier_key"]
    except (IndexError, ValueError, KeyError, TypeError):
        raise GovernanceError("entry 0: unreadable (cannot find the log's key)") from None
    return make_export(origin[0] if origin else DEFAULT_ORIGIN, vkey, datas, notes,
                       leaf_hashes=[leaf_by_index.get(i, b"") for i in range(size)], extra={
        "entry_columns": [{"idx": r[0], "t_utc": r[1], "kind": r[2]} for r in rows],
        "approvals": approvals, "proposals": proposals, "tables": tables})
