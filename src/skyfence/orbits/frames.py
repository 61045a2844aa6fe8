"""Time grids and reference frames: TEME -> ECEF (ITRF, WGS84) and geodetic conversions.

Conventions
-----------
* Time arrays are ``numpy.datetime64[ns]`` in UTC (``t_utc``).
* TEME -> ECEF rotates about the z axis by the Greenwich mean sidereal time of IAU 1982
  (the angle SGP4's TEME is defined against, Vallado et al. 2006) evaluated at **UT1**,
  not UTC. UT1-UTC comes from the IERS table that skyfield ships (``load.timescale(builtin=True)``),
  so nothing is downloaded. Ignoring UT1-UTC (up to 0.9 s) moves a LEO satellite by up to ~450 m.
  Polar motion is not applied (it is below ~15 m and not part of the TEME/PEF definition).
* ECEF positions are in km; geodetic coordinates are WGS84 ``lat_deg, lon_deg, alt_km``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from skyfence.errors import SkyfenceError

#: WGS84 ellipsoid
WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563
WGS84_B_KM = WGS84_A_KM * (1.0 - WGS84_F)
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
#: Julian date of the Unix epoch and of J2000
JD_UNIX_EPOCH = 2440587.5
JD_J2000 = 2451545.0
_NS_PER_DAY = 86_400 * 10**9
TAU = 2.0 * np.pi


def as_utc(t: object) -> np.ndarray:
    """Return ``t`` (ISO 8601 string(s) with optional ``Z``, datetime64, datetime) as datetime64[ns] array."""
    if isinstance(t, str):
        t = [t]
    arr = np.atleast_1d(np.asarray(t))
    if arr.dtype.kind in "US" or arr.dtype == object:
        out = []
        for v in arr.ravel():
            s = str(v).strip()
            if s.endswith(("Z", "z")):
                s = s[:-1]
            elif s.endswith("+00:00"):
                s = s[:-6]
            try:
                out.append(np.datetime64(s, "ns"))
            except ValueError as exc:
                raise SkyfenceError(f"not an ISO 8601 UTC time: {v!r}") from exc
        return np.array(out, dtype="datetime64[ns]").reshape(arr.shape)
    return arr.astype("datetime64[ns]")


def time_grid(start: object, duration_s: float, step_s: float) -> np.ndarray:
    """Times ``start, start + step_s, ...`` strictly before ``start + duration_s`` (UTC, datetime64[ns]).

    A zero duration gives the single instant ``start``.
    """
    if step_s <= 0:
        raise SkyfenceError(f"step must be positive, got {step_s} s")
    if duration_s < 0:
        raise SkyfenceError(f"duration must not be negative, got {duration_s} s")
    t0 = as_utc(start)[0]
    n = max(1, int(np.ceil(duration_s / step_s - 1e-9)))
    offsets_ns = np.round(np.arange(n) * step_s * 1e9).astype("int64")
    return t0 + offsets_ns.astype("timedelta64[ns]")


def julian_date_utc(t_utc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split Julian date (whole, fraction) of UTC instants, as SGP4 expects them."""
    ns = as_utc(t_utc).astype("int64")
    days, rem = np.divmod(ns, _NS_PER_DAY)
    return days + JD_UNIX_EPOCH, rem / _NS_PER_DAY


@lru_cache(maxsize=1)
def _timescale():
    from skyfield.api import load

    return load.timescale(builtin=True)


def ut1_minus_utc_s(t_utc: np.ndarray) -> np.ndarray:
    """UT1 - UTC in seconds from skyfield's bundled IERS table (predictions, then held flat)."""
    t = as_utc(t_utc)
    days = (t.astype("datetime64[D]") - np.datetime64("1970-01-01", "D")).astype("int64")
    sec = (t - t.astype("datetime64[D]")).astype("int64") / 1e9
    ts = _timescale()
    return np.asarray(ts.utc(1970, 1, 1 + days, 0, 0, sec).dut1, dtype=float).reshape(t.shape)


