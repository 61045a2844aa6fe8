"""Per-row statistics of a window of steps that combine exactly across consecutive windows.

:class:`Runs` summarises the runs of True of a bool ``[n, w]`` mask over steps
``[start, start + w)``: the run touching each edge (``head``, ``tail``), the longest run and the
step it starts at (the first longest), the number of runs and the first and last True step. Two
consecutive windows combine (:meth:`Runs.then`) into the summary of their concatenation, a run
crossing the border being the left window's tail joined to the right window's head; the result is
the one :func:`skyfence.coverage.stats.longest_run` gives on the whole mask.

:class:`CoveragePart` and :class:`StatePart` carry, per row, what
:func:`skyfence.coverage.stats.coverage_stats` and :func:`~skyfence.coverage.stats.state_stats`
need (integer sums, minima, maxima and runs), so that a run cut in time chunks reproduces their
values bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from skyfence.coverage.stats import (
    ABSENT,
    DENIED,
    SERVED,
    UNCOVERED,
    CoverageStats,
    StateStats,
    longest_run,
)

__all__ = ["Runs", "CoveragePart", "StatePart"]

_I16_MAX = np.iinfo(np.int16).max


def _columns(obj, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}{f.name}": getattr(obj, f.name) for f in fields(obj) if f.name not in ("start", "n_steps")}


@dataclass
class Runs:
    """Runs of True per row over steps ``[start, start + n_steps)`` (step indices absolute, -1:
    none)."""

    start: int
    n_steps: int
    head: np.ndarray
    tail: np.ndarray
    best: np.ndarray
    best_start: np.ndarray
    n_runs: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, mask: np.ndarray, start: int) -> Runs:
        """The summary of a bool ``[n, w]`` mask whose column 0 is step ``start``."""
        m = np.asarray(mask, dtype=bool)
        w = m.shape[1]
        best, b_start, n_runs = longest_run(m)
        full = m.all(axis=1)
        any_ = m.any(axis=1)
        rev = m[:, ::-1]
        return cls(
            start=int(start), n_steps=int(w),
            head=np.where(full, w, np.argmin(m, axis=1)).astype(np.int64),
            tail=np.where(full, w, np.argmin(rev, axis=1)).astype(np.int64),
            best=best, best_start=np.where(b_start >= 0, b_start + start, -1).astype(np.int64),
            n_runs=n_runs,
            first=np.where(any_, np.argmax(m, axis=1) + start, -1).astype(np.int64),
            last=np.where(any_, start + w - 1 - np.argmax(rev, axis=1), -1).astype(np.int64),
        )  # fmt: skip

    def then(self, right: Runs) -> Runs:
        """The summary of this window followed directly by ``right``."""
        a, b = self, right
        if b.start != a.start + a.n_steps:
            raise ValueError(f"windows are not consecutive: [{a.start}, {a.start + a.n_steps}) then {b.start}")
        cross = (a.tail > 0) & (b.head > 0)
        c_len = a.tail + b.head
        best, b_start = a.best, a.best_start
        take = cross & (c_len > best)  # ties keep the earlier run
        best, b_start = np.where(take, c_len, best), np.where(take, b.start - a.tail, b_start)
        take = b.best > best
        best, b_start = np.where(take, b.best, best), np.where(take, b.best_start, b_start)
        return Runs(
            start=a.start, n_steps=a.n_steps + b.n_steps,
            head=np.where(a.head == a.n_steps, a.n_steps + b.head, a.head),
            tail=np.where(b.tail == b.n_steps, b.n_steps + a.tail, b.tail),
            best=best, best_start=b_start, n_runs=a.n_runs + b.n_runs - cross.astype(np.int64),
            first=np.where(a.first >= 0, a.first, b.first), last=np.where(b.last >= 0, b.last, a.last),
        )  # fmt: skip

    def columns(self, prefix: str) -> dict[str, np.ndarray]:
        """The per-row arrays as table columns named ``prefix + field``."""
        return _columns(self, prefix)

    @classmethod
    def from_columns(cls, df: pd.DataFrame, prefix: str, start: int, n_steps: int) -> Runs:
        return cls(start, n_steps, *(df[f"{prefix}{f.name}"].to_numpy() for f in fields(cls)
                                     if f.name not in ("start", "n_steps")))  # fmt: skip


@dataclass
class CoveragePart:
    """Coverage of each row over a window: present and covered steps, the sum, minimum and maximum
    of satellites in view over present steps, and the outage runs; plus the steps in each service
    state (cells)."""

    n_present: np.ndarray
    n_covered: np.ndarray
    sum_visible: np.ndarray
    min_visible: np.ndarray
    max_visible: np.ndarray
    n_served: np.ndarray
    n_denied: np.ndarray
    n_uncovered: np.ndarray
    outage: Runs

    @classmethod
    def of(cls, counts: np.ndarray, states: np.ndarray, start: int) -> CoveragePart:
        """From visible counts and service states ``[n, w]`` (every step present) starting at step
        ``start``."""
        c = np.asarray(counts)
        return cls(
            n_present=np.full(len(c), c.shape[1], np.int64),
            n_covered=(c >= 1).sum(axis=1).astype(np.int64),
            sum_visible=c.sum(axis=1).astype(np.int64),
            min_visible=c.min(axis=1, initial=_I16_MAX).astype(np.int16),
            max_visible=c.max(axis=1, initial=-1).astype(np.int16),
            n_served=(states == SERVED).sum(axis=1).astype(np.int64),
            n_denied=(states == DENIED).sum(axis=1).astype(np.int64),
            n_uncovered=(states == UNCOVERED).sum(axis=1).astype(np.int64),
            outage=Runs.of(c < 1, start),
        )

    def then(self, right: CoveragePart) -> CoveragePart:
        a, b = self, right
        return CoveragePart(
            a.n_present + b.n_present, a.n_covered + b.n_covered, a.sum_visible + b.sum_visible,
            np.minimum(a.min_visible, b.min_visible), np.maximum(a.max_visible, b.max_visible),
            a.n_served + b.n_served, a.n_denied + b.n_denied, a.n_uncovered + b.n_uncovered,
            a.outage.then(b.outage),
        )  # fmt: skip

    def frame(self) -> pd.DataFrame:
        cols = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "outage"}
        return pd.DataFrame({**cols, **self.outage.columns("outage_")})

    @classmethod
    def from_frame(cls, df: pd.DataFrame, start: int, n_steps: int) -> CoveragePart:
        names = [f.name for f in fields(cls) if f.name != "outage"]
        return cls(*(df[n].to_numpy() for n in names), Runs.from_columns(df, "outage_", start, n_steps))

    def stats(self, step_s: float) -> CoverageStats:
        """The :class:`CoverageStats` of the rows (as :func:`coverage_stats` computes them)."""
        n_present, o = self.n_present, self.outage
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(n_present > 0, self.n_covered / np.maximum(n_present, 1), np.nan)
            mean = np.where(n_present > 0, self.sum_visible / np.maximum(n_present, 1), np.nan)
        return CoverageStats(
            covered_fraction=frac.astype(np.float64),
            min_visible=np.where(n_present > 0, self.min_visible, -1).astype(np.int16),
            mean_visible=mean.astype(np.float64),
            max_visible=self.max_visible.astype(np.int16),
            steps_present=n_present.astype(np.int64),
            steps_covered=self.n_covered.astype(np.int64),
            longest_outage_steps=o.best,
            longest_outage_s=o.best.astype(np.float64) * float(step_s),
            longest_outage_start=o.best_start,
            first_outage_step=o.first,
            last_outage_step=o.last,
            n_outages=o.n_runs,
        )


@dataclass
class StatePart:
    """Service states of each row over a window (terminals): steps per state, the outage
    (uncovered or denied) and denied runs, whether any step was served and the first denied step
    after a served one."""

    n_served: np.ndarray
    n_denied: np.ndarray
    n_uncovered: np.ndarray
    n_absent: np.ndarray
    any_served: np.ndarray
    first_lost: np.ndarray
    outage: Runs
    denied: Runs

    @classmethod
    def of(cls, states: np.ndarray, start: int) -> StatePart:
        s = np.asarray(states)
        served, denied = s == SERVED, s == DENIED
        before = np.cumsum(served, axis=1) > 0
        lost = denied & np.concatenate([np.zeros((s.shape[0], 1), bool), before[:, :-1]], axis=1)
        return cls(
            n_served=served.sum(axis=1).astype(np.int64), n_denied=denied.sum(axis=1).astype(np.int64),
            n_uncovered=(s == UNCOVERED).sum(axis=1).astype(np.int64),
            n_absent=(s == ABSENT).sum(axis=1).astype(np.int64),
            any_served=served.any(axis=1), first_lost=Runs.of(lost, start).first,
            outage=Runs.of(denied | (s == UNCOVERED), start), denied=Runs.of(denied, start),
        )  # fmt: skip

    def then(self, right: StatePart) -> StatePart:
        a, b = self, right
        lost = np.where(a.first_lost >= 0, a.first_lost, np.where(a.any_served, b.denied.first, b.first_lost))
        return StatePart(a.n_served + b.n_served, a.n_denied + b.n_denied, a.n_uncovered + b.n_uncovered,
                         a.n_absent + b.n_absent, a.any_served | b.any_served, lost,
                         a.outage.then(b.outage), a.denied.then(b.denied))  # fmt: skip

    def frame(self) -> pd.DataFrame:
        cols = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("outage", "denied")}
        return pd.DataFrame({**cols, **self.outage.columns("outage_"), **self.denied.columns("denied_")})

    @classmethod
    def from_frame(cls, df: pd.DataFrame, start: int, n_steps: int) -> StatePart:
        names = [f.name for f in fields(cls) if f.name not in ("outage", "denied")]
        return cls(*(df[n].to_numpy() for n in names), Runs.from_columns(df, "outage_", start, n_steps),
                   Runs.from_columns(df, "denied_", start, n_steps))  # fmt: skip

    def stats(self, step_s: float) -> StateStats:
        """The :class:`StateStats` of the rows (as :func:`state_stats` computes them)."""
        n_present = self.n_served + self.n_denied + self.n_uncovered
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(n_present > 0, self.n_served / np.maximum(n_present, 1), np.nan)
        return StateStats(
            steps_served=self.n_served, steps_denied=self.n_denied, steps_uncovered=self.n_uncovered,
            steps_absent=self.n_absent, served_fraction=frac.astype(np.float64),
            longest_outage_steps=self.outage.best,
            longest_outage_s=self.outage.best.astype(np.float64) * float(step_s),
            longest_denied_steps=self.denied.best,
            longest_denied_s=self.denied.best.astype(np.float64) * float(step_s),
            first_denied_step=self.denied.first, last_denied_step=self.denied.last,
            first_outage_step=self.outage.first, first_denied_after_served_step=self.first_lost,
        )  # fmt: skip
