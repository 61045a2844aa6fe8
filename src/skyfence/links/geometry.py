"""Look angles between ground points and satellites, and the slant-range bound of a mask.

Frames and definitions
----------------------
* Positions are Earth-fixed Cartesian km (``ecef``: WGS84/ITRF).
* ``ground_up`` is the unit local vertical of each ground point: the **geodetic** one (the WGS84
  ellipsoid normal from geodetic lat/lon, :meth:`skyfence.geo.earth.Ellipsoid.up`) unless a
  caller states otherwise. Elevation and azimuth are measured against that vertical, as a
  terminal's antenna (levelled with a spirit level) and as skyfield's
  ``wgs84.latlon(...).at(t).altaz()`` do. It differs from the geocentric vertical by up to 0.19 deg.
* For the vector ``d = sat - ground`` and up ``u``::

      range_km      = sqrt(d . d)
      elevation_deg = degrees(atan2(d . u, hypot(d . east, d . north)))   in [-90, 90]
      azimuth_deg   = degrees(atan2(d . east, d . north)) mod 360         clockwise from north

  with ``east = normalize(z x u)`` (``(0, 1, 0)`` at the poles) and ``north = u x east`` (the
  local east-north-up frame; for the geodetic up of lat/lon this is the usual ENU frame).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from skyfence.geo.earth import wgs84

__all__ = [
    "ground_points",
    "GroundFrame",
    "ground_frame",
    "frame_elevations_deg",
    "east_north",
    "look_angles",
    "elevations_deg",
    "frame_angles",
    "slant_range_bound_km",
]


def ground_points(
    lat_deg: np.ndarray, lon_deg: np.ndarray, alt_km: np.ndarray | float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """ECEF positions (km) and geodetic up vectors for geodetic lat/lon degrees (any shape ``S``).

    Returns ``(ground_ecef_km [*S, 3], ground_up [*S, 3])``, the inputs of
    :func:`skyfence.links.visibility.visible_pairs` and ``count_visible``. NaN lat/lon (absent
    terminals) give NaN rows.
    """
    lat = np.asarray(lat_deg, dtype=float)
    lon = np.asarray(lon_deg, dtype=float)
    return np.asarray(wgs84.ecef_km(lat, lon, alt_km), dtype=float), wgs84.up(lat, lon)


def east_north(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """East and north unit vectors (ECEF, ``[..., 3]`` each) of the local frame of unit up vectors
    ``u`` (``[..., 3]``): ``east = normalize(z x u)`` (``(0, 1, 0)`` at the poles), ``north = u x
    east``."""
    ux, uy, uz = u[..., 0], u[..., 1], u[..., 2]
    h = np.hypot(ux, uy)
    polar = h < 1e-15
    hs = np.where(polar, 1.0, h)
    ex = np.where(polar, 0.0, -uy / hs)
    ey = np.where(polar, 1.0, ux / hs)
    east = np.stack([ex, ey, np.zeros_like(ex)], axis=-1)
    north = np.stack([-uz * ey, uz * ex, ux * ey - uy * ex], axis=-1)  # u x east
    return east, north


def look_angles(
    ground_ecef_km: np.ndarray, ground_up: np.ndarray, sat_ecef_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elevation, azimuth and slant range of satellites seen from ground points, elementwise.

    All three inputs are ``[..., 3]`` (ECEF km, unit up, ECEF km) and broadcast together.
    Returns ``(elevation_deg, azimuth_deg, range_km)`` with the definitions of the module doc
    (the very same arithmetic as the visibility test of :mod:`skyfence.links.visibility`).
    """
    g = np.asarray(ground_ecef_km, dtype=float)
    u = np.asarray(ground_up, dtype=float)
    s = np.asarray(sat_ecef_km, dtype=float)
    east, north = east_north(u)
    d = s - g
    shape = np.broadcast_shapes(d.shape, u.shape)
    d, u, east, north = (np.broadcast_to(x, shape).reshape(-1, 3) for x in (d, u, east, north))
    el, az, rng = frame_angles(d, u, east, north, azimuth=True)
    return el.reshape(shape[:-1]), az.reshape(shape[:-1]), rng.reshape(shape[:-1])


