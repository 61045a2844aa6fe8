"""Log checkpoints as C2SP signed notes (https://c2sp.org/signed-note,
https://c2sp.org/tlog-checkpoint), Ed25519 only.

Note text::

    <body: one or more lines, each ending in "\\n">
    <empty line>
    — <key name> <base64(4-byte key hash || 64-byte Ed25519 signature)>
    ...                                          (one line per signature, "— " is U+2014 + space)

The signature covers exactly the body bytes (UTF-8, final newline included). The key hash is the
first 4 bytes of SHA-256(key name || 0x0A || 0x01 || 32-byte public key) (0x01 = Ed25519).

Checkpoint body::

    <origin>\\n<tree size, decimal>\\n<base64 root hash>\\n[<extension line>\\n ...]

Verifier key ("vkey") text: ``<name>+<8 hex digits key hash>+<base64(0x01 || public key)>``;
signer key text (the Go `note` package's): ``PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>``.

Verification follows golang.org/x/mod/sumdb/note ``Open``: signatures by keys that are not given
are ignored; a signature by a given key (name and key hash match) that does not verify is an
error; at least one given key must have signed. Errors are `CheckpointError`
(`skyfence.errors`) with a message naming the problem.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from skyfence.errors import CheckpointError
from skyfence.governance.keys import private_key_bytes, public_key_bytes

__all__ = [
    "ALG_ED25519",
    "EM_DASH",
    "NoteSignature",
    "NoteVerifier",
    "Checkpoint",
    "key_hash",
    "split_key_text",
    "verifier_key",
    "signer_key",
    "parse_verifier_key",
    "parse_signer_key",
    "checkpoint_body",
    "parse_checkpoint_body",
    "sign_note",
    "parse_note",
    "open_note",
    "sign_checkpoint",
    "parse_checkpoint",
    "verify_checkpoint",
]

ALG_ED25519 = 0x01
"""Signature type byte of Ed25519 in signed notes."""

EM_DASH = "\u2014"
MAX_SIGNATURES = 100  # as golang.org/x/mod/sumdb/note


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key hash, signature bytes (64 for Ed25519)."""

    name: str
    key_hash: bytes
    signature: bytes

    def line(self) -> str:
        """The note line, newline included."""
        b64 = base64.b64encode(self.key_hash + self.signature).decode("ascii")
        return f"{EM_DASH} {self.name} {b64}\n"


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 note verifier: key name, 4-byte key hash, public key."""

    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey

    @property
    def vkey(self) -> str:
        """The verifier key text."""
        return verifier_key(self.name, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint. `root_hash` is the raw 32-byte tree root; `extensions` the optional
    extra body lines (without newline); `note` the full note text; `signers` the key names whose
    signatures verified (empty when only parsed)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()
    note: str = ""
    signers: tuple[str, ...] = field(default_factory=tuple)

    @property
    def body(self) -> str:
        return checkpoint_body(self.origin, self.size, self.root_hash, self.extensions)


# --------------------------------------------------------------------------- keys


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or "+" in name or any(c.isspace() for c in name):
        raise CheckpointError(f"key name {name!r}: must be non-empty, without spaces or '+'")


def key_hash(name: str, public_key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> bytes:
    """4-byte key hash: SHA-256(name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]."""
    _check_name(name)
    raw = public_key if isinstance(public_key, bytes) else public_key_bytes(public_key)
    if len(raw) != 32:
        raise CheckpointError(f"Ed25519 public key must be 32 bytes, got {len(raw)}")
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + raw).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> str:
    """The vkey text ``<name>+<hex key hash>+<base64(0x01 || public key)>``."""
    raw = public_key if isinstance(public_key, bytes) else public_key_bytes(public_key)
    h = key_hash(name, raw)
    return f"{name}+{h.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + raw).decode('ascii')}"


def signer_key(name: str, private_key: Ed25519PrivateKey) -> str:
    """The signer key text ``PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 || seed)>``."""
    h = key_hash(name, private_key)
    enc = base64.b64encode(bytes([ALG_ED25519]) + private_key_bytes(private_key)).decode("ascii")
    return f"PRIVATE+KEY+{name}+{h.hex()}+{enc}"


_HEX8 = re.compile(r"[0-9a-f]{8}")


def split_key_text(
    text: str,
    what: str,
    *,
    algorithm: int = ALG_ED25519,
    algorithm_name: str = "an Ed25519 key",
    error: type[Exception] = CheckpointError,
) -> tuple[str, bytes, bytes]:
    """(name, 4-byte key hash / ID, raw 32-byte key) of a note key text
    ``name+<8 hex digits>+base64(algorithm || key)`` (C2SP signed-note keys: verifier keys, signer
    keys, tlog-cosignature keys). `what` names the key in errors, raised as `error`; the base64 must
    be canonical. The hash/ID is returned as written: callers check it against the key."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise error(f"{what}: expected <name>+<hash>+<key>")
    name, hhex, b64 = parts
    if not name or any(c.isspace() for c in name):
        raise error(f"key name {name!r}: must be non-empty, without spaces or '+'")
    if not _HEX8.fullmatch(hhex):
        raise error(f"{what}: key hash must be 8 lowercase hex digits")
    try:
        blob = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise error(f"{what}: key is not valid base64") from None
    if base64.b64encode(blob).decode("ascii") != b64:
        raise error(f"{what}: key is not canonical base64")
    if len(blob) != 33 or blob[0] != algorithm:
        raise error(f"{what}: not {algorithm_name} (type 0x{algorithm:02x} + 32 bytes)")
    return name, bytes.fromhex(hhex), blob[1:]


