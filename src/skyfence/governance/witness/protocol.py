"""The witness side of C2SP tlog-witness ``add-checkpoint`` (https://c2sp.org/tlog-witness), as a
pure request -> response function over a `WitnessState`.

Request body::

    old <size>\\n
    <base64 consistency proof hash>\\n      (0 to 63 lines)
    \\n
    <signed checkpoint note>

Answers (status, body, content type), in the order the checks run:

* 400: malformed body (old size line, proof lines, checkpoint note) or old size > checkpoint size;
* 404: the checkpoint's origin is not a known log;
* 403: no signature by a trusted key of that origin, or one that fails to verify;
* 409: the old size is not the size of the latest checkpoint cosigned for the origin (0 if never);
  the body is that size and a newline, content type ``text/x.tlog.size``;
* 422: a size-0 checkpoint whose root is not SHA-256(""), a non-empty proof from old size 0, a
  proof that does not verify from the stored root to the new one, or the same size with another
  root (a split view);
* 200: the cosignature line(s) (C2SP tlog-cosignature/v1, timestamped), after the new checkpoint
  is stored. The old-size check and the update are one compare-and-swap transaction.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skyfence.errors import CheckpointError, ProofError
from skyfence.governance.log.checkpoint import open_note, parse_checkpoint
from skyfence.governance.log.hasher import EMPTY_ROOT, HASH_SIZE
from skyfence.governance.log.proof import verify_append_only
from skyfence.governance.witness.cosignature import cosign, cosigner_vkey
from skyfence.governance.witness.state import WitnessState

__all__ = [
    "SIZE_CONTENT_TYPE",
    "MAX_PROOF_LINES",
    "AddCheckpoint",
    "WitnessResponse",
    "Witness",
    "parse_add_checkpoint",
    "add_checkpoint_body",
]

SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 1 << 16


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str


@dataclass(frozen=True)
class WitnessResponse:
    """An HTTP answer: status code, body text, content type."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class _Refuse(Exception):
    def __init__(self, status: int, body: str, content_type: str = "text/plain; charset=utf-8"):
        super().__init__(body)
        self.response = WitnessResponse(status, body if body.endswith("\n") else body + "\n",
                                        content_type)


_OLD = re.compile(r"old (0|[1-9][0-9]*)")


def parse_add_checkpoint(body: bytes | str) -> AddCheckpoint:
    """Parse an add-checkpoint request body; `ValueError` naming the problem if malformed."""
    if isinstance(body, bytes | bytearray):
        if len(body) > MAX_BODY_BYTES:
            raise ValueError(f"request body over {MAX_BODY_BYTES} bytes")
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("request body is not UTF-8") from None
    first, sep, rest = body.partition("\n")
    m = _OLD.fullmatch(first)
    if not sep or m is None or int(m.group(1)) >= 1 << 64:
        raise ValueError("first line must be 'old <size>' (decimal, no leading zeros)")
    proof: list[bytes] = []
    while True:
        line, sep, rest = rest.partition("\n")
        if not sep:
            raise ValueError("no empty line between the proof and the checkpoint")
        if line == "":
            break
        if len(proof) == MAX_PROOF_LINES:
            raise ValueError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        try:
            h = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"proof line {len(proof) + 1} is not base64") from None
        if len(h) != HASH_SIZE or base64.b64encode(h).decode("ascii") != line:
            raise ValueError(f"proof line {len(proof) + 1} is not a canonical base64 "
                             f"{HASH_SIZE}-byte hash")
        proof.append(h)
    return AddCheckpoint(int(m.group(1)), tuple(proof), rest)


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], checkpoint_note: str) -> bytes:
    """The add-checkpoint request body (client side)."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode("ascii") for h in proof), ""]
    return ("\n".join(lines) + "\n" + checkpoint_note).encode("utf-8")


class Witness:
    """A witness named `name` cosigning with `private_key` over `state` (known logs and latest
    checkpoints). `clock()` gives POSIX seconds (default `time.time`)."""

    def __init__(self, state: WitnessState, name: str, private_key: Ed25519PrivateKey, *,
                 clock: Callable[[], float] | None = None):
        self.state = state
        self.name = name
        self.private_key = private_key
        self.vkey = cosigner_vkey(name, private_key)
        self._clock = clock or time.time

    def add_checkpoint(self, body: bytes | str) -> WitnessResponse:
        """Answer one add-checkpoint request (see the module docstring)."""
        try:
            return self._add(body)
        except _Refuse as r:
            return r.response

    def _add(self, body: bytes | str) -> WitnessResponse:
        try:
            req = parse_add_checkpoint(body)
            cp = parse_checkpoint(req.checkpoint)
        except (ValueError, CheckpointError) as exc:
            raise _Refuse(400, f"malformed request: {exc}") from None
        keys = self.state.log_keys(cp.origin)
        if not keys:
            raise _Refuse(404, f"unknown log {cp.origin!r}")
        try:
            note_body, log_sigs = open_note(req.checkpoint, keys)
        except CheckpointError as exc:
            raise _Refuse(403, f"checkpoint signature: {exc}") from None
        if req.old_size > cp.size:
            raise _Refuse(400, f"old size {req.old_size} > checkpoint size {cp.size}")
        if cp.size == 0 and cp.root_hash != EMPTY_ROOT:
            raise _Refuse(422, "a checkpoint of size 0 must have the empty tree's root hash")
        if req.old_size == 0 and req.proof:
            raise _Refuse(422, "old size 0: the consistency proof must be empty")
        lines: list[str] = []

        def decide(stored_size: int, stored_root: bytes | None) -> tuple[int, bytes, str]:
            if stored_size != req.old_size:
                raise _Refuse(409, f"{stored_size}", SIZE_CONTENT_TYPE)
            try:  # from size 0 the proof is empty (checked above): nothing more to prove
                verify_append_only(req.old_size, cp.size, req.proof, stored_root or EMPTY_ROOT,
                                   cp.root_hash)
            except ProofError as exc:
                raise _Refuse(422, f"inconsistent with the cosigned size {stored_size}: "
                                   f"{exc}") from None
            ts = max(1, int(self._clock()))
            lines.append(cosign(note_body, self.name, self.private_key, ts))
            note = note_body + "\n" + "".join(s.line() for s in log_sigs) + lines[0]
            return cp.size, cp.root_hash, note

        self.state.advance(cp.origin, decide)
        return WitnessResponse(200, "".join(lines))
