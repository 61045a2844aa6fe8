"""Geofences without leaks: every terminal's served/denied state equals an independent computation
(shapely point in polygon on the gazetteer's source polygon, great-circle distance for a circle,
elevations of every satellite from scratch), cells in overlap mode cover a region without a gap, and
``buffer_km`` grows or shrinks a region by the right geodesic distance."""

from __future__ import annotations

import math
import textwrap

import cedarpy
import numpy as np
import pytest
import shapely

from skyfence.coverage.stats import DENIED, SERVED, UNCOVERED
from skyfence.errors import ScenarioError
from skyfence.geo.cells import cell_of
from skyfence.geo.earth import wgs84
from skyfence.geo.gazetteer import lookup_named_region
from skyfence.geo.regions import circle, region_cells, resolve_region
from skyfence.orbits.catalog import load_elements
from skyfence.orbits.propagate import propagate
from skyfence.policy.cedar import cell_entity, make_request, terminal_entity
from skyfence.service.scenario import load_scenario
from skyfence.service.simulate import build_ground, compute_visibility, decide

CIRCLE = (24.2, 119.4, 40.0)  # lat, lon, radius_km: a circular geofence in the Taiwan Strait
POLICY = """permit (principal, action == Action::"connect", resource);
forbid (principal, action == Action::"connect", resource in Region::"taiwan");
forbid (principal, action == Action::"connect", resource in Region::"crimea");
forbid (principal, action == Action::"connect", resource in Region::"strait");
"""
RES = 4


def _destination(lat_deg, lon_deg, az_rad, d_km):
    """Great-circle destination on the mean sphere (independent of skyfence.geo.buffers)."""
    p1, l1, d = np.radians(lat_deg), np.radians(lon_deg), np.asarray(d_km) / wgs84.mean_radius_km
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(az_rad))
    l2 = l1 + np.arctan2(np.sin(az_rad) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 180.0) % 360.0 - 180.0


def _border_points(geom, step_deg: float = 0.005) -> np.ndarray:
    """Border vertices (lon, lat) of a polygon, densified."""
    xy = [np.asarray(shapely.segmentize(r, step_deg).coords)
          for p in getattr(geom, "geoms", [geom]) for r in [p.exterior, *p.interiors]]
    return np.concatenate(xy)


def _sample_around(geom, rng, n_in: int, n_out: int, n_border: int) -> tuple[np.ndarray, np.ndarray]:
    """Points inside, outside (near the region) and within 1 km of the border of `geom`."""
    minx, miny, maxx, maxy = geom.bounds
    lats, lons = [], []
    for want_inside, n in ((True, n_in), (False, n_out)):
        got = 0
        while got < n:
            x = rng.uniform(minx - 0.5, maxx + 0.5, 4000)
            y = rng.uniform(miny - 0.5, maxy + 0.5, 4000)
            keep = shapely.intersects_xy(geom, x, y) == want_inside
            x, y = x[keep][: n - got], y[keep][: n - got]
            lons.append(x)
            lats.append(y)
            got += len(x)
    border = _border_points(geom)
    pick = border[rng.integers(0, len(border), n_border)]
    la, lo = _destination(pick[:, 1], pick[:, 0], rng.uniform(0, 2 * np.pi, n_border), rng.uniform(0, 1.0, n_border))
    return np.concatenate([*lats, la]), np.concatenate([*lons, lo])


def _elevations_deg(lat_deg, lon_deg, r_sat_km):
    """Elevation of every satellite [n_sat] from a point, from scratch: geodetic -> ECEF on WGS84,
    the local vertical, the angle above the horizontal plane."""
    a, f = 6378.137, 1 / 298.257223563
    e2 = f * (2 - f)
    p, lam = math.radians(lat_deg), math.radians(lon_deg)
    n = a / math.sqrt(1 - e2 * math.sin(p) ** 2)
    g = np.array([n * math.cos(p) * math.cos(lam), n * math.cos(p) * math.sin(lam), n * (1 - e2) * math.sin(p)])
    up = np.array([math.cos(p) * math.cos(lam), math.cos(p) * math.sin(lam), math.sin(p)])
    d = r_sat_km - g
    return np.degrees(np.arcsin((d @ up) / np.linalg.norm(d, axis=1)))


