"""Ground stations for the network layer: Hypatia files, bundled cities and gateways, place names.

Positions are geodetic (``lat_deg``, ``lon_deg``, ``elev_m``) plus Earth-fixed Cartesian
``ecef_km`` (ITRF/WGS84 unless a file gives its own ECEF, as Hypatia's extended
``ground_stations.txt`` does: those coordinates are used as they are).

Readers:

* Hypatia basic ``id,name,lat,lon,elev`` and extended ``id,name,lat,lon,elev,x,y,z``
  (metres) — :func:`read_ground_stations`;
* the bundled Hypatia city lists (``top-100``, ``top-1000``) — :func:`bundled_cities`;
* the bundled Starlink gateway lists (StarPerf XML, Hypatia PR 29 basic) — :func:`bundled_gateways`;
* a place given as a city name or ``"lat,lon"`` — :func:`resolve_place`.

The fibre baseline is the great-circle distance on a sphere of radius 6,371.0 km at
two thirds of the vacuum speed of light (:func:`fibre_rtt_ms`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from skyfence.errors import SkyfenceError

#: speed of light in vacuum, km/s
C_KM_S = 299_792.458
#: speed of light in fibre (refractive index 1.5), km/s
C_FIBRE_KM_S = C_KM_S * 2.0 / 3.0
#: mean Earth radius used for great-circle distances, km
EARTH_MEAN_RADIUS_KM = 6371.0

_ELLIPSOIDS = {
    # name: (equatorial radius km, flattening)
    "wgs84": (6378.137, 1.0 / 298.257223563),
    "wgs72": (6378.135, 1.0 / 298.26),  # what Hypatia's satgenpy uses for its ground ECEF
}

CITY_LISTS = {
    "top-100": "hypatia_cities_by_est_2025_pop_top_100.basic.txt",
    "top-1000": "hypatia_cities_by_est_2025_pop_top_1000.basic.txt",
}
GATEWAY_LISTS = {
    "starlink": "starperf_starlink_ground_stations.xml",
    "starlink-pops": "starperf_starlink_pops.xml",
    "starlink-hypatia": "hypatia_pr29_ground_stations_starlink_550.basic.txt",
}


class SitesError(SkyfenceError):
    """A malformed ground-station file or an unknown place."""


def geodetic_to_ecef_km(
    lat_deg: np.ndarray | float,
    lon_deg: np.ndarray | float,
    elev_m: np.ndarray | float = 0.0,
    ellipsoid: str = "wgs84",
) -> np.ndarray:
    """Geodetic latitude/longitude (deg) and height (m) to Earth-fixed Cartesian km, shape ``[..., 3]``."""
    a_km, f = _ELLIPSOIDS[ellipsoid]
    e2 = f * (2.0 - f)
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    h_km = np.asarray(elev_m, dtype=float) / 1000.0
    n_km = a_km / np.sqrt(1.0 - e2 * np.sin(lat) ** 2)
    x = (n_km + h_km) * np.cos(lat) * np.cos(lon)
    y = (n_km + h_km) * np.cos(lat) * np.sin(lon)
    z = (n_km * (1.0 - e2) + h_km) * np.sin(lat)
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


@dataclass
class GroundStations:
    """A list of ground stations (cities, user terminals or gateways).

    ``ecef_km`` is ``[n, 3]`` Earth-fixed km; ``ids`` are the file's ids (0..n-1 for Hypatia files).
    """

    names: list[str]
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    elev_m: np.ndarray
    ecef_km: np.ndarray
    ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.ids:
            self.ids = list(range(len(self.names)))

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_lla(
        cls,
        names: list[str],
        lat_deg: np.ndarray,
        lon_deg: np.ndarray,
        elev_m: np.ndarray | None = None,
        *,
        ellipsoid: str = "wgs84",
        ids: list[int] | None = None,
    ) -> GroundStations:
        """Build from geodetic coordinates (ECEF computed on ``ellipsoid``)."""
        lat = np.asarray(lat_deg, dtype=float).reshape(-1)
        lon = np.asarray(lon_deg, dtype=float).reshape(-1)
        elev = np.zeros_like(lat) if elev_m is None else np.asarray(elev_m, dtype=float).reshape(-1)
        return cls(
            list(names),
            lat,
            lon,
            elev,
            geodetic_to_ecef_km(lat, lon, elev, ellipsoid),
            list(ids or []),
        )

    def subset(self, idx: list[int] | np.ndarray) -> GroundStations:
        """The stations at positions ``idx`` (ids kept)."""
        idx = np.asarray(idx, dtype=int)
        return GroundStations(
            [self.names[i] for i in idx],
            self.lat_deg[idx],
            self.lon_deg[idx],
            self.elev_m[idx],
            self.ecef_km[idx],
            [self.ids[i] for i in idx],
        )

    def concat(self, other: GroundStations) -> GroundStations:
        """These stations followed by ``other`` (ids renumbered 0..n-1)."""
        return GroundStations(
            self.names + other.names,
            np.concatenate([self.lat_deg, other.lat_deg]),
            np.concatenate([self.lon_deg, other.lon_deg]),
            np.concatenate([self.elev_m, other.elev_m]),
            np.concatenate([self.ecef_km, other.ecef_km]),
        )

    def index_of(self, name_or_id: str) -> int:
        """Position of a station given by name (case-insensitive; ``-``/``_``/space alike) or numeric id."""
        key = name_or_id.strip()
        if re.fullmatch(r"\d+", key):
            i = int(key)
            if i in self.ids:
                return self.ids.index(i)
        norm = _norm(key)
        for i, name in enumerate(self.names):
            if _norm(name) == norm:
                return i
        for i, name in enumerate(self.names):  # "Moscow" matches "Moskva-(Moscow)"
            if norm in _tokens(name):
                return i
        raise SitesError(f"unknown ground station {name_or_id!r} (not a name or id in this list)")


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def _tokens(name: str) -> set[str]:
    parts = {_norm(p) for p in re.split(r"[()]", name) if p.strip(" -_")}
    return {p.strip() for p in parts}


def _parse_float(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SitesError(f"{where}: {what} {text!r} is not a number") from None
    if not np.isfinite(value):
        raise SitesError(f"{where}: {what} {text!r} is not finite")
    return value


def parse_ground_stations(
    text: str, source: str = "<text>", *, ellipsoid: str = "wgs84"
) -> GroundStations:
    """Parse Hypatia's ``ground_stations.txt`` text, basic (5 fields) or extended (8 fields, ECEF in m).

    For basic lines ECEF is computed on ``ellipsoid`` (Hypatia itself uses WGS72; the
    difference is about 1 m). Raises :class:`SitesError` naming file and line.
    """
    names: list[str] = []
    ids: list[int] = []
    lat, lon, elev, xyz = [], [], [], []
    n_fields: int | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        where = f"{source}, line {lineno}"
        if len(parts) not in (5, 8):
            raise SitesError(
                f"{where}: expected 5 fields 'id,name,lat,lon,elev' or 8 'id,name,lat,lon,elev,x,y,z', "
                f"got {len(parts)}"
            )
        if n_fields is None:
            n_fields = len(parts)
        elif len(parts) != n_fields:
            raise SitesError(f"{where}: {len(parts)} fields, but earlier lines have {n_fields}")
        try:
            ids.append(int(parts[0]))
        except ValueError:
            raise SitesError(f"{where}: id {parts[0]!r} is not an integer") from None
        names.append(parts[1])
        la = _parse_float(parts[2], "latitude", where)
        lo = _parse_float(parts[3], "longitude", where)
        if not -90.0 <= la <= 90.0:
            raise SitesError(f"{where}: latitude {la} outside [-90, 90]")
        if not -180.0 <= lo <= 360.0:
            raise SitesError(f"{where}: longitude {lo} outside [-180, 360]")
        lat.append(la)
        lon.append(lo)
        elev.append(_parse_float(parts[4], "elevation", where))
        if n_fields == 8:
            xyz.append([_parse_float(p, "ECEF coordinate", where) / 1000.0 for p in parts[5:8]])
    if not names:
        raise SitesError(f"{source}: no ground stations")
    gs = GroundStations.from_lla(
        names, np.array(lat), np.array(lon), np.array(elev), ellipsoid=ellipsoid, ids=ids
    )
    if n_fields == 8:
        gs.ecef_km = np.asarray(xyz, dtype=float)
    return gs


def read_ground_stations(path: str | Path, *, ellipsoid: str = "wgs84") -> GroundStations:
    """Read a ground-station file: Hypatia basic/extended text, or a StarPerf gateway XML."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SitesError(
            f"cannot read ground stations file {str(p)!r}: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError:
        raise SitesError(f"ground stations file {str(p)!r} is not UTF-8 text") from None
    if text.lstrip().startswith("<"):
        return parse_gateway_xml(text, str(p), ellipsoid=ellipsoid)
    return parse_ground_stations(text, str(p), ellipsoid=ellipsoid)


