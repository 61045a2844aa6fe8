"""The governance transparency log stored in the governance database, and its write transactions.

Every governance write runs in `Ledger.transaction()`: ONE database transaction that makes the
state change, appends its log entries (table ``log_entries``; format and kinds in
:mod:`skyfence.governance.rules.entries`), stores the Merkle node hashes (table
``merkle_nodes``, through `SqlHashStore`, the database adapter of
:class:`skyfence.governance.log.tree.HashStore`), signs a C2SP checkpoint of the new tree with the
log key (table ``checkpoints``) and advances ``log_head``; all of it commits together or not at
all.

A log begins with its genesis (`Ledger.genesis`: the founders, their roles and the quorums,
signed by every founder); before it, a ledger over an empty database decides nothing. What is in
force is read from the log, never from a table: `Ledger.state` is the
:class:`~skyfence.governance.rules.entries.LogState` of the log's entries, every entry checked
by its kind's rules (signatures, quorums) as it is read, so an entry the holder of the log key
appends without a quorum is refused, not applied (kept per log size and extended by the entries
appended since), and before returning it compares the tables the server acts on with it
(:mod:`skyfence.governance.state`); a table that disagrees raises `StateMismatchError` and
nothing is decided. A ledger signs checkpoints only with the key the log names (the genesis' or
the latest ``log_key`` membership change).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from skyfence.errors import (
    CheckpointError,
    ConflictError,
    GovernanceError,
    InvalidError,
    RefusedError,
)
from skyfence.governance.db import (
    ApiKey,
    Checkpoint,
    Database,
    LogEntry,
    LogHead,
    MerkleNode,
    Principal,
    Setting,
    WitnessedCheckpoint,
)
from skyfence.governance.log.checkpoint import (
    parse_checkpoint,
    parse_note,
    sign_checkpoint,
    sign_note,
    verifier_key,
    verify_checkpoint,
)
from skyfence.governance.log.tree import MerkleLog
from skyfence.governance.rules.canonical import iso_utc
from skyfence.governance.rules.entries import (
    LogState,
    check_entry,
    entry_bytes,
    entry_kind,
)
from skyfence.governance.rules.membership import genesis_message, validate_genesis
from skyfence.governance.rules.proposal import verify_signature
from skyfence.governance.state import (
    STATE_TABLES,
    StateMismatchError,
    disagreements,
    expected_rows,
    table_rows,
)

__all__ = ["Ledger", "Tx", "SqlHashStore", "DEFAULT_ORIGIN"]

_log = logging.getLogger(__name__)


def _signed_by(note: str, vkey: str) -> bool:
    try:
        verify_checkpoint(note, vkey)
    except CheckpointError:
        return False
    return True

DEFAULT_ORIGIN = "skyfence.example/governance"


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
    rotated: bool = False
    _tree: MerkleLog | None = None

    def append(self, kind: str, actor: str, data: Mapping[str, Any]) -> int:
        """Append one entry (in this transaction) of a registered kind; returns its log index.
        A rotation of the log's key is the last entry of its transaction (the checkpoint that
        holds it is signed by the old key, the next one by the new: `skyfence.governance.logkeys`);
        `GovernanceError` for an entry after it."""
        entry_kind(kind)
        if self.rotated:
            raise GovernanceError("a rotation of the log's key ends its transaction: no entry "
                                  "may follow it before the checkpoint")
        self.rotated = kind == "membership.enacted" and any(
            isinstance(c, Mapping) and c.get("op") == "log_key" for c in data.get("changes") or ())
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
        self._proof_cache: dict[tuple, list[bytes]] = {}
        self._states: dict[int, LogState] = {}
        self._memo: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self.on_grow: list[Callable[[int], None]] = []
        """Called with the new tree size after each committed write that grew the log (e.g.
        :class:`skyfence.governance.witness.background.WitnessCosigner.notify`); must not block."""

    # ----------------------------------------------------------------- writes

    def memo(self, key: tuple, make):
        """`make()` computed once per `key` for this log. Keys must include the tree size: the
        log is append-only, so a value derived from its first `size` entries never changes."""
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = make()
        with self._lock:
            if len(self._memo) > 20_000:
                self._memo.clear()
            self._memo[key] = value
        return value

    @property
    def verifier_key(self) -> str:
        """The log's C2SP note verifier key (``origin+hash+base64``)."""
        return verifier_key(self.origin, self.log_key)

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
            tx._tree = MerkleLog(SqlHashStore(s), head.size)
            named = self.log_state(s, head.size).log_key if head.size else self.verifier_key
            if named != self.verifier_key:
                raise RefusedError(f"the log's key is {named}, not this server's "
                                   f"{self.verifier_key}: restart with the log's key")
            yield tx
            if tx.appended:
                root = tx._tree.root()
                note = sign_checkpoint(self.origin, tx.size, root, self.log_key)
                s.add(Checkpoint(tree_size=tx.size, note=note, t_utc=now))
                head.size = tx.size
                s.flush()
        if tx.appended:
            for listener in list(self.on_grow):
                try:
                    listener(tx.size)
                except Exception:  # noqa: BLE001 -- a listener never undoes a committed write
                    _log.exception("listener of the log's growth failed")

    def start(self) -> None:
        """Check, before serving, that this ledger holds the key the log names now (its genesis'
        or its latest ``log_key`` rotation); `GovernanceError` otherwise. If the newest entry
        rotated the key to this ledger's, its checkpoint (signed by the old key) gets this key's
        signature too, here and on its witnessed note, so that receipts and witnesses find the
        newest checkpoint under the key in force; the old signature stays."""
        with self.db.read_session() as s:
            size = self.size(s)
            if not size:
                return
            named = self.log_state(s, size).log_key
            if named != self.verifier_key:
                raise GovernanceError(f"the log key does not match this log: its entries name "
                                      f"{named}, this key is {self.verifier_key}")
            note = self.checkpoint_at(s, size)
            if note is None or _signed_by(note, self.verifier_key):
                return
        with self.db.write_session() as s:
            row = s.get(Checkpoint, size)
            if row is None or self.size(s) != size or _signed_by(row.note, self.verifier_key):
                return  # another process signed it, or the log grew under this key meanwhile
            cp = parse_checkpoint(row.note)
            if cp.origin != self.origin or cp.root_hash != MerkleLog(SqlHashStore(s), size).root():
                raise StateMismatchError(f"the checkpoint of size {size} is not this log's: "
                                         "refusing to sign it")
            body, _ = parse_note(row.note)
            line = sign_note(body, [(self.origin, self.log_key)])[len(body) + 1:]
            old, row.note = row.note, row.note + line
            w = s.get(WitnessedCheckpoint, size)
            if w is not None and w.note.startswith(old):
                w.note = row.note + w.note[len(old):]

    def genesis(self, doc: Mapping[str, Any], signatures: Mapping[str, str]) -> int:
        """Start the log with its genesis entry: `doc` (see
        :mod:`skyfence.governance.rules.membership`) signed by every founder (`signatures`:
        founder id -> hex). Writes the founders, their API keys and the quorums to the tables.
        `ConflictError` if the log has begun; `RefusedError` for a missing or bad signature or a
        document naming another origin or log key."""
        doc = validate_genesis(doc)
        if doc["origin"] != self.origin or doc["verifier_key"] != self.verifier_key:
            raise RefusedError("the genesis names another log (origin or verifier key differ "
                               f"from {self.verifier_key})")
        msg = genesis_message(doc)
        for p in doc["principals"]:
            if not verify_signature(p["public_key"], msg, signatures.get(p["id"], "")):
                raise RefusedError(f"founder {p['id']!r}: no valid signature of the genesis")
        extra = sorted(set(signatures) - {p["id"] for p in doc["principals"]})
        if extra:
            raise InvalidError(f"signatures of principals the genesis does not name: {extra}")
        with self.transaction() as tx:
            if tx.size:
                raise ConflictError("this log has begun already: a genesis is its first entry")
            s = tx.session
            s.merge(Setting(key="log_origin", value=self.origin))
            q = doc["quorum"]
            for key, value in (("quorum_k", q["policy"]), ("membership_k", q["membership"]),
                               ("emergency_k", q["emergency"])):
                s.merge(Setting(key=key, value=str(value)))
            for p in doc["principals"]:
                s.add(Principal(id=p["id"], roles=",".join(p["roles"]),
                                public_key=p["public_key"], created_utc=tx.now_utc))
            s.flush()
            for p in doc["principals"]:
                for h in p["api_keys"]:
                    s.add(ApiKey(key_sha256=h, principal_id=p["id"], created_utc=tx.now_utc))
            return tx.append("genesis", "genesis", {**doc, "signatures": dict(signatures)})

    # ----------------------------------------------------------------- reads

    def size(self, s: Session | None = None) -> int:
        if s is None:
            with self.db.read_session() as s2:
                return self.size(s2)
        return int(s.scalar(select(LogHead.size).where(LogHead.id == 1)) or 0)

    def quorum_k(self, s: Session) -> int:
        """The policy quorum the log establishes (`state`: the settings table is checked)."""
        return self.state(s).quorum_k

    def log_state(self, s: Session, size: int | None = None) -> LogState:
        """What the first `size` entries (default the whole log) establish, every entry checked by
        its kind's rules (`check_entry`): an entry that breaks them (e.g. an enactment without a
        quorum that the holder of the log key appended) is a `StateMismatchError` naming it.
        Built from the nearest smaller size already built, so each entry is checked once; the
        result must not be modified."""
        size = self.size(s) if size is None else size
        with self._lock:
            hit = self._states.get(size)
            base = max((k for k in self._states if k < size), default=None)
            start = self._states[base] if base is not None else None
        if hit is not None:
            return hit
        state = LogState() if start is None else start.copy()
        first = 0 if base is None else base
        q = select(LogEntry.idx, LogEntry.body).where(LogEntry.idx >= first, LogEntry.idx < size)
        try:
            for idx, body in s.execute(q.order_by(LogEntry.idx)):
                check_entry(state, idx, body.encode("utf-8"))
        except GovernanceError as exc:
            raise StateMismatchError(f"the log breaks its rules, refusing to act: {exc}") from None
        if state.size != size:
            raise StateMismatchError(f"the log has {state.size} entries, its head says {size}")
        with self._lock:
            self._states[size] = state
            while len(self._states) > 8:
                del self._states[min(self._states)]
        return state

    def state(self, s: Session) -> LogState:
        """The log's state (`log_state`) after checking that the tables the server acts on agree
        with it; `StateMismatchError` naming the rows that differ otherwise."""
        size = self.size(s)
        st = self.log_state(s, size)
        want = self.memo(("expected-rows", size), lambda: expected_rows(st, STATE_TABLES))
        have = table_rows(lambda q: s.execute(text(q)).all(), STATE_TABLES)
        if have != want:
            why = disagreements(want, have)
            raise StateMismatchError("the database's tables disagree with its log, refusing to "
                                     "act: " + "; ".join(why or ["row order or types differ"]))
        return st

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
            hit = MerkleLog(SqlHashStore(s), size).inclusion_proof(index, size)
            with self._lock:
                if len(self._proof_cache) > 4096:
                    self._proof_cache.clear()
                self._proof_cache[key] = hit
        return list(hit)

    def consistency_proof(self, s: Session, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof between tree sizes (O(log n))."""
        if not 0 < old_size <= new_size <= self.size(s):
            raise GovernanceError(f"no consistency proof from size {old_size} to {new_size}")
        return MerkleLog(SqlHashStore(s), new_size).consistency_proof(old_size, new_size)

    def root(self, s: Session, size: int) -> bytes:
        return MerkleLog(SqlHashStore(s), size).root(size)
