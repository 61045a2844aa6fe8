"""Proposals (signed by the proposer) and approvals (signatures over canonical bytes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from skyfence.api.auth import Caller, require
from skyfence.api.models import ApprovalIn, ProposalIn
from skyfence.api.routers.common import Limit, Offset, ledger_of
from skyfence.errors import NotFoundError
from skyfence.governance import policies
from skyfence.governance.rules.roles import authorize

router = APIRouter(prefix="/proposals", tags=["proposals"])
ProposalId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("", summary="List proposals")
def list_proposals(request: Request, offset: Offset = 0, limit: Limit = 100,
                   status: Annotated[str | None, Query(pattern="^(open|enacted)$")] = None,
                   caller: Caller = Depends(require("proposals.read"))) -> dict:
    with ledger_of(request).db.read_session() as s:
        return {"proposals": policies.list_proposals(s, status=status, offset=offset, limit=limit)}


@router.post("", status_code=201, summary="Submit a proposal signed by its proposer")
def submit(body: ProposalIn, request: Request,
           caller: Caller = Depends(require("proposals.create"))) -> dict:
    if body.proposal.get("emergency") is True:
        authorize(caller.principal, caller.roles, "proposals.emergency")
    return policies.submit_proposal(ledger_of(request), caller.principal, body.proposal, body.signature.lower())


@router.get("/{proposal_id}", summary="A proposal: fields, canonical bytes (what approvers sign), approvals")
def get(proposal_id: ProposalId, request: Request,
        caller: Caller = Depends(require("proposals.read"))) -> dict:
    with ledger_of(request).db.read_session() as s:
        p = policies.get_proposal(s, proposal_id)
    if p is None:
        raise NotFoundError(f"no proposal {proposal_id!r}")
    return p


@router.get("/{proposal_id}/approvals", summary="Accepted approvals of a proposal")
def approvals(proposal_id: ProposalId, request: Request,
              caller: Caller = Depends(require("proposals.read"))) -> dict:
    return {"approvals": get(proposal_id, request, caller)["approvals"]}


@router.post("/{proposal_id}/approvals", status_code=201,
             summary="Approve: the caller's signature over the proposal's canonical bytes")
def approve(proposal_id: ProposalId, body: ApprovalIn, request: Request,
            caller: Caller = Depends(require("approvals.create"))) -> dict:
    return policies.submit_approval(ledger_of(request), caller.principal, proposal_id, body.signature.lower())
