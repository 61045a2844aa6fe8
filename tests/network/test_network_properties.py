"""Graph properties of the network layer on random Walker constellations (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.geo.earth import wgs72, wgs84
from skyfence.links import slant_range_bound_km, visible_pairs
from skyfence.network.graph import build_step_graph
from skyfence.network.isl import plus_grid, segment_min_radius_km, valid_isl_mask
from skyfence.network.routing import path_length_km, route_series

C_KM_S = 299_792.458


def walker_ecef_km(
    n_planes: int, sats_per_plane: int, alt_km: float, inc_deg: float, phase: int
) -> np.ndarray:
    """Circular Walker-delta positions [n, 3] km at one instant, plane-major numbering."""
    o, i = np.meshgrid(np.arange(n_planes), np.arange(sats_per_plane), indexing="ij")
    raan = 2 * np.pi * o / n_planes
    u = 2 * np.pi * (i / sats_per_plane + phase * o / (n_planes * sats_per_plane))
    inc = np.radians(inc_deg)
    r = 6378.137 + alt_km
    x = r * (np.cos(raan) * np.cos(u) - np.sin(raan) * np.sin(u) * np.cos(inc))
    y = r * (np.sin(raan) * np.cos(u) + np.cos(raan) * np.sin(u) * np.cos(inc))
    z = r * np.sin(u) * np.sin(inc)
    return np.stack([x, y, z], -1).reshape(-1, 3)


walkers = st.tuples(
    st.integers(3, 24),  # planes
    st.integers(3, 30),  # sats per plane
    st.floats(340.0, 1400.0),  # altitude km
    st.floats(30.0, 98.0),  # inclination deg
    st.integers(0, 5),  # phase
    st.integers(0, 6),  # +Grid shift
)


@settings(max_examples=60, deadline=None)
@given(walkers)
def test_plus_grid_degree_four_and_symmetric(w):
    n_planes, s, alt, inc, phase, shift = w
    pairs = plus_grid(n_planes, s, shift)
    n = n_planes * s
    assert len(pairs) == 2 * n
    deg = np.bincount(pairs.ravel(), minlength=n)
    assert (deg == 4).all()
    r = walker_ecef_km(n_planes, s, alt, inc, phase)
    lengths = np.linalg.norm(r[pairs[:, 0]] - r[pairs[:, 1]], axis=1)
    none = visible_pairs(np.zeros((0, 3)), None, r, max_range_km=1.0)
    g = build_step_graph(n, 0, pairs, lengths, none).csr
    assert (abs(g - g.T) > 0).nnz == 0  # symmetric weights
    assert (g > 0).sum(axis=1).A1.tolist() == [4] * n


@settings(max_examples=40, deadline=None)
@given(
    walkers, st.lists(st.tuples(st.floats(-70, 70), st.floats(-180, 180)), min_size=2, max_size=5)
)
def test_rtt_never_below_straight_line_light_time(w, places):
    n_planes, s, alt, inc, phase, shift = w
    r = walker_ecef_km(n_planes, s, alt, inc, phase)
    lat = np.array([p[0] for p in places])
    lon = np.array([p[1] for p in places])
    gs = wgs84.ecef_km(lat, lon)
    src = np.arange(len(places) - 1)
    dst = np.arange(1, len(places))
    res = route_series(
        r[:, None, :],
        plus_grid(n_planes, s, shift),
        gs,
        src,
        dst,
        min_elevation_deg=10.0,
        gs_up=wgs84.up(lat, lon),
    )
    chord_km = np.linalg.norm(gs[src] - gs[dst], axis=1)
    rtt = res.rtt_ms[0]
    ok = np.isfinite(rtt)
    assert (rtt[ok] >= 2 * chord_km[ok] / C_KM_S * 1000 - 1e-9).all()
    assert (res.hops[0][~ok] == -1).all()
    for p in np.flatnonzero(ok):
        path = res.path(0, p)
        assert (
            path_length_km(r, gs, path) * 2 / C_KM_S * 1000 == np.float64(rtt[p])
            or abs(path_length_km(r, gs, path) * 2 / C_KM_S * 1000 - rtt[p]) < 1e-9
        )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-8000, 8000), min_size=6, max_size=6), st.floats(0.0, 400.0))
def test_occlusion_matches_sampled_segment(xyz, graze_km):
    a = np.array(xyz[:3])
    b = np.array(xyz[3:])
    t = np.linspace(0, 1, 20001)[:, None]
    sampled = np.linalg.norm(a + t * (b - a), axis=1).min()
    exact = segment_min_radius_km(a, b)
    assert exact <= sampled + 1e-9
    assert sampled - exact < 2.0  # sampling step is at most ~0.8 km
    ok = valid_isl_mask(np.stack([a, b]), np.array([[0, 1]]), grazing_alt_km=graze_km)[0]
    assert ok == (exact >= 6378.135 + graze_km)


@settings(max_examples=30, deadline=None)
@given(st.floats(300, 2000), st.floats(0, 60), st.floats(-60, 60), st.floats(-180, 180))
def test_kdtree_and_dense_gsl_agree(alt_km, elev_deg, lat0, lon0):
    rng = np.random.default_rng(int(alt_km * 1000) % 2**32)
    sat = walker_ecef_km(20, 25, alt_km, 53.0, 1)
    lat = np.clip(lat0 + rng.uniform(-20, 20, 900), -89, 89)
    lon = lon0 + rng.uniform(-20, 20, 900)
    gs = wgs84.ecef_km(lat, lon)
    up = wgs84.up(lat, lon)
    # 900 x 500 pairs: KD-tree candidates; 100 x 500: one matrix product
    kd = visible_pairs(gs, up, sat, elev_deg).sorted()
    dense = [
        visible_pairs(gs[k : k + 100], up[k : k + 100], sat, elev_deg).sorted()
        for k in range(0, 900, 100)
    ]
    g = np.concatenate([d.point + k for d, k in zip(dense, range(0, 900, 100), strict=True)])
    s = np.concatenate([d.sat for d in dense])
    assert np.array_equal(kd.point, g) and np.array_equal(kd.sat, s)
    if len(kd.point):  # within the spherical bound from the polar radius (+ geodetic "up")
        assert kd.range_km.max() <= slant_range_bound_km(6378.137 + alt_km, 6356.75, elev_deg) + 40.0


def test_bent_pipe_relays_only_through_gateways():
    r = walker_ecef_km(24, 24, 550.0, 53.0, 1)
    lat = np.array([48.85, 40.71, 45.0])  # Paris, New York, a mid-Atlantic "gateway"
    lon = np.array([2.35, -74.0, -37.0])
    gs = wgs84.ecef_km(lat, lon)
    kw = {"min_elevation_deg": 10.0, "gs_up": wgs84.up(lat, lon)}
    none = np.empty((0, 2), dtype=np.int64)
    # station 2 could relay Paris - New York, but stations do not relay unless allowed
    alone = route_series(r[:, None, :], none, gs, [0], [1], **kw)
    assert np.isnan(alone.rtt_ms[0, 0]) and alone.hops[0, 0] == -1 and alone.path(0, 0) == []
    assert alone.path_changes().tolist() == [0]
    relayed = route_series(r[:, None, :], none, gs, [0], [1], relay_gs=np.array([2]), **kw)
    path = relayed.path(0, 0)
    n = len(r)
    assert path[0] == n and path[-1] == n + 1 and n + 2 in path
    assert relayed.hops[0, 0] == 4  # Paris - sat - gateway - sat - New York
    assert relayed.rtt_ms[0, 0] == path_length_km(r, gs, path) * 2 / C_KM_S * 1000


def test_summary_matches_nan_reductions():
    from skyfence.ground.places import Places
    from skyfence.network.result import LatencyResult
    from skyfence.network.routing import RouteSeries

    rng = np.random.default_rng(7)
    length = rng.uniform(1000, 20000, (9, 6))
    length[rng.random((9, 6)) < 0.3] = np.inf
    length[:, 5] = np.inf  # never connected
    hashes = rng.integers(0, 3, (9, 6)).astype(np.uint64)
    routes = RouteSeries(
        length,
        np.where(np.isfinite(length), 3, -1),
        np.zeros(0, np.int32),
        np.zeros(55, np.int64),
        hashes,
    )
    st4 = Places.from_geodetic(list("abcdefg"), np.zeros(7), np.arange(7.0))
    res = LatencyResult(
        np.arange(9).astype("datetime64[s]").astype("datetime64[ns]"),
        st4,
        np.zeros(6, int),
        np.arange(1, 7),
        routes,
        np.ones(6),
        10,
    )
    s = res.summary()
    rtt = np.where(np.isfinite(length), 2 * length / C_KM_S * 1000, np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.testing.assert_allclose(s["median_rtt_ms"], np.nanmedian(rtt, axis=0))
            np.testing.assert_allclose(s["min_rtt_ms"], np.nanmin(rtt, axis=0))
            np.testing.assert_allclose(s["max_rtt_ms"], np.nanmax(rtt, axis=0))
    np.testing.assert_allclose(s["disconnected_share"], np.isnan(rtt).mean(axis=0))
    assert s["path_changes"].tolist() == (hashes[1:] != hashes[:-1]).sum(axis=0).tolist()
    assert s["disconnected_share"].iloc[5] == 1.0 and np.isnan(s["median_rtt_ms"].iloc[5])


def test_sites_readers_and_fibre():
    from skyfence.errors import SitesError
    from skyfence.ground.cities import bundled_cities, resolve_place
    from skyfence.ground.fibre import fibre_rtt_ms
    from skyfence.ground.stations import bundled_gateways, parse_ground_stations

    top = bundled_cities("top-100")
    assert len(top) == 100 and top.names[0] == "Tokyo"
    assert len(bundled_cities("top-1000")) == 1000
    gw = bundled_gateways("starlink")
    assert len(gw) == 261 and np.isfinite(gw.ecef_km).all()
    assert len(bundled_gateways("starlink-hypatia")) == 198
    assert top.index_of("moscow") == top.index_of("Moskva-(Moscow)")
    assert resolve_place("London").names == ("London",)
    p = resolve_place("-33.9, 151.2")
    assert p.lat_deg[0] == -33.9 and p.lon_deg[0] == 151.2
    with pytest.raises(SitesError, match="unknown place"):
        resolve_place("Nowhere-Town-XYZ")
    with pytest.raises(SitesError, match="line 1: expected 5 fields"):
        parse_ground_stations("0,A,1,2\n", "f.txt")
    with pytest.raises(SitesError, match="latitude 95"):
        parse_ground_stations("0,A,95,2,0\n", "f.txt")
    # WGS72 reproduces Hypatia's own ECEF of Tokyo to the millimetre
    tokyo = parse_ground_stations("0,Tokyo,35.689500,139.691710,0.000000\n", ellipsoid=wgs72)
    assert tokyo.ecef_km[0] == pytest.approx(
        [-3954.843592378, 3354.935154958, 3700.263820217], abs=1e-6
    )
    # London - New York: 5,570 km great circle -> ~55.7 ms RTT in fibre at 2/3 c
    rtt = fibre_rtt_ms(51.5074, -0.1278, 40.7128, -74.0060)
    assert rtt == pytest.approx(2 * 5570.0 / (C_KM_S * 2 / 3) * 1000, rel=2e-3)


def test_gateway_rtt_is_min_over_gateways():
    from skyfence.network.routing import gateway_rtt_ms

    r = walker_ecef_km(12, 12, 550.0, 53.0, 1)
    isl = plus_grid(12, 12)
    lat_t, lon_t = np.array([10.0, -20.0, 60.0]), np.array([0.0, 40.0, 100.0])
    lat_g, lon_g = np.array([30.0, -10.0]), np.array([10.0, 60.0])
    term, gw = wgs84.ecef_km(lat_t, lon_t), wgs84.ecef_km(lat_g, lon_g)
    up_t, up_g = wgs84.up(lat_t, lon_t), wgs84.up(lat_g, lon_g)
    got = gateway_rtt_ms(
        r,
        isl,
        term,
        gw,
        terminal_min_elevation_deg=15.0,
        gateway_min_elevation_deg=20.0,
        terminal_up=up_t,
        gateway_up=up_g,
    )[0]
    both = np.concatenate([term, gw])
    up = np.concatenate([up_t, up_g])
    res = route_series(
        r[:, None, :],
        isl,
        both,
        np.repeat([0, 1, 2], 2),
        np.tile([3, 4], 3),
        min_elevation_deg=np.array([15.0, 15, 15, 20, 20]),
        gs_up=up,
    )
    expected = np.fmin.reduce(res.rtt_ms[0].reshape(3, 2), axis=1)
    np.testing.assert_allclose(got, expected)
    assert np.isfinite(got).any()


@settings(max_examples=25, deadline=None)
@given(walkers)
def test_nearest_neighbour_isls_for_unnumbered_snapshots(w):
    from skyfence.network.isl import nearest_neighbour_isls

    n_planes, s, alt, inc, phase, _ = w
    r = walker_ecef_km(n_planes, s, alt, inc, phase)
    r[0] = np.nan  # a satellite SGP4 could not propagate gets no link
    pairs = nearest_neighbour_isls(r, k=4)
    assert (pairs[:, 0] < pairs[:, 1]).all() and len(np.unique(pairs, axis=0)) == len(pairs)
    deg = np.bincount(pairs.ravel(), minlength=len(r))
    assert deg[0] == 0 and (deg[1:] >= min(4, len(r) - 2)).all()
    # each satellite's 4 nearest (by brute force) are among its links
    d = np.linalg.norm(r[:, None, :] - r[None, :, :], axis=2)
    d[np.arange(len(r)), np.arange(len(r))] = np.inf
    links = {tuple(p) for p in pairs.tolist()}
    for i in range(1, len(r)):
        nearest = np.argsort(np.nan_to_num(d[i], nan=np.inf))[:4]
        nearest_d = d[i, nearest]
        # ties may pick either of equally distant satellites
        linked = [j for j in range(1, len(r)) if (min(i, j), max(i, j)) in links]
        assert np.sort(d[i, linked])[:4] == pytest.approx(np.sort(nearest_d), abs=1e-6)


def test_latency_library_call_places_pairs_and_checks():
    """``latency`` takes places by name, ``lat,lon`` or index, pair text, or every pair."""
    from skyfence.errors import SkyfenceError
    from skyfence.network.latency import latency

    kw = {"start_utc": "2026-04-30T12:00:00Z", "duration_s": 2.0, "step_s": 1.0, "isl": "plus-grid"}
    by_name = latency("kuiper-630", [("Tokyo", "London"), ("51.5,-0.12", "Paris")], **kw)
    assert by_name.rtt_ms.shape == (2, 2) and len(by_name.stations) == 4
    assert list(by_name.stations.names[2:]) == ["51.5,-0.12", "Paris"]
    as_text = latency("kuiper-630", "Tokyo,London;51.5,-0.12,48.8566,2.3522", **kw)
    np.testing.assert_array_equal(as_text.rtt_ms[:, 0], by_name.rtt_ms[:, 0])
    assert list(as_text.stations.names) == ["Tokyo", "London", "51.5,-0.12", "48.8566,2.3522"]
    every = latency("kuiper-630", None, stations=by_name.stations, **kw)
    assert every.rtt_ms.shape == (2, 6)
    np.testing.assert_array_equal(every.rtt_ms[:, [0, 5]], by_name.rtt_ms)  # (0, 1) and (2, 3)
    by_index = latency("kuiper-630", [(0, 1)], stations=by_name.stations, **kw)
    np.testing.assert_array_equal(by_index.rtt_ms[:, 0], by_name.rtt_ms[:, 0])
    for bad, message in [
        ({"min_elevation_deg": 95.0}, "min_elevation_deg must be in"),
        ({"gateway_min_elevation_deg": 20.0}, "needs gateways"),
        ({"max_gsl_range_km": -1.0}, "must be positive"),
    ]:
        with pytest.raises(SkyfenceError, match=message):
            latency("kuiper-630", [("Tokyo", "London")], **kw, **bad)
    with pytest.raises(SkyfenceError, match="same place"):
        latency("kuiper-630", [("Tokyo", "tokyo")], **kw)
