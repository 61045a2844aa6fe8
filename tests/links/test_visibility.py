"""Ground-to-satellite visibility: exact equality with brute force, and a skyfield cross-check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skyfence.links import (
    count_visible,
    ground_points,
    look_angles,
    search,
    slant_range_bound_km,
    visible_pairs,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "gsl"

# --------------------------------------------------------------------------- independent reference
# WGS84, written out here on purpose (not imported from the package)
A = 6378.137
F = 1 / 298.257223563
E2 = F * (2 - F)


def ref_ecef(lat_deg, lon_deg, h_km):
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    n = A / np.sqrt(1 - E2 * np.sin(lat) ** 2)
    return np.stack(
        [(n + h_km) * np.cos(lat) * np.cos(lon), (n + h_km) * np.cos(lat) * np.sin(lon),
         (n * (1 - E2) + h_km) * np.sin(lat)], axis=-1)


def ref_enu(lat_deg, lon_deg):
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    e = np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], -1)
    n = np.stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)], -1)
    u = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
    return e, n, u


def brute_force(g, lat, lon, sat, mask_deg):
    """All pairs, one step: elevation = asin(d.up / |d|) from the geodetic ENU frame.

    g [n_pt, 3], sat [n_sat, 3] -> (point, sat, el, az, range) arrays of the visible pairs."""
    e, n, u = ref_enu(lat, lon)
    d = sat[None, :, :] - g[:, None, :]  # [n_pt, n_sat, 3]
    rng = np.linalg.norm(d, axis=-1)
    de = (d * e[:, None, :]).sum(-1)
    dn = (d * n[:, None, :]).sum(-1)
    du = (d * u[:, None, :]).sum(-1)
    el = np.degrees(np.arcsin(np.clip(du / rng, -1, 1)))
    az = np.degrees(np.arctan2(de, dn)) % 360
    with np.errstate(invalid="ignore"):
        vis = el >= mask_deg  # NaN satellites/points compare False
    p, q = np.nonzero(vis)
    return p, q, el[p, q], az[p, q], rng[p, q]


def random_ground(rng, n):
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lat[:3] = [90.0, -90.0, 0.0]  # poles and equator
    lon = rng.uniform(-180, 180, n)
    h = rng.uniform(-0.4, 4.0, n)
    return lat, lon, h


def random_sats(rng, n_sat, n_time):
    """Random positions at 300..1500 km altitude, some NaN (SGP4 errors)."""
    v = rng.normal(size=(n_sat, n_time, 3))
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    r = 6378.137 + rng.uniform(300, 1500, size=(n_sat, n_time, 1))
    s = v * r
    s[rng.random((n_sat, n_time)) < 0.03] = np.nan
    return s


@pytest.fixture(scope="module")
def starlink_ecef():
    """A random 600-satellite subset of the bundled snapshot at 3 random times (lead's SGP4)."""
    from skyfence.orbits.catalog import load_elements
    from skyfence.orbits.propagate import propagate

    rng = np.random.default_rng(11)
    el = load_elements("starlink")
    sub = el.subset(np.sort(rng.choice(len(el), 600, replace=False)))
    t0 = np.datetime64("2026-04-30T00:00:00", "ns")
    t = t0 + (rng.uniform(0, 86400, 3) * 1e9).astype("timedelta64[ns]")
    return propagate(sub, t).r_ecef_km


def check_exact(vis, counts, g_lat, g_lon, g_h, sat, mask, mobile=False):
    """The sparse result holds exactly the brute-force pairs, with the same values."""
    n_pt, n_sat, n_time = len(g_lat), sat.shape[0], sat.shape[1]
    ref = {name: [] for name in ("key", "el", "az", "r", "polar")}
    for k in range(n_time):
        la, lo, hh = (g_lat[:, k], g_lon[:, k], g_h[:, k]) if mobile else (g_lat, g_lon, g_h)
        p, q, el, az, r = brute_force(ref_ecef(la, lo, hh), la, lo, sat[:, k], mask)
        ref["key"].append((k * n_pt + p) * n_sat + q)
        ref["el"].append(el)
        ref["az"].append(az)
        ref["r"].append(r)
        ref["polar"].append(np.abs(la[p]) > 89.999)
    ref = {k: np.concatenate(v) for k, v in ref.items()}
    o = np.argsort(ref["key"])
    ref = {k: v[o] for k, v in ref.items()}
    key = (vis.time.astype(np.int64) * n_pt + vis.point) * n_sat + vis.sat
    og = np.argsort(key)
    np.testing.assert_array_equal(key[og], ref["key"])  # exactly the same pairs, no duplicates
    np.testing.assert_allclose(vis.elevation_deg[og], ref["el"], rtol=0, atol=1e-7)
    np.testing.assert_allclose(vis.range_km[og], ref["r"], rtol=0, atol=1e-8)
    daz = (vis.azimuth_deg[og] - ref["az"] + 180) % 360 - 180
    assert np.all(np.abs(daz[~ref["polar"]]) < 1e-6)  # azimuth is a convention at the poles
    want = np.bincount(ref["key"] // n_sat % n_pt * n_time + ref["key"] // (n_sat * n_pt),
                       minlength=n_pt * n_time).reshape(n_pt, n_time)
    np.testing.assert_array_equal(counts, want)
    np.testing.assert_array_equal(vis.counts(), want)


@pytest.mark.parametrize("seed,mask", [(1, 25.0), (2, 0.0), (3, 0.1), (4, 40.0), (5, 10.0)])
def test_exact_random_positions(seed, mask):
    rng = np.random.default_rng(seed)
    lat, lon, h = random_ground(rng, 400)
    sat = random_sats(rng, 700, 3)
    g, up = ground_points(lat, lon, h)
    vis = visible_pairs(g, up, sat, mask)
    counts = count_visible(g, up, sat, mask)
    assert counts.dtype == np.int16 and counts.shape == (400, 3)
    assert len(vis) > 100  # the test exercises something
    check_exact(vis, counts, lat, lon, h, sat, mask)


@pytest.mark.parametrize("mask", [25.0, 35.0])
def test_exact_starlink(starlink_ecef, mask):
    rng = np.random.default_rng(7)
    # dense random points inside the Starlink latitude band, and some outside
    lat = rng.uniform(-65, 65, 500)
    lon = rng.uniform(-180, 180, 500)
    h = rng.uniform(0, 2, 500)
    g, up = ground_points(lat, lon, h)
    vis = visible_pairs(g, up, starlink_ecef, mask)
    counts = count_visible(g, up, starlink_ecef, mask)
    assert len(vis) > 1000
    check_exact(vis, counts, lat, lon, h, starlink_ecef, mask)


def test_exact_mobile_points_with_absence():
    rng = np.random.default_rng(21)
    n_pt, n_time = 300, 4
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, (n_pt, n_time))))
    lon = rng.uniform(-180, 180, (n_pt, n_time))
    h = rng.uniform(0, 1, (n_pt, n_time))
    absent = rng.random((n_pt, n_time)) < 0.2
    lat[absent] = np.nan
    lon[absent] = np.nan
    sat = random_sats(rng, 600, n_time)
    g, up = ground_points(lat, lon, h)
    assert g.shape == (n_pt, n_time, 3)
    vis = visible_pairs(g, up, sat, 20.0)
    counts = count_visible(g, up, sat, 20.0)
    assert np.all(counts[absent] == 0)
    assert len(vis) > 100
    check_exact(vis, counts, lat, lon, h, sat, 20.0, mobile=True)


