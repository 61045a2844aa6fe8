"""Shortest-path trees from a few source nodes, compiled with numba, kept from one time step to
the next.

:class:`ShortestPathTrees` (what routing uses) keeps every source's whole tree: Dijkstra with
Dial's bucket queue to every node at its first step (a relaxation replaces a tentative distance
only when strictly shorter, as scipy's does, so distances and predecessors are scipy's but for
paths of exactly equal length), then, as the graph changes a little per step, label correcting
from the previous trees; same distances as Dijkstra (see the class). On the 10,281-satellite
Starlink snapshot with its inferred +Grid, Dijkstra from 99 sources (the 4,950 pairs of the
top-100 cities) took ~75 ms of CPU against scipy's ~175 ms. Kept trees' updates from one 1 s
step to the next take about 0.7x the CPU of Dijkstra from the same 99 sources to every node
(measured under load; benchmarks/scale.py gives the whole routing's time both ways).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra as scipy_dijkstra

__all__ = ["LANES", "NO_PREDECESSOR", "ShortestPathTrees"]

NO_PREDECESSOR = -9999
#: above this ratio of the longest to the shortest edge, scipy's heap is used instead of buckets
MAX_BUCKETS = 1e7


# --- shortest-path trees of every source, kept from step to step -------------------------------


@njit(cache=True, nogil=True)
def _bucket_size(weights):
    """Dial's bucket width (half the shortest edge) as its inverse, and a power-of-two ring size."""
    w_min = np.inf
    w_max = 0.0
    for w in weights:
        w_min = min(w_min, w)
        w_max = max(w_max, w)
    width = 0.5 * w_min
    size = 1
    while size < int(w_max / width) + 2:
        size *= 2
    return 1.0 / width, size


