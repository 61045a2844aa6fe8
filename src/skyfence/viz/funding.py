"""Funding over time: monthly cost and terminal-months paid, one line per sponsor."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["funding_over_time"]


def funding_over_time(path: str | Path, sponsors: pd.DataFrame, *, title: str = "funding by sponsor") -> Path:
    """Two stacked panels from a ``sponsors`` frame (:func:`skyfence.funding.report.funding_report`:
    ``sponsor``, ``month``, ``cost``, ``terminal_months``): cost per month (top) and terminals paid
    for per month (bottom), a line per sponsor. Writes a PNG; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, (ax_c, ax_t) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for name, rows in sponsors.groupby("sponsor", sort=True):
        x = rows["month"].dt.tz_localize(None)
        ax_c.step(x, rows["cost"], where="post", marker="o", label=str(name))
        ax_t.step(x, rows["terminal_months"], where="post", marker="o", label=str(name))
    ax_c.set_ylabel("cost per month (currency units)")
    ax_t.set_ylabel("terminals paid for (count)")
    ax_t.set_xlabel("month (UTC)")
    ax_c.set_title(title)
    if len(sponsors):
        ax_c.legend(loc="best", fontsize="small")
    for ax in (ax_c, ax_t):
        ax.grid(alpha=0.3)
    ax_t.xaxis.set_major_locator(mdates.MonthLocator())
    ax_t.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