def parse_gateway_xml(
    text: str, source: str = "<xml>", *, ellipsoid: str = "wgs84"
) -> GroundStations:
    """Parse StarPerf's gateway/PoP XML (``<GSs><GS1><Latitude>..</Latitude>...``)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SitesError(f"{source}: not valid XML ({exc})") from None
    names, lat, lon = [], [], []
    for child in root:
        la = child.findtext("Latitude")
        lo = child.findtext("Longitude")
        if la is None or lo is None:
            raise SitesError(f"{source}: element <{child.tag}> lacks Latitude/Longitude")
        desc = child.findtext("Description") or child.findtext("Name") or child.tag
        names.append(desc.strip())
        lat.append(_parse_float(la, "latitude", f"{source} <{child.tag}>"))
        lon.append(_parse_float(lo, "longitude", f"{source} <{child.tag}>"))
    if not names:
        raise SitesError(f"{source}: no ground stations")
    return GroundStations.from_lla(names, np.array(lat), np.array(lon), ellipsoid=ellipsoid)


def bundled_cities(which: str = "top-100", *, ellipsoid: str = "wgs84") -> GroundStations:
    """Hypatia's city list bundled with skyfence: ``"top-100"`` or ``"top-1000"`` by estimated 2025 population."""
    if which not in CITY_LISTS:
        raise SitesError(f"unknown city list {which!r}; choose one of {', '.join(CITY_LISTS)}")
    text = (
        resources.files("skyfence.data")
        .joinpath("cities")
        .joinpath(CITY_LISTS[which])
        .read_text(encoding="utf-8")
    )
    return parse_ground_stations(text, CITY_LISTS[which], ellipsoid=ellipsoid)


