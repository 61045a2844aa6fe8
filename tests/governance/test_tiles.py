"""The log in the C2SP tlog-tiles layout (https://c2sp.org/tlog-tiles): path encoding, the hashes
of every tile against RFC 9162 subtree hashes computed here with hashlib, partial tiles at the
tree's edge, entry bundles, the tile reader, and the served layout end to end."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from skyfence.api.app import create_app
from skyfence.errors import ProofError, VerificationError
from skyfence.governance import registry
from skyfence.governance.audit import load_log, verify_command
from skyfence.governance.client import fetch_tiled_export
from skyfence.governance.log.tiles import (
    Tile,
    decode_bundle,
    encode_bundle,
    encode_index,
    parse_index,
    parse_tile_path,
    read_tiled_tree,
    root_from_tiles,
    tile_bytes,
    tile_hashes,
    tile_path,
    tiles_of_tree,
)
from skyfence.governance.log.tree import MerkleLog
from tests.governance.fixtures import make_plane

DATA = Path(__file__).resolve().parents[1] / "data" / "merkle"

# RFC 6962 reference leaves of transparency-dev/merkle (testonly/constants.go): leaf data
REFERENCE_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]


# --------------------------------------------------------------------------- independent oracle


def _leaf(d: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + d).digest()


def mth(leaf_hashes: list[bytes]) -> bytes:
    """RFC 9162 MTH by direct recursion over leaf hashes."""
    n = len(leaf_hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaf_hashes[:k]) + mth(leaf_hashes[k:])).digest()


def spec_tile(leaf_hashes: list[bytes], level: int, index: int, width: int) -> bytes:
    """The tile as tlog-tiles defines it: MTH(D[(n * 256 + i) * 256**l : (n * 256 + i + 1) *
    256**l]) for i < width, concatenated."""
    span = 256 ** level
    return b"".join(mth(leaf_hashes[(index * 256 + i) * span:(index * 256 + i + 1) * span])
                    for i in range(width))


def _log(leaf_hashes: list[bytes]) -> MerkleLog:
    log = MerkleLog()
    for h in leaf_hashes:
        log.append_leaf_hash(h)
    return log


def _served(log: MerkleLog, entries: list[bytes], size: int) -> dict[str, bytes]:
    """Every tile and entry bundle of the tree of `size` leaves, by path."""
    out = {}
    for t in tiles_of_tree(size):
        out[t.path] = tile_bytes(tile_hashes(log, size, t.level, t.index, t.width))
        if t.level == 0:
            start = t.index * 256
            out[tile_path(None, t.index, t.width)] = encode_bundle(entries[start:start + t.width])
    return out


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(("n", "text"), [
    (0, "000"), (5, "005"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067"),
    (1_000_000, "x001/x000/000"), (999_999_999, "x999/x999/999")])
def test_index_encoding(n, text):
    assert encode_index(n) == text
    assert parse_index(text) == n


@pytest.mark.parametrize("bad", [
    "", "67", "0067", "x067", "001/234/067", "x001/234/067", "x001/x234/x067", "x000/001",
    "x001/x234/67", "x1234/000", "x001//000", "-01", "0x1", "x001/0a7"])
def test_index_rejects_other_forms(bad):
    with pytest.raises(ValueError):
        parse_index(bad)


def test_tile_paths():
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 0, 17) == "tile/1/000.p/17"
    assert tile_path(None, 1000, 255) == "tile/entries/x001/000.p/255"
    assert parse_tile_path("tile/0/x001/x234/067") == Tile(0, 1234067, 256)
    assert parse_tile_path("/tile/63/000.p/1") == Tile(63, 0, 1)
    assert parse_tile_path("tile/entries/x001/000.p/112") == Tile(None, 1000, 112)
    for bad in ("tile/00/000", "tile/64/000", "tile/-1/000", "tile/0/000.p/0", "tile/0/000.p/256",
                "tile/0/000.p/012", "tile/0/000.p/", "tile/0/000.p", "tile/data/000", "tiles/0/000",
                "tile/0", "tile/0/000/", "tile/entries/x000/000"):
        with pytest.raises(ValueError):
            parse_tile_path(bad)
    with pytest.raises(ValueError):
        tile_path(64, 0)


def test_tiles_of_tree_spec_examples():
    """The spec's examples: a tree of size 70,000 has 273 full level-0 tiles, a partial level-0
    tile of width 112, one full level-1 tile, a partial level-1 tile of width 17 and a partial
    level-2 tile of width 1; a tree of size 256 has one full level-0 tile and a partial level-1
    tile of width 1."""
    tiles = tiles_of_tree(70_000)
    assert [t for t in tiles if t.level == 0 and t.full] == [Tile(0, n) for n in range(273)]
    assert [t for t in tiles if not (t.level == 0 and t.full)] == [
        Tile(0, 273, 112), Tile(1, 0), Tile(1, 1, 17), Tile(2, 0, 1)]
    assert tiles_of_tree(256) == [Tile(0, 0), Tile(1, 0, 1)]
    assert tiles_of_tree(0) == []
    assert tiles_of_tree(1) == [Tile(0, 0, 1)]


# --------------------------------------------------------------------------- hashes vs the spec


def _vector_roots() -> dict[int, bytes]:
    """Tree size -> root of the reference-leaf trees, from the transparency-dev happy-path
    inclusion probes (those whose leaf hash is the reference leaf at their index)."""
    roots = {}
    for p in sorted((DATA / "inclusion").rglob("*.json")):
        d = json.loads(p.read_text())
        i, n = d["leafIdx"], d["treeSize"]
        if d["wantErr"] or not 0 <= i < n <= len(REFERENCE_LEAVES):
            continue
        if base64.b64decode(d["leafHash"]) == _leaf(REFERENCE_LEAVES[i]):
            roots[n] = base64.b64decode(d["root"])
    return roots


def test_vector_trees_tiles_and_roots():
    """Trees of the transparency-dev reference leaves: the level-0 tile of each size is the
    RFC 9162 leaf hashes, and the root rebuilt from the tiles is the vectors' root."""
    roots = _vector_roots()
    assert len(roots) >= 4
    hashes = [_leaf(d) for d in REFERENCE_LEAVES]
    log = _log(hashes)
    for size, root in roots.items():
        served = _served(log, REFERENCE_LEAVES, size)
        assert set(served) == {f"tile/0/000.p/{size}", f"tile/entries/000.p/{size}"}
        assert served[f"tile/0/000.p/{size}"] == b"".join(hashes[:size])
        assert root_from_tiles(size, lambda lv, n=size: tile_hashes(log, n, lv, 0, n)) == root
        assert read_tiled_tree(size, root, served.get) == REFERENCE_LEAVES[:size]
        assert served[f"tile/entries/000.p/{size}"] == b"".join(
            len(d).to_bytes(2, "big") + d for d in REFERENCE_LEAVES[:size])


