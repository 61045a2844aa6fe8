"""REST API in-process (FastAPI TestClient): authentication (signed requests, API keys), role
refusals (401/403 with reasons), 422 naming the field, the proposal/approval flow, log proofs,
GET /service decisions and receipts verified offline; over SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import time

import pytest
from fastapi.testclient import TestClient

from skyfence.api.app import create_app
from skyfence.errors import GovernanceError
from skyfence.governance import service as svc
from skyfence.governance.audit import verify_log
from skyfence.governance.client import sign_request_headers
from skyfence.governance.log.checkpoint import parse_checkpoint
from skyfence.governance.log.hasher import leaf_hash
from skyfence.governance.log.proof import inclusion_ok
from skyfence.governance.receipts import verify_receipt
from skyfence.governance.rules.canonical import canonical_bytes

GEOFENCE = ('@id("serve-everywhere")\npermit(principal, action, resource);\n'
            '@id("geofence-zone")\nforbid(principal, action, resource in Region::"zone");')


@pytest.fixture
def client(plane):
    app = create_app(plane.url, plane.log_key, db=plane.db)
    with TestClient(app) as c:
        c.plane = plane
        yield c


def hdr(c, who):
    return {"X-API-Key": c.plane.api_keys[who]}


def signed(c, who, method, path, body=b"", **kw):
    return sign_request_headers(c.plane.keys[who], who, method, path, body, **kw)


def post_signed(c, who, path, payload):
    body = canonical_bytes(payload)
    h = signed(c, who, "POST", path, body) | {"Content-Type": "application/json"}
    return c.post(path, content=body, headers=h)


def test_auth_refusals_have_reasons(client):
    c = client
    r = c.get("/terminals")
    assert r.status_code == 401 and "authentication required" in r.json()["detail"]
    r = c.get("/terminals", headers={"X-API-Key": "nope"})
    assert r.status_code == 401 and "unknown API key" in r.json()["detail"]
    r = c.post("/terminals", json={"id": "t1", "lat_deg": 1, "lon_deg": 2}, headers=hdr(c, "vic"))
    assert r.status_code == 403 and "may not terminals.write" in r.json()["detail"]
    r = c.post("/proposals/abc/approvals", json={"signature": "0" * 128}, headers=hdr(c, "op"))
    assert r.status_code == 403 and "approvals.create" in r.json()["detail"]
    # signed requests: good, stale, tampered body, unknown principal
    body = canonical_bytes({"id": "t1", "lat_deg": 50.0, "lon_deg": 30.0})
    h = signed(c, "op", "POST", "/terminals", body) | {"Content-Type": "application/json"}
    assert c.post("/terminals", content=body, headers=h).status_code == 201
    r = c.post("/terminals", content=body, headers=h)  # the same signed request again
    assert r.status_code == 401 and "replayed request" in r.json()["detail"]
    body2 = canonical_bytes({"id": "t2", "lat_deg": 50.0, "lon_deg": 30.0})
    r = c.post("/terminals", content=body2, headers=h)
    assert r.status_code == 401 and "bad request signature" in r.json()["detail"]
    old = signed(c, "op", "POST", "/terminals", body2, timestamp=int(time.time()) - 3600)
    r = c.post("/terminals", content=body2, headers=old | {"Content-Type": "application/json"})
    assert r.status_code == 401 and "away from the server clock" in r.json()["detail"]
    h = {"X-Skyfence-Principal": "mallory", "X-Skyfence-Timestamp": str(int(time.time())),
         "X-Skyfence-Signature": "00"}
    r = c.get("/terminals", headers=h)
    assert r.status_code == 401 and "unknown principal" in r.json()["detail"]
    assert c.get("/whoami", headers=signed(c, "alice", "GET", "/whoami")).json()["via"] == "signature"


def test_422_names_the_field(client):
    c = client
    r = c.post("/terminals", json={"id": "t1", "lat_deg": 100, "lon_deg": 2}, headers=hdr(c, "op"))
    assert r.status_code == 422
    assert any(d["loc"][-1] == "lat_deg" for d in r.json()["detail"])
    r = c.post("/proposals", json={"proposal": {}, "signature": "xyz"}, headers=hdr(c, "alice"))
    assert r.status_code == 422 and any(d["loc"][-1] == "signature" for d in r.json()["detail"])
    f = c.plane.proposal("alice")
    f["cedar"] = "permit(principal, action, resource) when { context.nope };"
    r = c.post("/proposals", json={"proposal": f, "signature": c.plane.sign("alice", f)},
               headers=hdr(c, "alice"))
    assert r.status_code == 422 and "invalid Cedar policy" in r.json()["detail"]
    r = c.get("/service", params={"terminal": "x", "at": "yesterday"}, headers=hdr(c, "vic"))
    assert r.status_code == 422 and "at" in r.json()["detail"]


def test_registry_over_the_api(client):
    c = client
    op = hdr(c, "op")
    assert c.post("/owners", json={"id": "ngo", "max_terminals": 1}, headers=op).status_code == 201
    for tid in ("a", "b"):
        r = c.post("/terminals", json={"id": tid, "lat_deg": 50, "lon_deg": 30, "owner": "ngo"},
                   headers=op)
        assert r.status_code == 201
    assert c.post("/terminals/a/activate", headers=op).json()["status"] == "active"
    r = c.post("/terminals/b/activate", headers=op)
    assert r.status_code == 403 and "at most 1" in r.json()["detail"]
    assert c.post("/terminals/a", json={}, headers=op).status_code in (404, 405)
    r = c.put("/terminals/a/groups", json={"groups": ["whitelisted"]}, headers=op)
    assert r.json()["groups"] == ["whitelisted"]
    assert c.post("/terminals", json={"id": "a", "lat_deg": 1, "lon_deg": 1},
                  headers=op).status_code == 409
    assert c.get("/terminals/zzz", headers=op).status_code == 404
    csv = "id,lat,lon,group\n" + "\n".join(f"c{i},49,31,donated" for i in range(50))
    r = c.post("/terminals/import?status=active", content=csv, headers=op | {"Content-Type": "text/csv"})
    assert r.status_code == 201 and r.json()["count"] == 50
    r = c.post("/terminals/import", content="id,lat,lon\nq,1\n", headers=op | {"Content-Type": "text/csv"})
    assert r.status_code == 422 and "body:2" in r.json()["detail"]
    listing = c.get("/terminals", params={"group": "donated", "limit": 10}, headers=op).json()
    assert len(listing["terminals"]) == 10 and listing["total"] == 52
    groups = {g["name"]: g["terminals"] for g in c.get("/groups", headers=op).json()["groups"]}
    assert groups == {"donated": 50, "whitelisted": 1}


def _enact(c, fields, approvers=("bob", "carol")):
    r = post_signed(c, fields["proposer"], "/proposals",
                    {"proposal": fields, "signature": c.plane.sign(fields["proposer"], fields)})
    assert r.status_code == 201, r.text
    pid = fields["id"]
    out = None
    for who in approvers:
        got = c.get(f"/proposals/{pid}", headers=signed(c, who, "GET", f"/proposals/{pid}")).json()
        assert got["canonical"].encode() == canonical_bytes(got["fields"])
        out = post_signed(c, who, f"/proposals/{pid}/approvals",
                          {"signature": c.plane.sign(who, got["fields"])})
        assert out.status_code == 201, out.text
    return out.json()


def test_proposal_flow_and_log_proofs(client):
    c = client
    f = c.plane.proposal("alice", cedar=GEOFENCE)
    # self-approval over the API: 403 with the reason
    post_signed(c, "alice", "/proposals", {"proposal": f, "signature": c.plane.sign("alice", f)})
    r = post_signed(c, "alice", f"/proposals/{f['id']}/approvals", {"signature": c.plane.sign("alice", f)})
    assert r.status_code == 403 and "self-approval" in r.json()["detail"]
    g = c.plane.proposal("alice", cedar=GEOFENCE)
    out = _enact(c, g)
    assert out["status"] == "enacted"
    pol = c.get("/policies/in-force", headers=hdr(c, "vic")).json()["policy"]
    assert pol["proposal_id"] == g["id"] and pol["enacted_index"] == out["enacted_index"]
    assert c.get("/policies/in-force", params={"at": "2000-01-01T00:00:00Z"},
                 headers=hdr(c, "vic")).json()["policy"] is None
    # the log is public: proofs verify against the signed checkpoint
    head = c.get("/log").json()
    n = head["size"]
    cp = parse_checkpoint(head["checkpoint"])
    size, root = cp.size, cp.root_hash
    assert size == n
    i = out["enacted_index"]
    entry = c.get(f"/log/entries/{i}").json()["entry"]
    proof = c.get("/log/proofs/inclusion", params={"index": i}).json()
    assert inclusion_ok(leaf_hash(entry.encode()), i, n, [base64.b64decode(p) for p in proof["proof"]], root)
    cons = c.get("/log/proofs/consistency", params={"old": 3}).json()
    assert len(cons["proof"]) > 0 and cons["new"] == n
    assert c.get("/log/proofs/inclusion", params={"index": n}).status_code == 422
    notes = verify_log(c.get("/log/export").json(), [cons["old_checkpoint"]])
    assert notes[0] == f"{n} entries verified"


def test_service_decisions_and_receipts(client, monkeypatch):
    c = client
    op = hdr(c, "op")
    visible = {"n": 5}
    monkeypatch.setattr(svc, "visible_satellites", lambda lat, lon, at, **kw: (visible["n"], 60.0))
    for tid, lat, lon, status in (("crimea", 44.6, 33.52, "active"), ("kyiv", 50.45, 30.52, "active"),
                                  ("off", 50.0, 30.0, "suspended")):
        c.post("/terminals", json={"id": tid, "lat_deg": lat, "lon_deg": lon, "status": status},
               headers=op)
    d = c.get("/service", params={"terminal": "crimea"}, headers=hdr(c, "vic")).json()
    assert d["decision"] == "served" and d["policy"] is None and "no service policy" in d["reason"]
    out = _enact(c, c.plane.proposal("alice", cedar=GEOFENCE))
    at = c.get(f"/log/entries/{out['enacted_index']}").json()["parsed"]["t_utc"]
    d = c.get("/service", params={"terminal": "crimea", "at": at}, headers=hdr(c, "vic")).json()
    assert d["decision"] == "denied"
    assert "geofence-zone" in d["reason"] and "zone" in d["regions"]
    assert d["policy"]["log_index"] == out["enacted_index"]
    assert [q["approver"] for q in d["policy"]["quorum_signatures"]] == ["bob", "carol"]
    notes = verify_receipt(d, verifier_key=c.plane.ledger.verifier_key)
    assert "Cedar re-evaluation agrees" in notes
    k = c.get("/service", params={"terminal": "kyiv", "at": at}, headers=hdr(c, "vic")).json()
    assert k["decision"] == "served" and "serve-everywhere" in k["reason"]
    verify_receipt(k, verifier_key=c.plane.ledger.verifier_key)
    # tampered receipts fail offline
    for mutate in (lambda r: r.update(decision="served"),
                   lambda r: r["policy"]["quorum_signatures"].pop(),
                   lambda r: r.update(at_utc="2000-01-01T00:00:00.000000Z")):
        bad = json.loads(json.dumps(d))
        mutate(bad)
        with pytest.raises(GovernanceError):
            verify_receipt(bad, verifier_key=c.plane.ledger.verifier_key)
    # a receipt re-signed by another key is refused when the log key is pinned
    with pytest.raises(GovernanceError):
        verify_receipt(dict(d, log_verifier_key="x+00000000+AAAA"),
                           verifier_key=c.plane.ledger.verifier_key)
    s = c.get("/service", params={"terminal": "off", "at": at}, headers=hdr(c, "vic")).json()
    assert s["decision"] == "denied" and "suspended" in s["reason"]
    u = c.get("/service", params={"terminal": "nobody"}, headers=hdr(c, "vic")).json()
    assert u["decision"] == "denied" and "not registered" in u["reason"]
    visible["n"] = 0
    u = c.get("/service", params={"terminal": "crimea", "at": at}, headers=hdr(c, "vic")).json()
    assert u["decision"] == "uncovered" and "no satellite above 25" in u["reason"]
    verify_receipt(u, verifier_key=c.plane.ledger.verifier_key)
    assert c.get("/service", params={"terminal": "crimea"}).status_code == 401
