"""Split-view (fork) detection between two checkpoints of one log.

Two signed checkpoints of the same origin prove a fork when they have the same size and different
roots, or different sizes and a consistency proof between them that does not verify (a log that
cannot produce a valid proof between two of its own signed checkpoints has forked).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from skyfence.errors import CheckpointError, ProofError, WitnessError
from skyfence.governance.log.checkpoint import (
    Checkpoint,
    NoteVerifier,
    parse_checkpoint,
    verify_checkpoint,
)
from skyfence.governance.log.proof import verify_append_only

__all__ = ["Fork", "detect_fork"]


@dataclass(frozen=True)
class Fork:
    """Evidence of a split view: the origin, the two sizes and roots, and why they conflict."""

    origin: str
    size_a: int
    size_b: int
    root_a: bytes
    root_b: bytes
    reason: str

    def message(self) -> str:
        return (f"fork in log {self.origin}: checkpoints of sizes {self.size_a} and "
                f"{self.size_b} conflict ({self.reason})")


def detect_fork(checkpoint_a: str | Checkpoint, checkpoint_b: str | Checkpoint,
                proof: Sequence[bytes] | None = None, *,
                log_keys: Iterable[str | NoteVerifier] | None = None) -> Fork | None:
    """The `Fork` that two checkpoints of one log prove, or None when they are consistent.

    Notes are verified with `log_keys` when given (`WitnessError` if one does not verify). Same
    size: the roots must be equal. Different sizes: `proof` (the consistency proof from the
    smaller to the larger, as the log serves it) must verify; None when no proof is given and the
    sizes differ raises `WitnessError` (two sizes alone prove nothing). A size-0 checkpoint is
    consistent with every tree when its root is the empty tree's (`verify_append_only`)."""
    a, b = (_checkpoint(c, log_keys) for c in (checkpoint_a, checkpoint_b))
    if a.origin != b.origin:
        raise WitnessError(f"checkpoints of two logs ({a.origin!r}, {b.origin!r})")
    if a.size == b.size:
        if a.root_hash != b.root_hash:
            return Fork(a.origin, a.size, b.size, a.root_hash, b.root_hash,
                        f"two different roots for size {a.size}")
        return None
    small, big = (a, b) if a.size < b.size else (b, a)
    if proof is None and small.size == 0:
        proof = []  # from the empty tree no proof is needed (C2SP tlog-witness)
    if proof is None:
        raise WitnessError(f"checkpoints of sizes {a.size} and {b.size}: a consistency proof "
                           "is needed to compare them")
    try:
        verify_append_only(small.size, big.size, proof, small.root_hash, big.root_hash)
    except ProofError as exc:
        return Fork(a.origin, a.size, b.size, a.root_hash, b.root_hash,
                    f"no valid consistency proof: {exc}")
    return None


def _checkpoint(c: str | Checkpoint,
                log_keys: Iterable[str | NoteVerifier] | None) -> Checkpoint:
    text = c.note if isinstance(c, Checkpoint) else c
    try:
        if log_keys is not None:
            return verify_checkpoint(text, list(log_keys))
        return c if isinstance(c, Checkpoint) else parse_checkpoint(text)
    except CheckpointError as exc:
        raise WitnessError(f"checkpoint: {exc}") from None
