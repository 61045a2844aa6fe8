"""Witness cosigning latency per checkpoint (C2SP tlog-witness ``add-checkpoint``).

Measured in one run, with references in the same process:

1. in process: `Witness.add_checkpoint` (parse, verify the log's Ed25519 signature, verify the
   consistency proof, compare-and-swap in the witness's SQLite with ``synchronous=FULL``, cosign)
   per checkpoint of a growing log, against its floor: one Ed25519 verify + one Ed25519 sign of
   the same bytes and one durable SQLite commit on the same disk (references);
2. over HTTP on loopback: ``skyfence witness serve`` as a subprocess, one keep-alive client,
   median and 95th percentile per checkpoint;
3. the log's side: `Witnessing.cosign_latest` with 3 in-process witnesses (request, verify the
   cosignatures, store the cosigned note in a governance database) per checkpoint, over an
   in-memory tree standing for the ledger;
4. the log server's own cosigning (`WitnessCosigner`, what ``skyfence serve --witness`` runs): a
   real ledger's write wakes the background thread; per checkpoint, commit -> cosignature of a
   ``skyfence witness serve`` subprocess stored, and the writer's latency with the cosigner
   against the same writes without it.

Usage: .venv/bin/python benchmarks/witness.py [--checkpoints 300]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skyfence.governance.log.checkpoint import sign_checkpoint, verifier_key
from skyfence.governance.log.tree import MerkleLog
from skyfence.governance.witness.cosignature import cosigner_signer_key, cosigner_vkey
from skyfence.governance.witness.protocol import Witness, add_checkpoint_body
from skyfence.governance.witness.state import WitnessState

ORIGIN = "bench.skyfence/log"
REPO = Path(__file__).resolve().parents[1]


def _stream(n: int, step: int) -> tuple[MerkleLog, list[bytes], Ed25519PrivateKey]:
    """A log key, a tree of n*step leaves and the add-checkpoint bodies of sizes step, 2*step..."""
    key = Ed25519PrivateKey.generate()
    tree = MerkleLog()
    tree.extend(b"entry %d" % i for i in range(n * step))
    bodies, old = [], 0
    for k in range(1, n + 1):
        size = k * step
        note = sign_checkpoint(ORIGIN, size, tree.root(size), key)
        proof = tree.consistency_proof(old, size) if old else []
        bodies.append(add_checkpoint_body(old, proof, note))
        old = size
    return tree, bodies, key


def _ms(xs: list[float]) -> str:
    q = statistics.quantiles(xs, n=20)
    return f"median {statistics.median(xs) * 1e3:.3f} ms, p95 {q[18] * 1e3:.3f} ms"


def in_process(n: int, tmp: Path) -> float:
    _, bodies, key = _stream(n, 7)
    state = WitnessState(tmp / "inproc.db")
    state.add_log(verifier_key(ORIGIN, key))
    w = Witness(state, "bench.skyfence/w", Ed25519PrivateKey.generate())
    # references, interleaved with the requests (same disk, same moment): the two Ed25519
    # operations every cosignature needs, and one durable commit (WAL, synchronous=FULL)
    import sqlite3

    con = sqlite3.connect(tmp / "commit.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
    times, ref, commits = [], [], []
    for i, b in enumerate(bodies):
        t0 = time.perf_counter()
        r = w.add_checkpoint(b)
        times.append(time.perf_counter() - t0)
        assert r.status == 200, r.body
        sig = key.sign(b)
        t0 = time.perf_counter()
        key.public_key().verify(sig, b)
        w.private_key.sign(b)
        ref.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT OR REPLACE INTO t VALUES (1, ?)", (b[:300] + b"%d" % i,))
        con.execute("COMMIT")
        commits.append(time.perf_counter() - t0)
    con.close()
    med, ref_med, c_med = (statistics.median(x) for x in (times, ref, commits))
    print(f"in process add-checkpoint ({n} checkpoints): {_ms(times)}")
    print(f"  reference Ed25519 verify+sign: median {ref_med * 1e3:.3f} ms; one durable SQLite "
          f"commit: median {c_med * 1e3:.3f} ms; add-checkpoint / (both) = "
          f"{med / (ref_med + c_med):.2f}x")
    return med


def _witness_process(tmp: Path, name: str, log_vkey: str) -> tuple[subprocess.Popen, str, str]:
    """``skyfence witness serve`` (subprocess) knowing the log `log_vkey`, ready to answer:
    (process, base URL, its cosigner vkey)."""
    import socket

    wkey = Ed25519PrivateKey.generate()
    (tmp / f"{name}.key").write_text(cosigner_signer_key(f"{name}.skyfence/w", wkey) + "\n")
    WitnessState(tmp / f"{name}.db").add_log(log_vkey)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "skyfence.cli", "witness", "serve", "--key",
                             str(tmp / f"{name}.key"), "--db", str(tmp / f"{name}.db"),
                             "--port", str(port)], cwd=REPO, stdout=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(base + "/", timeout=1.0)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    return proc, base, cosigner_vkey(f"{name}.skyfence/w", wkey)


def _end(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)


def over_http(n: int, tmp: Path) -> None:
    _, bodies, key = _stream(n, 7)
    proc, base, _ = _witness_process(tmp, "http", verifier_key(ORIGIN, key))
    try:
        times = []
        with httpx.Client(timeout=10.0) as c:
            for b in bodies:
                t0 = time.perf_counter()
                r = c.post(base + "/add-checkpoint", content=b)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
            ping = []
            for _ in range(n):
                t0 = time.perf_counter()
                c.get(base + "/")
                ping.append(time.perf_counter() - t0)
        print(f"over HTTP (loopback, keep-alive): {_ms(times)}")
        print(f"  reference GET / on the same server: median "
              f"{statistics.median(ping) * 1e3:.3f} ms")
    finally:
        _end(proc)


def server_side(n: int, tmp: Path) -> None:
    """The log server's own cosigning (`WitnessCosigner`): a real `Ledger` (SQLite) whose writes
    wake the background thread, one ``skyfence witness serve`` subprocess; per checkpoint, the
    time from the write's commit to the witness's cosignature stored, and the writer's own
    latency with the cosigner running against the same writes without it (same process)."""
    from skyfence.governance import registry
    from skyfence.governance.db import init_db
    from skyfence.governance.keys import public_key_bytes
    from skyfence.governance.ledger import Ledger
    from skyfence.governance.rules.membership import genesis_message, make_genesis
    from skyfence.governance.witness.background import WitnessCosigner, policy_of_witnesses

    def founded(name: str) -> Ledger:
        L = Ledger(init_db(f"sqlite:///{tmp / name}"), Ed25519PrivateKey.generate(),
                   origin=ORIGIN)
        keys = {p: Ed25519PrivateKey.generate() for p in ("a", "b", "c")}
        doc = make_genesis(L.origin, L.verifier_key, [
            {"id": p, "roles": ["approver", "operator"], "public_key": public_key_bytes(k).hex()}
            for p, k in keys.items()], quorum=2)
        L.genesis(doc, {p: k.sign(genesis_message(doc)).hex() for p, k in keys.items()})
        return L

    def write(L: Ledger, i: int) -> float:
        t0 = time.perf_counter()
        registry.create_group(L, "a", f"g{i}")
        return time.perf_counter() - t0

    plain = founded("plain.db")
    L = founded("served.db")
    proc, base, wvkey = _witness_process(tmp, "served", L.verifier_key)
    try:
        cos = WitnessCosigner(L, policy_of_witnesses([base], [wvkey])).start()
        assert cos.wait_rounds(1, 60) and not cos.last.errors, cos.last
        cos.latencies_s.clear()
        ref, mine = [], []
        for i in range(n):
            ref.append(write(plain, i))
            rounds = cos.rounds
            mine.append(write(L, i))
            while len(cos.latencies_s) < i + 1:
                assert cos.wait_rounds(rounds + 1, 60), "no cosigning round"
                assert not cos.last.errors, cos.last.errors
                rounds = cos.rounds
        cos.stop()
    finally:
        _end(proc)
    print(f"server side, WitnessCosigner + 1 witness subprocess ({n} checkpoints): write commit "
          f"-> cosignature stored: {_ms(cos.latencies_s)}")
    print(f"  the writer's own latency: {_ms(mine)} with the cosigner, {_ms(ref)} without "
          f"(ratio of medians {statistics.median(mine) / statistics.median(ref):.2f})")


class _BenchLog:
    """The part of a `Ledger` that `Witnessing` reads (latest checkpoint, consistency proofs,
    clock) over an in-memory tree, with a real governance database for the cosigned notes."""

    def __init__(self, db, key: Ed25519PrivateKey):
        self.db, self.key, self.tree = db, key, MerkleLog()
        self.verifier_key = verifier_key(ORIGIN, key)

    def grow(self, k: int) -> None:
        self.tree.extend(b"entry %d" % (self.tree.size + i) for i in range(k))

    def latest_checkpoint(self, _s) -> str:
        return sign_checkpoint(ORIGIN, self.tree.size, self.tree.root(), self.key)

    def consistency_proof(self, _s, old: int, new: int) -> list[bytes]:
        return self.tree.consistency_proof(old, new)

    def now_utc(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def log_side(n: int, tmp: Path) -> None:
    from skyfence.governance.db import init_db
    from skyfence.governance.witness.client import Witnessing
    from skyfence.governance.witness.policy import parse_policy

    db = init_db(f"sqlite:///{tmp / 'gov.db'}")
    log = _BenchLog(db, Ed25519PrivateKey.generate())
    witnesses, lines = {}, [f"log {log.verifier_key}"]
    for i in range(3):
        st = WitnessState(tmp / f"w{i}.db")
        st.add_log(log.verifier_key)
        w = Witness(st, f"w{i}.bench/w", Ed25519PrivateKey.generate())
        witnesses[f"w{i}.bench"] = w
        lines.append(f"witness W{i} {cosigner_vkey(w.name, w.private_key)} http://w{i}.bench")
    pol = parse_policy("\n".join([*lines, "group G 2 W0 W1 W2", "quorum G"]) + "\n")

    def handler(request: httpx.Request) -> httpx.Response:
        r = witnesses[request.url.host].add_checkpoint(request.content)
        return httpx.Response(r.status, text=r.body, headers={"content-type": r.content_type})

    wit = Witnessing(log, pol, http=httpx.Client(transport=httpx.MockTransport(handler)))
    times = []
    for _ in range(n):
        log.grow(7)
        t0 = time.perf_counter()
        res = wit.cosign_latest()
        times.append(time.perf_counter() - t0)
        assert len(res.cosigned_by) == 3, res.errors
    db.dispose()
    print(f"log side, 3 witnesses in process (3 witness commits + 1 log commit), per "
          f"checkpoint: {_ms(times)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoints", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        in_process(args.checkpoints, tmp)
        over_http(args.checkpoints, tmp)
        log_side(min(args.checkpoints, 100), tmp)
        server_side(min(args.checkpoints, 100), tmp)


if __name__ == "__main__":
    main()
