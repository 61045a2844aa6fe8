"""Funding agreements: the log's agreements (GET) and signed funding changes (POST).

A funding change is submitted by its sponsor with the sponsor's signature and the approvals of the
quorum already collected (each a signature over the change's canonical bytes); it lands in the log
as one ``funding.enacted`` entry or is refused with the reason (:mod:`skyfence.governance.funding`).
Authentication names the caller; the log's rules decide (the caller must be the sponsor).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from skyfence.api.auth import Caller, require
from skyfence.api.routers.common import ledger_of
from skyfence.governance import funding

router = APIRouter(prefix="/funding", tags=["funding"])
Hex = Annotated[str, Field(pattern="^[0-9a-fA-F]{128}$")]


class FundingApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approver: str = Field(min_length=1, max_length=200)
    signature: Hex


class FundingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    change: dict[str, Any]
    sponsor_signature: Hex
    approvals: list[FundingApproval] = Field(max_length=100)


@router.get("", summary="The funding agreements the log holds, with their histories")
def list_agreements(request: Request, caller: Caller = Depends(require("proposals.read"))) -> dict:
    ledger = ledger_of(request)
    with ledger.db.read_session() as s:
        return {"agreements": funding.funding_view(ledger, s)}


@router.post("", status_code=201, summary="Submit a funding change signed by its sponsor, with its approvals")
def submit(body: FundingIn, request: Request, caller: Caller = Depends(require("proposals.read"))) -> dict:
    return funding.submit_funding(ledger_of(request), caller.principal, body.change, body.sponsor_signature.lower(),
                                  [{"approver": a.approver, "signature": a.signature.lower()} for a in body.approvals])
