"""An append-only RFC 9162 Merkle log over a storage adapter, and proof generation.

Storage adapter: `HashStore`
----------------------------
`MerkleLog` keeps the hash of every *perfect* (complete) subtree of the log: node
``(level, index)`` is the root of the subtree over leaves ``[index * 2**level,
(index + 1) * 2**level)``; level 0 holds the leaf hashes. Appending a leaf writes its leaf hash
and then one node per completed subtree (amortised 2 writes per append). Every root, inclusion
proof and consistency proof for any size <= the log's size is then assembled from O(log n)
stored nodes (an RFC subtree hash over a non-perfect range is folded from at most log2(n)
aligned perfect subtrees). The node storage is an adapter (`HashStore`: ``get(level, index)``
and ``put(level, index, hash)``), so a database table can hold it
(`skyfence.governance.ledger.SqlHashStore`); `MemoryHashStore` is the in-memory default.

Proofs are RFC 9162 section 2.1.3.1 (``PATH``) and 2.1.4.1 (``PROOF`` / ``SUBPROOF``); they are
checked by :mod:`skyfence.governance.log.proof`. Consistency proofs need ``0 < size1 <= size2``
(`ProofError` otherwise; see that module).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from skyfence.errors import ProofError
from skyfence.governance.log.hasher import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash, split_point

__all__ = ["HashStore", "MemoryHashStore", "MerkleLog", "entries_root", "inclusion_proof", "consistency_proof"]


@runtime_checkable
class HashStore(Protocol):
    """Storage of perfect-subtree hashes: node (level, index) covers leaves
    [index * 2**level, (index + 1) * 2**level). Level 0 = leaf hashes.

    `MerkleLog` writes each node exactly once (in increasing index order per level) and never
    overwrites; `get` returns None for a node never written."""

    def get(self, level: int, index: int) -> bytes | None: ...

    def put(self, level: int, index: int, value: bytes) -> None: ...


class MemoryHashStore:
    """In-memory `HashStore`: one Python list of 32-byte hashes per level."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = []

    def get(self, level: int, index: int) -> bytes | None:
        if level < len(self.levels):
            row = self.levels[level]
            if 0 <= index < len(row):
                return row[index]
        return None

    def put(self, level: int, index: int, value: bytes) -> None:
        while len(self.levels) <= level:
            self.levels.append([])
        row = self.levels[level]
        if index == len(row):
            row.append(bytes(value))
        elif index < len(row):
            row[index] = bytes(value)
        else:
            raise ValueError(f"MemoryHashStore: node ({level}, {index}) written out of order "
                             f"(level has {len(row)} nodes)")


