"""Fixtures and helpers shared by the governance tests (import them into a test module with
``from tests.governance.fixtures import ...``; `tests/governance/conftest.py` exposes the fixtures).

* `gov_url`: a fresh governance database URL, parametrized over SQLite (a temp file) and
  PostgreSQL (a throwaway cluster started once per session with initdb/pg_ctl on loopback; a
  database per test). Without PostgreSQL binaries the postgresql case skips, saying why.
* `plane`: an initialised database + ledger whose genesis names approvers alice, bob, carol, dave
  and operator ``op`` (Ed25519 keys), and whose first membership change (proposed by alice,
  approved by bob and carol) adds auditor ``aud`` and viewer ``vic`` (API keys of all in
  ``plane.api_keys``). `found_log` and `enact_membership` do the same for other tests.
* `ServerProcess`: ``skyfence serve`` as a subprocess on 127.0.0.1 with a free port.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[2]
APPROVERS = ("alice", "bob", "carol", "dave")


def pub_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw).hex()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(d, "initdb").exists() and Path(d, "pg_ctl").exists():
            return Path(d)
    return None


def _pg_user() -> str | None:
    """The unprivileged user to run the cluster as when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    return None


@dataclass
class PgCluster:
    bindir: Path
    datadir: Path
    port: int
    user: str | None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=60)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://skyfence@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """An empty database: one per process, its schema dropped and recreated for each test
        (a CREATE DATABASE per test would copy the template each time: slow disk, slow cleanup)."""
        import psycopg

        name = f"gov_{os.getpid()}"
        admin = f"host=127.0.0.1 port={self.port} user=skyfence dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
            # connections a killed server or an earlier test left behind
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=skyfence dbname={name}",
                             autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.execute("CREATE SCHEMA public")
        return self.url(name)

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate",
                  "stop", check=False)


_PG: dict = {}


def pg_cluster() -> PgCluster:
    """The session's PostgreSQL cluster (started on first use); pytest.skip if impossible."""
    if "error" in _PG:
        pytest.skip(_PG["error"])
    if "cluster" in _PG:
        return _PG["cluster"]
    bindir = _pg_bindir()
    if bindir is None:
        _PG["error"] = "PostgreSQL not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql)"
        pytest.skip(_PG["error"])
    user = _pg_user()
    if os.geteuid() == 0 and user is None:
        _PG["error"] = "running as root and no unprivileged user to run initdb as"
        pytest.skip(_PG["error"])
    base = Path(tempfile.mkdtemp(prefix="skyfence-pg-"))
    datadir = base / "data"
    if user:
        os.chmod(base, 0o755)
        shutil.chown(base, user=user)
    port = free_port()
    cluster = PgCluster(bindir, datadir, port, user)
    try:
        cluster._run(str(bindir / "initdb"), "-D", str(datadir), "-U", "skyfence", "-A", "trust",
                     "--no-sync", "-E", "UTF8")
        cluster._run(str(bindir / "pg_ctl"), "-D", str(datadir), "-w", "-t", "30", "-l",
                     str(datadir / "server.log"), "-o",
                     f"-h 127.0.0.1 -p {port} -k {datadir} -F -c max_connections=200", "start")
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        _PG["error"] = f"could not start a throwaway PostgreSQL cluster: {detail.strip()[:300]}"
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(_PG["error"])
    _PG["cluster"] = cluster
    _PG["base"] = base
    atexit.register(stop_pg_cluster)  # also if the session ends without fixture teardown
    return cluster


def stop_pg_cluster() -> None:
    cluster = _PG.pop("cluster", None)
    if cluster is not None:
        cluster.stop()
        shutil.rmtree(_PG.pop("base"), ignore_errors=True)


