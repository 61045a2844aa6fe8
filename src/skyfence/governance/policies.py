"""Proposals, approvals and enactments in the governance database (the ledger side of the rules).

`submit_proposal` stores a proposal signed by its proposer (entry ``proposal.created``): a
policy set, or a membership change (:mod:`skyfence.governance.rules.membership`);
`submit_approval` records an approval accepted by the quorum rules
(:mod:`skyfence.governance.rules.quorum`, entry ``approval.added``), and the approval that
completes the quorum appends ``policy.enacted`` (k approvals; e for an emergency) or
``membership.enacted`` (m approvals; the membership tables are rewritten from the log's new
state) in the same transaction. `policy_at` answers
which policy set is in force (:func:`skyfence.governance.rules.in_force.policy_in_force` over
`enactments`).

Every decision here is taken on what the log establishes (`Ledger.state`: principals, keys, roles,
quorum, proposals, approvals, enactments), after the tables were checked against it; a table that
disagrees with the log stops the action (`StateMismatchError`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyfence.errors import ConflictError, EntryError, NotFoundError, RefusedError
from skyfence.governance.db import Approval, Proposal
from skyfence.governance.principals import sync_membership
from skyfence.governance.rules.canonical import canonical_bytes, iso_utc
from skyfence.governance.rules.in_force import Enactment, policy_in_force
from skyfence.governance.rules.membership import apply_changes
from skyfence.governance.rules.proposal import (
    is_membership,
    policy_sha256,
    proposal_digest,
    validate_proposal_fields,
    verify_signature,
)
from skyfence.governance.rules.quorum import ApprovalAttempt, reject_reason

__all__ = [
    "submit_proposal",
    "submit_approval",
    "proposal_view",
    "get_proposal",
    "list_proposals",
    "enactments",
    "policy_at",
]


def submit_proposal(ledger, actor: str, fields: Mapping[str, Any], signature: str) -> dict:
    """Store a proposal signed by its proposer (`actor`); logged as ``proposal.created``.
    GovernanceError (with the reason) if the fields, the Cedar policy or the signature are bad."""
    fields = validate_proposal_fields(fields)
    if fields["proposer"] != actor:
        raise RefusedError(f"proposal.proposer: {fields['proposer']!r} is not the caller {actor!r}")
    data = canonical_bytes(fields)
    digest = proposal_digest(fields)
    with ledger.transaction() as tx:
        s = tx.session
        state = ledger.state(s)
        prin = state.principals.get(actor)
        if prin is None or not prin.get("public_key"):
            raise RefusedError(f"proposer {actor!r} has no public key registered")
        if not verify_signature(prin["public_key"], data, signature):
            raise RefusedError("bad signature: not the proposer's signature of the proposal's "
                                  "canonical bytes")
        if fields["emergency"] and "approver" not in prin["roles"]:
            raise RefusedError("an emergency proposal must come from an approver")
        if s.get(Proposal, fields["id"]) is not None:
            raise ConflictError(f"proposal {fields['id']} already exists")
        if tx.now_utc > fields["expires_utc"]:
            raise RefusedError(f"proposal.expires_utc: already past ({fields['expires_utc']})")
        if is_membership(fields):
            _check_changes(state, fields)
        index = tx.append("proposal.created", actor, {"proposal": fields, "signature": signature,
                                                      "digest": digest})
        s.add(Proposal(id=fields["id"], proposer=actor, canonical=data.decode("utf-8"),
                       digest=digest, emergency=fields["emergency"],
                       effective_utc=fields["effective_utc"], expires_utc=fields["expires_utc"],
                       status="open", entry_index=index, enacted_index=None))
    return {"id": fields["id"], "digest": digest, "log_index": index}


def submit_approval(ledger, actor: str, proposal_id: str, signature: str) -> dict:
    """Record `actor`'s approval (signature over the proposal's canonical bytes). Logged as
    ``approval.added``; the approval that completes the quorum also appends ``policy.enacted`` in
    the same transaction. GovernanceError with the reason for a rejected approval."""
    with ledger.transaction() as tx:
        s = tx.session
        state = ledger.state(s)
        fields = state.proposals.get(proposal_id)
        if fields is None:
            raise NotFoundError(f"no proposal {proposal_id!r}")
        prop = s.get(Proposal, proposal_id)
        accepted = [a.approver for a in state.accepted[proposal_id]]
        attempt = ApprovalAttempt(actor, signature, tx.now_utc)
        why = reject_reason(fields, attempt, state.approver_keys(), accepted, state.public_keys())
        if why:
            raise RefusedError(f"approval rejected: {why}")
        index = tx.append("approval.added", actor, {"proposal_id": proposal_id,
                                                    "approver": actor, "signature": signature})
        s.add(Approval(proposal_id=proposal_id, approver=actor, signature=signature,
                       t_utc=tx.now_utc, entry_index=index))
        s.flush()
        need = state.needed(fields)
        enacted = None
        status = "enacted" if proposal_id in state.enacted else "open"
        if status == "open" and len(accepted) + 1 >= need:
            listed = [*zip(state.accepted[proposal_id], state.approval_entries[proposal_id],
                           strict=True), (attempt, index)]
            common = {"proposal_id": proposal_id,
                      "digest": state.proposal_entries[proposal_id][1],
                      "approvals": [{"approver": a.approver, "signature": a.signature,
                                     "entry_index": i} for a, i in listed]}
            if is_membership(fields):
                after = _check_changes(state, fields)
                enacted = tx.append("membership.enacted", actor,
                                    {**common, "changes": fields["changes"]})
                sync_membership(s, after, tx.now_utc)
            else:
                enacted = tx.append("policy.enacted", actor, {
                    **common, "policy_sha256": policy_sha256(fields),
                    "emergency": bool(fields["emergency"]),
                    "effective_utc": fields["effective_utc"]})
            prop.status = status = "enacted"
            prop.enacted_index = enacted
        return {"proposal_id": proposal_id, "approver": actor, "log_index": index,
                "approvals": len(accepted) + 1, "needed": need, "enacted_index": enacted,
                "status": status}


def _check_changes(state, fields: Mapping[str, Any]):
    """The state after a membership proposal's changes; `RefusedError` if they cannot apply to
    the membership the log establishes now."""
    after = state.copy()
    try:
        apply_changes(after, fields["changes"])
    except EntryError as exc:
        raise RefusedError(f"membership change refused: {exc}") from None
    return after


def proposal_view(p: Proposal) -> dict:
    """A proposal row as a dict: the fields, canonical text, digest and status."""
    fields = json.loads(p.canonical)
    status = p.status
    if status == "open" and iso_utc() > p.expires_utc:
        status = "expired"
    return {"id": p.id, "fields": fields, "canonical": p.canonical, "digest": p.digest,
            "status": status, "emergency": p.emergency, "entry_index": p.entry_index,
            "enacted_index": p.enacted_index,
            "policy_sha256": None if is_membership(fields) else policy_sha256(fields)}


def get_proposal(s: Session, proposal_id: str) -> dict | None:
    """A proposal (`proposal_view`) with its approvals, or None."""
    p = s.get(Proposal, proposal_id)
    if p is None:
        return None
    out = proposal_view(p)
    out["approvals"] = [{"approver": a.approver, "signature": a.signature, "t_utc": a.t_utc,
                         "entry_index": a.entry_index}
                        for a in s.scalars(select(Approval).where(Approval.proposal_id == p.id)
                                           .order_by(Approval.id))]
    return out


def list_proposals(s: Session, *, status: str | None = None, offset: int = 0, limit: int = 100) -> list[dict]:
    """Proposals (`proposal_view`) by log index, optionally of one status."""
    q = select(Proposal).order_by(Proposal.entry_index)
    if status:
        q = q.where(Proposal.status == status)
    return [proposal_view(p) for p in s.scalars(q.offset(max(0, offset)).limit(max(0, min(limit, 1000))))]


def enactments(ledger, s: Session) -> list[Enactment]:
    """Every enactment, by log index, from the log's ``policy.enacted`` entries (`Ledger.state`:
    the tables are checked against the log first)."""
    return list(ledger.state(s).enactments)


def policy_at(ledger, s: Session, at_utc: dt.datetime | str) -> dict | None:
    """The policy set in force at `at_utc` by the log's enactments: enactment, fields and
    approvals (None: no policy)."""
    state = ledger.state(s)
    e = policy_in_force(state.enactments, at_utc)
    if e is None:
        return None
    prop = get_proposal(s, e.proposal_id)
    prop["fields"] = state.proposals[e.proposal_id]
    prop["approvals"] = [{"approver": a.approver, "signature": a.signature, "t_utc": a.t_utc,
                          "entry_index": i} for a, i in zip(
        state.accepted[e.proposal_id], state.approval_entries[e.proposal_id], strict=True)]
    return {"enacted_index": e.index, "enacted_utc": e.t_utc, "in_force_from_utc": e.in_force_from_utc,
            "proposal_id": e.proposal_id, "policy_sha256": e.policy_sha256, "emergency": e.emergency,
            "cedar": prop["fields"]["cedar"], "regions": prop["fields"]["regions"],
            "title": prop["fields"]["title"], "approvals": prop["approvals"], "proposal": prop}
