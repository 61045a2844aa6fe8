"""The H3 grid through geo.cells: points to cells, centres, boundaries, areas, strings, disks."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Point, Polygon, box

from skyfence.geo.cells import (
    cell_areas_km2,
    cell_boundaries,
    cell_centres,
    cell_of,
    cell_resolutions,
    cells_from_str,
    cells_overlapping,
    cells_to_str,
    grid_disk,
)


def test_cell_of_known_cell_and_shape():
    c = cell_of(np.array([44.6, 50.45]), np.array([33.52, 30.52]), 5)
    assert c.dtype == np.uint64 and c.shape == (2,)
    assert cells_to_str(c)[0] == "852d2897fffffff"  # Sevastopol, as h3.latlng_to_cell gives it
    assert cell_of(np.zeros((2, 3)), np.zeros((2, 3)), 4).shape == (2, 3)
    assert cell_resolutions(c).tolist() == [5, 5]
    np.testing.assert_array_equal(cells_from_str(cells_to_str(c)), c)


def test_centre_lies_in_own_cell_and_inside_boundary():
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(-80, 80, 50), rng.uniform(-179, 179, 50)
    c = cell_of(lat, lon, 6)
    clat, clon = cell_centres(c)
    np.testing.assert_array_equal(cell_of(clat, clon, 6), c)
    for b, x, y in zip(cell_boundaries(c), clon, clat, strict=True):
        assert b.shape[1] == 2 and len(b) in (5, 6)
        assert Polygon(b).contains(Point(x, y))


def test_areas_and_disk():
    c = cell_of([48.0], [31.0], 5)
    assert 200 < cell_areas_km2(c)[0] < 300
    disk = grid_disk(c, 1)
    assert len(disk) == 7 and c[0] in disk and np.all(np.diff(disk.astype(np.float64)) > 0)
    assert len(grid_disk(np.empty(0, np.uint64), 1)) == 0


def test_cells_overlapping_covers_a_box():
    b = box(30.0, 45.0, 32.0, 47.0)
    cand = cells_overlapping(b, 5)
    lat, lon = cell_centres(cand)
    inside = (lon > 30.2) & (lon < 31.8) & (lat > 45.2) & (lat < 46.8)
    rng = np.random.default_rng(0)
    pts = cell_of(rng.uniform(45.1, 46.9, 200), rng.uniform(30.1, 31.9, 200), 5)
    assert np.isin(pts, cand).all() and inside.sum() > 10


@pytest.mark.parametrize("res", [0, 7, 15])
def test_resolutions(res):
    assert cell_resolutions(cell_of([1.0], [2.0], res)).tolist() == [res]
