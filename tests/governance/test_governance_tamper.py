"""Tampering: change any one byte of any stored entry, approval or checkpoint in the SQLite file,
and ``skyfence verify FILE`` fails (exit 2) naming the entry (or the checkpoint)."""

from __future__ import annotations

import random
import re
import sqlite3

import pytest

from skyfence.cli import main
from skyfence.governance import policies, registry
from tests.governance.fixtures import make_plane

GEOFENCE = 'permit(principal, action, resource);\nforbid(principal, action, resource in Region::"zone");'


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    path = tmp_path_factory.mktemp("tamper") / "gov.db"
    p = make_plane(f"sqlite:///{path}")
    L = p.ledger
    registry.create_owner(L, "op", "ngo", 3)
    registry.register_terminal(L, "op", "t1", 50.4, 30.5, owner="ngo", groups=["donated"])
    registry.set_terminal_status(L, "op", "t1", "active")
    registry.import_terminals_csv(L, "op", "id,lat,lon,group\nu1,48,30,a\nu2,49,31,b\n")
    for proposer, approvers in (("alice", ("bob", "carol")), ("dave", ("alice",))):
        f = p.proposal(proposer, cedar=GEOFENCE)
        policies.submit_proposal(L, proposer, f, p.sign(proposer, f))
        for a in approvers:
            policies.submit_approval(L, a, f["id"], p.sign(a, f))
    p.db.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    entries = conn.execute("SELECT idx, body FROM log_entries ORDER BY idx").fetchall()
    # signature and time are adjacent in the approvals row (in log entries they are not)
    approvals = conn.execute("SELECT entry_index, signature || t_utc FROM approvals").fetchall()
    checkpoints = conn.execute("SELECT tree_size, note FROM checkpoints").fetchall()
    conn.close()
    return path, entries, approvals, checkpoints


def _flip_copy(src, dst, value: str, rng: random.Random, span: int | None = None) -> None:
    """Copy `src` to `dst` with one byte of `value`'s stored bytes changed (within its first
    `span` bytes; the rest only serves to find the right row)."""
    data = bytearray(src.read_bytes())
    raw = value.encode("utf-8")
    pos = rng.randrange(span or len(raw))
    for width in (len(raw), 400, 200, 96, 48):  # windows, in case SQLite split the value over pages
        lo = max(0, min(pos - width // 2, len(raw) - width))
        chunk = raw[lo:lo + width]
        at = data.find(chunk)
        if at >= 0 and data.find(chunk, at + 1) < 0:
            break
    else:
        raise AssertionError("value not found exactly once in the file")
    data[at + (pos - lo)] ^= 0x01
    dst.write_bytes(bytes(data))


def _verify(path, capsys) -> tuple[int, str]:
    rc = main(["verify", str(path)])
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_untouched_database_verifies(populated, capsys):
    path = populated[0]
    rc, text = _verify(path, capsys)
    assert rc == 0, text
    assert "OK" in text


def test_any_changed_byte_is_named(populated, tmp_path, capsys):
    path, entries, approvals, checkpoints = populated
    rng = random.Random(5)
    dst = tmp_path / "t.db"
    cases = ([(body, rf"entry {i}\b", None) for i, body in entries]
             + [(sig, rf"entry {i}\b", 128) for i, sig in approvals]
             + [(note, rf"checkpoint {j}\b", None)  # the j-th stored checkpoint (by size)
                for j, (_n, note) in enumerate(sorted(checkpoints))])
    assert len(approvals) == 5 and len(entries) > 12  # 2 approvals add aud and vic
    for value, pattern, span in cases:
        _flip_copy(path, dst, value, rng, span)
        rc, text = _verify(dst, capsys)
        assert rc == 2, f"not detected: {value[:60]!r}\n{text}"
        first_error = next(line for line in text.splitlines() if line.startswith(("FAIL", "error")))
        assert re.search(pattern, first_error), (pattern, first_error)
