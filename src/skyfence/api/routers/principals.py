"""Principals (read-only over the API: principals are added on the server with
``skyfence principals add``, and every addition is in the log)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from skyfence.api.auth import Caller, require
from skyfence.api.routers.common import ledger_of
from skyfence.governance.principals import list_principals

router = APIRouter(tags=["principals"])


@router.get("/principals", summary="Principals, roles and public keys")
def principals(request: Request, caller: Caller = Depends(require("principals.read"))) -> dict:
    with ledger_of(request).db.read_session() as s:
        return {"principals": list_principals(s)}


@router.get("/whoami", summary="The authenticated caller")
def whoami(caller: Caller = Depends(require("principals.read"))) -> dict:
    return {"principal": caller.principal, "roles": list(caller.roles), "via": caller.via}