def test_one_step_and_empty_inputs():
    rng = np.random.default_rng(5)
    lat, lon, h = random_ground(rng, 50)
    g, up = ground_points(lat, lon, h)
    sat = random_sats(rng, 300, 1)
    # [n_sat, 3] is one step
    np.testing.assert_array_equal(count_visible(g, up, sat[:, 0], 25.0), count_visible(g, up, sat, 25.0))
    # every satellite failed -> nothing visible
    nan_sat = np.full((10, 2, 3), np.nan)
    assert count_visible(g, up, nan_sat, 25.0).sum() == 0
    assert len(visible_pairs(g, up, nan_sat, 25.0)) == 0
    # no ground points
    assert count_visible(g[:0], up[:0], sat, 25.0).shape == (0, 1)
    with pytest.raises(ValueError):
        count_visible(g, up[:10], sat, 25.0)
    with pytest.raises(ValueError, match="min_elevation_deg and/or max_range_km"):
        count_visible(g, up, sat)


def test_sorted_and_step_views():
    rng = np.random.default_rng(9)
    lat, lon, h = random_ground(rng, 200)
    g, up = ground_points(lat, lon, h)
    sat = random_sats(rng, 500, 3)
    vis = visible_pairs(g, up, sat, 10.0).sorted()
    key = (vis.time.astype(np.int64) * 10**6 + vis.point) * 10**4 + vis.sat
    assert np.all(np.diff(key) > 0)
    for k in range(3):
        st = vis.step(k)
        assert np.all(st.time == k)
        np.testing.assert_array_equal(st.counts()[:, k], vis.counts()[:, k])
    mx = vis.max_elevation_deg()
    assert np.all(np.isnan(mx) == (vis.counts() == 0))


