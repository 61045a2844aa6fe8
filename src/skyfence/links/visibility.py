"""Ground-to-satellite links for many ground points, many satellites, many time steps.

Shapes and the test
-------------------
Satellites are ``[n_sat, n_time, 3]`` ECEF km (the :class:`skyfence.orbits.propagate.Ephemeris`
layout, NaN rows where SGP4 failed; ``[n_sat, 3]`` is one step); ground points are ``[n_pt, 3]``
(fixed) or ``[n_pt, n_time, 3]`` (mobile; NaN where a terminal is absent), with their unit up
vectors of the same shape (``None``: the geocentric radial). Look angles are defined in
:mod:`skyfence.links.geometry`. A (ground point, satellite) pair is **linked** at a step when

* ``elevation_deg >= min_elevation_deg`` (one mask, or one per ground point), and/or
* ``range_km <= max_range_km`` (a slant-range cut-off, Hypatia's ``max_gsl_length_m``);

exactly these float64 comparisons, with both when both are given. Pairs and counts use the same
test, so counts == number of pairs. No refraction, no terrain.

Method
------
Nothing dense ``[sat x ground x time]`` is ever built. Per step, candidates
(:mod:`skyfence.links.search`) come either from one matrix product (``|s|^2 + |g|^2 - 2 g.s``
and ``u.s - u.g``, with generous margins; used when ``n_pt * n_sat <= search.DENSE_PAIRS``, a
few stations) or from KD-trees: a ``scipy.spatial.cKDTree`` of the ground points (built once when they are fixed) matched against trees of the satellites
with ``sparse_distance_matrix`` and a radius that bounds the slant range of anything linked: the
range cut-off, and/or the mask's bound (:func:`skyfence.links.geometry.slant_range_bound_km`) for
the step's largest satellite radius, the smallest ground radius and the mask lowered by the
largest angle between the up vectors and the geocentric radial (<= 0.19 deg on WGS84). Satellites
are split in 20 km bands of geocentric radius, each with its own tree and radius, so a low shell
is not searched with the radius of the highest one. Either way the candidates then go through the
exact test above, so both give the same links. Work per step is O((n_pt + n_sat) log + candidate
pairs), about 1-2 % of the all-pairs work for a country.

A few fixed points (at most ``search.FEW_POINTS``: ground stations, cities) over many satellites
take their candidates once per window of ``search.WINDOW_STEPS`` steps
(:func:`~skyfence.links.search.window_candidates`: the satellites' tree at the window's middle step,
the radius widened by how far any satellite moves in the window), when every satellite is finite
in the window and moves less than a quarter of the radius (1 s steps; not 60 s ones). Building the
10,281 satellites' tree was most of a step's time for 100 stations. The exact test is the same.

:func:`count_visible` keeps no pair: a compiled kernel (:mod:`skyfence.links.counting`) visits,
for each satellite, the ground points of a latitude-row index inside its search cap, counts those
inside the cap of sure links without a test and puts the others through the same test (the few
within 1e-9 of the mask's sine go through :func:`~skyfence.links.search.linked_rows` itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from skyfence.links import search
from skyfence.links.counting import GroundIndex, count_steps
from skyfence.links.geometry import frame_angles
from skyfence.links.search import Ground, dense_candidates, kd_candidates, limits, window_candidates

__all__ = [
    "Visibility",
    "visible_pairs",
    "count_visible",
]


@dataclass(frozen=True)
class Visibility:
    """Sparse links: one row per linked (ground point, satellite, time step) triple.

    Parallel arrays ordered by time (within a step in an unspecified but deterministic order;
    :meth:`sorted` orders by (time, point, sat)): ``point`` / ``sat`` / ``time`` (int32 indices
    into the inputs), ``range_km``, ``elevation_deg``, ``azimuth_deg`` (float64, see
    :mod:`skyfence.links.geometry`; NaN azimuths when not asked for). ``n_points``, ``n_sats``,
    ``n_times`` are the input sizes.
    """

    point: np.ndarray
    sat: np.ndarray
    time: np.ndarray
    range_km: np.ndarray
    elevation_deg: np.ndarray
    azimuth_deg: np.ndarray
    n_points: int
    n_sats: int
    n_times: int

    def __len__(self) -> int:
        return len(self.point)

    def counts(self) -> np.ndarray:
        """Satellites linked per point and step, int16 ``[n_points, n_times]``."""
        flat = self.point.astype(np.int64) * self.n_times + self.time
        c = np.bincount(flat, minlength=self.n_points * self.n_times)
        return c.reshape(self.n_points, self.n_times).astype(np.int16)

    def step(self, k: int) -> Visibility:
        """The pairs of time step ``k`` only (``n_times`` kept)."""
        lo, hi = np.searchsorted(self.time, [k, k + 1])
        return self.take(slice(lo, hi))

    def take(self, index: slice | np.ndarray) -> Visibility:
        """Rows selected by a slice, an index array or a boolean mask."""
        return Visibility(
            point=self.point[index],
            sat=self.sat[index],
            time=self.time[index],
            range_km=self.range_km[index],
            elevation_deg=self.elevation_deg[index],
            azimuth_deg=self.azimuth_deg[index],
            n_points=self.n_points,
            n_sats=self.n_sats,
            n_times=self.n_times,
        )

    def sorted(self) -> Visibility:
        """The same pairs ordered by (time, point, sat)."""
        return self.take(np.lexsort((self.sat, self.point, self.time)))

    def max_elevation_deg(self) -> np.ndarray:
        """Highest elevation linked per point and step, float64 ``[n_points, n_times]`` (NaN: none)."""
        out = np.full(self.n_points * self.n_times, -np.inf)
        flat = self.point.astype(np.int64) * self.n_times + self.time
        np.maximum.at(out, flat, self.elevation_deg)
        out[np.isneginf(out)] = np.nan
        return out.reshape(self.n_points, self.n_times)


def _check_inputs(ground_ecef_km, ground_up, sat_ecef_km):
    g = np.asarray(ground_ecef_km, dtype=float)
    s = np.asarray(sat_ecef_km, dtype=float)
    if ground_up is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            u = g / np.linalg.norm(g, axis=-1, keepdims=True)
    else:
        u = np.asarray(ground_up, dtype=float)
    if s.ndim == 2 and s.shape[-1] == 3:
        s = s[:, None, :]
    if s.ndim != 3 or s.shape[-1] != 3:
        raise ValueError(f"sat_ecef_km must be [n_sat, n_time, 3], got shape {s.shape}")
    n_time = s.shape[1]
    if g.shape != u.shape:
        raise ValueError(f"ground_up shape {u.shape} != ground_ecef_km shape {g.shape}")
    if g.ndim == 2 and g.shape[-1] == 3:
        mobile = False
    elif g.ndim == 3 and g.shape[-1] == 3:
        if g.shape[1] != n_time:
            raise ValueError(
                f"mobile ground_ecef_km has {g.shape[1]} steps, satellites have {n_time}"
            )
        mobile = True
    else:
        raise ValueError(f"ground_ecef_km must be [n_pt, 3] or [n_pt, n_time, 3], got {g.shape}")
    return g, u, s, mobile


_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0, dtype=float)


def _step_pairs(ground: Ground, s_step: np.ndarray, azimuth: bool = False,
                window: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Linked pairs of one step: (point, sat, elevation_deg, range_km, azimuth_deg or empty);
    ``window``: candidates of the step's window (:func:`~skyfence.links.search.window_candidates`,
    every satellite finite)."""
    empty = (_EMPTY_I, _EMPTY_I, _EMPTY_F, _EMPTY_F, _EMPTY_F)
    if window is not None:
        sat_ok = np.arange(len(s_step))
    else:
        sat_ok = np.flatnonzero(np.all(np.isfinite(s_step), axis=1))
    if len(sat_ok) == 0 or len(ground.idx) == 0:
        return empty
    s = s_step[sat_ok]
    if window is not None:
        cands = [window]
    elif len(ground.idx) * len(s) <= search.DENSE_PAIRS:
        cands = [dense_candidates(ground, s)]
    else:
        cands = kd_candidates(ground, s, np.sqrt(np.einsum("ij,ij->i", s, s)))
    pts, sats, els, rngs, azs = [], [], [], [], []
    for gi, sj in cands:
        d = s[sj] - ground.g[gi]
        el, az, rng = frame_angles(d, ground.u[gi], ground.east[gi], ground.north[gi],
                                   azimuth=azimuth)
        keep = None if ground.mask_deg is None else el >= ground.mask_point_deg(gi)
        if ground.max_range_km is not None:
            in_range = rng <= ground.max_range_km
            keep = in_range if keep is None else keep & in_range
        pts.append(ground.idx[gi[keep]])
        sats.append(sat_ok[sj[keep]])
        els.append(el[keep])
        rngs.append(rng[keep])
        if azimuth:
            azs.append(az[keep])
    if not pts:
        return empty
    return (np.concatenate(pts), np.concatenate(sats), np.concatenate(els),
            np.concatenate(rngs), np.concatenate(azs) if azimuth else _EMPTY_F)


