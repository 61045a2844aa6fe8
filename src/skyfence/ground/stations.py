"""Ground stations and gateways: Hypatia ``ground_stations.txt``, StarPerf gateway XML, bundled lists.

Readers return :class:`skyfence.ground.places.Places`:

* Hypatia basic ``id,name,lat,lon,elev`` and extended ``id,name,lat,lon,elev,x,y,z`` (elevation
  and ECEF in metres; the extended file's ECEF is used as it is) — :func:`parse_ground_stations`;
* StarPerf's gateway/PoP XML (``<GSs><GS1><Latitude>..</Latitude>...``) — :func:`parse_gateway_xml`;
* either, by content — :func:`read_ground_stations`;
* the bundled Starlink gateway lists (StarPerf XML, Hypatia PR 29 basic) — :func:`bundled_gateways`.

ECEF is computed on ``ellipsoid`` (default :data:`~skyfence.geo.earth.wgs84`); Hypatia's satgenpy
computes its ground ECEF on WGS72, so ``ellipsoid=wgs72`` reproduces its numbers (about 1 m apart).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import numpy as np

from skyfence.errors import SitesError
from skyfence.geo.earth import Ellipsoid, wgs84
from skyfence.ground.places import Places

__all__ = [
    "GATEWAY_LISTS",
    "parse_ground_stations",
    "parse_gateway_xml",
    "read_ground_stations",
    "bundled_gateways",
]

#: bundled gateway lists: name -> file in ``skyfence/data/ground_stations``
GATEWAY_LISTS = {
    "starlink": "starperf_starlink_ground_stations.xml",
    "starlink-pops": "starperf_starlink_pops.xml",
    "starlink-hypatia": "hypatia_pr29_ground_stations_starlink_550.basic.txt",
}


def _parse_float(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SitesError(f"{where}: {what} {text!r} is not a number") from None
    if not np.isfinite(value):
        raise SitesError(f"{where}: {what} {text!r} is not finite")
    return value


def parse_ground_stations(text: str, source: str = "<text>", *, ellipsoid: Ellipsoid = wgs84) -> Places:
    """Parse Hypatia's ``ground_stations.txt`` text, basic (5 fields) or extended (8 fields, ECEF in m).

    Raises :class:`~skyfence.errors.SitesError` naming the source and line.
    """
    names: list[str] = []
    ids: list[int] = []
    lat, lon, elev_m, xyz_m = [], [], [], []
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
        elev_m.append(_parse_float(parts[4], "elevation", where))
        if n_fields == 8:
            xyz_m.append([_parse_float(p, "ECEF coordinate", where) for p in parts[5:8]])
    if not names:
        raise SitesError(f"{source}: no ground stations")
    return Places.from_geodetic(
        names, lat, lon, np.asarray(elev_m) / 1000.0, ellipsoid=ellipsoid, ids=ids,
        ecef_km=np.asarray(xyz_m, dtype=float) / 1000.0 if n_fields == 8 else None,
    )


def parse_gateway_xml(text: str, source: str = "<xml>", *, ellipsoid: Ellipsoid = wgs84) -> Places:
    """Parse StarPerf's gateway/PoP XML: one child element per station with ``Latitude``,
    ``Longitude`` and a ``Description`` or ``Name`` (else the element's tag is its name)."""
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
    return Places.from_geodetic(names, lat, lon, ellipsoid=ellipsoid)


def read_ground_stations(path: str | Path, *, ellipsoid: Ellipsoid = wgs84) -> Places:
    """Read a ground-station file: Hypatia basic/extended text, or a StarPerf gateway XML."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SitesError(f"cannot read ground stations file {str(p)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SitesError(f"ground stations file {str(p)!r} is not UTF-8 text") from None
    if text.lstrip().startswith("<"):
        return parse_gateway_xml(text, str(p), ellipsoid=ellipsoid)
    return parse_ground_stations(text, str(p), ellipsoid=ellipsoid)


def bundled_gateways(which: str = "starlink", *, ellipsoid: Ellipsoid = wgs84) -> Places:
    """Bundled Starlink gateways: ``"starlink"`` (261, StarPerf), ``"starlink-pops"``,
    ``"starlink-hypatia"`` (198)."""
    if which not in GATEWAY_LISTS:
        raise SitesError(f"unknown gateway list {which!r}; choose one of {', '.join(GATEWAY_LISTS)}")
    fname = GATEWAY_LISTS[which]
    text = resources.files("skyfence.data").joinpath("ground_stations").joinpath(fname).read_text(encoding="utf-8")
    if fname.endswith(".xml"):
        return parse_gateway_xml(text, fname, ellipsoid=ellipsoid)
    return parse_ground_stations(text, fname, ellipsoid=ellipsoid)
