"""Whether any imaging satellite can image each ground point at each step of a time grid.

:func:`observed_steps` answers on the grid's samples only (no refinement between steps, unlike
:func:`skyfence.imaging.access.find_accesses`): bool ``[n_point, n_time]``, True where at least one
satellite's sensor margin (:func:`skyfence.imaging.sensors.margin_deg`) is positive. The pairs to
test come from :func:`skyfence.links.visible_pairs` with each sensor's screening elevation (the
elevation at which a satellite at the sensor's reach is seen, less margins; no ground-track motion
term since only the samples are tested), so nothing dense ``[point x satellite x time]`` is built.
Ground points may be fixed ``[n_point, 3]`` or mobile ``[n_point, n_time, 3]`` (NaN where absent:
never observed).

:class:`Observers` holds the satellites and sensors of a scenario's ``[observers]`` groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skyfence.errors import ScenarioError, SkyfenceError
from skyfence.imaging.access import _angles, _nadir, _rotate
from skyfence.imaging.scenario import ObserverGroup
from skyfence.imaging.sensors import Sensor, SensorTable, margin_deg
from skyfence.imaging.sun import sun_ecef_unit
from skyfence.links import visible_pairs
from skyfence.orbits.elements import Elements
from skyfence.orbits.frames import gmst_rad
from skyfence.orbits.propagate import propagate

__all__ = ["Observers", "observed_steps", "screen_groups"]

#: ground-track speed bound for the screen (km/s): LEO orbital speed plus the Earth's rotation
_GROUND_SPEED_KM_S = 8.3


@dataclass(frozen=True)
class Observers:
    """The satellites of observer groups, one sensor each, in group order."""

    elements: Elements
    sensors: list[Sensor]
    group_of: list[str]  # the group of each satellite
    groups: dict[str, dict]  # {group: {"kind": sensor kind, "satellites": n}}

    @classmethod
    def load(cls, groups: list[ObserverGroup], source: str = "<scenario>") -> Observers:
        """Load every group's elements (errors name the group)."""
        from skyfence.orbits.catalog import load_elements

        parts, sensors, group_of, info = [], [], [], {}
        for g in groups:
            try:
                els = load_elements(g.elements)
            except SkyfenceError as exc:
                raise ScenarioError(f"{source}: observers {g.name}: {exc}") from None
            parts.append(els)
            sensors += [g.sensor] * len(els)
            group_of += [g.name] * len(els)
            info[g.name] = {"kind": g.sensor.kind, "satellites": len(els)}
        els = parts[0]
        for x in parts[1:]:
            els = els + x
        return cls(els, sensors, group_of, info)

    def steps(self, ground_ecef_km: np.ndarray, ground_up: np.ndarray, t_utc: np.ndarray) -> np.ndarray:
        """:func:`observed_steps` of these satellites."""
        return observed_steps(self.elements, self.sensors, ground_ecef_km, ground_up, t_utc)


def _screen_mask_deg(sensor: Sensor, r_min: float, r_max: float, rg_min: float, rg_max: float,
                     step_s: float) -> float:
    """Screening elevation (deg) for a sensor and satellites between radii r_min..r_max (see doc)."""
    eps = np.radians(sensor.min_elevation_deg)
    lam = np.pi / 2 - eps - np.arcsin(np.clip(rg_min * np.cos(eps) / r_max, -1.0, 1.0))
    if sensor.kind != "elevation":
        eta = np.radians(sensor.max_look_deg)
        x = r_max * np.sin(eta) / rg_min
        lam = min(lam, np.arcsin(x) - eta if x < 1.0 else np.arccos(rg_min / r_max))
    lam_s = lam + _GROUND_SPEED_KM_S * step_s / 2.0 / rg_min + np.radians(0.05)
    e_s = np.degrees(np.arctan2(np.cos(lam_s) - rg_max / r_min, np.sin(lam_s))) - 0.25
    return float(max(e_s, -90.0))


#: largest ratio of highest to lowest radius within one screening group
_BAND_RATIO = 1.12


