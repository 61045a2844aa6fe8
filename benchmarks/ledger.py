"""Transparency-log benchmark: appends per second, proof generation time and length at
10^3, 10^5 and 10^6 entries (`skyfence.governance.log.tree.MerkleLog`, in-memory hash store),
with an in-process O(n) reference: the naive recursive RFC 9162 PATH / SUBPROOF over the leaf
list (at 10^3 and 10^5 only; it is what a log without stored subtree hashes has to do).

Usage: .venv/bin/python benchmarks/ledger.py [--max-size 1000000] [--proofs 2000]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time

from skyfence.governance.log.hasher import leaf_hash, node_hash
from skyfence.governance.log.proof import verify_consistency, verify_inclusion
from skyfence.governance.log.tree import MerkleLog

# --------------------------------------------------------------------------- naive reference


def _mth(leaves: list[bytes], lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[lo]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def naive_inclusion(leaves: list[bytes], m: int, lo: int, hi: int) -> list[bytes]:
    """RFC 9162 PATH(m, D[lo:hi]) recomputing every subtree hash: O(n)."""
    n = hi - lo
    if n <= 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return naive_inclusion(leaves, m, lo, lo + k) + [_mth(leaves, lo + k, hi)]
    return naive_inclusion(leaves, m - k, lo + k, hi) + [_mth(leaves, lo, lo + k)]


def naive_consistency(leaves: list[bytes], m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    """RFC 9162 SUBPROOF(m, D[lo:hi], b): O(n)."""
    n = hi - lo
    if m == n:
        return [] if b else [_mth(leaves, lo, hi)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return naive_consistency(leaves, m, lo, lo + k, b) + [_mth(leaves, lo + k, hi)]
    return naive_consistency(leaves, m - k, lo + k, hi, False) + [_mth(leaves, lo, lo + k)]


# --------------------------------------------------------------------------- benchmark


def _per_call_us(fn, args_list) -> float:
    t0 = time.perf_counter()
    for a in args_list:
        fn(*a)
    return (time.perf_counter() - t0) / len(args_list) * 1e6


def bench_size(n: int, n_proofs: int, rng: random.Random, with_naive: bool) -> dict:
    datas = [b'{"index":%d,"kind":"terminal.registered","data":{"id":"T%d"}}' % (i, i)
             for i in range(n)]
    log = MerkleLog()
    t0 = time.perf_counter()
    for d in datas:
        log.append(d)
    append_s = time.perf_counter() - t0
    root = log.root()

    idx = [(rng.randrange(n), n) for _ in range(n_proofs)]
    inc_us = _per_call_us(log.inclusion_proof, idx)
    pairs = [(rng.randrange(1, n), n) for _ in range(n_proofs)] if n > 1 else [(1, 1)]
    con_us = _per_call_us(log.consistency_proof, pairs)
    inc_len = [len(log.inclusion_proof(i, s)) for i, s in idx[:200]]
    con_len = [len(log.consistency_proof(a, b)) for a, b in pairs[:200]]
    # check a sample of them (and time verification)
    sample = idx[:200]
    proofs = [log.inclusion_proof(i, s) for i, s in sample]
    t0 = time.perf_counter()
    for (i, s), p in zip(sample, proofs, strict=True):
        verify_inclusion(log.leaf_hash(i), i, s, p, root)
    ver_us = (time.perf_counter() - t0) / len(sample) * 1e6
    for a, b in pairs[:50]:
        verify_consistency(a, b, log.consistency_proof(a, b), log.root(a), root)

    out = {"n": n, "appends_per_s": n / append_s, "inc_us": inc_us, "con_us": con_us,
           "inc_len": (min(inc_len), max(inc_len)), "con_len": (min(con_len), max(con_len)),
           "verify_inc_us": ver_us}
    if with_naive:
        leaves = [leaf_hash(d) for d in datas]
        k = 20 if n <= 10**3 else 3
        ni = _per_call_us(lambda i, s: naive_inclusion(leaves, i, 0, s), idx[:k])
        nc = _per_call_us(lambda a, b: naive_consistency(leaves, a, 0, b, True), pairs[:k])
        for i, s in idx[:k]:
            assert naive_inclusion(leaves, i, 0, s) == log.inclusion_proof(i, s)
        out.update(naive_inc_us=ni, naive_con_us=nc)
    return out


def bench_service_requests() -> None:
    """HOOK for G2 (governance service): GET /service requests per second against the REST API.

    Not implemented here; G2 fills this in (start the app in-process, fire requests, print
    requests/s)."""
    print("GET /service requests/s: see G2 (bench_service_requests not implemented here)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-size", type=int, default=10**6)
    ap.add_argument("--proofs", type=int, default=2000, help="proofs timed per size")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)
    sizes = [s for s in (10**3, 10**5, 10**6) if s <= a.max_size]
    print(f"python {sys.version.split()[0]}; MerkleLog with in-memory perfect-subtree store; "
          f"{a.proofs} random proofs per size\n")
    hdr = (f"{'entries':>9} {'appends/s':>10} {'incl us':>8} {'len':>7} {'cons us':>8} "
           f"{'len':>7} {'verify us':>9} {'naive incl us':>13} {'speed-up':>8} "
           f"{'naive cons us':>13} {'speed-up':>8}")
    print(hdr)
    print("-" * len(hdr))
    t_all = time.perf_counter()
    rows = []
    for n in sizes:
        r = bench_size(n, a.proofs, rng, with_naive=n <= 10**5)
        rows.append(r)
        naive = ("" if "naive_inc_us" not in r else
                 f"{r['naive_inc_us']:13.0f} {r['naive_inc_us'] / r['inc_us']:7.0f}x "
                 f"{r['naive_con_us']:13.0f} {r['naive_con_us'] / r['con_us']:7.0f}x")
        print(f"{n:9d} {r['appends_per_s']:10.0f} {r['inc_us']:8.1f} "
              f"{'{}-{}'.format(*r['inc_len']):>7} {r['con_us']:8.1f} {'{}-{}'.format(*r['con_len']):>7} "
              f"{r['verify_inc_us']:9.1f} {naive}", flush=True)
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        print(f"\nproof time growth {first['n']:.0e} -> {last['n']:.0e} entries "
              f"(x{last['n'] // first['n']}): inclusion x{last['inc_us'] / first['inc_us']:.2f}, "
              f"consistency x{last['con_us'] / first['con_us']:.2f} "
              f"(log2 ratio {(last['n'].bit_length()) / (first['n'].bit_length()):.2f}; "
              f"O(n) would be x{last['n'] // first['n']})")
    print(f"total {time.perf_counter() - t_all:.1f} s\n")
    bench_service_requests()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
