"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and an append-only log.

Hashing (RFC 9162 section 2.1.1, identical to RFC 6962)
--------------------------------------------------------
* leaf hash  = SHA-256(0x00 || leaf data)
* node hash  = SHA-256(0x01 || left child hash || right child hash)
* empty tree = SHA-256(b"")  (the root of a tree of size 0)
* For n > 1 leaves, k = the largest power of two < n; MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n])).

Proofs
------
* Inclusion proof of leaf ``index`` in the tree of ``tree_size`` leaves: RFC 9162 section 2.1.3.1
  (``PATH``), verified by the algorithm of section 2.1.3.2 (`verify_inclusion`).
* Consistency proof between tree sizes ``size1 <= size2``: section 2.1.4.1 (``PROOF`` /
  ``SUBPROOF``), verified by the algorithm of section 2.1.4.2 (`verify_consistency`).

Convention for ``size1 == 0``: RFC 9162 defines consistency proofs only for
``0 < size1 <= size2`` (every tree is trivially an extension of the empty tree, so such a proof
proves nothing). This module REJECTS them: `consistency_proof` raises `ProofError` for
``size1 == 0`` and `verify_consistency` fails for ``size1 == 0`` whatever the proof and roots
(also for ``size1 == size2 == 0``), which is what the transparency-dev test vectors expect.
For ``size1 == size2 > 0`` the proof is empty and verification only checks ``root1 == root2``.

Verification functions return ``None`` on success and raise `ProofError` (a
`skyfence.errors.GovernanceError`) saying why otherwise; `inclusion_ok` / `consistency_ok` are the
boolean forms.

Storage: `MerkleLog`
--------------------
`MerkleLog` keeps the hash of every *perfect* (complete) subtree of the log: node
``(level, index)`` is the root of the subtree over leaves ``[index * 2**level,
(index + 1) * 2**level)``; level 0 holds the leaf hashes. Appending a leaf writes its leaf hash
and then one node per completed subtree (amortised 2 writes per append). Every root, inclusion
proof and consistency proof for any size <= the log's size is then assembled from O(log n)
stored nodes (an RFC subtree hash over a non-perfect range is folded from at most log2(n)
aligned perfect subtrees). The node storage is pluggable (`HashStore`: ``get(level, index)``
and ``put(level, index, hash)``) so that a database table can hold it; `MemoryHashStore` is the
in-memory default.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from skyfence.errors import GovernanceError

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "ProofError",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "inclusion_proof",
    "consistency_proof",
    "verify_inclusion",
    "verify_consistency",
    "root_from_inclusion_proof",
    "inclusion_ok",
    "consistency_ok",
    "HashStore",
    "MemoryHashStore",
    "MerkleLog",
]

HASH_SIZE = 32
"""Bytes in a SHA-256 hash."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the empty tree (size 0): SHA-256 of the empty string."""


class ProofError(GovernanceError):
    """A Merkle proof does not verify, or a proof was requested for impossible sizes/indices."""


# --------------------------------------------------------------------------- hashing


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data) (32 bytes)."""
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right) (32 bytes)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Merkle tree hash (MTH) of a list of leaf hashes; `EMPTY_ROOT` for an empty list. O(n)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    # Fold perfect subtrees bottom-up (stack of (height, hash)), then fold the stack right-to-left:
    # this gives exactly the RFC's left-balanced tree.
    stack: list[tuple[int, bytes]] = []
    for h in leaf_hashes:
        level = 0
        while stack and stack[-1][0] == level:
            _, left = stack.pop()
            h = node_hash(left, h)
            level += 1
        stack.append((level, h))
    h = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        h = node_hash(left, h)
    return h


# --------------------------------------------------------------------------- storage


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
            k = _split(end - start)
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
            k = _split(n)
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


# --------------------------------------------------------------------------- verification


def _check_hash(name: str, h: bytes) -> None:
    if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
        raise ProofError(f"{name} is not a {HASH_SIZE}-byte hash")


def root_from_inclusion_proof(leaf_hash: bytes, index: int, tree_size: int,
                              proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof (RFC 9162 2.1.3.2 steps 1-4 and the sn == 0 check
    of step 5). `ProofError` if the proof has the wrong length or the index is out of range."""
    if not 0 <= index < tree_size:
        raise ProofError(f"leaf index {index} outside a tree of size {tree_size}")
    _check_hash("leaf hash", leaf_hash)
    fn, sn = index, tree_size - 1
    r = bytes(leaf_hash)
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)
        if sn == 0:
            raise ProofError(f"inclusion proof too long ({len(proof)} hashes)")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof too short ({len(proof)} hashes)")
    return r


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int,
                     proof: Sequence[bytes], root: bytes) -> None:
    """Verify an RFC 9162 inclusion proof (section 2.1.3.2). Returns None; `ProofError` on
    failure. `leaf_hash` is the leaf *hash* (32 bytes, not the data), `root` the root hash."""
    _check_hash("root", root)
    r = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)
    if r != root:
        raise ProofError(f"inclusion proof of leaf {index} in tree size {tree_size}: "
                         "computed root does not match")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                       root2: bytes) -> None:
    """Verify an RFC 9162 consistency proof (section 2.1.4.2). Returns None; `ProofError` on
    failure.

    Before the RFC algorithm: size1 > size2 fails; size1 == 0 fails (our convention, see the
    module docstring); size1 == size2 requires an empty proof and root1 == root2."""
    if size1 < 0 or size2 < 0:
        raise ProofError("negative tree size")
    if size1 > size2:
        raise ProofError(f"size1 ({size1}) > size2 ({size2})")
    if size1 == 0:
        raise ProofError("consistency proofs from the empty tree (size1 = 0) are not defined "
                         "(RFC 9162 needs 0 < size1 <= size2)")
    if size1 == size2:
        if proof:
            raise ProofError("size1 == size2 but the proof is not empty")
        if bytes(root1) != bytes(root2):
            raise ProofError(f"roots differ for the same tree size {size1}")
        return
    _check_hash("root1", root1)
    _check_hash("root2", root2)
    # 1. empty path fails.
    if not proof:
        raise ProofError("empty consistency proof")
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)
    path = list(proof)
    # 2. size1 an exact power of two: prepend root1.
    if size1 & (size1 - 1) == 0:
        path.insert(0, bytes(root1))
    # 3.
    fn, sn = size1 - 1, size2 - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof too long ({len(proof)} hashes)")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    if sn != 0:
        raise ProofError(f"consistency proof too short ({len(proof)} hashes)")
    if fr != root1:
        raise ProofError(f"consistency proof {size1} -> {size2}: old root does not match")
    if sr != root2:
        raise ProofError(f"consistency proof {size1} -> {size2}: new root does not match")


def inclusion_ok(leaf_hash: bytes, index: int, tree_size: int,
                 proof: Sequence[bytes], root: bytes) -> bool:
    """`verify_inclusion` as a boolean."""
    try:
        verify_inclusion(leaf_hash, index, tree_size, proof, root)
    except ProofError:
        return False
    return True


def consistency_ok(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                   root2: bytes) -> bool:
    """`verify_consistency` as a boolean."""
    try:
        verify_consistency(size1, size2, proof, root1, root2)
    except ProofError:
        return False
    return True
