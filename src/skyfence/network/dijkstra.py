"""Shortest-path trees from a few source nodes, compiled with numba, kept from one time step to
the next.

:class:`ShortestPathTrees` (what routing uses) keeps every source's whole tree: Dijkstra with
Dial's bucket queue to every node at its first step (a relaxation replaces a tentative distance
only when strictly shorter, as scipy's does, so distances and predecessors are scipy's but for
paths of exactly equal length), then, as the graph changes a little per step, each tree is
re-summed with the new lengths along its child lists and corrected by label correcting; same
distances as Dijkstra (see the class). Each tree is one contiguous row (lane-major): a tree's
walk touches ~0.4 MB for the 10,281-satellite snapshot, which stays in a core's L2 cache, where
the earlier interleaved layout (8 trees per node) did not.

Measured on the Starlink snapshot's inferred +Grid, 99 sources (the 4,950 pairs of the top-100
cities), 1 s steps, 2026-11-27 on this project's 2-core machine: Dijkstra from every source
~84 ms of CPU (scipy's ~175 ms); a kept-tree update ~34 ms (walk ~21, correction ~9, the rest
keyed lengths and bookkeeping) against ~54 ms for the previous version (each node's tree path
re-climbed and its edge searched in its tail's row). ``benchmarks/scale.py`` gives the whole
routing's time, best of three rounds.
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


#: sources whose trees are corrected together: each edge is tested for all of them at once
LANES = 8
#: ``links[k, v]`` fields: first child of ``v`` in tree ``k``, ``v``'s next sibling, the key of the
#: tree edge into ``v`` (-1: none, the edge is looked up in its tail's row)
_CHILD, _SIBLING, _KEY = 0, 1, 2


@njit(cache=True, nogil=True)
def _find_edge(indptr, indices, u, v):
    """Index of the first edge ``u -> v`` in CSR order, -1 if there is none."""
    for e in range(indptr[u], indptr[u + 1]):
        if indices[e] == v:
            return e
    return -1


@njit(cache=True, nogil=True)
def _link_tree(indptr, indices, edge_key, pred, links):
    """Child lists and tree-edge keys of one tree from its predecessors."""
    links[:] = -1
    for v in range(len(pred)):
        p = pred[v]
        if p >= 0:
            links[v, _KEY] = edge_key[_find_edge(indptr, indices, p, v)]
            links[v, _SIBLING] = links[p, _CHILD]
            links[p, _CHILD] = v


@njit(cache=True, nogil=True)
def _drop_subtree(root, dist, pred, links, stack):
    """Unreachable now: ``root`` and everything below it in the tree (its edge in is gone)."""
    stack[0] = root
    top = 1
    while top > 0:
        top -= 1
        x = stack[top]
        c = links[x, _CHILD]
        while c >= 0:
            stack[top] = c
            top += 1
            c = links[c, _SIBLING]
        dist[x] = np.inf
        pred[x] = NO_PREDECESSOR
        links[x, _CHILD] = -1
        links[x, _SIBLING] = -1
        links[x, _KEY] = -1


@njit(cache=True, nogil=True)
def _fold_tree(indptr, indices, weights, key_weights, source, dist, pred, links, stack, stack2):
    """Each node's distance along its previous tree path with this step's weights (a real path's
    length, so an upper bound), walking the tree depth first from ``source`` (parents before
    children, so one pass); a node whose tree edge is gone is cut off with its subtree
    (infinite, no predecessor). A keyed tree edge's weight is ``key_weights[key]``, an unkeyed
    one's is looked up in its tail's row."""
    dist[source] = 0.0
    stack[0] = source
    top = 1
    while top > 0:
        top -= 1
        u = stack[top]
        du = dist[u]
        prev = -1
        c = links[u, _CHILD]
        while c >= 0:
            nxt = links[c, _SIBLING]
            k = links[c, _KEY]
            if k >= 0:
                w = key_weights[k]
            else:
                e = _find_edge(indptr, indices, u, c)
                w = weights[e] if e >= 0 else np.inf
            if w < np.inf:
                dist[c] = du + w
                stack[top] = c
                top += 1
                prev = c
            else:
                if prev < 0:
                    links[u, _CHILD] = nxt
                else:
                    links[prev, _SIBLING] = nxt
                _drop_subtree(c, dist, pred, links, stack2)
            c = nxt


@njit(cache=True, nogil=True)
def _reparent(v, u, key, pred, links):
    """Tree edge ``u -> v`` (key ``key``) replaces ``v``'s previous one."""
    p = pred[v]
    if p >= 0:
        prev = -1
        c = links[p, _CHILD]
        while c != v:
            prev = c
            c = links[c, _SIBLING]
        if prev < 0:
            links[p, _CHILD] = links[v, _SIBLING]
        else:
            links[prev, _SIBLING] = links[v, _SIBLING]
    pred[v] = u
    links[v, _SIBLING] = links[u, _CHILD]
    links[u, _CHILD] = v
    links[v, _KEY] = key


