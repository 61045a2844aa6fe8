"""The export format of a transparency log: producing, reading and splitting it into leaf data.

Export format (``skyfence-log-export-v1``), one JSON document::

    {
      "format": "skyfence-log-export-v1",
      "origin": "<log origin, the checkpoints' first line>",
      "verifier_key": "<C2SP vkey of the log key: name+hash+base64>",
      "entries": [ ENTRY, ... ],            # in index order, entry i at position i
      "checkpoints": [ NOTE, ... ],         # signed checkpoint notes, any order
      ...                                   # other keys: free for the log's users
    }

ENTRY is either the canonical entry text itself (a JSON string; the leaf data is its UTF-8
bytes) or an object ``{"index": i, "entry": "<text>" | "data_b64": "<base64 bytes>",
"leaf_hash": "<base64 of the stored 32-byte leaf hash>"}`` ("leaf_hash" optional; when present it
must equal SHA-256(0x00 || data)). NOTE is a checkpoint note text (see
`skyfence.governance.log.checkpoint`) or an object with key "note".

A JSON-lines form is also read: one JSON object per line, ``{"type": "header", "format", "origin",
"verifier_key"}``, then ``{"type": "entry", ...ENTRY object...}`` and ``{"type": "checkpoint",
"note": ...}`` lines.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from skyfence.errors import VerificationError
from skyfence.governance.log.hasher import leaf_hash

__all__ = ["EXPORT_FORMAT", "make_export", "export_entry_bytes", "export_entries", "load_export"]

EXPORT_FORMAT = "skyfence-log-export-v1"


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


_JSONL_RECORDS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "header": lambda doc, rec: doc.update(rec),
    "entry": lambda doc, rec: doc["entries"].append(rec),
    "checkpoint": lambda doc, rec: doc["checkpoints"].append(rec.get("note")),
}
"""JSON-lines record type -> how it adds to the export document (the record without "type")."""


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
        add = _JSONL_RECORDS.get(kind) if isinstance(kind, str) else None
        if add is None:
            raise VerificationError(f"{where}: line {n}: unknown record type {kind!r}")
        add(doc, {k: v for k, v in obj.items() if k != "type"})
    return doc


def export_entries(export: Mapping[str, Any]) -> list[bytes]:
    """The leaf data of every entry of an export, in index order; a malformed entry gives
    ``b""`` (verification names it)."""
    out = []
    for i, e in enumerate(export.get("entries") or []):
        try:
            out.append(export_entry_bytes(e, i)[0])
        except VerificationError:
            out.append(b"")
    return out
