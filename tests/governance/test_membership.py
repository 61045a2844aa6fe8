"""Genesis and membership under quorum: the log's first entry names the founders and is signed by
every one of them; every later membership change is a proposal enacted by the membership quorum."""

from __future__ import annotations

import json
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skyfence.errors import ConflictError, GovernanceError, InvalidError, RefusedError
from skyfence.governance import policies, registry
from skyfence.governance.audit import verify_log
from skyfence.governance.db import init_db
from skyfence.governance.export import export_ledger
from skyfence.governance.ledger import Ledger
from skyfence.governance.rules.canonical import canonical_json
from skyfence.governance.rules.entries import EntryChecker
from skyfence.governance.rules.membership import genesis_message, make_genesis
from skyfence.governance.rules.proposal import make_membership_proposal, sign_proposal
from skyfence.governance.state import StateMismatchError
from tests.governance.fixtures import enact_membership, found_log, pub_hex

NAMES = ("ann", "ben", "cat", "dan")


def _ledger(url: str):
    L = Ledger(init_db(url), Ed25519PrivateKey.generate(), origin="test.skyfence/m")
    keys = {n: Ed25519PrivateKey.generate() for n in NAMES}
    return L, keys


def _state(L):
    with L.db.read_session() as s:
        return L.state(s)


def test_genesis_needs_every_founder_and_comes_once(gov_url):
    L, keys = _ledger(gov_url)
    doc = make_genesis(L.origin, L.verifier_key, [
        {"id": n, "roles": ["approver"], "public_key": pub_hex(keys[n])} for n in NAMES],
        quorum=2, membership_quorum=3)
    sigs = {n: keys[n].sign(genesis_message(doc)).hex() for n in NAMES}
    with pytest.raises(RefusedError, match="'dan': no valid signature"):
        L.genesis(doc, {n: sigs[n] for n in NAMES[:3]})
    with pytest.raises(RefusedError, match="'dan'"):
        L.genesis(doc, {**sigs, "dan": sigs["ann"]})
    with pytest.raises(RefusedError, match="another log"):
        L.genesis({**doc, "verifier_key": "other+00000000+AAAA"}, sigs)
    with pytest.raises(InvalidError, match="fewer than"):
        make_genesis(L.origin, L.verifier_key, [
            {"id": "ann", "roles": ["approver"], "public_key": pub_hex(keys["ann"])}], quorum=2)
    with L.db.read_session() as s:  # nothing is decided before a genesis
        assert L.state(s).principals == {}
    assert L.genesis(doc, sigs) == 0
    with pytest.raises(ConflictError, match="has begun"):
        L.genesis(doc, sigs)
    st = _state(L)
    assert (st.quorum_k, st.membership_k, st.emergency_k) == (2, 3, 1)
    assert st.log_key == L.verifier_key and set(st.principals) == set(NAMES)
    verify_log(export_ledger(L))


def test_checker_refuses_a_bad_genesis_and_a_log_without_one():
    key = Ed25519PrivateKey.generate()
    doc = make_genesis("o", "o+00000000+AAAA", [
        {"id": "ann", "roles": ["approver"], "public_key": pub_hex(key)}], quorum=1)

    def entry(kind: str, data: dict) -> bytes:
        return canonical_json({"index": 0, "t_utc": "2026-01-01T00:00:00.000000Z", "kind": kind,
                               "actor": "genesis", "data": data}).encode()

    with pytest.raises(GovernanceError, match="bad genesis signature of 'ann'"):
        EntryChecker()(0, entry("genesis", {**doc, "signatures": {"ann": "00" * 64}}))
    with pytest.raises(GovernanceError, match="one signature per founder"):
        EntryChecker()(0, entry("genesis", {**doc, "signatures": {}}))
    with pytest.raises(GovernanceError, match="first entry, and only it"):
        EntryChecker()(0, entry("group.created", {"group": "g", "description": ""}))
    EntryChecker()(0, entry("genesis", {**doc, "signatures": {
        "ann": key.sign(genesis_message(doc)).hex()}}))


