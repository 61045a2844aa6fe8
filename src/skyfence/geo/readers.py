"""Region files: GeoJSON and shapefiles -> one lon/lat (Multi)Polygon.

GeoJSON may be a Polygon, MultiPolygon, Feature, FeatureCollection or GeometryCollection; shapefiles
a ``.shp`` or a ``.zip`` holding one, in lon/lat (a projected ``.prj`` is refused). The result is
the union of every polygon, normalised by :func:`skyfence.geo.polygons.normalize`. Every fault
raises RegionError naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from skyfence.errors import RegionError
from skyfence.geo.polygons import normalize, polygons_of

__all__ = ["load_geometry_file", "FILE_SUFFIXES"]

#: file name endings read as region files
FILE_SUFFIXES = (".geojson", ".json", ".shp", ".zip")


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
    polys = [q for g in geoms for q in polygons_of(g)]
    if not polys:
        raise RegionError(f"{p}: holds no Polygon or MultiPolygon")
    return normalize(shapely.union_all([normalize(q, what=str(p)) for q in polys]), what=str(p))


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
    return normalize(shapely.union_all([normalize(g, what=str(p)) for g in geoms]), what=str(p))


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