@njit(cache=True, nogil=True)
def _push(queue, q_head, q_len, b, v):
    n = queue.shape[1]
    t = q_head[b] + q_len[b]
    queue[b, t - n if t >= n else t] = v
    q_len[b] += 1


@njit(cache=True, nogil=True)
def _correct(indptr, indices, weights, edge_key, dist, pred, links, queue, in_queue):
    """Label correcting from upper bounds, :data:`LANES` trees at once (``dist``/``pred``
    ``[LANES, n]``): every edge relaxed once (tails in number order), then each tree's nodes whose
    distance dropped, first in first out, until no edge shortens any distance. The distances are
    then the minimum over all paths, as Dijkstra's."""
    n = dist.shape[1]
    q_head = np.zeros(LANES, dtype=np.int64)
    q_len = np.zeros(LANES, dtype=np.int64)
    for u in range(n):
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            w = weights[e]
            hit = False
            for b in range(LANES):
                hit |= dist[b, u] + w < dist[b, v]
            if hit:  # rare: this step's trees mostly keep the previous ones' distances
                for b in range(LANES):
                    nd = dist[b, u] + w
                    if nd < dist[b, v]:
                        dist[b, v] = nd
                        _reparent(v, u, edge_key[e], pred[b], links[b])
                        if not in_queue[b, v]:
                            in_queue[b, v] = True
                            _push(queue, q_head, q_len, b, v)
    for b in range(LANES):
        while q_len[b] > 0:
            x = queue[b, q_head[b]]
            q_head[b] = q_head[b] + 1 if q_head[b] + 1 < n else 0
            q_len[b] -= 1
            in_queue[b, x] = False
            dx = dist[b, x]
            for e in range(indptr[x], indptr[x + 1]):
                v = indices[e]
                nd = dx + weights[e]
                if nd < dist[b, v]:
                    dist[b, v] = nd
                    _reparent(v, x, edge_key[e], pred[b], links[b])
                    if not in_queue[b, v]:
                        in_queue[b, v] = True
                        _push(queue, q_head, q_len, b, v)


@njit(cache=True, nogil=True)
def _update_trees(indptr, indices, weights, edge_key, key_weights, sources, warm, dist, pred, links):
    n = len(indptr) - 1
    key_weights[:] = np.inf
    for e in range(len(edge_key)):
        if edge_key[e] >= 0:
            key_weights[edge_key[e]] = weights[e]
    stack = np.empty(n, dtype=np.int32)
    stack2 = np.empty(n, dtype=np.int32)
    if warm:
        queue = np.empty((LANES, n), dtype=np.int32)
        in_queue = np.zeros((LANES, n), dtype=np.bool_)
        for lo in range(0, len(sources), LANES):
            for k in range(lo, lo + LANES):
                _fold_tree(indptr, indices, weights, key_weights, sources[k], dist[k], pred[k],
                           links[k], stack, stack2)  # fmt: skip
            hi = lo + LANES
            _correct(indptr, indices, weights, edge_key, dist[lo:hi], pred[lo:hi], links[lo:hi],
                     queue, in_queue)  # fmt: skip
        return
    inv_width, size = _bucket_size(weights)
    head = np.empty(size, dtype=np.int64)
    ent_node = np.empty(len(indices) + 1, dtype=np.int32)
    ent_next = np.empty(len(indices) + 1, dtype=np.int64)
    settled = np.zeros(n, dtype=np.bool_)
    for k in range(len(sources)):
        _settle_all(indptr, indices, weights, sources[k], inv_width, size - 1, dist[k], pred[k],
                    settled, head, ent_node, ent_next)  # fmt: skip
        _link_tree(indptr, indices, edge_key, pred[k], links[k])


