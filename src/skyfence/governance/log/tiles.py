"""The C2SP ``tlog-tiles`` layout of a log (https://c2sp.org/tlog-tiles): tile paths, the hashes
of a tile, entry bundles, and a reader that rebuilds and checks a tree from its tiles.

Tiles have height 8: a full tile holds 256 hashes of 32 bytes (8,192 bytes). Hash ``i`` of tile
``N`` at level ``L`` is the RFC 9162 Merkle Tree Hash of the perfect subtree over leaves
``[(N * 256 + i) * 256**L, (N * 256 + i + 1) * 256**L)``: level 0 holds leaf hashes, each hash at
level ``L >= 1`` is the hash of one full tile at level ``L - 1``. These are the perfect-subtree
nodes at height ``8 * L`` of a `MerkleLog`'s `HashStore`.

For a tree of ``size`` leaves, level ``L`` has ``size // 256**L`` hashes: that many // 256 full
tiles and, when the remainder ``W = (size // 256**L) % 256`` is not zero, one partial tile
``.p/W`` at index ``size // 256**(L + 1)``. Empty tiles do not exist.

Paths: ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``; ``<L>`` is 0..63 and ``<W>``
1..255 in decimal without leading zeroes; ``<N>`` is written in 3-digit groups, all but the last
prefixed with ``x`` (1234067 -> ``x001/x234/067``). Parsing accepts only that canonical form, so
each tile has exactly one path.

An entry bundle is the tile's entries (leaf data) in order, each as a big-endian uint16 length
followed by its bytes.

`read_tiled_tree` fetches every tile and entry bundle of a tree through a caller's ``fetch``
(``path -> bytes``, None when absent), checks each level-0 tile against the hashes of its
entries, each hash of every higher tile against the tile below, and the root rebuilt from the
rightmost tiles against the expected root. Errors are `skyfence.errors.ProofError` naming the
tile.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from skyfence.errors import ProofError
from skyfence.governance.log.hasher import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash, root_hash
from skyfence.governance.log.tree import HashStore, MerkleLog

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "MAX_LEVEL",
    "MAX_ENTRY_BYTES",
    "Tile",
    "encode_index",
    "parse_index",
    "tile_path",
    "parse_tile_path",
    "tiles_of_tree",
    "tile_hashes",
    "tile_bytes",
    "split_tile",
    "encode_bundle",
    "decode_bundle",
    "root_from_tiles",
    "read_tiled_tree",
]

TILE_HEIGHT = 8
"""Levels of the Merkle tree one tile spans."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile (256)."""

MAX_LEVEL = 63
"""Highest tile level a path may name."""

MAX_ENTRY_BYTES = 0xFFFF
"""Longest entry an entry bundle can hold (its length is a uint16)."""

_GROUP = re.compile(r"x?[0-9]{3}")


@dataclass(frozen=True)
class Tile:
    """One tile: `level` (None for an entry bundle), `index` N within the level, `width` W (number
    of hashes or entries, 256 for a full tile)."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        return tile_path(self.level, self.index, self.width)


def encode_index(n: int) -> str:
    """Tile index `n` in the spec's path form: 3-digit groups, all but the last prefixed with
    ``x`` (0 -> ``000``, 1234067 -> ``x001/x234/067``)."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"tile index must be a non-negative integer, got {n!r}")
    out = f"{n % 1000:03d}"
    n //= 1000
    while n:
        out = f"x{n % 1000:03d}/{out}"
        n //= 1000
    return out


def parse_index(text: str) -> int:
    """The tile index written by `encode_index`; `ValueError` for any other form (missing or
    extra ``x``, groups not of 3 digits, a leading ``x000`` group)."""
    groups = text.split("/")
    n = 0
    for j, g in enumerate(groups):
        last = j == len(groups) - 1
        if not _GROUP.fullmatch(g) or g.startswith("x") == last:
            raise ValueError(f"tile index {text!r}: not in the x001/x234/067 form")
        n = n * 1000 + int(g.lstrip("x"))
    if encode_index(n) != text:
        raise ValueError(f"tile index {text!r}: not canonical (leading zero group)")
    return n


