"""GET /service: served / denied / uncovered, with the reason and a signed receipt."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from skyfence.api.auth import Caller, require
from skyfence.api.routers.common import ledger_of
from skyfence.governance.service import decide_service

router = APIRouter(tags=["service"])


@router.get("/service", summary="Service decision for a terminal at a time, with a receipt")
def service(request: Request,
            terminal: Annotated[str, Query(min_length=1, max_length=128)],
            at: Annotated[str | None, Query(max_length=64, description="ISO 8601 UTC; default now")] = None,
            caller: Caller = Depends(require("service.read"))) -> Response:
    receipt = decide_service(ledger_of(request), terminal, at, elements=request.app.state.elements,
                             h3_resolution=request.app.state.h3_resolution)
    # serialised directly (the receipt is plain JSON data): skips FastAPI's generic encoder
    return Response(content=json.dumps(receipt, separators=(",", ":")), media_type="application/json")
