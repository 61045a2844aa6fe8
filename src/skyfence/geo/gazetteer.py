"""The gazetteer: bundled Natural Earth countries, disputed areas and provinces by code or name.

Countries come from NE 4.0 50m admin-0, disputed areas from NE 10m, provinces of USA/BRA/CAN/AUS
from NE 50m admin-1 (files in ``skyfence/data/geo``). Names are case-insensitive; lookup order is
country, then disputed area, then province, so "Georgia" is the country (the US state is "US-GA").
Natural Earth 4.0 draws Crimea inside Russia's polygon: Ukraine with Crimea is ["UKR", "B89"].
"""

from __future__ import annotations

import difflib
import json
import threading
from collections.abc import Mapping
from importlib import resources
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from skyfence.errors import RegionError
from skyfence.geo.polygons import normalize

__all__ = ["lookup_named_region", "known_region_names", "all_land", "LAND", "SPEC_HELP"]

_GEO_PACKAGE = "skyfence.data.geo"
_COUNTRIES = "ne4_50m_admin_0_countries.geojson"
_DISPUTED = "ne4_10m_admin_0_disputed_areas.geojson"
_PROVINCES = "ne4_50m_admin_1_states_provinces.geojson"
# NE 4.0 writes -99 for the ISO codes of a few countries; their codes from ISO 3166-1
_ISO_FALLBACK = {"FRA": ("FR", "FRA"), "NOR": ("NO", "NOR")}
#: what a region spec may be, for error messages
SPEC_HELP = (
    "a region is a country (name, ISO A2/A3 or ADM0_A3 code), a disputed area (e.g. B89 = Crimea), "
    "a province of USA/BRA/CAN/AUS (e.g. US-TX), a GeoJSON/shapefile path, a list (union), "
    "{lat, lon, radius_km}, {bbox = [...]}, {polygon = [...]}, {file = ...}, "
    "{union = [...]}, {difference = [...]} or {intersection = [...]}, or \"land\" (every country)"
)
#: the region name of all land: the union of every country and disputed area
LAND = "land"


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

    def land(self) -> BaseGeometry:
        """The union of every country and disputed area (cached)."""
        import shapely

        self._load()
        with self._lock:
            geom = self._geoms.get((LAND, 0))
        if geom is None:
            parts = [shape(f["geometry"]) for fname in (_COUNTRIES, _DISPUTED) for f in self._features[fname]]
            geom = normalize(shapely.union_all([shapely.make_valid(p) for p in parts]), what="land")
            with self._lock:
                self._geoms[(LAND, 0)] = geom
        return geom

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
                geom = normalize(shape(self._features[fname][i]["geometry"]), what=f"{name!r}")
                self._geoms[where] = geom
        return geom


def _unknown_message(name: str, index: Mapping[str, Any], display: Mapping[str, str]) -> str:
    key = name.strip().casefold()
    close = difflib.get_close_matches(key, list(index), n=3, cutoff=0.6)
    msg = f"unknown region {name!r}"
    if close:
        msg += ": did you mean " + " or ".join(repr(display[c]) for c in close) + "?"
    return msg + f" ({SPEC_HELP})"


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


def all_land() -> BaseGeometry:
    """Every country and disputed area of the gazetteer as one geometry (the region ``"land"``)."""
    return _NAMED.land()


def known_region_names() -> list[str]:
    """Every name and code `lookup_named_region` accepts (for help texts and suggestions)."""
    return _NAMED.names()

