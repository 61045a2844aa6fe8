"""C2SP signed notes / tlog checkpoints and Ed25519 key helpers."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.errors import CheckpointError, GovernanceError
from skyfence.governance import keys as k
from skyfence.governance.log import checkpoint as c

DATA = Path(__file__).resolve().parents[1] / "data" / "checkpoint"
GO = json.loads((DATA / "go_note_vectors.json").read_text(encoding="utf-8"))
SUMDB = json.loads((DATA / "sumdb_checkpoints.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- external vectors


def test_go_note_key_hash_and_encodings():
    name, key = c.parse_signer_key(GO["peter_skey"])
    assert name == "PeterNeumann"
    pub = k.public_key_bytes(key)
    # key hash = SHA-256(name || 0x0A || 0x01 || pubkey)[:4], c74f20a3 in the published vkey
    assert c.key_hash(name, pub).hex() == "c74f20a3"
    assert c.key_hash(name, pub) == hashlib.sha256(b"PeterNeumann\n\x01" + pub).digest()[:4]
    assert c.verifier_key(name, key) == GO["peter_vkey"]
    assert c.signer_key(name, key) == GO["peter_skey"]
    v = c.parse_verifier_key(GO["peter_vkey"])
    assert (v.name, v.key_hash.hex()) == ("PeterNeumann", "c74f20a3")
    assert c.parse_verifier_key(GO["enoch_vkey"]).key_hash.hex() == "af0cfe78"


def test_go_note_sign_is_byte_exact():
    name, key = c.parse_signer_key(GO["peter_skey"])
    assert c.sign_note(GO["text"], [(name, key)]) == GO["text"] + "\n" + GO["peter_sig_line"]


def test_go_note_open():
    text, peter, enoch = GO["text"], GO["peter_sig_line"], GO["enoch_sig_line"]
    body, sigs = c.open_note(text + "\n" + peter + enoch, [GO["peter_vkey"]])
    assert body == text and [s.name for s in sigs] == ["PeterNeumann"]
    body, sigs = c.open_note(text + "\n" + peter + enoch, [GO["peter_vkey"], GO["enoch_vkey"]])
    assert [s.name for s in sigs] == ["PeterNeumann", "EnochRoot"]
    with pytest.raises(CheckpointError, match="no verifiable signatures"):
        c.open_note(text + "\n" + peter + enoch, [])
    # a corrupted signature by a known key is an error (Go: "invalid signature for key")
    bad = text + "\n" + peter[:60] + "ABCD" + peter[60:]
    with pytest.raises(CheckpointError, match="invalid signature for key PeterNeumann"):
        c.open_note(bad, [GO["peter_vkey"]])
    # Go's malformed-message table
    for msg in [text, text + "\n", text + "\n" + peter[:-1], "\x01" + text + "\n" + peter,
                text + "\n" + "\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgY"
                "N1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
                text + "\n" + peter + "Unexpected line.\n", text + "\n" + peter * 101]:
        with pytest.raises(CheckpointError, match="malformed note"):
            c.open_note(msg, [GO["peter_vkey"]])
    with pytest.raises(CheckpointError, match="malformed note"):
        c.open_note(b"\xff" + (text + "\n" + peter).encode(), [GO["peter_vkey"]])


def test_go_bad_verifier_keys():
    for bad in GO["bad_vkeys"]:
        with pytest.raises(CheckpointError):
            c.parse_verifier_key(bad)
    vkey = GO["peter_vkey"]
    # every proper truncation and every single-byte increment is rejected (as in note_test.go)
    for i in range(1, len(vkey)):
        with pytest.raises(CheckpointError):
            c.parse_verifier_key(vkey[:i])
    b = bytearray(vkey.encode())
    for i in range(len(b)):
        b[i] += 1
        with pytest.raises((CheckpointError, UnicodeDecodeError, ValueError)):
            c.parse_verifier_key(b.decode())
        b[i] -= 1


@pytest.mark.parametrize("cp", SUMDB["checkpoints"], ids=lambda d: str(d["size"]))
def test_real_sumdb_checkpoints_verify(cp):
    got = c.verify_checkpoint(cp["note"], SUMDB["vkey"], origin=SUMDB["origin"])
    assert got.size == cp["size"]
    assert got.root_hash == base64.b64decode(cp["root"])
    assert got.origin == "go.sum database tree" and got.extensions == ()
    assert got.signers == ("sum.golang.org",)
    # one changed byte in the body breaks the real signature
    tampered = cp["note"].replace(str(cp["size"]), str(cp["size"] + 1), 1)
    with pytest.raises(CheckpointError, match="invalid signature"):
        c.verify_checkpoint(tampered, SUMDB["vkey"])


# --------------------------------------------------------------------------- own round trips


@pytest.fixture(scope="module")
def log_key():
    return k.generate_private_key()


ROOT = hashlib.sha256(b"root").digest()


def test_round_trip(log_key):
    note = c.sign_checkpoint("skyfence.test/log", 42, ROOT, log_key)
    lines = note.split("\n")
    assert lines[:4] == ["skyfence.test/log", "42", base64.b64encode(ROOT).decode(), ""]
    assert lines[4].startswith("\u2014 skyfence.test/log ")
    vkey = c.verifier_key("skyfence.test/log", log_key)
    got = c.verify_checkpoint(note, [vkey])
    assert (got.origin, got.size, got.root_hash, got.extensions) == (
        "skyfence.test/log", 42, ROOT, ())
    assert got.note == note and got.signers == ("skyfence.test/log",)
    parsed = c.parse_checkpoint(note)
    assert parsed.size == 42 and parsed.signers == ()
    # extension lines and a separate key name
    note2 = c.sign_checkpoint("o", 0, ROOT, log_key, key_name="witness", extensions=["x y", "z"])
    got2 = c.verify_checkpoint(note2, c.verifier_key("witness", log_key))
    assert got2.extensions == ("x y", "z") and got2.size == 0


def test_wrong_key_fails(log_key):
    note = c.sign_checkpoint("o", 1, ROOT, log_key)
    other = k.generate_private_key()
    # a different key under the same name: key hash differs -> not a verifiable signature
    with pytest.raises(CheckpointError, match="no verifiable signatures"):
        c.verify_checkpoint(note, c.verifier_key("o", other))
    # forge: same name and key hash as the real key, but signed by another key
    body = c.checkpoint_body("o", 1, ROOT)
    forged = body + "\n" + c.NoteSignature("o", c.key_hash("o", log_key),
                                          other.sign(body.encode())).line()
    with pytest.raises(CheckpointError, match="invalid signature for key o\\+"):
        c.verify_checkpoint(forged, c.verifier_key("o", log_key))
    with pytest.raises(CheckpointError, match="origin"):
        c.verify_checkpoint(note, c.verifier_key("o", log_key), origin="p")


@settings(max_examples=40, deadline=None)
@given(pos=st.integers(min_value=0, max_value=10**6), delta=st.integers(1, 255))
def test_any_one_byte_change_in_body_fails(log_key, pos, delta):
    note = c.sign_checkpoint("skyfence.test/log", 123456, ROOT, log_key)
    vkey = c.verifier_key("skyfence.test/log", log_key)
    body_len = note.index("\n\n") + 1
    raw = bytearray(note.encode())
    i = pos % body_len
    raw[i] = (raw[i] + delta) % 256
    with pytest.raises(GovernanceError):
        c.verify_checkpoint(bytes(raw), vkey)


def test_signature_byte_change_fails(log_key):
    note = c.sign_checkpoint("o", 5, ROOT, log_key)
    vkey = c.verifier_key("o", log_key)
    body, sigs = c.parse_note(note)
    s = bytearray(sigs[0].signature)
    s[10] ^= 0x01
    bad = body + "\n" + c.NoteSignature("o", sigs[0].key_hash, bytes(s)).line()
    with pytest.raises(CheckpointError, match="invalid signature"):
        c.verify_checkpoint(bad, vkey)


def test_slack_bits_of_base64_are_refused(log_key):
    """The last base64 character before '=' carries bits that decoding drops: a note whose text
    differs only there decodes to the same bytes, and is refused (one text per signature/root)."""
    note = c.sign_checkpoint("o", 5, ROOT, log_key)
    vkey = c.verifier_key("o", log_key)
    line = note.rstrip("\n").split("\n")[-1]
    b64 = line.split(" ")[-1]
    assert b64.endswith("=")  # 68 bytes -> 2 slack bits before the padding
    i = len(b64.rstrip("=")) - 1
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = b64[:i] + alphabet[alphabet.index(b64[i]) ^ 1] + b64[i + 1:]
    assert base64.b64decode(twin) == base64.b64decode(b64)
    with pytest.raises(CheckpointError, match="canonical"):
        c.verify_checkpoint(note.replace(b64, twin), vkey)
    root = base64.b64encode(ROOT).decode()  # 32 bytes -> 4 slack bits
    j = len(root.rstrip("=")) - 1
    root_twin = root[:j] + alphabet[alphabet.index(root[j]) ^ 1] + root[j + 1:]
    with pytest.raises(CheckpointError, match="canonical"):
        c.parse_checkpoint(note.replace(root, root_twin, 1))


@pytest.mark.parametrize(("body", "match"), [
    ("o\n5\n", "3 body line|2 body line"),
    ("o\n05\n" + base64.b64encode(ROOT).decode() + "\n", "leading zeros"),
    ("o\n-5\n" + base64.b64encode(ROOT).decode() + "\n", "decimal"),
    ("o\n5\nnot base64!\n", "not base64"),
    ("o\n5\n" + base64.b64encode(b"short").decode() + "\n", "32"),
    ("\n5\n" + base64.b64encode(ROOT).decode() + "\n", "empty origin"),
])
def test_bad_checkpoint_bodies(log_key, body, match):
    note = c.sign_note(body, [("o", log_key)])
    with pytest.raises(CheckpointError, match=match):
        c.verify_checkpoint(note, c.verifier_key("o", log_key))


def test_parse_errors_are_clear(log_key):
    note = c.sign_checkpoint("o", 5, ROOT, log_key)
    with pytest.raises(CheckpointError, match="no empty line"):
        c.parse_note(note.replace("\n\n", "\n"))
    with pytest.raises(CheckpointError, match="U\\+2014"):
        c.parse_note(note.replace("\u2014", "-"))
    with pytest.raises(CheckpointError, match="not valid base64"):
        c.parse_note(note[:-3] + "!!\n")
    with pytest.raises(CheckpointError, match="lacks its newline|no signature lines"):
        c.parse_note(note[:-1])
    with pytest.raises(CheckpointError, match="control character"):
        c.parse_note("o\r\n" + note)
    with pytest.raises(CheckpointError, match="key name"):
        c.verifier_key("bad name", log_key)
    with pytest.raises(CheckpointError, match="key name"):
        c.verifier_key("a+b", log_key)


# --------------------------------------------------------------------------- keys.py


def test_key_serialization_round_trips():
    key = k.generate_private_key()
    pub = k.public_key_bytes(key)
    for enc in (k.private_key_b64(key), k.private_key_pem(key), k.private_key_bytes(key).hex(),
                k.private_key_bytes(key)):
        assert k.public_key_bytes(k.load_private_key(enc)) == pub
    for enc in (k.public_key_b64(key), k.public_key_pem(key), pub.hex(), pub):
        assert k.public_key_bytes(k.load_public_key(enc)) == pub


def test_key_files(tmp_path):
    key = k.generate_private_key()
    (tmp_path / "k.pem").write_text(k.private_key_pem(key))
    (tmp_path / "k.pub").write_text(k.public_key_b64(key) + "\n")
    loaded = k.load_private_key(tmp_path / "k.pem")
    assert k.public_key_bytes(loaded) == k.public_key_bytes(k.load_public_key(tmp_path / "k.pub"))


def test_bad_keys_are_clear():
    with pytest.raises(k.KeyFormatError, match="32"):
        k.load_public_key(base64.b64encode(b"x" * 31).decode())
    with pytest.raises(k.KeyFormatError, match="neither PEM"):
        k.load_private_key("not a key at all")
    with pytest.raises(k.KeyFormatError, match="bad PEM"):
        k.load_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert issubclass(k.KeyFormatError, GovernanceError)


def test_sign_and_verify():
    key = k.generate_private_key()
    sig = k.sign(key, b"message")
    k.verify_signature(k.public_key_b64(key), b"message", sig)
    assert k.signature_ok(key.public_key(), b"message", sig)
    with pytest.raises(k.SignatureError, match="approval of P-1: Ed25519 signature does not"):
        k.verify_signature(key.public_key(), b"messagf", sig, what="approval of P-1")
    with pytest.raises(k.SignatureError, match="64"):
        k.verify_signature(key.public_key(), b"message", sig[:-1])
    assert not k.signature_ok(k.generate_private_key().public_key(), b"message", sig)
    assert not k.signature_ok("garbage", b"message", sig)
