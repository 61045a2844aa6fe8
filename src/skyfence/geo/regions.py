"""Region specs -> lon/lat geometries -> H3 cells.

A spec is, recursively, one of (TOML shown; JSON/Python equivalents are the same dicts and lists)::

    "UKR"  "UA"  "Ukraine"  "ukraine"        # country: ISO A3 / ISO A2 / ADM0_A3 / ADMIN or NAME
    "B89"  "Crimea"                          # disputed area (NE 10m): BRK_A3 or BRK_NAME
    "US-TX"  "Texas"                         # province of USA/BRA/CAN/AUS: ISO 3166-2 or name
    "land"                                   # every country and disputed area: all land
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
    { region = "TWN", buffer_km = 22.2 }                   # any spec grown (or, < 0, shrunk) by a
                                                           # geodesic distance: Taiwan + 12 nm sea
    { bbox = [...], buffer_km = 5 }                        # buffer_km goes with any table spec

Names resolve through :mod:`skyfence.geo.gazetteer` (unknown names raise RegionError with a "did
you mean"), files through :mod:`skyfence.geo.readers`; relative paths resolve against ``base_dir``
(the scenario file's folder). Geometries follow :mod:`skyfence.geo.polygons` (lon/lat, split at the
antimeridian).

``region_cells(geom, res, membership)`` lists the H3 cells of a region by one of three rules
(:data:`CELL_MEMBERSHIP`): ``"overlap"`` (any part of the cell lies in the region, so the cells
cover it without a gap), ``"centre"`` (the cell's centre lies in it) or ``"within"`` (the whole
cell lies in it). ``circle_of(spec)`` gives the centre and radius of a plain circle spec, so points
can be tested against it by distance rather than against its polygon.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from skyfence.errors import RegionError
from skyfence.geo.buffers import buffer_km
from skyfence.geo.cells import cell_boundaries, cell_centres, cell_of, cells_overlapping, grid_disk
from skyfence.geo.earth import unit_vectors, wgs84
from skyfence.geo.gazetteer import LAND, SPEC_HELP, all_land, lookup_named_region
from skyfence.geo.polygons import as_polygonal, normalize, polygons_of, wrap_antimeridian
from skyfence.geo.readers import FILE_SUFFIXES, load_geometry_file

__all__ = ["RegionSpec", "CELL_MEMBERSHIP", "resolve_region", "circle", "circle_of", "region_cells"]

#: a region spec: str | Path | list | dict, see the module docstring
RegionSpec = Any
#: the rules deciding which H3 cells belong to a region (see :func:`region_cells`)
CELL_MEMBERSHIP = ("overlap", "centre", "within")
_CIRCLE_KEYS = {"lat", "lon", "radius_km"}


def circle_of(spec: RegionSpec) -> tuple[float, float, float] | None:
    """(lat_deg, lon_deg, radius_km) of a plain circle spec ``{lat, lon, radius_km}``, else None."""
    if isinstance(spec, Mapping) and set(spec) >= _CIRCLE_KEYS and set(spec) <= _CIRCLE_KEYS | {"n_vertices"}:
        try:
            return float(spec["lat"]), float(spec["lon"]), float(spec["radius_km"])
        except (TypeError, ValueError):
            return None
    return None


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
        return all_land() if s.casefold() == LAND else lookup_named_region(s)
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise RegionError("empty list of regions")
        return _combine("union", spec, base_dir)
    if isinstance(spec, Mapping):
        keys = set(spec)
        if "buffer_km" in keys:
            rest = {k: v for k, v in spec.items() if k != "buffer_km"}
            if not rest:
                raise RegionError("buffer_km needs a region to buffer, e.g. { region = \"TWN\", buffer_km = 22.2 }")
            return buffer_km(resolve_region(rest, base_dir=base_dir), spec["buffer_km"])
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
            raise RegionError(f"region table must have exactly one of {list(_OPS) + ['bbox', 'polygon', 'file', 'name', 'region']} "
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
        if key == "region":
            return resolve_region(value, base_dir=base_dir)
        suggestion = difflib.get_close_matches(
            key, list(_OPS) + ["bbox", "polygon", "file", "name", "region", "buffer_km", "lat", "lon", "radius_km"], n=1)
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


def region_cells(geometry: BaseGeometry, resolution: int, membership: str = "centre") -> np.ndarray:
    """Sorted unique H3 cells (uint64) at `resolution` that belong to `geometry` by `membership`:
    ``"centre"`` (the cell's centre lies in it, boundary included), ``"overlap"`` (any part of the
    cell lies in it: the cells cover the region without a gap) or ``"within"`` (the whole cell).

    Correct across the antimeridian (parts are handled separately), with holes and multipolygons.
    Method: candidates are the cells H3 finds overlapping each part of the geometry cut into
    60-degree-wide longitude strips (so H3's own antimeridian heuristic never triggers and a part
    never wraps the world); each candidate is then kept iff its centre lies in the lon/lat polygon
    (shapely), which makes the rule exact whatever H3's great-circle edges do. For "overlap" and
    "within", the cells near the border (those holding a point of the border densified to a quarter
    of the cell size, and their neighbours) are tested as polygons (H3's vertices, each edge
    densified along its great circle) against the geometry; every other cell lies wholly on the side
    of its centre.
    """
    res = int(resolution)
    if not 0 <= res <= 15:
        raise RegionError(f"H3 resolution must be 0..15, got {resolution}")
    if membership not in CELL_MEMBERSHIP:
        raise RegionError(f"cell membership must be one of {', '.join(map(repr, CELL_MEMBERSHIP))}, got {membership!r}")
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
    cand = np.unique(np.concatenate(chunks)) if chunks else np.empty(0, dtype=np.uint64)
    lat, lon = cell_centres(cand)
    shapely.prepare(geom)
    centre_in = shapely.intersects_xy(geom, lon, lat)
    if membership == "centre":
        return cand[centre_in]
    near = _border_cells(geom, res)
    far = ~np.isin(cand, near)
    kept = cand[far & centre_in]
    test = _cell_polygons(near)
    if membership == "overlap":
        ok = shapely.intersects(test.polys, geom) | shapely.intersects(test.shifted, geom)
    else:
        ok = shapely.covered_by(test.polys, _extended(geom)) & ~test.polar
    return np.union1d(kept, near[ok])


# H3's average hexagon edge length at each resolution, km; the smallest edge is about 0.6 x this
_AVG_EDGE_KM = (1281.256, 483.057, 182.513, 68.979, 26.072, 9.854, 3.725, 1.406, 0.531, 0.201,
                0.076, 0.029, 0.011, 0.004, 0.0015, 0.0006)


def _border_cells(geom: BaseGeometry, res: int) -> np.ndarray:
    """Cells holding a point of the border (densified to a quarter of the smallest cell edge, with
    the antimeridian-cut edges) and their neighbours: every cell the border passes through."""
    step_deg = 0.6 * _AVG_EDGE_KM[res] / 4 / 111.2
    xs, ys = [], []
    for poly in polygons_of(geom):
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(shapely.segmentize(ring, step_deg).coords)
            xs.append(xy[:, 0])
            ys.append(xy[:, 1])
    if not xs:
        return np.empty(0, dtype=np.uint64)
    on = np.unique(cell_of(np.concatenate(ys), np.concatenate(xs), res))
    return grid_disk(on, 1)


class _CellPolygons(NamedTuple):
    """Lon/lat polygons of cells (edges densified along great circles); `shifted` is the polygon
    moved by 360 deg for cells that cross the antimeridian (else empty); `polar` marks cells
    holding a pole."""

    polys: np.ndarray
    shifted: np.ndarray
    polar: np.ndarray


_EDGE_SUBDIV = 4


def _cell_polygons(cells: np.ndarray) -> _CellPolygons:
    n = len(cells)
    polys = np.empty(n, dtype=object)
    shifted = np.full(n, Polygon(), dtype=object)
    polar = np.zeros(n, dtype=bool)
    rings = cell_boundaries(cells)
    sizes = np.array([len(r) for r in rings], dtype=np.int64)
    f = (np.arange(_EDGE_SUBDIV) / _EDGE_SUBDIV)[None, None, :, None]
    for k in np.unique(sizes):  # hexagons, pentagons, cells with distortion vertices: one batch each
        idx = np.flatnonzero(sizes == k)
        ring = np.stack([rings[i] for i in idx])  # [m, k, 2] lon, lat
        a = unit_vectors(ring[..., 1], ring[..., 0])
        b = np.roll(a, -1, axis=1)
        # points along each edge's chord, normalised onto the sphere: the great circle
        v = (a[:, :, None, :] * (1 - f) + b[:, :, None, :] * f).reshape(len(idx), -1, 3)
        v /= np.linalg.norm(v, axis=-1, keepdims=True)
        lat = np.degrees(np.arcsin(np.clip(v[..., 2], -1, 1)))
        lon = np.degrees(np.unwrap(np.arctan2(v[..., 1], v[..., 0]), axis=1))
        back = lon[:, -1] + (lon[:, 0] - lon[:, -1] + 180.0) % 360.0 - 180.0
        winds = np.abs(back - lon[:, 0]) > 180.0  # the ring winds once around the Earth's axis
        lon = lon - 360.0 * np.floor((lon.min(axis=1, keepdims=True) + 180.0) / 360.0)
        ok = ~winds
        polys[idx[ok]] = shapely.polygons(np.stack([lon[ok], lat[ok]], axis=-1))
        crosses = ok & (lon.max(axis=1) > 180.0)
        shifted[idx[crosses]] = shapely.polygons(np.stack([lon[crosses] - 360.0, lat[crosses]], axis=-1))
        for j in np.flatnonzero(winds):  # close it along the pole's latitude
            pole = 90.0 if lat[j].mean() > 0 else -90.0
            x = np.r_[lon[j], lon[j, -1], lon[j, 0]]
            y = np.r_[lat[j], pole, pole]
            polys[idx[j]] = shapely.make_valid(Polygon(np.column_stack([x, y])))
            polar[idx[j]] = True
    return _CellPolygons(polys, shifted, polar)


def _extended(geom: BaseGeometry) -> BaseGeometry:
    """`geom` and its copies moved by +-360 deg of longitude, merged: a cell across the
    antimeridian is covered by it iff it is covered by the parts on both sides."""
    out = shapely.union_all([geom, shapely.affinity.translate(geom, 360.0), shapely.affinity.translate(geom, -360.0)])
    shapely.prepare(out)
    return out
