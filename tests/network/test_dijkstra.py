"""The bucket Dijkstra equals scipy's on the nodes it settles."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from skyfence.network.dijkstra import dijkstra_to_targets


def test_same_distances_and_predecessors_as_scipy():
    rng = np.random.default_rng(3)
    n, m = 400, 2400
    rows, cols = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = rows != cols
    g = csr_matrix((rng.uniform(1.0, 50.0, keep.sum()), (rows[keep], cols[keep])), shape=(n, n))
    sources = np.array([0, 5, 17, 399])
    ref_d, ref_p = dijkstra(g, directed=True, indices=sources, return_predecessors=True)
    d, p = dijkstra_to_targets(g, sources, None)
    assert np.array_equal(d, ref_d) and np.array_equal(p, ref_p)
    targets = [np.array([1, 2]), np.array([300]), np.array([], dtype=np.int64), np.arange(n)]
    d, p = dijkstra_to_targets(g, sources, targets)
    for k, t in enumerate(targets):
        assert np.array_equal(d[k, t], ref_d[k, t])
        for node in t:  # the predecessor chain back to the source is scipy's
            while node >= 0 and node != sources[k]:
                assert p[k, node] == ref_p[k, node]
                node = p[k, node]
