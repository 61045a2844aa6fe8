"""Run statistics cut into time windows and combined equal those of the whole mask."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.coverage.stats import coverage_stats, state_stats
from skyfence.scale.runs import CoveragePart, Runs, StatePart
from skyfence.scale.shards import plan_shards


def _windows(rng, n_t):
    cuts = np.sort(rng.choice(np.arange(1, n_t), size=rng.integers(0, min(6, n_t - 1) + 1), replace=False))
    return list(zip(np.r_[0, cuts], np.r_[cuts, n_t], strict=True))


@pytest.mark.parametrize("seed", range(30))
def test_runs_across_windows_equal_whole(seed):
    rng = np.random.default_rng(seed)
    n_t = int(rng.integers(1, 40))
    mask = rng.random((25, n_t)) < rng.choice([0.1, 0.5, 0.9])
    mask[0] = True
    mask[1] = False
    acc = None
    for a, b in _windows(rng, n_t):
        part = Runs.of(mask[:, a:b], a)
        acc = part if acc is None else acc.then(part)
    whole = Runs.of(mask, 0)
    for name in ("head", "tail", "best", "best_start", "n_runs", "first", "last"):
        np.testing.assert_array_equal(getattr(acc, name), getattr(whole, name), err_msg=name)


@pytest.mark.parametrize("seed", range(20))
def test_coverage_and_state_parts_equal_stats(seed):
    rng = np.random.default_rng(100 + seed)
    n_t = int(rng.integers(2, 50))
    counts = rng.choice([0, 0, 1, 2, 7], size=(30, n_t)).astype(np.int16)
    states = rng.choice(np.array([-1, 0, 1, 2], np.int8), size=(30, n_t), p=[0.1, 0.2, 0.4, 0.3])
    cells = np.where(counts >= 1, rng.choice(np.array([1, 2], np.int8), size=counts.shape), 0).astype(np.int8)
    cp = sp = None
    for a, b in _windows(rng, n_t):
        c, s = CoveragePart.of(counts[:, a:b], cells[:, a:b], a), StatePart.of(states[:, a:b], a)
        cp, sp = (c, s) if cp is None else (cp.then(c), sp.then(s))
    for got, want in ((cp.stats(60.0), coverage_stats(counts, 60.0)), (sp.stats(60.0), state_stats(states, 60.0))):
        for k, v in want.to_columns().items():
            np.testing.assert_array_equal(getattr(got, k), v, err_msg=k)
            assert getattr(got, k).dtype == v.dtype, k


def test_plan_covers_every_cell_and_step_once():
    plan = plan_shards(1003, 97, n_workers=2, steps_per_shard=20)
    hit = np.zeros((1003, 97), int)
    for s in plan.shards:
        hit[s.cell_lo : s.cell_hi, s.step_lo : s.step_hi] += 1
    assert (hit == 1).all()
    assert [s.chunk for s in plan.block(0)] == list(range(plan.n_chunks))
    assert all(s.terminals == (s.block == 0) for s in plan.shards)
