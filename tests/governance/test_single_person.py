"""No single person, not even the administrator, puts anything in force alone.

The attacker is ``mallory``: an approver and operator who also runs the server, so holds its
database (any SQL) and the log's signing key. alice, bob and carol are honest approvers who never
act here. Over random sequences of mallory's actions -- proposing policies (emergency or not),
approving her own proposals, proposing membership changes that would give her a second principal
(her own key again, or a new key of hers) or lower a quorum, approving as that second principal,
editing the database's tables directly (principals, quorum settings, proposals' status and
enactment index, approvals rows, a terminal's status) and appending entries signed with the
log's key -- no policy and no membership change is ever in force, the server refuses to act on
an edited table, and ``skyfence verify`` (`verify_log` on the export, `verify_command` on the
database file) reports every direct edit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from sqlalchemy import text

from skyfence.errors import GovernanceError
from skyfence.governance import policies, registry
from skyfence.governance.audit import verify_command, verify_log
from skyfence.governance.db import Database, init_db
from skyfence.governance.export import export_ledger
from skyfence.governance.ledger import Ledger
from skyfence.governance.rules.proposal import (
    make_membership_proposal,
    make_proposal,
    policy_sha256,
    sign_proposal,
)
from skyfence.governance.state import StateMismatchError
from tests.governance.fixtures import found_log, pub_hex

POLICY = '@id("deny-all")\nforbid(principal, action, resource);'
HONEST = ("alice", "bob", "carol")

EDITS = ("insert_approver", "quorum_k", "membership_k", "enact_status", "approval_row",
         "steal_key", "terminal_status", "roles")
FORGERIES = ("policy_enacted", "approval_by_alice", "membership_enacted", "second_genesis")
ACTIONS = st.one_of(
    st.tuples(st.just("propose"), st.booleans()),
    st.tuples(st.just("approve_own"), st.just(None)),
    st.tuples(st.just("membership"), st.sampled_from(["same_key", "new_key", "quorum_1"])),
    st.tuples(st.just("approve_as_alt"), st.just(None)),
    st.tuples(st.just("edit"), st.sampled_from(EDITS)),
    st.tuples(st.just("forge"), st.sampled_from(FORGERIES)),
)


class World:
    """A copy of the template database, its ledger (with the log key mallory holds) and what
    mallory has done."""

    def __init__(self, path: Path, log_key, keys):
        self.path = path
        self.db = Database(f"sqlite:///{path}")
        self.ledger = Ledger(self.db, log_key)
        self.keys = keys
        self.spare = Ed25519PrivateKey.generate()  # a new key of mallory's, never logged
        self.open: list[dict] = []
        self.alts: list[str] = []
        self.forged = False

    def sql(self, statement: str, **params) -> int:
        with self.db.engine.begin() as conn:
            return conn.execute(text(statement), params).rowcount

    def refused(self, call) -> None:
        """`call` must be refused (a GovernanceError: refusal, conflict, or table mismatch)."""
        with pytest.raises(GovernanceError):
            call()

    def state_or_none(self):
        with self.db.read_session() as s:
            try:
                return self.ledger.state(s)
            except StateMismatchError:
                return None


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A log whose genesis names mallory (approver, operator) and alice, bob, carol (approvers);
    k = 2, m = 2, emergency 1; one suspended terminal."""
    base = tmp_path_factory.mktemp("single-person")
    keys = {n: Ed25519PrivateKey.generate() for n in ("mallory", *HONEST)}
    log_key = Ed25519PrivateKey.generate()
    db = init_db(f"sqlite:///{base / 'template.db'}")
    ledger = Ledger(db, log_key)
    founders = {n: (["approver"], keys[n]) for n in HONEST}
    founders["mallory"] = (["approver", "operator"], keys["mallory"])
    genesis = found_log(ledger, founders, quorum_k=2, membership_k=2)
    registry.register_terminal(ledger, "mallory", "t1", 50.45, 30.52, status="suspended")
    db.dispose()
    return base, log_key, keys, genesis


