"""GET /service: served / denied / uncovered, with the reason and a signed receipt."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from skyfence.api.auth import Caller, require
from skyfence.api.routers.common import ledger_of
from skyfence.governance.service import service_receipt_json

router = APIRouter(tags=["service"])


@router.get("/service", summary="Service decision for a terminal at a time, with a receipt")
async def service(request: Request,
                  terminal: Annotated[str, Query(min_length=1, max_length=128)],
                  at: Annotated[str | None, Query(max_length=64,
                                                  description="ISO 8601 UTC; default now")] = None,
                  caller: Caller = Depends(require("service.read"))) -> Response:
    args = (ledger_of(request), terminal, at)
    kw = {"elements": request.app.state.elements, "h3_resolution": request.app.state.h3_resolution}
    # answered on the event loop from what is kept (under a millisecond); a decision that needs
    # the database or SGP4 runs in a worker thread
    body = service_receipt_json(*args, **kw, cached_only=True)
    if body is None:
        body = await run_in_threadpool(service_receipt_json, *args, **kw)
    # the receipt's canonical JSON, as signed (no re-encoding)
    return Response(content=body, media_type="application/json")
