"""Funding changes in the governance log: the sponsor's signature and the quorum are required,
bad input is refused naming the field with nothing stored, and replay gives the agreements."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skyfence.errors import GovernanceError
from skyfence.funding.agreements import parse_agreement
from skyfence.governance import registry
from skyfence.governance.funding import funding_view, make_funding_change, submit_funding
from skyfence.governance.rules.proposal import sign_proposal
from tests.governance.fixtures import enact_membership, make_plane, pub_hex

AGREEMENT = {"id": "usaid-2022", "sponsor": "usaid", "group": "usaid", "start": "2022-04-01T00:00:00Z",
             "end": "2023-04-01T00:00:00Z", "price_per_terminal_month": 500.0, "monthly_cap": 100000.0}


@pytest.fixture
def gov(tmp_path):
    p = make_plane(f"sqlite:///{tmp_path / 'governance.db'}")
    p.keys["usaid"] = Ed25519PrivateKey.generate()
    p.keys["poland"] = Ed25519PrivateKey.generate()
    enact_membership(p.ledger, p.keys, "alice", ["bob", "carol"], [
        {"op": "add", "id": s, "roles": ["viewer"], "public_key": pub_hex(p.keys[s]), "api_keys": []}
        for s in ("usaid", "poland")])
    registry.create_group(p.ledger, "op", "usaid", "bought by USAID")
    yield p
    p.db.dispose()


def _size(p) -> int:
    with p.db.read_session() as s:
        return p.ledger.size(s)


def _submit(p, fields, *, sponsor="usaid", signer=None, approvers=("alice", "bob")):
    sig = sign_proposal(p.keys[signer or sponsor], fields)
    approvals = [{"approver": a, "signature": sign_proposal(p.keys[a], fields)} for a in approvers]
    return submit_funding(p.ledger, sponsor, fields, sig, approvals)


def _agreements(p):
    with p.db.read_session() as s:
        return {v["agreement"]["id"]: (parse_agreement(v["agreement"]), v["history"]) for v in funding_view(p.ledger, s)}


def test_sponsor_signature_and_quorum_put_an_agreement_in_force(gov):
    now = gov.ledger.now_utc()
    fields = make_funding_change("create", AGREEMENT, justification="USAID purchase", created_utc=now)
    out = _submit(gov, fields)
    assert out["agreement"] == "usaid-2022"
    folded = _agreements(gov)
    assert folded["usaid-2022"][0].price_per_terminal_month == 500.0
    # extend, then end: only the end moves
    ext = make_funding_change("extend", {**AGREEMENT, "end": "2023-10-01T00:00:00Z"}, justification="extend",
                              created_utc=now)
    _submit(gov, ext)
    end = make_funding_change("end", {**AGREEMENT, "end": "2022-10-01T00:00:00Z"}, justification="lapse",
                              created_utc=now)
    _submit(gov, end)
    a, history = _agreements(gov)["usaid-2022"]
    assert str(a.end_utc) == "2022-10-01T00:00:00.000" and [h["action"] for h in history] == ["create", "extend", "end"]


@pytest.mark.parametrize("case, message", [
    ("no sponsor signature", "no valid signature of sponsor 'usaid'"),
    ("signed by another sponsor", "no valid signature of sponsor 'usaid'"),
    ("no quorum", "no valid quorum for funding change"),
    ("sponsor approves itself", "self-approval"),
    ("unknown sponsor", "unknown sponsor 'unicef'"),
    ("unknown group", "unknown group 'military'"),
    ("end of another sponsor's agreement", "belongs to sponsor 'usaid', not 'poland'"),
    ("extend of an unknown agreement", "extend of an agreement the log never created"),
])
def test_refused_changes_are_never_in_force_and_store_nothing(gov, case, message):
    now = gov.ledger.now_utc()
    if case == "end of another sponsor's agreement":
        _submit(gov, make_funding_change("create", AGREEMENT, justification="x", created_utc=now))
    before = _size(gov)
    kw: dict = {}
    agreement = dict(AGREEMENT)
    action = "create"
    if case == "no sponsor signature":
        fields = make_funding_change(action, agreement, justification="x", created_utc=now)
        with pytest.raises(GovernanceError, match=message):
            submit_funding(gov.ledger, "usaid", fields, "00" * 64,
                           [{"approver": a, "signature": sign_proposal(gov.keys[a], fields)} for a in ("alice", "bob")])
        assert _size(gov) == before and "usaid-2022" not in _agreements(gov)
        return
    if case == "signed by another sponsor":
        kw["signer"] = "poland"
    elif case == "no quorum":
        kw["approvers"] = ("alice",)
    elif case == "sponsor approves itself":
        kw["approvers"] = ("alice", "usaid")
    elif case == "unknown sponsor":
        agreement["sponsor"] = "unicef"
        gov.keys["unicef"] = Ed25519PrivateKey.generate()
        kw["sponsor"] = "unicef"
    elif case == "unknown group":
        agreement["group"] = "military"
    elif case == "end of another sponsor's agreement":
        agreement["sponsor"] = "poland"
        action = "end"
        agreement["end"] = "2022-06-01T00:00:00Z"
        kw["sponsor"] = "poland"
    elif case == "extend of an unknown agreement":
        action = "extend"
    fields = make_funding_change(action, agreement, justification="x", created_utc=now)
    with pytest.raises(GovernanceError, match=message):
        _submit(gov, fields, **kw)
    assert _size(gov) == before
    folded = _agreements(gov)
    if case == "end of another sponsor's agreement":
        assert str(folded["usaid-2022"][0].end_utc) == "2023-04-01T00:00:00.000"
    else:
        assert "usaid-2022" not in folded


@pytest.mark.parametrize("change, message", [
    ({"price_per_terminal_month": -1}, "price_per_terminal_month must be >= 0"),
    ({"end": "2022-01-01T00:00:00Z"}, "before it starts"),
])
def test_bad_agreements_are_refused_before_signing(gov, change, message):
    with pytest.raises(GovernanceError, match=message):
        make_funding_change("create", {**AGREEMENT, **change}, justification="x")


def test_rest_funding_post_and_get(gov):
    from fastapi.testclient import TestClient

    from skyfence.api.app import create_app
    from skyfence.governance.client import sign_request_headers
    from skyfence.governance.rules.canonical import canonical_bytes

    fields = make_funding_change("create", AGREEMENT, justification="USAID purchase", created_utc=gov.ledger.now_utc())
    payload = {"change": fields, "sponsor_signature": sign_proposal(gov.keys["usaid"], fields),
               "approvals": [{"approver": a, "signature": sign_proposal(gov.keys[a], fields)} for a in ("alice",)]}

    def post(who, body):
        data = canonical_bytes(body)
        h = sign_request_headers(gov.keys[who], who, "POST", "/funding", data) | {"Content-Type": "application/json"}
        return c.post("/funding", content=data, headers=h)

    with TestClient(create_app(gov.url, gov.log_key, db=gov.db)) as c:
        before = _size(gov)
        r = post("usaid", payload)  # one approval: no quorum, nothing stored
        assert r.status_code >= 400 and "no valid quorum" in r.text and _size(gov) == before
        payload["approvals"].append({"approver": "bob", "signature": sign_proposal(gov.keys["bob"], fields)})
        r = post("alice", payload)  # not the sponsor
        assert r.status_code >= 400 and "not the sponsor" in r.text and _size(gov) == before
        r = post("usaid", payload)
        assert r.status_code == 201, r.text
        got = c.get("/funding", headers={"X-API-Key": gov.api_keys["vic"]}).json()
        assert [a["agreement"]["id"] for a in got["agreements"]] == ["usaid-2022"]


def test_cli_list_and_report_from_the_log(gov, tmp_path, capsys):
    from skyfence.cli import main

    registry.register_terminal(gov.ledger, "op", "UA-1", 50.45, 30.52, groups=["usaid"], status="active")
    registry.register_terminal(gov.ledger, "op", "UA-2", 49.84, 24.03, groups=["civil"], status="active")
    fields = make_funding_change("create", AGREEMENT, justification="USAID purchase", created_utc=gov.ledger.now_utc())
    _submit(gov, fields)
    db_file = gov.url.removeprefix("sqlite:///")
    assert main(["funding", "list", db_file]) == 0
    assert "usaid" in capsys.readouterr().out
    out = tmp_path / "report"
    assert main(["funding", "report", "--log", db_file, "--start", "2022-09-30T00:00:00Z", "--duration", "172800",
                 "--step", "3600", "-o", str(out)]) == 0
    import pandas as pd

    monthly = pd.read_csv(out / "funding_monthly.csv")
    assert monthly["terminals_billed"].tolist() == [1, 1] and monthly["cost"].tolist() == [500.0, 500.0]
    assert pd.read_csv(out / "funding_unfunded.csv")["id"].tolist() == ["UA-2"]
    assert (out / "funding.png").exists()


def test_an_entry_appended_without_quorum_breaks_the_log(gov):
    """Even the holder of the log key cannot put an agreement in force without the quorum: the
    log's own check refuses to act on it."""
    from skyfence.governance.state import StateMismatchError

    fields = make_funding_change("create", AGREEMENT, justification="x", created_utc=gov.ledger.now_utc())
    data = {"change": fields, "sponsor_signature": sign_proposal(gov.keys["usaid"], fields),
            "approvals": [{"approver": "alice", "signature": sign_proposal(gov.keys["alice"], fields)}]}
    with gov.ledger.transaction() as tx:
        tx.append("funding.enacted", "usaid", data)
    with gov.db.read_session() as s, pytest.raises(StateMismatchError, match="no valid quorum for funding change"):
        gov.ledger.log_state(s)
