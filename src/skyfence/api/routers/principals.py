"""Principals and the quorums (read-only over the API: membership is named in the log's genesis
and changes only by a membership proposal a quorum approves, see
:mod:`skyfence.governance.rules.membership`)."""

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


@router.get("/quorum", summary="The quorums the log establishes")
def quorum(request: Request, caller: Caller = Depends(require("principals.read"))) -> dict:
    ledger = ledger_of(request)
    with ledger.db.read_session() as s:
        st = ledger.state(s)
    return {"policy": st.quorum_k, "membership": st.membership_k, "emergency": st.emergency_k,
            "log_key": st.log_key}


@router.get("/whoami", summary="The authenticated caller")
def whoami(caller: Caller = Depends(require("principals.read"))) -> dict:
    return {"principal": caller.principal, "roles": list(caller.roles), "via": caller.via}
