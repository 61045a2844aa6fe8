"""Regions: countries, disputed areas, provinces, files, circles and their unions -> H3 cells.

Geometry convention
-------------------
Every geometry here is a shapely (Multi)Polygon in **lon/lat degrees** (x = longitude, y = latitude),
edges straight in lon/lat (the Natural Earth / GeoJSON convention), all longitudes in [-180, 180].
Anything crossing the antimeridian is split there into parts (RFC 7946 3.1.9), so no part spans the
world; input with longitudes outside [-180, 180] (e.g. 0..360 Pacific files) is wrapped the same way.

Region specs (`resolve_region`)
-------------------------------
A spec is, recursively, one of (TOML shown; JSON/Python equivalents are the same dicts and lists)::

    "UKR"  "UA"  "Ukraine"  "ukraine"        # country: ISO A3 / ISO A2 / ADM0_A3 / ADMIN or NAME
    "B89"  "Crimea"                          # disputed area (NE 10m): BRK_A3 or BRK_NAME
    "US-TX"  "Texas"                         # province of USA/BRA/CAN/AUS: ISO 3166-2 or name
    "zones/black_sea.geojson"                # a file (.geojson/.json, .shp, .zip of a shapefile)
    ["UKR", "MDA"]                           # a list: the union
    { union = ["UKR", "MDA"] }               # the union, spelled out
    { difference = ["UKR", "B89", "B90"] }   # the first minus all the others
    { intersection = ["RUS", { bbox = [150, 60, 180, 75] }] }
    { lat = 44.6, lon = 33.52, radius_km = 60 }            # geodesic circle (WGS84 mean sphere)
    { bbox = [lon_min, lat_min, lon_max, lat_max] }        # lon_min > lon_max crosses the antimeridian
    { polygon = [[lon, lat], [lon, lat], ...] }            # one ring, lon/lat, closed or not
    { file = "zones/black_sea.geojson" }                   # a file, explicitly

Names are case-insensitive; lookup order is country, then disputed area, then province, so "Georgia"
is the country (the US state is "US-GA"). Unknown names raise `RegionError` with a "did you mean".
Relative paths resolve against `base_dir` (the scenario file's folder).

Cells
-----
`region_cells(geom, res)` lists the H3 cells whose **centre** lies inside the geometry (the centre
tested in lon/lat against the polygon as drawn, holes excluded). `RegionSet` maps region names to
cells; a cell belongs to every region whose cell list holds it, and a point (a terminal) belongs to
the regions of its own H3 cell at the set's resolution (Starlink publishes availability as H3 res-5
cells), not to the polygon itself.

Areas
-----
`geodesic_area_km2` integrates the polygon on the WGS84 ellipsoid (authalic latitude, edges straight in
lon/lat, densified); `cell_areas_km2` is H3's own cell area (authalic sphere).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry.base import BaseGeometry

from skyfence.errors import RegionError

__all__ = [
    "RegionError",
    "RegionSet",
    "resolve_region",
    "lookup_named_region",
    "known_region_names",
    "load_geometry_file",
    "circle",
    "region_cells",
    "cells_to_latlng",
    "points_to_cells",
    "cell_areas_km2",
    "geodesic_area_km2",
    "cells_to_str",
    "cells_from_str",
]

RegionSpec = Any  # str | Path | list | dict, see the module docstring


def lookup_named_region(name: str) -> BaseGeometry:
    """Geometry of a bundled Natural Earth country, disputed area or province by code or name.

    Raises RegionError (with a "did you mean ...") when nothing matches.
    """
    raise NotImplementedError


def known_region_names() -> list[str]:
    """Every name and code `lookup_named_region` accepts (for help texts and suggestions)."""
    raise NotImplementedError


def load_geometry_file(path: str | Path, *, base_dir: Path | None = None) -> BaseGeometry:
    """Polygons from a GeoJSON (Polygon, MultiPolygon, Feature, FeatureCollection, GeometryCollection)
    or shapefile (.shp or a .zip holding one): their union. RegionError names the file and the fault."""
    raise NotImplementedError


def circle(lat: float, lon: float, radius_km: float, n_vertices: int = 256) -> BaseGeometry:
    """Geodesic circle (all points `radius_km` from the centre on the mean-radius sphere) as a polygon,
    split at the antimeridian and closed over a pole when it holds one."""
    raise NotImplementedError


def resolve_region(spec: RegionSpec, *, base_dir: Path | None = None) -> BaseGeometry:
    """Resolve a region spec (see the module docstring) to a lon/lat (Multi)Polygon.

    Raises RegionError for unknown names, unreadable or malformed files and malformed specs.
    """
    raise NotImplementedError


def region_cells(geometry: BaseGeometry, resolution: int) -> np.ndarray:
    """Sorted unique H3 cells (uint64) at `resolution` whose centre lies inside `geometry`.

    Correct across the antimeridian (parts are handled separately), with holes and multipolygons.
    """
    raise NotImplementedError


def cells_to_latlng(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of uint64 H3 cells: (lat_deg, lon_deg) float64 arrays."""
    raise NotImplementedError


