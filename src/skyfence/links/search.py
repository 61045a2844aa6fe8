"""Candidate (ground point, satellite) pairs of one step, and the exact link test on them.

Candidates come from one matrix product for a few points (:func:`dense_candidates`) or from
KD-trees (:func:`kd_candidates`): one tree of the satellites queried at each ground point for up
to :data:`FEW_POINTS` points, else trees of the ground points and of the satellites in 20 km
radius bands; see :mod:`skyfence.links.visibility` for the bounds. Both are supersets
of the linked pairs; :func:`linked_rows` and :class:`Ground` apply the exact test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from skyfence.links.geometry import east_north, frame_angles, slant_range_bound_km

__all__ = ["DENSE_PAIRS", "FEW_POINTS", "WINDOW_STEPS", "Limits", "Ground", "limits", "dense_candidates",
           "kd_candidates", "window_candidates", "linked_rows"]

#: candidates from one matrix product up to this many (point, satellite) pairs per step
DENSE_PAIRS = 400_000
#: up to this many ground points, one satellite tree (no radius bands) queried point by point
FEW_POINTS = 1024
#: fixed ground points (at most FEW_POINTS) take their candidates once per window of this many steps
WINDOW_STEPS = 16
#: ... when the satellites move at most this share of the search radius within the window
_MAX_DRIFT_SHARE = 0.25
#: ground points per KD-tree block (bounds the memory of one step's candidate pairs)
_BLOCK = 16_384
#: extra slack on the KD-tree radius, km (the exact test decides)
_SLACK_KM = 1.0
#: margin of the matrix-product candidate filters, km (the exact test decides)
_DENSE_MARGIN_KM = 0.01
#: margin (deg) above the mask of the pairs counted without the exact test
_SURE_DEG = 1e-3
#: width of the satellite radius bands, km (one KD-tree and search radius per band)
_BAND_KM = 20.0
#: at most this many bands per step
_MAX_BANDS = 64


@dataclass(frozen=True)
class Limits:
    """The link test: per-point masks (deg, ``[n_pt]``, or None) and a range cut-off (km or None)."""

    mask_deg: np.ndarray | None
    max_range_km: float | None


def limits(min_elevation_deg, max_range_km, n_pt: int) -> Limits:
    """The test of ``min_elevation_deg`` (one value or ``[n_pt]``) and/or ``max_range_km``."""
    if min_elevation_deg is None and max_range_km is None:
        raise ValueError("give min_elevation_deg and/or max_range_km")
    mask = None
    if min_elevation_deg is not None:
        m = np.asarray(min_elevation_deg, dtype=float)
        if m.ndim > 1 or (m.ndim == 1 and len(m) != n_pt):
            raise ValueError(f"min_elevation_deg must be one value or [{n_pt}], got shape {m.shape}")
        mask = np.broadcast_to(m, (n_pt,))
    return Limits(mask, None if max_range_km is None else float(max_range_km))


def _deflection_deg(g: np.ndarray, u: np.ndarray) -> float:
    """Largest angle (deg) between the up vectors and the geocentric radial of finite rows."""
    if len(g) == 0:
        return 0.0
    r = np.linalg.norm(g, axis=1)
    c = np.einsum("ij,ij->i", g, u) / (r * np.linalg.norm(u, axis=1))
    return float(np.degrees(np.arccos(np.clip(np.min(c), -1.0, 1.0))))


class Ground:
    """The finite ground points of one step with their frames and masks; KD-tree blocks are built
    on first use and reused while the points are fixed."""

    def __init__(self, g: np.ndarray, u: np.ndarray, limits: Limits):
        idx = np.flatnonzero(np.all(np.isfinite(g), axis=1) & np.all(np.isfinite(u), axis=1))
        self.idx = idx
        self.g = g[idx]
        self.u = u[idx]
        self.east, self.north = east_north(self.u)
        self.max_range_km = limits.max_range_km
        self.mask_deg = None if limits.mask_deg is None else limits.mask_deg[idx]
        #: the one mask when all points share it (a float compares cheaper than a gathered array)
        self.mask_one_deg = None
        if self.mask_deg is not None and len(idx) and np.all(self.mask_deg == self.mask_deg[0]):
            self.mask_one_deg = float(self.mask_deg[0])
        r_g = np.linalg.norm(self.g, axis=1)
        self.r_min = float(np.min(r_g)) if len(idx) else np.inf
        self.r_max = float(np.max(r_g)) if len(idx) else np.inf
        self.e_bound = None
        if self.mask_deg is not None and len(idx):
            # the geocentric elevation of a pair is at least its geodetic one minus the deflection
            self.e_bound = float(np.min(self.mask_deg)) - _deflection_deg(self.g, self.u) - 1e-6
        self._blocks: list[tuple[int, cKDTree]] | None = None

    @property
    def blocks(self) -> list[tuple[int, cKDTree]]:
        if self._blocks is None:
            self._blocks = [
                (lo, cKDTree(self.g[lo : lo + _BLOCK])) for lo in range(0, len(self.idx), _BLOCK)
            ]
        return self._blocks

    def mask_point_deg(self, gi: np.ndarray) -> float | np.ndarray:
        """The mask of ground rows ``gi``: one float when all share it, else ``[len(gi)]``."""
        return self.mask_one_deg if self.mask_one_deg is not None else self.mask_deg[gi]

    def sure_radius_km(self, rs_min):
        """Slant range below which every pair with a satellite at geocentric radius >= ``rs_min``
        (a float or an array) passes the test (0: none known): its geocentric elevation is at
        least the largest mask plus the largest vertical deflection (plus a margin) and its range
        is under ``max_range_km``."""
        rs = np.asarray(rs_min, dtype=float)
        radius = np.full(rs.shape, np.inf)
        if self.e_bound is None and self.max_range_km is None:
            radius = np.zeros(rs.shape)
        elif self.mask_deg is not None:
            e_need = float(np.max(self.mask_deg)) + (float(np.min(self.mask_deg)) - self.e_bound) + _SURE_DEG
            radius = np.zeros(rs.shape) if e_need < 0.0 else slant_range_bound_km(rs, self.r_max, e_need)
        if self.max_range_km is not None:
            radius = np.minimum(radius, self.max_range_km)
        out = np.maximum(0.0, radius - _SLACK_KM)
        return float(out) if out.ndim == 0 else out

    def radius_km(self, rs_max):
        """KD-tree search radius for satellites up to geocentric radius ``rs_max`` (a float or an
        array; <= 0: none)."""
        rs = np.asarray(rs_max, dtype=float)
        radius = np.full(rs.shape, np.inf)
        below = np.zeros(rs.shape, dtype=bool)  # no satellite up to rs_max can be above the mask
        if self.e_bound is not None:
            if self.e_bound >= 0.0:
                radius = slant_range_bound_km(rs, self.r_min, self.e_bound)
                below = radius <= 0.0
            else:  # masks below the vertical deflection: no pruning (|s - g| <= |s| + |g|)
                radius = rs + self.r_max
        if self.max_range_km is not None:
            radius = np.minimum(radius, self.max_range_km)
        out = np.where(below, 0.0, radius + _SLACK_KM)
        return float(out) if out.ndim == 0 else out


def _sat_bands(r_km: np.ndarray) -> list[np.ndarray]:
    """Indices of satellites grouped in geocentric-radius bands (tighter KD-tree radii)."""
    if len(r_km) == 0:
        return []
    lo = float(np.min(r_km))
    band = ((r_km - lo) // _BAND_KM).astype(np.int64)
    order = np.argsort(band, kind="stable")
    keys, starts = np.unique(band[order], return_index=True)
    if len(keys) > _MAX_BANDS:  # very wide altitude spread: equal-count bands instead
        order = np.argsort(r_km, kind="stable")
        starts = np.linspace(0, len(r_km), _MAX_BANDS + 1).astype(np.int64)[:-1]
    ends = np.append(starts[1:], len(r_km))
    return [order[a:b] for a, b in zip(starts, ends, strict=True) if b > a]


def dense_candidates(ground: Ground, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ground row, satellite row) candidates from one matrix product, with generous margins
    (``n_pt * n_sat`` work: for a few ground points)."""
    gg, u = ground.g, ground.u
    d2 = (gg * gg).sum(1)[:, None] + (s * s).sum(1)[None, :] - 2.0 * (gg @ s.T)
    cand = np.ones(d2.shape, dtype=bool)
    if ground.max_range_km is not None:
        cand &= d2 <= (ground.max_range_km + _DENSE_MARGIN_KM) ** 2
    if ground.mask_deg is not None:
        sin_min = np.sin(np.radians(ground.mask_deg))
        up_dot = (u @ s.T) - (gg * u).sum(1)[:, None]
        cand &= up_dot >= sin_min[:, None] * np.sqrt(np.maximum(d2, 0.0)) - _DENSE_MARGIN_KM
    gi, sj = np.nonzero(cand)
    return gi, sj