def _copy(template, n: int) -> World:
    base, log_key, keys, _ = template
    dst = base / f"run{n}.db"
    for suffix in ("", "-wal", "-shm"):
        src = base / f"template.db{suffix}"
        if src.exists():
            shutil.copyfile(src, f"{dst}{suffix}")
    return World(dst, log_key, keys)


def _propose(w: World, emergency: bool) -> None:
    f = make_proposal("mallory", POLICY, justification="mine", emergency=emergency,
                      created_utc=w.ledger.now_utc())
    policies.submit_proposal(w.ledger, "mallory", f, sign_proposal(w.keys["mallory"], f))
    w.open.append(f)


def _membership(w: World, how: str) -> None:
    if how == "quorum_1":
        changes = [{"op": "quorum", "policy": 1, "membership": 1, "emergency": 1}]
    else:
        key = w.keys["mallory"] if how == "same_key" else w.spare
        alt = f"mallory-alt{len(w.alts)}"
        changes = [{"op": "add", "id": alt, "roles": ["approver"], "public_key": pub_hex(key),
                    "api_keys": []}]
    f = make_membership_proposal("mallory", changes, justification="mine",
                                 created_utc=w.ledger.now_utc())
    submit = lambda: policies.submit_proposal(  # noqa: E731
        w.ledger, "mallory", f, sign_proposal(w.keys["mallory"], f))
    if how == "same_key":
        w.refused(submit)  # one key, one principal
        return
    submit()
    w.open.append(f)
    if how == "new_key":
        w.alts.append(changes[0]["id"])


def _approve_own(w: World) -> None:
    for f in w.open:
        w.refused(lambda f=f: policies.submit_approval(
            w.ledger, "mallory", f["id"], sign_proposal(w.keys["mallory"], f)))


def _approve_as_alt(w: World) -> None:
    for alt in w.alts or ["mallory-alt0"]:
        for f in w.open:
            w.refused(lambda f=f, alt=alt: policies.submit_approval(
                w.ledger, alt, f["id"], sign_proposal(w.spare, f)))


def _edit(w: World, what: str) -> None:
    """Edit a table directly; the server must refuse and verify must report it; then undo."""
    pid = w.open[-1]["id"] if w.open else None
    if what == "insert_approver":
        do = ("INSERT INTO principals (id, roles, public_key, created_utc) VALUES "
              "('sock', 'approver', :k, '2026-01-01T00:00:00Z')", {"k": pub_hex(w.spare)})
        undo = ("DELETE FROM principals WHERE id = 'sock'", {})
    elif what in ("quorum_k", "membership_k"):
        do = (f"UPDATE settings SET value = '1' WHERE key = '{what}'", {})
        undo = (f"UPDATE settings SET value = '2' WHERE key = '{what}'", {})
    elif what == "enact_status" and pid:
        do = ("UPDATE proposals SET status = 'enacted', enacted_index = entry_index "
              "WHERE id = :p", {"p": pid})
        undo = ("UPDATE proposals SET status = 'open', enacted_index = NULL WHERE id = :p",
                {"p": pid})
    elif what == "approval_row" and pid:
        do = ("INSERT INTO approvals (proposal_id, approver, signature, t_utc, entry_index) "
              "VALUES (:p, 'alice', :sig, '2026-01-01T00:00:00Z', 0)",
              {"p": pid, "sig": sign_proposal(w.spare, w.open[-1])})
        undo = ("DELETE FROM approvals WHERE proposal_id = :p AND approver = 'alice'", {"p": pid})
    elif what == "steal_key":
        do = ("UPDATE principals SET public_key = :k WHERE id = 'alice'", {"k": pub_hex(w.spare)})
        undo = ("UPDATE principals SET public_key = :k WHERE id = 'alice'",
                {"k": pub_hex(w.keys["alice"])})
    elif what == "terminal_status":
        do = ("UPDATE terminals SET status = 'active' WHERE id = 't1'", {})
        undo = ("UPDATE terminals SET status = 'suspended' WHERE id = 't1'", {})
    elif what == "roles":
        do = ("UPDATE principals SET roles = 'approver,operator' WHERE id = 'alice'", {})
        undo = ("UPDATE principals SET roles = 'approver' WHERE id = 'alice'", {})
    else:
        return
    assert w.sql(do[0], **do[1]) == 1
    _reported(w, what)
    w.sql(undo[0], **undo[1])
    assert w.state_or_none() is not None


