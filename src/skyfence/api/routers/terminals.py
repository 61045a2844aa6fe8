"""Terminals: register, bulk import (CSV), activate, suspend, move between groups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from skyfence.api.auth import Caller, require
from skyfence.api.models import GroupsIn, TerminalIn
from skyfence.api.routers.common import Limit, Offset, ledger_of
from skyfence.errors import InvalidError, NotFoundError
from skyfence.governance import registry

router = APIRouter(prefix="/terminals", tags=["terminals"])
Status = Annotated[str | None, Query(pattern="^(registered|active|suspended)$")]


@router.get("", summary="List terminals")
def list_terminals(request: Request, offset: Offset = 0, limit: Limit = 100, status: Status = None,
                   group: Annotated[str | None, Query(max_length=128)] = None,
                   owner: Annotated[str | None, Query(max_length=128)] = None,
                   caller: Caller = Depends(require("terminals.read"))) -> dict:
    L = ledger_of(request)
    with L.db.read_session() as s:
        return {"terminals": registry.list_terminals(s, offset=offset, limit=limit, status=status,
                                                     group=group, owner=owner),
                "total": registry.count_terminals(s, status)}


@router.post("", status_code=201, summary="Register one terminal")
def register(body: TerminalIn, request: Request,
             caller: Caller = Depends(require("terminals.write"))) -> dict:
    return registry.register_terminal(ledger_of(request), caller.principal, body.id, body.lat_deg,
                                      body.lon_deg, owner=body.owner, groups=body.groups,
                                      status=body.status)


@router.post("/import", status_code=201, summary="Bulk import a CSV (one transaction)",
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {
                 "schema": {"type": "string"},
                 "example": "id,lat,lon,group,owner\nT1,50.45,30.52,donated,\n"}}}})
async def import_csv(request: Request, status: Annotated[str, Query(
        pattern="^(registered|active|suspended)$")] = "registered",
        caller: Caller = Depends(require("terminals.import"))) -> dict:
    from starlette.concurrency import run_in_threadpool

    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidError("body: the CSV must be UTF-8") from None
    if "\n" not in text:
        text += "\n"
    return await run_in_threadpool(registry.import_terminals_csv, ledger_of(request),
                                   caller.principal, text, status=status, source="body")


@router.get("/{terminal_id}", summary="One terminal")
def get(terminal_id: str, request: Request,
        caller: Caller = Depends(require("terminals.read"))) -> dict:
    with ledger_of(request).db.read_session() as s:
        t = registry.get_terminal(s, terminal_id)
    if t is None:
        raise NotFoundError(f"terminal {terminal_id!r} is not registered")
    return t


@router.post("/{terminal_id}/activate", summary="Activate (owner limits apply)")
def activate(terminal_id: str, request: Request,
             caller: Caller = Depends(require("terminals.write"))) -> dict:
    return registry.set_terminal_status(ledger_of(request), caller.principal, terminal_id, "active")


@router.post("/{terminal_id}/suspend", summary="Suspend")
def suspend(terminal_id: str, request: Request,
            caller: Caller = Depends(require("terminals.write"))) -> dict:
    return registry.set_terminal_status(ledger_of(request), caller.principal, terminal_id, "suspended")


@router.put("/{terminal_id}/groups", summary="Move a terminal between groups (replace its groups)")
def move(terminal_id: str, body: GroupsIn, request: Request,
         caller: Caller = Depends(require("terminals.write"))) -> dict:
    return registry.move_terminal(ledger_of(request), caller.principal, terminal_id, body.groups)
