"""Region specs -> lon/lat geometries -> H3 cells.

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
    { polygon = [[lon, lat], [lon, lat], ...] }            # one ring, lon/lat, closed or not; no
                                                           # edge spans > 180 deg of longitude, so
                                                           # [[170, 50], [-170, 50], ...] crosses 180
    { file = "zones/black_sea.geojson" }                   # a file, explicitly

Names resolve through :mod:`skyfence.geo.gazetteer` (unknown names raise RegionError with a "did
you mean"), files through :mod:`skyfence.geo.readers`; relative paths resolve against ``base_dir``
(the scenario file's folder). Geometries follow :mod:`skyfence.geo.polygons` (lon/lat, split at the
antimeridian).

``region_cells(geom, res)`` lists the H3 cells whose **centre** lies inside the geometry (the centre
tested in lon/lat against the polygon as drawn, holes excluded).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from skyfence.errors import RegionError
from skyfence.geo.cells import cell_centres, cells_overlapping
from skyfence.geo.earth import wgs84
from skyfence.geo.gazetteer import SPEC_HELP, lookup_named_region
from skyfence.geo.polygons import as_polygonal, normalize, polygons_of, wrap_antimeridian
from skyfence.geo.readers import FILE_SUFFIXES, load_geometry_file

__all__ = ["RegionSpec", "resolve_region", "circle", "region_cells"]

#: a region spec: str | Path | list | dict, see the module docstring
RegionSpec = Any


def circle(lat: float, lon: float, radius_km: float, n_vertices: int = 256) -> BaseGeometry:
    """Geodesic circle (all points `radius_km` from the centre on the mean-radius sphere) as a polygon,
    split at the antimeridian and closed over a pole when it holds one.

    The sphere has the WGS84 mean radius R1, ``wgs84.mean_radius_km`` (distances within ~0.5% of
    WGS84 geodesics); the polygon joins `n_vertices` points on the circle by edges straight in lon/lat.
    """
    try:
        lat, lon, radius_km = float(lat), float(lon), float(radius_km)
    except (TypeError, ValueError):
        raise RegionError(f"circle needs numeric lat, lon, radius_km, got {lat!r}, {lon!r}, {radius_km!r}") from None
    if not (-90 <= lat <= 90) or not math.isfinite(lon):
        raise RegionError(f"circle centre out of range: lat={lat}, lon={lon}")
    r_km = wgs84.mean_radius_km
    if not (0 < radius_km < math.pi * r_km):
        raise RegionError(f"circle radius_km must be > 0 and < {math.pi * r_km:.0f}, got {radius_km}")
    d = radius_km / r_km
    phi1, lam1 = math.radians(lat), math.radians(lon)
    az = np.linspace(0.0, 2 * np.pi, n_vertices, endpoint=False)
    sin_phi2 = np.sin(phi1) * np.cos(d) + np.cos(phi1) * np.sin(d) * np.cos(az)
    phi2 = np.arcsin(np.clip(sin_phi2, -1, 1))
    lam2 = lam1 + np.arctan2(
        np.sin(az) * np.sin(d) * np.cos(phi1), np.cos(d) - np.sin(phi1) * sin_phi2
    )
    lats, lons = np.degrees(phi2), np.degrees(lam2)
    holds_north = math.pi / 2 - phi1 < d
    holds_south = phi1 + math.pi / 2 < d
    if holds_north or holds_south:
        # every meridian crosses the boundary once: boundary latitude as a function of longitude
        lw = (lons + 180.0) % 360.0 - 180.0
        order = np.argsort(lw)
        lw, la = lw[order], lats[order]
        # latitude at +-180 by interpolating across the wrap
        x0, y0, x1, y1 = lw[-1] - 360.0, la[-1], lw[0], la[0]
        y_edge = y0 + (y1 - y0) * (-180.0 - x0) / (x1 - x0) if x1 != x0 else y0
        pole = 90.0 if holds_north else -90.0
        ring = [(-180.0, y_edge)] + list(zip(lw.tolist(), la.tolist(), strict=True)) + [
            (180.0, y_edge), (180.0, pole), (-180.0, pole)
        ]
        return normalize(Polygon(ring), what="circle")
    lons = np.degrees(np.unwrap(lam2))
    shift = 360.0 * round((lons.mean()) / 360.0)  # keep the ring near [-180, 180]
    return normalize(Polygon(np.column_stack([lons - shift, lats])), what="circle")


def _bbox(values: Any) -> BaseGeometry:
    try:
        w, s, e, n = (float(v) for v in values)
    except (TypeError, ValueError):
        raise RegionError(f"bbox must be [lon_min, lat_min, lon_max, lat_max], got {values!r}") from None
    if not (-90 <= s < n <= 90):
        raise RegionError(f"bbox latitudes must satisfy -90 <= lat_min < lat_max <= 90, got {values!r}")
    if e < w:  # crosses the antimeridian
        e += 360.0
    if w == e:
        raise RegionError(f"bbox has zero width: {values!r}")
    return normalize(box(w, s, e, n), what=f"bbox {values!r}")


def _inline_polygon(values: Any) -> BaseGeometry:
    try:
        pts = [(float(x), float(y)) for x, y in values]
    except (TypeError, ValueError):
        raise RegionError("polygon must be a list of [lon, lat] pairs") from None
    if len(pts) < 3:
        raise RegionError(f"polygon needs at least 3 [lon, lat] points, got {len(pts)}")
    xs = np.degrees(np.unwrap(np.radians([p[0] for p in pts])))  # an edge never jumps over 180 deg
    return normalize(Polygon(list(zip(xs.tolist(), [p[1] for p in pts], strict=True))), what="polygon")


_OPS = ("union", "difference", "intersection")


def resolve_region(spec: RegionSpec, *, base_dir: Path | None = None) -> BaseGeometry:
    """Resolve a region spec (see the module docstring) to a lon/lat (Multi)Polygon.

    Raises RegionError for unknown names, unreadable or malformed files and malformed specs.
    """
    if isinstance(spec, BaseGeometry):
        return normalize(spec, what="geometry")
    if isinstance(spec, Path):
        return load_geometry_file(spec, base_dir=base_dir)
    if isinstance(spec, str):
        s = spec.strip()
        if s.lower().endswith(FILE_SUFFIXES) or "/" in s or "\\" in s:
            return load_geometry_file(s, base_dir=base_dir)
        return lookup_named_region(s)
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise RegionError("empty list of regions")
        return _combine("union", spec, base_dir)
    if isinstance(spec, Mapping):
        keys = set(spec)
        if keys >= {"lat", "lon", "radius_km"}:
            extra = keys - {"lat", "lon", "radius_km", "n_vertices"}
            if extra:
                raise RegionError(f"circle: unexpected key(s) {sorted(extra)} (keys: lat, lon, radius_km)")
            return circle(spec["lat"], spec["lon"], spec["radius_km"], int(spec.get("n_vertices", 256)))
        if len(keys) != 1:
            circle_keys = keys & {"lat", "lon", "radius_km"}
            if circle_keys:
                missing = sorted({"lat", "lon", "radius_km"} - keys)
                raise RegionError(f"circle: missing key(s) {missing}")
            raise RegionError(f"region table must have exactly one of {list(_OPS) + ['bbox', 'polygon', 'file', 'name']} "
                              f"(or lat, lon, radius_km), got keys {sorted(keys)}")
        (key,) = keys
        value = spec[key]
        if key in _OPS:
            if not isinstance(value, (list, tuple)) or not value:
                raise RegionError(f"{key} needs a non-empty list of regions, got {value!r}")
            return _combine(key, value, base_dir)
        if key == "bbox":
            return _bbox(value)
        if key == "polygon":
            return _inline_polygon(value)
        if key == "file":
            return load_geometry_file(value, base_dir=base_dir)
        if key == "name":
            return lookup_named_region(value)
        suggestion = difflib.get_close_matches(key, list(_OPS) + ["bbox", "polygon", "file", "name", "lat", "lon", "radius_km"], n=1)
        hint = f": did you mean {suggestion[0]!r}?" if suggestion else ""
        raise RegionError(f"unknown region key {key!r}{hint} ({SPEC_HELP})")
    raise RegionError(f"cannot read a region from {type(spec).__name__} {spec!r} ({SPEC_HELP})")


def _combine(op: str, items: Sequence[RegionSpec], base_dir: Path | None) -> BaseGeometry:
    geoms = [resolve_region(s, base_dir=base_dir) for s in items]
    if op == "union":
        out = shapely.union_all(geoms)
    elif op == "intersection":
        out = shapely.intersection_all(geoms)
    else:
        out = geoms[0] if len(geoms) == 1 else shapely.difference(geoms[0], shapely.union_all(geoms[1:]))
    parts = polygons_of(out)
    return as_polygonal(parts)  # may be empty (e.g. a difference that removes everything)


_STRIP_DEG = 60.0  # candidate search in strips this wide: H3 never sees a polygon wider than 180 deg


def region_cells(geometry: BaseGeometry, resolution: int) -> np.ndarray:
    """Sorted unique H3 cells (uint64) at `resolution` whose centre lies inside `geometry`.

    Correct across the antimeridian (parts are handled separately), with holes and multipolygons.
    Method: candidates are the cells H3 finds overlapping each part of the geometry cut into
    60-degree-wide longitude strips (so H3's own antimeridian heuristic never triggers and a part
    never wraps the world); each candidate is then kept iff its centre lies in the lon/lat polygon
    (shapely, boundary included), which makes the rule exact whatever H3's great-circle edges do.
    """
    res = int(resolution)
    if not 0 <= res <= 15:
        raise RegionError(f"H3 resolution must be 0..15, got {resolution}")
    geom = wrap_antimeridian(geometry) if not geometry.is_empty else geometry
    polys = polygons_of(geom)
    if not polys:
        return np.empty(0, dtype=np.uint64)
    chunks: list[np.ndarray] = []
    edges = np.arange(-180.0, 180.0 + 1e-9, _STRIP_DEG)
    for poly in polys:
        minx, _, maxx, _ = poly.bounds
        for x0, x1 in zip(edges[:-1], edges[1:], strict=True):
            if x1 < minx or x0 > maxx:
                continue
            piece = poly if (minx >= x0 and maxx <= x1) else shapely.intersection(poly, box(x0, -90, x1, 90))
            for part in polygons_of(piece):
                if part.area <= 0:
                    continue
                found = cells_overlapping(part, res)
                if len(found):
                    chunks.append(found)
    if not chunks:
        return np.empty(0, dtype=np.uint64)
    cand = np.unique(np.concatenate(chunks))
    lat, lon = cell_centres(cand)
    shapely.prepare(geom)
    inside = shapely.intersects_xy(geom, lon, lat)
    return cand[inside]
