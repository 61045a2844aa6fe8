"""Offline verification of an exported transparency log (format: :mod:`skyfence.governance.log.export`).

`verify_export` recomputes every leaf hash, rebuilds the RFC 9162 tree, checks every checkpoint's
signature (with the export's log key, or a pinned one) and that its root equals the rebuilt tree's
root at its size, that the newest checkpoint covers every entry, generates and verifies the
consistency proof from every checkpoint (and every older checkpoint the caller kept, e.g. from
an earlier audit) to the newest one. Failures are reported in order, each naming the entry index
or checkpoint ("entry 17: leaf hash mismatch ...").

A log that changed its own key names the key in force per tree size: ``key_schedule()`` (called
once every entry was checked, so a hook that checks entries can build it) returns ``(first tree
size, vkey)`` pairs in order; each checkpoint must then verify under the key in force at its size
(a failure names the size and that key), and the export's (or a pinned) key must be one of them.

Hooks: ``check_entry(index, entry_bytes)`` is called for every entry in index order with the
entry's leaf data (bytes; for skyfence logs the canonical JSON); it raises (any exception) on a
semantic problem. ``check_export(export)`` is called once with the whole export document.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyfence.errors import CheckpointError, ProofError, VerificationError
from skyfence.governance.log.checkpoint import (
    Checkpoint,
    parse_checkpoint,
    parse_verifier_key,
    verify_checkpoint,
)
from skyfence.governance.log.export import EXPORT_FORMAT, export_entry_bytes, load_export
from skyfence.governance.log.hasher import leaf_hash
from skyfence.governance.log.proof import verify_append_only
from skyfence.governance.log.tree import MerkleLog

__all__ = ["MAX_ERRORS", "VerificationReport", "verify_export", "key_in_force"]

MAX_ERRORS = 50
"""At most this many failures are listed in a report (the first is always the earliest)."""


@dataclass
class VerificationReport:
    """Outcome of `verify_export`. `errors` lists failures in check order (the first names the
    first failing entry/checkpoint); `ok` is True when there are none. `size` and `root_hash`
    are those of the newest verified checkpoint (None if there is none)."""

    origin: str | None = None
    verifier_key: str | None = None
    entries: int = 0
    checkpoints: int = 0
    older_checkpoints: int = 0
    size: int | None = None
    root_hash: bytes | None = None
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def first_error(self) -> str | None:
        return self.errors[0] if self.errors else None

    def raise_for_errors(self) -> None:
        """Raise `VerificationError` with the first failure (and the count) if not ok."""
        if self.errors:
            more = f" (and {len(self.errors) - 1} more failure(s))" if len(self.errors) > 1 else ""
            raise VerificationError(self.errors[0] + more)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "origin": self.origin, "verifier_key": self.verifier_key,
                "entries": self.entries, "checkpoints": self.checkpoints,
                "older_checkpoints": self.older_checkpoints, "size": self.size,
                "root_hash": None if self.root_hash is None
                else base64.b64encode(self.root_hash).decode("ascii"),
                "errors": list(self.errors), "notes": list(self.notes)}


def _note_text(c: Any) -> str | None:
    if isinstance(c, str):
        return c
    if isinstance(c, Mapping) and isinstance(c.get("note"), str):
        return c["note"]
    return None


def key_in_force(schedule: Sequence[tuple[int, str]], size: int) -> str | None:
    """The vkey of `schedule` (``(first tree size, vkey)`` pairs in order) in force for a
    checkpoint of `size` entries; None before the first pair."""
    key = None
    for first, vkey in schedule:
        if first > size:
            break
        key = vkey
    return key


def _prefixed(where: str, exc: BaseException) -> str:
    msg = str(exc) or type(exc).__name__
    return msg if msg.startswith(where) else f"{where}: {msg}"


def verify_export(export: Mapping[str, Any] | str | Path, *,
                  older_checkpoints: Iterable[str] = (),
                  check_entry: Callable[[int, bytes], None] | None = None,
                  check_export: Callable[[Mapping[str, Any]], None] | None = None,
                  verifier_key: str | None = None,
                  key_schedule: Callable[[], Sequence[tuple[int, str]]] | None = None,
                  raise_on_error: bool = False) -> VerificationReport:
    """Verify an exported log (a dict, or a path / JSON text given to `load_export`).

    `older_checkpoints`: checkpoint note texts kept from earlier (they must verify with the log
    key and be consistent with the newest checkpoint of the export). `verifier_key`: pin the
    log's vkey (otherwise the export's own "verifier_key" is trusted -- noted in the report).
    `key_schedule`: the log's own keys per tree size (module docstring); the report's
    `verifier_key` is then the key in force at the newest checkpoint.
    `check_entry(index, entry_bytes)` / `check_export(export)`: semantic hooks that raise on
    problems. Returns a `VerificationReport`; with `raise_on_error`, raises `VerificationError`
    (first failure) instead of returning a failed report."""
    if not isinstance(export, Mapping):
        export = load_export(export)
    rep = VerificationReport()
    errors = rep.errors

    def fail(msg: str) -> None:
        if len(errors) < MAX_ERRORS:
            errors.append(msg)

    def done() -> VerificationReport:
        if raise_on_error:
            rep.raise_for_errors()
        return rep

    # ---- header
    fmt = export.get("format")
    if fmt not in (None, EXPORT_FORMAT):
        fail(f"export: unknown format {fmt!r} (expected {EXPORT_FORMAT!r})")
        return done()
    origin = export.get("origin")
    rep.origin = origin if isinstance(origin, str) else None
    vkey = export.get("verifier_key")
    if verifier_key is not None:
        if vkey is not None and vkey != verifier_key and key_schedule is None:
            fail("export: its verifier_key is not the pinned log key")
        vkey = verifier_key
    else:
        rep.notes.append("log key taken from the export itself (pin it to trust the log)")
    if not isinstance(vkey, str):
        fail("export: no verifier_key")
        return done()
    try:
        verifier = parse_verifier_key(vkey)
    except CheckpointError as exc:
        fail(f"export: verifier_key: {exc}")
        return done()
    rep.verifier_key = vkey
    if not isinstance(rep.origin, str) or not rep.origin:
        fail("export: no origin")
        return done()

    # ---- entries: recompute leaf hashes, rebuild the tree, semantic hook
    entries = export.get("entries")
    if not isinstance(entries, list):
        fail("export: 'entries' is not a list")
        return done()
    tree = MerkleLog()
    for i, e in enumerate(entries):
        try:
            data, stored = export_entry_bytes(e, i)
        except VerificationError as exc:
            fail(str(exc))
            tree.append(b"")  # keep positions aligned; the checkpoints will fail too
            continue
        h = leaf_hash(data)
        if stored is not None and stored != h:
            fail(f"entry {i}: leaf hash mismatch (stored {base64.b64encode(stored).decode()}, "
                 f"recomputed {base64.b64encode(h).decode()})")
        tree.append_leaf_hash(h)
        if check_entry is not None:
            try:
                check_entry(i, data)
            except Exception as exc:  # noqa: BLE001 -- the hook's own error is reported
                fail(_prefixed(f"entry {i}", exc))
    n = tree.size
    rep.entries = n

    # ---- the log's keys: one, or the schedule its entries name
    schedule = list(key_schedule()) if key_schedule is not None else []
    verifiers: dict[str, Any] = {vkey: verifier}
    if schedule:
        named = [k for _, k in schedule]
        for what, k in (("pinned log key", verifier_key), ("export's verifier_key",
                                                            export.get("verifier_key"))):
            if k is not None and k not in named:
                fail(f"export: the {what} {k} is not a key the log names")
        for k in named:
            try:
                verifiers.setdefault(k, parse_verifier_key(k))
            except CheckpointError as exc:
                fail(f"export: log key {k}: {exc}")

    def verify_signed(note: str, size: int) -> Checkpoint:
        key = key_in_force(schedule, size) or vkey
        try:
            return verify_checkpoint(note, [verifiers.get(key) or verifier], origin=rep.origin)
        except CheckpointError as exc:
            if not schedule:
                raise
            first = max((f for f, k in schedule if f <= size), default=0)
            raise CheckpointError(f"{exc} (the log key in force at size {size} is {key}, "
                                  f"named for sizes >= {first})") from None

    # ---- checkpoints: signature, root at size
    raw_cps = export.get("checkpoints")
    if not isinstance(raw_cps, list):
        fail("export: 'checkpoints' is not a list")
        return done()
    good: list[tuple[int, Checkpoint]] = []
    for j, c in enumerate(raw_cps):
        note = _note_text(c)
        where = f"checkpoint {j}"
        if note is None:
            fail(f"{where}: not a note text")
            continue
        try:
            cp = parse_checkpoint(note)
            where = f"checkpoint {j} (size {cp.size})"
            cp = verify_signed(note, cp.size)
        except CheckpointError as exc:
            fail(f"{where}: {exc}")
            continue
        if cp.size > n:
            fail(f"{where}: covers more entries than the export holds ({n})")
            continue
        if tree.root(cp.size) != cp.root_hash:
            prev = max((s for s, _ in good if s < cp.size), default=0)
            fail(f"{where}: root hash does not match the entries (an entry in "
                 f"[{prev}, {cp.size}) differs from what was signed)")
            continue
        good.append((cp.size, cp))
    rep.checkpoints = len(good)
    if not good:
        if n or raw_cps:
            fail("export: no valid checkpoint")
        return done()
    newest = max(good, key=lambda t: t[0])[1]
    rep.size, rep.root_hash = newest.size, newest.root_hash
    if schedule:
        rep.verifier_key = key_in_force(schedule, newest.size) or vkey
    if newest.size < n:
        fail(f"entry {newest.size}: not covered by any signed checkpoint "
             f"(entries [{newest.size}, {n}) are unsigned)")

    # ---- consistency of every checkpoint (export's and older ones) with the newest
    for size, cp in good:
        if 0 < size < newest.size:
            try:
                proof = tree.consistency_proof(size, newest.size)
                verify_append_only(size, newest.size, proof, cp.root_hash, newest.root_hash)
            except ProofError as exc:
                fail(f"checkpoint of size {size}: not consistent with size {newest.size}: {exc}")
    for k, note in enumerate(older_checkpoints):
        where = f"older checkpoint {k}"
        try:
            cp = parse_checkpoint(note)
            where = f"older checkpoint {k} (size {cp.size})"
            cp = verify_signed(note, cp.size)
        except CheckpointError as exc:
            fail(f"{where}: {exc}")
            continue
        rep.older_checkpoints += 1
        if cp.size > newest.size:
            fail(f"{where}: newer than the export's newest checkpoint (size {newest.size}): "
                 "the log was truncated or rolled back")
            continue
        try:
            proof = [] if cp.size == 0 else tree.consistency_proof(cp.size, newest.size)
            verify_append_only(cp.size, newest.size, proof, cp.root_hash, newest.root_hash)
        except ProofError as exc:
            fail(f"{where}: not consistent with the export's checkpoint of size "
                 f"{newest.size} ({exc}): the log's history was rewritten")

    # ---- whole-export semantic hook
    if check_export is not None:
        try:
            check_export(export)
        except Exception as exc:  # noqa: BLE001
            fail(_prefixed("export", exc))
    return done()
