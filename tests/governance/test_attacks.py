"""The attacks of issue 10, each performed against the plane: every one must now fail.

* a table edit that moves ``enacted`` to a never-approved proposal;
* a second principal holding an existing principal's key (self-approval, double counting,
  emergency path);
* live edits of the quorum and of the approver set in the database;
* replay of a captured signed write after a restart and through another server process;
* a forgotten ``--log-key`` on a local command;
* bad input: JSON NaN/Infinity, a lone surrogate, a time outside the elements' validity, and a
  malformed receipt given to ``skyfence receipt verify``.
"""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import text

from skyfence.api.app import create_app
from skyfence.cli import main
from skyfence.errors import GovernanceError, RefusedError
from skyfence.governance import policies, registry
from skyfence.governance.audit import verify_log
from skyfence.governance.client import sign_request_headers
from skyfence.governance.export import export_ledger
from skyfence.governance.rules.quorum import ApprovalAttempt, reject_reason
from skyfence.governance.state import StateMismatchError
from tests.governance.fixtures import (
    ServerProcess,
    enact_membership,
    make_plane,
    pub_hex,
    write_log_key,
)

GEOFENCE = ('@id("serve-everywhere")\npermit(principal, action, resource);\n'
            '@id("geofence-zone")\nforbid(principal, action, resource in Region::"zone");')
DENY_ALL = '@id("deny-all")\nforbid(principal, action, resource);'


def _enact(p, proposer: str, approvers, cedar: str = GEOFENCE) -> dict:
    f = p.proposal(proposer, cedar=cedar)
    policies.submit_proposal(p.ledger, proposer, f, p.sign(proposer, f))
    out = None
    for a in approvers:
        out = policies.submit_approval(p.ledger, a, f["id"], p.sign(a, f))
    return {"fields": f, "result": out}


def _sql(p, *statements: str, **params) -> None:
    with p.db.engine.begin() as conn:
        for st in statements:
            conn.execute(text(st), params)


def _client(p) -> TestClient:
    return TestClient(create_app(p.url, p.log_key, db=p.db))


def _verify_fails(p, match: str) -> None:
    with pytest.raises(GovernanceError, match=match):
        verify_log(export_ledger(p.ledger))


# --------------------------------------------------------------------------- 1. state from the log


def test_enacted_status_moved_to_an_unapproved_proposal_is_refused_and_reported(plane, tmp_path):
    p, L = plane, plane.ledger
    registry.register_terminal(L, "op", "kyiv1", 50.45, 30.52, status="active")
    a = _enact(p, "alice", ("bob", "carol"))
    never = p.proposal("dave", cedar=DENY_ALL)
    policies.submit_proposal(L, "dave", never, p.sign("dave", never))
    enacted_at = a["result"]["enacted_index"]
    _sql(p, "UPDATE proposals SET status = 'open', enacted_index = NULL WHERE id = :a",
         "UPDATE proposals SET status = 'enacted', enacted_index = :i WHERE id = :n",
         a=a["fields"]["id"], n=never["id"], i=enacted_at)
    registry.create_group(L, "op", "any-logged-write")
    # the server refuses to decide on it
    with _client(p) as c:
        vic = {"X-API-Key": p.api_keys["vic"]}
        r = c.get("/policies/in-force", headers=vic)
        assert r.status_code == 503 and "table proposals" in r.json()["detail"]
        assert never["id"] in r.json()["detail"]
        r = c.get("/service", params={"terminal": "kyiv1"}, headers=vic)
        assert r.status_code == 503 and "disagree with its log" in r.json()["detail"]
    with L.db.read_session() as s, pytest.raises(StateMismatchError):
        policies.policy_at(L, s, "2100-01-01T00:00:00Z")
    # verify names the disagreement (the database, and the export a URL serves)
    _verify_fails(p, f"table proposals: row '{never['id']}'")
    if p.db.is_sqlite:
        p.db.dispose()
        assert main(["verify", p.url.split("///", 1)[1]]) == 2