def test_slant_range_bound_geometry():
    # satellite overhead: range = altitude; at 0 deg: the tangent distance
    assert slant_range_bound_km(7000.0, 6400.0, 90.0) == pytest.approx(600.0)
    assert slant_range_bound_km(7000.0, 6400.0, 0.0) == pytest.approx(np.sqrt(7000**2 - 6400**2))
    assert slant_range_bound_km(6000.0, 6400.0, 10.0) == 0.0


# --------------------------------------------------------------------------- skyfield cross-check


def _tles():
    lines = (DATA / "starlink_8.tle").read_text().splitlines()
    return [(lines[i].strip(), lines[i + 1], lines[i + 2]) for i in range(0, len(lines), 3)]


def test_look_angles_match_skyfield():
    """Same TLE lines in skyfield: altaz from the geodetic station vs our look angles.

    (a) skyfield's own ITRS satellite positions through `look_angles` (our geometry alone),
    (b) the package's SGP4 + TEME->ECEF through `look_angles` (the whole chain)."""
    from skyfield.api import EarthSatellite, load, wgs84
    from skyfield.framelib import itrs

    from skyfence.orbits.catalog import load_elements
    from skyfence.orbits.propagate import propagate

    ts = load.timescale(builtin=True)
    tles = _tles()
    elements = load_elements(str(DATA / "starlink_8.tle"))
    assert len(elements) == len(tles)
    t_utc = np.array(["2026-04-30T06:00:00", "2026-04-30T18:31:17.5"], dtype="datetime64[ns]")
    eph = propagate(elements, t_utc).r_ecef_km
    stations = [(50.45, 30.52, 0.18), (-33.9, 151.2, 0.05), (64.1, -21.9, 0.0)]
    n_checked = 0
    for k, t64 in enumerate(t_utc):
        sec = (t64 - t64.astype("datetime64[D]")).astype(np.int64) / 1e9
        y, mo, d = (int(x) for x in str(t64.astype("datetime64[D]")).split("-"))
        t = ts.utc(y, mo, d, 0, 0, sec)
        for i, (name, l1, l2) in enumerate(tles):
            sat = EarthSatellite(l1, l2, name, ts)
            s_itrs = sat.at(t).frame_xyz(itrs).km
            for lat, lon, h in stations:
                topos = wgs84.latlon(lat, lon, elevation_m=h * 1000)
                alt, az, dist = (sat - topos).at(t).altaz()
                g, up = ground_points(np.array(lat), np.array(lon), h)
                el_a, az_a, r_a = look_angles(g, up, s_itrs)
                assert el_a == pytest.approx(alt.degrees, abs=1e-6)
                assert r_a == pytest.approx(dist.km, abs=1e-5)
                assert (az_a - az.degrees + 180) % 360 - 180 == pytest.approx(0, abs=1e-5)
                el_b, az_b, r_b = look_angles(g, up, eph[i, k])
                assert el_b == pytest.approx(alt.degrees, abs=1e-3)
                assert r_b == pytest.approx(dist.km, abs=0.03)
                if alt.degrees > -80:
                    assert (az_b - az.degrees + 180) % 360 - 180 == pytest.approx(0, abs=2e-3)
                n_checked += 1
    assert n_checked == 2 * 8 * 3


