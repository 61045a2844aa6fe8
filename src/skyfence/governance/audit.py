"""Audit of a governance log: the offline verifier with the governance checks required.

`verify_log` and `verify_command` run :func:`skyfence.governance.log.verify.verify_export` with
the rules of :mod:`skyfence.governance.rules.entries` on every entry (the genesis signed by every
founder, membership changed only by an enacted membership proposal, signatures, roles, quorums),
every checkpoint under the log key in force at its size (:mod:`skyfence.governance.logkeys`)
and `check_tables` on the whole export (the database's tables, the terminal registry's included, agree with the log). The checks are
imported and run unconditionally: a failure to run them fails the verification.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from skyfence.errors import EntryError, GovernanceError, NotFoundError, VerificationError
from skyfence.governance.client import export_url, fetch_export, fetch_tiled_export, tiles_prefix
from skyfence.governance.export import export_sqlite_file, is_sqlite_file
from skyfence.governance.log.export import export_entries, load_export
from skyfence.governance.log.verify import VerificationReport, verify_export
from skyfence.governance.logkeys import KeyedChecker
from skyfence.governance.rules.canonical import canonical_json
from skyfence.governance.rules.entries import EntryChecker, replay_state
from skyfence.governance.state import disagreements, expected_rows

__all__ = ["is_url", "load_log", "check_tables", "verify_log", "verify_command"]


def is_url(source: str) -> bool:
    """True for an http(s) URL."""
    return source.startswith(("http://", "https://"))


def load_log(source: str | Path) -> dict[str, Any]:
    """The export of a log given as a server URL, a SQLite governance database or an export file
    (JSON or JSON lines). A URL is read as JSON from ``<url>/log/export``; a URL ending in
    ``/checkpoint``, or a server that serves no ``/log/export``, is read through its C2SP
    tlog-tiles layout (`skyfence.governance.client.fetch_tiled_export`)."""
    source = str(source)
    if is_url(source):
        if source.rstrip("/").endswith("/checkpoint"):
            return fetch_tiled_export(source)
        try:
            return fetch_export(source)
        except NotFoundError:
            return fetch_tiled_export(source)
    if is_sqlite_file(source):
        return export_sqlite_file(source)
    return load_export(Path(source))


def _check_state_tables(texts: list[bytes], tables: Mapping[str, Any],
                        checker: EntryChecker | None) -> None:
    """The exported tables the server acts on (principals, API keys, quorum, proposals with their
    status and enactment index, approvals) against what the log establishes (the state `checker`
    reached when it checked every entry, else a replay of the entries)."""
    if checker is not None and checker.next_index == len(texts):
        state = checker.state
    else:
        try:
            state = replay_state(texts)
        except GovernanceError:
            return  # the entry check names the entry
    actual = {t: [tuple(r) for r in rows] for t, rows in tables.items()}
    why = disagreements(expected_rows(state), actual)
    if why:
        raise EntryError("the database's tables disagree with its log: " + "; ".join(why))


def check_tables(export: Mapping[str, Any], checker: EntryChecker | None = None) -> None:
    """Cross-check the exported tables and entry columns against the log entries: the approvals
    and proposals rows, and (when the export carries them) the rows the server acts on, by
    :mod:`skyfence.governance.state`; GovernanceError naming the entry (or table and row) on the
    first difference. `checker`: the `EntryChecker` that checked the export's entries (its state
    is reused)."""
    texts = export_entries(export)
    cols = export.get("entry_columns") or []
    for c in cols:
        i = c.get("idx")
        if not isinstance(i, int) or not 0 <= i < len(texts):
            raise EntryError(f"entries table: row with index {i!r} outside the log")
        try:
            e = json.loads(texts[i])
        except ValueError:
            continue  # reported by the entry check
        if e.get("t_utc") != c.get("t_utc") or e.get("kind") != c.get("kind"):
            raise EntryError(f"entry {i}: stored columns differ from the entry")
    by_index = {}
    for i, t in enumerate(texts):
        with contextlib.suppress(Exception):
            by_index[i] = json.loads(t)
    for a in export.get("approvals") or []:
        i = a.get("entry_index")
        e = by_index.get(i)
        d = (e or {}).get("data") or {}
        if (e is None or e.get("kind") != "approval.added" or d.get("proposal_id") != a.get("proposal_id")
                or d.get("approver") != a.get("approver") or d.get("signature") != a.get("signature")
                or e.get("t_utc") != a.get("t_utc")):
            raise EntryError(f"entry {i}: approval row ({a.get('approver')!r} on "
                                  f"{a.get('proposal_id')!r}) differs from the logged approval")
    for p in export.get("proposals") or []:
        i = p.get("entry_index")
        e = by_index.get(i)
        d = (e or {}).get("data") or {}
        if (e is None or e.get("kind") != "proposal.created"
                or canonical_json(d.get("proposal")) != p.get("canonical")
                or d.get("digest") != p.get("digest")):
            raise EntryError(f"entry {i}: proposal row {p.get('id')!r} differs from the "
                                  "logged proposal")
    if isinstance(export.get("tables"), Mapping):
        _check_state_tables(texts, export["tables"], checker)


def verify_log(export: Mapping[str, Any], older_checkpoints: list[str] | None = None,
               verifier_key: str | None = None) -> list[str]:
    """Verify an export with the governance checks (`EntryChecker` per entry, `check_tables` on
    the whole export). Returns the report's notes; raises `VerificationError` with the first
    failure (naming the entry) otherwise."""
    checker = KeyedChecker()
    rep = verify_export(export, older_checkpoints=older_checkpoints or [],
                        check_entry=checker, check_export=lambda doc: check_tables(doc, checker),
                        verifier_key=verifier_key, key_schedule=lambda: checker.schedule,
                        raise_on_error=True)
    return [f"{rep.entries} entries verified", f"{rep.checkpoints} checkpoints verified",
            f"{rep.older_checkpoints} older checkpoint(s) consistent", *rep.notes]


def _older_note(item: str) -> str:
    if "\n\n\u2014 " in item:
        return item
    p = Path(item)
    try:
        return p.read_text(encoding="utf-8")
    except OSError as exc:
        raise VerificationError(f"{p}: cannot read checkpoint: {exc.strerror}") from None


def verify_command(path_or_url: str, older: list[str] | None = None, *,
                   verifier_key: str | None = None,
                   semantic: bool = True, console=None,
                   witness_policy: str | Path | None = None) -> VerificationReport:
    """`skyfence verify`: load the log (`load_log`: an export file, a SQLite governance database
    or a server URL), verify it, print a rich report.

    `older`: older checkpoints (file paths or note texts). The governance checks (`EntryChecker`
    per entry, `check_tables` on the export) always run unless `semantic` is False, which verifies
    a log of another application (Merkle tree and checkpoints only; the report says so).
    `witness_policy`: a C2SP tlog-policy file; the log's witnessed checkpoint must then be
    cosigned by its quorum (`skyfence.governance.witness.verify.check_witnessed`).
    Returns the report when it verifies; raises `VerificationError` (first failure) otherwise."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = console or Console()
    doc = load_log(path_or_url)
    source = path_or_url
    if is_url(path_or_url):
        source = (f"{tiles_prefix(path_or_url)} (tlog-tiles)" if doc.get("source") == "tlog-tiles"
                  else export_url(path_or_url))
    olds = [_older_note(o) for o in (older or [])]
    checker = KeyedChecker()
    hooks = ({"check_entry": checker, "check_export": lambda doc: check_tables(doc, checker),
              "key_schedule": lambda: checker.schedule} if semantic else {})
    rep = verify_export(doc, older_checkpoints=olds, verifier_key=verifier_key, **hooks)
    if not semantic:
        rep.notes.append("governance checks not requested: Merkle tree and checkpoints only")
    if doc.get("source") == "tlog-tiles":
        rep.notes.append("read through tlog-tiles: the latest checkpoint and the entries only "
                         "(not the log's older checkpoints, not its database tables)")

    witnessed = None
    if witness_policy is not None:
        from skyfence.governance.witness.verify import check_witnessed, load_witnessed

        try:
            witnessed = check_witnessed(doc, load_witnessed(path_or_url), witness_policy,
                                        log_key=rep.verifier_key or verifier_key)
        except GovernanceError as exc:
            rep.errors.append(f"witnesses: {exc}")

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
    table.add_row("semantic checks", "yes" if semantic else "no (not requested)")
    if witnessed is not None:
        table.add_row("witnessed", witnessed.summary())
    table.add_row("result", "[green]OK[/green]" if rep.ok
                  else f"[red]FAILED ({len(rep.errors)} problem(s))[/red]")
    con.print(table)
    for note in rep.notes:
        con.print(f"[yellow]note:[/yellow] {escape(note)}")
    for e in rep.errors:
        con.print(f"[red]FAIL[/red] {escape(e)}", highlight=False)
    rep.raise_for_errors()
    return rep
