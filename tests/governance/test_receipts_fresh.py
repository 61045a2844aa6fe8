"""Receipts that prove freshness: a receipt carries the witnessed checkpoint, `skyfence receipt
verify --witness-policy` checks its cosignatures, `--fresh URL` checks that no later log entry
changes the decision; a tampered receipt fails offline."""

from __future__ import annotations

import io
import json
import time

import httpx
import pytest

from skyfence.cli import main
from skyfence.errors import VerificationError
from skyfence.governance import policies, registry
from skyfence.governance.freshness import StaleReceiptError, check_fresh, later_changes
from skyfence.governance.log.checkpoint import verifier_key
from skyfence.governance.receipts import verify_receipt
from skyfence.governance.service import decide_service
from skyfence.governance.witness.client import store_witnessed
from skyfence.governance.witness.cosignature import cosign, cosigner_vkey
from skyfence.governance.witness.policy import parse_policy
from tests.governance.fixtures import ServerProcess, make_plane, write_log_key

NOW = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))


def _enact(p, title: str) -> int:
    f = p.proposal("alice", title=title)
    policies.submit_proposal(p.ledger, "alice", f, p.sign("alice", f))
    out = None
    for a in ("bob", "carol"):
        out = policies.submit_approval(p.ledger, a, f["id"], p.sign(a, f))
    return out["enacted_index"]


@pytest.fixture
def served(tmp_path):
    p = make_plane(f"sqlite:///{tmp_path / 'gov.db'}")
    registry.register_terminal(p.ledger, "op", "kyiv1", 50.45, 30.52, status="active")
    _enact(p, "first")
    with ServerProcess(p.url, write_log_key(tmp_path / "log.key", p.log_key)) as srv:
        yield p, srv
    p.db.dispose()


def _receipt(srv, p, tmp_path, name="r.json"):
    r = httpx.get(srv.base + "/service", params={"terminal": "kyiv1", "at": NOW},
                  headers={"X-API-Key": p.api_keys["vic"]}, timeout=60)
    r.raise_for_status()
    path = tmp_path / name
    path.write_text(r.text)
    return r.json(), path


def test_fresh_then_superseded_by_a_later_enactment(served, tmp_path, capsys):
    p, srv = served
    doc, path = _receipt(srv, p, tmp_path)
    assert main(["receipt", "verify", str(path), "--fresh", srv.base]) == 0
    assert "fresh: no entry after size" in capsys.readouterr().out
    later = _enact(p, "second")
    assert main(["receipt", "verify", str(path), "--fresh", srv.base]) == 2
    err = capsys.readouterr().err
    assert f"entry {later} (policy.enacted" in err and "superseded" in err
    assert main(["receipt", "verify", str(path)]) == 0  # still a valid record of its time


def test_a_later_suspension_of_the_terminal_makes_it_stale(served, tmp_path):
    p, srv = served
    doc, _ = _receipt(srv, p, tmp_path)
    registry.set_terminal_status(p.ledger, "op", "kyiv1", "suspended")
    with pytest.raises(StaleReceiptError, match=r"entry \d+ \(terminal.status\) changes terminal"):
        check_fresh(doc, srv.base)


def test_a_receipt_of_another_log_is_not_fresh(served, tmp_path):
    p, srv = served
    doc, _ = _receipt(srv, p, tmp_path)
    other = make_plane(f"sqlite:///{tmp_path / 'other.db'}")
    doc["log_verifier_key"] = other.ledger.verifier_key
    with pytest.raises(VerificationError, match="not signed by the receipt's log"):
        check_fresh(doc, srv.base)
    other.db.dispose()


@pytest.mark.parametrize("field,value", [("decision", "denied"), ("at_utc", "2026-01-01T00:00:00.000000Z"),
                                         ("terminal", "kyiv2")])
def test_a_tampered_receipt_fails_offline(served, tmp_path, capsys, field, value):
    p, srv = served
    doc, _ = _receipt(srv, p, tmp_path)
    doc[field] = value
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["receipt", "verify", str(bad)]) == 2
    assert "signature" in capsys.readouterr().err