class MerkleLog:
    """Append-only RFC 9162 Merkle log over a `HashStore` of perfect-subtree hashes.

    ``MerkleLog()`` starts empty in memory. ``MerkleLog(store, size)`` reopens a log whose nodes
    for its first `size` leaves are already in `store` (e.g. a SQL table) -- nothing is read until
    needed. Appends cost O(1) amortised store writes; `root`, `inclusion_proof` and
    `consistency_proof` cost O(log n) store reads for any tree size up to `size`."""

    def __init__(self, store: HashStore | None = None, size: int = 0) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        self.store: HashStore = MemoryHashStore() if store is None else store
        self._size = int(size)

    # ---------------------------------------------------------------- writes

    def append(self, data: bytes) -> int:
        """Append one leaf (its data, hashed with `leaf_hash`); returns its index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, h: bytes) -> int:
        """Append one leaf given its leaf hash (32 bytes); returns its index."""
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(h)}")
        n = self._size
        store = self.store
        store.put(0, n, h)
        level, idx = 0, n
        while idx & 1:
            left = store.get(level, idx - 1)
            if left is None:
                raise ProofError(f"hash store lacks node ({level}, {idx - 1})")
            h = node_hash(left, h)
            level += 1
            idx >>= 1
            store.put(level, idx, h)
        self._size = n + 1
        return n

    def extend(self, datas) -> None:
        """Append every leaf data in an iterable."""
        for d in datas:
            self.append(d)

    # ---------------------------------------------------------------- reads

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def leaf_hash(self, index: int) -> bytes:
        """Stored leaf hash of leaf `index`."""
        if not 0 <= index < self._size:
            raise IndexError(f"leaf {index} outside a log of size {self._size}")
        return self._node(0, index)

    def _node(self, level: int, index: int) -> bytes:
        h = self.store.get(level, index)
        if h is None:
            raise ProofError(f"hash store lacks node ({level}, {index})")
        return h

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end) where the range is a right part of an RFC split (start is a
        multiple of the largest power of two <= end - start, as every RFC subtree is): folded
        from the aligned perfect subtrees given by the binary digits of end - start."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        parts: list[bytes] = []
        pos = start
        for level in range(n.bit_length() - 1, -1, -1):
            if n >> level & 1:
                parts.append(self._node(level, pos >> level))
                pos += 1 << level
        h = parts[-1]
        for left in reversed(parts[:-1]):
            h = node_hash(left, h)
        return h

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise ProofError(f"tree size {size} outside 0..{self._size}")
        return int(size)

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the tree of the first `size` leaves (default: all)."""
        return self._range_hash(0, self._check_size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 2.1.3.1 inclusion proof of leaf `index` in the tree of `size` leaves
        (default: all), leaf-to-root order. O(log n)."""
        size = self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf index {index} outside a tree of size {size}")
        proof: list[bytes] = []
        start, end, m = 0, size, index
        while end - start > 1:
            k = split_point(end - start)
            if m < k:
                proof.append(self._range_hash(start + k, end))
                end = start + k
            else:
                proof.append(self._node((k.bit_length() - 1), start // k))
                start += k
                m -= k
        proof.reverse()
        return proof

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """RFC 9162 2.1.4.1 consistency proof from the tree of `size1` leaves to the tree of
        `size2` leaves (default: all). Empty for size1 == size2; `ProofError` for size1 == 0 (see
        the module docstring) or size1 > size2. O(log n)."""
        size2 = self._check_size(size2)
        if not 0 < size1 <= size2:
            raise ProofError(f"no consistency proof from size {size1} to size {size2} "
                             "(needs 0 < size1 <= size2)")
        proof: list[bytes] = []
        start, end, m, complete = 0, size2, size1, True
        while True:
            n = end - start
            if m == n:
                if not complete:
                    proof.append(self._range_hash(start, end))
                break
            k = split_point(n)
            if m <= k:
                proof.append(self._range_hash(start + k, end))
                end = start + k
            else:
                proof.append(self._node(k.bit_length() - 1, start // k))
                start += k
                m -= k
                complete = False
        proof.reverse()
        return proof


# --------------------------------------------------------------------------- proof generation


def _as_log(leaves: Sequence[bytes] | MerkleLog) -> MerkleLog:
    if isinstance(leaves, MerkleLog):
        return leaves
    log = MerkleLog()
    for h in leaves:
        log.append_leaf_hash(h)
    return log


def entries_root(entries: Sequence[bytes], size: int) -> bytes:
    """RFC 9162 root hash of the tree of the first `size` of `entries` (entry bytes, not leaf
    hashes); `size` must not exceed ``len(entries)``."""
    log = MerkleLog()
    log.extend(entries[:size])
    return log.root(size)


def inclusion_proof(leaves: Sequence[bytes] | MerkleLog, index: int,
                    tree_size: int | None = None) -> list[bytes]:
    """Inclusion proof of leaf `index` in the tree of `tree_size` leaves (default: all).

    `leaves` is a sequence of leaf hashes (then O(n) to build the tree) or a `MerkleLog`
    (O(log n))."""
    return _as_log(leaves).inclusion_proof(index, tree_size)


def consistency_proof(leaves: Sequence[bytes] | MerkleLog, size1: int,
                      size2: int | None = None) -> list[bytes]:
    """Consistency proof from `size1` to `size2` (default: all) leaves; see
    `MerkleLog.consistency_proof`. `leaves`: leaf hashes or a `MerkleLog`."""
    return _as_log(leaves).consistency_proof(size1, size2)
