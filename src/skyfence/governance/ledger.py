"""The governance transparency log, stored in the governance database.

Every governance write runs in `Ledger.transaction()`: ONE database transaction that makes the
state change, appends its log entries (table ``log_entries``), stores the Merkle node hashes
(table ``merkle_nodes``, through the hash-store interface of :mod:`skyfence.governance.merkle`),
signs a C2SP checkpoint of the new tree with the log key (table ``checkpoints``) and advances
``log_head``; all of it commits together or not at all.

Entry format
------------
An entry's bytes (the Merkle leaf data) are the canonical JSON (`proposals.canonical_bytes`) of
``{"index", "t_utc", "kind", "actor", "data"}``; ``t_utc`` is the server's clock at append.
Kinds: ``log.created``, ``settings.set``, ``principal.added``, ``principal.roles``,
``apikey.added``, ``owner.set``, ``group.created``, ``terminal.registered``,
``terminals.imported``, ``terminal.status``, ``terminal.groups``, ``proposal.created``,
``approval.added``, ``policy.enacted``.

Semantic check
--------------
`GovernanceChecker` replays entries in order and re-verifies what the Merkle tree cannot: the
proposer's and every approver's Ed25519 signature over the proposal's canonical bytes, that
approvers held the role, were distinct, were not the proposer and approved before expiry, and that
each ``policy.enacted`` lists exactly a valid quorum. It is the ``check_entry`` hook handed to
:func:`skyfence.governance.verify.verify_export`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyfence.errors import GovernanceError
from skyfence.governance import checkpoint, merkle, verify
from skyfence.governance.db import (
    Approval,
    Checkpoint,
    Database,
    LogEntry,
    LogHead,
    MerkleNode,
    Proposal,
    Setting,
)
from skyfence.governance.proposals import (
    ApprovalAttempt,
    canonical_bytes,
    canonical_json,
    iso_utc,
    reject_reason,
    required_approvals,
    verify_signature,
)

__all__ = ["Ledger", "Tx", "SqlHashStore", "GovernanceChecker", "entry_bytes", "DEFAULT_ORIGIN"]

DEFAULT_ORIGIN = "skyfence.example/governance"


def entry_bytes(index: int, t_utc: str, kind: str, actor: str, data: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a log entry (the Merkle leaf data)."""
    return canonical_bytes({"index": index, "t_utc": t_utc, "kind": kind, "actor": actor,
                            "data": dict(data)})


class SqlHashStore:
    """Merkle node hashes in the ``merkle_nodes`` table, inside the caller's session/transaction.

    Keys are ``"<level>/<index>"`` text; a small write-through cache spares repeated reads."""

    def __init__(self, session: Session):
        self.session = session
        self._cache: dict[str, bytes] = {}

    @staticmethod
    def key(level: int, index: int) -> str:
        return f"{int(level)}/{int(index)}"

    def get(self, level: int, index: int) -> bytes | None:
        k = self.key(level, index)
        if k in self._cache:
            return self._cache[k]
        row = self.session.get(MerkleNode, k)
        h = None if row is None else bytes(row.hash)
        if h is not None:
            self._cache[k] = h
        return h

    def put(self, level: int, index: int, value: bytes) -> None:
        k = self.key(level, index)
        self._cache[k] = bytes(value)
        self.session.add(MerkleNode(key=k, hash=bytes(value)))


@dataclass
class Tx:
    """One write transaction: `session` for state changes, `append` for log entries."""

    ledger: Ledger
    session: Session
    now_utc: str
    size: int
    appended: list[int] = field(default_factory=list)
    _tree: Any = None

    def append(self, kind: str, actor: str, data: Mapping[str, Any]) -> int:
        """Append one entry (in this transaction); returns its log index."""
        index = self.size
        body = entry_bytes(index, self.now_utc, kind, actor, data)
        self.session.add(LogEntry(idx=index, t_utc=self.now_utc, kind=kind,
                                  body=body.decode("utf-8")))
        self._tree.append(body)
        self.size += 1
        self.appended.append(index)
        return index