def tile_path(level: int | None, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``, or ``tile/entries/<N>[.p/<W>]`` for `level` None."""
    if level is not None and not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"tile level {level} outside 0..{MAX_LEVEL}")
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} outside 1..{TILE_WIDTH}")
    head = "entries" if level is None else str(level)
    tail = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{head}/{encode_index(index)}{tail}"


def parse_tile_path(path: str) -> Tile:
    """The `Tile` of a path ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (a leading
    ``/`` is allowed); `ValueError` for anything that is not the canonical form."""
    parts = path.lstrip("/").split("/", 2)
    if len(parts) != 3 or parts[0] != "tile":
        raise ValueError(f"{path!r}: not a tile path")
    head, rest = parts[1], parts[2]
    if head == "entries":
        level = None
    elif re.fullmatch(r"0|[1-9][0-9]?", head) and int(head) <= MAX_LEVEL:
        level = int(head)
    else:
        raise ValueError(f"{path!r}: level must be 0..{MAX_LEVEL} without leading zeroes")
    width = TILE_WIDTH
    m = re.fullmatch(r"(.*)\.p/([1-9][0-9]{0,2})", rest)
    if m:
        rest, width = m.group(1), int(m.group(2))
        if width >= TILE_WIDTH:
            raise ValueError(f"{path!r}: partial width must be 1..{TILE_WIDTH - 1}")
    return Tile(level, parse_index(rest), width)


def tiles_of_tree(size: int) -> list[Tile]:
    """Every hash tile of the tree of `size` leaves, level by level from 0: the full tiles, then
    the partial one where the level's hash count is not a multiple of 256."""
    if size < 0:
        raise ValueError("size must be >= 0")
    out: list[Tile] = []
    level, count = 0, size
    while count:
        out.extend(Tile(level, n) for n in range(count // TILE_WIDTH))
        if count % TILE_WIDTH:
            out.append(Tile(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
        count //= TILE_WIDTH
    return out


def _count_at(size: int, level: int) -> int:
    return size >> (TILE_HEIGHT * level)


def tile_hashes(source: MerkleLog | HashStore, size: int, level: int, index: int,
                width: int = TILE_WIDTH) -> list[bytes]:
    """The `width` hashes of tile (`level`, `index`) of the tree of `size` leaves, read from a
    `MerkleLog` or its `HashStore` (nodes at height ``8 * level``). `ProofError` if the tile
    lies beyond the tree (its last hash would cover leaves at or past `size`) or a node is
    missing from the store."""
    if not 0 <= level <= MAX_LEVEL or index < 0 or not 1 <= width <= TILE_WIDTH:
        raise ProofError(f"no tile level {level} index {index} width {width}")
    if index * TILE_WIDTH + width > _count_at(size, level):
        raise ProofError(f"tile {tile_path(level, index, width)} lies beyond a tree of size {size}")
    store = source.store if isinstance(source, MerkleLog) else source
    height = TILE_HEIGHT * level
    out = []
    for i in range(index * TILE_WIDTH, index * TILE_WIDTH + width):
        h = store.get(height, i)
        if h is None:
            raise ProofError(f"hash store lacks node ({height}, {i})")
        out.append(bytes(h))
    return out


def tile_bytes(hashes: Sequence[bytes]) -> bytes:
    """A tile's body: its hashes concatenated."""
    return b"".join(hashes)


def split_tile(data: bytes, width: int) -> list[bytes]:
    """The `width` 32-byte hashes of a tile body; `ProofError` if its length is not 32 * width."""
    if len(data) != HASH_SIZE * width:
        raise ProofError(f"tile of width {width} has {len(data)} bytes, "
                         f"expected {HASH_SIZE * width}")
    return [bytes(data[i:i + HASH_SIZE]) for i in range(0, len(data), HASH_SIZE)]


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length and its bytes. `ValueError` for
    an entry longer than `MAX_ENTRY_BYTES`."""
    out = bytearray()
    for i, e in enumerate(entries):
        if len(e) > MAX_ENTRY_BYTES:
            raise ValueError(f"entry {i} of the bundle is {len(e)} bytes; a bundle holds "
                             f"entries of at most {MAX_ENTRY_BYTES} bytes")
        out += struct.pack(">H", len(e))
        out += e
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle; `ProofError` if a length runs past the end."""
    out, pos, n = [], 0, len(data)
    while pos < n:
        if pos + 2 > n:
            raise ProofError(f"entry bundle: truncated length at byte {pos}")
        (length,) = struct.unpack_from(">H", data, pos)
        pos += 2
        if pos + length > n:
            raise ProofError(f"entry bundle: entry {len(out)} runs past the end")
        out.append(bytes(data[pos:pos + length]))
        pos += length
    return out


def _perfect_parts(hashes: Sequence[bytes]) -> list[bytes]:
    """The hashes of the perfect subtrees that the binary digits of len(hashes) split a run of
    equal-size subtree hashes into, left to right."""
    parts, pos, w = [], 0, len(hashes)
    for bit in range(w.bit_length() - 1, -1, -1):
        if w >> bit & 1:
            parts.append(root_hash(hashes[pos:pos + (1 << bit)]))
            pos += 1 << bit
    return parts


def root_from_tiles(size: int, rightmost: Callable[[int], Sequence[bytes]]) -> bytes:
    """Root of the tree of `size` leaves from the hashes of its partial tile at each level
    (``rightmost(level)``: the ``(size // 256**level) % 256`` hashes of that tile; called only for
    levels where that is not zero). RFC 9162: the root folds, right to left, the perfect
    subtrees given by the binary digits of `size`."""
    if size == 0:
        return EMPTY_ROOT
    parts: list[bytes] = []
    top = (size.bit_length() - 1) // TILE_HEIGHT
    for level in range(top, -1, -1):
        if _count_at(size, level) % TILE_WIDTH:
            parts.extend(_perfect_parts(rightmost(level)))
    h = parts[-1]
    for left in reversed(parts[:-1]):
        h = node_hash(left, h)
    return h


def _fetch_tile(fetch: Callable[[str], bytes | None], tile: Tile) -> bytes:
    """A tile's body; a partial tile that is gone is cut from the full tile (as the spec lets a
    client do)."""
    data = fetch(tile.path)
    if data is None and not tile.full:
        full = fetch(tile_path(tile.level, tile.index))
        if full is not None:
            data = (full[:HASH_SIZE * tile.width] if tile.level is not None
                    else encode_bundle(decode_bundle(full)[:tile.width]))
    if data is None:
        raise ProofError(f"{tile.path}: not served")
    return data


def read_tiled_tree(size: int, root: bytes, fetch: Callable[[str], bytes | None]) -> list[bytes]:
    """Read the tree of `size` leaves with root hash `root` from its tiles and return its entries
    (leaf data, in order).

    Checks: every entry bundle holds its width of entries; every level-0 tile equals the leaf
    hashes of its entries; every hash of a tile at level L >= 1 equals the hash of the full tile
    it stands for at level L - 1; the root rebuilt from the rightmost tiles equals `root`.
    `ProofError` naming the first tile that fails."""
    entries: list[bytes] = []
    full: dict[int, dict[int, list[bytes]]] = {}  # level -> tile index -> hashes
    rightmost: dict[int, list[bytes]] = {}
    for tile in tiles_of_tree(size):
        level = tile.level
        assert level is not None
        full.pop(level - 2, None)  # only the level below is still needed
        hashes = split_tile(_fetch_tile(fetch, tile), tile.width)
        if level == 0:
            bundle = Tile(None, tile.index, tile.width)
            got = decode_bundle(_fetch_tile(fetch, bundle))
            if len(got) != tile.width:
                raise ProofError(f"{bundle.path}: {len(got)} entries, expected {tile.width}")
            for i, (data, h) in enumerate(zip(got, hashes, strict=True)):
                if leaf_hash(data) != h:
                    raise ProofError(f"{tile.path}: hash {i} is not the leaf hash of entry "
                                     f"{tile.index * TILE_WIDTH + i}")
            entries.extend(got)
        else:
            lower = full.get(level - 1, {})
            for i, h in enumerate(hashes):
                child = lower.get(tile.index * TILE_WIDTH + i)
                if child is None or root_hash(child) != h:
                    raise ProofError(f"{tile.path}: hash {i} is not the hash of tile "
                                     f"{tile_path(level - 1, tile.index * TILE_WIDTH + i)}")
        if tile.full:
            full.setdefault(level, {})[tile.index] = hashes
        else:
            rightmost[level] = hashes
    if len(entries) != size:
        raise ProofError(f"tiles hold {len(entries)} entries, expected {size}")
    got_root = root_from_tiles(size, lambda level: rightmost[level])
    if got_root != bytes(root):
        raise ProofError(f"root rebuilt from the tiles of size {size} does not match")
    return entries
