"""Whether a service receipt is still fresh: nothing the log appended after it changes its decision.

`check_fresh(receipt, url)` reads the log of the server at `url` through its C2SP tlog-tiles
layout (``/checkpoint`` and the tiles, every tile checked against the checkpoint's root:
:func:`skyfence.governance.client.fetch_tiled_export`), then checks:

* the current checkpoint is signed by the receipt's log: by the key in force at its size, which
  is the receipt's key or one the log's entries rotated to from it (every entry checked by the
  log's rules, :mod:`skyfence.governance.logkeys`) (and, with a witness policy, cosigned
  by the policy's quorum of witnesses);
* the log extends the receipt's: the root of its first ``tree_size`` entries is the root of the
  receipt's checkpoint (a log that shows the receipt's holder another history is a fork);
* no entry after the receipt's checkpoint changes the decision: a ``policy.enacted`` entry in
  force at the receipt's instant or by now (a later enactment supersedes the policy that decided
  it, or puts one in force where there was none), or an entry that changes the receipt's terminal
  (its status, groups, or its registration). Later membership entries (principals, keys, roles,
  quorums) do not change which policy is in force and are listed as notes, as are enactments that
  are not yet in force.

A receipt that is not fresh raises `StaleReceiptError` naming the entry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from skyfence.errors import GovernanceError, VerificationError, WitnessError
from skyfence.governance.client import fetch_tiled_export
from skyfence.governance.log.checkpoint import parse_checkpoint, verify_checkpoint
from skyfence.governance.log.export import export_entries
from skyfence.governance.log.tree import entries_root
from skyfence.governance.logkeys import key_in_force, key_schedule
from skyfence.governance.rules.canonical import iso_utc

__all__ = ["StaleReceiptError", "check_fresh", "later_changes"]

_TERMINAL_KINDS = ("terminal.registered", "terminal.status", "terminal.groups")
_MEMBERSHIP_PREFIXES = ("principal.", "apikey.", "membership.", "settings.", "genesis", "log.")


class StaleReceiptError(GovernanceError):
    """A later log entry changes the receipt's decision."""


def _touches_terminal(kind: str, data: Mapping[str, Any], terminal: str) -> bool:
    if kind in _TERMINAL_KINDS:
        return data.get("id") == terminal
    if kind == "terminals.imported":
        return any(row and row[0] == terminal for row in data.get("rows") or [])
    return False


def later_changes(receipt: Mapping[str, Any], entries: list[bytes], now_utc: str) -> list[str]:
    """Notes on the entries after the receipt's tree size; `StaleReceiptError` on the first one
    that changes its decision (see the module docstring)."""
    at = receipt["at_utc"]
    horizon = max(at, now_utc)
    terminal = receipt["terminal"]
    notes: list[str] = []
    for index in range(int(receipt["tree_size"]), len(entries)):
        e = json.loads(entries[index])
        kind, data = e.get("kind", ""), e.get("data") or {}
        if kind == "policy.enacted":
            start = max(e["t_utc"], data.get("effective_utc") or e["t_utc"])
            what = f"entry {index} (policy.enacted, proposal {data.get('proposal_id')})"
            if start <= horizon:
                raise StaleReceiptError(
                    f"receipt superseded: {what} is in force from {start}, "
                    + ("before the receipt's instant" if start <= at else "by now")
                    + "; the receipt's decision was made under "
                    + (f"the policy enacted at entry {receipt['policy']['log_index']}"
                       if receipt.get("policy") else "no policy"))
            notes.append(f"{what} is in force only from {start}: not yet")
        elif _touches_terminal(kind, data, terminal):
            raise StaleReceiptError(f"receipt superseded: entry {index} ({kind}) changes terminal "
                                    f"{terminal!r} after the receipt")
        elif kind.startswith(_MEMBERSHIP_PREFIXES):
            notes.append(f"entry {index} ({kind}): a membership change, not the policy in force")
    return notes


def check_fresh(receipt: Mapping[str, Any], url: str, *, verifier_key: str | None = None,
                witness_policy=None, now_utc: str | None = None) -> list[str]:
    """Check that `receipt` (already verified offline) is fresh against the log served at `url`;
    returns notes, raises `StaleReceiptError` (a later entry changes the decision) or
    `VerificationError` (the log cannot be read, is not signed by the receipt's key, lacks the
    witnesses' quorum, or does not extend the receipt's checkpoint)."""
    key = verifier_key or receipt["log_verifier_key"]
    export = fetch_tiled_export(url)
    note = export["checkpoints"][-1]
    note = note if isinstance(note, str) else note["note"]
    entries = export_entries(export)
    try:  # the log's keys over its history, every entry checked by the log's rules
        schedule = key_schedule(entries)
    except GovernanceError as exc:
        raise VerificationError(f"{url}: the log breaks its rules: {exc}") from None
    if key not in [k for _, k in schedule]:
        raise VerificationError(f"{url}: the current checkpoint is not signed by the receipt's "
                                f"log: the receipt's key {key} is not a key this log names")
    try:
        size = parse_checkpoint(note).size
        key = key_in_force(schedule, size) or key
        current = verify_checkpoint(note, key)
    except GovernanceError as exc:
        raise VerificationError(f"{url}: the current checkpoint is not signed by the receipt's "
                                f"log (the key in force at its size is {key}): {exc}") from None
    notes = [f"current checkpoint of {url}: size {current.size}, signed by the receipt's log"]
    if witness_policy is not None:
        try:
            res = witness_policy.check(note, log_key=key)
        except WitnessError as exc:
            raise VerificationError(f"{url}: current checkpoint: {exc}") from None
        if not res.quorum_met:
            raise VerificationError(f"{url}: current checkpoint: {res.summary()}")
        notes.append(res.summary())
    mine = parse_checkpoint(receipt["checkpoint"])
    if mine.size != receipt["tree_size"]:
        raise VerificationError("receipt: its checkpoint's size differs from its tree_size")
    if current.size < mine.size:
        raise VerificationError(f"{url}: the log has {current.size} entries, fewer than the "
                                f"receipt's {mine.size} (a rolled back or forked log)")
    if entries_root(entries, mine.size) != mine.root_hash:
        raise VerificationError(f"{url}: the log's first {mine.size} entries do not give the "
                                "receipt's checkpoint root (a forked log)")
    notes.append(f"the log extends the receipt's checkpoint (size {mine.size} -> "
                 f"{current.size})")
    now = now_utc or iso_utc(dt.datetime.now(dt.UTC))
    notes += later_changes(receipt, entries, now)
    notes.append(f"fresh: no entry after size {mine.size} up to {current.size} changes the "
                 "decision")
    return notes
