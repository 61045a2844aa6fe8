"""The log in the C2SP ``tlog-tiles`` layout (https://c2sp.org/tlog-tiles), public like /log:
``/checkpoint`` (the latest signed checkpoint), ``/tile/<L>/<N>[.p/<W>]`` (hash tiles) and
``/tile/entries/<N>[.p/<W>]`` (entry bundles). Tiles and bundles are immutable (long-lived cache
headers); a tile beyond the current tree, or a path not in the spec's canonical form, is a 404."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import select

from skyfence.api.routers.common import ledger_of
from skyfence.errors import NotFoundError, ProofError
from skyfence.governance.db import LogEntry
from skyfence.governance.ledger import SqlHashStore
from skyfence.governance.log.tiles import (
    TILE_WIDTH,
    Tile,
    encode_bundle,
    parse_tile_path,
    tile_bytes,
    tile_hashes,
)

__all__ = ["router"]

router = APIRouter(tags=["tlog-tiles"])

OCTETS = "application/octet-stream"
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
MUTABLE = {"Cache-Control": "no-cache"}
_BINARY = {200: {"content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}}},
           404: {"description": "beyond the tree, or not a canonical tile path"}}


def _tile(path: str, entries: bool) -> Tile:
    try:
        tile = parse_tile_path(f"tile/{'entries/' if entries else ''}{path}")
    except ValueError as exc:
        raise NotFoundError(str(exc)) from None
    return tile


@router.get("/checkpoint", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
                       404: {"description": "no checkpoint yet"}},
            summary="The latest signed checkpoint (C2SP tlog-checkpoint), with the witnesses' "
                    "cosignatures once they have cosigned it")
def checkpoint(request: Request) -> PlainTextResponse:
    from skyfence.governance.witness.client import latest_witnessed

    L = ledger_of(request)
    with L.db.read_session() as s:
        note = L.latest_checkpoint(s)
        witnessed = latest_witnessed(s)
    if note is not None and witnessed is not None and witnessed.startswith(note):
        note = witnessed
    if note is None:
        raise NotFoundError("no checkpoint yet: the log is empty")
    return PlainTextResponse(note, media_type="text/plain; charset=utf-8", headers=MUTABLE)


@router.get("/tile/entries/{tile_path:path}", response_class=Response, responses=_BINARY,
            summary="Entry bundle N (each entry: big-endian uint16 length, then its bytes)")
def entry_bundle(tile_path: str, request: Request) -> Response:
    tile = _tile(tile_path, entries=True)
    L = ledger_of(request)
    start = tile.index * TILE_WIDTH
    with L.db.read_session() as s:
        if start + tile.width > L.size(s):
            raise NotFoundError(f"{tile.path}: beyond the tree")
        bodies = list(s.scalars(select(LogEntry.body).where(
            LogEntry.idx >= start, LogEntry.idx < start + tile.width).order_by(LogEntry.idx)))
    try:
        body = encode_bundle([b.encode("utf-8") for b in bodies])
    except ValueError as exc:
        raise HTTPException(500, f"{tile.path}: {exc}") from None
    return Response(body, media_type=OCTETS, headers=IMMUTABLE)


@router.get("/tile/{level}/{tile_path:path}", response_class=Response, responses=_BINARY,
            summary="Hash tile N at level L (256 hashes of 32 bytes; .p/W: the first W)")
def hash_tile(level: str, tile_path: str, request: Request) -> Response:
    tile = _tile(f"{level}/{tile_path}", entries=False)
    L = ledger_of(request)
    with L.db.read_session() as s:
        try:
            hashes = tile_hashes(SqlHashStore(s), L.size(s), tile.level, tile.index, tile.width)
        except ProofError as exc:
            raise NotFoundError(str(exc)) from None
    return Response(tile_bytes(hashes), media_type=OCTETS, headers=IMMUTABLE)