def _reported(w: World, what: str) -> None:
    """The server refuses to act on the edited table and verify reports the edit."""
    if what == "terminal_status":  # the registry: checked row by row before acting
        with w.db.read_session() as s, pytest.raises(StateMismatchError):
            registry.get_terminal(s, "t1", w.ledger.log_state(s))
        w.refused(lambda: registry.set_terminal_status(w.ledger, "mallory", "t1", "active"))
    else:
        assert w.state_or_none() is None, f"edit {what} not refused"
        if w.open:
            f = w.open[-1]
            with pytest.raises(StateMismatchError):
                policies.submit_approval(w.ledger, "alice", f["id"],
                                         sign_proposal(w.keys["alice"], f))
    with pytest.raises(GovernanceError, match="disagree with its log|differs from the logged"):
        verify_log(export_ledger(w.ledger))
    with pytest.raises(GovernanceError):
        verify_command(str(w.path), console=Console(quiet=True))


def _forge(w: World, what: str) -> None:
    """Append an entry signed (checkpoint) with the log key, bypassing every rule."""
    f = w.open[-1] if w.open else None
    forged_sig = sign_proposal(w.spare, f) if f else "00" * 64
    if what == "policy_enacted" and f and "cedar" in f:
        kind, data = "policy.enacted", {
            "proposal_id": f["id"], "digest": "00" * 32, "policy_sha256": policy_sha256(f),
            "emergency": f["emergency"], "effective_utc": f["effective_utc"],
            "approvals": [{"approver": "alice", "signature": forged_sig, "entry_index": 0}]}
    elif what == "approval_by_alice" and f:
        kind, data = "approval.added", {"proposal_id": f["id"], "approver": "alice",
                                        "signature": forged_sig}
    elif what == "membership_enacted":
        kind, data = "membership.enacted", {
            "proposal_id": f["id"] if f else "00" * 16, "digest": "00" * 32,
            "changes": [{"op": "quorum", "policy": 1, "membership": 1, "emergency": 1}],
            "approvals": []}
    elif what == "second_genesis":
        kind, data = "genesis", {"signatures": {}}
    else:
        return
    with w.ledger.transaction() as tx:
        tx.append(kind, "alice", data)
    w.forged = True
    assert w.state_or_none() is None  # the server refuses a log that breaks its rules
    with pytest.raises(GovernanceError):
        verify_log(export_ledger(w.ledger))


RUNS = iter(range(10**6))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(actions=st.lists(ACTIONS, min_size=1, max_size=8))
def test_one_person_never_puts_anything_in_force(template, actions):
    w = _copy(template, next(RUNS))
    genesis = template[3]
    try:
        for name, arg in actions:
            if w.forged:
                break
            if name == "propose":
                _propose(w, arg)
            elif name == "approve_own":
                _approve_own(w)
            elif name == "membership":
                _membership(w, arg)
            elif name == "approve_as_alt":
                _approve_as_alt(w)
            elif name == "edit":
                _edit(w, arg)
            else:
                _forge(w, arg)
        st_ = w.state_or_none()
        assert (st_ is None) == w.forged
        if st_ is not None:
            assert st_.enactments == [] and st_.enacted == {}
            assert {p: v["public_key"] for p, v in st_.principals.items()} == {
                p["id"]: p["public_key"] for p in genesis["principals"]}
            assert (st_.quorum_k, st_.membership_k, st_.emergency_k) == (2, 2, 1)
            assert st_.terminals["t1"][3] == "suspended"
            with w.db.read_session() as s:
                assert policies.policy_at(w.ledger, s, "2100-01-01T00:00:00Z") is None
            verify_log(export_ledger(w.ledger))
        else:
            with pytest.raises(GovernanceError):
                verify_log(export_ledger(w.ledger))
    finally:
        w.db.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{w.path}{suffix}").unlink(missing_ok=True)
