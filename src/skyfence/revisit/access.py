"""Access intervals of imaging satellites over ground targets, refined to milliseconds.

Method
------
1. **Grid.** The satellites are propagated with SGP4 on the time grid ``t0, t0 + step, ...`` plus
   the period's end (:func:`skyfence.orbits.propagate.propagate`).
2. **Screening with the one visibility engine.** :func:`skyfence.links.visible_pairs` lists, per
   step, the (target, satellite) pairs above a *screening* elevation mask: the elevation at which a
   satellite of the group (at its lowest geocentric radius) would be seen from a target whose
   ground distance to the sub-satellite point is the sensor's reach (its largest off-nadir angle,
   or its elevation mask, at the group's highest radius) plus half a step of ground-track motion
   (8.3 km/s), less 0.25 deg for the geodetic vertical. A pass that reaches the sensor's reach
   therefore has a sample in the screen at its closest point. Satellites are screened in groups
   of one sensor whose radii span at most 12 % (:func:`screen_groups`), so a geostationary
   imager does not lower the mask of a LEO constellation with the same sensor.
3. **Exact test on the samples.** The sensor margin (:func:`skyfence.revisit.sensors.margin_deg`)
   is evaluated on every screened sample; pairs absent from the screen are outside the sensor's
   reach. Rising / falling edges of ``margin > 0`` between consecutive steps bracket the access
   ends; a screened sample whose negative margin is a local maximum of the pass (and whose Sun
   margin is above -0.5 deg) is searched for a short access between samples (golden section).
4. **Refinement.** Each bracket is narrowed on the continuous margin (Illinois regula falsi)
   until it is shorter than ``tol_s`` (default 1 ms). Between grid steps the TEME position is the cubic Hermite
   interpolant of SGP4's positions and velocities at both ends (error ~ (h^4/384) |r''''|: a few
   centimetres for LEO at 30 s steps, i.e. far below a millisecond of pass time), rotated by the
   linearly interpolated sidereal angle; the Sun direction is interpolated the same way.
5. **Peaks.** The highest elevation of each access (golden section to 10 ms) and the off-nadir
   angle there.

Accesses are those of one satellite and one target; merging across satellites (what a target
"sees") is in :mod:`skyfence.revisit.stats`. An access open at the period's start or end is
clipped to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skyfence.geo.earth import wgs84
from skyfence.links import ground_points, visible_pairs
from skyfence.orbits.elements import Elements
from skyfence.orbits.frames import as_utc, gmst_rad, time_grid
from skyfence.orbits.propagate import propagate
from skyfence.revisit.sensors import Sensor, SensorTable, margin_deg
from skyfence.revisit.sun import sun_ecef_unit, sun_elevation_deg

__all__ = ["find_accesses", "screen_groups", "ACCESS_COLUMNS"]

ACCESS_COLUMNS = ["target", "satellite", "name", "norad_id", "start_utc", "end_utc", "duration_s",
                  "max_elevation_deg", "min_off_nadir_deg"]
#: ground-track speed bound for the screen (km/s): LEO orbital speed plus the Earth's rotation
_GROUND_SPEED_KM_S = 8.3
_INV_PHI = (np.sqrt(5.0) - 1.0) / 2.0
#: the highest elevation of an access is searched to this many seconds (elevation error <~ 0.01 deg)
_PEAK_TOL_S = 0.01
_ROWS = 400_000  # rows per vectorized evaluation block


@dataclass
class _Grid:
    t_utc: np.ndarray  # [n] datetime64[ns], the period's end last
    sec: np.ndarray  # [n] seconds from t0
    theta: np.ndarray  # [n] unwrapped GMST, rad
    sun: np.ndarray  # [n, 3] ECEF unit vectors


@dataclass
class _Sats:
    r_teme: np.ndarray  # [m, n, 3]
    v_teme: np.ndarray
    r_ecef: np.ndarray
    nadir: np.ndarray | None  # [m, n, 3] geodetic nadir (unit), or None
    rows: np.ndarray  # [m] indices into the sensor table / elements


def _grid(start: object, duration_s: float, step_s: float) -> _Grid:
    t = time_grid(start, duration_s, step_s)
    t_end = as_utc(start)[0] + np.timedelta64(int(round(duration_s * 1e9)), "ns")
    if t_end > t[-1]:
        t = np.append(t, t_end)
    sec = (t - t[0]).astype("int64") / 1e9
    return _Grid(t, sec, np.unwrap(gmst_rad(t)), sun_ecef_unit(t))


def _rotate(vec: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """TEME -> ECEF axes (rotation about z by ``theta``), rows ``[m, 3]``."""
    c, s = np.cos(theta), np.sin(theta)
    x, y = vec[:, 0], vec[:, 1]
    return np.stack([x * c + y * s, y * c - x * s, vec[:, 2]], axis=-1)


def _nadir(r_ecef: np.ndarray) -> np.ndarray:
    lat, lon, _ = wgs84.geodetic(r_ecef)
    return -wgs84.up(lat, lon)


def _angles(r, v, nadir, g, u, sun):
    """(elevation, off-nadir or None, side or None, Sun elevation or None) of rows."""
    d = r - g
    rng = np.sqrt(np.einsum("ij,ij->i", d, d))
    el = np.degrees(np.arcsin(np.clip(np.einsum("ij,ij->i", d, u) / rng, -1.0, 1.0)))
    off = side = sun_el = None
    if nadir is not None:
        off = np.degrees(np.arccos(np.clip(-np.einsum("ij,ij->i", d, nadir) / rng, -1.0, 1.0)))
    if v is not None:
        side = np.sign(-np.einsum("ij,ij->i", d, np.cross(v, r)))
    if sun is not None:
        sun_el = sun_elevation_deg(u, sun)
    return el, off, side, sun_el


class _Problem:
    """Targets, satellites of one chunk, grid and sensors: margins on the grid and between steps."""

    def __init__(self, grid: _Grid, sats: _Sats, table: SensorTable, g: np.ndarray, u: np.ndarray):
        self.grid, self.sats, self.table, self.g, self.u = grid, sats, table, g, u
        sub = SensorTable(*(getattr(table, f)[sats.rows] for f in table.__dataclass_fields__))
        self.sub = sub
        self.n = len(grid.sec)

    def on_grid(self, p, j, k):
        s = self.sats
        v = _rotate(s.v_teme[j, k], self.grid.theta[k]) if self.sub.needs_side else None
        nad = s.nadir[j, k] if s.nadir is not None else None
        sun = self.grid.sun[k] if self.sub.needs_sun else None
        el, off, side, sun_el = _angles(s.r_ecef[j, k], v, nad, self.g[p], self.u[p], sun)
        return margin_deg(self.sub, j, el, off, side, sun_el)

    def at(self, p, j, s, *, peak: bool = False):
        """Margin (and Sun margin) at fractional step indices ``s``; ``peak``: (elevation, off-nadir)."""
        out = [np.empty(len(p)) for _ in range(2)]
        for lo in range(0, len(p), _ROWS):
            sl = slice(lo, lo + _ROWS)
            a, b = self._at(p[sl], j[sl], s[sl], peak)
            out[0][sl], out[1][sl] = a, b
        return out

    def _at(self, p, j, s, peak):
        gr, st = self.grid, self.sats
        k0 = np.clip(np.floor(s).astype(np.int64), 0, self.n - 2)
        tau = (s - k0)[:, None]
        h = (gr.sec[k0 + 1] - gr.sec[k0])[:, None]
        r0, r1, v0, v1 = st.r_teme[j, k0], st.r_teme[j, k0 + 1], st.v_teme[j, k0], st.v_teme[j, k0 + 1]
        t2, t3 = tau * tau, tau * tau * tau
        r = (2 * t3 - 3 * t2 + 1) * r0 + (t3 - 2 * t2 + tau) * h * v0 + (3 * t2 - 2 * t3) * r1 + (t3 - t2) * h * v1
        theta = gr.theta[k0] + tau[:, 0] * (gr.theta[k0 + 1] - gr.theta[k0])
        r_ecef = _rotate(r, theta)
        v = None
        if self.sub.needs_side:
            dv = (6 * t2 - 6 * tau) * r0 + (3 * t2 - 4 * tau + 1) * h * v0 + (6 * tau - 6 * t2) * r1 + (3 * t2 - 2 * tau) * h * v1
            v = _rotate(dv / h, theta)
        nad = _nadir(r_ecef) if (self.sub.needs_nadir or peak) else None
        sun = None
        if self.sub.needs_sun:
            sun = gr.sun[k0] + tau * (gr.sun[k0 + 1] - gr.sun[k0])
            sun /= np.linalg.norm(sun, axis=1, keepdims=True)
        el, off, side, sun_el = _angles(r_ecef, v, nad, self.g[p], self.u[p], sun)
        if peak:
            return el, off
        return margin_deg(self.sub, j, el, off, side, sun_el)


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


def _root(prob: _Problem, p, j, lo, hi, tol_steps: float):
    """Roots of the margin in brackets ``[lo, hi]`` (step units) whose ends have opposite signs
    (``margin > 0`` at one end only): Illinois regula falsi, each row iterated until its bracket
    is shorter than ``tol_steps`` (a row whose bracket did not halve in two iterations is bisected
    next); returns the brackets' midpoints."""
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    f_lo, f_hi = prob.at(p, j, lo)[0], prob.at(p, j, hi)[0]
    # a sign test on margin > 0: a margin of exactly 0 counts as negative
    f_lo, f_hi = np.where(f_lo > 0, f_lo, np.minimum(f_lo, -1e-12)), np.where(f_hi > 0, f_hi, np.minimum(f_hi, -1e-12))
    side = np.zeros(len(lo), np.int8)  # the end moved last: -1 lo, +1 hi
    w1, w2 = np.full(len(lo), np.inf), np.full(len(lo), np.inf)  # bracket widths one and two iterations ago
    act = np.flatnonzero(hi - lo > tol_steps)
    while len(act):
        a, b, fa, fb = lo[act], hi[act], f_lo[act], f_hi[act]
        w = b - a
        x = np.clip(a - fa * w / (fb - fa), a + 0.01 * w, b - 0.01 * w)
        x = np.where((w < 4.0 * tol_steps) | (w > 0.5 * w2[act]), 0.5 * (a + b), x)
        w2[act], w1[act] = w1[act], w
        fx = prob.at(p[act], j[act], x)[0]
        fx = np.where(fx > 0, fx, np.minimum(fx, -1e-12))
        same_lo = (fx > 0) == (fa > 0)  # x replaces lo
        sd = side[act]
        lo[act] = np.where(same_lo, x, a)
        hi[act] = np.where(same_lo, b, x)
        # Illinois: the end kept twice in a row has its value halved
        f_lo[act] = np.where(same_lo, fx, np.where(sd == 1, 0.5 * fa, fa))
        f_hi[act] = np.where(same_lo, np.where(sd == -1, 0.5 * fb, fb), fx)
        side[act] = np.where(same_lo, -1, 1)
        act = act[hi[act] - lo[act] > tol_steps]
    return 0.5 * (lo + hi)


