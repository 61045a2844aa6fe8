"""Authentication of API requests and authorization by the Cedar roles policy.

Two ways to authenticate (every failure is a 401 with the reason):

* **Signed request** with the principal's Ed25519 key, headers
  ``X-Skyfence-Principal: <id>``, ``X-Skyfence-Timestamp: <unix seconds, e.g. 1764000000.123456>`` and
  ``X-Skyfence-Signature: <hex>`` over the bytes of `skyfence.governance.client.request_message`:
  ``"skyfence-request-v1\\n" METHOD "\\n" PATH[?QUERY] "\\n" sha256(body) hex "\\n" TIMESTAMP``.
  The timestamp must be within `MAX_SKEW_S` seconds of the server's clock, and a write's signature
  is accepted once (a replayed write is refused; the microsecond timestamp makes each request's
  signature unique).
* **API key** bound to a principal: ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``.

Then ``roles.cedar`` decides whether the principal's roles allow the endpoint's action (403).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.concurrency import run_in_threadpool

from skyfence.governance.client import request_message
from skyfence.governance.db import ApiKey, Principal
from skyfence.governance.rules.proposal import verify_signature
from skyfence.governance.rules.roles import api_key_sha256, authorize

__all__ = ["MAX_SKEW_S", "Caller", "AuthError", "authenticate", "require"]

MAX_SKEW_S = 300
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False,
                        description="An API key bound to a principal")
_BEARER = HTTPBearer(auto_error=False, description="An API key as a bearer token")


class AuthError(Exception):
    """401: who the caller is could not be established."""


@dataclass(frozen=True)
class Caller:
    principal: str
    roles: tuple[str, ...]
    via: str  # "signature" or "api-key"


async def authenticate(request: Request) -> Caller:
    """The calling principal, or AuthError with the reason."""
    db = request.app.state.db
    h = request.headers
    key = h.get("x-api-key")
    auth = h.get("authorization")
    if key is None and auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise AuthError("Authorization header must be 'Bearer <API key>'")
        key = value.strip()
    if key is not None:
        found = await run_in_threadpool(_lookup_api_key, db, key)
        if found is None:
            raise AuthError("unknown API key")
        return Caller(found[0], found[1], "api-key")
    pid = h.get("x-skyfence-principal")
    if pid is None:
        raise AuthError("authentication required: X-API-Key, Authorization: Bearer, or a signed "
                        "request (X-Skyfence-Principal, X-Skyfence-Timestamp, X-Skyfence-Signature)")
    ts, sig = h.get("x-skyfence-timestamp"), h.get("x-skyfence-signature")
    if not ts or not sig:
        raise AuthError("signed request lacks X-Skyfence-Timestamp or X-Skyfence-Signature")
    try:
        skew = abs(time.time() - float(ts))
    except ValueError:
        raise AuthError("X-Skyfence-Timestamp must be unix seconds") from None
    if skew != skew:  # NaN
        raise AuthError("X-Skyfence-Timestamp must be unix seconds")
    if skew > MAX_SKEW_S:
        raise AuthError(f"request timestamp is {skew:.0f} s away from the server clock "
                        f"(max {MAX_SKEW_S} s)")
    body = await request.body()
    path_qs = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    found = await run_in_threadpool(_lookup_principal, db, pid)
    if found is None:
        raise AuthError(f"unknown principal {pid!r}")
    public_key, roles = found
    if not public_key:
        raise AuthError(f"principal {pid!r} has no public key: use an API key")
    if not verify_signature(public_key, request_message(request.method, path_qs, body, ts), sig):
        raise AuthError("bad request signature")
    if request.method not in ("GET", "HEAD", "OPTIONS") and _seen(request, sig):
        raise AuthError("replayed request: this signature was already used (sign each request anew)")
    return Caller(pid, roles, "signature")


_SEEN_LOCK = threading.Lock()


def _seen(request: Request, sig: str) -> bool:
    """True if this write's signature was already used within the timestamp window (replay)."""
    state = request.app.state
    now = time.time()
    with _SEEN_LOCK:
        seen: dict[str, float] = getattr(state, "seen_signatures", None) or {}
        state.seen_signatures = seen
        if len(seen) > 100_000 or (seen and next(iter(seen.values())) < now - 2 * MAX_SKEW_S):
            for k in [k for k, t in seen.items() if t < now - 2 * MAX_SKEW_S]:
                del seen[k]
        if sig in seen:
            return True
        seen[sig] = now
        return False


def _lookup_api_key(db, key: str) -> tuple[str, tuple[str, ...]] | None:
    with db.read_session() as s:
        row = s.get(ApiKey, api_key_sha256(key))
        p = None if row is None else s.get(Principal, row.principal_id)
        return None if p is None else (p.id, tuple(r for r in p.roles.split(",") if r))


def _lookup_principal(db, pid: str) -> tuple[str | None, tuple[str, ...]] | None:
    with db.read_session() as s:
        p = s.get(Principal, pid)
        return None if p is None else (p.public_key, tuple(r for r in p.roles.split(",") if r))


def require(action: str):
    """FastAPI dependency: authenticate, then authorize `action` with roles.cedar."""

    async def dependency(
        request: Request,
        _api_key: str | None = Security(_API_KEY),
        _bearer=Security(_BEARER),
    ) -> Caller:
        caller = await authenticate(request)
        authorize(caller.principal, caller.roles, action)
        return caller

    dependency.__name__ = f"require_{action.replace('.', '_')}"
    return dependency
