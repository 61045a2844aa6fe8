"""Places, ground-station readers and the city catalogue."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.errors import SitesError
from skyfence.geo.earth import wgs72, wgs84
from skyfence.ground.cities import bundled_cities, load_cities, resolve_place
from skyfence.ground.places import Places, parse_latlon
from skyfence.ground.stations import parse_ground_stations


def test_places_geodetic_ecef_up():
    p = Places.from_geodetic(["a", "b"], [10.0, -45.0], [20.0, 170.0], [0.0, 1.5])
    np.testing.assert_allclose(p.ecef_km, wgs84.ecef_km(p.lat_deg, p.lon_deg, p.alt_km))
    np.testing.assert_allclose(np.linalg.norm(p.up, axis=1), 1.0)
    assert p.ids == (0, 1) and p.names == ("a", "b")
    both = p.concat(p.subset([1]))
    assert len(both) == 3 and both.ids == (0, 1, 2) and both.names[2] == "b"
    with pytest.raises(ValueError):
        Places((0,), ("x", "y"), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros((2, 3)))


def test_hypatia_elevation_in_metres_becomes_alt_km():
    gs = parse_ground_stations("0,A,10,20,1500\n1,B,-10,30,0\n", "f.txt")
    np.testing.assert_allclose(gs.alt_km, [1.5, 0.0])
    ext = parse_ground_stations("0,A,10,20,0,1000,2000,3000\n", "f.txt")
    np.testing.assert_allclose(ext.ecef_km, [[1.0, 2.0, 3.0]])  # the file's ECEF, as given
    a72 = parse_ground_stations("0,A,10,20,0\n", "f.txt", ellipsoid=wgs72)
    np.testing.assert_allclose(a72.ecef_km, wgs72.ecef_km(10.0, 20.0, 0.0)[None])


def test_index_of_and_resolve_place():
    top = bundled_cities("top-100")
    assert top.index_of("moscow") == top.index_of("Moskva-(Moscow)") == top.index_of("21")
    with pytest.raises(SitesError, match="unknown ground station"):
        top.index_of("Atlantis")
    assert parse_latlon("12.5, -3") == (12.5, -3.0) and parse_latlon("London") is None
    with pytest.raises(SitesError, match="latitude must be"):
        parse_latlon("95,0")
    one = resolve_place("Moscow", top)
    assert one.names == ("Moskva-(Moscow)",)


def test_city_catalogue_joins_natural_earth_and_hypatia():
    c = load_cities()
    top = bundled_cities("top-1000")
    assert len(top) == 1000 and set(c.source.tolist()) <= {"ne", "hypatia"}
    hyp = c.source == "hypatia"
    assert set(c.name[hyp].tolist()) <= set(top.names)
    assert (c.pop > 0).sum() > 1000
