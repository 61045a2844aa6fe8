"""The H3 grid: the only module in skyfence that calls ``h3``.

Cells are ``uint64`` H3 indexes in numpy arrays (``np.uint64``); their text form is the lower-case
hex string H3 prints (``"851e6b1bfffffff"``), the id of a Cedar ``Cell::"..."`` entity. Every
function takes and returns arrays, one entry per point or cell; latitudes and longitudes are
degrees (latitudes geodetic, as H3 reads them on its authalic sphere).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import h3
import h3.api.numpy_int as h3i
import numpy as np
from shapely.geometry import Polygon

__all__ = [
    "cell_of",
    "cell_centres",
    "cell_boundaries",
    "cell_areas_km2",
    "cell_resolutions",
    "cells_to_str",
    "cells_from_str",
    "cells_overlapping",
    "grid_disk",
]


def _as_cells(cells: object) -> np.ndarray:
    return np.asarray(cells, dtype=np.uint64).ravel()


def cell_of(lat_deg: object, lon_deg: object, resolution: int) -> np.ndarray:
    """The H3 cell (``uint64``) holding each point at ``resolution``; shape of the broadcast input."""
    lat, lon = np.broadcast_arrays(np.asarray(lat_deg, dtype=np.float64), np.asarray(lon_deg, dtype=np.float64))
    f = h3i.latlng_to_cell
    res = int(resolution)
    out = np.fromiter((f(a, b, res) for a, b in zip(lat.ravel().tolist(), lon.ravel().tolist(), strict=True)),
                      dtype=np.uint64, count=lat.size)
    return out.reshape(lat.shape)


def cell_centres(cells: object) -> tuple[np.ndarray, np.ndarray]:
    """Centres of H3 cells: (``lat_deg``, ``lon_deg``) float64 arrays."""
    cells = _as_cells(cells)
    out = np.empty((len(cells), 2), dtype=np.float64)
    f = h3i.cell_to_latlng
    for i, c in enumerate(cells.tolist()):
        out[i] = f(c)
    return out[:, 0].copy(), out[:, 1].copy()


def cell_boundaries(cells: object) -> list[np.ndarray]:
    """Boundary of each H3 cell as a ``[k, 2]`` array of (``lon_deg``, ``lat_deg``) vertices
    (GeoJSON order, ring not closed, longitudes in [-180, 180] as H3 gives them)."""
    f = h3i.cell_to_boundary
    return [np.asarray(f(c), dtype=np.float64)[:, ::-1].copy() for c in _as_cells(cells).tolist()]


def cell_areas_km2(cells: object) -> np.ndarray:
    """Area of each H3 cell in km^2 (H3's ``cell_area``: the cell on its authalic sphere)."""
    cells = _as_cells(cells)
    f = h3i.cell_area
    return np.fromiter((f(c, "km^2") for c in cells.tolist()), dtype=np.float64, count=len(cells))


def cell_resolutions(cells: object) -> np.ndarray:
    """H3 resolution (0..15) of each cell, int64."""
    cells = _as_cells(cells)
    f = h3i.get_resolution
    return np.fromiter((f(c) for c in cells.tolist()), dtype=np.int64, count=len(cells))


def cells_to_str(cells: object) -> list[str]:
    """``uint64`` H3 cells -> hex strings (``"85283473fffffff"``), the Cedar ``Cell::"..."`` ids."""
    return [format(int(c), "x") for c in _as_cells(cells)]


def cells_from_str(cells: Sequence[str] | Iterable[str]) -> np.ndarray:
    """Hex strings -> ``uint64`` H3 cells."""
    return np.array([int(c, 16) for c in cells], dtype=np.uint64)


def cells_overlapping(polygon: Polygon, resolution: int) -> np.ndarray:
    """Unique ``uint64`` cells at ``resolution`` that H3 finds overlapping a lon/lat polygon (holes
    honoured). H3 joins the vertices by great circles and treats a polygon wider than 180 degrees of
    longitude as crossing the antimeridian, so callers pass parts narrower than that."""

    def ring(r) -> list[tuple[float, float]]:
        xy = np.asarray(r.coords)[:-1]
        return [(float(y), float(x)) for x, y in xy]

    shape = h3.LatLngPoly(ring(polygon.exterior), *[ring(i) for i in polygon.interiors])
    found = h3i.h3shape_to_cells_experimental(shape, int(resolution), "overlap")
    return np.unique(np.asarray(found, dtype=np.uint64))


def grid_disk(cells: object, k: int) -> np.ndarray:
    """Sorted unique ``uint64`` cells within ``k`` grid steps of any of ``cells`` (cells included)."""
    cells = _as_cells(cells)
    f = h3i.grid_disk
    kk = int(k)
    parts = [np.asarray(f(c, kk), dtype=np.uint64) for c in cells.tolist()]
    if not parts:
        return np.empty(0, dtype=np.uint64)
    return np.unique(np.concatenate(parts))
