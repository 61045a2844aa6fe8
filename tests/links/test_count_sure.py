"""Counts of many ground points (the KD-tree blocks path, where pairs well inside the mask are
counted without the exact test) equal the exact test on every pair."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.links import count_visible, ground_points, look_angles, search
from tests.links.test_visibility import random_ground, random_sats


def _brute(g, up, sat, mask, max_range_km=None):
    el, _, rng = look_angles(g[:, None, :], up[:, None, :], sat[None, :, :])
    ok = np.ones(el.shape, bool)
    if mask is not None:
        ok &= el >= np.broadcast_to(np.asarray(mask, float), (len(g),))[:, None]
    if max_range_km is not None:
        ok &= rng <= max_range_km
    return ok.sum(axis=1)


@pytest.mark.parametrize("seed,mask,max_range_km", [(1, 25.0, None), (2, 0.0, None), (3, 0.05, None),
                                                    (4, 40.0, 1500.0), (5, None, 1200.0), (6, "per-point", None)])
def test_many_points_exact(seed, mask, max_range_km):
    rng = np.random.default_rng(seed)
    n_pt = search.FEW_POINTS + 900
    lat, lon, h = random_ground(rng, n_pt)
    sat = random_sats(rng, 300, 2)
    g, up = ground_points(lat, lon, h)
    if mask == "per-point":
        mask = rng.uniform(5, 45, n_pt)
    counts = count_visible(g, up, sat, mask, max_range_km=max_range_km)
    assert counts.sum() > 1000
    for k in range(sat.shape[1]):
        np.testing.assert_array_equal(counts[:, k], _brute(g, up, sat[:, k], mask, max_range_km))


def test_sure_radius_is_inside_the_mask():
    """Every pair within the sure radius is above the mask (geodetic up, WGS84)."""
    rng = np.random.default_rng(9)
    lat, lon, h = random_ground(rng, 3000)
    g, up = ground_points(lat, lon, h)
    ground = search.Ground(g, up, search.limits(25.0, None, len(g)))
    sat = random_sats(rng, 2000, 1)[:, 0]
    sat = sat[np.isfinite(sat).all(axis=1)]
    r_s = np.linalg.norm(sat, axis=1)
    sure = ground.sure_radius_km(float(r_s.min()))
    assert sure > 500
    d = np.linalg.norm(sat[None, :, :] - g[:, None, :], axis=2)
    gi, sj = np.nonzero(d < sure)
    el, _, _ = look_angles(g[gi], up[gi], sat[sj])
    assert len(gi) > 100 and el.min() >= 25.0