@pytest.fixture(scope="module")
def fenced(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fence")
    rng = np.random.default_rng(9)
    twn, crimea = lookup_named_region("TWN"), lookup_named_region("B89")
    strait = circle(*CIRCLE)
    parts = [_sample_around(g, rng, 40, 40, 120) for g in (twn, crimea, strait)]
    lat = np.concatenate([p[0] for p in parts])
    lon = np.concatenate([p[1] for p in parts])
    rows = "\n".join(f"t{i},{a:.9f},{b:.9f}" for i, (a, b) in enumerate(zip(lat, lon, strict=True)))
    (tmp / "terminals.csv").write_text("id,lat,lon\n" + rows + "\n")
    (tmp / "fence.cedar").write_text(POLICY)
    (tmp / "s.toml").write_text(textwrap.dedent(f"""
        [constellation]
        elements = "oneweb"
        min_elevation_deg = 30
        [time]
        start = "2026-04-30T00:00:00Z"
        duration_s = 1200
        step_s = 600
        [ground]
        region = ["taiwan", "crimea", "strait"]
        h3_resolution = {RES}
        terminals = "terminals.csv"
        [regions]
        taiwan = "TWN"
        crimea = "B89"
        strait = {{ lat = {CIRCLE[0]}, lon = {CIRCLE[1]}, radius_km = {CIRCLE[2]} }}
        [policy]
        files = ["fence.cedar"]
    """))
    sc = load_scenario(tmp / "s.toml")
    ground = build_ground(sc)
    vis = compute_visibility(sc, ground)
    dec = decide(sc, ground, vis)
    inside = (shapely.intersects_xy(twn, lon, lat) | shapely.intersects_xy(crimea, lon, lat)
              | (wgs84.great_circle_km(CIRCLE[0], CIRCLE[1], lat, lon) <= CIRCLE[2]))
    return sc, ground, vis, dec, lat, lon, inside


def test_served_or_denied_equals_independent_geometry_and_elevation(fenced):
    sc, ground, vis, dec, lat, lon, inside = fenced
    assert ground.cell_membership == "overlap" and ground.terminal_membership == "point-in-polygon"
    assert 100 < inside.sum() < len(lat) - 100  # both sides of every border are sampled
    eph = propagate(load_elements("oneweb"), ground.t_utc)
    checked = {SERVED: 0, DENIED: 0, UNCOVERED: 0}
    for k in range(len(ground.t_utc)):
        r = eph.r_ecef_km[:, k]
        for i in range(len(lat)):
            el = _elevations_deg(lat[i], lon[i], r)
            el = el[np.isfinite(el)]
            if np.any(np.abs(el - ground.min_elevation_deg) < 1e-6):
                continue  # on the mask: either count is right
            covered = bool((el >= ground.min_elevation_deg).any())
            want = (DENIED if inside[i] else SERVED) if covered else UNCOVERED
            assert dec.terminal_states[i, k] == want, (i, k, lat[i], lon[i], bool(inside[i]), covered)
            checked[want] += 1
    assert checked[SERVED] > 50 and checked[DENIED] > 50


def test_bulk_decisions_equal_cedar_with_independent_regions(fenced):
    """cedarpy, given the regions of the terminal's own position computed here, agrees."""
    sc, ground, vis, dec, lat, lon, inside = fenced
    twn, crimea = lookup_named_region("TWN"), lookup_named_region("B89")
    rng = np.random.default_rng(1)
    for i in rng.choice(len(lat), 80, replace=False):
        regions = [name for name, hit in (
            ("taiwan", twn.intersects(shapely.Point(lon[i], lat[i]))),
            ("crimea", crimea.intersects(shapely.Point(lon[i], lat[i]))),
            ("strait", wgs84.great_circle_km(CIRCLE[0], CIRCLE[1], lat[i], lon[i]) <= CIRCLE[2])) if hit]
        cell = int(vis.terminal_cells[i, 0])
        entities = [terminal_entity(f"t{i}", ("default",)), cell_entity(cell, regions)]
        entities += [{"uid": {"type": "Region", "id": r}, "attrs": {}, "parents": []} for r in regions]
        entities += [{"uid": {"type": "Group", "id": "default"}, "attrs": {}, "parents": []}]
        allow = cedarpy.is_authorized(make_request(f"t{i}", cell, ground.t_utc[0], 0), POLICY, entities).allowed
        assert dec.terminal_allowed[i, 0] == allow == (not inside[i])


@pytest.mark.parametrize("name, spec", [("taiwan", "TWN"), ("crimea", "B89"), ("strait", None)])
def test_overlap_cells_cover_the_polygon_without_gap(fenced, name, spec):
    sc, ground, vis, dec, lat, lon, inside = fenced
    rs = ground.regions
    geom = lookup_named_region(spec) if spec else circle(*CIRCLE)
    listed = rs.cells(name)
    rng = np.random.default_rng(5)
    minx, miny, maxx, maxy = geom.bounds
    x = rng.uniform(minx, maxx, 60_000)
    y = rng.uniform(miny, maxy, 60_000)
    keep = shapely.intersects_xy(geom, x, y)
    # plus points on the border itself, where a centre rule leaks
    border = _border_points(geom, 0.01)
    px, py = np.r_[x[keep], border[:, 0]], np.r_[y[keep], border[:, 1]]
    cells = cell_of(py, px, RES)
    assert np.isin(cells, listed).all()
    # the rules nest: within <= centre <= overlap, and centre is the cell-centre rule
    centre = region_cells(rs.geometry(name), RES, "centre")
    within = region_cells(rs.geometry(name), RES, "within")
    assert set(within) <= set(centre) <= set(listed)
    centre_ok = np.isin(cell_of(py, px, RES), centre)
    assert not centre_ok.all()  # the centre rule leaves points of the region uncovered


def test_centre_mode_keeps_old_cells(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(textwrap.dedent("""
        [constellation]
        elements = "oneweb"
        [time]
        start = "2026-04-30T00:00:00Z"
        duration_s = 0
        step_s = 600
        [ground]
        region = "B89"
        h3_resolution = 4
        cell_membership = "centre"
        [regions]
        crimea = "B89"
    """))
    ground = build_ground(load_scenario(p))
    old = region_cells(resolve_region("B89"), 4)
    assert ground.cell_membership == "centre"
    np.testing.assert_array_equal(ground.cells, old)
    np.testing.assert_array_equal(ground.regions.cells("crimea"), old)
    p.write_text(p.read_text().replace('"centre"', '"center"'))
    with pytest.raises(ScenarioError, match=r"ground.cell_membership must be one of 'overlap', 'centre', 'within', got 'center'"):
        load_scenario(p)


def _distance_to_border_km(geom, lat, lon) -> np.ndarray:
    b = _border_points(geom, 0.003)
    out = np.empty(len(lat))
    for a in range(0, len(lat), 200):
        d = wgs84.great_circle_km(lat[a : a + 200, None], lon[a : a + 200, None], b[None, :, 1], b[None, :, 0])
        out[a : a + 200] = d.min(axis=1)
    return out


@pytest.mark.parametrize("d_km", [22.2, -10.0])
def test_buffer_km_is_geodesic(d_km):
    """Points farther than |d| + 0.1 km from the border are on the right side, nearer than
    |d| - 0.1 km on the other (Taiwan's border; great-circle distances on the mean sphere)."""
    src = lookup_named_region("TWN")
    grown = resolve_region({"region": "TWN", "buffer_km": d_km})
    rng = np.random.default_rng(3)
    border = _border_points(src)
    pick = border[rng.integers(0, len(border), 3000)]
    lat, lon = _destination(pick[:, 1], pick[:, 0], rng.uniform(0, 2 * np.pi, 3000),
                            rng.uniform(0, 2 * abs(d_km), 3000))
    dist = _distance_to_border_km(src, lat, lon)
    in_src = shapely.intersects_xy(src, lon, lat)
    in_buf = shapely.intersects_xy(grown, lon, lat)
    far = np.abs(dist - abs(d_km)) > 0.1
    if d_km > 0:
        want = in_src | (dist < d_km)
    else:
        want = in_src & (dist > -d_km)
    assert (in_buf[far] == want[far]).all()
    band = np.abs(dist - abs(d_km)) < 1.0
    assert band.sum() > 50  # the test reaches the buffer's edge on both sides
    assert (in_buf[band & far] != in_buf[band & far][0]).any()
