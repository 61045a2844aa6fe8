"""The Earth model: geodetic <-> ECEF round trips, the ellipsoid normal, great circles, and one
definition of every Earth constant."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.geo.earth import unit_to_latlon, unit_vectors, wgs72, wgs84

SRC = Path(__file__).resolve().parents[2] / "src" / "skyfence"

lats = st.floats(-90.0, 90.0, allow_nan=False)
lons = st.floats(-179.999, 180.0, allow_nan=False)
alts = st.floats(-5.0, 40_000.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(lats, lons, alts)
def test_ecef_geodetic_round_trip(lat, lon, alt):
    r = wgs84.ecef_km(lat, lon, alt)
    la, lo, h = wgs84.geodetic(r)
    assert float(la) == pytest.approx(lat, abs=1e-9)
    assert float(h) == pytest.approx(alt, abs=1e-8)
    if abs(lat) < 90.0 - 1e-7:  # longitude is undefined at the poles
        assert (float(lo) - lon + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(wgs84.ecef_km(la, lo, h), r, atol=1e-8)


@settings(max_examples=200, deadline=None)
@given(lats, lons, st.floats(0.0, 2000.0))
def test_up_is_unit_and_normal_to_the_ellipsoid(lat, lon, alt):
    up = wgs84.up(lat, lon)
    assert np.linalg.norm(up) == pytest.approx(1.0, abs=1e-12)
    # moving along up changes only the height
    r = wgs84.ecef_km(lat, lon, alt)
    np.testing.assert_allclose(r + 1.5 * up, wgs84.ecef_km(lat, lon, alt + 1.5), atol=1e-8)
    # and up is orthogonal to the surface tangents east and north
    east, north, up2 = wgs84.enu(lat, lon)
    np.testing.assert_allclose(up2, up, atol=1e-15)
    assert abs(float(east @ up)) < 1e-12 and abs(float(north @ up)) < 1e-12
    d = 1e-5
    if abs(lat) < 89.0:
        tangent = wgs84.ecef_km(lat + d, lon, 0.0) - wgs84.ecef_km(lat - d, lon, 0.0)
        assert abs(float(tangent @ up)) / np.linalg.norm(tangent) < 1e-6


def test_ecef_matches_skyfield():
    skyfield_toposlib = pytest.importorskip("skyfield.toposlib")
    for lat, lon, alt_km in [(51.4779, -0.0015, 0.046), (-33.9, 151.2, 0.0), (89.9, 10.0, 3.0), (0.0, -179.0, 0.5)]:
        pos = skyfield_toposlib.wgs84.latlon(lat, lon, elevation_m=alt_km * 1000.0)
        np.testing.assert_allclose(wgs84.ecef_km(lat, lon, alt_km), pos.itrs_xyz.km, atol=1e-9)


def test_constants():
    assert wgs84.semi_major_km == 6378.137 and wgs84.inverse_flattening == 298.257223563
    assert wgs84.semi_minor_km == pytest.approx(6356.752314245, abs=1e-9)
    assert wgs84.mean_radius_km == pytest.approx(6371.0088, abs=1e-4)
    assert wgs84.authalic_radius_km == pytest.approx(6371.0072, abs=1e-4)
    assert wgs72.semi_major_km == 6378.135


def test_great_circle_known_distances():
    r = wgs84.mean_radius_km
    assert float(wgs84.great_circle_km(0, 0, 0, 90)) == pytest.approx(math.pi / 2 * r, rel=1e-12)
    assert float(wgs84.great_circle_km(10, 20, -10, -160)) == pytest.approx(math.pi * r, rel=1e-9)
    assert float(wgs84.great_circle_km(12.3, 45.6, 12.3, 45.6)) == 0.0
    # London - New York on the mean sphere: 5,570 km
    assert float(wgs84.great_circle_km(51.5074, -0.1278, 40.7128, -74.0060)) == pytest.approx(5570.2, abs=1.0)
    assert float(wgs84.great_circle_km(0, 0, 0, 1, radius_km=1.0)) == pytest.approx(math.radians(1.0))


@settings(max_examples=200, deadline=None)
@given(lats, lons, lats, lons)
def test_great_circle_equals_haversine(la1, lo1, la2, lo2):
    p1, p2, dl = math.radians(la1), math.radians(la2), math.radians(lo2 - lo1)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    want = 2 * wgs84.mean_radius_km * math.asin(math.sqrt(min(1.0, h)))
    assert float(wgs84.great_circle_km(la1, lo1, la2, lo2)) == pytest.approx(want, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(lats, lons, lats, lons, st.floats(0.0, 1.0))
def test_great_circle_interpolate_splits_the_distance(la1, lo1, la2, lo2, f):
    total = float(wgs84.great_circle_km(la1, lo1, la2, lo2))
    if total > 0.999 * math.pi * wgs84.mean_radius_km:
        return  # near-antipodal: the great circle is not unique
    la, lo = wgs84.great_circle_interpolate(la1, lo1, la2, lo2, f)
    assert float(wgs84.great_circle_km(la1, lo1, la, lo)) == pytest.approx(f * total, abs=1e-6)
    assert float(wgs84.great_circle_km(la, lo, la2, lo2)) == pytest.approx((1 - f) * total, abs=1e-6)


def test_unit_vectors_round_trip():
    lat, lon = np.array([0.0, 45.0, -60.0]), np.array([10.0, -120.0, 179.0])
    la, lo = unit_to_latlon(3.0 * unit_vectors(lat, lon))
    np.testing.assert_allclose(la, lat, atol=1e-12)
    np.testing.assert_allclose(lo, lon, atol=1e-12)


EARTH_CONSTANTS = ("6378.137", "6378.135", "298.257", "6371.0", "6356.7")


def test_earth_constants_only_in_earth_py():
    """No module but geo/earth.py writes an Earth radius or flattening."""
    pattern = re.compile("|".join(re.escape(c) for c in EARTH_CONSTANTS))
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "geo" / "earth.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if pattern.search(line):
                found.append(f"{path.relative_to(SRC)}:{n}: {line.strip()}")
    assert not found, "Earth constants outside geo/earth.py:\n" + "\n".join(found)