def _ball_pairs(s: np.ndarray, g: np.ndarray, radius: float, *, sort: bool) -> tuple[np.ndarray, np.ndarray]:
    """(ground row, satellite row) of every satellite of ``s`` within ``radius`` of each point of
    ``g``: one satellite tree queried at each point (each point's satellites in increasing order
    when ``sort``)."""
    hits = cKDTree(s).query_ball_point(g, r=radius, return_sorted=sort)
    counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
    sj = np.fromiter((j for h in hits for j in h), dtype=np.int64, count=int(counts.sum()))
    return np.repeat(np.arange(len(hits)), counts), sj


def kd_candidates(ground: Ground, s: np.ndarray, r_s: np.ndarray):
    """(ground row, satellite row) candidate arrays: per satellite band and ground block, or, for
    at most :data:`FEW_POINTS` ground points, from one satellite tree queried at each point."""
    if len(ground.idx) <= FEW_POINTS:
        radius = ground.radius_km(float(r_s.max()))
        if radius <= 0.0:
            return
        yield _ball_pairs(s, ground.g, radius, sort=False)
        return
    bands = _sat_bands(r_s) if ground.mask_deg is not None else [np.arange(len(s))]
    for band in bands:
        radius = ground.radius_km(float(r_s[band].max()))
        if radius <= 0.0:
            continue
        sat_tree = cKDTree(s[band])
        for lo, tree in ground.blocks:
            cand = tree.sparse_distance_matrix(sat_tree, radius, output_type="ndarray")
            if len(cand):
                yield cand["i"].astype(np.int64) + lo, band[cand["j"].astype(np.int64)]


