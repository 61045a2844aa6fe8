"""Roles as a Cedar policy: who may do what on the governance plane.

The bundled policy ``skyfence/data/governance/roles.cedar`` is evaluated with cedarpy for every API
call: principal ``Principal::"<id>"`` member of ``Role::"<role>"`` for each of its roles, action
``Action::"<resource>.<verb>"`` (`ACTIONS`), resource ``Plane::"governance"``. Cedar's default deny
applies: anything not permitted is refused, and `authorize` says which action and roles.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources

import cedarpy

from skyfence.errors import GovernanceError

__all__ = ["ROLES", "ACTIONS", "roles_policy_text", "is_permitted", "authorize", "parse_roles",
           "add_principal", "set_principal_roles", "add_api_key", "api_key_sha256", "list_principals"]

ROLES = ("operator", "approver", "auditor", "viewer")
ACTIONS = (
    "terminals.read", "terminals.write", "terminals.import",
    "groups.read", "groups.write", "owners.read", "owners.write",
    "proposals.read", "proposals.create", "proposals.emergency", "approvals.create",
    "policies.read", "log.read", "log.export", "service.read", "principals.read",
)


@functools.lru_cache(maxsize=4)
def roles_policy_text(path: str | None = None) -> str:
    """The roles policy: the bundled roles.cedar, or the file at `path`."""
    if path is not None:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    return resources.files("skyfence.data").joinpath("governance/roles.cedar").read_text("utf-8")


@functools.lru_cache(maxsize=4)
def _policy_set(text: str):
    try:
        return cedarpy.PolicySet.from_str(text)
    except ValueError as exc:
        raise GovernanceError(f"invalid roles policy: {exc}") from None


def parse_roles(roles: str | Iterable[str]) -> list[str]:
    """Roles from "a,b" text or a list; GovernanceError for an unknown role."""
    items = roles.split(",") if isinstance(roles, str) else list(roles)
    out = sorted({r.strip() for r in items if r and r.strip()})
    bad = [r for r in out if r not in ROLES]
    if bad:
        raise GovernanceError(f"unknown role(s) {bad}: roles are {', '.join(ROLES)}")
    return out


@functools.lru_cache(maxsize=4096)
def _decide(principal: str, roles: tuple[str, ...], action: str, text: str) -> bool:
    entities = [{"uid": {"type": "Principal", "id": principal}, "attrs": {},
                 "parents": [{"type": "Role", "id": r} for r in roles]}]
    request = {"principal": {"type": "Principal", "id": principal},
               "action": {"type": "Action", "id": action},
               "resource": {"type": "Plane", "id": "governance"}, "context": {}}
    return bool(cedarpy.is_authorized(request, _policy_set(text), entities).allowed)


def is_permitted(principal: str, roles: Iterable[str], action: str, *, policy_text: str | None = None) -> bool:
    """Cedar's answer: may `principal` holding `roles` do `action`?"""
    if action not in ACTIONS:
        raise GovernanceError(f"unknown governance action {action!r}")
    text = policy_text if policy_text is not None else roles_policy_text()
    return _decide(principal, tuple(sorted(set(roles))), action, text)


def authorize(principal: str, roles: Iterable[str], action: str, *, policy_text: str | None = None) -> None:
    """GovernanceError (-> HTTP 403) naming the action and roles unless permitted."""
    roles = sorted(set(roles))
    if not is_permitted(principal, roles, action, policy_text=policy_text):
        from skyfence.governance.db import Refused

        raise Refused(
            f"forbidden: principal {principal!r} with role(s) {roles or ['none']} may not "
            f"{action} (roles.cedar)")


# --------------------------------------------------------------------------- principals and API keys


def _check_public_key(public_key: str | None) -> str | None:
    if public_key is None:
        return None
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
    except ValueError:
        raise GovernanceError("public_key: must be a raw Ed25519 public key, 64 hex characters") from None
    return public_key.lower()


def add_principal(ledger, actor: str, principal_id: str, roles: str | Iterable[str],
                  public_key: str | None = None) -> dict:
    """Add a principal with roles and an optional Ed25519 public key (hex). Logged as
    ``principal.added`` (the log carries the key, so approvals verify offline)."""
    from skyfence.governance.db import Principal

    if not isinstance(principal_id, str) or not principal_id or len(principal_id) > 128:
        raise GovernanceError("principal id: a non-empty string of at most 128 characters")
    role_list = parse_roles(roles)
    key = _check_public_key(public_key)
    with ledger.transaction() as tx:
        if tx.session.get(Principal, principal_id) is not None:
            raise GovernanceError(f"principal {principal_id!r} already exists")
        tx.session.add(Principal(id=principal_id, roles=",".join(role_list), public_key=key,
                                 created_utc=tx.now_utc))
        tx.append("principal.added", actor, {"id": principal_id, "roles": role_list,
                                             "public_key": key})
    return {"id": principal_id, "roles": role_list, "public_key": key}


def set_principal_roles(ledger, actor: str, principal_id: str, roles: str | Iterable[str]) -> dict:
    """Replace a principal's roles. Logged as ``principal.roles``."""
    from skyfence.governance.db import Principal

    role_list = parse_roles(roles)
    with ledger.transaction() as tx:
        p = tx.session.get(Principal, principal_id)
        if p is None:
            raise GovernanceError(f"no principal {principal_id!r}")
        p.roles = ",".join(role_list)
        tx.append("principal.roles", actor, {"id": principal_id, "roles": role_list})
    return {"id": principal_id, "roles": role_list}


def api_key_sha256(key: str) -> str:
    import hashlib

    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def add_api_key(ledger, actor: str, principal_id: str, key: str | None = None) -> str:
    """Bind a new API key to a principal; returns the key (only its SHA-256 is stored and logged)."""
    import secrets

    from skyfence.governance.db import ApiKey, Principal

    key = key or ("sk_" + secrets.token_urlsafe(32))
    digest = api_key_sha256(key)
    with ledger.transaction() as tx:
        if tx.session.get(Principal, principal_id) is None:
            raise GovernanceError(f"no principal {principal_id!r}")
        if tx.session.get(ApiKey, digest) is not None:
            raise GovernanceError("this API key is already bound")
        tx.session.add(ApiKey(key_sha256=digest, principal_id=principal_id, created_utc=tx.now_utc))
        tx.append("apikey.added", actor, {"principal": principal_id, "key_sha256": digest})
    return key


def list_principals(s) -> list[dict]:
    from sqlalchemy import select

    from skyfence.governance.db import Principal

    return [{"id": p.id, "roles": p.roles.split(",") if p.roles else [], "public_key": p.public_key}
            for p in s.scalars(select(Principal).order_by(Principal.id))]
