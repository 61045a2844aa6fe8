"""Principals and API keys in the governance database; every change is a log entry.

One public key belongs to one principal: adding a principal with a key that another principal
holds is refused (`ConflictError`), the ``principals`` table has a unique index on the key, and
the log's check of ``principal.added`` refuses it too. Distinct approvers are distinct keys."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyfence.errors import ConflictError, GovernanceError
from skyfence.governance.db import ApiKey, Principal
from skyfence.governance.rules.roles import api_key_sha256, check_public_key, parse_roles

__all__ = ["add_principal", "set_principal_roles", "add_api_key", "list_principals"]


def add_principal(ledger, actor: str, principal_id: str, roles: str | Iterable[str],
                  public_key: str | None = None) -> dict:
    """Add a principal with roles and an optional Ed25519 public key (hex). Logged as
    ``principal.added`` (the log carries the key, so approvals verify offline)."""
    if not isinstance(principal_id, str) or not principal_id or len(principal_id) > 128:
        raise GovernanceError("principal id: a non-empty string of at most 128 characters")
    role_list = parse_roles(roles)
    key = check_public_key(public_key)
    with ledger.transaction() as tx:
        state = ledger.state(tx.session)
        if principal_id in state.principals or tx.session.get(Principal, principal_id) is not None:
            raise ConflictError(f"principal {principal_id!r} already exists")
        holder = state.key_owner(key) or (key and tx.session.scalar(
            select(Principal.id).where(Principal.public_key == key)))
        if holder:
            raise ConflictError(f"this public key already belongs to principal {holder!r}: one "
                                "key, one principal")
        tx.session.add(Principal(id=principal_id, roles=",".join(role_list), public_key=key,
                                 created_utc=tx.now_utc))
        tx.append("principal.added", actor, {"id": principal_id, "roles": role_list,
                                             "public_key": key})
    return {"id": principal_id, "roles": role_list, "public_key": key}


def set_principal_roles(ledger, actor: str, principal_id: str, roles: str | Iterable[str]) -> dict:
    """Replace a principal's roles. Logged as ``principal.roles``."""
    role_list = parse_roles(roles)
    with ledger.transaction() as tx:
        p = tx.session.get(Principal, principal_id)
        if p is None:
            raise GovernanceError(f"no principal {principal_id!r}")
        p.roles = ",".join(role_list)
        tx.append("principal.roles", actor, {"id": principal_id, "roles": role_list})
    return {"id": principal_id, "roles": role_list}


def add_api_key(ledger, actor: str, principal_id: str, key: str | None = None) -> str:
    """Bind a new API key to a principal; returns the key (only its SHA-256 is stored and logged)."""
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


def list_principals(s: Session) -> list[dict]:
    """Every principal: id, roles and public key (hex), by id."""
    return [{"id": p.id, "roles": p.roles.split(",") if p.roles else [], "public_key": p.public_key}
            for p in s.scalars(select(Principal).order_by(Principal.id))]
