"""GET /service with what is kept between requests (the checked view, positions per instant,
Cedar answers, receipt templates, the `ServiceShortcut` middleware) answers exactly what it
answers with nothing kept (``SKYFENCE_SERVICE_CACHE=off``): the same receipt bytes for a sample
of terminals and instants, before and after a policy is enacted; a receipt verifies offline
(library and ``skyfence receipt verify``); a direct edit of the database after the state was
kept is refused (503) on the very next request."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest
from fastapi.testclient import TestClient

from skyfence.api.app import create_app
from skyfence.api.models import ServiceReceipt
from skyfence.api.routers import service as service_router
from skyfence.cli import main
from skyfence.governance import policies, registry
from skyfence.governance import service as svc
from skyfence.governance.receipts import verify_receipt
from skyfence.governance.rules.canonical import iso_utc
from tests.governance.fixtures import make_plane

TERMINALS = (("kyiv", 50.45, 30.52, "active"), ("crimea", 44.6, 33.52, "active"),
             ("lviv", 49.84, 24.03, "suspended"), ("reykjavik", 64.1, -21.9, "active"))


@pytest.fixture
def sq(tmp_path):
    path = tmp_path / "gov.db"
    p = make_plane(f"sqlite:///{path}")
    for tid, lat, lon, status in TERMINALS:
        registry.register_terminal(p.ledger, "op", tid, lat, lon, status=status)
    p.path = path
    yield p
    p.db.dispose()


def _instants() -> list[str]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return [iso_utc(now + dt.timedelta(seconds=s)) for s in (90, 131, 3600)] + \
        [iso_utc(now + dt.timedelta(seconds=200, microseconds=250_000))]


def _same_both_ways(ledger, monkeypatch, pairs) -> list[dict]:
    """Each pair's receipt with nothing kept equals, byte for byte, the receipt made from kept
    state (first and second time, and from the kept state only)."""
    out = []
    for tid, at in pairs:
        with monkeypatch.context() as m:
            m.setattr(svc, "CACHING", False)
            plain = svc.service_receipt_json(ledger, tid, at)
            assert svc.service_receipt_json(ledger, tid, at, cached_only=True) is None
        first = svc.service_receipt_json(ledger, tid, at)
        again = svc.service_receipt_json(ledger, tid, at)
        kept = svc.service_receipt_json(ledger, tid, at, cached_only=True)
        assert kept is not None, (tid, at)
        assert plain == first == again == kept, (tid, at)
        out.append(ServiceReceipt.model_validate_json(plain).model_dump(exclude_unset=True))
    return out


def test_kept_state_gives_the_same_receipts(sq, monkeypatch, tmp_path):
    L = sq.ledger
    instants = sorted(_instants())
    pairs = [(tid, at) for at in instants for tid in (*(t[0] for t in TERMINALS), "nobody")]
    before = _same_both_ways(L, monkeypatch, pairs)
    assert {r["decision"] for r in before} >= {"served", "denied"}
    assert all(r["policy"] is None for r in before)
    # forbids the zone around Crimea from the third instant on (one view, two policy states)
    eff = instants[2]
    f = sq.proposal("alice", effective_utc=eff)
    policies.submit_proposal(L, "alice", f, sq.sign("alice", f))
    for a in ("bob", "carol"):
        policies.submit_approval(L, a, f["id"], sq.sign(a, f))
    after = _same_both_ways(L, monkeypatch, pairs)
    by = {(r["terminal"], r["at_utc"]): r for r in after}
    for (tid, at), r in zip(pairs, after, strict=True):
        assert r["tree_size"] == L.size()
        verify_receipt(r, verifier_key=L.verifier_key)
        if tid in ("kyiv", "crimea", "reykjavik"):  # the policy in force at the instant
            assert (r["policy"] is not None) == (at >= eff), (tid, at)
    crimea = [r for (tid, at), r in by.items()
              if tid == "crimea" and at >= eff and r["visible_satellites"]]
    assert crimea and all(r["decision"] == "denied" and "zone" in r["regions"] for r in crimea)
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(after[1]))
    assert main(["receipt", "verify", str(path), "--key", L.verifier_key]) == 0


def test_new_cosignatures_reach_the_next_receipt(sq, monkeypatch):
    """A witness's cosignature added to the latest checkpoint (the log does not grow) is in the
    next receipt, and again when a second witness cosigns the same checkpoint."""
    import time

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from skyfence.governance.log.checkpoint import parse_note
    from skyfence.governance.witness.client import store_witnessed
    from skyfence.governance.witness.cosignature import cosign

    L = sq.ledger
    pairs = [("kyiv", at) for at in _instants()[:2]]
    assert all(r.get("witnessed") is None for r in _same_both_ways(L, monkeypatch, pairs))
    with sq.db.read_session() as s:
        note = L.latest_checkpoint(s)
    body, _ = parse_note(note)
    seen = []
    for name in ("w1.example/witness", "w2.example/witness"):
        line = cosign(body, name, Ed25519PrivateKey.generate(), int(time.time()))
        with sq.db.write_session() as s:
            store_witnessed(s, note, [line], L.now_utc())
        docs = _same_both_ways(L, monkeypatch, pairs)
        for r in docs:
            assert r["witnessed"]["tree_size"] == r["tree_size"] == L.size()
            assert all(n in r["witnessed"]["checkpoint"] for n in [*seen, name])
            verify_receipt(r, verifier_key=L.verifier_key)
        seen.append(name)


def test_shortcut_answers_and_edits_are_refused(sq, monkeypatch):
    at = _instants()[0]
    key = {"X-API-Key": sq.api_keys["vic"]}
    with TestClient(create_app(sq.url, sq.log_key, db=sq.db)) as c:
        r = c.get("/service", params={"terminal": "kyiv", "at": at}, headers=key)
        assert r.status_code == 200
        assert r.content == svc.service_receipt_json(sq.ledger, "kyiv", at)
        # kept now: the middleware answers without the route
        with monkeypatch.context() as m:
            m.setattr(service_router, "_receipt_response", _route_must_not_run)
            r2 = c.get("/service", params={"terminal": "kyiv", "at": at}, headers=key)
            assert r2.status_code == 200 and r2.content == r.content
            assert r2.headers == r.headers
            r2 = c.get("/service", params={"at": at, "terminal": "kyiv"},
                       headers={"Authorization": "Bearer " + sq.api_keys["vic"]})
            assert r2.status_code == 200 and r2.content == r.content
        # what the shortcut does not answer goes to the route, with its answers
        r = c.get("/service", params={"terminal": "kyiv"}, headers={"X-API-Key": "nope"})
        assert r.status_code == 401 and "unknown API key" in r.json()["detail"]
        r = c.get("/service", params={"terminal": "kyiv"},
                  headers={"X-API-Key": sq.api_keys["op"], "Authorization": "Basic x"})
        assert r.status_code in (200, 403)
        for bad in ({"terminal": ""}, {"at": at}, {"terminal": "k" * 129},
                    {"terminal": "kyiv", "at": "x" * 65}):
            r = c.get("/service", params=bad, headers=key)
            assert r.status_code == 422, (bad, r.text)
        r = c.get("/service", params={"terminal": "kyiv", "at": "9999-12-31T00:00:00Z"},
                  headers=key)
        assert r.status_code == 422 and "validity" in r.json()["detail"]
        # a direct edit of the kept terminal's row: refused on the next request
        con = sqlite3.connect(sq.path)
        with con:
            con.execute("UPDATE terminals SET lat_deg = 45.0 WHERE id = 'kyiv'")
        r = c.get("/service", params={"terminal": "kyiv", "at": at}, headers=key)
        assert r.status_code == 503 and "kyiv" in r.json()["detail"]
        with con:
            con.execute("UPDATE terminals SET lat_deg = 50.45 WHERE id = 'kyiv'")
        assert c.get("/service", params={"terminal": "kyiv", "at": at},
                     headers=key).content == r2.content
        # a direct edit of a governance table: refused for every terminal
        with con:
            con.execute("UPDATE settings SET value = '1' WHERE key = 'quorum_k'")
        r = c.get("/service", params={"terminal": "crimea", "at": at}, headers=key)
        assert r.status_code == 503 and "quorum_k" in r.json()["detail"]
        con.close()


def _route_must_not_run(*_a, **_k):
    raise AssertionError("the route answered a request the shortcut should have")


def test_candidate_squares_miss_no_satellite():
    """Coverage from the satellites kept per 1-degree square equals the elevation of every
    satellite (count at or above the mask, highest elevation) anywhere, the poles included."""
    import numpy as np

    from skyfence.links.geometry import frame_elevations_deg

    rng = np.random.default_rng(3)
    at = "2026-05-01T12:00:00Z"
    sky = svc._POSITIONS.get("starlink", svc._t_ns(at))
    points = [(float(np.degrees(np.arcsin(rng.uniform(-1, 1)))), float(rng.uniform(-180, 180)))
              for _ in range(150)] + [(90.0, 0.0), (-90.0, 10.0), (89.99, 179.99), (0.0, -180.0),
                                      (50.999, 30.999), (51.0, 31.0)]
    for lat, lon in points:
        el = frame_elevations_deg(svc._frame(lat, lon), sky.r_km)
        for mask in (25.0, 40.0):
            n, top = svc.visible_satellites(lat, lon, at, min_elevation_deg=mask)
            assert n == int(np.count_nonzero(el >= mask)), (lat, lon, mask)
            assert top == pytest.approx(float(el.max()), abs=1e-9), (lat, lon)


def test_the_documented_receipt_is_the_served_one(sq):
    """OpenAPI's 200 answer of GET /service is `ServiceReceipt`, and a served body parses as one
    (every key known, none missing; `_same_both_ways` parses every receipt of these tests too)."""
    with TestClient(create_app(sq.url, sq.log_key, db=sq.db)) as c:
        spec = c.get("/openapi.json").json()
        body = spec["paths"]["/service"]["get"]["responses"]["200"]["content"]["application/json"]
        assert body["schema"]["$ref"].endswith("/ServiceReceipt")
        r = c.get("/service", params={"terminal": "kyiv", "at": _instants()[0]},
                  headers={"X-API-Key": sq.api_keys["vic"]})
        assert r.status_code == 200
        assert ServiceReceipt.model_validate_json(r.content).model_dump(exclude_unset=True) == r.json()
