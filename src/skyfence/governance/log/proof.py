"""Verification of RFC 9162 Merkle proofs, in the style of transparency-dev/merkle ``proof/verify.go``.

Every function is pure (bytes in, bytes or None out), states its preconditions, and raises
`skyfence.errors.ProofError` saying which one failed or why the proof does not verify:

* `root_from_inclusion_proof` / `verify_inclusion`: RFC 9162 section 2.1.3.2. Preconditions:
  ``0 <= index < tree_size``; the leaf hash, root and every proof element are 32 bytes; the proof
  has exactly the length the tree shape requires.
* `verify_consistency`: RFC 9162 section 2.1.4.2. Preconditions: ``0 < size1 <= size2``; for
  ``size1 == size2`` the proof is empty and only ``root1 == root2`` is checked.

  A proof from the empty tree (``size1 == 0``, also 0 -> 0) is rejected, as transparency-dev/merkle
  ``proof/verify.go`` does at the commit the vectors come from (417fb0c): ``RootFromConsistencyProof``
  answers "consistency proof from empty tree is meaningless" for every ``size1 == 0``, checked
  before ``size1 == size2``. Its CHANGELOG calls this a breaking change: up to v0.0.2,
  ``VerifyConsistency`` accepted an empty proof from size 0 to any size ("Any size greater than 0
  is consistent with size 0"); commit 022f84c (PR #140, 2024-09-18) made 0 -> n fail and commit
  8c666a7 (PR #236) 0 -> 0 and proof generation too. Its vectors require it: the ``size1 = 0``
  probes of ``testdata/consistency`` all have ``wantErr: true``, among them three with an empty
  proof (``additional/size1-is-zero-and-size2-is-not-zero``, ``size1-is-zero-and-does-not-equal-
  size2`` and ``sizes-are-equal-zero-and-proof-is-empty``) that v0.0.2 accepted.
* `verify_append_only`: the protocol step from an older checkpoint to a newer one (C2SP
  tlog-witness ``add-checkpoint``, a verifier holding an older checkpoint). From old size 0 it
  follows tlog-witness: "the empty tree is consistent with any tree, so no proof is necessary":
  the proof must be empty and a size-0 root must be the empty tree's root (SHA-256 of nothing);
  otherwise it is `verify_consistency`.

`inclusion_ok` / `consistency_ok` are the boolean forms.
"""

from __future__ import annotations

from collections.abc import Sequence

from skyfence.errors import ProofError
from skyfence.governance.log.hasher import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = [
    "root_from_inclusion_proof",
    "verify_inclusion",
    "verify_consistency",
    "inclusion_ok",
    "consistency_ok",
    "verify_append_only",
]


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

    Before the RFC algorithm: size1 > size2 fails; size1 == 0 fails (as in transparency-dev/merkle
    ``proof/verify.go``, see the module docstring); size1 == size2 requires an empty proof and
    root1 == root2."""
    if size1 < 0 or size2 < 0:
        raise ProofError("negative tree size")
    if size1 > size2:
        raise ProofError(f"size1 ({size1}) > size2 ({size2})")
    if size1 == 0:
        raise ProofError("consistency proof from the empty tree (size1 = 0) is meaningless "
                         "(RFC 9162 and transparency-dev/merkle need 0 < size1 <= size2)")
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


def verify_append_only(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                       root2: bytes) -> None:
    """Verify that the tree (`size2`, `root2`) extends the tree (`size1`, `root1`), the step a
    C2SP tlog-witness takes from the size it cosigned last. Returns None; `ProofError` on failure.

    From ``size1 == 0`` (tlog-witness: "If the old size is zero, the consistency proof MUST be
    empty, because the empty tree is consistent with any tree"): a non-empty proof fails, both
    roots must be 32-byte hashes, `root1` the empty tree's root, and so must `root2` be when
    ``size2 == 0``. Otherwise
    `verify_consistency` (which refuses ``size1 == 0``, as transparency-dev/merkle does)."""
    if size1 != 0:
        verify_consistency(size1, size2, proof, root1, root2)
        return
    if size2 < 0:
        raise ProofError("negative tree size")
    if proof:
        raise ProofError(f"from the empty tree (size 0) the proof must be empty, got "
                         f"{len(proof)} hash(es)")
    _check_hash("root1", root1)
    _check_hash("root2", root2)
    if bytes(root1) != EMPTY_ROOT:
        raise ProofError("a tree of size 0 must have the empty tree's root (SHA-256 of nothing)")
    if size2 == 0 and bytes(root2) != EMPTY_ROOT:
        raise ProofError("a tree of size 0 must have the empty tree's root (SHA-256 of nothing)")


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
