"""Lon/lat polygons: polygonal parts, the antimeridian cut and validation.

Every geometry in :mod:`skyfence.geo` is a shapely (Multi)Polygon in **lon/lat degrees** (x =
longitude, y = latitude), edges straight in lon/lat (the Natural Earth / GeoJSON convention), all
longitudes in [-180, 180]. Anything crossing the antimeridian is split there into parts (RFC 7946
3.1.9), so no part spans the world; input with longitudes outside [-180, 180] (e.g. 0..360 Pacific
files) is wrapped the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import shapely
import shapely.affinity
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from skyfence.errors import RegionError

__all__ = ["polygons_of", "as_polygonal", "wrap_antimeridian", "normalize"]


def polygons_of(geom: BaseGeometry | None) -> list[Polygon]:
    """The polygons of a (Multi)Polygon or GeometryCollection (other kinds contribute none)."""
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):  # GeometryCollection
        out: list[Polygon] = []
        for g in geom.geoms:
            out.extend(polygons_of(g))
        return out
    return []


def as_polygonal(parts: Sequence[Polygon]) -> BaseGeometry:
    """One Polygon, a MultiPolygon, or an empty Polygon from parts (parts without area dropped)."""
    parts = [p for p in parts if not p.is_empty and p.area > 0]
    if not parts:
        return Polygon()
    if len(parts) == 1:
        return parts[0]
    return MultiPolygon(parts)


def wrap_antimeridian(geom: BaseGeometry) -> BaseGeometry:
    """Cut a lon/lat geometry whose x leaves [-180, 180] into parts shifted back into it."""
    minx, _, maxx, _ = geom.bounds
    if minx >= -180 and maxx <= 180:
        return geom
    parts: list[Polygon] = []
    k_lo = math.floor((minx + 180) / 360)
    k_hi = math.floor((maxx + 180) / 360)
    for k in range(k_lo, k_hi + 1):
        window = box(-180 + 360 * k, -90, 180 + 360 * k, 90)
        piece = shapely.intersection(geom, window)
        piece = shapely.affinity.translate(piece, xoff=-360 * k) if k else piece
        parts.extend(polygons_of(piece))
    return as_polygonal(parts)


def normalize(geom: BaseGeometry, *, what: str) -> BaseGeometry:
    """Valid polygonal lon/lat geometry with x in [-180, 180] (split at the antimeridian).

    Raises RegionError naming ``what`` for empty input, latitudes outside [-90, 90], no polygon or
    no area.
    """
    if geom is None or geom.is_empty:
        raise RegionError(f"{what}: empty geometry")
    _, miny, _, maxy = geom.bounds
    if miny < -90 - 1e-9 or maxy > 90 + 1e-9:
        raise RegionError(
            f"{what}: latitude out of range [{miny:g}, {maxy:g}] (coordinates must be [lon, lat] "
            "in degrees; are they swapped or projected?)"
        )
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    polys = polygons_of(geom)
    if not polys:
        raise RegionError(f"{what}: holds no polygon (found {geom.geom_type})")
    geom = wrap_antimeridian(as_polygonal(polys))
    if geom.is_empty:
        raise RegionError(f"{what}: polygon has no area")
    return geom
