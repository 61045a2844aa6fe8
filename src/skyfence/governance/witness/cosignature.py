"""Ed25519 checkpoint cosignatures, C2SP tlog-cosignature ``cosignature/v1``
(https://c2sp.org/tlog-cosignature).

A cosignature is a signed-note signature line ``— <name> base64(key ID || timestamped_signature)``
where

* key ID = SHA-256(name || 0x0A || 0x04 || 32-byte Ed25519 public key)[:4] (0x04: cosignature/v1),
* timestamped_signature = 8-byte big-endian POSIX timestamp || 64-byte Ed25519 signature,
* the signed message is ``"cosignature/v1\\ntime <timestamp>\\n"`` followed by the whole checkpoint
  body (extension lines and final newline included).

Cosigner keys are vkeys with signature type 0x04 (``name+<hex key ID>+base64(0x04 || key)``) and
signer keys ``PRIVATE+KEY+name+<hex key ID>+base64(0x04 || seed)``. Verification follows the
signed-note rules: lines by keys not given are ignored, a line by a given key (name and key ID
match) that does not verify is an error (`WitnessError`).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from skyfence.errors import CheckpointError, WitnessError
from skyfence.governance.keys import private_key_bytes, public_key_bytes
from skyfence.governance.log.checkpoint import NoteSignature, parse_note, split_key_text

__all__ = [
    "ALG_COSIGNATURE_V1",
    "CosignerKey",
    "Cosignature",
    "cosigner_key_id",
    "cosigner_vkey",
    "cosigner_signer_key",
    "parse_cosigner_vkey",
    "parse_cosigner_signer_key",
    "cosigned_message",
    "cosign",
    "verify_cosignature",
    "cosignatures",
    "add_cosignatures",
]

ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte of Ed25519 cosignature/v1 key IDs and vkeys."""

MAX_TIMESTAMP = (1 << 63) - 1


@dataclass(frozen=True)
class CosignerKey:
    """A cosigner's public identity: name, 4-byte key ID, Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @property
    def vkey(self) -> str:
        return cosigner_vkey(self.name, self.public_key)

    @property
    def raw(self) -> bytes:
        return public_key_bytes(self.public_key)


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: the cosigner's name and key ID, its timestamp (POSIX seconds)."""

    name: str
    key_id: bytes
    timestamp: int


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or "+" in name or any(c.isspace() for c in name):
        raise WitnessError(f"cosigner name {name!r}: must be non-empty, without spaces or '+'")


