"""The Sun's direction in the Earth-fixed frame and its elevation at ground points.

Position from the Astronomical Almanac's low-precision formula (section C, "Sun"), good to about
0.01 deg between 1950 and 2050 with no ephemeris file (skyfield's planetary ephemerides need a
download; the test compares this formula with skyfield and JPL DE421)::

    n = JD(UT) - 2451545.0
    L = 280.460 + 0.9856474 n          mean longitude (deg)
    g = 357.528 + 0.9856003 n          mean anomaly (deg)
    lambda = L + 1.915 sin g + 0.020 sin 2g,   epsilon = 23.439 - 0.0000004 n
    ra = atan2(cos epsilon sin lambda, cos lambda),   dec = asin(sin epsilon sin lambda)

The true-of-date direction (ra, dec) is turned Earth-fixed with the Greenwich mean sidereal time
of :func:`skyfence.orbits.frames.gmst_rad` (at UT1) (the equation of the equinoxes,
< 0.005 deg, is neglected). Elevations are geometric (no refraction, no parallax: < 0.003 deg),
against the geodetic vertical, as every elevation in skyfence.
"""

from __future__ import annotations

import numpy as np

from skyfence.orbits.frames import JD_J2000, as_utc, gmst_rad, julian_date_utc

__all__ = ["sun_ra_dec_deg", "sun_ecef_unit", "sun_elevation_deg"]


def sun_ra_dec_deg(t_utc: object) -> tuple[np.ndarray, np.ndarray]:
    """Right ascension and declination (deg, true equator and equinox of date) of the Sun."""
    jd, fr = julian_date_utc(np.atleast_1d(as_utc(t_utc)))
    n = (jd - JD_J2000) + fr
    L = np.radians(280.460 + 0.9856474 * n)
    g = np.radians(357.528 + 0.9856003 * n)
    lam = L + np.radians(1.915) * np.sin(g) + np.radians(0.020) * np.sin(2.0 * g)
    eps = np.radians(23.439 - 0.0000004 * n)
    ra = np.arctan2(np.cos(eps) * np.sin(lam), np.cos(lam))
    dec = np.arcsin(np.sin(eps) * np.sin(lam))
    return np.degrees(ra) % 360.0, np.degrees(dec)


def sun_ecef_unit(t_utc: object) -> np.ndarray:
    """Unit vector from the Earth's centre towards the Sun, Earth-fixed (ECEF), ``[n_time, 3]``."""
    t = np.atleast_1d(as_utc(t_utc))
    ra, dec = (np.radians(x) for x in sun_ra_dec_deg(t))
    h = ra - gmst_rad(t)  # the Sun's east longitude
    cd = np.cos(dec)
    return np.stack([cd * np.cos(h), cd * np.sin(h), np.sin(dec)], axis=-1)


def sun_elevation_deg(ground_up: np.ndarray, sun_unit: np.ndarray) -> np.ndarray:
    """Elevation (deg) of the Sun above the horizon of ground points with unit up ``ground_up``
    (``[..., 3]``), for Sun directions ``sun_unit`` (``[..., 3]``, broadcast together)."""
    s = np.sum(np.asarray(ground_up) * np.asarray(sun_unit), axis=-1)
    return np.degrees(np.arcsin(np.clip(s, -1.0, 1.0)))
