"""Which (target, satellite, sample) an access search must look at: the sensor's reach as a central
angle, the sampling stride of each satellite, and the screening angle that joins them.

* :func:`reach_rad` — the largest central angle between a target and a satellite at which a sensor
  can image the target (spherical Earth);
* :func:`strides` — satellites whose line of sight from the ground turns slowly (high orbits) are
  sampled every ``stride`` grid steps: the largest whole number of steps over which the line of
  sight from any target turns by at most 0.1 rad (Earth-fixed speed over the lowest height above
  the targets), at most 20 minutes; LEO satellites every step;
* :func:`screen` — per stride, the satellites and their screening angle: the reach at the
  satellite's highest radius for the lowest target radius, plus half a stride of its largest
  sub-satellite angular speed (a pass reaching the reach has a sample within the screen at its
  closest point), plus 0.3 deg for the ellipsoid (geodetic verticals and nadirs differ from
  geocentric ones by < 0.2 deg).
"""

from __future__ import annotations

import numpy as np

from skyfence.imaging.sensors import Sensor

__all__ = ["reach_rad", "strides", "screen", "SCREEN_SLACK_RAD"]

#: the line of sight from a target turns by at most this much (rad) over one sampling stride
_STRIDE_TURN_RAD = 0.1
#: longest sampling stride, seconds
_STRIDE_MAX_S = 1200.0
#: extra central angle of the screen (rad): geodetic verticals / nadirs against geocentric ones
SCREEN_SLACK_RAD = float(np.radians(0.3))


def reach_rad(sensor: Sensor, r_km: np.ndarray | float, rg_km: float) -> np.ndarray:
    """Largest central angle (rad) between a target at geocentric radius ``rg_km`` and a satellite
    at radius ``r_km`` at which ``sensor`` can image it on a spherical Earth: the elevation mask's
    ``pi/2 - e - asin(rg cos e / r)`` and, for optical / SAR sensors, the largest off-nadir angle's
    ``asin(r sin eta / rg) - eta`` (the horizon's ``acos(rg / r)`` beyond it), whichever is less."""
    r = np.asarray(r_km, dtype=float)
    eps = np.radians(sensor.min_elevation_deg)
    lam = np.pi / 2 - eps - np.arcsin(np.clip(rg_km * np.cos(eps) / r, -1.0, 1.0))
    if sensor.kind != "elevation":
        eta = np.radians(sensor.max_look_deg)
        x = r * np.sin(eta) / rg_km
        lam = np.minimum(lam, np.where(x < 1.0, np.arcsin(np.minimum(x, 1.0)) - eta,
                                       np.arccos(np.clip(rg_km / r, -1.0, 1.0))))
    return lam


def strides(speed_ecef_km_s: np.ndarray, height_km: np.ndarray, step_s: float) -> np.ndarray:
    """Sampling stride (whole steps >= 1) of satellites of largest Earth-fixed speed
    ``speed_ecef_km_s`` and lowest height above the targets ``height_km``: the line of sight from
    any target turns by at most 0.1 rad per stride, and a stride lasts at most 20 minutes."""
    with np.errstate(divide="ignore", invalid="ignore"):
        turn_s = _STRIDE_TURN_RAD * np.maximum(height_km, 1.0) / speed_ecef_km_s
    turn_s = np.where(np.isfinite(turn_s), np.minimum(turn_s, _STRIDE_MAX_S), step_s)
    return np.maximum(1, np.floor(turn_s / step_s)).astype(np.int64)


def screen(r_ecef_km: np.ndarray, v_teme_km_s: np.ndarray, omega_e_rad_s: float, sensors: list[Sensor],
           ground_radii_km: tuple[float, float], step_s: float) -> tuple[list, np.ndarray]:
    """``([(satellite rows, sample steps, screening central angle per satellite)] per sampling
    stride, reach + slack per satellite (rad))`` for satellites at ``r_ecef_km`` / ``v_teme_km_s``
    (``[m, n, 3]`` on the grid), the Earth turning at ``omega_e_rad_s``, targets between the
    geocentric radii ``ground_radii_km``."""
    r_norm = np.linalg.norm(r_ecef_km, axis=-1)  # [m, n]
    # Earth-fixed speed <= inertial speed + the Earth's rotation x distance from its axis
    with np.errstate(invalid="ignore"):
        speed = np.linalg.norm(v_teme_km_s, axis=-1) + omega_e_rad_s * np.hypot(r_ecef_km[..., 0], r_ecef_km[..., 1])
    ok = np.isfinite(r_norm).any(axis=1)
    if not ok.any():
        return [], np.full(len(ok), np.nan)
    r_lo = np.full(len(ok), np.nan)
    r_hi, v_hi = r_lo.copy(), r_lo.copy()
    r_lo[ok], r_hi[ok] = np.nanmin(r_norm[ok], axis=1), np.nanmax(r_norm[ok], axis=1)
    v_hi[ok] = np.nanmax(speed[ok], axis=1)
    rg_min, rg_max = ground_radii_km
    stride = strides(v_hi, r_lo - rg_max, step_s)
    reach = np.array([reach_rad(sensors[i], r_hi[i], rg_min) if ok[i] else np.nan for i in range(len(ok))])
    reach = reach + SCREEN_SLACK_RAD
    angle = reach + v_hi / r_lo * stride * step_s / 2.0
    out = []
    n = r_norm.shape[1]
    for s in np.unique(stride[ok]):
        js = np.flatnonzero(ok & (stride == s))
        ks = np.unique(np.r_[np.arange(0, n, s), n - 1])
        out.append((js, ks, angle[js]))
    return out, reach
