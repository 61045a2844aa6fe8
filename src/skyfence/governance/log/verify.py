"""Offline verification of an exported transparency log.

Export format (``skyfence-log-export-v1``), one JSON document::

    {
      "format": "skyfence-log-export-v1",
      "origin": "<log origin, the checkpoints' first line>",
      "verifier_key": "<C2SP vkey of the log key: name+hash+base64>",
      "entries": [ ENTRY, ... ],            # in index order, entry i at position i
      "checkpoints": [ NOTE, ... ],         # signed checkpoint notes, any order
      ...                                   # other keys: ignored here (see `check_export`)
    }

ENTRY is either the canonical entry text itself (a JSON string; the leaf data is its UTF-8
bytes) or an object ``{"index": i, "entry": "<text>" | "data_b64": "<base64 bytes>",
"leaf_hash": "<base64 of the stored 32-byte leaf hash>"}`` ("leaf_hash" optional; when present it
must equal SHA-256(0x00 || data)). NOTE is a checkpoint note text (see
`skyfence.governance.checkpoint`) or an object with key "note".

A JSON-lines form is also read: one JSON object per line, ``{"type": "header", "format", "origin",
"verifier_key"}``, then ``{"type": "entry", ...ENTRY object...}`` and ``{"type": "checkpoint",
"note": ...}`` lines.

`verify_export` recomputes every leaf hash, rebuilds the RFC 9162 tree, checks every checkpoint's
signature (with the export's log key, or a pinned one) and that its root equals the rebuilt tree's
root at its size, that the newest checkpoint covers every entry, generates and verifies the
consistency proof from every checkpoint (and every older checkpoint the caller kept, e.g. from
an earlier audit) to the newest one. Failures are reported in order, each naming the entry index
or checkpoint ("entry 17: leaf hash mismatch ...").

Hooks: ``check_entry(index, entry_bytes)`` is called for every entry in index order with the
entry's leaf data (bytes; for skyfence logs the canonical JSON); it raises (any exception) on a
semantic problem. ``check_export(export)`` is called once with the whole export document.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyfence.errors import GovernanceError
from skyfence.governance.checkpoint import (
    Checkpoint,
    CheckpointError,
    parse_checkpoint,
    parse_verifier_key,
    verify_checkpoint,
)
from skyfence.governance.merkle import MerkleLog, ProofError, leaf_hash, verify_consistency

__all__ = [
    "EXPORT_FORMAT",
    "VerificationError",
    "VerificationReport",
    "make_export",
    "export_entry_bytes",
    "load_export",
    "verify_export",
    "verify_command",
]

EXPORT_FORMAT = "skyfence-log-export-v1"

MAX_ERRORS = 50
"""At most this many failures are listed in a report (the first is always the earliest)."""


class VerificationError(GovernanceError):
    """An exported log failed verification; the message is the first failure."""


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


# --------------------------------------------------------------------------- producing exports


def make_export(origin: str, verifier_key: str, entries: Sequence[bytes],
                checkpoints: Sequence[str], *, leaf_hashes: Sequence[bytes] | None = None,
                extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An export document. `entries` are the leaf data (bytes); `leaf_hashes` the stored leaf
    hashes (default: computed from the entries); `extra` more top-level keys."""
    out_entries = []
    for i, data in enumerate(entries):
        data = bytes(data)
        e: dict[str, Any] = {"index": i}
        try:
            e["entry"] = data.decode("utf-8")
        except UnicodeDecodeError:
            e["data_b64"] = base64.b64encode(data).decode("ascii")
        h = leaf_hash(data) if leaf_hashes is None else bytes(leaf_hashes[i])
        e["leaf_hash"] = base64.b64encode(h).decode("ascii")
        out_entries.append(e)
    doc: dict[str, Any] = {"format": EXPORT_FORMAT, "origin": origin,
                           "verifier_key": verifier_key, "entries": out_entries,
                           "checkpoints": list(checkpoints)}
    if extra:
        for k, v in extra.items():
            if k in doc:
                raise ValueError(f"make_export: extra key {k!r} clashes with the format")
            doc[k] = v
    return doc


