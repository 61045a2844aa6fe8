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
    { polygon = [[lon, lat], [lon, lat], ...] }            # one ring, lon/lat, closed or not; no
                                                           # edge spans > 180 deg of longitude, so
                                                           # [[170, 50], [-170, 50], ...] crosses 180
    { file = "zones/black_sea.geojson" }                   # a file, explicitly

Names are case-insensitive; lookup order is country, then disputed area, then province, so "Georgia"
is the country (the US state is "US-GA"). Unknown names raise `RegionError` with a "did you mean".
Natural Earth 4.0 draws Crimea inside Russia's polygon: Ukraine with Crimea is ["UKR", "B89"].
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

import difflib
import json
import math
import threading
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import h3
import h3.api.numpy_int as h3i
import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import MultiPolygon, Polygon, box, shape
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

EARTH_MEAN_RADIUS_KM = 6371.0088  # IUGG mean radius R1, used for geodesic circles
WGS84_A_KM = 6378.137
WGS84_F = 1 / 298.257223563
_E2 = WGS84_F * (2 - WGS84_F)
_E = math.sqrt(_E2)
# authalic radius R_q: sphere of the same area as the WGS84 ellipsoid
_QP = 1 + (1 - _E2) / _E * math.atanh(_E)  # authalic q at the pole
AUTHALIC_RADIUS_KM = WGS84_A_KM * math.sqrt(_QP / 2)

_GEO_PACKAGE = "skyfence.data.geo"
_COUNTRIES = "ne4_50m_admin_0_countries.geojson"
_DISPUTED = "ne4_10m_admin_0_disputed_areas.geojson"
_PROVINCES = "ne4_50m_admin_1_states_provinces.geojson"
# NE 4.0 writes -99 for the ISO codes of a few countries; their codes from ISO 3166-1
_ISO_FALLBACK = {"FRA": ("FR", "FRA"), "NOR": ("NO", "NOR")}
_FILE_SUFFIXES = (".geojson", ".json", ".shp", ".zip")
_SPEC_HELP = (
    "a region is a country (name, ISO A2/A3 or ADM0_A3 code), a disputed area (e.g. B89 = Crimea), "
    "a province of USA/BRA/CAN/AUS (e.g. US-TX), a GeoJSON/shapefile path, a list (union), "
    "{lat, lon, radius_km}, {bbox = [...]}, {polygon = [...]}, {file = ...}, "
    "{union = [...]}, {difference = [...]} or {intersection = [...]}"
)


# --------------------------------------------------------------------------- bundled names

