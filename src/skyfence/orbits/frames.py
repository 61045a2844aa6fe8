"""Time grids and the TEME -> ECEF (ITRF, WGS84) rotation.

Conventions
-----------
* Time arrays are ``numpy.datetime64[ns]`` in UTC (``t_utc``).
* TEME -> ECEF rotates about the z axis by the Greenwich mean sidereal time of IAU 1982
  (the angle SGP4's TEME is defined against, Vallado et al. 2006) evaluated at **UT1**,
  not UTC. UT1-UTC comes from the IERS table that skyfield ships (``load.timescale(builtin=True)``),
  so nothing is downloaded. Ignoring UT1-UTC (up to 0.9 s) moves a LEO satellite by up to ~450 m.
  Polar motion is not applied (it is below ~15 m and not part of the TEME/PEF definition).
* ECEF positions are in km; geodetic conversions belong to the Earth model,
  :data:`skyfence.geo.earth.wgs84` (``ecef_km``, ``geodetic``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from skyfence.errors import SkyfenceError

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


def iso_utc(t) -> str | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` of a datetime64 (``None`` for ``None`` / NaT)."""
    if t is None or (isinstance(t, np.datetime64) and np.isnat(t)):
        return None
    return str(np.datetime_as_string(np.datetime64(t, "s"), unit="s")) + "Z"


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