def parse_verifier_key(vkey: str | NoteVerifier) -> NoteVerifier:
    """Parse a vkey; `CheckpointError` if malformed or its key hash does not match."""
    if isinstance(vkey, NoteVerifier):
        return vkey
    name, h, raw = split_key_text(vkey.strip(), f"verifier key {vkey.strip()!r}")
    if key_hash(name, raw) != h:
        raise CheckpointError(f"verifier key {vkey!r}: key hash does not match name and key")
    return NoteVerifier(name, h, Ed25519PublicKey.from_public_bytes(raw))


def parse_signer_key(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse a signer key text -> (name, private key); `CheckpointError` if malformed."""
    s = skey.strip()
    if not s.startswith("PRIVATE+KEY+"):
        raise CheckpointError("signer key: must start with PRIVATE+KEY+")
    name, h, seed = split_key_text(s[len("PRIVATE+KEY+"):], "signer key")
    key = Ed25519PrivateKey.from_private_bytes(seed)
    if key_hash(name, key) != h:
        raise CheckpointError("signer key: key hash does not match name and key")
    return name, key


# --------------------------------------------------------------------------- notes


def _check_text(text: str, what: str) -> None:
    for i, c in enumerate(text):
        if (c < " " and c != "\n") or c == "\ufffd":
            raise CheckpointError(f"{what}: control character {c!r} at offset {i}")


def sign_note(body: str, signers: Sequence[tuple[str, Ed25519PrivateKey]]) -> str:
    """Signed note text of `body` (UTF-8 text ending in a newline, no control characters)
    signed by each (key name, private key)."""
    _check_body(body)
    if not signers:
        raise CheckpointError("sign_note: no signer given")
    msg = body.encode("utf-8")
    lines = []
    for name, key in signers:
        lines.append(NoteSignature(name, key_hash(name, key), key.sign(msg)).line())
    return body + "\n" + "".join(lines)


def _check_body(body: str) -> None:
    if not body.endswith("\n"):
        raise CheckpointError("malformed note: body must end with a newline")
    _check_text(body, "malformed note body")


def parse_note(text: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into (body, signatures) without verifying anything.
    `CheckpointError` ("malformed note: ...") on bad syntax."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError(f"malformed note: not UTF-8 ({exc.reason} at byte "
                                  f"{exc.start})") from None
    _check_text(text, "malformed note")
    split = text.rfind("\n\n")
    if split < 0:
        raise CheckpointError("malformed note: no empty line between body and signatures")
    body, sig_text = text[:split + 1], text[split + 2:]
    if not sig_text or not sig_text.endswith("\n"):
        raise CheckpointError("malformed note: no signature lines, or the last line lacks "
                              "its newline")
    sigs: list[NoteSignature] = []
    for n, line in enumerate(sig_text[:-1].split("\n"), start=1):
        where = f"malformed note: signature line {n}"
        if not line.startswith(EM_DASH + " "):
            raise CheckpointError(f"{where}: must start with '\u2014 ' (U+2014 and a space)")
        rest = line[2:].split(" ")
        if len(rest) != 2:
            raise CheckpointError(f"{where}: expected '\u2014 <key name> <base64 signature>'")
        name, b64 = rest
        try:
            _check_name(name)
        except CheckpointError as exc:
            raise CheckpointError(f"{where}: {exc}") from None
        try:
            blob = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise CheckpointError(f"{where}: signature is not valid base64") from None
        if base64.b64encode(blob).decode("ascii") != b64:  # one text per signature: no slack bits
            raise CheckpointError(f"{where}: signature is not canonical base64")
        if len(blob) < 5:
            raise CheckpointError(f"{where}: signature too short")
        sigs.append(NoteSignature(name, blob[:4], blob[4:]))
    if len(sigs) > MAX_SIGNATURES:
        raise CheckpointError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return body, sigs


def open_note(text: str | bytes,
              verifiers: Iterable[str | NoteVerifier]) -> tuple[str, list[NoteSignature]]:
    """Parse and verify a signed note -> (body, verified signatures, deduplicated).

    Signatures by keys not in `verifiers` are ignored; a signature by a listed key that does not
    verify raises; no verified signature raises. Verifiers are vkey texts or `NoteVerifier`."""
    body, sigs = parse_note(text)
    by_id: dict[tuple[str, bytes], list[NoteVerifier]] = {}
    for v in verifiers:
        nv = parse_verifier_key(v)
        lst = by_id.setdefault((nv.name, nv.key_hash), [])
        raw = public_key_bytes(nv.public_key)
        if all(public_key_bytes(x.public_key) != raw for x in lst):
            lst.append(nv)
    msg = body.encode("utf-8")
    verified: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for s in sigs:
        cands = by_id.get((s.name, s.key_hash))
        if not cands:
            continue
        if len(cands) > 1:
            raise CheckpointError(f"ambiguous key {s.name}+{s.key_hash.hex()}")
        if not cands[0].verify(msg, s.signature):
            raise CheckpointError(f"invalid signature for key {s.name}+{s.key_hash.hex()}")
        if (s.name, s.key_hash) not in seen:
            seen.add((s.name, s.key_hash))
            verified.append(s)
    if not verified:
        names = ", ".join(f"{s.name}+{s.key_hash.hex()}" for s in sigs) or "none"
        raise CheckpointError(f"note has no verifiable signatures (signed by: {names})")
    return body, verified


# --------------------------------------------------------------------------- checkpoints


def checkpoint_body(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """The checkpoint body text (see module docstring)."""
    if not origin or "\n" in origin:
        raise CheckpointError(f"checkpoint origin {origin!r}: must be one non-empty line")
    if not isinstance(size, int) or size < 0 or size >= 1 << 64:
        raise CheckpointError(f"checkpoint size {size!r}: must be an integer in [0, 2**64)")
    if len(root) != 32:
        raise CheckpointError(f"checkpoint root hash: must be 32 bytes, got {len(root)}")
    for e in extensions:
        if not e or "\n" in e:
            raise CheckpointError(f"checkpoint extension line {e!r}: must be one non-empty line")
    lines = [origin, str(size), base64.b64encode(bytes(root)).decode("ascii"), *extensions]
    return "".join(line + "\n" for line in lines)


_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def parse_checkpoint_body(body: str) -> tuple[str, int, bytes, tuple[str, ...]]:
    """(origin, size, root hash, extension lines) from a checkpoint body; `CheckpointError`."""
    if not body.endswith("\n"):
        raise CheckpointError("malformed checkpoint: body must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"malformed checkpoint: {len(lines)} body line(s), need origin, "
                              "tree size and root hash")
    origin, size_text, root_b64, *ext = lines
    if not origin:
        raise CheckpointError("malformed checkpoint: empty origin line")
    if not _DECIMAL.fullmatch(size_text) or int(size_text) >= 1 << 64:
        raise CheckpointError(f"malformed checkpoint: tree size {size_text!r} is not a decimal "
                              "integer without leading zeros")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"malformed checkpoint: root hash {root_b64!r} is not base64") \
            from None
    if base64.b64encode(root).decode("ascii") != root_b64:
        raise CheckpointError(f"malformed checkpoint: root hash {root_b64!r} is not canonical base64")
    if len(root) != 32:
        raise CheckpointError(f"malformed checkpoint: root hash is {len(root)} bytes, need 32")
    for i, e in enumerate(ext):
        if not e:
            raise CheckpointError(f"malformed checkpoint: empty extension line {i + 4}")
    return origin, int(size_text), root, tuple(ext)


def sign_checkpoint(origin: str, size: int, root: bytes, private_key: Ed25519PrivateKey,
                    key_name: str | None = None, extensions: Sequence[str] = ()) -> str:
    """Signed checkpoint note of the tree (`size` leaves, 32-byte `root`) by `private_key` under
    `key_name` (default: the origin, as usual for a log's own key)."""
    body = checkpoint_body(origin, size, root, extensions)
    return sign_note(body, [(key_name or origin, private_key)])


def parse_checkpoint(note_text: str | bytes) -> Checkpoint:
    """Parse a checkpoint note WITHOUT verifying signatures (`signers` is empty)."""
    body, _ = parse_note(note_text)
    origin, size, root, ext = parse_checkpoint_body(body)
    text = note_text if isinstance(note_text, str) else bytes(note_text).decode("utf-8")
    return Checkpoint(origin, size, root, ext, text, ())


def verify_checkpoint(note_text: str | bytes, verifier_keys: Iterable[str | NoteVerifier] | str,
                      *, origin: str | None = None) -> Checkpoint:
    """Parse a checkpoint note and verify it with the given vkeys (one vkey text, or several).

    `origin`, when given, must equal the checkpoint's origin. `CheckpointError` on any problem:
    malformed note or body, signature by a given key that fails, or no given key signed."""
    if isinstance(verifier_keys, str | NoteVerifier):
        verifier_keys = [verifier_keys]
    body, sigs = open_note(note_text, verifier_keys)
    o, size, root, ext = parse_checkpoint_body(body)
    if origin is not None and o != origin:
        raise CheckpointError(f"checkpoint origin {o!r} is not the expected {origin!r}")
    text = note_text if isinstance(note_text, str) else bytes(note_text).decode("utf-8")
    return Checkpoint(o, size, root, ext, text, tuple(s.name for s in sigs))
