"""Time plots: terminals (or cells, people) served / denied / uncovered over time (UTC axis).

Drawn with matplotlib's Agg canvas directly (no global backend switch).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["states_over_time", "time_series"]

_STATE_STYLE = {
    "served": "#2ca25f",
    "denied": "#de2d26",
    "uncovered": "#9e9e9e",
    "absent": "#d9d9d9",
}


def _time_axis(ax, t_utc: np.ndarray) -> np.ndarray:
    import matplotlib.dates as mdates

    t = np.asarray(t_utc, dtype="datetime64[ns]").astype("datetime64[ms]").astype(object)
    loc = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
    ax.set_xlabel("time (UTC)")
    return t


def states_over_time(
    out_path: str | Path,
    t_utc: np.ndarray,
    counts: Mapping[str, np.ndarray],
    *,
    title: str = "",
    ylabel: str = "terminals",
    stacked: bool = True,
    share: bool = False,
    events: Mapping[str, np.datetime64] | None = None,
    figsize_in: tuple[float, float] = (10.0, 4.5),
    dpi: int = 120,
) -> Path:
    """Write a PNG of state counts over time and return its path.

    ``counts``: state name -> ``[n_time]`` series (e.g. :func:`skyfence.coverage.stats.state_counts`;
    keys ``served``, ``denied``, ``uncovered``, ``absent`` drawn in that order and colours; an
    all-zero ``absent`` is left out; other keys are drawn too in default colours).
    ``stacked``: stacked areas (default) or lines. ``share``: divide by the total per step and plot
    percentages. ``events``: label -> UTC instant, drawn as labelled vertical dashed lines (e.g.
    "drone first denied").
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    order = [k for k in _STATE_STYLE if k in counts] + [k for k in counts if k not in _STATE_STYLE]
    series = {k: np.asarray(counts[k], dtype=float) for k in order}
    if "absent" in series and not np.any(series["absent"]):
        del series["absent"]
    n = len(np.asarray(t_utc))
    for k, v in series.items():
        if v.shape != (n,):
            raise ValueError(f"series {k!r} has shape {v.shape}, expected ({n},)")
    if share:
        tot = np.sum(list(series.values()), axis=0)
        tot = np.where(tot > 0, tot, 1.0)
        series = {k: 100.0 * v / tot for k, v in series.items()}
        ylabel = f"{ylabel} (%)"
    fig = Figure(figsize=figsize_in, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    t = _time_axis(ax, t_utc)
    labels = list(series)
    colors = [_STATE_STYLE.get(k) for k in labels]
    if stacked and labels:
        kw = {"colors": colors} if all(colors) else {}
        ax.stackplot(t, *[series[k] for k in labels], labels=labels, alpha=0.9, **kw)
    else:
        for k, c in zip(labels, colors, strict=True):
            ax.plot(t, series[k], label=k, color=c, lw=1.5)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    if share:
        ax.set_ylim(0, 100)
    ax.margins(x=0)
    ax.grid(True, alpha=0.3)
    for i, (label, when) in enumerate((events or {}).items()):
        x = np.datetime64(when, "ms").astype(object)
        ax.axvline(x, color="black", ls="--", lw=1.2, zorder=5)
        ax.annotate(label, xy=(x, 1.0), xycoords=("data", "axes fraction"), xytext=(4, -14 - 14 * i),
                    textcoords="offset points", fontsize=8,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "#333333", "alpha": 0.9})
    if title:
        ax.set_title(title)
    if labels:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out


def time_series(
    out_path: str | Path,
    t_utc: np.ndarray,
    series: Mapping[str, np.ndarray],
    *,
    title: str = "",
    ylabel: str = "",
    figsize_in: tuple[float, float] = (10.0, 4.0),
    dpi: int = 120,
) -> Path:
    """Write a PNG with one line per named ``[n_time]`` series over the UTC step times."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize_in, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    t = _time_axis(ax, t_utc)
    for k, v in series.items():
        ax.plot(t, np.asarray(v, dtype=float), label=k, color=_STATE_STYLE.get(k), lw=1.5)
    ax.set_ylabel(ylabel)
    ax.margins(x=0)
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    if series:
        ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out
