"""The governance state a decision acts on, kept between requests while the database is unchanged.

`open_view(ledger)` yields a `LogView`: the log size, the `LogState` the log establishes (the
tables checked against it by `Ledger.state`: a disagreement raises `StateMismatchError` and
nothing is decided), the signed checkpoint of that size and the latest witnessed checkpoint.

On SQLite the view is kept and reused while the database is unchanged. A dedicated read-only
connection watches ``PRAGMA data_version``, which changes whenever any other connection commits:
this process's writers, another server process, or someone editing a table with the sqlite3
shell. Any commit drops the view, and the next decision checks the tables against the log again
before it acts. Reads made for a view (`LogView.read`, `LogView.terminal`) are confirmed
afterwards: if a commit came in between, `StaleView` is raised and the caller starts over on a
new view. On other databases a view lives for one read session (every decision checks the
tables).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from skyfence.governance.ledger import Ledger
from skyfence.governance.registry import get_terminal
from skyfence.governance.rules.entries import LogState
from skyfence.governance.witness.client import latest_witnessed

__all__ = ["LogView", "StaleView", "open_view", "cached_view"]

T = TypeVar("T")
_MAX_TERMINALS = 200_000


class StaleView(Exception):
    """The database changed while a view's reads were made: start over on a new view."""


class _Watcher:
    """``PRAGMA data_version`` of a read-only connection of its own to a SQLite file."""

    def __init__(self, path: Path):
        self._con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True,
                                    check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()

    def version(self) -> int:
        with self._lock:
            return int(self._con.execute("PRAGMA data_version").fetchone()[0])


@dataclass
class LogView:
    """What the log establishes at `size` (tables checked), with its checkpoints. `version` is
    the watched data version it was built at (None: bound to one read session)."""

    ledger: Ledger
    size: int
    state: LogState
    checkpoint: str | None
    witnessed: str | None
    version: int | None = None
    _watcher: _Watcher | None = field(default=None, repr=False)
    _session: Session | None = field(default=None, repr=False)
    _terminals: dict[str, dict | None] = field(default_factory=dict, repr=False)

    def read(self, fn: Callable[[Session], T]) -> T:
        """`fn(session)` on the database as this view sees it; `StaleView` if it changed."""
        if self._session is not None:
            return fn(self._session)
        with self.ledger.db.read_session() as s:
            out = fn(s)
        if self._watcher.version() != self.version:
            raise StaleView
        return out

    def terminal(self, terminal_id: str, *, cached_only: bool = False) -> dict | None:
        """The registry's terminal (`registry.get_terminal`, shared: do not modify), or None;
        `cached_only`: `StaleView` rather than a database read."""
        if self._session is not None:
            return get_terminal(self._session, terminal_id, self.state)
        try:
            return self._terminals[terminal_id]
        except KeyError:
            if cached_only:
                raise StaleView from None
        t = self.read(lambda s: get_terminal(s, terminal_id, self.state))
        if len(self._terminals) >= _MAX_TERMINALS:
            self._terminals.clear()
        self._terminals[terminal_id] = t
        return t


class _Cache:
    def __init__(self, watcher: _Watcher | None):
        self.watcher = watcher
        self.view: LogView | None = None
        self.lock = threading.Lock()


_CACHES: weakref.WeakKeyDictionary[Ledger, _Cache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache_of(ledger: Ledger) -> _Cache:
    with _CACHES_LOCK:
        c = _CACHES.get(ledger)
        if c is None:
            watcher = None
            if ledger.db.is_sqlite:
                with contextlib.suppress(sqlite3.Error, ValueError, OSError):
                    watcher = _Watcher(Path(make_url(ledger.db.url).database))
            c = _CACHES[ledger] = _Cache(watcher)
        return c


def _build(ledger: Ledger, s: Session, **kw: Any) -> LogView:
    size = ledger.size(s)
    state = ledger.state(s)
    return LogView(ledger, size, state, ledger.checkpoint_at(s, size), latest_witnessed(s), **kw)


def cached_view(ledger: Ledger) -> LogView:
    """The kept `LogView` of `ledger` if the database has not changed since it was built (no
    database read: for callers that must not wait); `StaleView` otherwise."""
    cache = _cache_of(ledger)
    view = cache.view
    if cache.watcher is None or view is None or view.version != cache.watcher.version():
        raise StaleView
    return view


@contextlib.contextmanager
def open_view(ledger: Ledger, *, session_bound: bool = False) -> Iterator[LogView]:
    """The current `LogView` of `ledger` (see the module docstring); `session_bound`: built in
    one read session held open while it is used, never cached."""
    cache = _cache_of(ledger)
    if cache.watcher is None or session_bound:
        with ledger.db.read_session() as s:
            yield _build(ledger, s, _session=s)
        return
    view = cache.view
    if view is None or view.version != cache.watcher.version():
        with cache.lock:
            version = cache.watcher.version()  # before the session: a later commit changes it
            view = cache.view
            if view is None or view.version != version:
                with ledger.db.read_session() as s:
                    view = _build(ledger, s, version=version, _watcher=cache.watcher)
                cache.view = view
    yield view