def _iterate(g, u, s, mobile, test, progress, azimuth=False):
    fixed = None if mobile else Ground(g, u, test)
    # a few fixed points over many satellites: candidates once per window of steps
    windowed = (fixed is not None and 0 < len(fixed.idx) <= search.FEW_POINTS
                and len(fixed.idx) * s.shape[0] > search.DENSE_PAIRS)  # fmt: skip
    window, window_end = None, 0
    for k in range(s.shape[1]):
        if windowed and k >= window_end:
            window_end = min(k + search.WINDOW_STEPS, s.shape[1])
            part = s[:, k:window_end]
            window = window_candidates(fixed, part) if window_end - k > 1 and np.isfinite(part).all() else None
        ground = fixed if fixed is not None else Ground(g[:, k], u[:, k], test)
        yield k, _step_pairs(ground, s[:, k], azimuth, window)
        if progress is not None:
            progress(1)


def visible_pairs(
    ground_ecef_km: np.ndarray,
    ground_up: np.ndarray | None,
    sat_ecef_km: np.ndarray,
    min_elevation_deg: float | np.ndarray | None = None,
    *,
    max_range_km: float | None = None,
    azimuth: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Visibility:
    """Every (ground point, satellite, step) linked under the mask and/or the range cut-off.

    ``ground_ecef_km``/``ground_up``: ``[n_pt, 3]`` fixed or ``[n_pt, n_time, 3]`` mobile (ECEF
    km / unit up, geodetic for lat/lon points; ``None`` takes the geocentric radial; NaN rows =
    point absent at that step). ``sat_ecef_km``: ``[n_sat, n_time, 3]`` ECEF km (``[n_sat, 3]``
    is one step); NaN rows (SGP4 errors) get no link. ``min_elevation_deg``: the mask, one value
    or one per point ``[n_pt]`` (linked iff elevation >= mask); ``max_range_km``: the slant-range
    cut-off (linked iff range <= it); at least one of them, both apply when both are given.
    ``azimuth=False`` skips the azimuth (NaN column) for speed. ``progress(1)`` is called after
    each step (progress bars).

    Returns a sparse :class:`Visibility`, ordered by time (``.sorted()`` for (time, point, sat)).
    """
    g, u, s, mobile = _check_inputs(ground_ecef_km, ground_up, sat_ecef_km)
    n_pt, n_sat, n_time = g.shape[0], s.shape[0], s.shape[1]
    test = limits(min_elevation_deg, max_range_km, n_pt)
    parts: list[tuple[np.ndarray, ...]] = []
    for k, (p, q, el, rng, az) in _iterate(g, u, s, mobile, test, progress, azimuth):
        if len(p) == 0:
            continue
        if not azimuth:
            az = np.full(len(p), np.nan)
        parts.append((p.astype(np.int32), q.astype(np.int32), np.full(len(p), k, dtype=np.int32),
                      rng, el, az))
    if parts:
        cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    else:
        cols = [np.empty(0, dtype=np.int32)] * 3 + [np.empty(0, dtype=float)] * 3
    return Visibility(
        point=cols[0],
        sat=cols[1],
        time=cols[2],
        range_km=cols[3],
        elevation_deg=cols[4],
        azimuth_deg=cols[5],
        n_points=n_pt,
        n_sats=n_sat,
        n_times=n_time,
    )


def count_visible(
    ground_ecef_km: np.ndarray,
    ground_up: np.ndarray | None,
    sat_ecef_km: np.ndarray,
    min_elevation_deg: float | np.ndarray | None = None,
    *,
    max_range_km: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Number of satellites linked per ground point and step, int16 ``[n_pt, n_time]``.

    Same inputs and the same exact test as :func:`visible_pairs` (so it equals
    ``visible_pairs(...).counts()``), without keeping the pairs. Absent points (NaN) count 0;
    NaN satellite positions are ignored.
    """
    g, u, s, mobile = _check_inputs(ground_ecef_km, ground_up, sat_ecef_km)
    n_pt, n_time = g.shape[0], s.shape[1]
    test = limits(min_elevation_deg, max_range_km, n_pt)
    out = np.zeros((n_pt, n_time), dtype=np.int16)
    if mobile:
        for k in range(n_time):
            index = GroundIndex(Ground(g[:, k], u[:, k], test))
            out[index.ground.idx, k] = count_steps(index, s[:, k : k + 1])[:, 0]
            if progress is not None:
                progress(1)
        return out
    index = GroundIndex(Ground(g, u, test))
    step = max(1, n_time) if progress is None else 1
    for k in range(0, n_time, step):
        out[index.ground.idx, k : k + step] = count_steps(index, s[:, k : k + step])
        if progress is not None:
            progress(1)
    return out
