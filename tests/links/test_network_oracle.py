"""The visibility engine gives the same ground-satellite links as the network layer's former
engine (``gsl_links``, kept below verbatim as the reference oracle) on random inputs: random
satellites, stations, masks (one, or one per station), range cut-offs, geodetic or geocentric up,
failed satellites, and every candidate strategy of each engine.

The only admissible difference is a pair whose elevation lies within 1e-9 deg of its mask: the
oracle tested ``d . u >= sin(mask) |d|``, the engine tests ``elevation_deg >= mask`` (the same
comparison as coverage), which can round the other way on an exact tie. The range test is the
very same float64 expression in both, so range-only links must match exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.geo.earth import wgs84
from skyfence.links import look_angles, search, visible_pairs


# --------------------------------------------------------------------------- reference oracle
def _oracle_max_slant_range_km(sat_radius_km, min_elevation_deg, gs_radius_km=6356.75):
    e = np.radians(min_elevation_deg)
    rg = gs_radius_km
    return float(np.sqrt(sat_radius_km**2 - (rg * np.cos(e)) ** 2) - rg * np.sin(e))


def oracle_gsl_links(sat, gs, *, max_range_km=None, min_elevation_deg=None, gs_up=None,
                     dense_limit=400_000):
    """(station, satellite, range_km) links of one step, sorted by (station, satellite)."""
    from scipy.spatial import cKDTree

    sat = np.asarray(sat, dtype=float)
    gs = np.asarray(gs, dtype=float)
    if gs_up is None:
        gs_up = gs / np.linalg.norm(gs, axis=1, keepdims=True)
    n_gs, n_sat = len(gs), len(sat)
    sin_min = None
    if min_elevation_deg is not None:
        sin_min = np.broadcast_to(
            np.sin(np.radians(np.asarray(min_elevation_deg, dtype=float))), (n_gs,)
        )
    if n_gs * n_sat <= dense_limit:
        with np.errstate(invalid="ignore"):
            d2 = (gs * gs).sum(1)[:, None] + (sat * sat).sum(1)[None, :] - 2.0 * (gs @ sat.T)
            cand = np.isfinite(d2)
            if max_range_km is not None:
                cand &= d2 <= (max_range_km + 0.01) ** 2
            if sin_min is not None:
                up_dot = (gs_up @ sat.T) - (gs * gs_up).sum(1)[:, None]
                cand &= up_dot >= sin_min[:, None] * np.sqrt(np.maximum(d2, 0.0)) - 0.01
        g, s = np.nonzero(cand)
        return _oracle_exact(sat, gs, gs_up, g, s, max_range_km, sin_min, sort=False)
    finite = np.isfinite(sat).all(axis=1)
    sat_idx = np.flatnonzero(finite)
    radius = np.inf if max_range_km is None else float(max_range_km)
    if sin_min is not None and len(sat_idx) and n_gs:
        r_max = float(np.linalg.norm(sat[sat_idx], axis=1).max())
        lowest_deg = float(np.degrees(np.arcsin(sin_min.min())))
        radius = min(radius, _oracle_max_slant_range_km(r_max, lowest_deg) + 50.0)
    tree = cKDTree(sat[sat_idx])
    hits = tree.query_ball_point(gs, r=radius, return_sorted=False)
    counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=n_gs)
    g = np.repeat(np.arange(n_gs), counts)
    s = sat_idx[np.fromiter((j for h in hits for j in h), dtype=np.int64, count=int(counts.sum()))]
    return _oracle_exact(sat, gs, gs_up, g, s, max_range_km, sin_min, sort=True)


def _oracle_exact(sat, gs, gs_up, g, s, max_range_km, sin_min, *, sort):
    diff = sat[s] - gs[g]
    rng = np.sqrt(np.einsum("nk,nk->n", diff, diff))
    ok = np.ones(len(g), dtype=bool)
    if max_range_km is not None:
        ok &= rng <= max_range_km
    if sin_min is not None:
        ok &= np.einsum("nk,nk->n", diff, gs_up[g]) >= sin_min[g] * rng
    g, s, rng = g[ok], s[ok], rng[ok]
    if sort:
        order = np.lexsort((s, g))
        g, s, rng = g[order], s[order], rng[order]
    return g, s, rng


# --------------------------------------------------------------------------- random inputs
lat = st.floats(-89.9, 89.9)
lon = st.floats(-180.0, 180.0)
stations = st.lists(st.tuples(lat, lon, st.floats(0.0, 5.0)), min_size=1, max_size=12)
#: (station it flies near, lat offset, lon offset, altitude km, failed): most pairs are candidates
satellites = st.lists(
    st.tuples(st.integers(0, 11), st.floats(-30.0, 30.0), st.floats(-40.0, 40.0),
              st.floats(200.0, 2500.0), st.booleans()),
    min_size=1, max_size=60,
)
masks = st.one_of(st.none(), st.floats(0.0, 89.0), st.just(-90.0),
                  st.lists(st.floats(0.0, 89.0), min_size=12, max_size=12))
ranges = st.one_of(st.none(), st.floats(300.0, 4000.0))


def _sat_ecef_km(sats, g_arr) -> np.ndarray:
    near = np.array([s[0] for s in sats]) % len(g_arr)
    a = np.array([s[1:4] for s in sats])
    lat_deg = np.clip(g_arr[near, 0] + a[:, 0], -90.0, 90.0)
    lon_deg = g_arr[near, 1] + a[:, 1]
    r = wgs84.semi_major_km + a[:, 2]
    out = r[:, None] * wgs84.up(lat_deg, lon_deg)  # along the normal of a point near a station
    failed = np.array([s[4] for s in sats])
    out[failed & (np.arange(len(sats)) % 3 == 0)] = np.nan  # a few failed propagations
    return out


@settings(max_examples=400, deadline=None)
@given(stations, satellites, masks, ranges, st.booleans(),
       st.sampled_from([0, 400_000]), st.sampled_from([0, 1024]), st.sampled_from([0, 400_000]))
def test_engine_matches_former_network_engine(gs_spec, sat_spec, mask, max_range_km,
                                              geodetic_up, engine_dense, engine_few, oracle_dense):
    if mask is None and max_range_km is None:
        max_range_km = 2000.0
    g_arr = np.array(gs_spec)
    gs = np.asarray(wgs84.ecef_km(g_arr[:, 0], g_arr[:, 1], g_arr[:, 2]))
    up = wgs84.up(g_arr[:, 0], g_arr[:, 1]) if geodetic_up else None
    if isinstance(mask, list):
        mask = np.array(mask[: len(gs)])
    sat = _sat_ecef_km(sat_spec, g_arr)

    want_g, want_s, want_rng = oracle_gsl_links(
        sat, gs, max_range_km=max_range_km, min_elevation_deg=mask, gs_up=up,
        dense_limit=oracle_dense,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(search, "DENSE_PAIRS", engine_dense)
        mp.setattr(search, "FEW_POINTS", engine_few)
        got = visible_pairs(gs, up, sat, mask, max_range_km=max_range_km, azimuth=False).sorted()
    assert np.all(got.time == 0) and got.n_points == len(gs) and got.n_sats == len(sat)

    want = set(zip(want_g.tolist(), want_s.tolist(), strict=True))
    have = set(zip(got.point.tolist(), got.sat.tolist(), strict=True))
    differ = want ^ have
    if differ:  # only exact ties on the mask may round differently
        assert mask is not None, differ
        pg = np.array([p for p, _ in differ])
        ps = np.array([s for _, s in differ])
        u = up if up is not None else gs / np.linalg.norm(gs, axis=1, keepdims=True)
        el, _, _ = look_angles(gs[pg], u[pg], sat[ps])
        assert np.all(np.abs(el - np.broadcast_to(mask, (len(gs),))[pg]) <= 1e-9), differ
    common = want & have
    w = dict(zip(zip(want_g.tolist(), want_s.tolist(), strict=True), want_rng.tolist(),
                 strict=True))
    h = dict(zip(zip(got.point.tolist(), got.sat.tolist(), strict=True), got.range_km.tolist(),
                 strict=True))
    assert all(w[k] == h[k] for k in common)
    # the engine orders one step's links by (station, satellite), as the oracle does
    order = np.lexsort((got.sat, got.point))
    assert np.array_equal(order, np.arange(len(got)))