class ShortestPathTrees:
    """The shortest-path trees of ``sources`` over a graph of ``n_nodes`` nodes whose edges change
    from step to step (a time-varying network): :meth:`update` with each step's CSR arrays.

    The first update (and the first after :meth:`reset`) runs Dial's bucket Dijkstra from every
    source to every node; later ones start from the previous step's trees: each tree is walked
    depth first through its child lists, summing this step's lengths (:func:`_fold_tree`; a node
    whose tree edge is gone is cut off with its subtree), then :func:`_correct` relaxes
    :data:`LANES` trees at a time until nothing shortens. Much less work when the graph changes a
    little, and the same distances: both give the minimum, over all paths, of the edge lengths
    summed from the source in path order. Predecessors are set on strictly shorter paths only,
    so between paths of exactly equal length the one kept can depend on the steps since the last
    reset (reset at fixed steps for answers that do not depend on where a run starts). Weights
    must be positive (otherwise scipy's Dijkstra runs every step).

    ``edge_key`` (optional, per CSR edge) names edges across steps, so the walk reads a tree
    edge's new length without searching its tail's row: an edge keeps its key from step to step
    and edges sharing a key have equal lengths (an undirected link's two directions); -1 (or no
    ``edge_key``) means no key. Keys change nothing in the answer, only its speed.

    Each tree is one row (sources in order, padded to a multiple of :data:`LANES` with the last
    source): :attr:`dist` ``[n_sources, n_nodes]`` (inf: unreachable) and :attr:`pred`
    (:data:`NO_PREDECESSOR` at the source and unreachable nodes) are views of the last update's.
    """

    def __init__(self, n_nodes: int, sources: np.ndarray) -> None:
        self.sources = np.asarray(sources, dtype=np.int64)
        n_rows = -(-len(self.sources) // LANES) * LANES
        pad = n_rows - len(self.sources)  # the last source again, to fill the last lanes
        self._padded = np.concatenate([self.sources, np.repeat(self.sources[-1:], pad)])
        self._dist = np.full((n_rows, n_nodes), np.inf)
        self._pred = np.full((n_rows, n_nodes), NO_PREDECESSOR, dtype=np.int32)
        self._links = np.full((n_rows, n_nodes, 3), -1, dtype=np.int32)
        self._key_weights = np.empty(0)
        self.warm = False

    @property
    def dist(self) -> np.ndarray:
        return self._dist[: len(self.sources)]

    @property
    def pred(self) -> np.ndarray:
        return self._pred[: len(self.sources)]

    def reset(self) -> None:
        """Forget the trees: the next update searches from scratch."""
        self.warm = False

    def update(self, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray,
               edge_key: np.ndarray | None = None) -> None:  # fmt: skip
        """The trees over this step's graph (CSR arrays; a row's edges in any order; ``edge_key``
        as in the class notes)."""
        if len(self.sources) == 0:
            return
        weights = np.asarray(weights, dtype=np.float64)
        if len(weights) == 0 or not weights.min() > 0.0 or weights.max() / weights.min() > MAX_BUCKETS:
            # zero or very uneven lengths: scipy's heap, every step
            csr = csr_matrix((weights, indices, indptr), shape=(len(indptr) - 1,) * 2)
            dist, pred = scipy_dijkstra(csr, directed=True, indices=self._padded, return_predecessors=True)
            self._dist[:] = dist
            self._pred[:] = pred
            self.warm = False
            return
        if edge_key is None:
            edge_key = np.full(len(weights), -1, dtype=np.int32)
        edge_key = np.asarray(edge_key, dtype=np.int32)
        n_keys = int(edge_key.max()) + 1 if len(edge_key) else 0
        if n_keys > len(self._key_weights):  # a key seen before keeps its slot
            self._key_weights = np.empty(max(n_keys, 2 * len(self._key_weights)))
        _update_trees(np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int32), weights,
                      edge_key, self._key_weights, self._padded, self.warm, self._dist, self._pred,
                      self._links)  # fmt: skip
        self.warm = True