def test_membership_changes_need_the_membership_quorum(gov_url):
    L, keys = _ledger(gov_url)
    found_log(L, {n: (["approver"], keys[n]) for n in NAMES}, quorum_k=2, membership_k=3)
    eve = Ed25519PrivateKey.generate()
    add = [{"op": "add", "id": "eve", "roles": ["approver"], "public_key": pub_hex(eve),
            "api_keys": []}]
    out = enact_membership(L, keys, "ann", ["ben", "cat"], add)
    assert out["needed"] == 3 and out["enacted_index"] is None  # k is 2, m is 3
    assert "eve" not in _state(L).principals
    pid = out["proposal_id"]
    f = json.loads(_proposal(L, pid)["canonical"])
    out = policies.submit_approval(L, "dan", pid, sign_proposal(keys["dan"], f))
    assert out["status"] == "enacted"
    st = _state(L)
    assert st.principals["eve"] == {"roles": ["approver"], "public_key": pub_hex(eve)}
    keys["eve"] = eve
    # rotate ben's key, remove cat: the old key and the removed approver no longer count
    ben2 = Ed25519PrivateKey.generate()
    enact_membership(L, keys, "ann", ["ben", "dan", "eve"], [
        {"op": "key", "id": "ben", "public_key": pub_hex(ben2)}, {"op": "remove", "id": "cat"}])
    st = _state(L)
    assert st.principals["cat"] == {"roles": [], "public_key": None}
    p = make_membership_proposal("ann", [{"op": "quorum", "policy": 1, "membership": 2,
                                          "emergency": 1}], justification="x",
                                 created_utc=L.now_utc())
    policies.submit_proposal(L, "ann", p, sign_proposal(keys["ann"], p))
    for who, key in (("ben", keys["ben"]), ("cat", keys["cat"])):
        with pytest.raises(RefusedError):
            policies.submit_approval(L, who, p["id"], sign_proposal(key, p))
    policies.submit_approval(L, "ben", p["id"], sign_proposal(ben2, p))
    policies.submit_approval(L, "dan", p["id"], sign_proposal(keys["dan"], p))
    assert policies.submit_approval(L, "eve", p["id"], sign_proposal(eve, p))["status"] == "enacted"
    assert (_state(L).quorum_k, _state(L).membership_k) == (1, 2)
    # a removed id is never reused; a change that leaves too few approvers is refused
    with pytest.raises(RefusedError, match="is taken"):
        enact_membership(L, keys, "ann", [], [{"op": "add", "id": "cat", "roles": ["viewer"],
                                               "public_key": None, "api_keys": []}])
    with pytest.raises(RefusedError, match="fewer than"):
        enact_membership(L, keys, "ann", [], [{"op": "remove", "id": n} for n in NAMES
                                              if n != "cat"])
    verify_log(export_ledger(L))


def test_a_membership_change_is_never_an_emergency(gov_url):
    L, keys = _ledger(gov_url)
    found_log(L, {n: (["approver"], keys[n]) for n in NAMES})
    p = make_membership_proposal("ann", [{"op": "remove", "id": "ben"}], justification="x",
                                 created_utc=L.now_utc())
    p["emergency"] = True
    with pytest.raises(InvalidError, match="never an emergency"):
        policies.submit_proposal(L, "ann", p, sign_proposal(keys["ann"], p))


def test_rotated_log_key_stops_the_old_key(gov_url):
    L, keys = _ledger(gov_url)
    found_log(L, {n: (["approver", "operator"], keys[n]) for n in NAMES})
    new = Ledger(L.db, Ed25519PrivateKey.generate())
    with pytest.raises(RefusedError, match="restart with the log's key"):
        registry.create_group(new, "ann", "g")
    enact_membership(L, keys, "ann", ["ben", "cat"],
                     [{"op": "log_key", "verifier_key": new.verifier_key}])
    with pytest.raises(RefusedError, match="restart with the log's key"):
        registry.create_group(L, "ann", "g")
    registry.create_group(new, "ann", "g")
    assert _state(new).log_key == new.verifier_key


def test_registry_table_edits_are_refused_before_acting(plane):
    from sqlalchemy import text

    L = plane.ledger
    registry.create_owner(L, "op", "ngo", 1)
    registry.register_terminal(L, "op", "t1", 50.0, 30.0, owner="ngo", status="active")
    registry.register_terminal(L, "op", "t2", 50.0, 30.1, owner="ngo", status="suspended")
    with L.db.engine.begin() as c:  # frees the owner's only slot behind the log's back
        c.execute(text("UPDATE terminals SET status = 'suspended' WHERE id = 't1'"))
    with pytest.raises(StateMismatchError, match="t1"):
        registry.set_terminal_status(L, "op", "t2", "active")
    with L.db.read_session() as s, pytest.raises(StateMismatchError, match="t1"):
        registry.get_terminal(s, "t1", L.log_state(s))
    with pytest.raises(GovernanceError, match="table terminals: row 't1'"):
        verify_log(export_ledger(L))
    with L.db.engine.begin() as c:
        c.execute(text("UPDATE terminals SET status = 'active' WHERE id = 't1'"))
        c.execute(text("UPDATE owners SET max_terminals = 5 WHERE id = 'ngo'"))
    with pytest.raises(StateMismatchError, match="ngo"):
        registry.set_terminal_status(L, "op", "t2", "active")
    with pytest.raises(GovernanceError, match="table owners: row 'ngo'"):
        verify_log(export_ledger(L))


