"""Access intervals of imaging satellites over ground targets, refined to milliseconds.

Size: about 420 lines: one pipeline (grid, screen, edges, refinement, peaks) whose stages share
the interpolated state of :class:`_Problem`; the screen and the generic searches are already in
:mod:`skyfence.imaging.screen` and :mod:`skyfence.imaging.refine`.

Method
------
1. **Grid.** The satellites are propagated once with SGP4 on the time grid ``t0, t0 + step, ...``
   plus the period's end (:func:`skyfence.orbits.propagate.propagate`), positions and velocities.
2. **Sampling stride.** A satellite whose line of sight from the ground turns slowly (high orbits)
   is sampled every ``stride`` steps (:func:`skyfence.imaging.screen.strides`; LEO: every step).
3. **Screening with one tree of the targets.** The targets are fixed in the Earth-fixed frame, so
   one :class:`skyfence.links.TargetIndex` (a KD-tree of their directions) is matched against all
   sampled satellite positions of a time chunk at once. A (target, satellite, sample) is kept
   when the central angle between target and satellite is at most the screening angle of
   :func:`skyfence.imaging.screen.screen` (the sensor's reach, plus half a stride of ground-track
   motion, plus 0.3 deg for the ellipsoid), so a pass that reaches the sensor's reach has a sample
   in the screen at its closest point.
4. **Exact test on the samples.** The sensor margin (:func:`skyfence.imaging.sensors.margin_deg`)
   is evaluated on every screened sample; samples absent from the screen are outside the reach.
   Rising / falling edges of ``margin > 0`` between consecutive samples bracket the access ends.
   A screened sample whose negative margin is a local maximum of the pass (Sun margin above -0.5
   deg plus the Sun's motion over a stride) may hide a short access between its neighbours: the
   parabola through the squared chords between the target's and the satellite's directions at the
   three samples (:func:`skyfence.imaging.refine.parabola_min`) gives the closest approach. If
   even that is beyond the reach (plus the slack), there is none; else the margin there decides
   (positive: an access); SAR sensors (whose margin peaks away from the closest approach) and
   margins there above -:data:`HIDDEN_SCREEN_DEG` are searched (golden section between the
   neighbours, stopping at the first positive margin).
5. **Refinement between samples without SGP4.** Each bracket is narrowed on the continuous margin
   (Illinois regula falsi, :func:`skyfence.imaging.refine.root`), from the margins already known
   at the samples, until it is shorter than ``tol_s`` (default 1 ms). Between grid steps the TEME
   position is the cubic Hermite interpolant of SGP4's positions and velocities at both ends
   (against SGP4 run at random instants, 1 day at 30 s: at most 9 cm for LEO satellites, 17 cm
   for a geostationary one; ``tests/imaging/test_interpolation.py``), rotated by the linearly
   interpolated sidereal angle; the geodetic nadir is the geocentric one plus the linearly
   interpolated deflection of the vertical (< 0.2 deg; interpolation error ~1e-4 deg, i.e. well
   under a millisecond of an access end); the Sun direction is interpolated linearly.
6. **Peaks.** The highest elevation of each access (:func:`_peaks`: parabolic interpolation of
   the squared range, then of the sine of the elevation; golden section for accesses over 10
   steps) and the off-nadir angle there.

Accesses are those of one satellite and one target; merging across satellites (what a target
"sees") is in :mod:`skyfence.imaging.stats`. An access open at the period's start or end is
clipped to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skyfence.geo.earth import wgs84
from skyfence.imaging.refine import golden_max, parabola_min, root
from skyfence.imaging.screen import screen
from skyfence.imaging.sensors import KINDS, Sensor, SensorTable, margin_deg
from skyfence.imaging.sun import sun_ecef_unit, sun_elevation_deg
from skyfence.links import TargetIndex, ground_points
from skyfence.orbits.elements import Elements
from skyfence.orbits.frames import as_utc, gmst_rad, time_grid
from skyfence.orbits.propagate import propagate

__all__ = ["find_accesses", "ACCESS_COLUMNS", "HIDDEN_SCREEN_DEG"]

ACCESS_COLUMNS = ["target", "satellite", "name", "norad_id", "start_utc", "end_utc", "duration_s",
                  "max_elevation_deg", "min_off_nadir_deg"]
#: a local maximum of a negative margin whose margin at the estimated closest approach is above
#: minus this many degrees is searched for a short access (golden section)
HIDDEN_SCREEN_DEG = 0.05
#: the highest elevation of an access is searched to this many seconds (elevation error <~ 0.01 deg)
_PEAK_TOL_S = 0.01
#: the Sun's largest elevation rate at a ground point (deg/s): the Earth's rotation
_SUN_RATE_DEG_S = 0.0042
#: accesses up to this many steps long have their peak from the squared range's parabola
_PEAK_PARABOLA_STEPS = 10.0
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
    deflection: np.ndarray | None  # [m, n, 3] geodetic nadir minus geocentric nadir, or None
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
    """Geodetic nadir (minus the WGS84 normal at the sub-satellite point), unit ``[..., 3]``."""
    lat, lon, _ = wgs84.geodetic(r_ecef)
    return -wgs84.up(lat, lon)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


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

    def __init__(self, grid: _Grid, sats: _Sats, table: SensorTable, g: np.ndarray, u: np.ndarray,
                 ground_radii_km: tuple[float, float] | None = None):
        self.grid, self.sats, self.table, self.g, self.u = grid, sats, table, g, u
        rg = np.linalg.norm(g, axis=-1)
        self.ground_radii_km = ground_radii_km or (float(rg.min()), float(rg.max()))
        self.sub = SensorTable(*(getattr(table, f)[sats.rows] for f in table.__dataclass_fields__))
        self.n = len(grid.sec)
        self.g_unit = _unit(g)
        self._coef: np.ndarray | None = None
        self.reach = np.full(len(sats.rows), np.inf)  # screening reach + slack (rad), set by _screen

    def on_grid(self, p, j, k):
        """``(margin, sun margin)`` of rows (target ``p``, satellite ``j``, grid step ``k``)."""
        s = self.sats
        v = _rotate(s.v_teme[j, k], self.grid.theta[k]) if self.sub.needs_side else None
        r = s.r_ecef[j, k]
        nad = _unit(s.deflection[j, k] - _unit(r)) if s.deflection is not None else None
        sun = self.grid.sun[k] if self.sub.needs_sun else None
        el, off, side, sun_el = _angles(r, v, nad, self.g[p], self.u[p], sun)
        return margin_deg(self.sub, j, el, off, side, sun_el)

    def at(self, p, j, s, *, peak: bool = False):
        """Margin (and Sun margin) at fractional step indices ``s``; ``peak``: (elevation, off-nadir)."""
        out = [np.empty(len(p)) for _ in range(2)]
        for lo in range(0, len(p), _ROWS):
            sl = slice(lo, lo + _ROWS)
            a, b = self._at(p[sl], j[sl], s[sl], peak)
            out[0][sl], out[1][sl] = a, b
        return out

    def hermite(self, j, s):
        """ECEF position (cubic Hermite TEME, rotated) and the ECEF-axes velocity if the sensors
        need a side, at fractional steps ``s`` of satellites ``j``; plus the step and fraction."""
        gr = self.grid
        k0 = np.clip(np.floor(s).astype(np.int64), 0, self.n - 2)
        tau = (s - k0)[:, None]
        c = self.coef.take(j * (self.n - 1) + k0, axis=0)  # [rows, 4, 3], Horner's scheme below
        r = ((c[:, 3] * tau + c[:, 2]) * tau + c[:, 1]) * tau + c[:, 0]
        theta = gr.theta[k0] + tau[:, 0] * (gr.theta[k0 + 1] - gr.theta[k0])
        v = None
        if self.sub.needs_side:
            h = (gr.sec[k0 + 1] - gr.sec[k0])[:, None]
            v = _rotate(((3.0 * c[:, 3] * tau + 2.0 * c[:, 2]) * tau + c[:, 1]) / h, theta)
        return _rotate(r, theta), v, k0, tau

    @property
    def coef(self) -> np.ndarray:
        """Cubic Hermite coefficients of the TEME position in the step fraction, per satellite and
        step: ``[m * (n - 1), 4, 3]`` (constant, linear, square, cube terms)."""
        if self._coef is None:
            st = self.sats
            h = np.diff(self.grid.sec)[None, :, None]
            r0, r1 = st.r_teme[:, :-1], st.r_teme[:, 1:]
            hv0, hv1 = h * st.v_teme[:, :-1], h * st.v_teme[:, 1:]
            c = np.stack([r0, hv0, 3.0 * (r1 - r0) - 2.0 * hv0 - hv1, 2.0 * (r0 - r1) + hv0 + hv1], axis=2)
            self._coef = c.reshape(-1, 4, 3)
        return self._coef

    def _at(self, p, j, s, peak):
        gr, st = self.grid, self.sats
        r_ecef, v, k0, tau = self.hermite(j, s)
        nad = None
        if st.deflection is not None:
            dfl = st.deflection[j, k0] + tau * (st.deflection[j, k0 + 1] - st.deflection[j, k0])
            nad = _unit(dfl - _unit(r_ecef))
        elif peak:
            nad = _nadir(r_ecef)
        sun = None
        if self.sub.needs_sun and not peak:
            sun = _unit(gr.sun[k0] + tau * (gr.sun[k0 + 1] - gr.sun[k0]))
        el, off, side, sun_el = _angles(r_ecef, None if peak else v, nad, self.g[p], self.u[p], sun)
        if peak:
            return el, off
        return margin_deg(self.sub, j, el, off, side, sun_el)


def _edges(prob: _Problem, p, j, q, ks: np.ndarray, qa: int, qb: int):
    """Rising, falling and local-maximum samples of one chunk of sample positions ``[qa, qb)``
    (``q`` indexes the sample steps ``ks``), each as (target, satellite, step, margin, previous
    margin, next margin, previous step, next step), -inf for a neighbour outside the screen."""
    n_sat, nq = len(prob.sats.rows), len(ks)
    key = (p * n_sat + j) * nq + q
    order = np.argsort(key)
    p, j, q, key = p[order], j[order], q[order], key[order]
    m, sun_m = prob.on_grid(p, j, ks[q])
    pos = m > 0.0
    same = key[1:] == key[:-1] + 1
    m_prev = np.full(len(q), -np.inf)
    m_prev[1:][same] = m[:-1][same]
    m_next = np.full(len(q), -np.inf)
    m_next[:-1][same] = m[1:][same]
    inside = (q >= qa) & (q < qb)
    rise = inside & pos & ~(m_prev > 0.0)
    fall = inside & pos & ~(m_next > 0.0)
    sun_slack = 0.5 + _SUN_RATE_DEG_S * float(np.max(np.diff(prob.grid.sec[ks]), initial=0.0))
    peak = inside & ~pos & (m >= m_prev) & (m > m_next) & (sun_m > -sun_slack)
    k_prev, k_next = ks[np.maximum(q - 1, 0)], ks[np.minimum(q + 1, nq - 1)]
    pick = lambda sel: (p[sel], j[sel], ks[q[sel]], m[sel], m_prev[sel], m_next[sel],  # noqa: E731
                        k_prev[sel], k_next[sel])
    return pick(rise), pick(fall), pick(peak)


def _chunk_accesses(prob: _Problem, index: TargetIndex, sensors_of_chunk: list[Sensor], step_s: float,
                    chunk_steps: int, tol_s: float):
    sats, n = prob.sats, prob.n
    found: list[list[tuple]] = [[], [], []]
    gr = prob.grid
    omega_e = (gr.theta[-1] - gr.theta[0]) / max(gr.sec[-1] - gr.sec[0], 1e-9)
    groups, prob.reach = screen(sats.r_ecef, sats.v_teme, omega_e, sensors_of_chunk, prob.ground_radii_km, step_s)
    for js, ks, angle in groups:
        nq = len(ks)
        cq = max(1, chunk_steps * nq // n)
        for qa in range(0, nq, cq):
            qb = min(qa + cq, nq)
            q0, q1 = max(qa - 1, 0), min(qb + 1, nq)
            pos = sats.r_ecef[js][:, ks[q0:q1]].reshape(-1, 3)  # rows: satellite-major, then sample
            t, row = index.near(pos, np.repeat(angle, q1 - q0))
            jl, ql = np.divmod(row, q1 - q0)
            for acc, e in zip(found, _edges(prob, t, js[jl], ql + q0, ks, qa, qb), strict=True):
                acc.append(e)
    return _refine(prob, found, tol_s / step_s)


def _cat(parts: list[tuple]) -> list[np.ndarray]:
    if not parts:
        return [np.empty(0, np.int64)] * 3 + [np.empty(0)] * 3 + [np.empty(0, np.int64)] * 2
    return [np.concatenate(x) for x in zip(*parts, strict=True)]


def _refine(prob: _Problem, found: list[list[tuple]], tol: float):
    """(target, satellite row, start, end, peak elevation, off-nadir there) of the accesses
    bracketed by the edges ``found`` (rising, falling, local maxima)."""
    n = prob.n
    rp, rj, rk, rm, rmp, _, rkp, _ = _cat(found[0])
    fp, fj, fk, fm, _, fmn, _, fkn = _cat(found[1])
    pp, pj, pk, pm, pmp, pmn, pkp, pkn = _cat(found[2])
    # short accesses between samples: the closest approach from the parabola of the squared chord
    # between the target's and the satellite's directions at the three samples
    edge = (pk == 0) | (pk == n - 1)
    d0, d2 = np.maximum(pk - pkp, 1).astype(float), np.maximum(pkn - pk, 1).astype(float)
    gu, r = prob.g_unit[pp], prob.sats.r_ecef
    chord2 = lambda kk: np.sum((_unit(r[pj, kk]) - gu) ** 2, axis=1)  # noqa: E731
    x_min, c2_min = parabola_min(chord2(pkp), chord2(pk), chord2(pkn), d0, d2)
    reach = 2.0 * np.arcsin(np.minimum(np.sqrt(np.maximum(c2_min, 0.0)) / 2.0, 1.0)) <= prob.reach[pj]
    near = np.flatnonzero(reach & ~edge)
    t_star = pk[near] + x_min[near]
    m_star = prob.at(pp[near], pj[near], t_star)[0]
    sar = prob.sub.kind[pj[near]] == KINDS.index("sar")
    at_star = near[m_star > 0.0]
    cand = np.r_[np.flatnonzero(edge), near[(m_star <= 0.0) & (sar | (m_star > -HIDDEN_SCREEN_DEG))]]
    lo, hi = pkp[cand].astype(float), pkn[cand].astype(float)
    x, fx = golden_max(lambda r, s: prob.at(pp[cand][r], pj[cand][r], s)[0], lo, hi, tol, stop_positive=True)
    cand = np.r_[at_star, cand]
    x, fx = np.r_[(pk + x_min)[at_star], x], np.r_[m_star[m_star > 0.0], fx]
    cp, cj = pp[cand], pj[cand]
    lo, hi = pkp[cand].astype(float), pkn[cand].astype(float)
    hid = np.flatnonzero(fx > 0.0)
    lo_val = np.where(pk[cand] == 0, np.nan, pmp[cand])[hid]
    hi_val = np.where(pk[cand] == n - 1, np.nan, pmn[cand])[hid]
    # access ends: exact at the period's ends, else refined from the margins known at the samples
    r_lo, r_hi = np.r_[rkp.astype(float), lo[hid]], np.r_[rk.astype(float), x[hid]]
    f_lo, f_hi = np.r_[fk.astype(float), x[hid]], np.r_[fkn.astype(float), hi[hid]]
    rp, rj = np.r_[rp, cp[hid]], np.r_[rj, cj[hid]]
    fp, fj = np.r_[fp, cp[hid]], np.r_[fj, cj[hid]]
    s_start = root(lambda r, s: prob.at(rp[r], rj[r], s)[0], r_lo, r_hi, tol, np.r_[rmp, lo_val], np.r_[rm, fx[hid]])
    s_start[r_hi == 0] = 0.0
    s_end = root(lambda r, s: prob.at(fp[r], fj[r], s)[0], f_lo, f_hi, tol, np.r_[fm, fx[hid]], np.r_[fmn, hi_val])
    s_end[f_lo == n - 1] = n - 1
    o1 = np.lexsort((s_start, rj, rp))
    o2 = np.lexsort((s_end, fj, fp))
    if len(o1) != len(o2) or np.any(rp[o1] != fp[o2]) or np.any(rj[o1] != fj[o2]):
        raise RuntimeError("unpaired access ends")  # a bug, never a user error
    p, j, s0, s1 = rp[o1], rj[o1], s_start[o1], s_end[o2]
    xs = _peaks(prob, p, j, s0, s1, tol)
    el, off = prob.at(p, j, xs, peak=True)
    return p, prob.sats.rows[j], s0, s1, el, off


def _peaks(prob: _Problem, p, j, s0, s1, tol: float) -> np.ndarray:
    """Step of the highest elevation of each access ``[s0, s1]``: for accesses of up to
    :data:`_PEAK_PARABOLA_STEPS` steps, three rounds of parabolic interpolation: of the squared
    range over the access (a quadratic in time for straight-line motion: the least range, within a
    second of the peak), then of the sine of the elevation (a quadratic in time near the zenith too)
    over +-5 % and +-0.5 % of a step around the previous vertex; longer accesses by golden section on
    the elevation to 10 ms."""
    xs = np.empty(len(p))
    short = s1 - s0 <= _PEAK_PARABOLA_STEPS
    rows = np.flatnonzero(short)
    pr, jr, a, c = p[rows], j[rows], s0[rows], s1[rows]

    def range2(s):
        d = prob.hermite(jr, s)[0] - prob.g[pr]
        return np.einsum("ij,ij->i", d, d)

    def minus_sin_el(s):
        d = prob.hermite(jr, s)[0] - prob.g[pr]
        return -np.einsum("ij,ij->i", d, prob.u[pr]) / np.sqrt(np.einsum("ij,ij->i", d, d))

    b = 0.5 * (a + c)
    for f, w in ((range2, 0.05), (minus_sin_el, 0.005), (minus_sin_el, None)):
        x, _y = parabola_min(f(a), f(b), f(c), b - a, c - b)
        t = np.clip(b + x, s0[rows], s1[rows])
        if w is not None:
            a, b, c = np.maximum(t - w, s0[rows]), t, np.minimum(t + w, s1[rows])
    xs[rows] = t
    long = np.flatnonzero(~short)
    step_s = float(np.min(np.diff(prob.grid.sec))) if prob.n > 1 else 1.0
    xs[long], _ = golden_max(lambda r, s: prob.at(p[long][r], j[long][r], s, peak=True)[0], s0[long], s1[long],
                             max(tol, _PEAK_TOL_S / step_s))
    return xs


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
    ground_radii_km: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Access intervals of every (target, satellite) over ``[start, start + duration_s]``.

    ``sensors``: one :class:`Sensor` for all satellites or one per satellite. Targets are WGS84
    points (``lat_deg``, ``lon_deg``, ``alt_km``). Returns a DataFrame with :data:`ACCESS_COLUMNS`
    (``target``/``satellite`` index the inputs; times UTC; ``max_elevation_deg`` and
    ``min_off_nadir_deg`` at the access's highest elevation), ordered by (target, start).
    ``ground_radii_km``: the lowest and highest geocentric radius the screen assumes for the targets
    (default: these targets'); a part of a larger set of targets given the whole set's gets exactly
    the accesses (to the bit) that the whole set's run gives its targets.
    """
    sensor_list = [sensors] * len(elements) if isinstance(sensors, Sensor) else list(sensors)
    if len(sensor_list) != len(elements):
        raise ValueError(f"{len(sensor_list)} sensors for {len(elements)} satellites")
    table = SensorTable.of(sensor_list)
    grid = _grid(start, duration_s, step_s)
    g, u = ground_points(np.atleast_1d(lat_deg), np.atleast_1d(lon_deg), alt_km)
    g, u = g.reshape(-1, 3), u.reshape(-1, 3)
    index = TargetIndex(g)
    cols: list[list[np.ndarray]] = [[] for _ in range(6)]
    for lo in range(0, len(elements) if len(g) else 0, sat_chunk):
        rows = np.arange(lo, min(lo + sat_chunk, len(elements)))
        eph = propagate(elements.subset(rows), grid.t_utc)
        r_ecef = eph.r_ecef_km
        deflection = None
        if SensorTable.of([sensor_list[i] for i in rows]).needs_nadir:
            deflection = _nadir(r_ecef) + _unit(r_ecef)
        prob = _Problem(grid, _Sats(eph.r_teme_km, eph.v_teme_km_s, r_ecef, deflection, rows), table, g, u,
                        ground_radii_km)
        for c, x in zip(cols, _chunk_accesses(prob, index, [sensor_list[i] for i in rows], step_s, chunk_steps,
                                              tol_s), strict=True):
            c.append(x)
    if not cols[0]:
        cols = [[np.empty(0, np.int64)], [np.empty(0, np.int64)]] + [[np.empty(0)] for _ in range(4)]
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
