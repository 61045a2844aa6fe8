"""Geodesy helpers: WGS84 local vertical, east/north/up bases, great circles.

Positions (lat/lon/alt -> ECEF km) come from :func:`skyfence.orbits.frames.lla_to_ecef`; this
module adds the directions and the distances. Conventions: latitudes are **geodetic** degrees on
WGS84, longitudes degrees east, ECEF is Earth-fixed (WGS84/ITRF) Cartesian km. Great-circle
distances use the WGS84 mean radius (IUGG R1 = 6371.0088 km).
"""

from __future__ import annotations

import numpy as np

#: WGS84 semi-major axis, km
WGS84_A_KM = 6378.137
#: WGS84 flattening
WGS84_F = 1.0 / 298.257223563
#: WGS84 semi-minor axis, km
WGS84_B_KM = WGS84_A_KM * (1.0 - WGS84_F)
#: WGS84 mean radius (IUGG R1 = (2a + b) / 3), km
MEAN_RADIUS_KM = (2.0 * WGS84_A_KM + WGS84_B_KM) / 3.0

__all__ = [
    "WGS84_A_KM",
    "WGS84_B_KM",
    "WGS84_F",
    "MEAN_RADIUS_KM",
    "up_vectors",
    "enu_basis",
    "great_circle_distance_km",
    "great_circle_interpolate",
    "unit_vectors",
    "unit_to_latlon",
]


def up_vectors(lat_deg: np.ndarray | float, lon_deg: np.ndarray | float) -> np.ndarray:
    """Geodetic local vertical ("up", the WGS84 ellipsoid normal) as ECEF unit vectors.

    ``lat_deg``/``lon_deg`` (geodetic degrees, any matching shape ``S``) -> ``[*S, 3]``.
    The same vector is the normal at any altitude above that lat/lon. NaN in, NaN out.
    """
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    cl = np.cos(lat)
    return np.stack([cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)], axis=-1)


def enu_basis(
    lat_deg: np.ndarray | float, lon_deg: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local east, north, up unit vectors (ECEF) at geodetic lat/lon degrees, each ``[*S, 3]``."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    east = np.stack([-so, co, np.zeros_like(so)], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return east, north, up


def unit_vectors(lat_deg: np.ndarray | float, lon_deg: np.ndarray | float) -> np.ndarray:
    """Points on the unit sphere (``[*S, 3]``) for lat/lon degrees, treated as spherical angles."""
    return up_vectors(lat_deg, lon_deg)


def unit_to_latlon(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`unit_vectors`: ``[..., 3]`` (any length) -> (lat_deg, lon_deg)."""
    v = np.asarray(v, dtype=float)
    lat = np.degrees(np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1])))
    lon = np.degrees(np.arctan2(v[..., 1], v[..., 0]))
    return lat, lon


def great_circle_distance_km(
    lat1_deg: np.ndarray | float,
    lon1_deg: np.ndarray | float,
    lat2_deg: np.ndarray | float,
    lon2_deg: np.ndarray | float,
    radius_km: float = MEAN_RADIUS_KM,
) -> np.ndarray:
    """Great-circle distance on a sphere of ``radius_km`` (default WGS84 mean), km.

    Haversine-free form (``atan2(|a x b|, a . b)``), accurate at every separation.
    Arguments broadcast; NaN in, NaN out.
    """
    a = unit_vectors(lat1_deg, lon1_deg)
    b = unit_vectors(lat2_deg, lon2_deg)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.sum(a * b, axis=-1)
    return radius_km * np.arctan2(cross, dot)


def great_circle_interpolate(
    lat1_deg: np.ndarray | float,
    lon1_deg: np.ndarray | float,
    lat2_deg: np.ndarray | float,
    lon2_deg: np.ndarray | float,
    frac: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """Point a fraction ``frac`` (0 -> first, 1 -> second) along the shorter great circle.

    Spherical linear interpolation of the unit vectors; exact at the ends (``frac`` 0 or 1 return
    the input coordinates themselves). Antipodal pairs have no unique great circle: the chord is
    used (normalised), which is defined except at the exact midpoint. Returns (lat_deg, lon_deg)
    with lon in (-180, 180].
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
