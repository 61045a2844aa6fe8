"""Vectorized one-dimensional searches used to refine access ends and peaks between grid samples.

Every function works on arrays of independent rows (one bracket per row) and calls the function
being searched once per iteration for the rows still active, so the cost is a few vectorized
evaluations however many rows there are.

* :func:`root` — Illinois regula falsi (Dowell & Jarratt 1971) on sign-changing brackets, with a
  bisection step where a bracket did not halve in two iterations;
* :func:`golden_max` — golden-section maximisation (Kiefer 1953), optionally stopping a row at its
  first positive value;
* :func:`parabola_min` — the vertex of the parabola through three samples (successive parabolic
  interpolation's step, Brent 1973 ch. 5): the closest approach between samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["root", "golden_max", "parabola_min"]

_INV_PHI = (np.sqrt(5.0) - 1.0) / 2.0


def _signed(f: np.ndarray) -> np.ndarray:
    """A sign test on ``f > 0``: a value of exactly 0 counts as negative."""
    return np.where(f > 0, f, np.minimum(f, -1e-12))


def root(f: Callable[[np.ndarray, np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, tol: float,
         f_lo: np.ndarray | None = None, f_hi: np.ndarray | None = None) -> np.ndarray:
    """Roots of ``f(rows, x)`` in brackets ``[lo, hi]`` whose ends have opposite signs (``f > 0`` at
    one end only), each row iterated until its bracket is shorter than ``tol``; returns the final
    brackets' midpoints. ``f_lo`` / ``f_hi``: the values at the ends where known (NaN or -inf:
    evaluated here)."""
    lo, hi = np.asarray(lo, float).copy(), np.asarray(hi, float).copy()
    rows = np.arange(len(lo))

    def ends(x, known):
        out = np.full(len(x), np.nan) if known is None else np.asarray(known, float).copy()
        need = np.flatnonzero(~np.isfinite(out))
        if len(need):
            out[need] = f(rows[need], x[need])
        return _signed(out)

    fa_all, fb_all = ends(lo, f_lo), ends(hi, f_hi)
    side = np.zeros(len(lo), np.int8)  # the end moved last: -1 lo, +1 hi
    w2, w1 = np.full(len(lo), np.inf), np.full(len(lo), np.inf)  # bracket widths two / one iterations ago
    act = np.flatnonzero(hi - lo > tol)
    while len(act):
        a, b, fa, fb = lo[act], hi[act], fa_all[act], fb_all[act]
        w = b - a
        x = np.clip(a - fa * w / (fb - fa), a + 0.01 * w, b - 0.01 * w)
        x = np.where((w < 4.0 * tol) | (w > 0.5 * w2[act]), 0.5 * (a + b), x)
        w2[act], w1[act] = w1[act], w
        fx = _signed(f(act, x))
        same_lo = (fx > 0) == (fa > 0)  # x replaces lo
        sd = side[act]
        lo[act] = np.where(same_lo, x, a)
        hi[act] = np.where(same_lo, b, x)
        # Illinois: the end kept twice in a row has its value halved
        fa_all[act] = np.where(same_lo, fx, np.where(sd == 1, 0.5 * fa, fa))
        fb_all[act] = np.where(same_lo, np.where(sd == -1, 0.5 * fb, fb), fx)
        side[act] = np.where(same_lo, -1, 1)
        act = act[hi[act] - lo[act] > tol]
    return 0.5 * (lo + hi)


def golden_max(f: Callable[[np.ndarray, np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray, tol: float, *,
               stop_positive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Golden-section maximisation of ``f(rows, x)`` on ``[a, b]`` per row: ``(argmax, max)``;
    ``stop_positive``: a row stops at its first positive value (any point of an access)."""
    a, b = np.asarray(a, float).copy(), np.asarray(b, float).copy()
    c, d = b - _INV_PHI * (b - a), a + _INV_PHI * (b - a)
    rows = np.arange(len(a))
    fc, fd = f(rows, c), f(rows, d)
    act = rows[(b - a > tol) & ~(stop_positive & ((fc > 0) | (fd > 0)))]
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
        done = (b[act] - a[act] <= tol) | (stop_positive & (fn > 0))
        act = act[~done]
    x = np.where(fc >= fd, c, d)
    return x, np.maximum(fc, fd)


def parabola_min(y0: np.ndarray, y1: np.ndarray, y2: np.ndarray, d0: np.ndarray,
                 d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: the lowest point on ``[-d0, d2]`` of the parabola through ``(-d0, y0)``,
    ``(0, y1)``, ``(d2, y2)`` (``d0, d2 >= 0``): its vertex where it opens upwards with the vertex
    inside, else the lowest sample."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s0, s2 = (y0 - y1) / d0, (y2 - y1) / d2  # y = A x^2 + B x + y1: s0 = A d0 - B, s2 = A d2 + B
        a = (s0 + s2) / (d0 + d2)
        b = s2 - a * d2
        xv = -b / (2.0 * a)
        yv = y1 - b * b / (4.0 * a)
    inside = (a > 0) & (xv > -d0) & (xv < d2)
    xs = np.where(y0 < y1, np.where(y0 < y2, -d0, d2), np.where(y1 <= y2, 0.0, d2))
    ys = np.minimum(np.minimum(y0, y1), y2)
    return np.where(inside, xv, xs), np.where(inside, np.minimum(yv, ys), ys)