def cosigner_key_id(name: str, public_key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]."""
    _check_name(name)
    raw = public_key if isinstance(public_key, bytes) else public_key_bytes(public_key)
    if len(raw) != 32:
        raise WitnessError(f"Ed25519 public key must be 32 bytes, got {len(raw)}")
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_COSIGNATURE_V1])
                          + raw).digest()[:4]


def cosigner_vkey(name: str, public_key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> str:
    """The cosigner vkey text ``<name>+<hex key ID>+<base64(0x04 || public key)>``."""
    raw = public_key if isinstance(public_key, bytes) else public_key_bytes(public_key)
    kid = cosigner_key_id(name, raw)
    return f"{name}+{kid.hex()}+{base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + raw).decode()}"


def cosigner_signer_key(name: str, private_key: Ed25519PrivateKey) -> str:
    """The signer key text ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 || seed)>``."""
    kid = cosigner_key_id(name, private_key)
    enc = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + private_key_bytes(private_key)).decode()
    return f"PRIVATE+KEY+{name}+{kid.hex()}+{enc}"


def _split(text: str, what: str, *, private: bool) -> tuple[str, bytes, bytes]:
    """(name, key ID, raw key bytes) of ``name+<hex ID>+base64(0x04 || key)``; the ID is checked
    against the public key (of the seed, when `private`)."""
    name, kid, raw = split_key_text(text, what, algorithm=ALG_COSIGNATURE_V1,
                                    algorithm_name="an Ed25519 cosignature/v1 key", error=WitnessError)  # fmt: skip
    _check_name(name)
    pub = Ed25519PrivateKey.from_private_bytes(raw) if private else raw
    if cosigner_key_id(name, pub) != kid:
        raise WitnessError(f"{what}: key ID does not match name and key")
    return name, kid, raw


def parse_cosigner_vkey(vkey: str | CosignerKey) -> CosignerKey:
    """Parse a cosigner vkey (type 0x04); `WitnessError` if malformed or its key ID is wrong."""
    if isinstance(vkey, CosignerKey):
        return vkey
    text = vkey.strip()
    name, kid, raw = _split(text, f"cosigner vkey {text!r}", private=False)
    return CosignerKey(name, kid, Ed25519PublicKey.from_public_bytes(raw))


def parse_cosigner_signer_key(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse a cosigner signer key text -> (name, private key); `WitnessError` if malformed."""
    s = skey.strip()
    if not s.startswith("PRIVATE+KEY+"):
        raise WitnessError("cosigner signer key: must start with PRIVATE+KEY+")
    name, _, seed = _split(s[len("PRIVATE+KEY+"):], "cosigner signer key", private=True)
    return name, Ed25519PrivateKey.from_private_bytes(seed)


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes an Ed25519 cosignature/v1 signs: header, time line, checkpoint body."""
    if not isinstance(timestamp, int) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise WitnessError(f"cosignature timestamp {timestamp!r}: must be in [0, 2**63)")
    if not body.endswith("\n"):
        raise WitnessError("cosigned checkpoint body must end with a newline")
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode("utf-8")


def cosign(body: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """The cosignature line (``— name base64(...)\\n``) of checkpoint `body` at `timestamp`."""
    if timestamp <= 0:
        raise WitnessError("a cosignature's timestamp must not be zero")
    sig = private_key.sign(cosigned_message(body, timestamp))
    return NoteSignature(name, cosigner_key_id(name, private_key),
                         struct.pack(">Q", timestamp) + sig).line()


def verify_cosignature(body: str, signature: NoteSignature, key: CosignerKey) -> Cosignature:
    """Verify one note signature line as `key`'s cosignature of `body`; `WitnessError` if the
    name or key ID differ, the length is not 8 + 64 bytes, or the signature does not verify."""
    if signature.name != key.name or signature.key_hash != key.key_id:
        raise WitnessError(f"signature line by {signature.name}+{signature.key_hash.hex()} is not "
                           f"by cosigner {key.name}+{key.key_id.hex()}")
    if len(signature.signature) != 8 + 64:
        raise WitnessError(f"cosignature by {key.name}: {len(signature.signature)} bytes, "
                           "need 8 (timestamp) + 64 (Ed25519)")
    (ts,) = struct.unpack(">Q", signature.signature[:8])
    if ts > MAX_TIMESTAMP:
        raise WitnessError(f"cosignature by {key.name}: timestamp exceeds 2**63 - 1")
    try:
        key.public_key.verify(signature.signature[8:], cosigned_message(body, ts))
    except InvalidSignature:
        raise WitnessError(f"cosignature by {key.name}+{key.key_id.hex()} does not verify") \
            from None
    return Cosignature(key.name, key.key_id, ts)


def cosignatures(note_text: str | bytes,
                 keys: Iterable[str | CosignerKey]) -> dict[str, Cosignature]:
    """Verified cosignatures of a signed checkpoint note by the given cosigner keys, by cosigner
    name. Lines by other keys are ignored (the log's own signature among them); a line whose name
    and key ID match a given key but does not verify raises `WitnessError`."""
    try:
        body, sigs = parse_note(note_text)
    except CheckpointError as exc:
        raise WitnessError(str(exc)) from None
    by_id = {(k.name, k.key_id): k for k in map(parse_cosigner_vkey, keys)}
    out: dict[str, Cosignature] = {}
    for s in sigs:
        k = by_id.get((s.name, s.key_hash))
        if k is not None:
            c = verify_cosignature(body, s, k)
            if k.name not in out or c.timestamp > out[k.name].timestamp:
                out[k.name] = c
    return out


def add_cosignatures(note_text: str, lines: str | Iterable[str]) -> str:
    """The note with the signature `lines` appended (lines already in it are not repeated)."""
    new = [ln if ln.endswith("\n") else ln + "\n"
           for ln in (lines.splitlines() if isinstance(lines, str) else lines) if ln.strip()]
    _, existing = parse_note(note_text)
    have = {s.line() for s in existing}
    out = note_text
    for ln in new:
        if ln not in have:
            out += ln
            have.add(ln)
    parse_note(out)
    return out