@pytest.fixture(scope="session")
def pg_teardown():
    yield
    stop_pg_cluster()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def gov_url(request, tmp_path, pg_teardown) -> str:
    """A fresh, empty governance database URL (SQLite file or PostgreSQL database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'governance.db'}"
    return pg_cluster().new_database()


# --------------------------------------------------------------------------- the plane


@dataclass
class Plane:
    url: str
    db: object
    ledger: object
    log_key: Ed25519PrivateKey
    keys: dict[str, Ed25519PrivateKey]
    api_keys: dict[str, str]

    def proposal(self, proposer: str = "alice", cedar: str | None = None, **kw) -> dict:
        from skyfence.governance.rules.proposal import make_proposal

        cedar = cedar or 'permit(principal, action, resource);\n@id("geofence")\nforbid(principal, action, resource in Region::"zone");'
        kw.setdefault("regions", {"zone": {"lat": 44.6, "lon": 33.52, "radius_km": 60}})
        kw.setdefault("justification", "test")
        return make_proposal(proposer, cedar, **kw)

    def sign(self, who: str, fields: dict) -> str:
        from skyfence.governance.rules.proposal import sign_proposal

        return sign_proposal(self.keys[who], fields)


def found_log(ledger, founders: dict[str, tuple[list[str], Ed25519PrivateKey]], *,
              quorum_k: int = 2, membership_k: int | None = None,
              api_keys: dict[str, str] | None = None) -> dict:
    """Start `ledger`'s log with a genesis naming `founders` (id -> (roles, key)), signed by
    every founder; `api_keys`: founder id -> API key (its hash goes in the genesis)."""
    from skyfence.governance.rules.membership import genesis_message, make_genesis
    from skyfence.governance.rules.roles import api_key_sha256

    api_keys = api_keys or {}
    doc = make_genesis(ledger.origin, ledger.verifier_key, [
        {"id": n, "roles": roles, "public_key": pub_hex(k),
         "api_keys": [api_key_sha256(api_keys[n])] if n in api_keys else []}
        for n, (roles, k) in founders.items()], quorum=quorum_k,
        membership_quorum=membership_k or max(2, quorum_k))
    sigs = {n: k.sign(genesis_message(doc)).hex() for n, (_, k) in founders.items()}
    ledger.genesis(doc, sigs)
    return doc


def enact_membership(ledger, keys: dict[str, Ed25519PrivateKey], proposer: str,
                     approvers: list[str], changes: list[dict]) -> dict:
    """Propose membership `changes` as `proposer` and approve them by `approvers` (keys by id);
    returns the last approval's result."""
    from skyfence.governance import policies
    from skyfence.governance.rules.proposal import make_membership_proposal, sign_proposal

    fields = make_membership_proposal(proposer, changes, justification="membership",
                                      created_utc=ledger.now_utc())
    policies.submit_proposal(ledger, proposer, fields, sign_proposal(keys[proposer], fields))
    out = None
    for a in approvers:
        out = policies.submit_approval(ledger, a, fields["id"], sign_proposal(keys[a], fields))
    return out


def make_plane(url: str, *, quorum_k: int = 2, clock=None) -> Plane:
    import secrets

    from skyfence.governance.db import init_db
    from skyfence.governance.ledger import Ledger
    from skyfence.governance.rules.roles import api_key_sha256

    db = init_db(url)
    log_key = Ed25519PrivateKey.generate()
    ledger = Ledger(db, log_key, origin="test.skyfence/log", clock=clock)
    keys = {n: Ed25519PrivateKey.generate() for n in (*APPROVERS, "op")}
    api_keys = {n: "sk_" + secrets.token_urlsafe(32) for n in (*APPROVERS, "op", "aud", "vic")}
    founders = {n: (["approver"], keys[n]) for n in APPROVERS}
    founders["op"] = (["operator"], keys["op"])
    found_log(ledger, founders, quorum_k=quorum_k, membership_k=max(2, quorum_k),
              api_keys=api_keys)
    enact_membership(ledger, keys, "alice", ["bob", "carol", "dave"][:max(2, quorum_k)], [
        {"op": "add", "id": n, "roles": [role], "public_key": None,
         "api_keys": [api_key_sha256(api_keys[n])]}
        for n, role in (("aud", "auditor"), ("vic", "viewer"))])
    return Plane(url, db, ledger, log_key, keys, api_keys)


@pytest.fixture
def plane(gov_url) -> Plane:
    p = make_plane(gov_url)
    yield p
    p.db.dispose()


# --------------------------------------------------------------------------- server subprocess


class ServerProcess:
    """``skyfence serve`` on 127.0.0.1:<free port> as a subprocess (killed on exit)."""

    def __init__(self, db_url: str, log_key_path: Path, *, workers_env: dict | None = None):
        self.db_url = db_url
        self.log_key_path = log_key_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.env = {**os.environ, **(workers_env or {})}

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        cmd = [sys.executable, "-m", "skyfence.cli", "serve", "--db", self.db_url, "--host",
               "127.0.0.1", "--port", str(self.port), "--log-key", str(self.log_key_path)]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(self.base + "/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


def write_log_key(path: Path, key: Ed25519PrivateKey) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path
