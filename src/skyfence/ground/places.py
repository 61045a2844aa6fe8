"""Places: fixed points on the Earth (ground stations, cities, gateways, single sites).

A :class:`Places` holds ``n`` places as arrays: ``ids`` (as the source writes them; Hypatia files
number their stations 0..n-1), ``names``, geodetic ``lat_deg``/``lon_deg`` (WGS84 degrees),
``alt_km`` (height above the ellipsoid), Earth-fixed ``ecef_km`` ``[n, 3]`` and the local vertical
``up`` ``[n, 3]``. ``ecef_km`` is computed on :data:`skyfence.geo.earth.wgs84` unless a source gives
its own (Hypatia's extended ``ground_stations.txt``) or asks for another ellipsoid (WGS72, to
reproduce Hypatia). User terminals (:mod:`skyfence.ground.terminals`) use the same names and units
for their positions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from skyfence.errors import SitesError
from skyfence.geo.earth import Ellipsoid, wgs84

__all__ = ["Places", "parse_latlon"]


@dataclass(frozen=True, eq=False)
class Places:
    """``n`` fixed places (see the module doc). Build with :meth:`from_geodetic` or a reader."""

    ids: tuple
    names: tuple[str, ...]
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    alt_km: np.ndarray
    ecef_km: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.ids) != n or any(len(a) != n for a in (self.lat_deg, self.lon_deg, self.alt_km)):
            raise ValueError("ids, names, lat_deg, lon_deg, alt_km must have the same length")
        if self.ecef_km.shape != (n, 3):
            raise ValueError(f"ecef_km must be [n, 3] with n={n}, got {self.ecef_km.shape}")

    @classmethod
    def from_geodetic(
        cls,
        names: Sequence[str],
        lat_deg: object,
        lon_deg: object,
        alt_km: object | None = None,
        *,
        ellipsoid: Ellipsoid = wgs84,
        ids: Sequence | None = None,
        ecef_km: np.ndarray | None = None,
    ) -> Places:
        """Places from geodetic coordinates; ECEF on ``ellipsoid`` unless ``ecef_km`` is given.
        ``ids`` default to 0..n-1."""
        lat = np.asarray(lat_deg, dtype=float).reshape(-1)
        lon = np.asarray(lon_deg, dtype=float).reshape(-1)
        alt = np.zeros_like(lat) if alt_km is None else np.broadcast_to(
            np.asarray(alt_km, dtype=float), lat.shape).copy()
        xyz = ellipsoid.ecef_km(lat, lon, alt) if ecef_km is None else np.asarray(ecef_km, dtype=float)
        return cls(
            tuple(range(len(lat))) if ids is None else tuple(ids),
            tuple(str(s) for s in names),
            lat,
            lon,
            alt,
            xyz.reshape(-1, 3),
        )

    def __len__(self) -> int:
        return len(self.names)

    @property
    def up(self) -> np.ndarray:
        """Local vertical (WGS84 ellipsoid normal) at each place, ECEF unit vectors ``[n, 3]``."""
        return wgs84.up(self.lat_deg, self.lon_deg)

    def subset(self, idx: Sequence[int] | np.ndarray) -> Places:
        """The places at positions ``idx`` (ids kept)."""
        idx = np.asarray(idx, dtype=int).reshape(-1)
        return Places(
            tuple(self.ids[i] for i in idx.tolist()),
            tuple(self.names[i] for i in idx.tolist()),
            self.lat_deg[idx],
            self.lon_deg[idx],
            self.alt_km[idx],
            self.ecef_km[idx],
        )

    def concat(self, other: Places) -> Places:
        """These places followed by ``other`` (ids renumbered 0..n-1)."""
        names = self.names + other.names
        return Places(
            tuple(range(len(names))),
            names,
            np.concatenate([self.lat_deg, other.lat_deg]),
            np.concatenate([self.lon_deg, other.lon_deg]),
            np.concatenate([self.alt_km, other.alt_km]),
            np.concatenate([self.ecef_km, other.ecef_km]),
        )

    def index_of(self, name_or_id: str) -> int:
        """Position of a place given by name (case-insensitive; ``-``/``_``/space alike; a part in
        parentheses also matches, so "Moscow" finds "Moskva-(Moscow)") or by numeric id."""
        key = name_or_id.strip()
        if re.fullmatch(r"\d+", key):
            i = int(key)
            if i in self.ids:
                return self.ids.index(i)
        norm = _norm(key)
        for i, name in enumerate(self.names):
            if _norm(name) == norm:
                return i
        for i, name in enumerate(self.names):
            if norm in _tokens(name):
                return i
        raise SitesError(f"unknown ground station {name_or_id!r} (not a name or id in this list)")


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def _tokens(name: str) -> set[str]:
    parts = {_norm(p) for p in re.split(r"[()]", name) if p.strip(" -_")}
    return {p.strip() for p in parts}


_LATLON = re.compile(
    r"^\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*[, ]\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*$"
)


def parse_latlon(spec: str) -> tuple[float, float] | None:
    """``"lat,lon"`` (or ``"lat lon"``) degrees -> (lat_deg, lon_deg); None if ``spec`` is not of
    that form. Raises SitesError for latitudes outside [-90, 90] or longitudes outside [-180, 360]."""
    m = _LATLON.match(spec)
    if not m:
        return None
    la, lo = float(m.group(1)), float(m.group(2))
    if not -90.0 <= la <= 90.0 or not -180.0 <= lo <= 360.0:
        raise SitesError(f"place {spec!r}: latitude must be in [-90, 90] and longitude in [-180, 360]")
    return la, lo
