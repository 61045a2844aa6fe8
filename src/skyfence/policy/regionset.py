"""Region sets: named regions -> H3 cells at one resolution, the region labels policies read.

A cell belongs to every region whose cell list holds it; which cells those are follows the set's
``cell_membership`` rule (:func:`skyfence.geo.regions.region_cells`: "overlap", the default, any
part of the cell in the region; "centre"; "within"). A point (a terminal) belongs to the regions
whose geometry holds it: exact point in polygon (boundary included) in lon/lat, and for a circle
spec ``{lat, lon, radius_km}`` a great-circle distance from the centre of at most the radius
(:meth:`skyfence.geo.earth.Ellipsoid.great_circle_km`). Regions are specs of
:mod:`skyfence.geo.regions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from skyfence.errors import RegionError
from skyfence.geo.cells import cell_of, cell_resolutions
from skyfence.geo.earth import wgs84
from skyfence.geo.regions import (
    CELL_MEMBERSHIP,
    RegionSpec,
    circle_of,
    region_cells,
    resolve_region,
)

__all__ = ["RegionSet", "TERMINAL_MEMBERSHIP"]

#: how a point's (a terminal's) regions are decided, as the summary names it
TERMINAL_MEMBERSHIP = "point-in-polygon"


class RegionSet:
    """Named regions -> H3 cells at one resolution; every cell knows every region it belongs to.

    >>> rs = RegionSet.from_specs({"ukraine": ["UKR", "B89"], "crimea": "B89"}, resolution=5)
    >>> rs.names                      # ["ukraine", "crimea"], in insertion order
    >>> rs.cells("crimea")            # sorted uint64 cells
    >>> rs.membership(cells)          # scipy.sparse.csr_matrix bool [n_cells x n_regions]
    >>> rs.cell_region_names(cells)   # [("crimea", "ukraine"), ...] per cell, names sorted
    >>> rs.cell_region_labels(cells)  # evaluate.LabelSets (factorised) for the bulk evaluator
    >>> rs.point_region_labels(lat, lon)   # terminals: by their own coordinates, exactly

    Cells given to `membership` and friends must be at the set's resolution; use the point_* methods
    for coordinates: a terminal is in a region iff the region's geometry holds its position.
    """

    def __init__(self, resolution: int, cell_membership: str = "overlap"):
        res = int(resolution)
        if not 0 <= res <= 15:
            raise RegionError(f"H3 resolution must be 0..15, got {resolution}")
        if cell_membership not in CELL_MEMBERSHIP:
            raise RegionError(f"cell_membership must be one of {', '.join(map(repr, CELL_MEMBERSHIP))}, "
                              f"got {cell_membership!r}")
        self.resolution = res
        self.cell_membership = cell_membership
        self._cells: dict[str, np.ndarray] = {}
        self._geoms: dict[str, BaseGeometry | None] = {}
        self._circles: dict[str, tuple[float, float, float]] = {}

    @classmethod
    def from_specs(
        cls, specs: Mapping[str, RegionSpec], resolution: int, *, base_dir: Path | None = None,
        cell_membership: str = "overlap",
    ) -> RegionSet:
        """Resolve each named spec (RegionError names the region's key on failure) and add it."""
        rs = cls(resolution, cell_membership)
        for name, spec in specs.items():
            rs.add(name, spec, base_dir=base_dir)
        return rs

    def add(self, name: str, region: RegionSpec | BaseGeometry, *, base_dir: Path | None = None) -> None:
        """Add (or replace) a named region from a spec or a lon/lat shapely geometry."""
        if not isinstance(name, str) or not name:
            raise RegionError(f"region name must be a non-empty string, got {name!r}")
        try:
            geom = resolve_region(region, base_dir=base_dir)
        except RegionError as exc:
            raise RegionError(f"region {name!r}: {exc}") from None
        self._geoms[name] = geom
        self._circles.pop(name, None)
        centre = circle_of(region)
        if centre is not None:
            self._circles[name] = centre
        shapely.prepare(geom)
        self._cells[name] = region_cells(geom, self.resolution, self.cell_membership)

    def add_cells(self, name: str, cells: np.ndarray) -> None:
        """Add (or replace) a named region given directly as uint64 cells at the set's resolution."""
        cells = np.unique(np.asarray(cells, dtype=np.uint64))
        if len(cells):
            res = {int(r) for r in cell_resolutions(cells[:: max(1, len(cells) // 64)])}
            if res != {self.resolution}:
                raise RegionError(f"region {name!r}: cells at resolution {sorted(res)}, set is {self.resolution}")
        self._geoms[name] = None
        self._circles.pop(name, None)
        self._cells[name] = cells

    @property
    def names(self) -> list[str]:
        return list(self._cells)

    def __contains__(self, name: object) -> bool:
        return name in self._cells

    def __len__(self) -> int:
        return len(self._cells)

    def cells(self, name: str) -> np.ndarray:
        """Sorted unique uint64 cells of region `name`."""
        try:
            return self._cells[name]
        except KeyError:
            raise RegionError(f"no region named {name!r} (have {self.names})") from None

    def geometry(self, name: str) -> BaseGeometry | None:
        """The region's lon/lat geometry (None for regions added as cells)."""
        self.cells(name)
        return self._geoms[name]

    def all_cells(self) -> np.ndarray:
        """Sorted union of every region's cells."""
        if not self._cells:
            return np.empty(0, dtype=np.uint64)
        return np.unique(np.concatenate(list(self._cells.values())))

    def _member_columns(self, cells: np.ndarray) -> list[np.ndarray]:
        cells = np.asarray(cells, dtype=np.uint64).ravel()
        return [self._member_columns_of(name, cells) for name in self._cells]

    def membership(self, cells: np.ndarray):
        """scipy.sparse.csr_matrix of bool, shape [len(cells), len(names)]: cell i is in region j."""
        from scipy import sparse

        cols = self._member_columns(cells)
        n = len(np.asarray(cells).ravel())
        if not cols:
            return sparse.csr_matrix((n, 0), dtype=bool)
        rows_l, cols_l = [], []
        for j, m in enumerate(cols):
            r = np.flatnonzero(m)
            rows_l.append(r)
            cols_l.append(np.full(len(r), j, dtype=np.int64))
        rows = np.concatenate(rows_l)
        colj = np.concatenate(cols_l)
        return sparse.csr_matrix((np.ones(len(rows), dtype=bool), (rows, colj)), shape=(n, len(cols)))

    def cell_region_labels(self, cells: np.ndarray):
        """Factorised region-name sets of `cells` (evaluate.LabelSets): fast input for the evaluator."""
        return self._labels(self._member_columns(cells), len(np.asarray(cells).ravel()))

    def _labels(self, cols: list[np.ndarray], n: int):
        from skyfence.policy.evaluate import LabelSets

        names = self.names
        if not cols:
            return LabelSets(sets=((),), codes=np.zeros(n, dtype=np.int32))
        bits = np.stack(cols, axis=1)  # [n, k] bool
        packed = np.packbits(bits, axis=1)
        view = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1])))[:, 0]
        uniq, first, inverse = np.unique(view, return_index=True, return_inverse=True)
        sets = tuple(tuple(sorted(names[j] for j in np.flatnonzero(bits[i]))) for i in first)
        return LabelSets(sets=sets, codes=inverse.astype(np.int32).ravel())

    def cell_region_names(self, cells: np.ndarray) -> list[tuple[str, ...]]:
        """For each cell, the sorted names of every region that holds it (() for none)."""
        return self.cell_region_labels(cells).tolist()

    def point_cells(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
        """The H3 cell (uint64, set resolution) of each point."""
        return cell_of(np.asarray(lat_deg, dtype=np.float64).ravel(), np.asarray(lon_deg, dtype=np.float64).ravel(),
                       self.resolution)

    def _point_columns(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> list[np.ndarray]:
        lat = np.asarray(lat_deg, dtype=np.float64).ravel()
        lon = (np.asarray(lon_deg, dtype=np.float64).ravel() + 180.0) % 360.0 - 180.0
        cols = []
        for name, geom in self._geoms.items():
            col = np.zeros(len(lat), dtype=bool)
            if name in self._circles:
                c_lat, c_lon, r_km = self._circles[name]
                near = np.abs(lat - c_lat) <= np.degrees(r_km / wgs84.mean_radius_km) * 1.01 + 1e-9
                idx = np.flatnonzero(near)
                col[idx] = wgs84.great_circle_km(c_lat, c_lon, lat[idx], lon[idx]) <= r_km
            elif geom is None:  # given as cells: a point is in it iff its own cell is
                col = self._member_columns_of(name, self.point_cells(lat, lon))
            elif not geom.is_empty:
                minx, miny, maxx, maxy = geom.bounds
                idx = np.flatnonzero((lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy))
                col[idx] = shapely.intersects_xy(geom, lon[idx], lat[idx])
            cols.append(col)
        return cols

    def _member_columns_of(self, name: str, cells: np.ndarray) -> np.ndarray:
        arr = self._cells[name]
        if len(arr) == 0:
            return np.zeros(len(cells), dtype=bool)
        pos = np.searchsorted(arr, cells)
        pos[pos == len(arr)] = 0
        return arr[pos] == cells

    def point_region_labels(self, lat_deg: np.ndarray, lon_deg: np.ndarray):
        """Region-name sets of points by their own coordinates (evaluate.LabelSets): exact point in
        polygon (boundary included), great-circle distance for circle specs, the point's H3 cell
        for regions added as cells. NaN positions are in no region."""
        n = len(np.asarray(lat_deg).ravel())
        return self._labels(self._point_columns(lat_deg, lon_deg), n)

    def point_region_names(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> list[tuple[str, ...]]:
        """For each point, the sorted names of every region that holds it (() for none)."""
        return self.point_region_labels(lat_deg, lon_deg).tolist()