class _NamedIndex:
    """Lazily loaded index of the bundled Natural Earth features by lower-case key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: dict[str, tuple[str, int]] | None = None  # key -> (file, feature number)
        self._display: dict[str, str] = {}  # key -> the name as written
        self._features: dict[str, list[dict]] = {}
        self._geoms: dict[tuple[str, int], BaseGeometry] = {}

    def _load(self) -> dict[str, tuple[str, int]]:
        with self._lock:
            if self._index is not None:
                return self._index
            index: dict[str, tuple[str, int]] = {}

            def put(key: Any, where: tuple[str, int]) -> None:
                if not isinstance(key, str):
                    return
                key_s = key.strip()
                if not key_s or key_s == "-99":
                    return
                low = key_s.casefold()
                if low not in index:  # first wins: countries, then disputed, then provinces
                    index[low] = where
                    self._display[low] = key_s

            for fname in (_COUNTRIES, _DISPUTED, _PROVINCES):
                text = resources.files(_GEO_PACKAGE).joinpath(fname).read_text(encoding="utf-8")
                self._features[fname] = json.loads(text)["features"]
            for i, f in enumerate(self._features[_COUNTRIES]):
                p = f["properties"]
                where = (_COUNTRIES, i)
                a3 = p.get("ADM0_A3")
                for k in ("ISO_A3", "ISO_A2", "ADM0_A3", "ISO_A3_EH", "ADMIN", "NAME", "NAME_LONG"):
                    put(p.get(k), where)
                for code in _ISO_FALLBACK.get(a3, ()):
                    put(code, where)
            for i, f in enumerate(self._features[_DISPUTED]):
                p = f["properties"]
                for k in ("BRK_A3", "BRK_NAME"):
                    put(p.get(k), (_DISPUTED, i))
            for i, f in enumerate(self._features[_PROVINCES]):
                p = f["properties"]
                for k in ("iso_3166_2", "name"):
                    put(p.get(k), (_PROVINCES, i))
            self._index = index
            return index

    def names(self) -> list[str]:
        index = self._load()
        return sorted(self._display[k] for k in index)

    def get(self, name: str) -> BaseGeometry:
        index = self._load()
        key = name.strip().casefold()
        where = index.get(key)
        if where is None:
            raise RegionError(_unknown_message(name, index, self._display))
        with self._lock:
            geom = self._geoms.get(where)
            if geom is None:
                fname, i = where
                geom = _normalize(shape(self._features[fname][i]["geometry"]), what=f"{name!r}")
                self._geoms[where] = geom
        return geom


def _unknown_message(name: str, index: Mapping[str, Any], display: Mapping[str, str]) -> str:
    key = name.strip().casefold()
    close = difflib.get_close_matches(key, list(index), n=3, cutoff=0.6)
    msg = f"unknown region {name!r}"
    if close:
        msg += ": did you mean " + " or ".join(repr(display[c]) for c in close) + "?"
    return msg + f" ({_SPEC_HELP})"


_NAMED = _NamedIndex()


def lookup_named_region(name: str) -> BaseGeometry:
    """Geometry of a bundled Natural Earth country, disputed area or province by code or name.

    Countries (NE 4.0 50m admin-0; by ISO_A3, ISO_A2, ADM0_A3, ISO_A3_EH, ADMIN, NAME, NAME_LONG,
    with ISO codes restored where NE writes -99: France FR/FRA, Norway NO/NOR), then disputed areas
    (NE 10m; BRK_A3 such as "B89" or BRK_NAME such as "Crimea"), then provinces of USA/BRA/CAN/AUS
    (NE 50m admin-1; iso_3166_2 such as "US-TX", or name). Case-insensitive.
    Note: NE 4.0 draws Crimea inside Russia's polygon, so "UKR" excludes it; use ["UKR", "B89"].
    Raises RegionError (with a "did you mean ...") when nothing matches.
    """
    if not isinstance(name, str):
        raise RegionError(f"region name must be a string, got {type(name).__name__}")
    return _NAMED.get(name)


def known_region_names() -> list[str]:
    """Every name and code `lookup_named_region` accepts (for help texts and suggestions)."""
    return _NAMED.names()


# --------------------------------------------------------------------------- geometry helpers

def _polygons_of(geom: BaseGeometry) -> list[Polygon]:
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):  # GeometryCollection
        out: list[Polygon] = []
        for g in geom.geoms:
            out.extend(_polygons_of(g))
        return out
    return []


def _as_polygonal(parts: Sequence[Polygon]) -> BaseGeometry:
    parts = [p for p in parts if not p.is_empty and p.area > 0]
    if not parts:
        return Polygon()
    if len(parts) == 1:
        return parts[0]
    return MultiPolygon(parts)


def _wrap_antimeridian(geom: BaseGeometry) -> BaseGeometry:
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
        parts.extend(_polygons_of(piece))
    return _as_polygonal(parts)


def _normalize(geom: BaseGeometry, *, what: str) -> BaseGeometry:
    """Valid polygonal lon/lat geometry with x in [-180, 180] (split at the antimeridian)."""
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
    polys = _polygons_of(geom)
    if not polys:
        raise RegionError(f"{what}: holds no polygon (found {geom.geom_type})")
    geom = _wrap_antimeridian(_as_polygonal(polys))
    if geom.is_empty:
        raise RegionError(f"{what}: polygon has no area")
    return geom


# --------------------------------------------------------------------------- files

def _resolve_path(path: str | Path, base_dir: Path | None) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    return p


def _geojson_geometries(obj: Any, where: str) -> list[BaseGeometry]:
    if not isinstance(obj, dict):
        raise RegionError(f"{where}: expected a GeoJSON object, found {type(obj).__name__}")
    kind = obj.get("type")
    if kind == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list):
            raise RegionError(f"{where}: FeatureCollection without a 'features' list")
        out: list[BaseGeometry] = []
        for i, f in enumerate(feats):
            out.extend(_geojson_geometries(f, f"{where}: features[{i}]"))
        return out
    if kind == "Feature":
        if "geometry" not in obj:
            raise RegionError(f"{where}: Feature without a 'geometry'")
        if obj["geometry"] is None:
            return []
        return _geojson_geometries(obj["geometry"], where + " geometry")
    if kind == "GeometryCollection":
        geoms = obj.get("geometries")
        if not isinstance(geoms, list):
            raise RegionError(f"{where}: GeometryCollection without a 'geometries' list")
        out = []
        for i, g in enumerate(geoms):
            out.extend(_geojson_geometries(g, f"{where}: geometries[{i}]"))
        return out
    if kind in ("Polygon", "MultiPolygon"):
        if "coordinates" not in obj:
            raise RegionError(f"{where}: {kind} without 'coordinates'")
        try:
            g = shape(obj)
            g.bounds  # noqa: B018  forces coordinate parsing
        except Exception as exc:  # shapely raises several types for bad coordinates
            raise RegionError(f"{where}: malformed {kind} coordinates ({exc})") from None
        return [g]
    if kind in ("Point", "MultiPoint", "LineString", "MultiLineString"):
        raise RegionError(f"{where}: a {kind} is not a region (need Polygon or MultiPolygon)")
    raise RegionError(f"{where}: unknown GeoJSON type {kind!r}")


def _read_geojson(p: Path) -> BaseGeometry:
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RegionError(f"{p}: not UTF-8 text ({exc})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegionError(f"{p}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    geoms = _geojson_geometries(obj, str(p))
    polys = [q for g in geoms for q in _polygons_of(g)]
    if not polys:
        raise RegionError(f"{p}: holds no Polygon or MultiPolygon")
    return _normalize(shapely.union_all([_normalize(q, what=str(p)) for q in polys]), what=str(p))


def _read_shapefile(p: Path) -> BaseGeometry:
    import shapefile  # pyshp

    try:
        reader = shapefile.Reader(str(p))
    except Exception as exc:
        raise RegionError(f"{p}: cannot read shapefile ({exc})") from None
    with reader:
        prj = None
        if p.suffix.lower() == ".shp" and p.with_suffix(".prj").exists():
            prj = p.with_suffix(".prj").read_text(errors="replace")
        if prj and prj.lstrip().upper().startswith("PROJCS"):
            raise RegionError(f"{p}: projected coordinates; reproject to lon/lat (EPSG:4326)")
        geoms = []
        try:
            for i, shp in enumerate(reader.iterShapes()):
                gi = shp.__geo_interface__
                if gi.get("type") in ("Polygon", "MultiPolygon"):
                    geoms.extend(_geojson_geometries(gi, f"{p}: shape {i}"))
                elif gi.get("type") not in (None, "Null"):
                    raise RegionError(f"{p}: shape {i} is a {gi.get('type')}, not a polygon")
        except RegionError:
            raise
        except Exception as exc:
            raise RegionError(f"{p}: malformed shapefile ({exc})") from None
    if not geoms:
        raise RegionError(f"{p}: holds no polygon")
    return _normalize(shapely.union_all([_normalize(g, what=str(p)) for g in geoms]), what=str(p))


def load_geometry_file(path: str | Path, *, base_dir: Path | None = None) -> BaseGeometry:
    """Polygons from a GeoJSON (Polygon, MultiPolygon, Feature, FeatureCollection, GeometryCollection)
    or shapefile (.shp or a .zip holding one): their union. RegionError names the file and the fault."""
    p = _resolve_path(path, base_dir)
    if not p.exists():
        raise RegionError(f"region file not found: {p}")
    if p.is_dir():
        raise RegionError(f"region file is a directory: {p}")
    suffix = p.suffix.lower()
    if suffix in (".shp", ".zip"):
        return _read_shapefile(p)
    return _read_geojson(p)


# --------------------------------------------------------------------------- circles, boxes

def circle(lat: float, lon: float, radius_km: float, n_vertices: int = 256) -> BaseGeometry:
    """Geodesic circle (all points `radius_km` from the centre on the mean-radius sphere) as a polygon,
    split at the antimeridian and closed over a pole when it holds one.

    The sphere has the IUGG mean radius 6371.0088 km (distances within ~0.5% of WGS84 geodesics);
    the polygon joins `n_vertices` points on the circle by edges straight in lon/lat.
    """
    try:
        lat, lon, radius_km = float(lat), float(lon), float(radius_km)
    except (TypeError, ValueError):
        raise RegionError(f"circle needs numeric lat, lon, radius_km, got {lat!r}, {lon!r}, {radius_km!r}") from None
    if not (-90 <= lat <= 90) or not math.isfinite(lon):
        raise RegionError(f"circle centre out of range: lat={lat}, lon={lon}")
    if not (0 < radius_km < math.pi * EARTH_MEAN_RADIUS_KM):
        raise RegionError(f"circle radius_km must be > 0 and < {math.pi * EARTH_MEAN_RADIUS_KM:.0f}, got {radius_km}")
    d = radius_km / EARTH_MEAN_RADIUS_KM
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
        return _normalize(Polygon(ring), what="circle")
    lons = np.degrees(np.unwrap(lam2))
    shift = 360.0 * round((lons.mean()) / 360.0)  # keep the ring near [-180, 180]
    return _normalize(Polygon(np.column_stack([lons - shift, lats])), what="circle")


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
    return _normalize(box(w, s, e, n), what=f"bbox {values!r}")


def _inline_polygon(values: Any) -> BaseGeometry:
    try:
        pts = [(float(x), float(y)) for x, y in values]
    except (TypeError, ValueError):
        raise RegionError("polygon must be a list of [lon, lat] pairs") from None
    if len(pts) < 3:
        raise RegionError(f"polygon needs at least 3 [lon, lat] points, got {len(pts)}")
    xs = np.degrees(np.unwrap(np.radians([p[0] for p in pts])))  # an edge never jumps over 180 deg
    return _normalize(Polygon(list(zip(xs.tolist(), [p[1] for p in pts], strict=True))), what="polygon")


# --------------------------------------------------------------------------- specs

_OPS = ("union", "difference", "intersection")


def resolve_region(spec: RegionSpec, *, base_dir: Path | None = None) -> BaseGeometry:
    """Resolve a region spec (see the module docstring) to a lon/lat (Multi)Polygon.

    Raises RegionError for unknown names, unreadable or malformed files and malformed specs.
    """
    if isinstance(spec, BaseGeometry):
        return _normalize(spec, what="geometry")
    if isinstance(spec, Path):
        return load_geometry_file(spec, base_dir=base_dir)
    if isinstance(spec, str):
        s = spec.strip()
        if s.lower().endswith(_FILE_SUFFIXES) or "/" in s or "\\" in s:
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
        raise RegionError(f"unknown region key {key!r}{hint} ({_SPEC_HELP})")
    raise RegionError(f"cannot read a region from {type(spec).__name__} {spec!r} ({_SPEC_HELP})")


def _combine(op: str, items: Sequence[RegionSpec], base_dir: Path | None) -> BaseGeometry:
    geoms = [resolve_region(s, base_dir=base_dir) for s in items]
    if op == "union":
        out = shapely.union_all(geoms)
    elif op == "intersection":
        out = shapely.intersection_all(geoms)
    else:
        out = geoms[0] if len(geoms) == 1 else shapely.difference(geoms[0], shapely.union_all(geoms[1:]))
    parts = _polygons_of(out)
    return _as_polygonal(parts)  # may be empty (e.g. a difference that removes everything)


# --------------------------------------------------------------------------- cells

def cells_to_str(cells: np.ndarray) -> list[str]:
    """uint64 H3 cells -> hex strings ("85283473fffffff"), the Cedar `Cell::"..."` ids."""
    return [format(int(c), "x") for c in np.asarray(cells, dtype=np.uint64)]


def cells_from_str(cells: Sequence[str]) -> np.ndarray:
    """Hex strings -> uint64 H3 cells."""
    return np.array([int(c, 16) for c in cells], dtype=np.uint64)


def cells_to_latlng(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of uint64 H3 cells: (lat_deg, lon_deg) float64 arrays."""
    cells = np.asarray(cells, dtype=np.uint64).ravel()
    out = np.empty((len(cells), 2), dtype=np.float64)
    f = h3i.cell_to_latlng
    for i, c in enumerate(cells.tolist()):
        out[i] = f(c)
    return out[:, 0].copy(), out[:, 1].copy()


