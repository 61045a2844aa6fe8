"""Service policy sets in force (as enacted through the log)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from skyfence.api.auth import Caller, require
from skyfence.api.routers.common import ledger_of
from skyfence.governance import policies
from skyfence.governance.rules.canonical import iso_utc, parse_utc

router = APIRouter(prefix="/policies", tags=["policies"])


@router.get("", summary="Every enactment (policy set changes), in log order")
def enactments(request: Request, caller: Caller = Depends(require("policies.read"))) -> dict:
    L = ledger_of(request)
    with L.db.read_session() as s:
        return {"enactments": [e.summary() for e in policies.enactments(L, s)]}


@router.get("/in-force", summary="The policy set in force at a time (default now)")
def in_force(request: Request,
             at: Annotated[str | None, Query(max_length=64, description="ISO 8601 UTC time")] = None,
             caller: Caller = Depends(require("policies.read"))) -> dict:
    at_utc = iso_utc(parse_utc(at, "at") if at else None)
    L = ledger_of(request)
    with L.db.read_session() as s:
        pol = policies.policy_at(L, s, at_utc)
    if pol is None:
        return {"at_utc": at_utc, "policy": None,
                "note": "no policy in force: everything covered is served"}
    pol.pop("proposal", None)
    return {"at_utc": at_utc, "policy": pol}
