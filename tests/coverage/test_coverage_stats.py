"""Coverage and service statistics: hand-worked examples and a brute-force run finder."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import sparse

from skyfence.coverage.stats import (
    ABSENT,
    DENIED,
    SERVED,
    UNCOVERED,
    coverage_stats,
    longest_run,
    region_summary,
    runs,
    service_states,
    state_counts,
    state_stats,
)


def py_runs(row):
    out, start = [], None
    for i, v in enumerate(list(row) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - start))
            start = None
    return out


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 6), st.integers(1, 30))))
def test_runs_equal_python_loop(mask):
    row, start, length = runs(mask)
    want = [(r, s, n) for r in range(mask.shape[0]) for s, n in py_runs(mask[r])]
    assert list(zip(row.tolist(), start.tolist(), length.tolist(), strict=True)) == want
    best, best_start, n_runs = longest_run(mask)
    for r in range(mask.shape[0]):
        rr = py_runs(mask[r])
        assert n_runs[r] == len(rr)
        if rr:
            m = max(n for _, n in rr)
            assert best[r] == m
            assert best_start[r] == next(s for s, n in rr if n == m)
        else:
            assert best[r] == 0 and best_start[r] == -1


def test_coverage_stats_hand_example():
    counts = np.array([
        [3, 0, 0, 2, 0, 1],   # outages at 1-2 (2 steps) and 4 (1 step)
        [1, 1, 1, 1, 1, 1],   # always covered
        [0, 0, 0, 0, 0, 0],   # never covered
    ])
    s = coverage_stats(counts, step_s=60)
    np.testing.assert_allclose(s.covered_fraction, [3 / 6, 1.0, 0.0])
    np.testing.assert_array_equal(s.min_visible, [0, 1, 0])
    np.testing.assert_array_equal(s.max_visible, [3, 1, 0])
    np.testing.assert_allclose(s.mean_visible, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(s.longest_outage_steps, [2, 0, 6])
    np.testing.assert_allclose(s.longest_outage_s, [120.0, 0.0, 360.0])
    np.testing.assert_array_equal(s.longest_outage_start, [1, -1, 0])
    np.testing.assert_array_equal(s.first_outage_step, [1, -1, 0])
    np.testing.assert_array_equal(s.last_outage_step, [4, -1, 5])
    np.testing.assert_array_equal(s.n_outages, [2, 0, 1])
    t = np.datetime64("2026-04-30T00:00", "ns") + np.arange(6) * np.timedelta64(60, "s")
    cols = s.to_columns(t)
    assert cols["first_outage_utc"][0] == t[1]
    assert np.isnat(cols["first_outage_utc"][1])
    assert len(s) == 3


def test_absent_steps_break_outages_and_are_not_counted():
    counts = np.array([[0, 0, 5, 0, 0, 0, 2]])
    present = np.array([[True, True, True, True, False, True, True]])
    s = coverage_stats(counts, step_s=10, present=present)
    assert s.steps_present[0] == 6
    assert s.covered_fraction[0] == pytest.approx(2 / 6)
    assert s.mean_visible[0] == pytest.approx(7 / 6)
    assert s.longest_outage_steps[0] == 2  # 0-1; 3 and 5 are split by the absence at 4
    assert s.n_outages[0] == 3
    never = coverage_stats(np.zeros((1, 3), int), 10, present=np.zeros((1, 3), bool))
    assert np.isnan(never.covered_fraction[0]) and never.min_visible[0] == -1


@pytest.mark.parametrize("as_sparse", [False, True])
def test_region_summary(as_sparse):
    counts = np.array([[1, 1, 0, 1], [2, 2, 2, 2], [0, 0, 0, 0]])
    member = np.array([[True, False], [True, True], [False, False]])
    m = sparse.csr_matrix(member) if as_sparse else member
    out = region_summary(counts, m, ["a", "b"], step_s=60, weights=np.array([1.0, 3.0, 5.0]))
    a, b = out
    assert a["region"] == "a" and a["points"] == 2
    assert a["covered_fraction"] == pytest.approx(7 / 8)
    assert a["covered_fraction_weighted"] == pytest.approx((1 * 0.75 + 3 * 1.0) / 4)
    assert a["mean_visible"] == pytest.approx(11 / 8)
    assert (a["min_visible"], a["max_visible"]) == (0, 2)
    assert a["points_always_covered"] == 1 and a["points_with_outage"] == 1
    assert a["longest_outage_s"] == 60.0
    assert a["worst_covered_fraction"] == pytest.approx(0.75)
    assert b["covered_fraction"] == 1.0 and b["points"] == 1
    empty = region_summary(counts, np.zeros((3, 1), bool), ["none"], step_s=60)[0]
    assert empty["points"] == 0 and empty["covered_fraction"] is None
    with pytest.raises(ValueError):
        region_summary(counts, member, ["a"], step_s=60)


def test_service_states_and_counts():
    counts = np.array([[2, 0, 1, 1], [1, 1, 0, 3]])
    allowed = np.array([[True, True, False, True], [False, False, True, True]])
    present = np.array([[True, True, True, True], [True, True, True, False]])
    s = service_states(counts, allowed, present=present)
    want = np.array([[SERVED, UNCOVERED, DENIED, SERVED], [DENIED, DENIED, UNCOVERED, ABSENT]])
    np.testing.assert_array_equal(s, want)
    c = state_counts(s)
    np.testing.assert_array_equal(c["served"], [1, 0, 0, 1])
    np.testing.assert_array_equal(c["denied"], [1, 1, 1, 0])
    np.testing.assert_array_equal(c["uncovered"], [0, 1, 1, 0])
    np.testing.assert_array_equal(c["absent"], [0, 0, 0, 1])
    w = state_counts(s, weights=np.array([10.0, 1.0]))
    np.testing.assert_allclose(w["served"], [10, 0, 0, 10])
    # time-independent policy broadcasts
    s2 = service_states(counts, np.array([[True], [False]]))
    assert s2[1, 3] == DENIED and s2[0, 0] == SERVED


def test_state_stats():
    S, D, U, A = SERVED, DENIED, UNCOVERED, ABSENT
    states = np.array([
        [S, S, D, D, U, S, D, A],
        [D, D, S, S, S, S, S, S],
        [S, S, S, S, S, S, S, S],
        [A, A, A, A, A, A, A, A],
    ], dtype=np.int8)
    st_ = state_stats(states, step_s=30)
    np.testing.assert_array_equal(st_.steps_served, [3, 6, 8, 0])
    np.testing.assert_array_equal(st_.steps_denied, [3, 2, 0, 0])
    np.testing.assert_array_equal(st_.steps_uncovered, [1, 0, 0, 0])
    np.testing.assert_array_equal(st_.steps_absent, [1, 0, 0, 8])
    np.testing.assert_allclose(st_.served_fraction[:3], [3 / 7, 6 / 8, 1.0])
    assert np.isnan(st_.served_fraction[3])
    np.testing.assert_array_equal(st_.longest_outage_steps, [3, 2, 0, 0])
    np.testing.assert_allclose(st_.longest_outage_s, [90, 60, 0, 0])
    np.testing.assert_array_equal(st_.longest_denied_steps, [2, 2, 0, 0])
    np.testing.assert_array_equal(st_.first_denied_step, [2, 0, -1, -1])
    np.testing.assert_array_equal(st_.last_denied_step, [6, 1, -1, -1])
    np.testing.assert_array_equal(st_.first_outage_step, [2, 0, -1, -1])
    # terminal 1 was denied first and served later: it never *lost* service to the policy
    np.testing.assert_array_equal(st_.first_denied_after_served_step, [2, -1, -1, -1])
    t = np.datetime64("2026-04-30T00:00", "ns") + np.arange(8) * np.timedelta64(30, "s")
    cols = st_.to_columns(t)
    assert cols["first_denied_utc"][0] == t[2] and np.isnat(cols["first_denied_utc"][2])
