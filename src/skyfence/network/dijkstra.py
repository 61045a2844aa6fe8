"""Dijkstra from a few source nodes to their own target nodes, compiled with numba.

:func:`dijkstra_to_targets` returns the same distances and predecessors as
``scipy.sparse.csgraph.dijkstra(csr, directed=True, indices=sources, return_predecessors=True)``
on every node it settles (a relaxation replaces a tentative distance only when strictly
shorter, as scipy's does, and distances are the same sums in the same order), but it keeps
Dial's bucket queue instead of a heap and stops a source's search once all of that source's
targets are settled. Nodes not settled may hold tentative values: read only the targets and
the predecessor chains back from them. Predecessors can differ from scipy's only between paths
of exactly equal length. On the 10,281-satellite Starlink snapshot with its inferred +Grid,
99 sources (the 4,950 pairs of the top-100 cities) take ~75 ms of CPU against scipy's ~175 ms.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.sparse.csgraph import dijkstra as scipy_dijkstra

__all__ = ["NO_PREDECESSOR", "dijkstra_to_targets"]

NO_PREDECESSOR = -9999
#: above this ratio of the longest to the shortest edge, scipy's heap is used instead of buckets
MAX_BUCKETS = 1e7


@njit(cache=True, nogil=True)
def _search(indptr, indices, weights, source, targets, width, dist, pred, settled, is_target,
            head, ent_node, ent_next):  # fmt: skip
    n_buckets = len(head)
    n_left = 0
    for t in targets:
        if not is_target[t]:
            is_target[t] = True
            n_left += 1
    dist[source] = 0.0
    head[:] = -1
    ent_node[0] = source
    ent_next[0] = -1
    head[0] = 0
    n_ent = 1
    pending = 1  # entries not yet taken out of the buckets
    cur = 0  # absolute bucket number being emptied
    while pending > 0 and n_left > 0:
        b = cur % n_buckets
        k = head[b]
        if k < 0:
            cur += 1
            continue
        head[b] = ent_next[k]
        pending -= 1
        u = ent_node[k]
        if settled[u]:
            continue
        settled[u] = True
        if is_target[u]:
            n_left -= 1
        d = dist[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            if settled[v]:
                continue
            nd = d + weights[e]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = u
                nb = int(nd / width) % n_buckets
                ent_node[n_ent] = v
                ent_next[n_ent] = head[nb]
                head[nb] = n_ent
                n_ent += 1
                pending += 1
    for t in targets:
        is_target[t] = False


@njit(cache=True, nogil=True)
def _all_sources(indptr, indices, weights, sources, target_ptr, target_idx, dist, pred):
    n = len(indptr) - 1
    # Dial's buckets of half the shortest edge: a relaxed node lands at least one bucket after
    # the one being emptied, so every node of that bucket has its final distance and the bucket
    # may be settled in any order
    width = np.inf
    w_max = 0.0
    for w in weights:
        if w < width:
            width = w
        if w > w_max:
            w_max = w
    width *= 0.5
    n_buckets = int(w_max / width) + 2
    head = np.empty(n_buckets, dtype=np.int64)
    ent_node = np.empty(len(indices) + 1, dtype=np.int64)
    ent_next = np.empty(len(indices) + 1, dtype=np.int64)
    is_target = np.zeros(n, dtype=np.bool_)
    for k in range(len(sources)):
        settled = np.zeros(n, dtype=np.bool_)
        _search(indptr, indices, weights, sources[k], target_idx[target_ptr[k] : target_ptr[k + 1]],
                width, dist[k], pred[k], settled, is_target, head, ent_node, ent_next)  # fmt: skip


def dijkstra_to_targets(csr, sources: np.ndarray, targets: list[np.ndarray] | None = None):
    """Distances ``[n_sources, n_nodes]`` and predecessors from each of ``sources`` over ``csr``
    (directed, non-negative weights); ``targets[k]`` are the nodes source ``k`` needs (``None``:
    all nodes)."""
    n = csr.shape[0]
    sources = np.asarray(sources, dtype=np.int64)
    if targets is None:
        targets = [np.arange(n)] * len(sources)
    target_ptr = np.zeros(len(sources) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in targets], out=target_ptr[1:])
    target_idx = (
        np.concatenate([np.asarray(t, dtype=np.int64) for t in targets])
        if len(targets)
        else np.zeros(0, dtype=np.int64)
    )
    dist = np.full((len(sources), n), np.inf)
    pred = np.full((len(sources), n), NO_PREDECESSOR, dtype=np.int32)
    w = csr.data
    if len(sources) == 0:
        return dist, pred
    if len(w) == 0 or w.min() <= 0.0 or w.max() / w.min() > MAX_BUCKETS:
        # zero-length edges or too wide a range of lengths for buckets: scipy's heap
        dist, pred = scipy_dijkstra(csr, directed=True, indices=sources, return_predecessors=True)
        return dist, pred
    _all_sources(
        csr.indptr.astype(np.int64), csr.indices.astype(np.int64), w.astype(np.float64),
        sources, target_ptr, target_idx, dist, pred,
    )  # fmt: skip
    return dist, pred
