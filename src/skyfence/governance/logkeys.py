"""The log's own key over its history: which key signs the checkpoint of each tree size.

A governance log names its key in its genesis (entry 0) and changes it only by an enacted
membership change ``{"op": "log_key", "verifier_key"}``
(:mod:`skyfence.governance.rules.membership`), itself approved by the membership quorum.
`skyfence.governance.ledger.Ledger` signs the checkpoint of a write transaction with the key in
force when the transaction began, and a rotation is the last entry of its transaction; so the
genesis key signs the checkpoints of sizes >= 1, and after a rotation at entry ``r`` the
checkpoint of size ``r + 1`` (the one that first holds the rotation) is still signed by the old
key, every checkpoint of size >= ``r + 2`` by the new one.

`KeyedChecker` checks entries with :class:`skyfence.governance.rules.entries.EntryChecker` (so only
rotations the log's rules accept count) and records that schedule as ``(first tree size, vkey)``
pairs, the form :func:`skyfence.governance.log.verify.verify_export` takes as ``key_schedule``.
"""

from __future__ import annotations

from collections.abc import Iterable

from skyfence.governance.log.verify import key_in_force
from skyfence.governance.rules.entries import EntryChecker

__all__ = ["KeyedChecker", "key_schedule", "key_in_force"]


class KeyedChecker(EntryChecker):
    """An `EntryChecker` that also records the log keys its entries name (`schedule`)."""

    def __init__(self) -> None:
        super().__init__()
        self.schedule: list[tuple[int, str]] = []

    def __call__(self, index: int, data: bytes) -> None:
        before = self.state.log_key
        super().__call__(index, data)  # an entry that breaks the rules names no key
        after = self.state.log_key
        if after is not None and after != before:
            self.schedule.append((0 if before is None else index + 2, after))


def key_schedule(entries: Iterable[bytes]) -> list[tuple[int, str]]:
    """The ``(first tree size, vkey)`` schedule of a log's entries (leaf data in index order),
    every entry checked by the log's rules (`GovernanceError` naming the first that breaks them)."""
    checker = KeyedChecker()
    for i, data in enumerate(entries):
        checker(i, data)
    return list(checker.schedule)
