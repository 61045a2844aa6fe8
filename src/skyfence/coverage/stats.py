"""Coverage and service statistics per ground point (H3 cell or terminal), vectorized over time.

Inputs are dense but small ``[n_pt, n_time]`` matrices (never per satellite):

* ``counts``: satellites in view per point and step (int, from
  :func:`skyfence.links.visibility.count_visible`); a step is **covered** when ``counts >= 1``.
* ``states``: int8 service state per point and step, codes :data:`ABSENT` (-1, a mobile terminal
  outside its track's time span), :data:`UNCOVERED` (0), :data:`SERVED` (1), :data:`DENIED` (2).
  :func:`service_states` builds it from counts and the policy's allow matrix.
* ``present`` (optional bool ``[n_pt, n_time]``): steps at which the point exists. Absent steps are
  neither covered nor in outage and **break** runs (an outage before and one after an absence are
  two outages).

An **outage** is a maximal run of consecutive present steps that are not covered (coverage stats) or
not served (service stats: uncovered or denied). Durations in seconds are ``steps * step_s`` (each
step stands for the interval ``[t_k, t_k + step_s)``). Step indices are 0-based; -1 means "none".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

__all__ = [
    "ABSENT",
    "UNCOVERED",
    "SERVED",
    "DENIED",
    "STATE_NAMES",
    "CoverageStats",
    "StateStats",
    "runs",
    "longest_run",
    "coverage_stats",
    "region_summary",
    "service_states",
    "state_counts",
    "state_stats",
]

ABSENT = np.int8(-1)
UNCOVERED = np.int8(0)
SERVED = np.int8(1)
DENIED = np.int8(2)
#: state code -> name, in the order used by :func:`state_counts`
STATE_NAMES: dict[int, str] = {1: "served", 2: "denied", 0: "uncovered", -1: "absent"}


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All maximal runs of True along axis 1 of a bool ``[n, T]`` matrix.

    Returns ``(row, start, length)`` int64 arrays, ordered by row then start.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D [n, n_time], got shape {m.shape}")
    n, t = m.shape
    padded = np.zeros((n, t + 2), dtype=np.int8)
    padded[:, 1:-1] = m
    d = np.diff(padded, axis=1)
    r_start, c_start = np.nonzero(d == 1)
    _, c_end = np.nonzero(d == -1)
    return r_start.astype(np.int64), c_start.astype(np.int64), (c_end - c_start).astype(np.int64)


def longest_run(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of a bool ``[n, T]`` matrix: the longest run of True and the number of runs.

    Returns ``(length int64 [n], start int64 [n] (first longest run; -1 if none), n_runs int64 [n])``.
    """
    m = np.asarray(mask, dtype=bool)
    n = m.shape[0]
    row, start, length = runs(m)
    best = np.zeros(n, dtype=np.int64)
    np.maximum.at(best, row, length)
    best_start = np.full(n, -1, dtype=np.int64)
    hit = length == best[row]
    # runs are ordered by start within a row: keep the first longest one
    rows_hit = row[hit][::-1]
    best_start[rows_hit] = start[hit][::-1]
    n_runs = np.bincount(row, minlength=n).astype(np.int64)
    return best, best_start, n_runs


