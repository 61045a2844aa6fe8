"""The step-to-step shortest-path trees (bucket Dijkstra, then label correcting) equal scipy's Dijkstra."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from skyfence.network.dijkstra import ShortestPathTrees


def _random_steps(rng, n, m, n_steps):
    """A graph whose edge set and lengths change a little from step to step (as a constellation's)."""
    rows, cols = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    w = rng.uniform(5.0, 50.0, len(rows))
    for _ in range(n_steps):
        w = w * rng.uniform(0.97, 1.03, len(w))
        alive = rng.random(len(w)) > 0.05  # links come and go
        g = csr_matrix((w[alive], (rows[alive], cols[alive])), shape=(n, n))
        yield g


def test_trees_from_step_to_step_equal_scipy_dijkstra():
    """Warm updates (label correcting from the previous trees) and cold ones give scipy's
    distances exactly and its predecessor chains, step after step."""
    rng = np.random.default_rng(11)
    n = 300
    sources = np.array([0, 7, 150, 299])
    trees = ShortestPathTrees(n, sources)
    for t, g in enumerate(_random_steps(rng, n, 1500, 12)):
        if t == 6:
            trees.reset()
        trees.update(g.indptr, g.indices, g.data)
        ref_d, ref_p = dijkstra(g, directed=True, indices=sources, return_predecessors=True)
        assert np.array_equal(trees.dist, ref_d)
        assert np.array_equal(trees.pred, ref_p)


def test_trees_with_zero_lengths_use_scipy():
    g = csr_matrix((np.array([0.0, 2.0, 1.0]), (np.array([0, 1, 0]), np.array([1, 2, 2]))), shape=(3, 3))
    trees = ShortestPathTrees(3, np.array([0]))
    trees.update(g.indptr, g.indices, g.data)
    assert trees.dist.tolist() == [[0.0, 0.0, 1.0]]
    assert trees.pred[0, 2] == 0
