"""Checking a verified log's witnessed checkpoint against a witness policy (``skyfence verify
--witness-policy FILE``).

The witnessed checkpoint is read from the log's source: the ``witnessed_checkpoints`` table of a
SQLite governance database (largest size), or a server's ``/checkpoint`` (tlog-tiles; a log may
serve it with cosignatures appended). It must be signed by the log, cosigned by a quorum of the
policy's witnesses, and name the same root as the verified entries give for its size.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from skyfence.errors import VerificationError, WitnessError
from skyfence.governance.log.export import export_entries
from skyfence.governance.log.tree import entries_root
from skyfence.governance.witness.policy import PolicyCheck, WitnessPolicy, load_policy

__all__ = ["load_witnessed", "check_witnessed"]


def load_witnessed(source: str | Path) -> str | None:
    """The witnessed checkpoint note of a log source (URL or SQLite file), None if it has none."""
    source = str(source)
    if source.startswith(("http://", "https://")):
        from skyfence.governance.client import tiles_prefix

        url = tiles_prefix(source) + "/checkpoint"
        try:
            r = httpx.get(url, timeout=30.0)
        except httpx.HTTPError as exc:
            raise VerificationError(f"{url}: cannot fetch: {exc}") from None
        return r.text if r.status_code == 200 else None
    path = source.removeprefix("sqlite:///")
    if not Path(path).is_file():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        try:
            row = con.execute("SELECT note FROM witnessed_checkpoints "
                              "ORDER BY tree_size DESC LIMIT 1").fetchone()
        except sqlite3.OperationalError:
            return None
    return None if row is None else row[0]


def check_witnessed(export: Mapping[str, Any], note: str | None,
                    policy: WitnessPolicy | str | Path, *, log_key: str | None) -> PolicyCheck:
    """Check `note` (the witnessed checkpoint) against `policy` and the verified `export`'s
    entries. `VerificationError` naming the problem: no witnessed checkpoint, a checkpoint not
    signed by the log or with a bad cosignature, a root that differs from the entries' root at
    its size, or a quorum not met."""
    pol = policy if isinstance(policy, WitnessPolicy) else load_policy(policy)
    if note is None:
        if pol.quorum == "none":
            raise VerificationError("no witnessed checkpoint")
        raise VerificationError(f"no witnessed checkpoint: quorum {pol.quorum!r} not met")
    try:
        res = pol.check(note, log_key=log_key)
    except WitnessError as exc:
        raise VerificationError(f"witnessed checkpoint: {exc}") from None
    entries = export_entries(export)
    if res.size > len(entries):
        raise VerificationError(f"witnessed checkpoint of size {res.size} is beyond the log's "
                                f"{len(entries)} entries")
    if entries_root(entries, res.size) != res.root_hash:
        raise VerificationError(f"witnessed checkpoint of size {res.size}: its root differs from "
                                "the verified entries' root at that size (a split view)")
    if not res.quorum_met:
        raise VerificationError(res.summary())
    return res