class Ledger:
    """The log over a `Database`, signing checkpoints with `log_key` (an Ed25519 private key)."""

    def __init__(self, db: Database, log_key, *, origin: str | None = None,
                 clock=None):
        self.db = db
        self.log_key = log_key
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        with db.read_session() as s:
            stored = s.get(Setting, "log_origin")
            stored_origin = stored.value if stored is not None else None
        self.origin = stored_origin or origin or DEFAULT_ORIGIN
        self._proof_cache: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        if stored_origin is None:
            with self.transaction() as tx:
                if tx.session.get(Setting, "log_origin") is None:
                    tx.session.add(Setting(key="log_origin", value=self.origin))
                    tx.session.add(Setting(key="quorum_k", value="2"))
                    tx.append("log.created", "system", {
                        "origin": self.origin, "verifier_key": self.verifier_key,
                        "quorum_k": 2})

    # ----------------------------------------------------------------- writes

    @property
    def verifier_key(self) -> str:
        """The log's C2SP note verifier key (``origin+hash+base64``)."""
        return _verifier_key(self.origin, self.log_key)

    def now_utc(self) -> str:
        return iso_utc(self._clock())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction; on success a checkpoint of the new tree is signed and stored."""
        with self.db.write_session() as s:
            head = s.execute(select(LogHead).where(LogHead.id == 1).with_for_update()).scalar_one()
            now = self.now_utc()
            last = s.scalar(select(LogEntry.t_utc).where(LogEntry.idx == head.size - 1))
            if last is not None and last > now:  # keep entry times monotonic
                now = last
            tx = Tx(self, s, now, head.size)
            tx._tree = _open_tree(SqlHashStore(s), head.size)
            yield tx
            if tx.appended:
                root = tx._tree.root()
                note = _sign_checkpoint(self.origin, tx.size, root, self.log_key)
                s.add(Checkpoint(tree_size=tx.size, note=note, t_utc=now))
                head.size = tx.size
                s.flush()

    def set_quorum(self, actor: str, k: int) -> None:
        """Set k (approvals needed). Logged as ``settings.set``."""
        if not isinstance(k, int) or k < 1:
            raise GovernanceError("quorum_k: must be an integer >= 1")
        with self.transaction() as tx:
            s = tx.session
            row = s.get(Setting, "quorum_k")
            if row is None:
                s.add(Setting(key="quorum_k", value=str(k)))
            else:
                row.value = str(k)
            tx.append("settings.set", actor, {"quorum_k": k})

    # ----------------------------------------------------------------- reads

    def size(self, s: Session | None = None) -> int:
        if s is None:
            with self.db.read_session() as s2:
                return self.size(s2)
        return int(s.scalar(select(LogHead.size).where(LogHead.id == 1)) or 0)

    def quorum_k(self, s: Session) -> int:
        row = s.get(Setting, "quorum_k")
        return int(row.value) if row is not None else 2

    def entries(self, s: Session, start: int = 0, end: int | None = None) -> list[dict]:
        """Entries [start, end) as dicts (parsed bodies), by index."""
        q = select(LogEntry).where(LogEntry.idx >= start).order_by(LogEntry.idx)
        if end is not None:
            q = q.where(LogEntry.idx < end)
        return [json.loads(e.body) for e in s.scalars(q)]

    def entry_text(self, s: Session, index: int) -> str | None:
        e = s.get(LogEntry, index)
        return None if e is None else e.body

    def latest_checkpoint(self, s: Session) -> str | None:
        row = s.scalars(select(Checkpoint).order_by(Checkpoint.tree_size.desc()).limit(1)).first()
        return None if row is None else row.note

    def checkpoint_at(self, s: Session, size: int) -> str | None:
        row = s.get(Checkpoint, size)
        return None if row is None else row.note

    def checkpoints(self, s: Session, start: int = 0, limit: int = 1000) -> list[dict]:
        rows = s.scalars(select(Checkpoint).where(Checkpoint.tree_size >= start)
                         .order_by(Checkpoint.tree_size).limit(limit))
        return [{"tree_size": r.tree_size, "t_utc": r.t_utc, "note": r.note} for r in rows]

    def inclusion_proof(self, s: Session, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry `index` in the tree of `size` entries (O(log n))."""
        if not 0 <= index < size <= self.size(s):
            raise GovernanceError(f"no entry {index} in a tree of size {size}")
        key = ("inc", index, size)
        with self._lock:
            hit = self._proof_cache.get(key)
        if hit is None:
            hit = _open_tree(SqlHashStore(s), size).inclusion_proof(index, size)
            with self._lock:
                if len(self._proof_cache) > 4096:
                    self._proof_cache.clear()
                self._proof_cache[key] = hit
        return list(hit)

    def consistency_proof(self, s: Session, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof between tree sizes (O(log n))."""
        if not 0 < old_size <= new_size <= self.size(s):
            raise GovernanceError(f"no consistency proof from size {old_size} to {new_size}")
        return _open_tree(SqlHashStore(s), new_size).consistency_proof(old_size, new_size)

    def root(self, s: Session, size: int) -> bytes:
        return _open_tree(SqlHashStore(s), size).root(size)

    # ----------------------------------------------------------------- export

    def export(self, s: Session | None = None) -> dict:
        """The whole log for offline verification (the format `verify.verify_export` reads), plus
        the approvals and proposals tables so they are checked against the log."""
        if s is None:
            with self.db.read_session() as s2:
                return self.export(s2)
        size = self.size(s)
        texts = [e.body.encode("utf-8") for e in s.scalars(
            select(LogEntry).where(LogEntry.idx < size).order_by(LogEntry.idx))]
        rows = [{"idx": e.idx, "t_utc": e.t_utc, "kind": e.kind}
                for e in s.scalars(select(LogEntry).where(LogEntry.idx < size).order_by(LogEntry.idx))]
        notes = [c["note"] for c in self.checkpoints(s, 0, 10**9) if c["tree_size"] <= size]
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
        return _make_export(self.origin, self.verifier_key, texts, notes, leaf_hashes, extra={
            "entry_columns": rows, "approvals": approvals, "proposals": proposals})


# --------------------------------------------------------------------------- semantic check


class GovernanceChecker:
    """Replays entries and checks their meaning (signatures, roles, quorum); call it per entry in
    index order with the entry's bytes; raises GovernanceError naming the entry on failure."""

    def __init__(self) -> None:
        self.principals: dict[str, dict] = {}
        self.proposals: dict[str, dict] = {}
        self.accepted: dict[str, list[ApprovalAttempt]] = {}
        self.enacted: dict[str, int] = {}
        self.quorum_k = 2
        self.next_index = 0
        self.last_t = ""

    def approver_keys(self) -> dict[str, str]:
        return {p: v["public_key"] for p, v in self.principals.items()
                if "approver" in v["roles"] and v.get("public_key")}

    def __call__(self, index: int, data: bytes) -> None:
        where = f"entry {index}"
        try:
            e = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GovernanceError(f"{where}: not valid JSON: {exc}") from None
        if not isinstance(e, dict) or set(e) != {"index", "t_utc", "kind", "actor", "data"}:
            raise GovernanceError(f"{where}: not a skyfence log entry")
        if canonical_json(e).encode("utf-8") != data:
            raise GovernanceError(f"{where}: not in canonical form")
        if e["index"] != index or index != self.next_index:
            raise GovernanceError(f"{where}: records index {e['index']}")
        if not isinstance(e["t_utc"], str) or e["t_utc"] < self.last_t:
            raise GovernanceError(f"{where}: time goes backwards")
        self.next_index += 1
        self.last_t = e["t_utc"]
        kind, d, actor = e["kind"], e["data"], e["actor"]
        try:
            self._apply(kind, d, actor, e["t_utc"], index)
        except GovernanceError as exc:
            raise GovernanceError(f"{where} ({kind}): {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise GovernanceError(f"{where} ({kind}): malformed data: {exc!r}") from None

    def _apply(self, kind: str, d: dict, actor: str, t_utc: str, index: int) -> None:
        if kind in ("log.created", "settings.set"):
            if "quorum_k" in d:
                self.quorum_k = int(d["quorum_k"])
        elif kind == "principal.added":
            self.principals[d["id"]] = {"roles": list(d["roles"]), "public_key": d.get("public_key")}
        elif kind == "principal.roles":
            self.principals[d["id"]]["roles"] = list(d["roles"])
        elif kind == "proposal.created":
            fields = d["proposal"]
            proposer = fields["proposer"]
            if proposer != actor:
                raise GovernanceError(f"proposer {proposer!r} is not the actor {actor!r}")
            key = self.principals.get(proposer, {}).get("public_key")
            if not verify_signature(key, canonical_bytes(fields), d["signature"]):
                raise GovernanceError(f"bad proposer signature on proposal {fields['id']}")
            if hashlib.sha256(canonical_bytes(fields)).hexdigest() != d["digest"]:
                raise GovernanceError("digest does not match the proposal")
            if fields["id"] in self.proposals:
                raise GovernanceError(f"proposal {fields['id']} proposed twice")
            self.proposals[fields["id"]] = fields
            self.accepted[fields["id"]] = []
        elif kind == "approval.added":
            fields = self.proposals.get(d["proposal_id"])
            if fields is None:
                raise GovernanceError(f"approval of unknown proposal {d['proposal_id']}")
            attempt = ApprovalAttempt(d["approver"], d["signature"], t_utc)
            if d["approver"] != actor:
                raise GovernanceError("approver is not the actor")
            why = reject_reason(fields, attempt, self.approver_keys(),
                                [a.approver for a in self.accepted[d["proposal_id"]]])
            if why:
                raise GovernanceError(f"approval by {d['approver']!r} invalid: {why}")
            self.accepted[d["proposal_id"]].append(attempt)
        elif kind == "policy.enacted":
            pid = d["proposal_id"]
            fields = self.proposals.get(pid)
            if fields is None:
                raise GovernanceError(f"enacts unknown proposal {pid}")
            if pid in self.enacted:
                raise GovernanceError(f"proposal {pid} already enacted at entry {self.enacted[pid]}")
            acc = self.accepted[pid]
            need = required_approvals(self.quorum_k, bool(fields["emergency"]))
            listed = [(a["approver"], a["signature"]) for a in d["approvals"]]
            if listed != [(a.approver, a.signature) for a in acc] or len(acc) < need:
                raise GovernanceError(f"no valid quorum for proposal {pid}: {len(acc)} valid "
                                      f"approval(s), {need} needed")
            if bool(d["emergency"]) != bool(fields["emergency"]):
                raise GovernanceError("emergency flag differs from the proposal")
            from skyfence.governance.proposals import policy_sha256
            if d["policy_sha256"] != policy_sha256(fields):
                raise GovernanceError("policy hash differs from the proposal")
            self.enacted[pid] = index


def check_tables(export: Mapping[str, Any]) -> None:
    """Cross-check the exported approvals/proposals tables and entry columns against the log
    entries; GovernanceError naming the entry (or row) on the first difference."""
    texts = _export_entries(export)
    cols = export.get("entry_columns") or []
    for c in cols:
        i = c.get("idx")
        if not isinstance(i, int) or not 0 <= i < len(texts):
            raise GovernanceError(f"entries table: row with index {i!r} outside the log")
        try:
            e = json.loads(texts[i])
        except ValueError:
            continue  # reported by the entry check
        if e.get("t_utc") != c.get("t_utc") or e.get("kind") != c.get("kind"):
            raise GovernanceError(f"entry {i}: stored columns differ from the entry")
    by_index = {}
    for i, t in enumerate(texts):
        with contextlib.suppress(Exception):
            by_index[i] = json.loads(t)
    for a in export.get("approvals") or []:
        i = a.get("entry_index")
        e = by_index.get(i)
        d = (e or {}).get("data") or {}
        if (e is None or e.get("kind") != "approval.added" or d.get("proposal_id") != a.get("proposal_id")
                or d.get("approver") != a.get("approver") or d.get("signature") != a.get("signature")
                or e.get("t_utc") != a.get("t_utc")):
            raise GovernanceError(f"entry {i}: approval row ({a.get('approver')!r} on "
                                  f"{a.get('proposal_id')!r}) differs from the logged approval")
    for p in export.get("proposals") or []:
        i = p.get("entry_index")
        e = by_index.get(i)
        d = (e or {}).get("data") or {}
        if (e is None or e.get("kind") != "proposal.created"
                or canonical_json(d.get("proposal")) != p.get("canonical")
                or d.get("digest") != p.get("digest")):
            raise GovernanceError(f"entry {i}: proposal row {p.get('id')!r} differs from the "
                                  "logged proposal")


# --------------------------------------------------------------------------- adapter to the Merkle core
# Thin adapter over skyfence.governance.merkle / checkpoint (helper-1's API), so the rest of this
# module does not depend on its exact names.

_leaf_hash = merkle.leaf_hash


def _open_tree(store: SqlHashStore, size: int) -> merkle.MerkleLog:
    return merkle.MerkleLog(store, size)


def _verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    return merkle.inclusion_ok(leaf, index, size, proof, root)


def _verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                        proof: list[bytes]) -> bool:
    return merkle.consistency_ok(old_size, new_size, proof, old_root, new_root)


def _verifier_key(origin: str, private_key) -> str:
    return checkpoint.verifier_key(origin, private_key)


def _sign_checkpoint(origin: str, size: int, root: bytes, private_key) -> str:
    return checkpoint.sign_checkpoint(origin, size, root, private_key)


def _make_export(origin: str, vkey: str, datas: list[bytes], notes: list[str],
                 leaf_hashes: list[bytes], extra: Mapping[str, Any]) -> dict:
    return verify.make_export(origin, vkey, datas, notes, leaf_hashes=leaf_hashes, extra=extra)


def _export_entries(export: Mapping[str, Any]) -> list[bytes]:
    out = []
    for i, e in enumerate(export.get("entries") or []):
        try:
            out.append(verify.export_entry_bytes(e, i)[0])
        except GovernanceError:
            out.append(b"")
    return out


def _vkey_public_hex(vkey: str) -> str:
    """Raw Ed25519 public key (hex) of a C2SP verifier key."""
    from skyfence.governance.keys import public_key_bytes

    return public_key_bytes(checkpoint.parse_verifier_key(vkey).public_key).hex()


def _checkpoint_root(note: str) -> tuple[int, bytes]:
    """(tree size, root hash) of a checkpoint note (GovernanceError if malformed)."""
    cp = checkpoint.parse_checkpoint(note)
    return cp.size, cp.root_hash


def _verify_note(note: str, vkey: str) -> bool:
    try:
        checkpoint.verify_checkpoint(note, vkey)
    except GovernanceError:
        return False
    return True


def verify_governance_export(export: Mapping[str, Any], older_checkpoints: list[str] | None = None,
                             verifier_key: str | None = None) -> list[str]:
    """Verify an export with `verify.verify_export` plus the governance hooks (`GovernanceChecker`
    per entry, `check_tables` on the whole export). Returns the report's notes; raises
    GovernanceError with the first failure (naming the entry) otherwise."""
    rep = verify.verify_export(export, older_checkpoints=older_checkpoints or [],
                               check_entry=GovernanceChecker(), check_export=check_tables,
                               verifier_key=verifier_key, raise_on_error=True)
    return [f"{rep.entries} entries verified", f"{rep.checkpoints} checkpoints verified",
            f"{rep.older_checkpoints} older checkpoint(s) consistent", *rep.notes]


def export_sqlite_file(path: str) -> dict:
    """Export the log straight from a SQLite file, read-only and byte-faithful: text that is not
    valid UTF-8 (a tampered byte) is kept with surrogate escapes so verification names the row
    instead of failing to read it. The checkpoint's own origin/key come from entry 0."""
    import sqlite3
    from pathlib import Path

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
    return _make_export(origin[0] if origin else DEFAULT_ORIGIN, vkey, datas, notes,
                        [leaf_by_index.get(i, b"") for i in range(size)], extra={
        "entry_columns": [{"idx": r[0], "t_utc": r[1], "kind": r[2]} for r in rows],
        "approvals": approvals, "proposals": proposals})


# --------------------------------------------------------------------------- replay


def policy_timeline(export: Mapping[str, Any]) -> list[dict]:
    """Every policy set enacted in an export, in log order: dicts with ``log_index``,
    ``enacted_utc``, ``in_force_from_utc``, ``proposal_id``, ``policy_sha256``, ``emergency``,
    ``cedar`` and ``regions``. Verify the export first (`verify_governance_export`)."""
    from skyfence.governance.proposals import policy_sha256

    proposals: dict[str, dict] = {}
    out = []
    for i, data in enumerate(_export_entries(export)):
        e = json.loads(data)
        if e["kind"] == "proposal.created":
            proposals[e["data"]["proposal"]["id"]] = e["data"]["proposal"]
        elif e["kind"] == "policy.enacted":
            f = proposals[e["data"]["proposal_id"]]
            out.append({"log_index": i, "enacted_utc": e["t_utc"],
                        "in_force_from_utc": max(e["t_utc"], f["effective_utc"]),
                        "proposal_id": f["id"], "policy_sha256": policy_sha256(f),
                        "emergency": bool(f["emergency"]), "cedar": f["cedar"],
                        "regions": f["regions"]})
    return out


def load_policy_timeline(source: str, *, verify_log: bool = True,
                         verifier_key: str | None = None) -> list[dict]:
    """`policy_timeline` of a log given as an export file, a SQLite database or a server URL
    (``<url>/log/export``), verified first unless `verify_log` is False. For ``skyfence run`` to
    replay the policy in force at each step (see `policy_at_time`)."""
    from pathlib import Path

    if source.startswith(("http://", "https://")):
        import httpx

        try:
            r = httpx.get(source.rstrip("/") + "/log/export", timeout=120)
            r.raise_for_status()
            export = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise GovernanceError(f"{source}: cannot fetch the log: {exc}") from None
    else:
        p = Path(source)
        try:
            head = p.open("rb").read(16)
        except OSError as exc:
            raise GovernanceError(f"{source}: {exc.strerror}") from None
        export = export_sqlite_file(str(p)) if head == b"SQLite format 3\x00" else verify.load_export(p)
    if verify_log:
        verify_governance_export(export, verifier_key=verifier_key)
    return policy_timeline(export)


def policy_at_time(timeline: list[dict], at_utc) -> dict | None:
    """The timeline's policy set in force at `at_utc` (greatest log index already in force), or
    None before any (then everything covered is served)."""
    from skyfence.governance.proposals import iso_utc

    at = iso_utc(at_utc)
    best = None
    for p in timeline:
        if p["in_force_from_utc"] <= at and (best is None or p["log_index"] > best["log_index"]):
            best = p
    return best
