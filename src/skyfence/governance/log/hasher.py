"""RFC 9162 (RFC 6962) Merkle tree hashing with SHA-256, section 2.1.1.

* leaf hash  = SHA-256(0x00 || leaf data)
* node hash  = SHA-256(0x01 || left child hash || right child hash)
* empty tree = SHA-256(b"")  (the root of a tree of size 0)
* For n > 1 leaves, k = the largest power of two < n; MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n])).

Pure functions of bytes (the ``rfc6962`` hasher of transparency-dev/merkle).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["HASH_SIZE", "EMPTY_ROOT", "leaf_hash", "node_hash", "root_hash", "split_point"]

HASH_SIZE = 32
"""Bytes in a SHA-256 hash."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the empty tree (size 0): SHA-256 of the empty string."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data) (32 bytes)."""
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right) (32 bytes)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
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
