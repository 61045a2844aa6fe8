"""Regions -> H3 cells: centres inside, areas, antimeridian, holes, bad inputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from skyfence.errors import RegionError
from skyfence.geo.areas import geodesic_area_km2
from skyfence.geo.cells import cell_areas_km2, cell_centres, grid_disk
from skyfence.geo.earth import wgs84
from skyfence.geo.gazetteer import lookup_named_region
from skyfence.geo.regions import circle, region_cells, resolve_region

AUTHALIC_RADIUS_KM = wgs84.authalic_radius_km
EARTH_MEAN_RADIUS_KM = wgs84.mean_radius_km


def _outer_ring(cells: np.ndarray) -> np.ndarray:
    """Cells next to `cells` but not in them."""
    return np.setdiff1d(grid_disk(cells, 1), cells)


def _assert_exact_cover(geom, cells: np.ndarray) -> None:
    """Every listed cell has its centre in the polygon; no neighbour left out has its centre in it."""
    lat, lon = cell_centres(cells)
    inside = [geom.covers(Point(x, y)) for x, y in zip(lon, lat, strict=True)]
    assert all(inside), f"{inside.count(False)} listed cells have their centre outside"
    out = _outer_ring(cells)
    lat, lon = cell_centres(out)
    missed = [geom.covers(Point(x, y)) for x, y in zip(lon, lat, strict=True)]
    assert not any(missed), f"{sum(missed)} cells with centre inside were not listed"


@pytest.fixture(scope="module")
def ukraine():
    return resolve_region("UKR")


def test_ukraine_cells_centres_inside_and_complete(ukraine):
    cells = region_cells(ukraine, 5)
    assert 2000 < len(cells) < 3000
    assert np.array_equal(cells, np.unique(cells))
    _assert_exact_cover(ukraine, cells)


@pytest.mark.parametrize("res", [5, 6])
def test_ukraine_cell_area_matches_geodesic_area(ukraine, res):
    area = geodesic_area_km2(ukraine)
    assert 560_000 < area < 585_000  # NE 4.0 Ukraine without Crimea
    cells_area = cell_areas_km2(region_cells(ukraine, res)).sum()
    assert abs(cells_area / area - 1) < 0.02


def test_circle_cells_and_area():
    geom = circle(48.5, 31.0, 200.0)
    cells = region_cells(geom, 6)
    _assert_exact_cover(geom, cells)
    cap = 2 * math.pi * EARTH_MEAN_RADIUS_KM**2 * (1 - math.cos(200.0 / EARTH_MEAN_RADIUS_KM))
    assert abs(geodesic_area_km2(geom, ellipsoid=False) / cap - 1) < 2e-3
    assert abs(cell_areas_km2(cells).sum() / geodesic_area_km2(geom) - 1) < 0.02


def test_geodesic_area_closed_forms():
    # a lat/lon rectangle on the ellipsoid: R_q^2 * dlon * (sin beta2 - sin beta1), computed by hand
    e2 = 1 / 298.257223563 * (2 - 1 / 298.257223563)
    e = math.sqrt(e2)

    def q(phi):
        s = math.sin(phi)
        return (1 - e2) * (s / (1 - e2 * s * s) + math.atanh(e * s) / e)

    qp = q(math.pi / 2)
    expected = AUTHALIC_RADIUS_KM**2 * math.radians(1) * (q(math.radians(1)) - q(0)) / qp
    assert geodesic_area_km2(box(0, 0, 1, 1)) == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(12308.5, abs=0.5)
    # whole-earth band and hemisphere on the authalic sphere
    assert geodesic_area_km2(box(-180, 0, 180, 90), ellipsoid=False) == pytest.approx(
        2 * math.pi * AUTHALIC_RADIUS_KM**2, rel=1e-9
    )
    # a hole subtracts
    holed = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (4, 2), (4, 4), (2, 4)]])
    assert geodesic_area_km2(holed) == pytest.approx(
        geodesic_area_km2(box(0, 0, 10, 10)) - geodesic_area_km2(box(2, 2, 4, 4)), rel=1e-9
    )


def _both_sides(cells: np.ndarray, min_abs_lon: float) -> tuple[int, int]:
    lat, lon = cell_centres(cells)
    assert np.all(np.abs(lon) >= min_abs_lon), "a cell far from the antimeridian: the region wrapped"
    return int((lon > 0).sum()), int((lon < 0).sum())


def test_fiji_across_antimeridian():
    fiji = resolve_region("Fiji")
    cells = region_cells(fiji, 6)
    east, west = _both_sides(cells, 174.0)
    assert east > 100 and west > 5
    lat, _ = cell_centres(cells)
    assert lat.min() > -22 and lat.max() < -12
    _assert_exact_cover(fiji, cells)


def test_chukotka_across_antimeridian():
    # Russia east of 160 E, through the antimeridian to 170 W (a bbox with lon_min > lon_max)
    chukotka = resolve_region({"intersection": ["RUS", {"bbox": [160, 60, -170, 75]}]})
    assert chukotka.bounds[0] == -180 and chukotka.bounds[2] == 180  # split, not world-spanning
    cells = region_cells(chukotka, 5)
    east, west = _both_sides(cells, 159.0)
    assert east > 1000 and west > 50
    assert abs(cell_areas_km2(cells).sum() / geodesic_area_km2(chukotka) - 1) < 0.03
    # the whole of Russia: no cell spans the world, area still right
    russia = resolve_region("RUS")
    rc = region_cells(russia, 4)
    assert (cell_centres(rc)[1] < -169).any()
    assert abs(cell_areas_km2(rc).sum() / geodesic_area_km2(russia) - 1) < 0.03


def test_circle_across_antimeridian_and_over_pole():
    c = circle(-17.0, 179.8, 150.0)
    assert c.geom_type == "MultiPolygon"
    cells = region_cells(c, 6)
    east, west = _both_sides(cells, 177.0)
    assert east > 50 and west > 50
    _assert_exact_cover(c, cells)
    polar = circle(88.0, 40.0, 500.0)
    assert polar.covers(Point(0, 89.99))
    cap = 2 * math.pi * EARTH_MEAN_RADIUS_KM**2 * (1 - math.cos(500.0 / EARTH_MEAN_RADIUS_KM))
    assert abs(geodesic_area_km2(polar, ellipsoid=False) / cap - 1) < 5e-3
    assert abs(cell_areas_km2(region_cells(polar, 5)).sum() / cap - 1) < 0.03


def test_hole_and_multipolygon():
    outer = [(30, 45), (36, 45), (36, 50), (30, 50)]
    hole = [(32, 46.5), (34, 46.5), (34, 48.5), (32, 48.5)]
    geom = resolve_region({"difference": [{"polygon": outer}, {"polygon": hole}]})
    cells = region_cells(geom, 5)
    lat, lon = cell_centres(cells)
    in_hole = (lon > 32) & (lon < 34) & (lat > 46.5) & (lat < 48.5)
    assert not in_hole.any()
    _assert_exact_cover(geom, cells)
    a, b = circle(46.0, 30.0, 80.0), circle(50.0, 36.0, 80.0)
    both = resolve_region([{"lat": 46.0, "lon": 30.0, "radius_km": 80},
                           {"lat": 50.0, "lon": 36.0, "radius_km": 80}])
    assert both.geom_type == "MultiPolygon"
    np.testing.assert_array_equal(region_cells(both, 6),
                                  np.union1d(region_cells(a, 6), region_cells(b, 6)))


def test_lon_0_360_input_is_wrapped(tmp_path):
    ring = [[178, -20], [183, -20], [183, -15], [178, -15], [178, -20]]
    path = tmp_path / "pacific.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}))
    geom = resolve_region("pacific.geojson", base_dir=tmp_path)
    assert geom.bounds[0] >= -180 and geom.bounds[2] <= 180
    east, west = _both_sides(region_cells(geom, 5), 177.0)
    assert east > 0 and west > 0


def test_unknown_region_suggests():
    with pytest.raises(RegionError, match=r"unknown region 'Ukrane'.*did you mean 'Ukraine'"):
        resolve_region("Ukrane")
    with pytest.raises(RegionError, match="did you mean"):
        resolve_region("Crimia")
    with pytest.raises(RegionError, match=r"unknown region key 'unoin'.*did you mean 'union'"):
        resolve_region({"unoin": ["UKR"]})


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        ("{ not json", "not valid JSON"),
        (json.dumps({"type": "Point", "coordinates": [30, 50]}), "Point is not a region"),
        (json.dumps({"type": "Polygon"}), "without 'coordinates'"),
        (json.dumps({"type": "Polygon", "coordinates": [[1, 2]]}), "malformed Polygon"),
        (json.dumps({"type": "FeatureCollection", "features": []}), "holds no Polygon"),
        (json.dumps({"type": "Blob"}), "unknown GeoJSON type 'Blob'"),
        (json.dumps({"type": "Polygon", "coordinates": [[[50, 30], [50, 100], [52, 100], [50, 30]]]}),
         "latitude out of range"),
    ],
)
def test_malformed_geojson(tmp_path, content, fault):
    path = tmp_path / "zone.geojson"
    path.write_text(content)
    with pytest.raises(RegionError) as err:
        resolve_region(str(path))
    assert "zone.geojson" in str(err.value)
    assert fault in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(RegionError, match="not found"):
        resolve_region("nowhere.geojson", base_dir=tmp_path)


def test_geojson_feature_collection_and_shapefile(tmp_path):
    import shapefile

    ring = [[30, 45], [31, 45], [31, 46], [30, 46], [30, 45]]
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}},
        {"type": "Feature", "properties": {}, "geometry": None},
    ]}
    (tmp_path / "fc.geojson").write_text(json.dumps(fc))
    g1 = resolve_region({"file": "fc.geojson"}, base_dir=tmp_path)
    with shapefile.Writer(str(tmp_path / "zone"), shapeType=shapefile.POLYGON) as w:
        w.field("name", "C")
        w.poly([ring[::-1]])  # shapefile outer rings are clockwise
        w.record("zone")
    g2 = resolve_region("zone.shp", base_dir=tmp_path)
    assert g1.symmetric_difference(g2).area < 1e-9
    np.testing.assert_array_equal(region_cells(g1, 6), region_cells(g2, 6))


def test_codes_and_names():
    ua = lookup_named_region("UKR")
    for name in ("UA", "ukraine", "Ukraine"):
        assert lookup_named_region(name).equals(ua)
    # NE 4.0 writes ISO -99 for France and Norway
    assert lookup_named_region("FR").equals(lookup_named_region("France"))
    assert lookup_named_region("NOR").equals(lookup_named_region("norway"))
    assert lookup_named_region("US-TX").equals(lookup_named_region("Texas"))
    assert lookup_named_region("Georgia").covers(Point(44.8, 41.7))  # the country, not the US state


def test_crimea_b89_inside_ukraine_or_russia_neighbourhood():
    crimea = resolve_region("B89")
    assert crimea.covers(Point(33.52, 44.6))  # Sevastopol
    assert lookup_named_region("Crimea").equals(crimea)
    cells = region_cells(crimea, 5)
    assert len(cells) > 50
    both = region_cells(resolve_region(["UKR", "RUS"]), 5)
    near = np.union1d(both, _outer_ring(both))
    assert np.isin(cells, near).all()


def test_union_difference_intersection():
    u = region_cells(resolve_region("UKR"), 5)
    c = region_cells(resolve_region("B89"), 5)
    union = region_cells(resolve_region({"union": ["UKR", "B89"]}), 5)
    assert np.array_equal(union, region_cells(resolve_region(["UKR", "B89"]), 5))
    assert len(np.setxor1d(union, np.union1d(u, c))) <= 2
    diff = region_cells(resolve_region({"difference": [["UKR", "B89"], "B89"]}), 5)
    assert len(np.setxor1d(diff, np.setdiff1d(u, c))) <= 2
    inter = region_cells(resolve_region({"intersection": ["UKR", {"lat": 50.45, "lon": 30.52, "radius_km": 100}]}), 5)
    assert 0 < len(inter) < len(u) and np.isin(inter, u).all()
    with pytest.raises(RegionError, match="difference needs a non-empty list"):
        resolve_region({"difference": []})
    with pytest.raises(RegionError, match="missing key"):
        resolve_region({"lat": 1, "lon": 2})


def test_region_cells_empty_and_resolution_errors():
    assert len(region_cells(shapely.Polygon(), 5)) == 0
    with pytest.raises(RegionError, match="resolution"):
        region_cells(box(0, 0, 1, 1), 16)


def test_buffer_spec_errors_and_antimeridian():
    with pytest.raises(RegionError, match="buffer_km needs a region"):
        resolve_region({"buffer_km": 5})
    with pytest.raises(RegionError, match="removes the whole region"):
        resolve_region({"lat": 10.0, "lon": 10.0, "radius_km": 20, "buffer_km": -30})
    with pytest.raises(RegionError, match="buffer_km must be"):
        resolve_region({"region": "TWN", "buffer_km": "wide"})
    # a circle grown by 50 km is (nearly) the circle of radius + 50 km, across the antimeridian too
    grown = resolve_region({"region": {"lat": -17.0, "lon": 179.5, "radius_km": 100}, "buffer_km": 50})
    ref = circle(-17.0, 179.5, 150.0)
    assert grown.bounds[0] == pytest.approx(-180.0) and grown.bounds[2] == pytest.approx(180.0)
    assert abs(geodesic_area_km2(grown) / geodesic_area_km2(ref) - 1) < 2e-3