def test_in_force_comes_from_the_log_enactments(plane):
    """What is in force is the log's enactment, with its approvals."""
    p = plane
    a = _enact(p, "alice", ("bob", "carol"))
    with _client(p) as c:
        pol = c.get("/policies/in-force", headers={"X-API-Key": p.api_keys["vic"]}).json()["policy"]
    assert pol["proposal_id"] == a["fields"]["id"]
    assert [x["approver"] for x in pol["approvals"]] == ["bob", "carol"]


# --------------------------------------------------------------------------- 2. one person, two ids


def test_a_second_principal_with_an_existing_key_is_refused(plane, tmp_path):
    p, L = plane, plane.ledger
    for holder in ("op", "alice"):
        with pytest.raises(RefusedError, match=f"already belongs to '{holder}'"):
            enact_membership(L, p.keys, "op", ["bob", "carol"], [
                {"op": "add", "id": f"{holder}-alt", "roles": ["approver"],
                 "public_key": pub_hex(p.keys[holder]), "api_keys": []}])
    # the database refuses it too (unique index on the key)
    with pytest.raises(Exception, match="(?i)unique"):
        _sql(p, "INSERT INTO principals (id, roles, public_key, created_utc) "
                "VALUES ('a1-alt', 'approver', :k, '2026-01-01T00:00:00Z')",
             k=pub_hex(p.keys["alice"]))
    with L.db.read_session() as s:
        assert "op-alt" not in L.state(s).principals


def test_no_local_command_changes_membership(tmp_path, capsys):
    db = tmp_path / "gov.db"
    assert main(["keys", "new", "log", "--out", str(tmp_path)]) == 0
    assert main(["keys", "new", "op", "--out", str(tmp_path)]) == 0
    common = ["--db", str(db), "--log-key", str(tmp_path / "log.key")]
    for args in (["principals", "add", "op", "--role", "operator", "--pubkey",
                  str(tmp_path / "op.pub"), *common], ["quorum", "1", *common]):
        assert main(args) == 2
    capsys.readouterr()
    # a genesis naming one key twice is refused
    assert main(["init", "draft", str(tmp_path / "g.json"), "--log-key",
                 str(tmp_path / "log.key"), "--quorum", "1",
                 "--founder", f"op:approver:{tmp_path / 'op.pub'}",
                 "--founder", f"op-alt:approver:{tmp_path / 'op.pub'}"]) == 2
    err = capsys.readouterr().err
    assert "already the key of 'op'" in err and "Traceback" not in err


def test_self_approval_and_distinctness_compare_keys():
    """Even if two ids held one key (a log written by another tool), the quorum rules compare
    keys: the proposer's key cannot approve, and one key counts once; emergency path included."""
    k1, k2 = (pub_hex(Ed25519PrivateKey.generate()) for _ in range(2))
    keys = {"a1": k1, "a1-alt": k1, "b": k2, "b-alt": k2}
    for emergency in (False, True):
        fields = {"proposer": "a1", "emergency": emergency, "expires_utc": "2100-01-01T00:00:00Z"}
        why = reject_reason(fields, ApprovalAttempt("a1-alt", "00" * 64, "2026-01-01T00:00:00Z"),
                            keys, [], keys)
        assert why and "self-approval" in why and "proposer's public key" in why
        why = reject_reason(fields, ApprovalAttempt("b-alt", "00" * 64, "2026-01-01T00:00:00Z"),
                            keys, ["b"], keys)
        assert why and "holds the key of 'b'" in why