def points_to_cells(lat_deg: np.ndarray, lon_deg: np.ndarray, resolution: int) -> np.ndarray:
    """The uint64 H3 cell of each point at `resolution`."""
    raise NotImplementedError


def cell_areas_km2(cells: np.ndarray) -> np.ndarray:
    """Area of each uint64 H3 cell in km^2 (h3.cell_area, authalic sphere)."""
    raise NotImplementedError


def geodesic_area_km2(geometry: BaseGeometry) -> float:
    """Area on the WGS84 ellipsoid of a lon/lat polygon (edges straight in lon/lat), km^2.

    Method: edges are densified to <= 0.05 deg, latitudes mapped to authalic latitudes beta, and the
    area is R_q^2 * |sum over edges of the exact integral of sin(beta) d(lon)| with beta linear in lon
    along each (short) edge (Green's theorem on the authalic sphere, R_q = 6371.0072 km); holes
    subtract. Without pyproj; agrees with geodesic polygon areas to ~1e-5 for densified polygons.
    """
    raise NotImplementedError


def cells_to_str(cells: np.ndarray) -> list[str]:
    """uint64 H3 cells -> hex strings ("85283473fffffff"), the Cedar `Cell::"..."` ids."""
    raise NotImplementedError


def cells_from_str(cells: Sequence[str]) -> np.ndarray:
    """Hex strings -> uint64 H3 cells."""
    raise NotImplementedError


class RegionSet:
    """Named regions -> H3 cells at one resolution; every cell knows every region it belongs to.

    >>> rs = RegionSet.from_specs({"ukraine": "UKR", "crimea": "B89"}, resolution=5)
    >>> rs.names                      # ["ukraine", "crimea"], in insertion order
    >>> rs.cells("crimea")            # sorted uint64 cells
    >>> rs.membership(cells)          # scipy.sparse.csr_matrix bool [n_cells x n_regions]
    >>> rs.cell_region_names(cells)   # [("crimea", "ukraine"), ...] per cell, names sorted
    >>> rs.cell_region_labels(cells)  # evaluate.LabelSets (factorised) for the bulk evaluator
    >>> rs.point_region_labels(lat, lon)   # terminals: by their H3 cell at `resolution`

    Cells given to `membership` and friends must be at the set's resolution; use the point_* methods
    for coordinates.
    """

    def __init__(self, resolution: int):
        raise NotImplementedError

    @classmethod
    def from_specs(
        cls, specs: Mapping[str, RegionSpec], resolution: int, *, base_dir: Path | None = None
    ) -> RegionSet:
        """Resolve each named spec (RegionError names the region's key on failure) and add it."""
        raise NotImplementedError

    def add(self, name: str, region: RegionSpec | BaseGeometry, *, base_dir: Path | None = None) -> None:
        """Add (or replace) a named region from a spec or a lon/lat shapely geometry."""
        raise NotImplementedError

    def add_cells(self, name: str, cells: np.ndarray) -> None:
        """Add (or replace) a named region given directly as uint64 cells at the set's resolution."""
        raise NotImplementedError

    @property
    def names(self) -> list[str]:
        raise NotImplementedError

    def cells(self, name: str) -> np.ndarray:
        """Sorted unique uint64 cells of region `name`."""
        raise NotImplementedError

    def geometry(self, name: str) -> BaseGeometry | None:
        """The region's lon/lat geometry (None for regions added as cells)."""
        raise NotImplementedError

    def membership(self, cells: np.ndarray):
        """scipy.sparse.csr_matrix of bool, shape [len(cells), len(names)]: cell i is in region j."""
        raise NotImplementedError

    def cell_region_names(self, cells: np.ndarray) -> list[tuple[str, ...]]:
        """For each cell, the sorted names of every region that holds it (() for none)."""
        raise NotImplementedError

    def cell_region_labels(self, cells: np.ndarray):
        """Factorised region-name sets of `cells` (evaluate.LabelSets): fast input for the evaluator."""
        raise NotImplementedError

    def point_cells(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
        """The H3 cell (uint64, set resolution) of each point."""
        raise NotImplementedError

    def point_region_labels(self, lat_deg: np.ndarray, lon_deg: np.ndarray):
        """Region-name sets of points, by their H3 cell at the set resolution (evaluate.LabelSets)."""
        raise NotImplementedError
