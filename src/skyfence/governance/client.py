"""HTTP client of a governance server: signed requests (the CLI's ``propose``, ``approve``,
``terminals import``) and fetching the log's export (``skyfence verify URL``, ``[policy] log = URL``)
as JSON (``/log/export``) or read from its C2SP tlog-tiles layout (``/checkpoint``, ``/tile/...``).

A signed request carries ``X-Skyfence-Principal``, ``X-Skyfence-Timestamp`` (unix seconds with
microseconds) and ``X-Skyfence-Signature``: the hex Ed25519 signature of `request_message`,
``"skyfence-request-v1\\n" METHOD "\\n" PATH[?QUERY] "\\n" sha256(body) hex "\\n" TIMESTAMP``.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skyfence.errors import (
    CheckpointError,
    GovernanceError,
    NotFoundError,
    ProofError,
    VerificationError,
)
from skyfence.governance.log.checkpoint import parse_checkpoint
from skyfence.governance.log.export import make_export
from skyfence.governance.log.tiles import read_tiled_tree

__all__ = ["request_message", "sign_request_headers", "Client", "export_url", "fetch_export",
           "tiles_prefix", "fetch_tiled_export"]

EXPORT_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 120.0


def request_message(method: str, path_qs: str, body: bytes, timestamp: str) -> bytes:
    """The bytes a signed request signs."""
    return (f"skyfence-request-v1\n{method.upper()}\n{path_qs}\n"
            f"{hashlib.sha256(body).hexdigest()}\n{timestamp}").encode()


def sign_request_headers(private_key: Ed25519PrivateKey, principal: str, method: str,
                         path_qs: str, body: bytes = b"",
                         timestamp: int | None = None) -> dict[str, str]:
    """Headers of a request signed by `principal`'s key (default timestamp: now)."""
    ts = f"{time.time():.6f}" if timestamp is None else str(timestamp)
    sig = private_key.sign(request_message(method, path_qs, body, ts)).hex()
    return {"X-Skyfence-Principal": principal, "X-Skyfence-Timestamp": ts,
            "X-Skyfence-Signature": sig}


class Client:
    """Requests to the server at `base_url`, signed with `private_key` as `principal`, or
    authenticated with `api_key`."""

    def __init__(self, base_url: str, *, principal: str | None = None,
                 private_key: Ed25519PrivateKey | None = None, api_key: str | None = None):
        if api_key is None and (private_key is None or principal is None):
            raise GovernanceError("give --key and --as (signed requests) or --api-key")
        self.base_url = base_url.rstrip("/")
        self.principal = principal
        self.private_key = private_key
        self.api_key = api_key

    def request(self, method: str, path: str, body: bytes = b"",
                content_type: str = "application/json") -> httpx.Response:
        """Send one request; `GovernanceError` naming the server's reason on a 4xx/5xx answer or
        when the server cannot be reached."""
        headers = {"Content-Type": content_type} if body else {}
        if self.api_key is not None:
            headers["X-API-Key"] = self.api_key
        else:
            headers.update(sign_request_headers(self.private_key, self.principal, method, path, body))
        try:
            r = httpx.request(method, self.base_url + path, content=body or None, headers=headers,
                              timeout=REQUEST_TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise GovernanceError(f"{self.base_url}: cannot reach the server: {exc}") from None
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail")
            except ValueError:
                detail = r.text
            raise GovernanceError(f"server refused ({r.status_code}): {detail}")
        return r


def export_url(url: str) -> str:
    """The export endpoint of the server at `url`."""
    return url.rstrip("/") + "/log/export"


def fetch_export(url: str) -> dict[str, Any]:
    """The log export of the server at `url` (``GET <url>/log/export``); `NotFoundError` if the
    server does not serve one (404), `VerificationError` if it cannot be fetched or is not a JSON
    object."""
    full = export_url(url)
    try:
        r = httpx.get(full, timeout=EXPORT_TIMEOUT_S, follow_redirects=True)
        if r.status_code == 404:
            raise NotFoundError(f"{full}: not served")
        r.raise_for_status()
        doc = r.json()
    except httpx.HTTPError as exc:
        raise VerificationError(f"{full}: cannot fetch export: {exc}") from None
    except ValueError:
        raise VerificationError(f"{full}: response is not JSON") from None
    if not isinstance(doc, dict):
        raise VerificationError(f"{full}: export must be a JSON object")
    return doc


def tiles_prefix(url: str) -> str:
    """The tlog-tiles prefix of a log URL: the URL without a trailing ``/checkpoint`` or ``/``."""
    url = url.rstrip("/")
    return url[:-len("/checkpoint")] if url.endswith("/checkpoint") else url


def _get_bytes(url: str) -> bytes | None:
    """Body of a GET (None on 404); `VerificationError` on any other failure."""
    try:
        r = httpx.get(url, timeout=EXPORT_TIMEOUT_S, follow_redirects=True,
                      headers={"Accept-Encoding": "gzip, identity"})
    except httpx.HTTPError as exc:
        raise VerificationError(f"{url}: cannot fetch: {exc}") from None
    if r.status_code == 404:
        return None
    if r.status_code != 200:
        raise VerificationError(f"{url}: HTTP {r.status_code}")
    return r.content


def _entry0_key(entries: list[bytes]) -> str | None:
    """The log's verifier key named by entry 0 (the governance log's first entry), if any."""
    try:
        data = json.loads(entries[0]).get("data") or {}
    except (IndexError, ValueError, AttributeError):
        return None
    key = data.get("verifier_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


def fetch_tiled_export(url: str) -> dict[str, Any]:
    """The log of `url` read through its C2SP tlog-tiles layout, as an export document.

    Fetches ``<prefix>/checkpoint``, then every hash tile and entry bundle of that tree size, and
    checks them (`skyfence.governance.log.tiles.read_tiled_tree`: tiles against entries and
    against each other, the rebuilt root against the checkpoint's). The export holds the entries
    and that checkpoint (its signature is checked by the verifier); its "verifier_key" is the one
    entry 0 names (the governance log's first entry), absent otherwise. `VerificationError` on
    any failure, naming the tile."""
    prefix = tiles_prefix(url)
    note = _get_bytes(prefix + "/checkpoint")
    if note is None:
        raise VerificationError(f"{prefix}/checkpoint: not found (no tlog-tiles log here)")
    try:
        text = note.decode("utf-8")
        cp = parse_checkpoint(text)
        entries = read_tiled_tree(cp.size, cp.root_hash, lambda p: _get_bytes(f"{prefix}/{p}"))
    except UnicodeDecodeError:
        raise VerificationError(f"{prefix}/checkpoint: not UTF-8") from None
    except (CheckpointError, ProofError) as exc:
        raise VerificationError(f"{prefix}: tlog-tiles: {exc}") from None
    doc = make_export(cp.origin, _entry0_key(entries) or "", entries, [text],
                      extra={"source": "tlog-tiles"})
    if not doc["verifier_key"]:
        del doc["verifier_key"]
    return doc