def _golden_max(f, a, b, tol_steps: float, *, stop_positive: bool = False):
    """Vectorized golden-section maximisation of ``f(rows, s)`` on ``[a, b]``: ``(argmax, max)``;
    ``stop_positive``: a row stops at its first positive value (any point of an access)."""
    a, b = a.astype(float).copy(), b.astype(float).copy()
    c, d = b - _INV_PHI * (b - a), a + _INV_PHI * (b - a)
    rows = np.arange(len(a))
    fc, fd = f(rows, c), f(rows, d)
    act = rows[(b - a > tol_steps) & ~(stop_positive & ((fc > 0) | (fd > 0)))]
    while len(act):
        fca, fda = fc[act], fd[act]
        left = fca >= fda
        aa, bb, ca, da = a[act], b[act], c[act], d[act]
        bb = np.where(left, da, bb)
        aa = np.where(left, aa, ca)
        new = np.where(left, bb - _INV_PHI * (bb - aa), aa + _INV_PHI * (bb - aa))
        fn = f(act, new)
        a[act], b[act] = aa, bb
        c[act], d[act] = np.where(left, new, da), np.where(left, ca, new)
        fc[act], fd[act] = np.where(left, fn, fda), np.where(left, fca, fn)
        done = (b[act] - a[act] <= tol_steps) | (stop_positive & (fn > 0))
        act = act[~done]
    x = np.where(fc >= fd, c, d)
    return x, np.maximum(fc, fd)


