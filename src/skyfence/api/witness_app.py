"""HTTP service of one witness (C2SP tlog-witness): ``POST /add-checkpoint`` and the monitoring
``GET /<hex SHA-256 of the origin>/checkpoint``, over a `skyfence.governance.witness.protocol.Witness`.

``GET /`` answers the witness's cosigner vkey and the origins of the logs it knows, as text.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from skyfence.errors import WitnessError
from skyfence.governance.witness.cosignature import parse_cosigner_signer_key
from skyfence.governance.witness.protocol import MAX_BODY_BYTES, Witness
from skyfence.governance.witness.state import WitnessState

__all__ = ["read_witness_key", "create_witness_app"]


def read_witness_key(path: str | Path):
    """(name, private key) from a witness key file (a cosigner signer key text)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise WitnessError(f"{p}: cannot read the witness key: {exc.strerror}") from None
    return parse_cosigner_signer_key(text)


def create_witness_app(db_path: str | Path, key_path: str | Path) -> Starlette:
    """The witness's ASGI app: its SQLite at `db_path`, its key file at `key_path`."""
    name, key = read_witness_key(key_path)
    witness = Witness(WitnessState(db_path), name, key)

    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return PlainTextResponse("request body too large\n", status_code=400)
        r = await run_in_threadpool(witness.add_checkpoint, body)
        return Response(r.body, status_code=r.status, headers={"content-type": r.content_type})

    async def checkpoint(request: Request) -> Response:
        want = request.path_params["origin_hash"]
        for latest in await run_in_threadpool(witness.state.all_latest):
            if hashlib.sha256(latest.origin.encode("utf-8")).hexdigest() == want:
                return PlainTextResponse(latest.note)
        return PlainTextResponse("no checkpoint cosigned for this log\n", status_code=404)

    async def index(_: Request) -> Response:
        origins = await run_in_threadpool(witness.state.origins)
        return PlainTextResponse(f"witness {witness.vkey}\n"
                                 + "".join(f"log {o}\n" for o in origins))

    app = Starlette(routes=[
        Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
        Route("/{origin_hash:str}/checkpoint", checkpoint, methods=["GET"]),
        Route("/", index, methods=["GET"]),
    ])
    app.state.witness = witness
    return app
