"""The transparency log: entries, checkpoints, inclusion and consistency proofs, export.
Public (no authentication): anyone may verify the log."""

from __future__ import annotations

import base64
import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from skyfence.api.routers.common import MAX_INT, Limit, ledger_of
from skyfence.errors import InvalidError, NotFoundError
from skyfence.governance.export import export_ledger

router = APIRouter(prefix="/log", tags=["log"])
Index = Annotated[int, Query(ge=0, le=MAX_INT)]
Size = Annotated[int, Query(ge=1, le=MAX_INT)]


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


@router.get("", summary="Log size, latest signed checkpoint and the log's verifier key")
def head(request: Request) -> dict:
    L = ledger_of(request)
    with L.db.read_session() as s:
        return {"origin": L.origin, "size": L.size(s), "checkpoint": L.latest_checkpoint(s),
                "verifier_key": L.verifier_key}


@router.get("/checkpoint", response_class=PlainTextResponse,
            summary="The latest checkpoint (C2SP signed note)")
def checkpoint(request: Request) -> str:
    L = ledger_of(request)
    with L.db.read_session() as s:
        return L.latest_checkpoint(s) or ""


@router.get("/checkpoints", summary="Stored checkpoints from a tree size on")
def checkpoints(request: Request, start: Index = 0, limit: Limit = 100) -> dict:
    L = ledger_of(request)
    with L.db.read_session() as s:
        return {"checkpoints": L.checkpoints(s, start, limit)}


@router.get("/entries", summary="Entries [start, start + limit)")
def entries(request: Request, start: Index = 0, limit: Limit = 100) -> dict:
    L = ledger_of(request)
    with L.db.read_session() as s:
        end = min(L.size(s), start + limit)
        return {"entries": [{"index": i, "entry": L.entry_text(s, i)} for i in range(start, end)]}


@router.get("/entries/{index}", summary="One entry: its canonical text (the leaf data)")
def entry(index: int, request: Request) -> dict:
    L = ledger_of(request)
    with L.db.read_session() as s:
        if not 0 <= index < L.size(s):
            raise NotFoundError(f"no log entry {index}")
        text = L.entry_text(s, index)
    return {"index": index, "entry": text, "parsed": json.loads(text)}


@router.get("/proofs/inclusion", summary="RFC 9162 inclusion proof of an entry (O(log n))")
def inclusion(request: Request, index: Index, size: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None) -> dict:
    L = ledger_of(request)
    with L.db.read_session() as s:
        n = L.size(s)
        size = n if size is None else size
        if not 0 <= index < size <= n:
            raise InvalidError(f"index/size: need 0 <= index < size <= {n}")
        proof = L.inclusion_proof(s, index, size)
        return {"index": index, "tree_size": size, "proof": [_b64(h) for h in proof],
                "checkpoint": L.checkpoint_at(s, size)}


@router.get("/proofs/consistency", summary="RFC 9162 consistency proof between two sizes")
def consistency(request: Request, old: Size, new: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None) -> dict:
    L = ledger_of(request)
    with L.db.read_session() as s:
        n = L.size(s)
        new = n if new is None else new
        if not 0 < old <= new <= n:
            raise InvalidError(f"old/new: need 0 < old <= new <= {n}")
        proof = L.consistency_proof(s, old, new)
        return {"old": old, "new": new, "proof": [_b64(h) for h in proof],
                "old_checkpoint": L.checkpoint_at(s, old), "new_checkpoint": L.checkpoint_at(s, new)}


@router.get("/export", summary="The whole log for offline verification (`skyfence verify`)")
def export(request: Request) -> dict:
    return export_ledger(ledger_of(request))