def gmst_rad(t_utc: np.ndarray, *, ut1: bool = True) -> np.ndarray:
    """Greenwich mean sidereal time (IAU 1982) in radians, in [0, 2 pi).

    Evaluated at UT1 (correct); ``ut1=False`` evaluates it at UTC, i.e. takes UT1 - UTC = 0,
    as PyEphem-based tools such as Hypatia do (only to reproduce their numbers).
    """
    jd_whole, jd_frac = julian_date_utc(t_utc)
    if ut1:
        jd_frac = jd_frac + ut1_minus_utc_s(t_utc) / 86_400.0
    # theta_GMST1982 as in Vallado (2006) / skyfield.sgp4lib, split for precision
    t = (jd_whole - JD_J2000 + jd_frac) / 36525.0
    g = 67310.54841 + (8640184.812866 + (0.093104 + (-6.2e-6) * t) * t) * t
    theta = (jd_whole % 1.0 + jd_frac + (g / 86_400.0) % 1.0) % 1.0
    return theta * TAU


def teme_to_ecef(r_teme_km: np.ndarray, t_utc: np.ndarray, *, ut1: bool = True) -> np.ndarray:
    """Rotate TEME vectors to ECEF (pseudo-Earth-fixed = ITRF without polar motion).

    ``r_teme_km`` has shape ``[..., n_time, 3]``; ``t_utc`` has shape ``[n_time]``.
    ``ut1=False``: GMST at UTC (see :func:`gmst_rad`), for Hypatia compatibility only.
    """
    theta = gmst_rad(t_utc, ut1=ut1)
    c, s = np.cos(theta), np.sin(theta)
    x, y = r_teme_km[..., 0], r_teme_km[..., 1]
    out = np.empty_like(r_teme_km, dtype=float)
    ox, oy = out[..., 0], out[..., 1]
    np.multiply(x, c, out=ox)
    ox += s * y
    np.multiply(y, c, out=oy)
    oy -= s * x
    out[..., 2] = r_teme_km[..., 2]
    return out


def lla_to_ecef(lat_deg: object, lon_deg: object, alt_km: object = 0.0) -> np.ndarray:
    """WGS84 geodetic latitude/longitude (deg) and height (km) -> ECEF position ``[..., 3]`` in km."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    h = np.asarray(alt_km, dtype=float)
    sl = np.sin(lat)
    n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * sl * sl)
    cl = np.cos(lat)
    x = (n + h) * cl * np.cos(lon)
    y = (n + h) * cl * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sl
    x, y, z = np.broadcast_arrays(x, y, z)
    return np.stack([x, y, z], axis=-1)


def ecef_to_lla(r_ecef_km: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ECEF ``[..., 3]`` km -> WGS84 (lat_deg, lon_deg, alt_km).

    Bowring's method with Newton refinement; converged to well below a micrometre for
    any point above ~-100 km (three iterations).
    """
    r = np.asarray(r_ecef_km, dtype=float)
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        lat = np.arctan2(z, p * (1.0 - WGS84_E2))
        for _ in range(4):
            sl = np.sin(lat)
            n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * sl * sl)
            lat = np.arctan2(z + WGS84_E2 * n * sl, p)
        sl, cl = np.sin(lat), np.cos(lat)
        n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * sl * sl)
        # height well-conditioned at all latitudes
        alt = p * cl + z * sl - WGS84_A_KM * WGS84_A_KM / n
    return np.degrees(lat), np.degrees(lon), alt


def up_vector_ecef(lat_deg: object, lon_deg: object) -> np.ndarray:
    """Unit vector of the local geodetic vertical (ellipsoid normal) in ECEF, ``[..., 3]``."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    cl = np.cos(lat)
    return np.stack(np.broadcast_arrays(cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)), axis=-1)
