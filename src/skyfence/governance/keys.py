"""Ed25519 key helpers (log key and approver keys), on `cryptography`.

Encodings
---------
* raw base64: the 32-byte raw public key / 32-byte private seed, standard base64 with padding.
* hex: the same 32 bytes as lowercase hex.
* PEM: PKCS#8 (private, unencrypted) / SubjectPublicKeyInfo (public).
`load_private_key` / `load_public_key` accept any of these (and raw 32 bytes), so a key file can
hold either form.

Signatures are the 64-byte Ed25519 signatures; `verify_signature` raises `SignatureError` (a
`skyfence.errors.GovernanceError`) with a message naming what was being verified.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from skyfence.errors import GovernanceError, KeyFormatError, SignatureError

__all__ = [
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "generate_private_key",
    "public_key_of",
    "public_key_bytes",
    "private_key_bytes",
    "public_key_b64",
    "private_key_b64",
    "public_key_pem",
    "private_key_pem",
    "load_private_key",
    "load_public_key",
    "sign",
    "verify_signature",
    "signature_ok",
]


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh random Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def public_key_of(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    """The public key (itself when given a public key)."""
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of the public key (of a private key: its public half)."""
    return public_key_of(key).public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)


def private_key_bytes(key: Ed25519PrivateKey) -> bytes:
    """The 32-byte raw private seed."""
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Raw public key, standard base64."""
    return base64.b64encode(public_key_bytes(key)).decode("ascii")


def private_key_b64(key: Ed25519PrivateKey) -> str:
    """Raw private seed, standard base64."""
    return base64.b64encode(private_key_bytes(key)).decode("ascii")


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """SubjectPublicKeyInfo PEM text."""
    return public_key_of(key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_key_pem(key: Ed25519PrivateKey) -> str:
    """Unencrypted PKCS#8 PEM text."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _raw32(text: str | bytes, what: str) -> bytes:
    """32 raw bytes from raw bytes, hex text or base64 text."""
    if isinstance(text, bytes | bytearray):
        if len(text) == 32:
            return bytes(text)
        text = bytes(text).decode("ascii", errors="replace")
    s = text.strip()
    if len(s) == 64:
        try:
            return bytes.fromhex(s)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"{what}: neither PEM, 64 hex digits nor base64 of 32 bytes") from None
    if len(raw) != 32:
        raise KeyFormatError(f"{what}: base64 decodes to {len(raw)} bytes, expected 32")
    return raw


def _text(source: str | bytes | Path) -> str | bytes:
    if isinstance(source, Path):
        return source.read_bytes()
    return source


def load_private_key(source: str | bytes | Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8), base64 or hex of the 32-byte seed, raw bytes,
    or a `Path` to a file holding one of these. `KeyFormatError` if it is none of them."""
    data = _text(source)
    blob = data.encode() if isinstance(data, str) else data
    if b"-----BEGIN" in blob:
        try:
            key = serialization.load_pem_private_key(blob, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"private key: bad PEM: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFormatError(f"private key: PEM holds a {type(key).__name__}, not Ed25519")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw32(data, "private key"))


def load_public_key(source: str | bytes | Path | Ed25519PublicKey) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo), base64 or hex of the 32 raw bytes,
    raw bytes, or a `Path` to a file holding one of these. `KeyFormatError` if it is none of them."""
    if isinstance(source, Ed25519PublicKey):
        return source
    data = _text(source)
    blob = data.encode() if isinstance(data, str) else data
    if b"-----BEGIN" in blob:
        try:
            key = serialization.load_pem_public_key(blob)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"public key: bad PEM: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFormatError(f"public key: PEM holds a {type(key).__name__}, not Ed25519")
        return key
    return Ed25519PublicKey.from_public_bytes(_raw32(data, "public key"))


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of `message`."""
    return key.sign(bytes(message))


def verify_signature(public_key: Ed25519PublicKey | str | bytes, message: bytes,
                     signature: bytes, *, what: str = "signature") -> None:
    """Verify an Ed25519 signature; returns None, raises `SignatureError` naming `what` if it
    does not verify (or `KeyFormatError` if the key cannot be parsed)."""
    key = load_public_key(public_key)
    if len(signature) != 64:
        raise SignatureError(f"{what}: signature is {len(signature)} bytes, expected 64")
    try:
        key.verify(bytes(signature), bytes(message))
    except InvalidSignature:
        raise SignatureError(f"{what}: Ed25519 signature does not verify") from None


def signature_ok(public_key: Ed25519PublicKey | str | bytes, message: bytes,
                 signature: bytes) -> bool:
    """`verify_signature` as a boolean (False also for an unparsable key)."""
    try:
        verify_signature(public_key, message, signature)
    except GovernanceError:
        return False
    return True
