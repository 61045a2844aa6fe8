"""The Earth model: one ellipsoid object owns every Earth conversion.

In the style of skyfield's ``wgs84`` (``skyfield/toposlib.py``): the constants of an ellipsoid are
defined once, here, and every geodetic <-> ECEF conversion, local vertical, east/north/up basis and
great-circle distance in skyfence goes through :data:`wgs84` (or, only to reproduce tools that use
it, :data:`wgs72`). Nothing else in the package defines an Earth radius.

Conventions: latitudes are **geodetic** degrees, longitudes degrees east, heights ``alt_km`` above
the ellipsoid, ECEF is Earth-fixed Cartesian (ITRF/WGS84) in km, shape ``[..., 3]``. Every method
broadcasts over arrays, so one call covers many places; NaN in, NaN out.

Sources: NIMA TR8350.2 (WGS84 a, 1/f), the IUGG mean radius R1 = (2a + b) / 3 (Moritz 1980), the
authalic radius from Snyder (1987) "Map projections: a working manual", eq. 3-11/3-12.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Ellipsoid",
    "wgs84",
    "wgs72",
    "unit_vectors",
    "unit_to_latlon",
]


@dataclass(frozen=True)
class Ellipsoid:
    """A reference ellipsoid of revolution: ``semi_major_km`` and ``inverse_flattening``."""

    name: str
    semi_major_km: float
    inverse_flattening: float
    flattening: float = field(init=False)
    semi_minor_km: float = field(init=False)
    eccentricity_squared: float = field(init=False)
    mean_radius_km: float = field(init=False)
    authalic_radius_km: float = field(init=False)

    def __post_init__(self) -> None:
        f = 1.0 / self.inverse_flattening
        a = self.semi_major_km
        b = a * (1.0 - f)
        e2 = f * (2.0 - f)
        e = math.sqrt(e2)
        q_pole = 1.0 + (1.0 - e2) / e * math.atanh(e)  # Snyder (1987) eq. 3-12 at the pole
        object.__setattr__(self, "flattening", f)
        object.__setattr__(self, "semi_minor_km", b)
        object.__setattr__(self, "eccentricity_squared", e2)
        object.__setattr__(self, "mean_radius_km", (2.0 * a + b) / 3.0)
        object.__setattr__(self, "authalic_radius_km", a * math.sqrt(q_pole / 2.0))

    # -- positions -------------------------------------------------------------------------------
    def ecef_km(self, lat_deg: object, lon_deg: object, alt_km: object = 0.0) -> np.ndarray:
        """Geodetic latitude/longitude (deg) and height (km) -> ECEF position ``[..., 3]``, km."""
        lat = np.radians(np.asarray(lat_deg, dtype=float))
        lon = np.radians(np.asarray(lon_deg, dtype=float))
        h = np.asarray(alt_km, dtype=float)
        e2 = self.eccentricity_squared
        sl = np.sin(lat)
        n = self.semi_major_km / np.sqrt(1.0 - e2 * sl * sl)
        cl = np.cos(lat)
        x = (n + h) * cl * np.cos(lon)
        y = (n + h) * cl * np.sin(lon)
        z = (n * (1.0 - e2) + h) * sl
        x, y, z = np.broadcast_arrays(x, y, z)
        return np.stack([x, y, z], axis=-1)

    def geodetic(self, r_ecef_km: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ECEF ``[..., 3]`` km -> (``lat_deg``, ``lon_deg``, ``alt_km``).

        Bowring's starting value with fixed-point refinement, converged to well below a micrometre
        for any point above ~-100 km; the height formula is well conditioned at all latitudes.
        """
        a, e2 = self.semi_major_km, self.eccentricity_squared
        r = np.asarray(r_ecef_km, dtype=float)
        x, y, z = r[..., 0], r[..., 1], r[..., 2]
        lon = np.arctan2(y, x)
        p = np.hypot(x, y)
        with np.errstate(invalid="ignore", divide="ignore"):
            lat = np.arctan2(z, p * (1.0 - e2))
            for _ in range(4):
                sl = np.sin(lat)
                n = a / np.sqrt(1.0 - e2 * sl * sl)
                lat = np.arctan2(z + e2 * n * sl, p)
            sl, cl = np.sin(lat), np.cos(lat)
            n = a / np.sqrt(1.0 - e2 * sl * sl)
            alt = p * cl + z * sl - a * a / n
        return np.degrees(lat), np.degrees(lon), alt

    # -- directions ------------------------------------------------------------------------------
    def up(self, lat_deg: object, lon_deg: object) -> np.ndarray:
        """Local vertical (the ellipsoid normal) as ECEF unit vectors ``[..., 3]``.

        The normal depends on geodetic latitude only, so it is the same at any height.
        """
        lat = np.radians(np.asarray(lat_deg, dtype=float))
        lon = np.radians(np.asarray(lon_deg, dtype=float))
        cl = np.cos(lat)
        return np.stack(np.broadcast_arrays(cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)), axis=-1)

    def enu(self, lat_deg: object, lon_deg: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Local east, north, up unit vectors (ECEF), each ``[..., 3]``."""
        lat = np.radians(np.asarray(lat_deg, dtype=float))
        lon = np.radians(np.asarray(lon_deg, dtype=float))
        sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
        sl, cl, so, co = np.broadcast_arrays(sl, cl, so, co)
        east = np.stack([-so, co, np.zeros_like(so)], axis=-1)
        north = np.stack([-sl * co, -sl * so, cl], axis=-1)
        up = np.stack([cl * co, cl * so, sl], axis=-1)
        return east, north, up

    # -- distances on the mean sphere --------------------------------------------------------------
    def great_circle_km(
        self,
        lat1_deg: object,
        lon1_deg: object,
        lat2_deg: object,
        lon2_deg: object,
        radius_km: float | None = None,
    ) -> np.ndarray:
        """Great-circle distance on a sphere (default: this ellipsoid's mean radius R1), km.

        ``atan2(|a x b|, a . b)`` of the unit vectors, accurate at every separation (within ~0.5 %
        of the ellipsoidal geodesic). Arguments broadcast.
        """
        r = self.mean_radius_km if radius_km is None else float(radius_km)
        a = unit_vectors(lat1_deg, lon1_deg)
        b = unit_vectors(lat2_deg, lon2_deg)
        cross = np.linalg.norm(np.cross(a, b), axis=-1)
        dot = np.sum(a * b, axis=-1)
        return r * np.arctan2(cross, dot)

    def great_circle_interpolate(
        self,
        lat1_deg: object,
        lon1_deg: object,
        lat2_deg: object,
        lon2_deg: object,
        frac: object,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Point a fraction ``frac`` (0 -> first, 1 -> second) along the shorter great circle.

        Spherical linear interpolation; exact at the ends (``frac`` 0 or 1 return the input
        coordinates). Antipodal pairs use the normalised chord. Returns (lat_deg, lon_deg), lon in
        (-180, 180].
        """
        lat1 = np.asarray(lat1_deg, dtype=float)
        lon1 = np.asarray(lon1_deg, dtype=float)
        lat2 = np.asarray(lat2_deg, dtype=float)
        lon2 = np.asarray(lon2_deg, dtype=float)
        f = np.asarray(frac, dtype=float)
        a = unit_vectors(lat1, lon1)
        b = unit_vectors(lat2, lon2)
        omega = np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1))
        so = np.sin(omega)
        small = so < 1e-12
        safe = np.where(small, 1.0, so)
        wa = np.where(small, 1.0 - f, np.sin((1.0 - f) * omega) / safe)
        wb = np.where(small, f, np.sin(f * omega) / safe)
        v = wa[..., None] * a + wb[..., None] * b
        lat, lon = unit_to_latlon(v)
        lat = np.where(f == 0.0, lat1, np.where(f == 1.0, lat2, lat))
        lon = np.where(f == 0.0, lon1, np.where(f == 1.0, lon2, lon))
        return lat, lon


def unit_vectors(lat_deg: object, lon_deg: object) -> np.ndarray:
    """Points on the unit sphere ``[..., 3]`` for lat/lon degrees taken as spherical angles."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    cl = np.cos(lat)
    return np.stack(np.broadcast_arrays(cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)), axis=-1)


def unit_to_latlon(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`unit_vectors` for vectors of any length: ``[..., 3]`` -> (lat, lon) deg."""
    v = np.asarray(v, dtype=float)
    lat = np.degrees(np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1])))
    lon = np.degrees(np.arctan2(v[..., 1], v[..., 0]))
    return lat, lon


#: WGS84 (NIMA TR8350.2): the ellipsoid of GPS, ITRF-aligned ECEF and every geodetic coordinate here
wgs84 = Ellipsoid("WGS84", 6378.137, 298.257223563)
#: WGS72: the ellipsoid of SGP4's gravity model, and of Hypatia's ground-station ECEF (compatibility)
wgs72 = Ellipsoid("WGS72", 6378.135, 298.26)
