"""Region sets: named regions -> cells, membership of cells (by rule) and of points (by their own
position)."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.errors import RegionError
from skyfence.geo.cells import cell_of, cells_to_str
from skyfence.policy.regionset import RegionSet


def test_unknown_region_names_the_set_key():
    with pytest.raises(RegionError, match="region 'zone'"):
        RegionSet.from_specs({"zone": "Atlantys"}, resolution=4)


def test_region_set_membership_and_points():
    rs = RegionSet.from_specs(
        {"ukraine": ["UKR", "B89"], "crimea": "B89",
         "sevastopol": {"lat": 44.6, "lon": 33.52, "radius_km": 60}},
        resolution=5,
    )
    assert rs.names == ["ukraine", "crimea", "sevastopol"]
    cells = rs.all_cells()
    m = rs.membership(cells)
    assert m.shape == (len(cells), 3)
    names = rs.cell_region_names(cells)
    for j, name in enumerate(rs.names):
        col = np.asarray(m[:, j].todense()).ravel()
        assert col.sum() == len(rs.cells(name))
        assert all((name in names[i]) == bool(col[i]) for i in range(len(cells)))
    assert all(n for n in names)  # every listed cell is in some region
    # a terminal in Sevastopol and one in Kyiv, and one at sea far away: by their own position
    labels = rs.point_region_labels(np.array([44.6, 50.45, 0.0]), np.array([33.52, 30.52, 0.0]))
    got = labels.tolist()
    assert got[0] == ("crimea", "sevastopol", "ukraine")
    assert got[1] == ("ukraine",)
    assert got[2] == ()
    cell = rs.point_cells(np.array([44.6]), np.array([33.52]))
    assert cells_to_str(cell)[0] == "852d2897fffffff" == cells_to_str(cell_of(44.6, 33.52, 5).ravel())[0]


def test_points_by_their_own_position_cells_by_rule():
    """A point inside Taiwan whose res-5 cell centre lies offshore is in Taiwan; its cell is listed
    under "overlap" but not under "centre"; a circle is decided by distance, not by its polygon."""
    import shapely

    from skyfence.geo.cells import cell_centres
    from skyfence.geo.earth import wgs84
    from skyfence.geo.gazetteer import lookup_named_region

    twn = lookup_named_region("TWN")
    rng = np.random.default_rng(2)
    minx, miny, maxx, maxy = twn.bounds
    x, y = rng.uniform(minx, maxx, 20000), rng.uniform(miny, maxy, 20000)
    x, y = x[shapely.intersects_xy(twn, x, y)], y[shapely.intersects_xy(twn, x, y)]
    c_lat, c_lon = cell_centres(cell_of(y, x, 5))
    leak = ~shapely.intersects_xy(twn, c_lon, c_lat)
    assert leak.sum() > 10  # points the centre rule would leave outside Taiwan
    overlap = RegionSet.from_specs({"taiwan": "TWN"}, 5)
    centre = RegionSet.from_specs({"taiwan": "TWN"}, 5, cell_membership="centre")
    assert overlap.cell_membership == "overlap"
    for rs in (overlap, centre):
        assert all(n == ("taiwan",) for n in rs.point_region_names(y[leak], x[leak]))
    cells = cell_of(y[leak], x[leak], 5)
    assert np.isin(cells, overlap.cells("taiwan")).all() and not np.isin(cells, centre.cells("taiwan")).any()
    with pytest.raises(RegionError, match="cell_membership must be one of"):
        RegionSet(5, cell_membership="edge")
    # 1 m inside and 1 m outside a 60 km circle, due north of its centre
    rs = RegionSet.from_specs({"c": {"lat": 44.6, "lon": 33.52, "radius_km": 60}}, 5)
    dlat = np.degrees(np.array([59.999, 60.001]) / wgs84.mean_radius_km)
    assert rs.point_region_names(44.6 + dlat, np.array([33.52, 33.52])) == [("c",), ()]