@pytest.mark.parametrize("size", [1, 7, 255, 256, 257, 511, 512, 4097, 65535, 65536, 70_000])
def test_every_tile_is_the_spec_subtree_hashes(size):
    """Each tile served for a tree of `size` leaves is byte for byte the spec's tile: hash i of
    tile n at level l is MTH(D[(n*256+i)*256**l : (n*256+i+1)*256**l]), computed here with
    hashlib; partial tiles at the edge have width (size // 256**l) % 256; the root rebuilt from
    the partial tiles is the tree's root."""
    leaf_hashes = [_leaf(b"leaf %d" % i) for i in range(size)]
    log = _log(leaf_hashes)
    tiles = tiles_of_tree(size)
    for t in tiles:
        body = tile_bytes(tile_hashes(log, size, t.level, t.index, t.width))
        assert body == spec_tile(leaf_hashes, t.level, t.index, t.width), t.path
        assert len(body) == 32 * t.width
    levels = {t.level for t in tiles}
    for level in levels:
        count = size // 256 ** level
        partial = [t for t in tiles if t.level == level and not t.full]
        assert [(t.index, t.width) for t in partial] == (
            [(count // 256, count % 256)] if count % 256 else [])
    rightmost = {t.level: tile_hashes(log, size, t.level, t.index, t.width)
                 for t in tiles if not t.full}
    assert root_from_tiles(size, rightmost.__getitem__) == mth(leaf_hashes) == log.root()


def test_tiles_beyond_the_tree_and_past_sizes():
    hashes = [_leaf(b"%d" % i) for i in range(600)]
    log = _log(hashes)
    with pytest.raises(ProofError, match="beyond"):
        tile_hashes(log, 600, 0, 2)  # full tile 2 needs 768 leaves
    with pytest.raises(ProofError, match="beyond"):
        tile_hashes(log, 600, 0, 2, 89)  # 600 - 512 = 88 leaves in tile 2
    with pytest.raises(ProofError, match="beyond"):
        tile_hashes(log, 600, 1, 0, 3)
    with pytest.raises(ProofError, match="beyond"):
        tile_hashes(log, 600, 2, 0, 1)
    # the partial tiles of an earlier checkpoint's size stay what they were
    assert tile_bytes(tile_hashes(log, 300, 0, 1, 44)) == spec_tile(hashes, 0, 1, 44)
    assert tile_bytes(tile_hashes(log, 600, 1, 0, 2)) == spec_tile(hashes, 1, 0, 2)


def test_entry_bundles():
    assert encode_bundle([b"", b"ab", b"\x00" * 3]) == b"\x00\x00\x00\x02ab\x00\x03\x00\x00\x00"
    entries = [b"x" * n for n in (0, 1, 255, 256, 65535)]
    assert decode_bundle(encode_bundle(entries)) == entries
    with pytest.raises(ValueError, match="65535"):
        encode_bundle([b"x" * 65536])
    for bad in (b"\x00", b"\x00\x05abc", b"\x00\x01a\x00"):
        with pytest.raises(ProofError):
            decode_bundle(bad)


# --------------------------------------------------------------------------- the tile reader


def _tree(size: int) -> tuple[MerkleLog, list[bytes]]:
    entries = [b"entry %d" % i for i in range(size)]
    log = MerkleLog()
    log.extend(entries)
    return log, entries


def test_reader_rebuilds_and_catches_tampering():
    log, entries = _tree(70_000)
    size, root = log.size, log.root()
    served = _served(log, entries, size)
    assert read_tiled_tree(size, root, served.get) == entries

    def tampered(path: str, at: int = 5) -> dict[str, bytes]:
        bad = dict(served)
        b = bytearray(bad[path])
        b[at] ^= 1
        bad[path] = bytes(b)
        return bad

    for path in ("tile/0/000", "tile/0/273.p/112", "tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1"):
        with pytest.raises(ProofError, match=path.replace(".", r"\.")):
            read_tiled_tree(size, root, tampered(path).get)
    with pytest.raises(ProofError, match="tile/0/017"):
        read_tiled_tree(size, root, tampered("tile/entries/017", 9).get)
    with pytest.raises(ProofError, match="root"):
        read_tiled_tree(size, hashlib.sha256(b"other").digest(), served.get)
    missing = dict(served)
    del missing["tile/1/000"]
    with pytest.raises(ProofError, match="not served"):
        read_tiled_tree(size, root, missing.get)


def test_reader_uses_the_full_tile_when_the_partial_is_gone():
    """A client may cut a full tile down when the partial tile of its checkpoint is gone (the
    log grew): the tree of size 300 read from the full tiles of size 600."""
    log, entries = _tree(600)
    grown = _served(log, entries, 600)
    grown["tile/1/000.p/1"] = tile_bytes(tile_hashes(log, 600, 1, 0, 1))
    assert "tile/0/001.p/44" not in grown and "tile/entries/001.p/44" not in grown
    assert "tile/0/001" in grown and "tile/entries/001" in grown
    assert read_tiled_tree(300, log.root(300), grown.get) == entries[:300]


# --------------------------------------------------------------------------- served end to end


@pytest.fixture(scope="module")
def served_plane(tmp_path_factory):
    """A governance plane (SQLite) with 260 log entries (a full level-0 tile and a partial level-1
    tile) served in-process."""
    tmp = tmp_path_factory.mktemp("tiles")
    p = make_plane(f"sqlite:///{tmp / 'gov.db'}")
    i = 0
    while p.ledger.size() < 260:
        registry.register_terminal(p.ledger, "op", f"t{i}", 50.0 + i * 0.01, 30.5, status="active")
        i += 1
    app = create_app(p.url, p.log_key, db=p.db)
    with TestClient(app, base_url="http://gov.test") as c:
        yield p, c
    p.db.dispose()


def _route(monkeypatch, client: TestClient, edit=None) -> list[str]:
    """Send every httpx.get to the in-process app; `edit(url, response)` may change a response."""
    calls = []

    def get(url, **kw):
        calls.append(url)
        r = client.get(url)
        return edit(url, r) if edit else r

    monkeypatch.setattr(httpx, "get", get)
    return calls


def test_served_tiles_are_the_spec_bytes(served_plane):
    p, c = served_plane
    r = c.get("/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert "no-cache" in r.headers["cache-control"]
    origin, size, root = r.text.split("\n")[:3]
    size = int(size)
    assert origin == "test.skyfence/log" and size == p.ledger.size() == 260
    texts = [c.get(f"/log/entries/{i}").json()["entry"].encode() for i in range(size)]
    leaf_hashes = [_leaf(t) for t in texts]
    assert base64.b64decode(root) == mth(leaf_hashes)
    for t in tiles_of_tree(size):
        r = c.get("/" + t.path)
        assert r.status_code == 200, t.path
        assert r.headers["content-type"] == "application/octet-stream"
        assert "immutable" in r.headers["cache-control"]
        assert r.content == spec_tile(leaf_hashes, t.level, t.index, t.width), t.path
    assert c.get("/tile/1/000.p/1").content == mth(leaf_hashes[:256])
    bundle = c.get("/tile/entries/000").content
    assert decode_bundle(bundle) == texts[:256]
    assert decode_bundle(c.get("/tile/entries/001.p/4").content) == texts[256:]
    assert decode_bundle(c.get("/tile/entries/001.p/2").content) == texts[256:258]
    for path in ("/tile/0/001", "/tile/0/001.p/5", "/tile/1/000", "/tile/1/000.p/2",
                 "/tile/2/000.p/1", "/tile/entries/001", "/tile/entries/001.p/5", "/tile/0/1",
                 "/tile/00/000", "/tile/0/000.p/256", "/tile/x/000", "/tile/entries/x000/001.p/1"):
        assert c.get(path).status_code == 404, path


def test_verify_url_reads_the_tiles(served_plane, monkeypatch):
    p, c = served_plane
    calls = _route(monkeypatch, c)
    doc = fetch_tiled_export("http://gov.test/checkpoint")
    assert len(doc["entries"]) == 260 and doc["verifier_key"] == p.ledger.verifier_key
    assert "http://gov.test/tile/1/000.p/1" in calls and "http://gov.test/tile/entries/000" in calls
    assert not any("/log/" in u for u in calls)
    buf = io.StringIO()
    rep = verify_command("http://gov.test/checkpoint", [], verifier_key=p.ledger.verifier_key,
                         console=Console(file=buf, width=200))
    assert rep.ok and rep.entries == 260 and rep.size == 260
    assert "tlog-tiles" in buf.getvalue()


def test_verify_url_falls_back_to_tiles_without_an_export(served_plane, monkeypatch):
    _, c = served_plane

    def no_export(url, r):
        return httpx.Response(404, request=r.request) if url.endswith("/log/export") else r

    calls = _route(monkeypatch, c, no_export)
    doc = load_log("http://gov.test/")
    assert doc["source"] == "tlog-tiles" and len(doc["entries"]) == 260
    assert calls[0] == "http://gov.test/log/export" and calls[1] == "http://gov.test/checkpoint"


@pytest.mark.parametrize("path", ["/tile/0/000", "/tile/0/001.p/4", "/tile/1/000.p/1",
                                  "/tile/entries/000", "/tile/entries/001.p/4"])
def test_tampered_served_tile_is_caught(served_plane, monkeypatch, path):
    _, c = served_plane

    def flip(url, r):
        if url.endswith(path):
            body = bytearray(r.content)
            body[len(body) // 2] ^= 0x80
            return httpx.Response(200, content=bytes(body), request=r.request)
        return r

    _route(monkeypatch, c, flip)
    with pytest.raises(VerificationError, match="tlog-tiles"):
        fetch_tiled_export("http://gov.test/checkpoint")
    with pytest.raises(VerificationError):
        verify_command("http://gov.test/checkpoint", [], console=Console(file=io.StringIO()))