def test_later_enactment_not_yet_in_force_is_only_a_note():
    entry = json.dumps({"index": 5, "t_utc": "2026-01-01T00:00:00.000000Z", "kind": "policy.enacted",
                        "actor": "bob", "data": {"proposal_id": "x",
                                                 "effective_utc": "2099-01-01T00:00:00.000000Z"}})
    receipt = {"at_utc": "2026-01-01T00:00:00.000000Z", "terminal": "t", "tree_size": 5,
               "policy": None}
    notes = later_changes(receipt, [b""] * 5 + [entry.encode()], "2026-01-02T00:00:00.000000Z")
    assert "not yet" in notes[0]


def test_witnessed_checkpoint_in_the_receipt_and_the_policy(tmp_path, capsys):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from skyfence.governance.log.checkpoint import parse_note

    p = make_plane(f"sqlite:///{tmp_path / 'gov.db'}")
    registry.register_terminal(p.ledger, "op", "kyiv1", 50.45, 30.52, status="active")
    _enact(p, "first")
    wkey = Ed25519PrivateKey.generate()
    with p.db.read_session() as s:
        note = p.ledger.latest_checkpoint(s)
    body, _ = parse_note(note)
    line = cosign(body, "w1.example/witness", wkey, int(time.time()))
    with p.db.write_session() as s:
        store_witnessed(s, note, [line], p.ledger.now_utc())
    registry.register_terminal(p.ledger, "op", "lviv1", 49.84, 24.03, status="active")  # size + 1
    doc = decide_service(p.ledger, "kyiv1", NOW)
    assert doc["witnessed"]["tree_size"] == doc["tree_size"] - 1
    assert len(doc["witnessed"]["consistency_proof"]) >= 1
    vkey = verifier_key(p.ledger.origin, p.log_key)
    good = parse_policy(f"log {vkey}\nwitness w1 {cosigner_vkey('w1.example/witness', wkey)}\n"
                        "quorum w1\n")
    notes = verify_receipt(doc, witness_policy=good)
    assert any("quorum 'w1' met" in n for n in notes)
    other = Ed25519PrivateKey.generate()
    unmet = parse_policy(f"log {vkey}\nwitness w2 {cosigner_vkey('w2.example/witness', other)}\n"
                         "quorum w2\n")
    with pytest.raises(Exception, match="NOT met"):
        verify_receipt(doc, witness_policy=unmet)
    policy_file = tmp_path / "witnesses.policy"
    policy_file.write_text(f"log {vkey}\nwitness w2 {cosigner_vkey('w2.example/witness', other)}\n"
                           "quorum w2\n")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    assert main(["receipt", "verify", str(path), "--witness-policy", str(policy_file)]) == 2
    assert "NOT met" in capsys.readouterr().err
    p.db.dispose()


def test_receipts_across_a_log_key_rotation(served, tmp_path):
    """After the membership quorum rotates the log's key and the server restarts with the new
    key, a receipt made before is still fresh (the log names the new key, every entry checked)
    and a receipt made after verifies offline under the new key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from rich.console import Console

    from skyfence.governance.audit import verify_command
    from skyfence.governance.ledger import Ledger
    from tests.governance.fixtures import ServerProcess, enact_membership

    p, srv = served
    before, _ = _receipt(srv, p, tmp_path)
    new_key = Ed25519PrivateKey.generate()
    new = Ledger(p.db, new_key)
    enact_membership(p.ledger, p.keys, "alice", ["bob", "carol"],
                     [{"op": "log_key", "verifier_key": new.verifier_key}])
    srv.kill()
    with ServerProcess(p.url, write_log_key(tmp_path / "new.key", new_key)) as srv2:
        assert any("membership" in n for n in check_fresh(before, srv2.base))
        after, _ = _receipt(srv2, p, tmp_path, "after.json")
        assert after["log_verifier_key"] == new.verifier_key
        verify_receipt(after, verifier_key=new.verifier_key)
        registry.create_group(new, "op", "g-after")  # a checkpoint of the new key alone
        check_fresh(before, srv2.base)
        check_fresh(after, srv2.base)
        quiet = Console(file=io.StringIO())
        for source in (srv2.base, srv2.base + "/checkpoint"):  # export JSON and tlog-tiles
            rep = verify_command(source, verifier_key=p.ledger.verifier_key, console=quiet)
            assert rep.verifier_key == new.verifier_key
        with pytest.raises(VerificationError, match="not signed by the receipt's log"):
            check_fresh({**before, "log_verifier_key": verifier_key(p.ledger.origin,
                                                                    Ed25519PrivateKey.generate())},
                        srv2.base)
