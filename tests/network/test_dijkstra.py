"""The step-to-step shortest-path trees (bucket Dijkstra, then label correcting) equal scipy's Dijkstra."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from skyfence.network.dijkstra import ShortestPathTrees


def _random_steps(rng, n, m, n_steps):
    """A graph whose edge set and lengths change a little from step to step (as a constellation's)."""
    for g, _ in _keyed_steps(rng, n, m, n_steps):
        yield g


def _keyed_steps(rng, n, m, n_steps, drop=0.05):
    """As :func:`_random_steps`, with each step's edge keys: a link between two nodes keeps its key
    while it lives, both directions share it and its length; some links carry no key (-1)."""
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    pairs = np.unique(np.sort(np.stack([a, b], axis=1)[a != b], axis=1), axis=0)
    key = np.where(rng.random(len(pairs)) < 0.8, np.arange(len(pairs)), -1)
    w = rng.uniform(5.0, 50.0, len(pairs))
    for _ in range(n_steps):
        w = w * rng.uniform(0.97, 1.03, len(w))
        alive = rng.random(len(w)) > drop  # links come and go
        p, k, wt = pairs[alive], key[alive], w[alive]
        rows, cols = np.concatenate([p[:, 0], p[:, 1]]), np.concatenate([p[:, 1], p[:, 0]])
        g = csr_matrix((np.concatenate([wt, wt]), (rows, cols)), shape=(n, n))
        # the key of each CSR edge: CSR sorts by (row, col), so look the pairs up
        both = np.concatenate([k, k])
        order = np.lexsort((cols, rows))
        yield g, both[order].astype(np.int32)


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


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), drop=st.sampled_from([0.0, 0.02, 0.2]),
       n_sources=st.integers(1, 19), reset_at=st.integers(0, 9))  # fmt: skip
def test_keyed_trees_equal_scipy_and_unkeyed(seed, drop, n_sources, reset_at):
    """With edge keys (the walk reads a tree edge's length by key, cuts a subtree whose edge is
    gone) the trees are scipy's distances and predecessor chains and the unkeyed trees', step
    after step, whatever the number of sources (lanes padded) and where the reset falls."""
    rng = np.random.default_rng(seed)
    n = 120
    sources = rng.choice(n, n_sources, replace=False)
    keyed, plain = ShortestPathTrees(n, sources), ShortestPathTrees(n, sources)
    for t, (g, key) in enumerate(_keyed_steps(rng, n, 400, 10, drop)):
        if t == reset_at:
            keyed.reset()
            plain.reset()
        keyed.update(g.indptr, g.indices, g.data, key)
        plain.update(g.indptr, g.indices, g.data)
        ref_d, ref_p = dijkstra(g, directed=True, indices=sources, return_predecessors=True)
        assert np.array_equal(keyed.dist, ref_d)
        assert np.array_equal(plain.dist, ref_d)
        assert np.array_equal(keyed.pred, ref_p)
        assert np.array_equal(plain.pred, ref_p)