def _proposal(L, pid):
    with L.db.read_session() as s:
        return policies.get_proposal(s, pid)


def test_service_refuses_a_terminal_row_edited_behind_the_log(plane):
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from skyfence.api.app import create_app

    registry.register_terminal(plane.ledger, "op", "t1", 50.45, 30.52, status="suspended")
    with plane.db.engine.begin() as c:
        c.execute(text("UPDATE terminals SET status = 'active' WHERE id = 't1'"))
    with TestClient(create_app(plane.url, plane.log_key, db=plane.db)) as c:
        r = c.get("/service", params={"terminal": "t1"},
                  headers={"X-API-Key": plane.api_keys["vic"]})
    assert r.status_code == 503 and "t1" in r.json()["detail"]


def test_verify_across_a_log_key_rotation(tmp_path):
    """A log whose key the membership quorum rotated verifies (export, SQLite file): every
    checkpoint under the key in force at its size (the rotation's own checkpoint under the old
    key, the next under the new); a checkpoint the old key signs after the rotation fails,
    naming its size and the key in force."""
    from rich.console import Console

    from skyfence.errors import CheckpointError, VerificationError
    from skyfence.governance.audit import verify_command
    from skyfence.governance.log.checkpoint import sign_checkpoint, verify_checkpoint

    path = tmp_path / "gov.db"
    L, keys = _ledger(f"sqlite:///{path}")
    found_log(L, {n: (["approver", "operator"], keys[n]) for n in NAMES})
    registry.create_group(L, "ann", "g1")
    new = Ledger(L.db, Ed25519PrivateKey.generate())
    out = enact_membership(L, keys, "ann", ["ben", "cat"],
                           [{"op": "log_key", "verifier_key": new.verifier_key}])
    r = out["enacted_index"]
    with L.db.read_session() as s:  # the rotation's checkpoint: the old key's
        assert L.size(s) == r + 1
        head = L.latest_checkpoint(s)
    verify_checkpoint(head, L.verifier_key)
    with pytest.raises(CheckpointError):
        verify_checkpoint(head, new.verifier_key)
    new.start()  # restarted with the new key: the head checkpoint gets its signature too
    with L.db.read_session() as s:
        head = L.latest_checkpoint(s)
    assert {verify_checkpoint(head, k).size for k in (L.verifier_key, new.verifier_key)} == {r + 1}
    verify_log(export_ledger(new))
    registry.create_group(new, "ann", "g2")  # checkpoint r + 2: the new key's alone
    quiet = Console(file=open(tmp_path / "out.txt", "w"))  # noqa: SIM115
    for vkey in (None, L.verifier_key, new.verifier_key):
        verify_log(export_ledger(new), verifier_key=vkey)
        rep = verify_command(str(path), verifier_key=vkey, console=quiet)
        assert rep.verifier_key == new.verifier_key and rep.size == r + 2
    with pytest.raises(VerificationError, match="is not a key the log names"):
        verify_log(export_ledger(new), verifier_key=Ledger(L.db, Ed25519PrivateKey.generate())
                   .verifier_key)
    # the holder of the old key signs the newest tree: refused, naming the size and the key
    doc = export_ledger(new)
    with L.db.read_session() as s:
        forged = sign_checkpoint(L.origin, r + 2, L.root(s, r + 2), L.log_key)
    doc["checkpoints"][-1] = forged
    with pytest.raises(VerificationError, match=rf"size {r + 2}\): .*the log key in force at "
                                                rf"size {r + 2} is {re.escape(new.verifier_key)}"):
        verify_log(doc)
    with pytest.raises(VerificationError, match=rf"size {r + 2}"):
        verify_log(doc, older_checkpoints=[forged], verifier_key=L.verifier_key)


def test_a_rotation_ends_its_transaction_and_the_old_key_cannot_start(gov_url):
    L, keys = _ledger(gov_url)
    found_log(L, {n: (["approver", "operator"], keys[n]) for n in NAMES})
    new = Ledger(L.db, Ed25519PrivateKey.generate())
    enact_membership(L, keys, "ann", ["ben", "cat"],
                     [{"op": "log_key", "verifier_key": new.verifier_key}])
    with pytest.raises(GovernanceError, match="entries name"):
        L.start()
    with pytest.raises(GovernanceError, match="ends its transaction"), new.transaction() as tx:
        tx.append("membership.enacted", "ann", {"changes": [{"op": "log_key",
                                                             "verifier_key": "x"}]})
        tx.append("group.created", "ann", {"group": "g", "description": ""})