def export_entry_bytes(entry: Any, position: int) -> tuple[bytes, bytes | None]:
    """(leaf data, stored leaf hash or None) of one ENTRY of an export; `VerificationError`
    naming the entry if it is malformed or records another index."""
    where = f"entry {position}"
    if isinstance(entry, str):
        return entry.encode("utf-8"), None
    if not isinstance(entry, Mapping):
        raise VerificationError(f"{where}: neither a string nor an object")
    if "index" in entry and entry["index"] != position:
        raise VerificationError(f"{where}: records index {entry['index']!r}")
    if isinstance(entry.get("entry"), str):
        data = entry["entry"].encode("utf-8")
    elif isinstance(entry.get("data_b64"), str):
        try:
            data = base64.b64decode(entry["data_b64"], validate=True)
        except (binascii.Error, ValueError):
            raise VerificationError(f"{where}: data_b64 is not valid base64") from None
    else:
        raise VerificationError(f"{where}: has neither 'entry' text nor 'data_b64'")
    stored = entry.get("leaf_hash")
    if stored is None:
        return data, None
    try:
        h = base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise VerificationError(f"{where}: stored leaf hash is not valid base64") from None
    return data, h


def load_export(source: str | Path | bytes) -> dict[str, Any]:
    """An export document from a file path, or from JSON / JSON-lines text or bytes."""
    if isinstance(source, Path) or (isinstance(source, str)
                                    and source.lstrip()[:1] not in ("{", "[")):
        p = Path(source)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise VerificationError(f"{p}: cannot read export: {exc.strerror}") from None
        where = str(p)
    else:
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        where = "export"
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as first:
        doc = _load_jsonl(text, where, first)
    if not isinstance(doc, dict):
        raise VerificationError(f"{where}: export must be a JSON object")
    return doc


def _load_jsonl(text: str, where: str, first: json.JSONDecodeError) -> dict[str, Any]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    doc: dict[str, Any] = {"entries": [], "checkpoints": []}
    for n, ln in enumerate(lines, start=1):
        try:
            obj = json.loads(ln)
        except json.JSONDecodeError as exc:
            if n == 1:
                raise VerificationError(f"{where}: not JSON (line {first.lineno}, column "
                                        f"{first.colno}: {first.msg})") from None
            raise VerificationError(f"{where}: line {n}: not JSON ({exc.msg})") from None
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "header":
            doc.update({k: v for k, v in obj.items() if k != "type"})
        elif kind == "entry":
            doc["entries"].append({k: v for k, v in obj.items() if k != "type"})
        elif kind == "checkpoint":
            doc["checkpoints"].append(obj.get("note"))
        else:
            raise VerificationError(f"{where}: line {n}: unknown record type {kind!r}")
    return doc


# --------------------------------------------------------------------------- verification


def _note_text(c: Any) -> str | None:
    if isinstance(c, str):
        return c
    if isinstance(c, Mapping) and isinstance(c.get("note"), str):
        return c["note"]
    return None


def _prefixed(where: str, exc: BaseException) -> str:
    msg = str(exc) or type(exc).__name__
    return msg if msg.startswith(where) else f"{where}: {msg}"