def test_a_log_with_one_key_for_two_principals_fails_verification(plane):
    """Entries appended with the log key alone: an old-style ``principal.added`` is no entry kind
    at all, and a membership enactment naming a second id for alice's key without a quorum is
    refused by the checker and by the server's own reading of its log."""
    from skyfence.governance.rules.canonical import canonical_json
    from skyfence.governance.rules.entries import EntryChecker

    p = plane
    doc = export_ledger(p.ledger)
    entries = doc["entries"]
    last = json.loads(entries[-1]["entry"])
    change = {"op": "add", "id": "alice-alt", "roles": ["approver"],
              "public_key": pub_hex(p.keys["alice"]), "api_keys": []}
    forged = [{"index": len(entries), "t_utc": last["t_utc"], "kind": "principal.added",
               "actor": "admin", "data": {"id": "alice-alt", "roles": ["approver"],
                                          "public_key": pub_hex(p.keys["alice"])}},
              {"index": len(entries), "t_utc": last["t_utc"], "kind": "membership.enacted",
               "actor": "op", "data": {"proposal_id": "00" * 16, "digest": "00" * 32,
                                       "changes": [change], "approvals": []}}]
    check = EntryChecker()
    for e in entries:
        check(e["index"], e["entry"].encode())
    for f, match in zip(forged, ("unknown entry kind", "unknown proposal"), strict=True):
        with pytest.raises(GovernanceError, match=match):
            _at(check)(len(entries), canonical_json(f).encode())


def _at(checker):
    from skyfence.governance.rules.entries import EntryChecker

    c = EntryChecker()
    c.state = checker.state.copy()
    return c


# --------------------------------------------------------------------------- 3. live edits


def test_live_quorum_edit_does_not_enact(plane):
    p, L = plane, plane.ledger
    _sql(p, "UPDATE settings SET value = '1' WHERE key = 'quorum_k'")
    f = p.proposal("alice", cedar=DENY_ALL)
    with pytest.raises(StateMismatchError, match="table settings: row 'quorum_k'"):
        policies.submit_proposal(L, "alice", f, p.sign("alice", f))
    with _client(p) as c:
        r = c.post(f"/proposals/{f['id']}/approvals", json={"signature": p.sign("bob", f)},
                   headers={"X-API-Key": p.api_keys["bob"]})
        assert r.status_code == 503 and "quorum_k" in r.json()["detail"]
    with L.db.read_session() as s:
        assert L.log_state(s).enactments == []
    _verify_fails(p, "table settings: row 'quorum_k'")


def test_live_approver_insert_does_not_enact(plane):
    p, L = plane, plane.ledger
    f = p.proposal("alice", cedar=DENY_ALL)
    policies.submit_proposal(L, "alice", f, p.sign("alice", f))
    policies.submit_approval(L, "bob", f["id"], p.sign("bob", f))
    sock = Ed25519PrivateKey.generate()  # the operator's second key, never logged
    _sql(p, "INSERT INTO principals (id, roles, public_key, created_utc) "
            "VALUES ('sock', 'approver', :k, '2026-01-01T00:00:00Z')", k=pub_hex(sock))
    from skyfence.governance.rules.proposal import sign_proposal

    with pytest.raises(StateMismatchError, match="table principals: row 'sock' is not in the log"):
        policies.submit_approval(L, "sock", f["id"], sign_proposal(sock, f))
    headers = sign_request_headers(sock, "sock", "POST", f"/proposals/{f['id']}/approvals",
                                   json.dumps({"signature": sign_proposal(sock, f)}).encode())
    with _client(p) as c:
        r = c.post(f"/proposals/{f['id']}/approvals",
                   content=json.dumps({"signature": sign_proposal(sock, f)}).encode(),
                   headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 503 and "sock" in r.json()["detail"]
    with L.db.read_session() as s:
        assert L.log_state(s).enactments == []
    _verify_fails(p, "table principals: row 'sock'")


# --------------------------------------------------------------------------- 4. replay


def test_replayed_signed_write_is_refused_after_restart_and_by_another_process(gov_url, tmp_path):
    p = make_plane(gov_url)
    registry.register_terminal(p.ledger, "op", "kyiv1", 50.45, 30.52, status="active")
    p.db.dispose()
    key = write_log_key(tmp_path / "log.key", p.log_key)
    path = "/terminals/kyiv1/suspend"
    captured = sign_request_headers(p.keys["op"], "op", "POST", path, b"")
    srv = ServerProcess(gov_url, key).start()
    other = ServerProcess(gov_url, key).start()
    try:
        assert httpx.post(srv.base + path, headers=captured).status_code == 200
        r = httpx.post(other.base + path, headers=captured)  # another process, same database
        assert r.status_code == 401 and "replayed" in r.json()["detail"]
        srv.kill()
        other.kill()
        srv.start()  # a restart, well inside the timestamp window
        r = httpx.post(srv.base + path, headers=captured)
        assert r.status_code == 401 and "replayed" in r.json()["detail"]
        fresh = sign_request_headers(p.keys["op"], "op", "POST", path, b"")
        assert httpx.post(srv.base + path, headers=fresh).status_code == 200
    finally:
        srv.kill()
        other.kill()


# --------------------------------------------------------------------------- 5. forgotten log key


def test_a_missing_log_key_is_an_error_never_a_new_key(tmp_path, capsys):
    path = tmp_path / "gov.db"
    p = make_plane(f"sqlite:///{path}")
    p.db.dispose()
    csv = tmp_path / "t.csv"
    csv.write_text("id,lat,lon\nx,50.0,30.0\n")
    genesis = tmp_path / "genesis.json"
    genesis.write_text("{}")
    for args in (["terminals", "import", str(csv), "--db", str(path)],
                 ["init", "create", str(genesis), "--db", str(path)],
                 ["terminals", "import", str(csv), "--db", str(path),
                  "--log-key", str(tmp_path / "nope.key")]):
        capsys.readouterr()
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        expected = args[-1] if args[-2] == "--log-key" else f"{path}.logkey"
        assert err.startswith("error: log key not found") and expected in err
        assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "gov.db.logkey").exists() and not (tmp_path / "nope.key").exists()
    with sqlite3.connect(path) as conn:  # nothing was written
        assert conn.execute("SELECT count(*) FROM terminals WHERE id = 'x'").fetchone()[0] == 0


