"""Fixed ground targets near many satellite positions at once: one KD-tree of the targets.

Targets that do not move in the Earth-fixed frame (cell centres, named sites) are indexed once by
:class:`TargetIndex`: a ``scipy.spatial.cKDTree`` over their geocentric unit vectors. A whole time
chunk of satellite positions (``[rows, 3]`` ECEF, any number of satellites x steps stacked) is
matched against it in a few vectorized calls: :meth:`TargetIndex.near` returns every (target,
row) pair whose geocentric central angle is at most that row's ``max_angle_rad``.

The angle test is a chord test on the unit sphere (``chord = 2 sin(angle / 2)``, monotonic in
the angle): the rows are grouped into bands whose largest angle is at most 5 % above their
smallest (:data:`BAND_RATIO`), each band's unit vectors go into one tree, the target tree is
matched against it with ``sparse_distance_matrix`` (pairs within the band's largest chord, as
arrays, no Python lists), and the pairs are cut to each row's own chord. The answer is exact for
the central angle; what angle a sensor or an elevation mask needs is the caller's (e.g.
:mod:`skyfence.imaging.access`, which adds the ground-track motion between samples).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["BAND_RATIO", "TargetIndex"]

#: largest ratio of the largest to the smallest search angle within one band (one tree per band)
BAND_RATIO = 1.05
#: slack on the chord (unit sphere) so that rounding never drops a pair at the exact limit
_CHORD_SLACK = 1e-12


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class TargetIndex:
    """Fixed targets (ECEF km ``[n, 3]``) indexed by their geocentric directions."""

    def __init__(self, g_ecef_km: np.ndarray):
        g = np.asarray(g_ecef_km, dtype=float).reshape(-1, 3)
        self.n = len(g)
        self.unit = _unit(g) if len(g) else np.zeros((0, 3))
        self.tree = cKDTree(self.unit)

    def near(self, r_ecef_km: np.ndarray, max_angle_rad: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """``(target, row)`` int64 arrays: every target whose central angle to the position
        ``r_ecef_km[row]`` (``[rows, 3]``; NaN rows never match) is at most ``max_angle_rad[row]``
        (a scalar or ``[rows]``, below pi), in no particular order."""
        r = np.asarray(r_ecef_km, dtype=float).reshape(-1, 3)
        ang = np.broadcast_to(np.asarray(max_angle_rad, dtype=float), (len(r),))
        ok = np.flatnonzero(np.isfinite(r).all(axis=1) & np.isfinite(ang) & (ang >= 0.0))
        empty = (np.empty(0, np.int64), np.empty(0, np.int64))
        if self.n == 0 or len(ok) == 0:
            return empty
        u = _unit(r[ok])
        chord = 2.0 * np.sin(0.5 * np.minimum(ang[ok], np.pi)) + _CHORD_SLACK
        order = np.argsort(chord, kind="stable")
        out_t, out_r = [], []
        a = 0
        while a < len(order):
            top = BAND_RATIO * chord[order[a]]
            b = int(np.searchsorted(chord[order], top, side="right"))
            b = max(b, a + 1)
            band = order[a:b]
            hits = self.tree.sparse_distance_matrix(cKDTree(u[band]), float(chord[band].max()),
                                                    output_type="ndarray")
            if len(hits):
                rows = band[hits["j"].astype(np.int64)]
                keep = hits["v"] <= chord[rows]
                out_t.append(hits["i"][keep].astype(np.int64))
                out_r.append(ok[rows[keep]])
            a = b
        if not out_t:
            return empty
        return np.concatenate(out_t), np.concatenate(out_r)