def verify_export(export: Mapping[str, Any] | str | Path, *,
                  older_checkpoints: Iterable[str] = (),
                  check_entry: Callable[[int, bytes], None] | None = None,
                  check_export: Callable[[Mapping[str, Any]], None] | None = None,
                  verifier_key: str | None = None,
                  raise_on_error: bool = False) -> VerificationReport:
    """Verify an exported log (a dict, or a path / JSON text given to `load_export`).

    `older_checkpoints`: checkpoint note texts kept from earlier (they must verify with the log
    key and be consistent with the newest checkpoint of the export). `verifier_key`: pin the
    log's vkey (otherwise the export's own "verifier_key" is trusted -- noted in the report).
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
        if vkey is not None and vkey != verifier_key:
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
            cp = verify_checkpoint(note, [verifier], origin=rep.origin)
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
    if newest.size < n:
        fail(f"entry {newest.size}: not covered by any signed checkpoint "
             f"(entries [{newest.size}, {n}) are unsigned)")

    # ---- consistency of every checkpoint (export's and older ones) with the newest
    for size, cp in good:
        if 0 < size < newest.size:
            try:
                proof = tree.consistency_proof(size, newest.size)
                verify_consistency(size, newest.size, proof, cp.root_hash, newest.root_hash)
            except ProofError as exc:
                fail(f"checkpoint of size {size}: not consistent with size {newest.size}: {exc}")
    for k, note in enumerate(older_checkpoints):
        where = f"older checkpoint {k}"
        try:
            cp = parse_checkpoint(note)
            where = f"older checkpoint {k} (size {cp.size})"
            cp = verify_checkpoint(note, [verifier], origin=rep.origin)
        except CheckpointError as exc:
            fail(f"{where}: {exc}")
            continue
        rep.older_checkpoints += 1
        if cp.size > newest.size:
            fail(f"{where}: newer than the export's newest checkpoint (size {newest.size}): "
                 "the log was truncated or rolled back")
            continue
        if cp.size == 0:
            rep.notes.append(f"{where}: empty tree, consistent with anything (not checked)")
            continue
        try:
            proof = tree.consistency_proof(cp.size, newest.size)
            verify_consistency(cp.size, newest.size, proof, cp.root_hash, newest.root_hash)
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


# --------------------------------------------------------------------------- CLI entry point


def _fetch(url: str) -> dict[str, Any]:
    import httpx

    full = url.rstrip("/") + "/log/export"
    try:
        r = httpx.get(full, timeout=60.0, follow_redirects=True)
        r.raise_for_status()
        doc = r.json()
    except httpx.HTTPError as exc:
        raise VerificationError(f"{full}: cannot fetch export: {exc}") from None
    except ValueError:
        raise VerificationError(f"{full}: response is not JSON") from None
    if not isinstance(doc, dict):
        raise VerificationError(f"{full}: export must be a JSON object")
    return doc


def _older_note(item: str) -> str:
    if "\n\n\u2014 " in item:
        return item
    p = Path(item)
    try:
        return p.read_text(encoding="utf-8")
    except OSError as exc:
        raise VerificationError(f"{p}: cannot read checkpoint: {exc.strerror}") from None


def _default_semantic_hooks() -> tuple[Callable | None, Callable | None, str | None]:
    """The governance checker of skyfence.governance.ledger, if it is there."""
    try:
        from skyfence.governance import ledger  # noqa: PLC0415
    except Exception:  # noqa: BLE001
        return None, None, "semantic checks unavailable (skyfence.governance.ledger)"
    entry_hook = ledger.GovernanceChecker() if hasattr(ledger, "GovernanceChecker") else None
    export_hook = getattr(ledger, "check_tables", None)
    return entry_hook, export_hook, None


def verify_command(path_or_url: str, older: list[str] | None = None, *,
                   verifier_key: str | None = None,
                   check_entry: Callable[[int, bytes], None] | None = None,
                   check_export: Callable[[Mapping[str, Any]], None] | None = None,
                   semantic: bool = True, console=None) -> VerificationReport:
    """`skyfence verify`: load an export from a file (or GET ``<url>/log/export`` when
    `path_or_url` starts with http), verify it, print a rich report.

    `older`: older checkpoints (file paths or note texts). With `semantic` and no hooks given,
    the governance checks of `skyfence.governance.ledger` (signatures, roles, quorum) are run.
    Returns the report when it verifies; raises `VerificationError` (first failure) otherwise."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = console or Console()
    if path_or_url.startswith(("http://", "https://")):
        doc = _fetch(path_or_url)
        source = path_or_url.rstrip("/") + "/log/export"
    else:
        doc = load_export(Path(path_or_url))
        source = path_or_url
    notes_extra: list[str] = []
    if semantic and check_entry is None and check_export is None:
        check_entry, check_export, why = _default_semantic_hooks()
        if why:
            notes_extra.append(why)
    olds = [_older_note(o) for o in (older or [])]
    rep = verify_export(doc, older_checkpoints=olds, check_entry=check_entry,
                        check_export=check_export, verifier_key=verifier_key)
    rep.notes.extend(notes_extra)

    table = Table(title=f"Log verification: {escape(source)}", show_header=False)
    table.add_column("check", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("origin", str(rep.origin))
    table.add_row("log key", str(rep.verifier_key))
    table.add_row("entries", str(rep.entries))
    table.add_row("checkpoints verified", str(rep.checkpoints))
    table.add_row("older checkpoints checked", str(rep.older_checkpoints))
    table.add_row("tree size", str(rep.size))
    table.add_row("root hash", "-" if rep.root_hash is None
                  else base64.b64encode(rep.root_hash).decode("ascii"))
    table.add_row("semantic checks", "yes" if (check_entry or check_export) else "no")
    table.add_row("result", "[green]OK[/green]" if rep.ok
                  else f"[red]FAILED ({len(rep.errors)} problem(s))[/red]")
    con.print(table)
    for note in rep.notes:
        con.print(f"[yellow]note:[/yellow] {escape(note)}")
    for e in rep.errors:
        con.print(f"[red]FAIL[/red] {escape(e)}", highlight=False)
    rep.raise_for_errors()
    return rep