# --------------------------------------------------------------------------- 6. bad input


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_numbers_are_refused(plane, literal):
    body = f'{{"id": "t1", "lat_deg": {literal}, "lon_deg": 30.0}}'
    with _client(plane) as c:
        r = c.post("/terminals", content=body.encode(), headers={
            "X-API-Key": plane.api_keys["op"], "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert "Traceback" not in r.text


def test_lone_surrogate_is_refused(plane):
    f = plane.proposal("alice")
    raw = json.dumps({"proposal": {**f, "title": "PLACEHOLDER"}, "signature": "00" * 64})
    raw = raw.replace("PLACEHOLDER", "\\ud800")
    with _client(plane) as c:
        r = c.post("/proposals", content=raw.encode(), headers={
            "X-API-Key": plane.api_keys["alice"], "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text


def test_time_outside_the_elements_validity_is_refused(plane):
    from skyfence.governance.service import MAX_ELEMENTS_AGE_DAYS

    registry.register_terminal(plane.ledger, "op", "kyiv1", 50.45, 30.52, status="active")
    with _client(plane) as c:
        for at in ("9999-12-31T00:00:00Z", "1970-01-01T00:00:00Z"):
            r = c.get("/service", params={"terminal": "kyiv1", "at": at},
                      headers={"X-API-Key": plane.api_keys["vic"]})
            assert r.status_code == 422, r.text
            assert "signature" not in r.json()
            assert f"{MAX_ELEMENTS_AGE_DAYS} days" in r.json()["detail"]


@pytest.mark.parametrize("content", [
    "[1, 2, 3]",
    '{"version": "skyfence-receipt-v1", "signature": "***not base64***", "log_verifier_key": "x"}',
    "{not json",
])
def test_receipt_verify_gives_a_clear_error(tmp_path, capsys, content):
    f = tmp_path / "receipt.json"
    f.write_text(content)
    capsys.readouterr()
    assert main(["receipt", "verify", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_receipt_with_a_non_base64_signature_is_refused(plane):
    registry.register_terminal(plane.ledger, "op", "kyiv1", 50.45, 30.52, status="active")
    from skyfence.governance.receipts import verify_receipt
    from skyfence.governance.service import decide_service

    r = decide_service(plane.ledger, "kyiv1", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    r["signature"] = "***"
    with pytest.raises(GovernanceError, match="signature"):
        verify_receipt(r)
