"""Witnesses: C2SP tlog-cosignature lines, the tlog-witness add-checkpoint answers, split views,
tlog-policy files and quorums, the log's side (cosigning its checkpoints, ``skyfence verify
--witness-policy``), and a witness killed with SIGKILL during add-checkpoint."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from skyfence.errors import VerificationError, WitnessError
from skyfence.governance.keys import public_key_bytes
from skyfence.governance.log.checkpoint import parse_note, sign_checkpoint, verifier_key
from skyfence.governance.log.hasher import EMPTY_ROOT
from skyfence.governance.log.tree import MerkleLog
from skyfence.governance.witness.cosignature import (
    add_cosignatures,
    cosign,
    cosignatures,
    cosigned_message,
    cosigner_key_id,
    cosigner_signer_key,
    cosigner_vkey,
    parse_cosigner_signer_key,
    parse_cosigner_vkey,
)
from skyfence.governance.witness.fork import detect_fork
from skyfence.governance.witness.policy import parse_policy
from skyfence.governance.witness.protocol import (
    SIZE_CONTENT_TYPE,
    Witness,
    add_checkpoint_body,
    parse_add_checkpoint,
)
from skyfence.governance.witness.state import WitnessState
from tests.governance.fixtures import REPO, free_port, make_plane

ORIGIN = "example.org/log"
LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
LOG_VKEY = verifier_key(ORIGIN, LOG_KEY)
T0 = 1_700_000_000


def tree_of(n: int, tag: bytes = b"e") -> MerkleLog:
    t = MerkleLog()
    t.extend(tag + b"%d" % i for i in range(n))
    return t


def note_of(tree: MerkleLog, size: int, key: Ed25519PrivateKey = LOG_KEY,
            origin: str = ORIGIN) -> str:
    return sign_checkpoint(origin, size, tree.root(size), key)


def forked(n_common: int, n: int) -> MerkleLog:
    """A tree whose first `n_common` leaves are those of `tree_of`, the rest different."""
    t = MerkleLog()
    t.extend(b"e%d" % i for i in range(n_common))
    t.extend(b"fork%d" % i for i in range(n_common, n))
    return t


@pytest.fixture
def witness(tmp_path) -> Witness:
    state = WitnessState(tmp_path / "w.db")
    state.add_log(LOG_VKEY)
    return Witness(state, "witness.example/w1", Ed25519PrivateKey.generate(), clock=lambda: T0)


def add(w: Witness, old: int, proof, note: str):
    return w.add_checkpoint(add_checkpoint_body(old, proof, note))


# --------------------------------------------------------------------------- cosignatures


def test_cosignature_key_id_and_message_follow_tlog_cosignature():
    key = Ed25519PrivateKey.generate()
    raw = public_key_bytes(key)
    assert cosigner_key_id("w.example/1", key) == hashlib.sha256(
        b"w.example/1\n\x04" + raw).digest()[:4]
    vkey = cosigner_vkey("w.example/1", key)
    name, kid, b64 = vkey.split("+", 2)
    assert (name, kid) == ("w.example/1", cosigner_key_id("w.example/1", key).hex())
    assert base64.b64decode(b64) == b"\x04" + raw
    assert parse_cosigner_vkey(vkey).raw == raw
    assert public_key_bytes(parse_cosigner_signer_key(cosigner_signer_key("w.example/1", key))[1]) \
        == raw
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert cosigned_message(body, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
    line = cosign(body, "w.example/1", key, 1679315147)
    blob = base64.b64decode(line.split(" ")[2])
    assert blob[:4] == cosigner_key_id("w.example/1", key)
    assert struct.unpack(">Q", blob[4:12])[0] == 1679315147 and len(blob) == 4 + 8 + 64
    key.public_key().verify(blob[12:], cosigned_message(body, 1679315147))
    # a checkpoint (log) vkey is type 0x01, not a cosigner key
    with pytest.raises(WitnessError, match="0x04"):
        parse_cosigner_vkey(LOG_VKEY)


def test_cosignature_round_trip_and_every_byte_flip_fails():
    key = Ed25519PrivateKey.generate()
    note = note_of(tree_of(5), 5)
    body, _ = parse_note(note)
    line = cosign(body, "w.example/1", key, T0)
    cosigned = add_cosignatures(note, line)
    got = cosignatures(cosigned, [cosigner_vkey("w.example/1", key)])
    assert got["w.example/1"].timestamp == T0
    # ignored: a key that did not cosign; the log's own signature line is not a cosignature
    assert cosignatures(cosigned, [cosigner_vkey("other/w", Ed25519PrivateKey.generate())]) == {}
    blob = bytearray(base64.b64decode(line.split(" ")[2].strip()))
    for i in range(4, len(blob)):  # timestamp and signature bytes
        bad = bytearray(blob)
        bad[i] ^= 0x01
        bad_line = f"\u2014 w.example/1 {base64.b64encode(bytes(bad)).decode()}\n"
        with pytest.raises(WitnessError, match="does not verify|2\\*\\*63"):
            cosignatures(note + bad_line, [cosigner_vkey("w.example/1", key)])
    for i in range(len(body)):  # every byte of the checkpoint body
        flipped = body[:i] + chr(ord(body[i]) ^ 0x01) + body[i + 1:]
        if "\n" in flipped[i] or flipped.count("\n") != body.count("\n"):
            continue
        with pytest.raises(WitnessError):
            cosignatures(flipped + "\n" + line, [cosigner_vkey("w.example/1", key)])


# --------------------------------------------------------------------------- add-checkpoint


def test_add_checkpoint_request_parsing():
    proof = [hashlib.sha256(b"%d" % i).digest() for i in range(3)]
    req = parse_add_checkpoint(add_checkpoint_body(7, proof, "x\n"))
    assert (req.old_size, list(req.proof), req.checkpoint) == (7, proof, "x\n")
    for bad in (b"old 07\n\nx", b"old 1\nx", b"old -1\n\nx", b"new 1\n\nx", b"old 1",
                b"old 1\nAAAA\n\nx", b"old 1\n" + b"A" * 44 + b"\n\nx", b"\xff\n\n",
                add_checkpoint_body(1, proof * 22, "x\n")):
        with pytest.raises(ValueError):
            parse_add_checkpoint(bad)


def test_first_checkpoint_then_consistent_growth(witness):
    t = tree_of(20)
    r = add(witness, 0, [], note_of(t, 5))
    assert r.status == 200 and r.body.startswith("\u2014 witness.example/w1 ")
    got = cosignatures(note_of(t, 5) + r.body, [witness.vkey])
    assert got["witness.example/w1"].timestamp == T0
    r = add(witness, 5, t.consistency_proof(5, 13), note_of(t, 13))
    assert r.status == 200
    latest = witness.state.latest(ORIGIN)
    assert (latest.size, latest.root) == (13, t.root(13))
    assert cosignatures(latest.note, [witness.vkey])  # served with the witness's cosignature
    assert add(witness, 13, [], note_of(t, 13)).status == 200  # same tree again: cosigned


def test_unknown_log_is_404(witness):
    other = Ed25519PrivateKey.generate()
    r = add(witness, 0, [], sign_checkpoint("other.org/log", 3, tree_of(3).root(), other))
    assert r.status == 404


def test_bad_signature_is_403(witness):
    t = tree_of(4)
    note = note_of(t, 4)
    body, sigs = parse_note(note)
    blob = bytearray(sigs[0].key_hash + sigs[0].signature)
    blob[10] ^= 1
    broken = body + f"\n\u2014 {ORIGIN} {base64.b64encode(bytes(blob)).decode()}\n"
    assert add(witness, 0, [], broken).status == 403
    # signed only by a key the witness does not trust for that origin
    assert add(witness, 0, [], note_of(t, 4, key=Ed25519PrivateKey.generate())).status == 403
    assert witness.state.latest(ORIGIN) is None


def test_wrong_old_size_is_409_with_the_current_size(witness):
    t = tree_of(10)
    assert add(witness, 0, [], note_of(t, 6)).status == 200
    for old in (0, 3, 7):
        r = add(witness, old, t.consistency_proof(old, 10) if old else [], note_of(t, 10))
        assert (r.status, r.body, r.content_type) == (409, "6\n", SIZE_CONTENT_TYPE)
    assert witness.state.latest(ORIGIN).size == 6


def test_older_checkpoint_is_refused(witness):
    t = tree_of(10)
    assert add(witness, 0, [], note_of(t, 8)).status == 200
    assert add(witness, 8, [], note_of(t, 5)).status == 400  # old size > checkpoint size
    assert add(witness, 0, [], note_of(t, 5)).status == 409  # the witness is at 8
    assert witness.state.latest(ORIGIN).size == 8


def test_inconsistent_proof_is_422(witness):
    t = tree_of(16)
    assert add(witness, 0, [], note_of(t, 5)).status == 200
    good = t.consistency_proof(5, 11)
    bad = [good[0], hashlib.sha256(b"x").digest(), *good[2:]]
    assert add(witness, 5, bad, note_of(t, 11)).status == 422
    assert add(witness, 5, good[:-1], note_of(t, 11)).status == 422  # too short
    assert add(witness, 5, t.consistency_proof(5, 12), note_of(t, 11)).status == 422
    other = forked(3, 11)  # a history that rewrote leaves 3 and 4
    assert add(witness, 5, other.consistency_proof(5, 11), note_of(other, 11)).status == 422
    assert witness.state.latest(ORIGIN).size == 5
    assert add(witness, 5, good, note_of(t, 11)).status == 200


def test_empty_tree_rules(witness):
    assert add(witness, 0, [], sign_checkpoint(ORIGIN, 0, hashlib.sha256(b"x").digest(),
                                               LOG_KEY)).status == 422
    t = tree_of(3)
    assert add(witness, 0, [t.leaf_hash(0)], note_of(t, 3)).status == 422  # proof from size 0
    assert add(witness, 0, [], sign_checkpoint(ORIGIN, 0, EMPTY_ROOT, LOG_KEY)).status == 200
    assert add(witness, 0, [], note_of(t, 3)).status == 200  # empty tree: consistent with all


def test_malformed_request_is_400(witness):
    assert witness.add_checkpoint(b"old 0\n\nnot a checkpoint\n").status == 400
    assert witness.add_checkpoint(b"garbage").status == 400


def test_http_service_answers_as_specified(tmp_path):
    from skyfence.api.witness_app import create_witness_app

    key = Ed25519PrivateKey.generate()
    (tmp_path / "w.key").write_text(cosigner_signer_key("w.example/1", key) + "\n")
    WitnessState(tmp_path / "w.db").add_log(LOG_VKEY)
    app = create_witness_app(tmp_path / "w.db", tmp_path / "w.key")
    t = tree_of(9)
    with TestClient(app) as c:
        r = c.post("/add-checkpoint", content=add_checkpoint_body(0, [], note_of(t, 4)))
        assert r.status_code == 200 and cosignatures(note_of(t, 4) + r.text,
                                                     [cosigner_vkey("w.example/1", key)])
        r = c.post("/add-checkpoint", content=add_checkpoint_body(0, [], note_of(t, 9)))
        assert (r.status_code, r.text) == (409, "4\n")
        assert r.headers["content-type"] == SIZE_CONTENT_TYPE
        origin_hash = hashlib.sha256(ORIGIN.encode()).hexdigest()
        r = c.get(f"/{origin_hash}/checkpoint")
        assert r.status_code == 200 and r.text.startswith(f"{ORIGIN}\n4\n")
        assert cosignatures(r.text, [cosigner_vkey("w.example/1", key)])
        assert c.get(f"/{hashlib.sha256(b'x').hexdigest()}/checkpoint").status_code == 404
        assert c.get("/").text.startswith("witness w.example/1+")


def test_compare_and_swap_across_connections(tmp_path):
    """Racing requests with the same old size on two connections to one witness database: each
    size is cosigned once from old 0, the others get 409, and the stored size never goes back."""
    t = tree_of(64)
    states = [WitnessState(tmp_path / "w.db") for _ in range(2)]
    states[0].add_log(LOG_VKEY)
    ws = [Witness(st, "witness.example/w1", Ed25519PrivateKey.generate()) for st in states]
    answers: list[tuple[int, int]] = []
    barrier = threading.Barrier(8)

    def send(k: int) -> None:
        barrier.wait()
        r = add(ws[k % 2], 0, [], note_of(t, 10 + k))
        answers.append((r.status, 10 + k))

    threads = [threading.Thread(target=send, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    ok = [n for status, n in answers if status == 200]
    assert len(ok) == 1 and sorted(s for s, _ in answers) == [200] + [409] * 7
    assert states[1].latest(ORIGIN).size == ok[0]


# --------------------------------------------------------------------------- split views


def test_split_view_is_caught_by_the_witness_and_by_a_verifier(witness):
    honest, evil = tree_of(6), forked(4, 6)
    seen_by_auditor, seen_by_owner = note_of(honest, 6), note_of(evil, 6)
    assert add(witness, 0, [], seen_by_auditor).status == 200
    # the log shows the other checkpoint of the same size to a second party: the witness refuses
    r = add(witness, 0, [], seen_by_owner)
    assert (r.status, r.body) == (409, "6\n")
    assert add(witness, 6, [], seen_by_owner).status == 422
    assert witness.state.latest(ORIGIN).root == honest.root(6)
    # a verifier holding both checkpoints reports the fork, naming the sizes
    fork = detect_fork(seen_by_auditor, seen_by_owner, log_keys=[LOG_VKEY])
    assert fork is not None and (fork.size_a, fork.size_b) == (6, 6)
    assert "sizes 6 and 6" in fork.message()
    # a larger checkpoint from the forked history: no valid proof from the honest one exists
    later = note_of(evil, 6)
    grown = forked(4, 9)
    fork = detect_fork(seen_by_auditor, note_of(grown, 9), grown.consistency_proof(6, 9))
    assert fork is not None and "sizes 6 and 9" in fork.message()
    assert detect_fork(seen_by_auditor, note_of(tree_of(9), 9),
                       tree_of(9).consistency_proof(6, 9)) is None
    assert detect_fork(later, later) is None
    with pytest.raises(WitnessError, match="consistency proof is needed"):
        detect_fork(seen_by_auditor, note_of(tree_of(9), 9))
    # the empty tree: consistent with every tree without a proof, unless its root is not empty
    empty = sign_checkpoint(ORIGIN, 0, EMPTY_ROOT, LOG_KEY)
    assert detect_fork(empty, seen_by_auditor) is None
    fork = detect_fork(sign_checkpoint(ORIGIN, 0, honest.root(6), LOG_KEY), seen_by_auditor)
    assert fork is not None and "sizes 0 and 6" in fork.message()


# --------------------------------------------------------------------------- policies


def _wkeys(n: int) -> list[tuple[str, Ed25519PrivateKey]]:
    return [(f"w{i}.example/w", Ed25519PrivateKey.generate()) for i in range(n)]


def _policy_text(wk, extra: str = "") -> str:
    lines = [f"log {LOG_VKEY}", "# witnesses", *(
        f"witness W{i}\t{cosigner_vkey(n, k)}  https://w{i}.example/" for i, (n, k) in
        enumerate(wk))]
    return "\n".join(lines) + "\n" + extra


def test_policy_parsing_and_quorum():
    wk = _wkeys(6)
    pol = parse_policy(_policy_text(wk, "group X 2 W0 W1 W2\ngroup Y any W3 W4 W5\n"
                                        "  group XY all X Y  \nquorum XY\n"))
    assert pol.quorum == "XY" and pol.groups["XY"] == (2, ("X", "Y"))
    assert [w.url for w in pol.witness_urls()][0] == "https://w0.example/"
    assert pol.satisfied("XY", {"W0", "W2", "W5"})
    assert not pol.satisfied("XY", {"W0", "W3", "W4"})
    assert not pol.satisfied("XY", {"W0", "W1"})
    t = tree_of(7)
    note = note_of(t, 7)
    body, _ = parse_note(note)

    def cosigned(idx):
        return add_cosignatures(note, [cosign(body, wk[i][0], wk[i][1], T0) for i in idx])

    res = pol.check(cosigned([0, 1, 4]))
    assert res.quorum_met and set(res.cosigned_by) == {"W0", "W1", "W4"}
    assert res.log_signers == (ORIGIN,) and res.size == 7
    res = pol.check(cosigned([0, 3, 4]))
    assert not res.quorum_met and "NOT met" in res.summary()
    assert parse_policy(_policy_text(wk, "quorum none\n")).check(note).quorum_met
    with pytest.raises(WitnessError, match="not signed by an accepted log"):
        pol.check(note_of(t, 7, key=Ed25519PrivateKey.generate()))


@pytest.mark.parametrize("extra, match", [
    ("", "no quorum line"),
    ("quorum W0\nquorum W1\n", "second quorum"),
    ("quorum Z\n", "not a witness or group"),
    ("group G 2 W0\nquorum G\n", "outside 1..1"),
    ("group G 0 W0\nquorum G\n", "threshold"),
    ("group G any W0 W0\nquorum G\n", "more than once"),
    ("group G any none\nquorum G\n", "not a witness or group"),
    ("group G any Z W0\nquorum G\n", "'Z'"),
    ("group W0 any W1\nquorum W0\n", "defined twice"),
    ("witness none {v}\nquorum none\n", "reserved"),
    ("witness W9 {v}\nquorum none\n", "duplicate witness key"),
    (f"log {LOG_VKEY}\nquorum none\n", "duplicate log key"),
    ("frobnicate\nquorum none\n", "unknown keyword"),
    ("quorum none\x0b\n", "control character"),
])
def test_policy_errors(extra, match):
    wk = _wkeys(2)
    extra = extra.replace("{v}", cosigner_vkey(*wk[0]))
    with pytest.raises(WitnessError, match=match):
        parse_policy(_policy_text(wk, extra))


# --------------------------------------------------------------------------- the log's side


def test_log_obtains_cosignatures_and_verify_checks_the_policy(tmp_path):
    from skyfence.api.app import create_app
    from skyfence.cli import main
    from skyfence.governance.audit import load_log, verify_command
    from skyfence.governance.witness.client import Witnessing

    plane = make_plane(f"sqlite:///{tmp_path / 'gov.db'}")
    log_vkey = plane.ledger.verifier_key
    wk = _wkeys(3)
    witnesses = {}
    for i, (name, key) in enumerate(wk):
        st = WitnessState(tmp_path / f"w{i}.db")
        st.add_log(log_vkey)
        witnesses[f"w{i}.test"] = Witness(st, name, key)

    def handler(request: httpx.Request) -> httpx.Response:
        r = witnesses[request.url.host].add_checkpoint(request.content)
        return httpx.Response(r.status, text=r.body, headers={"content-type": r.content_type})

    lines = [f"log {log_vkey}", *(f"witness W{i} {cosigner_vkey(n, k)} http://w{i}.test"
                                  for i, (n, k) in enumerate(wk)),
             "group G 2 W0 W1 W2", "quorum G"]
    (tmp_path / "policy").write_text("\n".join(lines[:3]) + "\n" + f"witness W2 "
                                     f"{cosigner_vkey(*wk[2])}\n" + "\n".join(lines[4:]) + "\n")
    pol = parse_policy((tmp_path / "policy").read_text())
    http = httpx.Client(transport=httpx.MockTransport(handler))
    wit = Witnessing(plane.ledger, pol, http=http)
    res = wit.cosign_latest()
    assert res.cosigned_by == ["W0", "W1"] and not res.errors  # W2 has no URL here
    assert pol.check(res.note).quorum_met
    from skyfence.governance import registry

    registry.create_group(plane.ledger, "op", "g1")
    res2 = wit.cosign_latest()  # from each witness's size, with a consistency proof
    assert res2.size > res.size and res2.cosigned_by == ["W0", "W1"]
    wit.sizes.clear()  # a restarted log: the witnesses' 409 answers give their sizes
    registry.create_group(plane.ledger, "op", "g2")
    assert wit.cosign_latest().cosigned_by == ["W0", "W1"]
    db_file = str(tmp_path / "gov.db")
    rep = verify_command(db_file, witness_policy=tmp_path / "policy")
    assert rep.ok
    # the tlog-tiles /checkpoint serves the latest checkpoint with its cosignatures
    with TestClient(create_app(plane.url, plane.log_key, db=plane.db)) as c:
        served = c.get("/checkpoint").text
    assert set(pol.check(served).cosigned_by) == {"W0", "W1"}
    # a policy needing all three witnesses fails, naming the quorum
    (tmp_path / "strict").write_text((tmp_path / "policy").read_text().replace("G 2", "G all"))
    with pytest.raises(VerificationError, match="quorum 'G' NOT met"):
        verify_command(db_file, witness_policy=tmp_path / "strict")
    assert main(["verify", db_file, "--witness-policy", str(tmp_path / "policy")]) == 0
    assert main(["verify", db_file, "--witness-policy", str(tmp_path / "strict")]) == 2
    # a checkpoint cosigned by the witnesses that the entries contradict is a split view
    from skyfence.governance.witness.verify import check_witnessed

    export = load_log(db_file)
    tampered = dict(export, entries=list(export["entries"]))
    tampered["entries"][1] = export["entries"][2]
    with pytest.raises(VerificationError, match="split view"):
        check_witnessed(tampered, served, pol, log_key=log_vkey)
    # a witness that the log showed another tree: its refusal is reported, not a cosignature
    bad = Witnessing(plane.ledger, pol, http=http)
    witnesses["w0.test"].state.advance(
        plane.ledger.origin, lambda size, root: (size, hashlib.sha256(b"other").digest(), "x"))
    registry.create_group(plane.ledger, "op", "g3")
    res = bad.cosign_latest()
    assert res.cosigned_by == ["W1"] and "HTTP 422" in res.errors["W0"]
    plane.db.dispose()


# --------------------------------------------------------------------------- kill -9


def _start_witness(tmp_path: Path, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "skyfence.cli", "witness", "serve", "--key",
           str(tmp_path / "w.key"), "--db", str(tmp_path / "w.db"), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("witness did not start")


def test_kill_9_during_add_checkpoint_leaves_old_or_new_size(tmp_path):
    from skyfence.cli import main

    assert main(["witness", "init", "w.example/kill", "--key", str(tmp_path / "w.key"),
                 "--db", str(tmp_path / "w.db")]) == 0
    assert main(["witness", "add-log", LOG_VKEY, "--db", str(tmp_path / "w.db")]) == 0
    t = tree_of(2000)
    notes = {n: note_of(t, n) for n in range(1, 2001)}
    rng = random.Random(7)
    port = free_port()
    stored = 0
    for _cycle in range(3):  # each cycle: serve, send a stream of checkpoints, SIGKILL, restart
        proc = _start_witness(tmp_path, port)
        acked: list[int] = []

        def fire(start: int, acked: list[int]) -> None:
            old = start
            with httpx.Client(timeout=5.0) as c:
                for n in range(start + 1, 2001):
                    proof = t.consistency_proof(old, n) if old else []
                    try:
                        r = c.post(f"http://127.0.0.1:{port}/add-checkpoint",
                                   content=add_checkpoint_body(old, proof, notes[n]))
                    except httpx.HTTPError:
                        return  # killed
                    assert r.status_code == 200, r.text
                    acked.append(n)
                    old = n

        sender = threading.Thread(target=fire, args=(stored, acked))
        sender.start()
        while len(acked) < 10 and sender.is_alive():
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.02))
        os.killpg(proc.pid, signal.SIGKILL)  # while requests are streaming in
        proc.wait(timeout=10)
        sender.join(timeout=30)
        assert len(acked) >= 10
        latest = WitnessState(tmp_path / "w.db").latest(ORIGIN)
        # the last acknowledged size or the one in flight, never in between; its own root
        assert latest.size in (acked[-1], acked[-1] + 1)
        assert latest.root == t.root(latest.size)
        assert latest.note.startswith(parse_note(notes[latest.size])[0])
        stored = latest.size
    proc = _start_witness(tmp_path, port)  # the restarted witness goes on from there
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/add-checkpoint", timeout=5.0,
                       content=add_checkpoint_body(stored, t.consistency_proof(stored, 2000),
                                                   notes[2000]))
        assert r.status_code == 200
        r = httpx.post(f"http://127.0.0.1:{port}/add-checkpoint", timeout=5.0,
                       content=add_checkpoint_body(stored, [], notes[stored]))
        assert (r.status_code, r.text) == (409, "2000\n")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_witness_commands_cosign_a_served_log(tmp_path):
    from skyfence.cli import main
    from tests.governance.fixtures import write_log_key

    plane = make_plane(f"sqlite:///{tmp_path / 'gov.db'}")
    key_file = write_log_key(tmp_path / "log.key", plane.log_key)
    assert main(["witness", "init", "w.example/cli", "--key", str(tmp_path / "w.key"),
                 "--db", str(tmp_path / "w.db")]) == 0
    assert main(["witness", "add-log", plane.ledger.verifier_key, "--db",
                 str(tmp_path / "w.db")]) == 0
    wkey = parse_cosigner_signer_key((tmp_path / "w.key").read_text())
    port = free_port()
    proc = _start_witness(tmp_path, port)
    try:
        policy = tmp_path / "policy"
        policy.write_text(f"log {plane.ledger.verifier_key}\n"
                          f"witness W {cosigner_vkey(*wkey)} http://127.0.0.1:{port}\nquorum W\n")
        db_file = str(tmp_path / "gov.db")
        assert main(["verify", db_file, "--witness-policy", str(policy)]) == 2  # not yet
        args = ["witness", "cosign", "--policy", str(policy), "--db", db_file, "--log-key",
                str(key_file)]
        assert main(args) == 0
        assert main(["verify", db_file, "--witness-policy", str(policy)]) == 0
        assert main(args) == 0  # the same size again
        assert main(["witness", "cosign", "--policy", str(policy), "--db", db_file,
                     "--log-key", str(tmp_path / "missing.key")]) == 2
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        plane.db.dispose()
