"""Region sets: named regions -> cells, membership of cells and of points by their own cell."""

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
    # a terminal in Sevastopol and one in Kyiv, and one at sea far away: by their own H3 cell
    labels = rs.point_region_labels(np.array([44.6, 50.45, 0.0]), np.array([33.52, 30.52, 0.0]))
    got = labels.tolist()
    assert got[0] == ("crimea", "sevastopol", "ukraine")
    assert got[1] == ("ukraine",)
    assert got[2] == ()
    cell = rs.point_cells(np.array([44.6]), np.array([33.52]))
    assert cells_to_str(cell)[0] == "852d2897fffffff" == cells_to_str(cell_of(44.6, 33.52, 5).ravel())[0]