def points_to_cells(lat_deg: np.ndarray, lon_deg: np.ndarray, resolution: int) -> np.ndarray:
    """The uint64 H3 cell of each point at `resolution`."""
    lat = np.asarray(lat_deg, dtype=np.float64).ravel()
    lon = np.asarray(lon_deg, dtype=np.float64).ravel()
    if lat.shape != lon.shape:
        raise ValueError("lat and lon must have the same length")
    f = h3i.latlng_to_cell
    res = int(resolution)
    return np.fromiter((f(a, b, res) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)),
                       dtype=np.uint64, count=len(lat))


def cell_areas_km2(cells: np.ndarray) -> np.ndarray:
    """Area of each uint64 H3 cell in km^2 (h3.cell_area, authalic sphere)."""
    f = h3i.cell_area
    cells = np.asarray(cells, dtype=np.uint64).ravel()
    return np.fromiter((f(c, "km^2") for c in cells.tolist()), dtype=np.float64, count=len(cells))


_STRIP_DEG = 60.0  # candidate search in strips this wide: H3 never sees a polygon wider than 180 deg


def _h3_poly(poly: Polygon) -> h3.LatLngPoly:
    def ring(r) -> list[tuple[float, float]]:
        xy = np.asarray(r.coords)[:-1]
        return [(float(y), float(x)) for x, y in xy]

    return h3.LatLngPoly(ring(poly.exterior), *[ring(i) for i in poly.interiors])


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
    geom = _wrap_antimeridian(geometry) if not geometry.is_empty else geometry
    polys = _polygons_of(geom)
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
            for part in _polygons_of(piece):
                if part.area <= 0:
                    continue
                found = h3i.h3shape_to_cells_experimental(_h3_poly(part), res, "overlap")
                if len(found):
                    chunks.append(np.asarray(found, dtype=np.uint64))
    if not chunks:
        return np.empty(0, dtype=np.uint64)
    cand = np.unique(np.concatenate(chunks))
    lat, lon = cells_to_latlng(cand)
    shapely.prepare(geom)
    inside = shapely.intersects_xy(geom, lon, lat)
    return cand[inside]


