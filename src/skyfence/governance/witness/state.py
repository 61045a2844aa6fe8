"""A witness's own SQLite storage: the logs it knows and the latest checkpoint it cosigned for each.

Tables
------
* ``known_logs(origin, vkey)``: the log verifier keys the witness trusts, by origin (a log may
  have several keys).
* ``latest(origin, size, root, note, updated_unix)``: per origin, the size and 32-byte root hash
  of the latest cosigned checkpoint and that checkpoint's note with the log's signatures and the
  witness's cosignature (what ``GET /<origin hash>/checkpoint`` serves).

`WitnessState.advance` checks the client's old size against the stored size and writes the new
checkpoint in ONE ``BEGIN IMMEDIATE`` transaction (compare-and-swap), so concurrent requests can
never roll the stored size back, and ``synchronous=FULL`` under WAL makes a committed update
survive a crash: after a kill the row holds either the previous or the new checkpoint.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from skyfence.errors import WitnessError
from skyfence.governance.log.checkpoint import parse_verifier_key

__all__ = ["LatestCheckpoint", "WitnessState"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS known_logs (
    origin TEXT NOT NULL,
    vkey TEXT NOT NULL,
    PRIMARY KEY (origin, vkey)
);
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL CHECK (size >= 0),
    root BLOB NOT NULL CHECK (length(root) = 32),
    note TEXT NOT NULL,
    updated_unix REAL NOT NULL
);
"""


@dataclass(frozen=True)
class LatestCheckpoint:
    """The latest checkpoint a witness cosigned for one log."""

    origin: str
    size: int
    root: bytes
    note: str


class WitnessState:
    """The witness database at `path` (created with its tables on first use)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                    check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._con.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._con.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._con

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction on the witness's connection (one writer at a
        time, across threads by the lock and across processes by SQLite's write lock)."""
        with self._lock:
            con = self._con
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # ----------------------------------------------------------------- known logs

    def add_log(self, vkey: str) -> str:
        """Trust the log verifier key `vkey` for its origin (the key name); returns the origin."""
        try:
            v = parse_verifier_key(vkey)
        except Exception as exc:  # noqa: BLE001 - CheckpointError or a bad key
            raise WitnessError(f"log key {vkey.strip()!r}: {exc}") from None
        with self._write() as con:
            con.execute("INSERT OR IGNORE INTO known_logs (origin, vkey) VALUES (?, ?)",
                        (v.name, v.vkey))
        return v.name

    def log_keys(self, origin: str) -> list[str]:
        """The verifier keys trusted for `origin` (empty: an unknown log)."""
        with self._read() as con:
            rows = con.execute("SELECT vkey FROM known_logs WHERE origin = ? ORDER BY vkey",
                               (origin,)).fetchall()
        return [r[0] for r in rows]

    def origins(self) -> list[str]:
        with self._read() as con:
            rows = con.execute("SELECT DISTINCT origin FROM known_logs ORDER BY origin").fetchall()
        return [r[0] for r in rows]

    # ----------------------------------------------------------------- latest checkpoints

    def latest(self, origin: str) -> LatestCheckpoint | None:
        """The latest cosigned checkpoint of `origin`, or None if never cosigned."""
        with self._read() as con:
            row = con.execute("SELECT size, root, note FROM latest WHERE origin = ?",
                              (origin,)).fetchone()
        return None if row is None else LatestCheckpoint(origin, row[0], bytes(row[1]), row[2])

    def all_latest(self) -> list[LatestCheckpoint]:
        with self._read() as con:
            rows = con.execute("SELECT origin, size, root, note FROM latest ORDER BY origin")
            return [LatestCheckpoint(o, n, bytes(r), t) for o, n, r, t in rows.fetchall()]

    def advance(self, origin: str,
                decide: Callable[[int, bytes | None], tuple[int, bytes, str]]) -> None:
        """Compare-and-swap of `origin`'s latest checkpoint in one write transaction.

        `decide(stored_size, stored_root)` (0 and None when never cosigned) runs while the
        transaction holds the write lock; it raises to refuse (nothing is written) or returns the
        new (size, root, note), which is stored before the transaction commits."""
        with self._write() as con:
            row = con.execute("SELECT size, root FROM latest WHERE origin = ?",
                              (origin,)).fetchone()
            size, root = (0, None) if row is None else (row[0], bytes(row[1]))
            new_size, new_root, note = decide(size, root)
            con.execute(
                "INSERT INTO latest (origin, size, root, note, updated_unix) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(origin) DO UPDATE SET size = excluded.size, root = excluded.root,"
                " note = excluded.note, updated_unix = excluded.updated_unix",
                (origin, new_size, new_root, note, time.time()))