def _edges(prob: _Problem, p, j, k, a: int, b: int):
    """Rising, falling and local-maximum samples of one time chunk (rows sorted by pair, step)."""
    n_sat = len(prob.sats.rows)
    key = (p.astype(np.int64) * n_sat + j) * prob.n + k
    order = np.argsort(key, kind="stable")
    p, j, k, key = p[order], j[order], k[order], key[order]
    m, sun_m = prob.on_grid(p, j, k)
    pos = m > 0.0
    prev_same = np.zeros(len(k), bool)
    prev_same[1:] = key[1:] == key[:-1] + 1
    next_same = np.zeros(len(k), bool)
    next_same[:-1] = key[:-1] + 1 == key[1:]
    m_prev = np.full(len(k), -np.inf)
    m_prev[1:] = m[:-1]
    m_prev[~prev_same] = -np.inf
    m_next = np.full(len(k), -np.inf)
    m_next[:-1] = m[1:]
    m_next[~next_same] = -np.inf
    inside = (k >= a) & (k < b)
    rise = inside & pos & ~(m_prev > 0.0)
    fall = inside & pos & ~(m_next > 0.0)
    peak = inside & ~pos & (m >= m_prev) & (m > m_next) & (sun_m > -0.5)
    pick = lambda sel: (p[sel], j[sel], k[sel])  # noqa: E731
    return pick(rise), pick(fall), pick(peak)