def bundled_gateways(which: str = "starlink", *, ellipsoid: str = "wgs84") -> GroundStations:
    """Bundled Starlink gateways: ``"starlink"`` (261, StarPerf), ``"starlink-pops"``, ``"starlink-hypatia"`` (198)."""
    if which not in GATEWAY_LISTS:
        raise SitesError(
            f"unknown gateway list {which!r}; choose one of {', '.join(GATEWAY_LISTS)}"
        )
    fname = GATEWAY_LISTS[which]
    text = (
        resources.files("skyfence.data")
        .joinpath("ground_stations")
        .joinpath(fname)
        .read_text(encoding="utf-8")
    )
    if fname.endswith(".xml"):
        return parse_gateway_xml(text, fname, ellipsoid=ellipsoid)
    return parse_ground_stations(text, fname, ellipsoid=ellipsoid)


_LATLON = re.compile(
    r"^\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*[, ]\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*$"
)


def resolve_place(
    spec: str, stations: GroundStations | None = None, *, ellipsoid: str = "wgs84"
) -> GroundStations:
    """One place as a one-station list: ``"lat,lon"`` (deg), a name/id in ``stations``, or a top-1000 city name."""
    m = _LATLON.match(spec)
    if m:
        la, lo = float(m.group(1)), float(m.group(2))
        if not -90.0 <= la <= 90.0 or not -180.0 <= lo <= 360.0:
            raise SitesError(
                f"place {spec!r}: latitude must be in [-90, 90] and longitude in [-180, 360]"
            )
        return GroundStations.from_lla(
            [f"{la:g},{lo:g}"], np.array([la]), np.array([lo]), ellipsoid=ellipsoid
        )
    if stations is not None:
        try:
            return stations.subset([stations.index_of(spec)])
        except SitesError:
            pass
    cities = bundled_cities("top-1000", ellipsoid=ellipsoid)
    if not re.fullmatch(r"\s*\d+\s*", spec):  # bare ids only make sense within a station list
        try:
            return cities.subset([cities.index_of(spec)])
        except SitesError:
            pass
    raise SitesError(
        f"unknown place {spec!r}: give 'lat,lon' in degrees or a city of the bundled top-1000 list "
        "(e.g. 'London', 'New-York-Newark')"
    )


def great_circle_km(lat1_deg, lon1_deg, lat2_deg, lon2_deg) -> np.ndarray:
    """Great-circle distance (haversine) on a sphere of radius 6,371.0 km, km."""
    p1, p2 = np.radians(lat1_deg), np.radians(lat2_deg)
    dl = np.radians(np.asarray(lon2_deg) - np.asarray(lon1_deg))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2.0 * EARTH_MEAN_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def fibre_rtt_ms(lat1_deg, lon1_deg, lat2_deg, lon2_deg) -> np.ndarray:
    """Round-trip time over a great-circle fibre at 2/3 c, ms (a lower bound for real fibre routes)."""
    return 2.0 * great_circle_km(lat1_deg, lon1_deg, lat2_deg, lon2_deg) / C_FIBRE_KM_S * 1000.0