class GroundFrame(NamedTuple):
    """One ground point's ECEF position (km) and local frame (unit up, east, north), each ``[3]``."""

    ecef_km: np.ndarray
    up: np.ndarray
    east: np.ndarray
    north: np.ndarray


def ground_frame(lat_deg: float, lon_deg: float, alt_km: float = 0.0) -> GroundFrame:
    """The `GroundFrame` of the WGS84 point (``lat_deg``, ``lon_deg``, ``alt_km``), geodetic
    vertical (kept by callers that look from the same point many times)."""
    g, u = ground_points(lat_deg, lon_deg, alt_km)
    g, u = g.reshape(3), u.reshape(3)
    east, north = east_north(u)
    return GroundFrame(g, u, east, north)


def elevations_deg(
    lat_deg: float, lon_deg: float, sat_ecef_km: np.ndarray, *, alt_km: float = 0.0
) -> np.ndarray:
    """Elevation (deg) of each satellite ``sat_ecef_km`` (``[n_sat, 3]`` ECEF km, one instant)
    seen from the WGS84 point (``lat_deg``, ``lon_deg``, ``alt_km``), geodetic vertical.

    A satellite is visible under a mask when ``elevations_deg(...) >= min_elevation_deg``, the
    same test as :func:`skyfence.links.visibility.visible_pairs`. NaN positions give NaN.
    """
    return frame_elevations_deg(ground_frame(lat_deg, lon_deg, alt_km), sat_ecef_km)


def frame_elevations_deg(frame: GroundFrame, sat_ecef_km: np.ndarray) -> np.ndarray:
    """`elevations_deg` seen from the point of a `GroundFrame` (the same arithmetic)."""
    g, u, east, north = frame
    d = np.asarray(sat_ecef_km, dtype=float).reshape(-1, 3) - g
    # the arithmetic of frame_angles for one frame: no azimuth, no broadcast copies of the frame
    du, de, dn = d @ u, d @ east, d @ north
    return np.degrees(np.arctan2(du, np.hypot(de, dn)))


def frame_angles(
    d: np.ndarray, u: np.ndarray, east: np.ndarray, north: np.ndarray, *, azimuth: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(elevation_deg, azimuth_deg or None, range_km) of rows ``d`` (``[m, 3]``) in the local frames
    given row by row (``u``, ``east``, ``north``, each ``[m, 3]``)."""
    du = np.einsum("ij,ij->i", d, u)
    de = np.einsum("ij,ij->i", d, east)
    dn = np.einsum("ij,ij->i", d, north)
    el = np.degrees(np.arctan2(du, np.hypot(de, dn)))
    rng = np.sqrt(np.einsum("ij,ij->i", d, d))
    az = np.mod(np.degrees(np.arctan2(de, dn)), 360.0) if azimuth else None
    return el, az, rng


def slant_range_bound_km(sat_radius_km, ground_radius_km, elevation_deg):
    """Slant range (km) of a satellite at geocentric radius ``sat_radius_km`` seen at *geocentric*
    elevation ``elevation_deg`` from ground radius ``ground_radius_km`` (plane triangle: Earth
    centre, ground, satellite): ``sqrt(r_s^2 - r_g^2 cos^2 e) - r_g sin e``.

    For ``e >= 0`` it is the largest range at which the satellite is at or above ``e``; it grows
    with ``r_s`` and shrinks with ``r_g``. For ``e < 0`` the trivial bound ``r_s + r_g`` is
    returned; 0 where ``r_s <= r_g``. Scalars give a float; arrays broadcast elementwise.
    """
    rs, rg = np.asarray(sat_radius_km, dtype=float), np.asarray(ground_radius_km, dtype=float)
    e_deg = np.asarray(elevation_deg, dtype=float)
    e = np.radians(e_deg)
    with np.errstate(invalid="ignore"):
        r = np.sqrt(rs * rs - (rg * np.cos(e)) ** 2) - rg * np.sin(e)
    out = np.where(rs <= rg, 0.0, np.where(e_deg < 0.0, rs + rg, r))
    return float(out) if out.ndim == 0 else out
