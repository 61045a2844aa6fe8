"""Access windows against skyfield (``find_events`` and an independent brute-force off-nadir
computation in skyfield's ITRS frame), SAR sides, and the Sun against JPL DE421."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from skyfield.api import EarthSatellite, load, wgs84
from skyfield.framelib import itrs

from skyfence.imaging.access import find_accesses
from skyfence.imaging.sensors import Sensor
from skyfence.imaging.sun import sun_ecef_unit, sun_elevation_deg
from skyfence.orbits.catalog import load_elements

SITES = [(44.6, 33.52), (25.03, 121.56), (-33.9, 18.4)]  # Sevastopol, Taipei, Cape Town
TS = load.timescale(builtin=True)
T0 = datetime(2025, 10, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def els():
    return load_elements("active-2025-10-07:SENTINEL-2A,SKYSAT-C1,ICEYE-X2,YAOGAN-30 A,JILIN-1 03")


def _utc(x):
    return x.tz_localize("UTC").to_pydatetime(warn=False)


def test_elevation_accesses_equal_skyfield_find_events(els):
    days = 2
    df = find_accesses(els, Sensor(kind="elevation", min_elevation_deg=20.0), np.array([s[0] for s in SITES]),
                       np.array([s[1] for s in SITES]), start="2025-10-07T00:00:00", duration_s=days * 86400)
    t1 = TS.from_datetime(T0.replace(day=7 + days))
    n = 0
    for i, (lat, lon) in enumerate(SITES):
        site = wgs84.latlon(lat, lon)
        for j in range(len(els)):
            sat = EarthSatellite.from_satrec(els.satrecs[j], TS)
            t, ev = sat.find_events(site, TS.from_datetime(T0), t1, altitude_degrees=20.0)
            rises = [x.utc_datetime() for x, e in zip(t, ev, strict=True) if e == 0]
            sets = [x.utc_datetime() for x, e in zip(t, ev, strict=True) if e == 2]
            mine = df[(df.target == i) & (df.satellite == j)]
            assert len(mine) == len(rises) == len(sets), (i, j)
            for a, b in zip(mine.start_utc, rises, strict=True):
                assert abs((_utc(a) - b).total_seconds()) < 1.0
            for a, b in zip(mine.end_utc, sets, strict=True):
                assert abs((_utc(a) - b).total_seconds()) < 1.0
            # and at our (millisecond) ends skyfield's own altitude is the threshold
            if len(mine):
                ends = TS.from_datetimes([_utc(x) for x in list(mine.start_utc) + list(mine.end_utc)])
                alt = (sat - site).at(ends).altaz()[0].degrees
                np.testing.assert_allclose(alt, 20.0, atol=2e-3)
            n += len(mine)
    assert n > 20


def _off_nadir_skyfield(sat, lat, lon, t):
    """Off-nadir angle (deg) of a site seen from ``sat``: skyfield ITRS positions and the geodetic
    nadir of its subpoint, one instant at a time."""
    r = sat.at(t).frame_xyz(itrs).km.T
    sub = wgs84.subpoint_of(sat.at(t))
    la, lo = np.radians(sub.latitude.degrees), np.radians(sub.longitude.degrees)
    nadir = -np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)
    g = wgs84.latlon(lat, lon).itrs_xyz.km
    d = g - r
    return np.degrees(np.arccos(np.sum(d * nadir, axis=-1) / np.linalg.norm(d, axis=-1)))


@pytest.mark.parametrize("sensor", [Sensor(kind="optical", max_off_nadir_deg=45.0),
                                    Sensor(kind="sar", look_angle_deg=(20.0, 40.0), side="both")])
def test_off_nadir_accesses_equal_brute_force(els, sensor):
    """Every second of one day: the instants our accesses cover are exactly those where the
    skyfield-computed off-nadir angle passes the test (up to 1 s at the ends)."""
    lat, lon = SITES[0]
    df = find_accesses(els, sensor, np.array([lat]), np.array([lon]), start="2025-10-07T00:00:00",
                       duration_s=86400)
    sec = np.arange(0, 86400, 1.0)
    t = TS.utc(2025, 10, 7, 0, 0, sec)
    for j in range(len(els)):
        sat = EarthSatellite.from_satrec(els.satrecs[j], TS)
        off = _off_nadir_skyfield(sat, lat, lon, t)
        above = (sat - wgs84.latlon(lat, lon)).at(t).altaz()[0].degrees > 0.0  # line of sight
        if sensor.kind == "optical":
            brute = off <= sensor.max_off_nadir_deg
        else:
            brute = (off >= sensor.look_angle_deg[0]) & (off <= sensor.look_angle_deg[1])
        brute &= above
        mine = np.zeros(len(sec), bool)
        for a, b in zip(df[df.satellite == j].start_utc, df[df.satellite == j].end_utc, strict=True):
            s0 = (a - np.datetime64("2025-10-07")).total_seconds()
            s1 = (b - np.datetime64("2025-10-07")).total_seconds()
            mine |= (sec >= s0) & (sec <= s1)
        differ = np.flatnonzero(mine != brute)
        # any disagreement is a second next to an access end
        edges = np.flatnonzero(np.diff(brute.astype(int)) != 0)
        assert all(np.min(np.abs(edges - k)) <= 1 for k in differ), (j, differ)
        assert brute.sum() == pytest.approx(mine.sum(), abs=2 * (len(edges) + 1))
    assert len(df) >= 3


def test_sar_sides_split_both(els):
    kw = dict(start="2025-10-07T00:00:00", duration_s=86400)
    lat, lon = np.array([SITES[0][0]]), np.array([SITES[0][1]])
    both = find_accesses(els, Sensor(kind="sar", look_angle_deg=(20.0, 40.0), side="both"), lat, lon, **kw)
    right = find_accesses(els, Sensor(kind="sar", look_angle_deg=(20.0, 40.0), side="right"), lat, lon, **kw)
    left = find_accesses(els, Sensor(kind="sar", look_angle_deg=(20.0, 40.0), side="left"), lat, lon, **kw)
    assert len(right) > 0 and len(left) > 0
    assert len(right) + len(left) == len(both)
    total = lambda d: d.duration_s.sum()  # noqa: E731
    assert total(right) + total(left) == pytest.approx(total(both), abs=0.01)


def test_sun_constraint_keeps_daylight_only(els):
    lat, lon = SITES[1]
    df = find_accesses(els, Sensor(kind="optical", max_off_nadir_deg=45.0, min_sun_elevation_deg=10.0),
                       np.array([lat]), np.array([lon]), start="2025-10-07T00:00:00", duration_s=2 * 86400)
    assert len(df) > 0
    mid = df.start_utc + (df.end_utc - df.start_utc) / 2
    up = wgs84_up(lat, lon)
    sun = sun_elevation_deg(up, sun_ecef_unit(mid.to_numpy()))
    assert (sun >= 10.0 - 1e-6).all()


def wgs84_up(lat, lon):
    from skyfence.geo.earth import wgs84 as earth

    return earth.up(lat, lon)


def test_sun_position_against_de421():
    """Our analytic Sun against skyfield + JPL DE421 (bundled with tatc): < 0.02 deg."""
    tatc = pytest.importorskip("tatc")
    from pathlib import Path

    eph = load(str(Path(tatc.__file__).parent / "resources" / "de421.bsp"))
    t = np.datetime64("2025-01-01T00:00") + (np.arange(60) * 6.1 * 86400).astype("timedelta64[s]")
    tt = TS.from_datetimes([x.astype("datetime64[us]").item().replace(tzinfo=UTC) for x in t])
    for lat, lon in SITES:
        alt = (eph["earth"] + wgs84.latlon(lat, lon)).at(tt).observe(eph["sun"]).apparent().altaz()[0].degrees
        mine = sun_elevation_deg(wgs84_up(lat, lon), sun_ecef_unit(t))
        assert np.max(np.abs(mine - alt)) < 0.02


def test_geostationary_accesses_sampled_with_a_stride_equal_skyfield():
    """A geostationary satellite is sampled with a stride of many steps (19 x 30 s here: its line
    of sight barely turns): its rises and sets over a threshold crossed as its tilted orbit swings
    equal skyfield's within 1 s."""
    geo = load_elements("active-2025-10-07:GAOFEN-4")
    lat, lon = 30.0, 105.0
    site = wgs84.latlon(lat, lon)
    sat = EarthSatellite.from_satrec(geo.satrecs[0], TS)
    t_a, t_b = TS.from_datetime(T0), TS.from_datetime(T0.replace(day=9))
    alt = (sat - site).at(TS.linspace(t_a, t_b, 200)).altaz()[0].degrees
    threshold = float(np.round(0.5 * (alt.min() + alt.max()), 3))  # crossed as the orbit's tilt swings
    assert alt.max() - alt.min() > 0.1
    df = find_accesses(geo, Sensor(kind="elevation", min_elevation_deg=threshold), np.array([lat]), np.array([lon]),
                       start="2025-10-07T00:00:00", duration_s=2 * 86400)
    t, ev = sat.find_events(site, t_a, t_b, altitude_degrees=threshold)
    rises = [x.utc_datetime() for x, e in zip(t, ev, strict=True) if e == 0]
    sets = [x.utc_datetime() for x, e in zip(t, ev, strict=True) if e == 2]
    mine_rises = [_utc(a) for a in df.start_utc if _utc(a) > T0]
    mine_sets = [_utc(b) for b in df.end_utc if _utc(b) < T0.replace(day=9)]
    assert len(mine_rises) == len(rises) >= 1 and len(mine_sets) == len(sets) >= 1
    for a, b in zip(mine_rises + mine_sets, rises + sets, strict=True):
        assert abs((a - b).total_seconds()) < 1.0
