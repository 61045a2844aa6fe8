"""Authentication of API requests and authorization by the Cedar roles policy.

Two ways to authenticate (every failure is a 401 with the reason):

* **Signed request** with the principal's Ed25519 key, headers
  ``X-Skyfence-Principal: <id>``, ``X-Skyfence-Timestamp: <unix seconds, e.g. 1764000000.123456>`` and
  ``X-Skyfence-Signature: <hex>`` over the bytes of `skyfence.governance.client.request_message`:
  ``"skyfence-request-v1\\n" METHOD "\\n" PATH[?QUERY] "\\n" sha256(body) hex "\\n" TIMESTAMP``.
  The timestamp must be within `MAX_SKEW_S` seconds of the server's clock, and a write's signature
  is accepted once (a replayed write is refused; the microsecond timestamp makes each request's
  signature unique). Used signatures are stored in the database (table ``request_nonces``) until
  their timestamp leaves the window, so a replay is refused after a restart and by every server
  process sharing the database.
* **API key** bound to a principal: ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``.

Principals, their keys, roles and API keys are those the log establishes (`Ledger.state`, after
the tables are checked against the log: a disagreement is a 503). Then ``roles.cedar`` decides whether the principal's roles allow the endpoint's action (403).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from skyfence.governance.client import request_message
from skyfence.governance.db import RequestNonce
from skyfence.governance.rules.proposal import verify_signature
from skyfence.governance.rules.roles import api_key_sha256, authorize
from skyfence.governance.view import StaleView, cached_view, open_view

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
    ledger = request.app.state.ledger
    h = request.headers
    key = h.get("x-api-key")
    auth = h.get("authorization")
    if key is None and auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise AuthError("Authorization header must be 'Bearer <API key>'")
        key = value.strip()
    if key is not None:
        try:  # on the event loop when the checked state is kept (no database read)
            found = _api_key_holder(cached_view(ledger).state, key)
        except StaleView:
            found = await run_in_threadpool(_lookup_api_key, ledger, key)
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
    found = await run_in_threadpool(_lookup_principal, ledger, pid)
    if found is None:
        raise AuthError(f"unknown principal {pid!r}")
    public_key, roles = found
    if not public_key:
        raise AuthError(f"principal {pid!r} has no public key: use an API key")
    if not verify_signature(public_key, request_message(request.method, path_qs, body, ts), sig):
        raise AuthError("bad request signature")
    if request.method not in ("GET", "HEAD", "OPTIONS") and await run_in_threadpool(
            _seen, ledger.db, sig.lower(), float(ts)):
        raise AuthError("replayed request: this signature was already used (sign each request anew)")
    return Caller(pid, roles, "signature")


def _seen(db, sig: str, ts: float) -> bool:
    """True if this write's signature was already used (a replay); otherwise it is stored until
    its timestamp leaves the window. Expired signatures are dropped on the way."""
    now = time.time()
    try:
        with db.write_session() as s:
            s.execute(delete(RequestNonce).where(RequestNonce.expires_unix < now))
            if s.scalar(select(RequestNonce.signature).where(RequestNonce.signature == sig)):
                return True
            s.execute(insert(RequestNonce), [{"signature": sig,
                                              "expires_unix": max(now, ts) + MAX_SKEW_S}])
    except IntegrityError:  # another process stored it first
        return True
    return False


def _lookup_api_key(ledger, key: str) -> tuple[str, tuple[str, ...]] | None:
    with open_view(ledger) as view:
        return _api_key_holder(view.state, key)


def _api_key_holder(state, key: str) -> tuple[str, tuple[str, ...]] | None:
    pid = state.api_keys.get(api_key_sha256(key))
    p = None if pid is None else state.principals.get(pid)
    return None if p is None else (pid, tuple(p["roles"]))


def _lookup_principal(ledger, pid: str) -> tuple[str | None, tuple[str, ...]] | None:
    with open_view(ledger) as view:
        p = view.state.principals.get(pid)
    return None if p is None else (p.get("public_key"), tuple(p["roles"]))


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