@njit(cache=True, nogil=True)
def _settle_all(indptr, indices, weights, source, inv_width, mask, dist, pred, settled, head,
                ent_node, ent_next):  # fmt: skip
    """Distances and predecessors from ``source`` to every node: :func:`_search` without targets
    (a power-of-two ring of buckets; a settled node already holds a shorter distance than any
    relaxation offers, so it needs no check)."""
    dist[:] = np.inf
    pred[:] = NO_PREDECESSOR
    settled[:] = False
    head[:] = -1
    dist[source] = 0.0
    ent_node[0] = source
    ent_next[0] = -1
    head[0] = 0
    n_ent = 1
    pending = 1
    cur = 0
    while pending > 0:
        b = cur & mask
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
        d = dist[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            nd = d + weights[e]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = u
                nb = int(nd * inv_width) & mask
                ent_node[n_ent] = v
                ent_next[n_ent] = head[nb]
                head[nb] = n_ent
                n_ent += 1
                pending += 1


@njit(cache=True, nogil=True)
def _fold_tree(indptr, indices, weights, source, dist, pred, done, stack):
    """Each node's distance along its previous tree path with this step's weights (a real path's
    length, so an upper bound); infinite, with no predecessor, where a tree edge is gone."""
    n = len(dist)
    done[:] = False
    dist[source] = 0.0
    done[source] = True
    for v0 in range(n):
        top = 0
        v = v0
        while not done[v]:  # climb to a node already done
            p = pred[v]
            if p < 0:
                dist[v] = np.inf
                done[v] = True
                break
            stack[top] = v
            top += 1
            v = p
        while top > 0:  # and sum back down
            top -= 1
            v = stack[top]
            p = pred[v]
            dp = dist[p]
            nd = np.inf
            if dp < np.inf:
                for e in range(indptr[p], indptr[p + 1]):
                    if indices[e] == v:
                        nd = dp + weights[e]
                        break
            dist[v] = nd
            if nd == np.inf:
                pred[v] = NO_PREDECESSOR
            done[v] = True


#: sources handled together: their distances to a node share one 64-byte cache line, and each
#: edge is tested for all of them at once
LANES = 8


@njit(cache=True, nogil=True)
def _push(queue, q_head, q_len, b, v):
    n = queue.shape[0]
    t = q_head[b] + q_len[b]
    queue[t - n if t >= n else t, b] = v
    q_len[b] += 1


@njit(cache=True, nogil=True)
def _correct(indptr, indices, weights, dist, pred, queue, in_queue):
    """Label correcting from upper bounds, :data:`LANES` sources at once (``dist``/``pred``
    ``[n, LANES]``): every edge relaxed once (nodes in number order), then each source's nodes
    whose distance dropped, first in first out, until no edge shortens any distance. The
    distances are then the minimum over all paths, as Dijkstra's."""
    n = dist.shape[0]
    q_head = np.zeros(LANES, dtype=np.int64)
    q_len = np.zeros(LANES, dtype=np.int64)
    for u in range(n):
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            w = weights[e]
            hit = False
            for b in range(LANES):
                hit |= dist[u, b] + w < dist[v, b]
            if hit:  # rare: this step's trees mostly keep the previous ones' distances
                for b in range(LANES):
                    nd = dist[u, b] + w
                    if nd < dist[v, b]:
                        dist[v, b] = nd
                        pred[v, b] = u
                        if not in_queue[v, b]:
                            in_queue[v, b] = True
                            _push(queue, q_head, q_len, b, v)
    for b in range(LANES):
        while q_len[b] > 0:
            x = queue[q_head[b], b]
            q_head[b] = q_head[b] + 1 if q_head[b] + 1 < n else 0
            q_len[b] -= 1
            in_queue[x, b] = False
            dx = dist[x, b]
            for e in range(indptr[x], indptr[x + 1]):
                v = indices[e]
                nd = dx + weights[e]
                if nd < dist[v, b]:
                    dist[v, b] = nd
                    pred[v, b] = x
                    if not in_queue[v, b]:
                        in_queue[v, b] = True
                        _push(queue, q_head, q_len, b, v)


@njit(cache=True, nogil=True)
def _update_trees(indptr, indices, weights, sources, warm, dist, pred):
    n = len(indptr) - 1
    inv_width, size = _bucket_size(weights)
    head = np.empty(size, dtype=np.int64)
    ent_node = np.empty(len(indices) + 1, dtype=np.int32)
    ent_next = np.empty(len(indices) + 1, dtype=np.int64)
    flags = np.zeros(n, dtype=np.bool_)
    stack = np.empty(n, dtype=np.int32)
    one_dist = np.empty(n)
    one_pred = np.empty(n, dtype=np.int32)
    queue = np.empty((n, LANES), dtype=np.int32)
    in_queue = np.zeros((n, LANES), dtype=np.bool_)
    for blk in range(dist.shape[0]):
        d = dist[blk]
        p = pred[blk]
        for b in range(LANES):
            src = sources[blk * LANES + b]
            if warm:
                _fold_tree(indptr, indices, weights, src, d[:, b], p[:, b], flags, stack)
            else:
                _settle_all(indptr, indices, weights, src, inv_width, size - 1, one_dist, one_pred,
                            flags, head, ent_node, ent_next)  # fmt: skip
                d[:, b] = one_dist
                p[:, b] = one_pred
        if warm:
            _correct(indptr, indices, weights, d, p, queue, in_queue)


class ShortestPathTrees:
    """The shortest-path trees of ``sources`` over a graph of ``n_nodes`` nodes whose edges change
    from step to step (a time-varying network): :meth:`update` with each step's CSR arrays.

    The first update (and the first after :meth:`reset`) runs Dial's bucket Dijkstra from every
    source to every node; later ones start from the previous step's trees (:func:`_fold_tree`,
    :func:`_correct`, :data:`LANES` sources at a time), much less work when the graph changes a
    little, and the same distances: both give the minimum, over all paths, of the edge lengths
    summed from the source in path order. Predecessors are set on strictly shorter paths only,
    so between paths of exactly equal length the one kept can depend on the steps since the last
    reset (reset at fixed steps for answers that do not depend on where a run starts). Weights
    must be positive (otherwise scipy's Dijkstra runs every step).

    ``blocks_dist`` ``[n_blocks, n_nodes, LANES]`` (inf: unreachable) and ``blocks_pred``
    (:data:`NO_PREDECESSOR` at the source and unreachable nodes) hold the last update's trees,
    source ``k`` in block ``k // LANES``, lane ``k % LANES``; :attr:`dist` and :attr:`pred` are
    ``[n_sources, n_nodes]`` copies.
    """

    def __init__(self, n_nodes: int, sources: np.ndarray) -> None:
        self.sources = np.asarray(sources, dtype=np.int64)
        n_blocks = -(-len(self.sources) // LANES)
        pad = n_blocks * LANES - len(self.sources)  # the last source again, to fill the block
        self._padded = np.concatenate([self.sources, np.repeat(self.sources[-1:], pad)])
        self.blocks_dist = np.full((n_blocks, n_nodes, LANES), np.inf)
        self.blocks_pred = np.full((n_blocks, n_nodes, LANES), NO_PREDECESSOR, dtype=np.int32)
        self.warm = False

    @property
    def dist(self) -> np.ndarray:
        return self.blocks_dist.transpose(0, 2, 1).reshape(-1, self.blocks_dist.shape[1])[: len(self.sources)]

    @property
    def pred(self) -> np.ndarray:
        return self.blocks_pred.transpose(0, 2, 1).reshape(-1, self.blocks_pred.shape[1])[: len(self.sources)]

    def reset(self) -> None:
        """Forget the trees: the next update searches from scratch."""
        self.warm = False

    def update(self, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray) -> None:
        """The trees over this step's graph (CSR arrays; a row's edges in any order)."""
        if len(self.sources) == 0:
            return
        weights = np.asarray(weights, dtype=np.float64)
        if len(weights) == 0 or not weights.min() > 0.0 or weights.max() / weights.min() > MAX_BUCKETS:
            # zero or very uneven lengths: scipy's heap, every step
            csr = csr_matrix((weights, indices, indptr), shape=(len(indptr) - 1,) * 2)
            dist, pred = scipy_dijkstra(csr, directed=True, indices=self._padded, return_predecessors=True)
            shape = self.blocks_dist.shape
            self.blocks_dist[:] = dist.reshape(shape[0], LANES, shape[1]).transpose(0, 2, 1)
            self.blocks_pred[:] = pred.reshape(shape[0], LANES, shape[1]).transpose(0, 2, 1)
            self.warm = False
            return
        _update_trees(np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int32),
                      weights, self._padded, self.warm, self.blocks_dist, self.blocks_pred)  # fmt: skip
        self.warm = True
