"""People per cell: a whole country totals its Natural Earth POP_EST, a city's cell holds at least
the city."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.geo.cells import cell_of, cells_overlapping
from skyfence.geo.gazetteer import lookup_named_region
from skyfence.geo.polygons import polygons_of
from skyfence.ground.population import METHOD, _sources, population_per_cell

POP_EST = {"TWN": 23_508_428, "UKR": 44_033_874}


def _all_cells(regions: list[str], resolution: int) -> np.ndarray:
    """Every cell overlapping the regions' polygons."""
    parts = [p for r in regions for p in polygons_of(lookup_named_region(r))]
    return np.unique(np.concatenate([cells_overlapping(p, resolution) for p in parts]))


@pytest.mark.parametrize(
    ("country", "regions", "resolution"),
    [("TWN", ["TWN"], 5), ("UKR", ["UKR", "B89"], 4)],  # GeoNames lists Crimea's places under UA
)
def test_a_whole_country_totals_its_pop_est(country, regions, resolution):
    """GeoNames' places add up to more than POP_EST in both (Taiwan 26.5 M, Ukraine 46.2 M: cities
    and their districts): scaled down, the country still totals its POP_EST."""
    cells = _all_cells(regions, resolution)
    own = population_per_cell(cells, resolution, countries=[country])
    assert own.sum() == pytest.approx(POP_EST[country], rel=0.01)
    # neighbours' people in shared border cells only add
    assert (population_per_cell(cells, resolution) >= own - 1e-6).all()


def test_rest_spread_by_area_where_places_fall_short():
    """France's GeoNames places (58.7 M) fall short of POP_EST (67.1 M): the rest is spread by
    area, so the country totals POP_EST, every land cell has people, and Paris's cell holds at
    least Paris."""
    cells = _all_cells(["FRA"], 4)
    own = population_per_cell(cells, 4, countries=["FR"])
    assert own.sum() == pytest.approx(67_106_161, rel=0.01)
    src = _sources()
    paris = np.flatnonzero((src.place_country == "FR") & (src.place_people > 2e6))
    assert len(paris) == 1
    cell = cell_of(src.place_lat_deg[paris], src.place_lon_deg[paris], 5)
    assert population_per_cell(cell, 5)[0] >= src.place_people[paris][0]
    inland = cell_of(np.array([46.5]), np.array([2.5]), 4)  # rural Centre-Val de Loire
    assert population_per_cell(inland, 4)[0] > 1_000


def test_sea_and_empty_input():
    sea = cell_of(np.array([0.0]), np.array([-140.0]), 5)  # the middle of the Pacific
    assert population_per_cell(sea, 5).tolist() == [0.0]
    assert population_per_cell(np.array([], np.uint64), 5).shape == (0,)
    assert "GeoNames" in METHOD and "POP_EST" in METHOD
