"""Governance database: SQLAlchemy 2 models, engine set-up and Alembic migrations.

Storage
-------
* SQLite (the embedded default): a file URL such as ``sqlite:///governance.db`` or a bare path.
  Every connection runs ``PRAGMA journal_mode=WAL``, ``foreign_keys=ON``, ``busy_timeout=30000``
  (ms) and ``synchronous=FULL``. Write transactions start with ``BEGIN IMMEDIATE`` (one writer at a
  time, no lock upgrade deadlocks); read-only sessions (`read_session`) use a deferred ``BEGIN`` so
  readers never wait for writers under WAL.
* PostgreSQL by URL: ``postgresql://...`` and ``postgres://...`` are normalised to the psycopg 3
  driver (``postgresql+psycopg://...``). Writers serialise on the single ``log_head`` row
  (``SELECT ... FOR UPDATE``), which also makes log index assignment gap-free.

Every governance write is ONE transaction (`write_session`): the state change, its log entries, the
Merkle node hashes and the new signed checkpoint commit together or not at all.

The schema is created by Alembic (`init_db` runs ``alembic upgrade head`` programmatically, with
``script_location`` pointing at ``skyfence/governance/migrations`` inside the package).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from skyfence.errors import GovernanceError

__all__ = [
    "Base",
    "Principal",
    "ApiKey",
    "Owner",
    "Group",
    "Terminal",
    "TerminalGroup",
    "Proposal",
    "Approval",
    "LogEntry",
    "MerkleNode",
    "Checkpoint",
    "WitnessedCheckpoint",
    "LogHead",
    "Setting",
    "RequestNonce",
    "Database",
    "normalize_url",
    "init_db",
]


class Base(DeclarativeBase):
    """Declarative base of every governance table."""


class Principal(Base):
    """Someone who may act: `roles` is a comma-separated subset of operator,approver,auditor,viewer.
    `public_key` is the raw Ed25519 public key, 64 hex chars (None: API-key-only principal); one
    key belongs to at most one principal."""

    __tablename__ = "principals"
    __table_args__ = (Index("uq_principals_public_key", "public_key", unique=True),)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    roles: Mapped[str] = mapped_column(String(256), nullable=False)
    public_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_utc: Mapped[str] = mapped_column(String(40), nullable=False)


class ApiKey(Base):
    """An API key bound to a principal; only its SHA-256 (hex) is stored."""

    __tablename__ = "api_keys"
    key_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), nullable=False)
    created_utc: Mapped[str] = mapped_column(String(40), nullable=False)


class Owner(Base):
    """A terminal owner; `max_terminals` caps how many of its terminals may be active (None: no cap)."""

    __tablename__ = "owners"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    max_terminals: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Group(Base):
    """A terminal group (Cedar ``Group::"<name>"``)."""

    __tablename__ = "groups"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")


class Terminal(Base):
    """A registered terminal at (lat_deg, lon_deg); status is registered, active or suspended."""

    __tablename__ = "terminals"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lat_deg: Mapped[float] = mapped_column(Float, nullable=False)
    lon_deg: Mapped[float] = mapped_column(Float, nullable=False)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("owners.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    updated_utc: Mapped[str] = mapped_column(String(40), nullable=False)


class TerminalGroup(Base):
    """Membership of a terminal in a group."""

    __tablename__ = "terminal_groups"
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"), primary_key=True)
    group_name: Mapped[str] = mapped_column(ForeignKey("groups.name"), primary_key=True)


class Proposal(Base):
    """A proposed service policy set. `canonical` is the exact canonical JSON text that approvers
    sign; `status` is open, enacted or expired (derived, the log is the authority)."""

    __tablename__ = "proposals"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    proposer: Mapped[str] = mapped_column(ForeignKey("principals.id"), nullable=False)
    canonical: Mapped[str] = mapped_column(Text, nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    emergency: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    effective_utc: Mapped[str] = mapped_column(String(40), nullable=False)
    expires_utc: Mapped[str] = mapped_column(String(40), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    entry_index: Mapped[int] = mapped_column(Integer, nullable=False)
    enacted_index: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Approval(Base):
    """An accepted approval: Ed25519 signature (hex) by `approver` over the proposal's canonical bytes."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("proposal_id", "approver", name="uq_approval_once"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), nullable=False, index=True)
    approver: Mapped[str] = mapped_column(ForeignKey("principals.id"), nullable=False)
    signature: Mapped[str] = mapped_column(String(128), nullable=False)
    t_utc: Mapped[str] = mapped_column(String(40), nullable=False)
    entry_index: Mapped[int] = mapped_column(Integer, nullable=False)