def screen_groups(sensors: list[Sensor], r_norm_km: np.ndarray, rg_min_km: float, rg_max_km: float,
                  step_s: float) -> list[tuple[np.ndarray, float]]:
    """``[(satellite rows, screening elevation deg)]``: satellites (rows of ``r_norm_km``
    ``[n_sat, n_time]``, their geocentric radii; never-finite rows left out) grouped by sensor and,
    in order of lowest radius, into runs whose highest radius is at most 1.12 times their lowest,
    each group with its screening mask (:func:`_screen_mask_deg`) for ground radii
    ``rg_min_km..rg_max_km``."""
    ok = np.isfinite(r_norm_km).any(axis=1)
    filled = np.where(ok[:, None], r_norm_km, 1.0)
    lo, hi = np.nanmin(filled, axis=1), np.nanmax(filled, axis=1)
    by_sensor: dict[Sensor, list[int]] = {}
    for j, s in enumerate(sensors):
        if ok[j]:
            by_sensor.setdefault(s, []).append(j)
    out = []
    for s, js in by_sensor.items():
        js = np.asarray(js)[np.argsort(lo[js], kind="stable")]
        a = 0
        while a < len(js):
            b = a + 1
            top = hi[js[a]]
            while b < len(js) and max(top, hi[js[b]]) <= _BAND_RATIO * lo[js[a]]:
                top = max(top, hi[js[b]])
                b += 1
            g = np.sort(js[a:b])
            out.append((g, _screen_mask_deg(s, float(lo[g].min()), float(hi[g].max()), rg_min_km, rg_max_km, step_s)))
            a = b
    return out


def observed_steps(
    elements: Elements,
    sensors: Sensor | list[Sensor],
    ground_ecef_km: np.ndarray,
    ground_up: np.ndarray,
    t_utc: np.ndarray,
) -> np.ndarray:
    """bool ``[n_point, n_time]``: some satellite of ``elements`` (each with its sensor of
    ``sensors``, one for all or one per satellite) can image the point at ``t_utc[k]``.

    ``ground_ecef_km`` / ``ground_up``: WGS84 points and their geodetic up vectors
    (:func:`skyfence.links.ground_points`), ``[n_point, 3]`` or ``[n_point, n_time, 3]``.
    """
    t = np.asarray(t_utc, dtype="datetime64[ns]")
    g, u = np.asarray(ground_ecef_km, float), np.asarray(ground_up, float)
    mobile = g.ndim == 3
    n_pt, n_t = g.shape[0], len(t)
    out = np.zeros((n_pt, n_t), bool)
    if n_pt == 0 or n_t == 0 or len(elements) == 0:
        return out
    sensor_list = [sensors] * len(elements) if isinstance(sensors, Sensor) else list(sensors)
    if len(sensor_list) != len(elements):
        raise ValueError(f"{len(sensor_list)} sensors for {len(elements)} satellites")
    table = SensorTable.of(sensor_list)
    eph = propagate(elements, t)
    r = eph.r_ecef_km  # [m, n_t, 3]
    nadir = _nadir(r) if table.needs_nadir else None
    sun = sun_ecef_unit(t) if table.needs_sun else None
    v = None
    if table.needs_side:
        theta = np.broadcast_to(gmst_rad(t), r.shape[:2]).reshape(-1)
        v = _rotate(eph.v_teme_km_s.reshape(-1, 3), theta).reshape(r.shape)
    rg = np.linalg.norm(g, axis=-1)
    if not np.isfinite(rg).any():
        return out
    for js, mask in screen_groups(sensor_list, np.linalg.norm(r, axis=-1), float(np.nanmin(rg)),
                                  float(np.nanmax(rg)), 0.0):
        vis = visible_pairs(g, u, r[js], mask, azimuth=False)
        if len(vis) == 0:
            continue
        p, k, j = vis.point.astype(np.int64), vis.time.astype(np.int64), js[vis.sat]
        gp, up = (g[p, k], u[p, k]) if mobile else (g[p], u[p])
        el, off, side, sun_el = _angles(r[j, k], None if v is None else v[j, k],
                                        None if nadir is None else nadir[j, k], gp, up,
                                        None if sun is None else sun[k])
        m, _ = margin_deg(table, j, el, off, side, sun_el)
        ok = m > 0.0
        out[p[ok], k[ok]] = True
    return out
