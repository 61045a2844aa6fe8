"""TargetIndex.near against a brute-force central angle between every target and every position."""

from __future__ import annotations

import numpy as np

from skyfence.links import TargetIndex, ground_points


def _brute(g, r, ang):
    gu = g / np.linalg.norm(g, axis=1, keepdims=True)
    ru = r / np.linalg.norm(r, axis=1, keepdims=True)
    central = np.arctan2(np.linalg.norm(np.cross(gu[:, None], ru[None]), axis=-1), gu @ ru.T)
    t, row = np.nonzero(central <= ang[None, :])
    return set(zip(t.tolist(), row.tolist(), strict=True)), central


def test_near_equals_brute_force_central_angles():
    rng = np.random.default_rng(3)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 800)))
    g, _ = ground_points(lat, rng.uniform(-180, 180, 800), rng.uniform(0, 3, 800))
    r = rng.normal(size=(600, 3))
    r *= rng.uniform(6700, 43000, (600, 1)) / np.linalg.norm(r, axis=1, keepdims=True)
    ang = rng.uniform(0.01, 0.4, 600)  # many bands of search angles
    r[5] = np.nan  # a failed propagation never matches
    t, row = TargetIndex(g).near(r, ang)
    want, central = _brute(g, r, ang)
    got = set(zip(t.tolist(), row.tolist(), strict=True))
    assert len(got) == len(t)  # no pair twice
    # identical up to pairs within 1e-9 rad of the limit (rounding of the chord)
    diff = got ^ want
    assert all(abs(central[a, b] - ang[b]) < 1e-9 for a, b in diff)
    assert len(want) > 1000 and not any(b == 5 for _, b in got)


def test_near_scalar_angle_and_empty_inputs():
    g, _ = ground_points(np.array([0.0, 0.0]), np.array([0.0, 10.0]), 0.0)
    idx = TargetIndex(g)
    t, row = idx.near(np.array([[7000.0, 0.0, 0.0]]), np.radians(5.0))
    assert t.tolist() == [0] and row.tolist() == [0]
    assert len(idx.near(np.zeros((0, 3)), 0.1)[0]) == 0
    assert len(TargetIndex(np.zeros((0, 3))).near(np.array([[7000.0, 0.0, 0.0]]), 0.1)[0]) == 0
