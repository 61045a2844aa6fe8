"""Revisit statistics of targets from their access intervals.

Definitions (period ``[T0, T1]``; a target's accesses from all satellites are first merged where
they overlap or touch, as TAT-C's ``aggregate_observations`` merges them: a new period starts with
an access that starts after every earlier one has ended):

* ``n_accesses``: merged periods (TAT-C ``samples``); ``n_passes``: single-satellite accesses;
* ``access_mean_s``: mean merged-period duration (TAT-C ``reduce_observations`` ``access``);
* ``revisit_mean_s`` / ``revisit_max_s`` / ``revisit_p95_s``: mean / max / 95th percentile (linear
  interpolation) of the gaps between consecutive merged periods, ``start[i] - end[i-1]`` (TAT-C's
  ``revisit``; its ``reduce_observations`` mean is ``revisit_mean_s``); NaN with fewer than two;
* ``max_unobserved_s``: the longest time without access including the period's edges (a target
  never seen: ``T1 - T0``);
* ``time_to_first_s``: ``start[0] - T0``;
* ``mean_response_s``: mean wait from a request at a uniformly random instant of ``[T0,
  start[last]]`` until an access is under way (0 during one): ``sum(gap^2 / 2) / (start[last] -
  T0)`` over the gaps before each period;
* ``observed_fraction``: merged access time / ``(T1 - T0)``.

:func:`harmonic_revisit_s` is TAT-C's ``grid_observations`` revisit of a group of targets: the
sample-weighted harmonic mean ``sum(n) / sum(n / revisit_mean)`` over targets with a revisit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["merge_accesses", "target_stats", "harmonic_revisit_s", "STAT_COLUMNS"]

STAT_COLUMNS = ["n_accesses", "n_passes", "access_mean_s", "revisit_mean_s", "revisit_max_s", "revisit_p95_s",
                "max_unobserved_s", "time_to_first_s", "mean_response_s", "observed_fraction"]


def merge_accesses(accesses: pd.DataFrame) -> pd.DataFrame:
    """Merged periods per target: ``target, start_utc, end_utc, n_satellites`` ordered by target, start."""
    if len(accesses) == 0:
        return pd.DataFrame({"target": pd.Series([], dtype=np.int64), "start_utc": pd.Series([], dtype="datetime64[ns]"),
                             "end_utc": pd.Series([], dtype="datetime64[ns]"), "n_satellites": pd.Series([], dtype=np.int64)})
    a = accesses.sort_values(["target", "start_utc"], kind="stable")
    target = a["target"].to_numpy()
    start = a["start_utc"].to_numpy().astype("int64")
    end = a["end_utc"].to_numpy().astype("int64")
    first = np.r_[True, target[1:] != target[:-1]]
    reach = pd.Series(end).groupby(target).cummax().to_numpy()
    group = np.cumsum(first | (start > np.r_[reach[:1], reach[:-1]])) - 1
    out = pd.DataFrame({"group": group, "target": target, "start": start, "end": end,
                        "sat": a["satellite"].to_numpy()})
    g = out.groupby("group", sort=True)
    return pd.DataFrame({
        "target": g["target"].first().to_numpy(),
        "start_utc": g["start"].min().to_numpy().astype("datetime64[ns]"),
        "end_utc": g["end"].max().to_numpy().astype("datetime64[ns]"),
        "n_satellites": g["sat"].nunique().to_numpy(),
    })


def target_stats(accesses: pd.DataFrame, n_targets: int, *, start: object, duration_s: float) -> pd.DataFrame:
    """Per-target statistics (:data:`STAT_COLUMNS`, index ``0..n_targets-1``) over ``[start, start + duration_s]``."""
    t0 = pd.Timestamp(np.datetime64(pd.Timestamp(start).tz_localize(None) if pd.Timestamp(start).tz else
                                    pd.Timestamp(start), "ns")).value
    m = merge_accesses(accesses)
    out = pd.DataFrame(index=pd.RangeIndex(n_targets, name="target"))
    out["n_accesses"] = 0
    out["n_passes"] = accesses.groupby("target").size().reindex(out.index, fill_value=0).to_numpy() \
        if len(accesses) else 0
    tgt = m["target"].to_numpy()
    s = (m["start_utc"].to_numpy().astype("int64") - t0) / 1e9
    e = (m["end_utc"].to_numpy().astype("int64") - t0) / 1e9
    first = np.r_[True, tgt[1:] != tgt[:-1]] if len(tgt) else np.zeros(0, bool)
    gap = np.where(first, np.nan, s - np.r_[np.nan, e[:-1]])
    lead = np.where(first, s, gap)  # the wait before each period
    df = pd.DataFrame({"target": tgt, "dur": e - s, "gap": gap, "lead2": lead * lead / 2.0, "s": s, "e": e})
    g = df.groupby("target")
    out.loc[g.size().index, "n_accesses"] = g.size().to_numpy()
    out["access_mean_s"] = g["dur"].mean().reindex(out.index)
    out["revisit_mean_s"] = g["gap"].mean().reindex(out.index)
    out["revisit_max_s"] = g["gap"].max().reindex(out.index)
    out["revisit_p95_s"] = g["gap"].quantile(0.95).reindex(out.index) if len(df) else np.nan
    edge = np.maximum(g["s"].min(), duration_s - g["e"].max())
    out["max_unobserved_s"] = np.fmax(g["gap"].max(), edge).reindex(out.index).fillna(duration_s)
    out["time_to_first_s"] = g["s"].min().reindex(out.index)
    last = g["s"].max()
    with np.errstate(invalid="ignore", divide="ignore"):
        mrt = np.where(last > 0, g["lead2"].sum() / last, 0.0)
    out["mean_response_s"] = pd.Series(mrt, index=last.index).reindex(out.index)
    out["observed_fraction"] = (g["dur"].sum() / duration_s).reindex(out.index).fillna(0.0)
    out["n_accesses"] = out["n_accesses"].astype(np.int64)
    out["n_passes"] = out["n_passes"].astype(np.int64)
    return out[STAT_COLUMNS]


def harmonic_revisit_s(stats: pd.DataFrame) -> float:
    """TAT-C's ``grid_observations`` revisit of the targets in ``stats``: ``sum(n) / sum(n / r)``
    over targets with a revisit (``n = n_accesses``, ``r = revisit_mean_s``); NaN if none."""
    ok = stats["revisit_mean_s"].notna() & (stats["revisit_mean_s"] > 0)
    n, r = stats.loc[ok, "n_accesses"].to_numpy(float), stats.loc[ok, "revisit_mean_s"].to_numpy(float)
    return float(n.sum() / (n / r).sum()) if len(n) else float("nan")