class LogEntry(Base):
    """One transparency-log entry; `body` is its canonical JSON text (the Merkle leaf's bytes)."""

    __tablename__ = "log_entries"
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    t_utc: Mapped[str] = mapped_column(String(40), nullable=False)
    kind: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)


class MerkleNode(Base):
    """Stored Merkle hashes (the log's hash store): key is helper-defined text, value 32 bytes."""

    __tablename__ = "merkle_nodes"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)


class Checkpoint(Base):
    """A signed checkpoint (C2SP signed note text) of the log at `tree_size`."""

    __tablename__ = "checkpoints"
    tree_size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    t_utc: Mapped[str] = mapped_column(String(40), nullable=False)


class WitnessedCheckpoint(Base):
    """A checkpoint note with the witnesses' cosignatures (C2SP tlog-cosignature) appended."""

    __tablename__ = "witnessed_checkpoints"
    tree_size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    t_utc: Mapped[str] = mapped_column(String(40), nullable=False)


class LogHead(Base):
    """Single row (id=1): the committed log size. Writers lock it (FOR UPDATE) to serialise appends."""

    __tablename__ = "log_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)


class Setting(Base):
    """Key/value settings (e.g. ``quorum_k``, ``log_origin``)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


class RequestNonce(Base):
    """A signed request's signature (hex), kept until `expires_unix` (unix seconds): a second
    request with the same signature before then is a replay, whichever process receives it."""

    __tablename__ = "request_nonces"
    signature: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_unix: Mapped[float] = mapped_column(Float, nullable=False, index=True)


# --------------------------------------------------------------------------- engine


def normalize_url(url: str | Path) -> str:
    """A database URL for SQLAlchemy: bare paths become ``sqlite:///PATH``; ``postgres://`` and
    ``postgresql://`` get the psycopg 3 driver. GovernanceError for other schemes."""
    text = str(url)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser()}"
    scheme, rest = text.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if scheme in ("postgresql+psycopg", "sqlite", "sqlite+pysqlite"):
        return text
    raise GovernanceError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///PATH or postgresql://..."
    )


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        if conn.get_execution_options().get("skyfence_readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine plus session factories. `write_session()` is one write transaction (commit on
    success, rollback on error); `read_session()` a read-only one."""

    def __init__(self, url: str | Path, *, echo: bool = False):
        self.url = normalize_url(url)
        u = make_url(self.url)
        self.is_sqlite = u.get_backend_name() == "sqlite"
        kwargs: dict = {"echo": echo, "future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if u.database in (None, "", ":memory:"):
                raise GovernanceError("an in-memory SQLite database cannot be shared: give a file path")
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
        self.engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _sqlite_setup(self.engine)
        ro_options: dict = {"skyfence_readonly": True}
        if not self.is_sqlite:  # one snapshot for the whole read (SQLite WAL reads already are)
            ro_options["isolation_level"] = "REPEATABLE READ"
        self._ro_engine = self.engine.execution_options(**ro_options)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = sessionmaker(self._ro_engine, expire_on_commit=False)
        self._local_lock = threading.Lock()

    @contextlib.contextmanager
    def write_session(self) -> Iterator[Session]:
        """One write transaction. On SQLite, writers in this process also take a thread lock (the
        database's own lock orders writers across processes)."""
        with self._local_lock if self.is_sqlite else contextlib.nullcontext():
            with self._writer() as session, session.begin():
                yield session

    @contextlib.contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only transaction (never commits anything)."""
        with self._reader() as session, session.begin():
            yield session
            session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()


def migrations_dir() -> Path:
    """Folder of the Alembic environment inside the installed package."""
    return Path(str(resources.files("skyfence.governance").joinpath("migrations")))


def init_db(url: str | Path) -> Database:
    """Open the database at `url` and bring its schema to the latest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    db = Database(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()
    return db