# --------------------------------------------------------------------------- areas

def _authalic_lat(phi: np.ndarray) -> np.ndarray:
    s = np.sin(phi)
    q = (1 - _E2) * (s / (1 - _E2 * s * s) + np.arctanh(_E * s) / _E)
    qp = (1 - _E2) * (1 / (1 - _E2) + np.arctanh(_E) / _E)
    return np.arcsin(np.clip(q / qp, -1, 1))


def _ring_integral(coords: np.ndarray, ellipsoid: bool) -> float:
    """sum over edges of the integral of sin(beta) d(lambda) (radians), beta linear along each edge."""
    lam = np.radians(coords[:, 0])
    phi = np.radians(coords[:, 1])
    beta = _authalic_lat(phi) if ellipsoid else phi
    dl = np.diff(lam)
    b1, b2 = beta[:-1], beta[1:]
    db = b2 - b1
    small = np.abs(db) < 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = dl * (np.cos(b1) - np.cos(b2)) / db
    approx = dl * np.sin(0.5 * (b1 + b2))
    return float(np.sum(np.where(small, approx, exact)))


def geodesic_area_km2(geometry: BaseGeometry, *, ellipsoid: bool = True) -> float:
    """Area of a lon/lat polygon (edges straight in lon/lat), km^2.

    Method: by Green's theorem the area of a region on a sphere of radius R is
    R^2 * |closed integral of sin(lat) d(lon)| along its boundary. For the WGS84 ellipsoid
    (`ellipsoid=True`) latitudes are mapped to authalic latitudes and R is the authalic radius
    R_q = 6371.0072 km (an equal-area map onto that sphere). Edges are densified to <= 0.05 deg and
    the integral is exact along each piece with latitude linear in longitude. Holes subtract.
    `ellipsoid=False` gives the area on the authalic sphere with geodetic latitudes, as H3 does.
    No pyproj needed; agrees with pyproj's geodesic area to better than 1e-4 for country polygons.
    """
    total = 0.0
    for poly in _polygons_of(_wrap_antimeridian(geometry)):
        dense = shapely.segmentize(poly, 0.05)
        a = abs(_ring_integral(np.asarray(dense.exterior.coords), ellipsoid))
        for hole in dense.interiors:
            a -= abs(_ring_integral(np.asarray(hole.coords), ellipsoid))
        total += a
    return total * AUTHALIC_RADIUS_KM**2


