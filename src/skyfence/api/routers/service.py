"""GET /service: served / denied / uncovered, with the reason and a signed receipt.

The route is an ordinary FastAPI route (OpenAPI, query validation, authentication and roles by
`require`). `ServiceShortcut`, a middleware the app installs, answers the common request before
the framework's per-request layers (exception handling, routing, parameter models, dependency
graph: a few hundred microseconds of CPU a request): a GET whose query is exactly ``terminal``
and optionally ``at``, each once, non-empty and within the declared lengths, authenticated by
API key, is authenticated and authorized by the same functions (`authenticate`, `authorize`)
and answered by the same `service_receipt_json` when the decision needs neither the database
nor SGP4. Everything else (a signed request, a query FastAPI would refuse, a refusal, a
decision that must read, ``SKYFENCE_SERVICE_CACHE=off``) goes on to the route as before, which
answers it, errors included (401, 403, 422, 503), as it always does.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from skyfence.api.auth import Caller, authenticate, require
from skyfence.api.models import ServiceReceipt
from skyfence.api.routers.common import ledger_of
from skyfence.governance import service as svc
from skyfence.governance.rules.roles import authorize

__all__ = ["router", "ServiceShortcut"]

_ACTION = "service.read"
_TERMINAL_MAX, _AT_MAX = 128, 64


async def _receipt_response(request: Request, terminal: str, at: str | None) -> Response:
    """The signed receipt of `terminal` at `at` as the response body (its canonical JSON, as
    signed: no re-encoding): answered on the event loop from what is kept (well under a
    millisecond); a decision that needs the database or SGP4 runs in a worker thread."""
    state = request.app.state
    args = (ledger_of(request), terminal, at)
    kw = {"elements": state.elements, "h3_resolution": state.h3_resolution}
    body = svc.service_receipt_json(*args, **kw, cached_only=True)
    if body is None:
        body = await run_in_threadpool(svc.service_receipt_json, *args, **kw)
    return Response(content=body, media_type="application/json")


def _plain_query(scope: dict) -> tuple[str, str | None] | None:
    """(terminal, at) when the query is ``terminal`` and optionally ``at``, each once, non-empty
    and within the declared lengths (what FastAPI accepts as is); None otherwise."""
    # as Starlette's QueryParams reads it
    items = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    if not 1 <= len(items) <= 2:
        return None
    got: dict[str, str] = {}
    for k, v in items:
        if k in got or k not in ("terminal", "at") or not v:
            return None
        got[k] = v
    terminal, at = got.get("terminal"), got.get("at")
    if terminal is None or len(terminal) > _TERMINAL_MAX or (at is not None and len(at) > _AT_MAX):
        return None
    return terminal, at


def _has_api_key(scope: dict) -> bool:
    return any(k == b"x-api-key" or k == b"authorization" for k, _ in scope["headers"])


class ServiceShortcut:
    """ASGI middleware: a plain API-key ``GET /service`` (see the module docstring) answered
    before the framework's exception, routing and dependency layers, when the decision can be
    made from what is kept; anything else, a refusal or an error included, goes on to the app,
    which answers it as it always does (the shortcut only reads: going on is safe)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        body = None
        if (scope["type"] == "http" and scope["path"] == "/service" and scope["method"] == "GET"
                and svc.CACHING and _has_api_key(scope)):
            try:
                body = await _shortcut(scope, receive)
            except Exception:  # noqa: BLE001 -- the app raises it again and answers it
                body = None
        if body is None:
            await self.app(scope, receive, send)
            return
        # what Response(content=body, media_type="application/json") sends
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode("latin-1")),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


async def _shortcut(scope, receive) -> bytes | None:
    query = _plain_query(scope)
    if query is None:
        return None
    request = Request(scope, receive)
    caller = await authenticate(request)
    authorize(caller.principal, caller.roles, _ACTION)
    state = scope["app"].state
    return svc.service_receipt_json(state.ledger, *query, elements=state.elements,
                                    h3_resolution=state.h3_resolution, cached_only=True)


router = APIRouter(tags=["service"])


@router.get("/service", summary="Service decision for a terminal at a time, with a receipt",
            response_model=ServiceReceipt)
async def service(request: Request,
                  terminal: Annotated[str, Query(min_length=1, max_length=_TERMINAL_MAX)],
                  at: Annotated[str | None, Query(max_length=_AT_MAX,
                                                  description="ISO 8601 UTC; default now")] = None,
                  caller: Caller = Depends(require(_ACTION))) -> Response:
    return await _receipt_response(request, terminal, at)
