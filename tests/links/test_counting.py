"""The counting kernel (links.counting) against the exact test on every pair: random ground
(poles, the antimeridian, heights), random satellites (NaN rows, high orbits), one mask or one
per point, masks below the vertical deflection, range cut-offs; pairs on the mask's boundary and
a near-pair buffer that overflows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.geo.earth import wgs84
from skyfence.links import count_visible, counting, ground_points, look_angles, visible_pairs


def brute_counts(g, up, sat, mask, max_range_km=None):
    """Satellites linked per point and step by the test of the module doc, on every pair."""
    n_pt, n_time = len(g), sat.shape[1]
    out = np.zeros((n_pt, n_time), dtype=np.int64)
    for k in range(n_time):
        el, _, rng = look_angles(g[:, None, :], up[:, None, :], sat[None, :, k, :])
        ok = np.ones(el.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            if mask is not None:
                ok &= el >= np.broadcast_to(np.asarray(mask, dtype=float), (n_pt,))[:, None]
            if max_range_km is not None:
                ok &= rng <= max_range_km
        out[:, k] = ok.sum(axis=1)
    return out


def _ground(rng, n, where):
    if where == "anywhere":
        lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
        lon = rng.uniform(-180, 180, n)
    elif where == "antimeridian":
        lat = rng.uniform(-70, 70, n)
        lon = np.where(rng.random(n) < 0.5, rng.uniform(175, 180, n), rng.uniform(-180, -175, n))
    else:  # poles
        lat = np.where(rng.random(n) < 0.5, rng.uniform(80, 90, n), rng.uniform(-90, -80, n))
        lon = rng.uniform(-180, 180, n)
    lat[:2] = [90.0, -90.0] if where == "poles" else lat[:2]
    lon[2:4] = [180.0, -180.0] if where == "antimeridian" else lon[2:4]
    return lat, lon, rng.uniform(-0.4, 4.0, n)


def _sats(rng, n_sat, n_time, lat, lon, alt_max_km):
    """Satellites above random ground points (so most of them are linked somewhere), some NaN."""
    pick = rng.integers(0, len(lat), (n_sat, n_time))
    la = np.clip(lat[pick] + rng.normal(0, 8, pick.shape), -90, 90)
    lo = lon[pick] + rng.normal(0, 8, pick.shape)
    s = wgs84.ecef_km(la, lo, rng.uniform(300, alt_max_km, pick.shape))
    s = np.asarray(s, dtype=float)
    s[rng.random((n_sat, n_time)) < 0.05] = np.nan
    return s


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    where=st.sampled_from(["anywhere", "antimeridian", "poles"]),
    mask=st.sampled_from([25.0, 0.0, 0.1, -5.0, 60.0, "per-point", None]),
    max_range_km=st.sampled_from([None, 900.0, 2500.0]),
    alt_max_km=st.sampled_from([600.0, 2000.0, 36000.0]),
)
def test_counts_equal_the_exact_test_on_every_pair(seed, where, mask, max_range_km, alt_max_km):
    if mask is None and max_range_km is None:
        max_range_km = 1500.0
    rng = np.random.default_rng(seed)
    lat, lon, h = _ground(rng, 300, where)
    g, up = ground_points(lat, lon, h)
    if mask == "per-point":
        mask = rng.uniform(0, 45, len(lat))
    sat = _sats(rng, 120, 3, lat, lon, alt_max_km)
    counts = count_visible(g, up, sat, mask, max_range_km=max_range_km)
    want = brute_counts(g, up, sat, mask, max_range_km)
    np.testing.assert_array_equal(counts, want)
    np.testing.assert_array_equal(visible_pairs(g, up, sat, mask, max_range_km=max_range_km).counts(), want)


def test_rows_and_longitudes_cover_every_linked_pair_worldwide():
    """A dense grid of points and a whole Starlink-like shell: every linked pair is counted."""
    rng = np.random.default_rng(5)
    lat, lon = np.meshgrid(np.linspace(-90, 90, 31), np.linspace(-180, 180, 49), indexing="ij")
    g, up = ground_points(lat.ravel(), lon.ravel())
    v = rng.normal(size=(800, 2, 3))
    sat = v / np.linalg.norm(v, axis=-1, keepdims=True) * (wgs84.semi_major_km + 550.0)
    counts = count_visible(g, up, sat, 25.0)
    np.testing.assert_array_equal(counts, brute_counts(g, up, sat, 25.0))
    assert counts.sum() > 5 * len(g)


def test_mobile_points_with_absence_equal_the_exact_test():
    rng = np.random.default_rng(8)
    lat = rng.uniform(-60, 60, (200, 4))
    lon = rng.uniform(-180, 180, (200, 4))
    lat[rng.random(lat.shape) < 0.2] = np.nan
    g, up = ground_points(lat, lon)
    sat = _sats(rng, 300, 4, np.nan_to_num(lat[:, 0]), lon[:, 0], 1200.0)
    counts = count_visible(g, up, sat, 25.0)
    for k in range(4):
        ok = np.isfinite(lat[:, k])
        want = np.zeros(len(lat), dtype=np.int64)
        want[ok] = brute_counts(g[ok, k], up[ok, k], sat[:, k : k + 1], 25.0)[:, 0]
        np.testing.assert_array_equal(counts[:, k], want)


@pytest.mark.parametrize("capacity", [1, 3, 4096])
def test_pairs_on_the_mask_boundary_and_a_full_buffer(monkeypatch, capacity):
    """Satellites within 1e-12..1e-6 deg of the mask (undecided by the sine, decided by the exact
    elevation) over several steps; a buffer of ``capacity`` undecided pairs overflows and the
    counts are unchanged."""
    monkeypatch.setattr(counting, "_NEAR_CAPACITY", capacity)
    rng = np.random.default_rng(3)
    mask = 25.0
    lat, lon = rng.uniform(-60, 60, 30), rng.uniform(-180, 180, 30)
    g, up = ground_points(lat, lon)
    e, n, u = wgs84.enu(lat, lon)
    steps = []
    for _ in range(3):
        sats = []
        for dl in (-1e-6, -1e-9, -1e-12, 0.0, 1e-12, 1e-9, 1e-6):
            el = np.radians(mask + dl)
            az = rng.uniform(0, 2 * np.pi, len(lat))
            v = np.cos(el) * (np.sin(az)[:, None] * e + np.cos(az)[:, None] * n) + np.sin(el) * u
            sats.append(g + 1000.0 * v)
        steps.append(np.concatenate(sats))
    sat = np.stack(steps, axis=1)  # [n_sat, 3, 3]
    want = brute_counts(g, up, sat, mask)
    assert 0 < want.sum() < want.size * sat.shape[0]
    np.testing.assert_array_equal(count_visible(g, up, sat, mask), want)