# --------------------------------------------------------------------------- region sets

class RegionSet:
    """Named regions -> H3 cells at one resolution; every cell knows every region it belongs to.

    >>> rs = RegionSet.from_specs({"ukraine": ["UKR", "B89"], "crimea": "B89"}, resolution=5)
    >>> rs.names                      # ["ukraine", "crimea"], in insertion order
    >>> rs.cells("crimea")            # sorted uint64 cells
    >>> rs.membership(cells)          # scipy.sparse.csr_matrix bool [n_cells x n_regions]
    >>> rs.cell_region_names(cells)   # [("crimea", "ukraine"), ...] per cell, names sorted
    >>> rs.cell_region_labels(cells)  # evaluate.LabelSets (factorised) for the bulk evaluator
    >>> rs.point_region_labels(lat, lon)   # terminals: by their H3 cell at `resolution`

    Cells given to `membership` and friends must be at the set's resolution; use the point_* methods
    for coordinates: a terminal is in a region iff its own H3 cell (at the set resolution) is.
    """

    def __init__(self, resolution: int):
        res = int(resolution)
        if not 0 <= res <= 15:
            raise RegionError(f"H3 resolution must be 0..15, got {resolution}")
        self.resolution = res
        self._cells: dict[str, np.ndarray] = {}
        self._geoms: dict[str, BaseGeometry | None] = {}

    @classmethod
    def from_specs(
        cls, specs: Mapping[str, RegionSpec], resolution: int, *, base_dir: Path | None = None
    ) -> RegionSet:
        """Resolve each named spec (RegionError names the region's key on failure) and add it."""
        rs = cls(resolution)
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
        self._cells[name] = region_cells(geom, self.resolution)

    def add_cells(self, name: str, cells: np.ndarray) -> None:
        """Add (or replace) a named region given directly as uint64 cells at the set's resolution."""
        cells = np.unique(np.asarray(cells, dtype=np.uint64))
        if len(cells):
            res = {h3i.get_resolution(int(c)) for c in cells[:: max(1, len(cells) // 64)].tolist()}
            if res != {self.resolution}:
                raise RegionError(f"region {name!r}: cells at resolution {sorted(res)}, set is {self.resolution}")
        self._geoms[name] = None
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
        cols = []
        for arr in self._cells.values():
            if len(arr) == 0:
                cols.append(np.zeros(len(cells), dtype=bool))
                continue
            pos = np.searchsorted(arr, cells)
            pos[pos == len(arr)] = 0
            cols.append(arr[pos] == cells)
        return cols

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
        from skyfence.policy.evaluate import LabelSets

        cols = self._member_columns(cells)
        n = len(np.asarray(cells).ravel())
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
        return points_to_cells(lat_deg, lon_deg, self.resolution)

    def point_region_labels(self, lat_deg: np.ndarray, lon_deg: np.ndarray):
        """Region-name sets of points, by their H3 cell at the set resolution (evaluate.LabelSets)."""
        return self.cell_region_labels(self.point_cells(lat_deg, lon_deg))
