"""Revisit figures: a two-panel map of the cells' mean and max revisit, and a timeline of the
accesses of each named target (one row per target, one bar per satellite access)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["revisit_map", "timeline"]


def revisit_map(out_path: str | Path, cells: pd.DataFrame, *, title: str = "") -> Path:
    """PNG map of ``revisit_mean_s`` and ``revisit_max_s`` (hours) of ``cells`` (cells.parquet)."""
    from skyfence.viz.maps import cell_map

    out = Path(out_path)
    from skyfence.geo.cells import cells_from_str

    ids = cells_from_str(list(cells["cell"]))
    paths = []
    for col, label in (("revisit_mean_s", "mean revisit (h)"), ("revisit_max_s", "max revisit (h)")):
        v = cells[col].to_numpy(float) / 3600.0
        vmax = float(np.nanmax(v)) if np.isfinite(v).any() else 1.0
        p = out.with_name(f"{out.stem}_{col.split('_')[1]}{out.suffix}")
        paths.append(cell_map(p, ids, values=v, value_label=label, cmap="viridis_r", vmin=0.0, vmax=vmax,
                              title=f"{title}: {label}"))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(16, 6.5))
    for ax, p in zip(axes, paths, strict=True):
        ax.imshow(mpimg.imread(p))
        ax.axis("off")
        p.unlink()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def timeline(out_path: str | Path, accesses: pd.DataFrame, targets: list[str], *, start: str,
             duration_s: float, title: str = "") -> Path:
    """PNG timeline: for each named target a row of bars (its accesses, coloured by satellite group)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = pd.Timestamp(start)
    fig, ax = plt.subplots(figsize=(12, 1.0 + 0.6 * len(targets)))
    groups = sorted(accesses["group"].unique()) if len(accesses) else []
    colours = {g: plt.cm.tab10(i % 10) for i, g in enumerate(groups)}
    for row, name in enumerate(targets):
        a = accesses[accesses["target_name"] == name]
        for g, sub in a.groupby("group"):
            h0 = (sub["start_utc"] - t0).dt.total_seconds().to_numpy() / 3600.0
            w = np.maximum(sub["duration_s"].to_numpy() / 3600.0, duration_s / 3600.0 / 1500.0)
            ax.broken_barh(list(zip(h0, w, strict=True)), (row - 0.35, 0.7), color=colours[g],
                           label=g if row == 0 or g not in ax.get_legend_handles_labels()[1] else None)
    ax.set_yticks(range(len(targets)), targets)
    ax.set_xlim(0, duration_s / 3600.0)
    ax.set_xlabel(f"hours since {t0:%Y-%m-%d %H:%M} UTC")
    ax.set_title(f"{title}: accesses per target" if title else "accesses per target")
    if groups:
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return Path(out_path)