def _chunk_accesses(prob: _Problem, sensors_of_chunk: list[Sensor], step_s: float, chunk_steps: int,
                    tol_s: float):
    sats, n = prob.sats, prob.n
    r_norm = np.linalg.norm(sats.r_ecef, axis=-1)
    rg = np.linalg.norm(prob.g, axis=-1)
    groups = screen_groups(sensors_of_chunk, r_norm, float(rg.min()), float(rg.max()), step_s)
    rises, falls, peaks = [], [], []
    for a in range(0, n, chunk_steps):
        b = min(a + chunk_steps, n)
        a0, b0 = max(a - 1, 0), min(b + 1, n)
        for js, mask in groups:
            vis = visible_pairs(prob.g, prob.u, sats.r_ecef[js, a0:b0], mask, azimuth=False)
            ev = _edges(prob, vis.point.astype(np.int64), js[vis.sat], vis.time.astype(np.int64) + a0, a, b)
            for acc, e in zip((rises, falls, peaks), ev, strict=True):
                acc.append(e)
    cat = lambda parts: [np.concatenate(x) if x else np.empty(0, np.int64) for x in zip(*parts, strict=True)] \
        if parts else [np.empty(0, np.int64)] * 3  # noqa: E731
    (rp, rj, rk), (fp, fj, fk), (pp, pj, pk) = cat(rises), cat(falls), cat(peaks)
    tol = tol_s / step_s
    # short accesses between samples
    lo, hi = np.maximum(pk - 1, 0).astype(float), np.minimum(pk + 1, n - 1).astype(float)
    x, fx = _golden_max(lambda r, s: prob.at(pp[r], pj[r], s)[0], lo, hi, tol, stop_positive=True)
    hid = fx > 0.0
    # access ends: exact at the period's ends, else bisected
    r_lo = np.concatenate([np.maximum(rk - 1, 0).astype(float), lo[hid]])
    r_hi = np.concatenate([rk.astype(float), x[hid]])
    f_lo = np.concatenate([fk.astype(float), x[hid]])
    f_hi = np.concatenate([np.minimum(fk + 1, n - 1).astype(float), hi[hid]])
    rp, rj = np.concatenate([rp, pp[hid]]), np.concatenate([rj, pj[hid]])
    fp, fj = np.concatenate([fp, pp[hid]]), np.concatenate([fj, pj[hid]])
    s_start = _root(prob, rp, rj, r_lo, r_hi, tol)
    s_start[r_hi == 0] = 0.0
    s_end = _root(prob, fp, fj, f_lo, f_hi, tol)
    s_end[f_lo == n - 1] = n - 1
    o1 = np.lexsort((s_start, rj, rp))
    o2 = np.lexsort((s_end, fj, fp))
    if len(o1) != len(o2) or np.any(rp[o1] != fp[o2]) or np.any(rj[o1] != fj[o2]):
        raise RuntimeError("unpaired access ends")  # a bug, never a user error
    p, j, s0, s1 = rp[o1], rj[o1], s_start[o1], s_end[o2]
    xs, _ = _golden_max(lambda r, s: prob.at(p[r], j[r], s, peak=True)[0], s0, s1, max(tol, _PEAK_TOL_S / step_s))
    el, off = prob.at(p, j, xs, peak=True)
    return p, sats.rows[j], s0, s1, el, off


