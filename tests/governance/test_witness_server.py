"""The log server asks its witnesses for cosignatures itself (C2SP tlog-witness ``add-checkpoint``
after every write and at start-up), serves them on /checkpoint, and keeps accepting writes while a
witness is down."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from skyfence.api.app import create_app
from skyfence.api.witness_app import create_witness_app
from skyfence.errors import WitnessError
from skyfence.governance import policies, registry
from skyfence.governance.log.checkpoint import parse_checkpoint
from skyfence.governance.receipts import verify_receipt
from skyfence.governance.witness.background import policy_of_witnesses
from skyfence.governance.witness.cosignature import cosigner_signer_key, cosigner_vkey
from skyfence.governance.witness.policy import WitnessPolicy, parse_policy
from skyfence.governance.witness.state import WitnessState
from tests.governance.fixtures import free_port, make_plane, write_log_key

REPO = Path(__file__).resolve().parents[2]
WITNESS = "witness.test/w1"


class ThreadServer:
    """An ASGI app under uvicorn on a thread of this process (stopped and restarted at will)."""

    def __init__(self, app, port: int):
        self.app, self.port = app, port
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> ThreadServer:
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "witness did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def witnessed(tmp_path):
    """A plane (SQLite) whose log a witness on a uvicorn thread knows; yields (plane, witness
    server, witness vkey, the policy that requires the witness)."""
    p = make_plane(f"sqlite:///{tmp_path / 'gov.db'}")
    wkey = Ed25519PrivateKey.generate()
    (tmp_path / "w.key").write_text(cosigner_signer_key(WITNESS, wkey) + "\n")
    WitnessState(tmp_path / "w.db").add_log(p.ledger.verifier_key)
    srv = ThreadServer(create_witness_app(tmp_path / "w.db", tmp_path / "w.key"),
                       free_port()).start()
    vkey = cosigner_vkey(WITNESS, wkey)
    required = parse_policy(f"log {p.ledger.verifier_key}\nwitness w1 {vkey}\nquorum w1\n")
    yield p, srv, vkey, required
    srv.stop()
    p.db.dispose()


def _served_size(c, required: WitnessPolicy, key: str) -> tuple[int, bool]:
    """The size of the checkpoint served on /checkpoint and whether the witness cosigned it."""
    note = c.get("/checkpoint").text
    res = required.check(note, log_key=key)
    return res.size, res.quorum_met


def _wait_cosigned(c, required, key: str, size: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while _served_size(c, required, key) != (size, True):
        assert time.monotonic() < deadline, f"no cosignature of size {size} served"
        time.sleep(0.05)


def test_server_asks_the_witness_after_writes_and_survives_its_absence(witnessed):
    p, srv, vkey, required = witnessed
    url = f"http://127.0.0.1:{srv.port}"
    app = create_app(p.url, p.log_key, db=p.db,
                     witness_policy=policy_of_witnesses([url], [vkey]))
    L, cos = app.state.ledger, app.state.witness_cosigner
    key = L.verifier_key
    with TestClient(app) as c:
        _wait_cosigned(c, required, key, L.size())  # at start-up: the latest checkpoint
        registry.register_terminal(L, "op", "kyiv1", 50.45, 30.52, status="active")
        # a proposal enacted by two approvals: the served checkpoint is cosigned, no CLI run
        f = p.proposal("alice", title="witnessed")
        policies.submit_proposal(L, "alice", f, p.sign("alice", f))
        for a in ("bob", "carol"):
            out = policies.submit_approval(L, a, f["id"], p.sign(a, f))
        assert out["status"] == "enacted" and L.size() == out["enacted_index"] + 1
        _wait_cosigned(c, required, key, L.size())
        r = c.get("/service", params={"terminal": "kyiv1"},
                  headers={"X-API-Key": p.api_keys["vic"]})
        assert r.status_code == 200, r.text
        assert r.json()["witnessed"]["tree_size"] == L.size()
        assert any("cosigned by w1; quorum 'w1' met" in n
                   for n in verify_receipt(r.json(), witness_policy=required))
        # the witness goes down: writes still succeed, the checkpoint is served uncosigned
        srv.stop()
        rounds = cos.rounds
        registry.create_group(L, "op", "while-down")
        assert cos.wait_rounds(rounds + 1, 60) and cos.last.errors
        assert _served_size(c, required, key) == (L.size(), False)
        # back again: the next write (or the retry) gets the cosignature of the newest size
        srv.start()
        registry.create_group(L, "op", "after")
        _wait_cosigned(c, required, key, L.size())
        assert all(t >= 0 for t in cos.latencies_s) and len(cos.latencies_s) >= 2
        assert cos.running
    assert not cos.running  # the server's shutdown stopped the cosigner's thread
    assert cos.notify not in L.on_grow


def test_witness_is_asked_again_without_a_write(witnessed):
    """A witness that was down cosigns once it is back, at the next retry, with no write."""
    p, srv, vkey, required = witnessed
    srv.stop()
    app = create_app(p.url, p.log_key, db=p.db, witness_policy=policy_of_witnesses(
        [f"http://127.0.0.1:{srv.port}"], [vkey]))
    cos = app.state.witness_cosigner
    cos.retry_s = 0.2
    with TestClient(app) as c:
        assert cos.wait_rounds(1, 60) and cos.last.errors
        srv.start()
        _wait_cosigned(c, required, app.state.ledger.verifier_key, app.state.ledger.size())
    assert not cos.running


def test_policy_of_witnesses_pairs_urls_and_keys():
    k = cosigner_vkey(WITNESS, Ed25519PrivateKey.generate())
    pol = policy_of_witnesses(["http://127.0.0.1:1/w"], [k])
    assert [(w.name, w.url) for w in pol.witness_urls()] == [(WITNESS, "http://127.0.0.1:1/w")]
    with pytest.raises(WitnessError, match="one --witness-key per --witness"):
        policy_of_witnesses(["http://a", "http://b"], [k])


def test_serve_with_witness_options_cosigns_at_start(witnessed, tmp_path):
    """``skyfence serve --witness URL --witness-key VKEY`` (a subprocess): the checkpoint it
    serves carries the witness's cosignature, without ``skyfence witness cosign``; a write over
    HTTP is cosigned too."""
    p, srv, vkey, required = witnessed
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "skyfence.cli", "serve", "--db", p.url, "--port", str(port),
           "--log-key", str(write_log_key(tmp_path / "log.key", p.log_key)),
           "--witness", f"http://127.0.0.1:{srv.port}", "--witness-key", vkey]
    proc = subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        key = p.ledger.verifier_key
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no cosigned checkpoint served"
            try:
                if _served_size(_Base(base), required, key) == (p.ledger.size(), True):
                    break
            except (httpx.HTTPError, WitnessError):
                pass
            time.sleep(0.1)
        r = httpx.post(base + "/groups", json={"name": "over-http"},
                       headers={"X-API-Key": p.api_keys["op"]}, timeout=30)
        assert r.status_code == 201, r.text
        size = parse_checkpoint(httpx.get(base + "/checkpoint").text).size
        assert size == p.ledger.size()
        _wait_cosigned(_Base(base), required, key, size)
    finally:
        proc.kill()
        proc.wait(10)


class _Base:
    """``get(path)`` on a server URL (what `_served_size` needs of a client)."""

    def __init__(self, base: str):
        self.base = base

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10)
