"""Funding reports as pandas DataFrames: cost per agreement and sponsor per month, budget burn,
the month a budget runs out, and the terminals funded by nobody.

Frames (every ``*_utc`` / ``month`` column is timezone-aware UTC):

* ``monthly``: one row per (agreement, month): ``terminals_covered`` (before caps),
  ``terminals_billed``, ``cost`` (``terminals_billed * price``), ``monthly_cap``, ``cap_burn``
  (cost / monthly cap), ``budget_left`` (total budget after this month's bill);
* ``sponsors``: one row per (sponsor, month): ``cost``, ``terminal_months``;
* ``agreements``: one row per agreement: ``terminals`` (distinct terminals it ever pays for),
  ``cost``, ``cap_binding_from`` (first month a cap leaves a covered terminal unpaid),
  ``budget_runs_out_utc`` (from when its total budget cannot pay every covered terminal);
* ``unfunded``: one row per terminal unfunded at some step: ``unfunded_steps``,
  ``first_unfunded_utc``, ``last_unfunded_utc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from skyfence.funding.resolve import FundedSet

__all__ = ["funding_report", "write_report", "summary_block"]


def _utc(values) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(values, dtype="datetime64[ns]")).tz_localize("UTC")


def _monthly(fs: FundedSet) -> pd.DataFrame:
    cost = fs.cost()
    rows = []
    for k, a in enumerate(fs.agreements):
        left = a.total_budget
        for m in range(len(fs.months)):
            if left is not None:
                left = left - float(cost[k, m])
            rows.append({
                "agreement": a.id, "sponsor": a.sponsor, "month": fs.months[m],
                "terminals_covered": int(fs.eligible[k, m]), "terminals_billed": int(fs.billed[k, m]),
                "price_per_terminal_month": a.price_per_terminal_month, "cost": float(cost[k, m]),
                "monthly_cap": a.monthly_cap,
                "cap_burn": float(cost[k, m]) / a.monthly_cap if a.monthly_cap else np.nan,
                "budget_left": left,
            })
    df = pd.DataFrame(rows, columns=["agreement", "sponsor", "month", "terminals_covered", "terminals_billed",
                                     "price_per_terminal_month", "cost", "monthly_cap", "cap_burn", "budget_left"])
    df["month"] = _utc(df["month"].to_numpy(dtype="datetime64[M]")) if len(df) else pd.Series([], dtype="datetime64[ns, UTC]")
    return df


def _month_start(fs: FundedSet, k: int, m: int):
    if m < 0:
        return pd.NaT
    start = max(fs.months[m].astype("datetime64[ms]"), fs.agreements[k].start_utc)
    return pd.Timestamp(start).tz_localize("UTC")


def funding_report(fs: FundedSet, terminal_ids: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The four frames of the module docstring."""
    monthly = _monthly(fs)
    sponsors = (monthly.groupby(["sponsor", "month"], as_index=False)
                .agg(cost=("cost", "sum"), terminal_months=("terminals_billed", "sum")))
    cost = fs.cost()
    agreements = pd.DataFrame([{
        "agreement": a.id, "sponsor": a.sponsor, "covers": a.covers, "target": ",".join(a.target),
        "start_utc": pd.Timestamp(a.start_utc).tz_localize("UTC"),
        "end_utc": pd.Timestamp(a.end_utc).tz_localize("UTC"),
        "price_per_terminal_month": a.price_per_terminal_month, "monthly_cap": a.monthly_cap,
        "total_budget": a.total_budget, "grace_days": a.grace_s / 86400.0,
        "terminals": int(fs.terminals[k]), "cost": float(cost[k].sum()),
        "cap_binding_from": _month_start(fs, k, int(fs.cap_binding[k])),
        "budget_runs_out_utc": _month_start(fs, k, int(fs.exhausted[k])),
    } for k, a in enumerate(fs.agreements)])
    funded = fs.funded
    n_unf = (~funded).sum(axis=1)
    rows = np.flatnonzero(n_unf > 0)
    t = _utc(fs.t_utc)
    first = (~funded[rows]).argmax(axis=1)
    last = funded.shape[1] - 1 - (~funded[rows])[:, ::-1].argmax(axis=1)
    unfunded = pd.DataFrame({
        "id": np.asarray([str(x) for x in terminal_ids], dtype=object)[rows],
        "unfunded_steps": n_unf[rows].astype(np.int64),
        "first_unfunded_utc": t[first] if len(rows) else pd.DatetimeIndex([], tz="UTC"),
        "last_unfunded_utc": t[last] if len(rows) else pd.DatetimeIndex([], tz="UTC"),
    })
    return {"monthly": monthly, "sponsors": sponsors, "agreements": agreements, "unfunded": unfunded}


def write_report(report: dict[str, pd.DataFrame], out_dir: str | Path, *, fmt: str = "csv") -> list[Path]:
    """Write each frame as ``funding_<name>.csv`` (or ``.parquet``); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in report.items():
        p = out / f"funding_{name}.{fmt}"
        df.to_parquet(p, index=False) if fmt == "parquet" else df.to_csv(p, index=False)
        paths.append(p)
    return paths


def summary_block(fs: FundedSet, report: dict[str, pd.DataFrame]) -> dict:
    """The ``funding`` block of ``summary.json``: per sponsor cost and terminals, per agreement its
    terminals, cost and budget dates, and the number of terminals unfunded at some step."""
    ag = report["agreements"]

    def iso(x):
        return None if pd.isna(x) else x.strftime("%Y-%m-%dT%H:%M:%SZ")

    by_sponsor = {}
    for s in fs.sponsors:
        rows = ag[ag["sponsor"] == s]
        by_sponsor[s] = {"agreements": rows["agreement"].tolist(), "cost": float(rows["cost"].sum()),
                         "terminals": int(rows["terminals"].sum())}
    return {
        "sponsors": by_sponsor,
        "agreements": [{"id": r.agreement, "sponsor": r.sponsor, "terminals": int(r.terminals),
                        "cost": float(r.cost), "cap_binding_from": iso(r.cap_binding_from),
                        "budget_runs_out_utc": iso(r.budget_runs_out_utc)} for r in ag.itertuples()],
        "terminals_unfunded_at_some_step": int(len(report["unfunded"])),
    }
