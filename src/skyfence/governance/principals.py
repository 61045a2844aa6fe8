"""Principals in the governance database: the tables that mirror the log's membership.

Membership never changes by a local command: the founders are named in the log's genesis
(`skyfence.governance.ledger.Ledger.genesis`) and every later change (a principal added or
removed, roles, a key rotated, API keys, the quorums, the log's key) is a membership proposal
enacted by a quorum (:mod:`skyfence.governance.rules.membership`,
`skyfence.governance.policies.submit_approval`). `sync_membership` writes what the log
establishes to the ``principals``, ``api_keys`` and ``settings`` tables in the enacting
transaction. One public key belongs to at most one principal (unique index on
``principals.public_key``; the log's rules refuse it too); distinct approvers are distinct keys.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from skyfence.governance.db import ApiKey, Principal, Setting

__all__ = ["sync_membership", "list_principals"]


def sync_membership(s: Session, state, now_utc: str) -> None:
    """Make the ``principals``, ``api_keys`` and quorum ``settings`` rows those of `state` (a
    :class:`~skyfence.governance.rules.entries.LogState`), in the caller's transaction."""
    rows = {p.id: p for p in s.scalars(select(Principal))}
    for p in rows.values():  # keys first: a key may move between principals
        want = state.principals.get(p.id)
        if want is None or want.get("public_key") != p.public_key:
            p.public_key = None
    s.flush()
    for pid, v in state.principals.items():
        p = rows.get(pid)
        if p is None:
            p = Principal(id=pid, roles="", public_key=None, created_utc=now_utc)
            s.add(p)
        p.roles = ",".join(v["roles"])
        p.public_key = v.get("public_key")
    s.flush()
    have = dict(s.execute(select(ApiKey.key_sha256, ApiKey.principal_id)).all())
    if have != state.api_keys:
        s.execute(delete(ApiKey).where(ApiKey.key_sha256.not_in(list(state.api_keys))))
        for h, pid in state.api_keys.items():
            row = s.get(ApiKey, h)
            if row is None:
                s.add(ApiKey(key_sha256=h, principal_id=pid, created_utc=now_utc))
            else:
                row.principal_id = pid
    for key, value in (("quorum_k", state.quorum_k), ("membership_k", state.membership_k),
                       ("emergency_k", state.emergency_k)):
        s.merge(Setting(key=key, value=str(value)))
    s.flush()


def list_principals(s: Session) -> list[dict]:
    """Every principal: id, roles and public key (hex), by id."""
    return [{"id": p.id, "roles": p.roles.split(",") if p.roles else [], "public_key": p.public_key}
            for p in s.scalars(select(Principal).order_by(Principal.id))]