def window_candidates(ground: Ground, s: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(ground row, satellite row) candidates valid at every step of a window ``s`` ``[n_sat, w,
    3]`` (finite) for at most :data:`FEW_POINTS` fixed points: one tree of the satellites at the
    window's middle step, queried with the search radius of the window's highest satellite plus
    the farthest any satellite is from its middle position (a satellite within ``r`` of a point at
    some step is within ``r + drift`` at the middle one). Each point's satellites in increasing
    order. None when the satellites move too far in the window (more than a quarter of the
    radius: search step by step instead)."""
    mid = s[:, s.shape[1] // 2]
    radius = ground.radius_km(float(np.sqrt(np.einsum("ijk,ijk->ij", s, s).max())))
    d = s - mid[:, None, :]
    drift = float(np.sqrt(np.einsum("ijk,ijk->ij", d, d).max()))
    if radius <= 0.0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if drift > _MAX_DRIFT_SHARE * radius:
        return None
    return _ball_pairs(mid, ground.g, radius + drift, sort=True)


def linked_rows(d: np.ndarray, gi: np.ndarray, ground: Ground) -> np.ndarray:
    """Indices of the rows of ``d`` (candidate pairs of ground rows ``gi``) that pass the test.

    Same answer as the test on :func:`frame_angles`, cheaper: ``sin(elevation) = d.u / |d|``
    decides every pair farther than 1e-9 from the mask's sine; only the others go through the
    exact elevation formula. The range uses the very same ``sqrt(d . d)``.
    """
    rng = np.sqrt(np.einsum("ij,ij->i", d, d))
    ok = np.ones(len(d), dtype=bool)
    if ground.max_range_km is not None:
        ok &= rng <= ground.max_range_km
    if ground.mask_deg is not None:
        mask = ground.mask_point_deg(gi)
        sin_m = np.sin(np.radians(mask))
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.einsum("ij,ij->i", d, ground.u[gi]) / rng
        sure = q > sin_m + 1e-9
        near = np.flatnonzero(~(sure | (q < sin_m - 1e-9)))  # also NaN (d = 0)
        if len(near):
            g_near = gi[near]
            el, _, _ = frame_angles(d[near], ground.u[g_near], ground.east[g_near],
                                    ground.north[g_near], azimuth=False)
            sure[near[el >= (mask if np.ndim(mask) == 0 else mask[near])]] = True
        ok &= sure
    return np.flatnonzero(ok)
