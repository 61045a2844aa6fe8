"""The world-coverage example: its region "land" is every country, and it loads."""

from __future__ import annotations

import shapely

from skyfence.geo.regions import resolve_region
from skyfence.service.scenario import example_path, load_scenario


def test_world_coverage_loads_and_land_is_every_country():
    sc = load_scenario(example_path("world-coverage"))
    assert sc.region == "land" and sc.h3_resolution == 5 and sc.duration_s == 86400 and sc.step_s == 60
    land = resolve_region("LAND")
    for lon, lat in ((2.35, 48.86), (-58.4, -34.6), (151.2, -33.9), (37.6, 55.75), (0.0, -80.0)):
        assert land.covers(shapely.Point(lon, lat)), (lon, lat)
    for lon, lat in ((-30.0, 30.0), (-150.0, 0.0), (80.0, -30.0)):
        assert not land.covers(shapely.Point(lon, lat)), (lon, lat)
    assert land.covers(resolve_region("B89").representative_point())  # disputed areas too