def _first_last(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last True column per row (-1 where none)."""
    m = np.asarray(mask, dtype=bool)
    any_ = m.any(axis=1)
    first = np.where(any_, np.argmax(m, axis=1), -1)
    last = np.where(any_, m.shape[1] - 1 - np.argmax(m[:, ::-1], axis=1), -1)
    return first.astype(np.int64), last.astype(np.int64)


def _present(present: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    if present is None:
        return np.ones(shape, dtype=bool)
    p = np.asarray(present, dtype=bool)
    if p.ndim == 1:
        p = np.broadcast_to(p[:, None], shape)
    if p.shape != shape:
        raise ValueError(f"present has shape {p.shape}, expected {shape}")
    return p


def _step_times(t_utc: np.ndarray | None, steps: np.ndarray) -> np.ndarray | None:
    if t_utc is None:
        return None
    t = np.asarray(t_utc, dtype="datetime64[ns]")
    out = np.full(steps.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = steps >= 0
    out[ok] = t[steps[ok]]
    return out


@dataclass
class CoverageStats:
    """Per-point coverage statistics (arrays of length ``n_pt``; see module doc for definitions).

    ``covered_fraction``: covered steps / present steps (NaN if never present);
    ``min_visible``/``max_visible`` (int16) and ``mean_visible`` (float64): satellites in view over
    present steps (-1 / NaN if never present); ``steps_present``, ``steps_covered``;
    ``longest_outage_steps`` and ``longest_outage_s``; ``longest_outage_start`` (step of the first
    longest outage), ``first_outage_step``, ``last_outage_step`` (step indices, -1 for none);
    ``n_outages``: number of distinct outages.
    """

    covered_fraction: np.ndarray
    min_visible: np.ndarray
    mean_visible: np.ndarray
    max_visible: np.ndarray
    steps_present: np.ndarray
    steps_covered: np.ndarray
    longest_outage_steps: np.ndarray
    longest_outage_s: np.ndarray
    longest_outage_start: np.ndarray
    first_outage_step: np.ndarray
    last_outage_step: np.ndarray
    n_outages: np.ndarray

    def __len__(self) -> int:
        return len(self.covered_fraction)

    def to_columns(self, t_utc: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Columns for a table (e.g. ``cells.parquet``). With the step times ``t_utc``
        (datetime64[ns], ``[n_time]``) the step-index columns also appear as ``*_utc`` (NaT: none).
        """
        cols = {f.name: getattr(self, f.name) for f in fields(self)}
        if t_utc is not None:
            cols["longest_outage_start_utc"] = _step_times(t_utc, self.longest_outage_start)
            cols["first_outage_utc"] = _step_times(t_utc, self.first_outage_step)
            cols["last_outage_utc"] = _step_times(t_utc, self.last_outage_step)
        return cols


def coverage_stats(
    counts: np.ndarray, step_s: float, *, present: np.ndarray | None = None
) -> CoverageStats:
    """Coverage statistics of each row of a visible-count matrix ``[n_pt, n_time]``.

    ``step_s``: seconds per step (for ``longest_outage_s``). ``present``: optional bool
    ``[n_pt, n_time]`` (or ``[n_pt]``) of steps at which the point exists.
    """
    c = np.asarray(counts)
    if c.ndim != 2:
        raise ValueError(f"counts must be [n_pt, n_time], got shape {c.shape}")
    p = _present(present, c.shape)
    covered = (c >= 1) & p
    outage = (c < 1) & p
    n_present = p.sum(axis=1)
    n_cov = covered.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(n_present > 0, n_cov / np.maximum(n_present, 1), np.nan)
        mean = np.where(
            n_present > 0, np.where(p, c, 0).sum(axis=1) / np.maximum(n_present, 1), np.nan
        )
    big = np.iinfo(np.int16).max
    cmin = np.where(p, c, big).min(axis=1, initial=big)
    cmax = np.where(p, c, -1).max(axis=1, initial=-1)
    cmin = np.where(n_present > 0, cmin, -1).astype(np.int16)
    longest, l_start, n_runs = longest_run(outage)
    first, last = _first_last(outage)
    return CoverageStats(
        covered_fraction=frac.astype(np.float64),
        min_visible=cmin,
        mean_visible=mean.astype(np.float64),
        max_visible=cmax.astype(np.int16),
        steps_present=n_present.astype(np.int64),
        steps_covered=n_cov.astype(np.int64),
        longest_outage_steps=longest,
        longest_outage_s=longest.astype(np.float64) * float(step_s),
        longest_outage_start=l_start,
        first_outage_step=first,
        last_outage_step=last,
        n_outages=n_runs,
    )


def region_summary(
    counts: np.ndarray,
    membership,
    region_names: Sequence[str],
    step_s: float,
    *,
    present: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> list[dict]:
    """Coverage summary per region.

    ``counts``: ``[n_pt, n_time]``; ``membership``: bool ``[n_pt, n_regions]`` (NumPy or
    ``scipy.sparse``, e.g. ``RegionSet.membership(cells)``); ``region_names``: ``n_regions`` names.
    ``weights``: optional per-point weight (e.g. cell area km2) for the ``*_weighted`` fraction.

    One dict per region: ``region``, ``points``, ``covered_fraction`` (covered / present over all
    (point, step) pairs of the region), ``covered_fraction_weighted`` (if weights), ``mean_visible``
    (over present pairs), ``min_visible``, ``max_visible``, ``points_always_covered``,
    ``points_with_outage``, ``longest_outage_s`` (largest over its points),
    ``worst_covered_fraction`` (smallest per-point fraction).
    """
    from scipy import sparse

    c = np.asarray(counts)
    p = _present(present, c.shape)
    m = sparse.csc_matrix(membership, dtype=bool)
    if m.shape != (c.shape[0], len(region_names)):
        raise ValueError(
            f"membership shape {m.shape} != (n_pt={c.shape[0]}, n_regions={len(region_names)})"
        )
    st = coverage_stats(c, step_s, present=p)
    n_present = st.steps_present.astype(np.float64)
    sum_visible = np.where(p, c, 0).sum(axis=1).astype(np.float64)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    out = []
    for j, name in enumerate(region_names):
        rows = m.indices[m.indptr[j] : m.indptr[j + 1]]
        rec: dict = {"region": str(name), "points": int(len(rows))}
        pres = n_present[rows].sum()
        if len(rows) == 0 or pres == 0:
            rec.update(
                covered_fraction=None, mean_visible=None, min_visible=None, max_visible=None,
                points_always_covered=0, points_with_outage=0, longest_outage_s=None,
                worst_covered_fraction=None,
            )
            if w is not None:
                rec["covered_fraction_weighted"] = None
            out.append(rec)
            continue
        ok = st.steps_present[rows] > 0
        rr = rows[ok]
        rec["covered_fraction"] = float(st.steps_covered[rows].sum() / pres)
        if w is not None:
            rec["covered_fraction_weighted"] = float(
                np.sum(w[rr] * st.covered_fraction[rr]) / np.sum(w[rr])
            ) if np.sum(w[rr]) > 0 else None
        rec["mean_visible"] = float(sum_visible[rows].sum() / pres)
        rec["min_visible"] = int(st.min_visible[rr].min())
        rec["max_visible"] = int(st.max_visible[rr].max())
        rec["points_always_covered"] = int(np.sum(st.steps_covered[rr] == st.steps_present[rr]))
        rec["points_with_outage"] = int(np.sum(st.n_outages[rr] > 0))
        rec["longest_outage_s"] = float(st.longest_outage_s[rr].max())
        rec["worst_covered_fraction"] = float(st.covered_fraction[rr].min())
        out.append(rec)
    return out


def service_states(
    counts: np.ndarray, allowed: np.ndarray, *, present: np.ndarray | None = None
) -> np.ndarray:
    """Service state per point and step, int8 ``[n_pt, n_time]``.

    ``SERVED`` where covered (``counts >= 1``) and ``allowed``; ``DENIED`` where covered and not
    allowed; ``UNCOVERED`` where nothing is above the mask; ``ABSENT`` where not ``present``.
    ``allowed`` is bool, broadcastable to ``counts`` (e.g. ``[n_pt, 1]`` for time-independent).
    """
    c = np.asarray(counts)
    a = np.broadcast_to(np.asarray(allowed, dtype=bool), c.shape)
    s = np.where(c >= 1, np.where(a, SERVED, DENIED), UNCOVERED).astype(np.int8)
    if present is not None:
        s[~_present(present, c.shape)] = ABSENT
    return s


def state_counts(states: np.ndarray, *, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Number of points per state at each step: ``{"served", "denied", "uncovered", "absent"}``
    -> int64 ``[n_time]`` (float64 sums of ``weights`` [n_pt], e.g. population, if given).
    """
    s = np.asarray(states)
    out = {}
    for code, name in STATE_NAMES.items():
        hit = s == code
        if weights is None:
            out[name] = hit.sum(axis=0).astype(np.int64)
        else:
            out[name] = np.asarray(weights, dtype=np.float64) @ hit
    return out


@dataclass
class StateStats:
    """Per-point service statistics (arrays of length ``n_pt``).

    ``steps_served``/``steps_denied``/``steps_uncovered``/``steps_absent``: step counts per state;
    ``served_fraction``: served / present steps (NaN if never present);
    ``longest_outage_steps``/``longest_outage_s``: longest run of present, not-served steps
    (denied or uncovered); ``longest_denied_steps``/``longest_denied_s``: longest run of denied;
    ``first_denied_step``/``last_denied_step``, ``first_outage_step`` (-1: none);
    ``first_denied_after_served_step``: first denied step preceded (at any earlier step) by a
    served one, i.e. the point *lost* service to the policy (-1: none).
    """

    steps_served: np.ndarray
    steps_denied: np.ndarray
    steps_uncovered: np.ndarray
    steps_absent: np.ndarray
    served_fraction: np.ndarray
    longest_outage_steps: np.ndarray
    longest_outage_s: np.ndarray
    longest_denied_steps: np.ndarray
    longest_denied_s: np.ndarray
    first_denied_step: np.ndarray
    last_denied_step: np.ndarray
    first_outage_step: np.ndarray
    first_denied_after_served_step: np.ndarray

    def __len__(self) -> int:
        return len(self.steps_served)

    def to_columns(self, t_utc: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Columns for a table (``terminals.parquet``); with ``t_utc`` the step columns also as
        ``first_denied_utc``, ``last_denied_utc``, ``first_outage_utc``,
        ``first_denied_after_served_utc`` (datetime64[ns], NaT: none).
        """
        cols = {f.name: getattr(self, f.name) for f in fields(self)}
        if t_utc is not None:
            cols["first_denied_utc"] = _step_times(t_utc, self.first_denied_step)
            cols["last_denied_utc"] = _step_times(t_utc, self.last_denied_step)
            cols["first_outage_utc"] = _step_times(t_utc, self.first_outage_step)
            cols["first_denied_after_served_utc"] = _step_times(
                t_utc, self.first_denied_after_served_step
            )
        return cols


def state_stats(states: np.ndarray, step_s: float) -> StateStats:
    """Service statistics of each row of a state matrix ``[n_pt, n_time]`` (codes of module doc)."""
    s = np.asarray(states)
    if s.ndim != 2:
        raise ValueError(f"states must be [n_pt, n_time], got shape {s.shape}")
    served = s == SERVED
    denied = s == DENIED
    uncovered = s == UNCOVERED
    absent = s == ABSENT
    n_present = (~absent).sum(axis=1)
    outage = denied | uncovered
    l_out, _, _ = longest_run(outage)
    l_den, _, _ = longest_run(denied)
    f_den, last_den = _first_last(denied)
    f_out, _ = _first_last(outage)
    served_before = np.cumsum(served, axis=1) > 0
    lost = denied & np.concatenate([np.zeros((s.shape[0], 1), bool), served_before[:, :-1]], axis=1)
    f_lost, _ = _first_last(lost)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(n_present > 0, served.sum(axis=1) / np.maximum(n_present, 1), np.nan)
    return StateStats(
        steps_served=served.sum(axis=1).astype(np.int64),
        steps_denied=denied.sum(axis=1).astype(np.int64),
        steps_uncovered=uncovered.sum(axis=1).astype(np.int64),
        steps_absent=absent.sum(axis=1).astype(np.int64),
        served_fraction=frac.astype(np.float64),
        longest_outage_steps=l_out,
        longest_outage_s=l_out.astype(np.float64) * float(step_s),
        longest_denied_steps=l_den,
        longest_denied_s=l_den.astype(np.float64) * float(step_s),
        first_denied_step=f_den,
        last_denied_step=last_den,
        first_outage_step=f_out,
        first_denied_after_served_step=f_lost,
    )
