"""Terminals: files (CSV / GeoJSON / Parquet) with clear errors, synthetic fleets, mobile tracks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from skyfence.errors import SkyfenceError
from skyfence.geo.earth import wgs84
from skyfence.geo.regions import resolve_region
from skyfence.ground.cities import load_cities
from skyfence.ground.fleet import synthetic_fleet
from skyfence.ground.terminals import Terminals, parse_groups, read_terminals
from skyfence.ground.tracks import interpolate_tracks, read_tracks

# --------------------------------------------------------------------------- fixed terminals


def test_read_csv_with_groups(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("id,lat,lon,group,extra\nA,50.45,30.52,ngo;medical,x\nB,-33.9,151.2,,y\n"
                 "\nC, 44.6 ,33.5, military ,z\n")
    t = read_terminals(p, default_group="public")
    assert list(t.ids) == ["A", "B", "C"]
    assert t.groups == (("ngo", "medical"), ("public",), ("military",))
    np.testing.assert_allclose(t.lat_deg, [50.45, -33.9, 44.6])
    np.testing.assert_allclose(t.lon_deg, [30.52, 151.2, 33.5])
    assert not t.mobile and len(t) == 3
    g, up = wgs84.ecef_km(t.lat_deg, t.lon_deg, t.heights_km), wgs84.up(t.lat_deg, t.lon_deg)
    assert g.shape == (3, 3) and up.shape == (3, 3)
    np.testing.assert_allclose(np.linalg.norm(up, axis=1), 1.0)


def test_relative_path_and_geojson(tmp_path):
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "g1", "geometry": {"type": "Point", "coordinates": [30.5, 50.4]},
         "properties": {"group": ["a", "b"]}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-179.5, -17.0]},
         "properties": {"id": "g2", "group": "fiji"}},
    ]}
    (tmp_path / "t.geojson").write_text(json.dumps(fc))
    t = read_terminals("t.geojson", base_dir=tmp_path)
    assert list(t.ids) == ["g1", "g2"]
    assert t.groups == (("a", "b"), ("fiji",))
    np.testing.assert_allclose(t.lon_deg, [30.5, -179.5])


def test_read_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": ["p1", "p2"], "latitude": [10.0, 20.0], "longitude": [1.0, 2.0],
                      "group": ["x;y", None]})
    pq.write_table(table, tmp_path / "t.parquet")
    t = read_terminals(tmp_path / "t.parquet")
    assert t.groups == (("x", "y"), ())
    np.testing.assert_allclose(t.lat_deg, [10, 20])
    bad = pa.table({"id": ["p1", "p2"], "lat": [10.0, 95.0], "lon": [1.0, 2.0]})
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(SkyfenceError, match=r"bad\.parquet, row 2: lat 95"):
        read_terminals(tmp_path / "bad.parquet")


@pytest.mark.parametrize(
    "body,pattern",
    [
        ("id,lat,lon\nA,50,30\nB,abc,30\n", r"line 3: lat 'abc' is not a number"),
        ("id,lat,lon\nA,50,30\nB,91,30\n", r"line 3: lat '91' is outside \[-90, 90\]"),
        ("id,lat,lon\nA,50,30\nB,10,181\n", r"line 3: lon '181' is outside"),
        ("id,lat,lon\nA,50,30\nA,10,20\n", r"line 3: duplicate id 'A' \(first at .*line 2\)"),
        ("id,lat,lon\n,50,30\n", r"line 2: empty id"),
        ("id,lat,lon\nA,50\n", r"line 2: 2 fields, header has 3"),
        ("id,latitude\nA,50\n", r"no longitude column"),
        ("", r"empty file"),
        ("id,lat,lon\nA,nan,30\n", r"line 2: lat 'nan' is outside"),
    ],
)
def test_bad_csv_rows_name_file_and_line(tmp_path, body, pattern):
    p = tmp_path / "terminals.csv"
    p.write_text(body)
    with pytest.raises(SkyfenceError, match=pattern) as exc:
        read_terminals(p)
    assert "terminals.csv" in str(exc.value)


def test_bad_files(tmp_path):
    with pytest.raises(SkyfenceError, match="not found"):
        read_terminals(tmp_path / "missing.csv")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(SkyfenceError, match="unknown terminal file type"):
        read_terminals(tmp_path / "t.xlsx")
    (tmp_path / "t.geojson").write_text('{"type": "FeatureCollection", "features": '
                                        '[{"type": "Feature", "geometry": {"type": "Polygon"}}]}')
    with pytest.raises(SkyfenceError, match=r"feature 0: geometry must be a Point"):
        read_terminals(tmp_path / "t.geojson")
    (tmp_path / "b.geojson").write_text("{not json")
    with pytest.raises(SkyfenceError, match="not valid JSON"):
        read_terminals(tmp_path / "b.geojson")


def test_parse_groups():
    assert parse_groups(" a ; b;;a ") == ("a", "b")
    assert parse_groups(None) == () and parse_groups("") == ()
    assert parse_groups(["x", "y"]) == ("x", "y")


# --------------------------------------------------------------------------- synthetic fleet


def test_fleet_reproducible_and_inside():
    ukr = resolve_region("UKR")
    a = synthetic_fleet(3000, ukr, seed=42, rural_share=0.2)
    b = synthetic_fleet(3000, ukr, seed=42, rural_share=0.2)
    c = synthetic_fleet(3000, ukr, seed=43, rural_share=0.2)
    np.testing.assert_array_equal(a.lat_deg, b.lat_deg)
    np.testing.assert_array_equal(a.lon_deg, b.lon_deg)
    assert not np.array_equal(a.lat_deg, c.lat_deg)
    assert len(a) == 3000 and len(set(a.ids)) == 3000
    assert a.groups[0] == ("fleet",)
    assert shapely.contains_xy(ukr, a.lon_deg, a.lat_deg).all()
    # spread by population: Kyiv (the largest city) holds far more than its share of the area
    near_kyiv = wgs84.great_circle_km(a.lat_deg, a.lon_deg, 50.45, 30.52) < 40
    assert near_kyiv.mean() > 0.05  # ~0.8 % of Ukraine's area lies within 40 km of Kyiv


def test_fleet_across_antimeridian_and_all_rural():
    fiji = resolve_region("FJI")
    f = synthetic_fleet(500, fiji, seed=1, rural_share=1.0, group=("a", "b"), id_prefix="F")
    assert shapely.contains_xy(fiji, f.lon_deg, f.lat_deg).all()
    assert np.all(np.abs(f.lon_deg) <= 180)
    assert (f.lon_deg < 0).any() and (f.lon_deg > 0).any()  # both sides of 180 deg
    assert f.ids[0] == "F000000" and f.groups[0] == ("a", "b")
    with pytest.raises(SkyfenceError):
        synthetic_fleet(10, fiji, rural_share=1.5)


def test_cities_bundle():
    c = load_cities()
    assert len(c) > 1249 and np.all(c.pop >= 0) and (c.pop > 0).mean() > 0.99
    assert set(np.unique(c.source)) == {"ne", "hypatia"}


# --------------------------------------------------------------------------- mobile terminals


def _grid(start, n, step_s):
    return np.datetime64(start, "ns") + np.arange(n) * np.timedelta64(step_s, "s")


def test_track_exact_at_knots_and_constant_speed(tmp_path):
    # along the equator at 1 deg of longitude per 10 min -> 111.2 km per 10 min = 667.2 km/h
    knots = _grid("2026-04-30T00:00:00", 4, 600)
    rows = ["id,t_utc,lat,lon,group"]
    for k, t in enumerate(knots[::-1]):  # rows in any order
        rows.append(f"boat,{np.datetime_as_string(t, 's')}Z,0.0,{3 - k}.0,maritime")
    rows.append("drone,2026-04-30T00:05:00Z,44.0,33.0,uav")
    rows.append("drone,2026-04-30T00:25:00Z,44.6,33.5,uav")
    (tmp_path / "tracks.csv").write_text("\n".join(rows) + "\n")
    steps = _grid("2026-04-30T00:00:00", 37, 60)  # 0 .. 36 min
    t = read_tracks(tmp_path / "tracks.csv", steps)
    assert t.mobile and t.lat_deg.shape == (2, 37) and t.n_time == 37
    assert list(t.ids) == ["boat", "drone"] and t.groups == (("maritime",), ("uav",))
    # exact at knots
    np.testing.assert_array_equal(t.lon_deg[0, [0, 10, 20, 30]], [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(t.lat_deg[0, [0, 10, 20, 30]], 0.0)
    assert t.lat_deg[1, 5] == 44.0 and t.lon_deg[1, 25] == 33.5
    # constant speed
    v = 2 * np.pi * (2 * 6378.137 + 6356.752314245) / 3 / 360 * 6  # km/h, WGS84 mean radius
    np.testing.assert_allclose(t.speed_kmh[0, :30], v, rtol=1e-9)
    np.testing.assert_allclose(t.lon_deg[0, :31], np.arange(31) / 10, atol=1e-9)
    # absent outside the span
    present = t.present()
    assert present[0, :31].all() and not present[0, 31:].any()
    assert not present[1, :5].any() and present[1, 5:26].all() and not present[1, 26:].any()
    assert np.all(t.speed_kmh[~present] == 0)
    # the drone flies a great circle at constant speed
    la, lo = t.lat_deg[1, 5:26], t.lon_deg[1, 5:26]
    d_step = wgs84.great_circle_km(la[:-1], lo[:-1], la[1:], lo[1:])
    np.testing.assert_allclose(d_step, d_step[0], rtol=1e-9)
    total = wgs84.great_circle_km(44.0, 33.0, 44.6, 33.5)
    np.testing.assert_allclose(t.speed_kmh[1, 5:25], total / (20 / 60), rtol=1e-9)
    # ECEF for gsl: [n, n_time, 3], NaN where absent
    g = wgs84.ecef_km(t.lat_deg, t.lon_deg, t.heights_km[:, None])
    assert g.shape == (2, 37, 3) and np.isnan(g[0, 31:]).all()


def test_track_clamp_and_single_fix():
    idx = np.array([0, 0, 1])
    tf = _grid("2026-04-30T00:10:00", 2, 600)
    tfix = np.array([tf[0], tf[1], tf[0]])
    steps = _grid("2026-04-30T00:00:00", 4, 600)  # 0, 10, 20, 30 min
    la, lo, sp = interpolate_tracks(idx, tfix, [10, 20, 5], [0, 0, 5], 2, steps, outside="clamp")
    np.testing.assert_array_equal(la[0], [10, 10, 20, 20])
    assert sp[0, 0] == 0 and sp[0, 3] == 0 and sp[0, 1] > 0
    np.testing.assert_array_equal(la[1], [5, 5, 5, 5])
    la, lo, sp = interpolate_tracks(idx, tfix, [10, 20, 5], [0, 0, 5], 2, steps)
    assert np.isnan(la[1, [0, 2, 3]]).all() and la[1, 1] == 5
    with pytest.raises(SkyfenceError):
        interpolate_tracks(idx, tfix, [10, 20, 5], [0, 0, 5], 2, steps, outside="wrap")


def test_bad_track_rows(tmp_path):
    p = tmp_path / "tr.csv"
    p.write_text("id,t_utc,lat,lon\nX,2026-04-30T00:00:00Z,1,2\nX,yesterday,1,2\n")
    with pytest.raises(SkyfenceError, match=r"tr\.csv, line 3: t_utc 'yesterday'"):
        read_tracks(p, _grid("2026-04-30", 2, 60))
    p.write_text("id,t_utc,lat,lon\nX,2026-04-30T00:00:00Z,1,2\nX,2026-04-30T00:00:00,3,4\n")
    with pytest.raises(SkyfenceError, match=r"line 3: second fix of 'X'"):
        read_tracks(p, _grid("2026-04-30", 2, 60))
    p.write_text("id,lat,lon\nX,1,2\n")
    with pytest.raises(SkyfenceError, match="no t_utc column"):
        read_tracks(p, _grid("2026-04-30", 2, 60))


def test_concat_fixed_and_mobile():
    steps = _grid("2026-04-30T00:00:00", 3, 60)
    fixed = Terminals(ids=np.array(["f"], object), groups=(("g",),),
                      lat_deg=np.array([1.0]), lon_deg=np.array([2.0]))
    la, lo, sp = interpolate_tracks(np.array([0, 0]), steps[[0, 2]], [0, 0], [0, 1], 1, steps)
    mob = Terminals(ids=np.array(["m"], object), groups=((),), lat_deg=la, lon_deg=lo,
                    t_utc=steps, speed_kmh=sp)
    both = Terminals.concat([fixed, mob])
    assert both.mobile and both.lat_deg.shape == (2, 3)
    np.testing.assert_array_equal(both.lat_deg[0], 1.0)
    np.testing.assert_array_equal(both.speed_kmh[0], 0.0)
    assert both.subset([1]).ids.tolist() == ["m"]
    with pytest.raises(SkyfenceError, match="not unique"):
        Terminals.concat([fixed, fixed])


def test_up_vectors_unit_and_geodetic():
    u = wgs84.up(np.array([0.0, 90.0, 45.0]), np.array([0.0, 0.0, 90.0]))
    np.testing.assert_allclose(u, [[1, 0, 0], [0, 0, 1], [0, np.sqrt(0.5), np.sqrt(0.5)]],
                               atol=1e-15)