def _seconds(grid: _Grid, s: np.ndarray) -> np.ndarray:
    k0 = np.clip(np.floor(s).astype(np.int64), 0, len(grid.sec) - 2)
    return grid.sec[k0] + (s - k0) * (grid.sec[k0 + 1] - grid.sec[k0])


def find_accesses(
    elements: Elements,
    sensors: Sensor | list[Sensor],
    lat_deg: np.ndarray,
    lon_deg: np.ndarray,
    *,
    start: object,
    duration_s: float,
    step_s: float = 30.0,
    alt_km: float | np.ndarray = 0.0,
    tol_s: float = 1e-3,
    chunk_steps: int = 1440,
    sat_chunk: int = 256,
) -> pd.DataFrame:
    """Access intervals of every (target, satellite) over ``[start, start + duration_s]``.

    ``sensors``: one :class:`Sensor` for all satellites or one per satellite. Targets are WGS84
    points (``lat_deg``, ``lon_deg``, ``alt_km``). Returns a DataFrame with :data:`ACCESS_COLUMNS`
    (``target``/``satellite`` index the inputs; times UTC; ``max_elevation_deg`` and
    ``min_off_nadir_deg`` at the access's highest elevation), ordered by (target, start).
    """
    sensor_list = [sensors] * len(elements) if isinstance(sensors, Sensor) else list(sensors)
    if len(sensor_list) != len(elements):
        raise ValueError(f"{len(sensor_list)} sensors for {len(elements)} satellites")
    table = SensorTable.of(sensor_list)
    grid = _grid(start, duration_s, step_s)
    g, u = ground_points(np.atleast_1d(lat_deg), np.atleast_1d(lon_deg), alt_km)
    g, u = g.reshape(-1, 3), u.reshape(-1, 3)
    cols: list[list[np.ndarray]] = [[] for _ in range(6)]
    for lo in range(0, len(elements), sat_chunk):
        rows = np.arange(lo, min(lo + sat_chunk, len(elements)))
        eph = propagate(elements.subset(rows), grid.t_utc)
        sub_needs_nadir = SensorTable.of([sensor_list[i] for i in rows]).needs_nadir
        sats = _Sats(eph.r_teme_km, eph.v_teme_km_s, eph.r_ecef_km,
                     _nadir(eph.r_ecef_km) if sub_needs_nadir else None, rows)
        prob = _Problem(grid, sats, table, g, u)
        for c, x in zip(cols, _chunk_accesses(prob, [sensor_list[i] for i in rows], step_s, chunk_steps, tol_s),
                        strict=True):
            c.append(x)
    p, sat, s0, s1, el, off = (np.concatenate(c) for c in cols)
    t0 = grid.t_utc[0]
    sec0, sec1 = _seconds(grid, s0), _seconds(grid, s1)
    to_t = lambda x: t0 + np.round(x * 1e9).astype("int64").astype("timedelta64[ns]")  # noqa: E731
    df = pd.DataFrame({
        "target": p.astype(np.int64),
        "satellite": sat.astype(np.int64),
        "name": np.asarray(elements.names, dtype=object)[sat] if len(sat) else np.empty(0, object),
        "norad_id": pd.array([elements.norad_ids[i] for i in sat], dtype="Int64"),
        "start_utc": to_t(sec0),
        "end_utc": to_t(sec1),
        "duration_s": sec1 - sec0,
        "max_elevation_deg": el,
        "min_off_nadir_deg": off,
    })
    return df.sort_values(["target", "start_utc", "satellite"], kind="stable").reset_index(drop=True)
