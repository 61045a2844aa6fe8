"""FastAPI application of the governance plane: `create_app(db_url, log_key=...)`.

Routers per resource (terminals, groups and owners, proposals and approvals, policies, log,
service, principals, the log's C2SP tlog-tiles layout); OpenAPI at ``/openapi.json``, Swagger UI
at ``/docs`` (its assets served by this app: works offline) and a landing page at ``/``. Refusals: 401 (who are you),
403 (not allowed: roles.cedar, or a governance rule such as self-approval), 404, 409 (conflict),
422 (payload; names the field), 503 (the database's tables disagree with its log: nothing is
decided until they agree again, see :mod:`skyfence.governance.state`).
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError

from skyfence.api.auth import AuthError
from skyfence.errors import (
    ConflictError,
    GovernanceError,
    InvalidError,
    NotFoundError,
    RefusedError,
    SkyfenceError,
)
from skyfence.governance.db import Database, init_db, normalize_url
from skyfence.governance.ledger import Ledger
from skyfence.governance.service import DEFAULT_H3_RESOLUTION
from skyfence.governance.state import StateMismatchError

__all__ = ["create_app", "resolve_log_key", "StrictJsonMiddleware"]


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number (RFC 8259 has no NaN or Infinity)")


def strict_json_problem(body: bytes) -> str | None:
    """Why a JSON request body is refused (None: acceptable): not UTF-8, not JSON, a NaN or
    Infinity literal, or a string holding a lone surrogate (not Unicode text)."""
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeError as exc:
        return f"body: not Unicode text ({exc.reason})"
    except ValueError as exc:
        return f"body: {exc}"
    return None


class StrictJsonMiddleware:
    """ASGI middleware: a request with a JSON body that `strict_json_problem` refuses gets 422
    before any route sees it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        ctype = dict(scope.get("headers") or []).get(b"content-type", b"")
        if b"json" not in ctype.lower():
            return await self.app(scope, receive, send)
        messages, body = [], b""
        while True:
            msg = await receive()
            messages.append(msg)
            if msg["type"] != "http.request":
                break
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        why = strict_json_problem(body) if body else None
        if why is not None:
            return await JSONResponse(status_code=422, content={"detail": why})(scope, receive, send)

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)


def resolve_log_key(db_url: str, log_key=None):
    """The log's Ed25519 private key: a key object, a key file path, or None for
    ``<sqlite file>.logkey`` next to a SQLite database. A missing key file is an error naming the
    path (never a new key: a log signed by a new key would never verify again); make one with
    ``skyfence keys new``."""
    from skyfence.governance.keys import load_private_key

    if log_key is not None and not isinstance(log_key, (str, Path)):
        return log_key
    if log_key is None:
        url = normalize_url(db_url)
        if not url.startswith("sqlite"):
            raise GovernanceError("give the log's signing key file with --log-key for a "
                                  "PostgreSQL database")
        log_key = url.split("///", 1)[1] + ".logkey"
    path = Path(log_key).expanduser()
    if not path.is_file():
        raise GovernanceError(f"log key not found: {path} (give --log-key with the log's key "
                              "file; make a new one only for a new log: skyfence keys new)")
    return load_private_key(path)


def _pages(app: FastAPI) -> None:
    """The landing page at ``/`` and Swagger UI at ``/docs``, its assets served from the
    installed ``swagger-ui-bundle`` package under ``/static/swagger-ui`` (no CDN: works offline)."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    app.mount("/static/swagger-ui", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="swagger-ui")
    landing = (Path(__file__).parent / "static" / "landing.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(landing)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} - API",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon-32x32.png")


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """At shutdown: stop the witness cosigner's thread (after the round under way) and close its
    HTTP client."""
    yield
    cosigner = getattr(app.state, "witness_cosigner", None)
    if cosigner is not None:
        cosigner.stop()


def create_app(db_url: str, log_key=None, *, origin: str | None = None,
               elements: str = "starlink", db: Database | None = None,
               h3_resolution: int = DEFAULT_H3_RESOLUTION, witness_policy=None) -> FastAPI:
    """The governance API over the database at `db_url` (migrated to the latest schema),
    signing checkpoints and receipts with `log_key` (see `resolve_log_key`); service decisions
    use the satellites of `elements` and terminals' H3 cells at `h3_resolution`. With
    `witness_policy` (a `WitnessPolicy`), the witnesses that have a URL are asked to cosign every
    new checkpoint in the background (`skyfence.governance.witness.background`)."""
    from skyfence.api.routers import (
        funding,
        groups,
        log,
        policies,
        principals,
        proposals,
        service,
        terminals,
        tiles,
        view,
    )

    key = resolve_log_key(db_url, log_key)
    db = db or init_db(db_url)
    ledger = Ledger(db, key, origin=origin)
    ledger.start()  # the key the log names now (genesis or latest rotation), else an error
    app = FastAPI(
        lifespan=_lifespan,
        title="skyfence governance plane",
        version="1",
        docs_url=None,
        redoc_url=None,
        description=(
            "Terminal registry, quorum-approved service policies and a verifiable RFC 9162 "
            "transparency log. Authenticate with `X-API-Key` / `Authorization: Bearer`, or sign "
            "requests with your Ed25519 key (X-Skyfence-Principal, X-Skyfence-Timestamp, "
            "X-Skyfence-Signature). The log (/log/...) is public: anyone may verify it."),
    )
    app.add_middleware(StrictJsonMiddleware)
    app.add_middleware(service.ServiceShortcut)  # plain API-key GET /service, first
    app.state.db = db
    app.state.ledger = ledger
    app.state.elements = elements
    app.state.h3_resolution = int(h3_resolution)
    if witness_policy is not None:
        from skyfence.governance.witness.background import WitnessCosigner

        # started here (a checkpoint is cosigned as soon as the app exists), stopped at shutdown
        app.state.witness_cosigner = WitnessCosigner(ledger, witness_policy).start()

    def _err(status: int, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    @app.exception_handler(AuthError)
    async def _auth(_req: Request, exc: AuthError):
        return JSONResponse(status_code=401, content={"detail": str(exc)},
                            headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RefusedError)
    async def _refused(_req: Request, exc: RefusedError):
        return _err(403, exc)

    @app.exception_handler(NotFoundError)
    async def _nf(_req: Request, exc: NotFoundError):
        return _err(404, exc)

    @app.exception_handler(ConflictError)
    async def _conflict(_req: Request, exc: ConflictError):
        return _err(409, exc)

    @app.exception_handler(IntegrityError)
    async def _integrity(_req: Request, exc: IntegrityError):
        return _err(409, Exception(f"conflicts with the stored state: {exc.orig}"))

    @app.exception_handler(OperationalError)
    async def _busy(_req: Request, exc: OperationalError):
        return JSONResponse(status_code=503, content={"detail": f"database busy: {exc.orig}"},
                            headers={"Retry-After": "1"})

    @app.exception_handler(StateMismatchError)
    async def _mismatch(_req: Request, exc: StateMismatchError):
        return _err(503, exc)

    @app.exception_handler(InvalidError)
    async def _invalid(_req: Request, exc: InvalidError):
        return _err(422, exc)

    @app.exception_handler(SkyfenceError)
    async def _other(_req: Request, exc: SkyfenceError):
        return _err(422, exc)

    _pages(app)

    @app.get("/health", tags=["health"], summary="Liveness (no authentication)")
    def health() -> dict:
        return {"status": "ok"}

    # GET /service first: the most frequent request matches the first route tried
    for r in (service, terminals, groups, proposals, policies, log, principals, tiles, funding, view):
        app.include_router(r.router)
    return app
