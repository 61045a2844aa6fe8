"""Groups and owners."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from skyfence.api.auth import Caller, require
from skyfence.api.models import GroupIn, OwnerIn
from skyfence.api.routers.common import ledger_of
from skyfence.governance import registry

router = APIRouter(tags=["groups"])


@router.get("/groups", summary="List groups with their terminal counts")
def list_groups(request: Request, caller: Caller = Depends(require("groups.read"))) -> dict:
    with ledger_of(request).db.read_session() as s:
        return {"groups": registry.list_groups(s)}


@router.post("/groups", status_code=201, summary="Create a group")
def create_group(body: GroupIn, request: Request,
                 caller: Caller = Depends(require("groups.write"))) -> dict:
    return registry.create_group(ledger_of(request), caller.principal, body.name, body.description)


@router.get("/owners", summary="List owners with limits and active counts")
def list_owners(request: Request, caller: Caller = Depends(require("owners.read"))) -> dict:
    with ledger_of(request).db.read_session() as s:
        return {"owners": registry.list_owners(s)}


@router.post("/owners", status_code=201, summary="Create an owner or change its limit")
def set_owner(body: OwnerIn, request: Request,
              caller: Caller = Depends(require("owners.write"))) -> dict:
    return registry.create_owner(ledger_of(request), caller.principal, body.id, body.max_terminals)