def test_pairs_and_counts_agree_on_the_mask_boundary():
    """Satellites placed within 1e-9 deg of the mask: counts, pairs and look_angles agree."""
    from skyfence.geo.earth import wgs84

    rng = np.random.default_rng(3)
    mask = 25.0
    lat = rng.uniform(-60, 60, 40)
    lon = rng.uniform(-180, 180, 40)
    g, up = ground_points(lat, lon)
    e, n, u = wgs84.enu(lat, lon)
    deltas = np.array([-1e-6, -1e-9, -1e-12, 0.0, 1e-12, 1e-9, 1e-6])
    sats = []
    for dl in deltas:
        el = np.radians(mask + dl)
        az = rng.uniform(0, 2 * np.pi, len(lat))
        v = (np.cos(el) * (np.sin(az)[:, None] * e + np.cos(az)[:, None] * n)
             + np.sin(el) * u)
        sats.append(g + 1000.0 * v)
    sat = np.concatenate(sats)[:, None, :]  # [n_sat, 1, 3]
    el_all, _, _ = look_angles(g[:, None, :], up[:, None, :], sat[None, :, 0, :])
    want = (el_all >= mask).sum(axis=1)
    assert 0 < want.sum() < el_all.size
    np.testing.assert_array_equal(count_visible(g, up, sat, mask)[:, 0], want)
    np.testing.assert_array_equal(visible_pairs(g, up, sat, mask).counts()[:, 0], want)


@pytest.mark.parametrize("step_s,nan_at", [(1.0, None), (1.0, (5, 20)), (60.0, None)])
def test_exact_few_fixed_points_windowed(step_s, nan_at, monkeypatch):
    """A few fixed points over many satellites take one candidate search per window of steps
    (links.search.window_candidates): exactly the brute-force pairs, also where a satellite is NaN
    at one step of a window and where the satellites move too far in a window (60 s steps: step
    by step instead)."""
    from skyfence.links import visibility
    from skyfence.orbits.catalog import load_elements
    from skyfence.orbits.propagate import propagate

    used = []

    def spy(ground, s):
        out = search.window_candidates(ground, s)
        used.append(out is not None)
        return out

    monkeypatch.setattr(visibility, "window_candidates", spy)
    rng = np.random.default_rng(5)
    el = load_elements("starlink")
    sub = el.subset(np.sort(rng.choice(len(el), 1500, replace=False)))
    t = np.datetime64("2026-04-30T06:00:00", "ns") + (np.arange(40) * step_s * 1e9).astype("timedelta64[ns]")
    sat = propagate(sub, t).r_ecef_km
    if nan_at is not None:
        sat[nan_at[0], nan_at[1]] = np.nan
    lat, lon, h = rng.uniform(-60, 60, 300), rng.uniform(-180, 180, 300), rng.uniform(0, 2, 300)
    assert 300 * 1500 > search.DENSE_PAIRS and 300 <= search.FEW_POINTS  # the windowed path applies
    g, up = ground_points(lat, lon, h)
    vis = visible_pairs(g, up, sat, 25.0)
    assert len(vis) > 1000
    check_exact(vis, count_visible(g, up, sat, 25.0), lat, lon, h, sat, 25.0)
    # windows of 16, 16 and 8 steps; the one with the NaN goes step by step without asking
    assert used == ([True, True] if nan_at else [step_s == 1.0] * 3)
