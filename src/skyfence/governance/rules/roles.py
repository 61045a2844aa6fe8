"""Roles as a Cedar policy: who may do what on the governance plane.

The bundled policy ``skyfence/data/governance/roles.cedar`` is evaluated with cedarpy for every API
call: principal ``Principal::"<id>"`` member of ``Role::"<role>"`` for each of its roles, action
``Action::"<resource>.<verb>"`` (`ACTIONS`), resource ``Plane::"governance"``. Cedar's default deny
applies: anything not permitted is refused, and `authorize` says which action and roles.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from importlib import resources

import cedarpy
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from skyfence.errors import GovernanceError, RefusedError

__all__ = ["ROLES", "ACTIONS", "roles_policy_text", "is_permitted", "authorize", "parse_roles",
           "check_public_key", "api_key_sha256"]

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
        raise RefusedError(
            f"forbidden: principal {principal!r} with role(s) {roles or ['none']} may not "
            f"{action} (roles.cedar)")


def check_public_key(public_key: str | None) -> str | None:
    """A principal's public key as lowercase hex (None stays None); GovernanceError unless it is
    a raw Ed25519 public key in hex."""
    if public_key is None:
        return None
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
    except ValueError:
        raise GovernanceError("public_key: must be a raw Ed25519 public key, 64 hex characters") from None
    return public_key.lower()


def api_key_sha256(key: str) -> str:
    """SHA-256 (hex) of an API key: what is stored and logged instead of the key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
