"""The result of a latency run: RTT per step and pair, as tables, summaries, files and a plot.

* ``table()`` — one row per step and pair: ``t_utc, src, dst, rtt_ms, hops, path, fibre_rtt_ms``
  (``path`` is Hypatia-style ``"1177-144-143-1180"``; disconnected rows have ``rtt_ms`` NaN,
  ``hops`` -1, empty ``path``);
* ``summary()`` — per pair: min/median/max RTT over connected steps, path changes, share of
  steps disconnected, fibre RTT;
* ``write(path)`` (``.csv`` or ``.parquet``) and ``plot(path)`` (PNG, RTT over time vs fibre).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skyfence.errors import SkyfenceError
from skyfence.ground.places import Places
from skyfence.network.routing import RouteSeries

__all__ = ["LatencyResult"]


@dataclass
class LatencyResult:
    """Routes of pairs of ``stations`` over ``t_utc``; ``src``/``dst`` are station indices ``[P]``."""

    t_utc: np.ndarray
    stations: Places
    src: np.ndarray
    dst: np.ndarray
    routes: RouteSeries
    fibre_rtt_ms: np.ndarray
    n_sat: int

    @property
    def rtt_ms(self) -> np.ndarray:
        """``[T, P]`` RTT in ms (NaN where disconnected)."""
        return self.routes.rtt_ms

    def path_strings(self) -> np.ndarray:
        """``[T * P]`` Hypatia-style path strings (``""`` where disconnected), row-major (step, pair)."""
        # paths rarely change from step to step: format each distinct path once
        off = self.routes.path_offsets
        nodes = self.routes.path_nodes
        flat_hash = self.routes.path_hash.ravel()
        _, first, inverse = np.unique(flat_hash, return_index=True, return_inverse=True)
        texts = np.empty(len(first), dtype=object)
        for u, k in enumerate(first):
            texts[u] = "-".join(map(str, nodes[off[k] : off[k + 1]].tolist()))
        return texts[inverse.ravel()]

    def table(self):
        """pandas DataFrame ``t_utc, src, dst, rtt_ms, hops, path, fibre_rtt_ms`` (one row per step and pair)."""
        import pandas as pd

        n_t, n_p = self.routes.length_km.shape
        names = np.array(self.stations.names, dtype=object)
        return pd.DataFrame(
            {
                "t_utc": pd.to_datetime(np.repeat(self.t_utc, n_p)).tz_localize("UTC"),
                "src": np.tile(names[self.src], n_t),
                "dst": np.tile(names[self.dst], n_t),
                "rtt_ms": self.rtt_ms.ravel(),
                "hops": self.routes.hops.ravel(),
                "path": self.path_strings(),
                "fibre_rtt_ms": np.tile(self.fibre_rtt_ms, n_t),
            }
        )

    def summary(self):
        """Per pair: ``src, dst, min/median/max_rtt_ms`` (connected steps; NaN if never), ``path_changes``,
        ``disconnected_share`` (0..1), ``fibre_rtt_ms``."""
        import pandas as pd

        rtt = self.rtt_ms
        conn = np.isfinite(rtt)
        n_ok = conn.sum(axis=0)
        srt = np.sort(rtt, axis=0)  # NaN (disconnected) sorts last
        cols = np.arange(rtt.shape[1])
        lo = np.clip((n_ok - 1) // 2, 0, None)
        hi = np.clip(n_ok // 2, 0, rtt.shape[0] - 1)
        never = n_ok == 0
        mins = np.where(never, np.nan, srt[0, cols])
        maxs = np.where(never, np.nan, srt[np.clip(n_ok - 1, 0, None), cols])
        meds = np.where(never, np.nan, 0.5 * (srt[lo, cols] + srt[hi, cols]))
        names = np.array(self.stations.names, dtype=object)
        return pd.DataFrame(
            {
                "src": names[self.src],
                "dst": names[self.dst],
                "min_rtt_ms": mins,
                "median_rtt_ms": meds,
                "max_rtt_ms": maxs,
                "path_changes": self.routes.path_changes(),
                "disconnected_share": (~conn).mean(axis=0),
                "fibre_rtt_ms": self.fibre_rtt_ms,
            }
        )

    def write(self, path: str | Path) -> Path:
        """Write :meth:`table` as CSV (``.csv``) or Parquet (``.parquet``/``.pq``)."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in (".csv", ".parquet", ".pq"):
            raise SkyfenceError(f"--out {str(p)!r}: use a .csv or .parquet file name")
        df = self.table()
        try:
            if suffix == ".csv":
                df.assign(t_utc=df["t_utc"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")).to_csv(
                    p, index=False
                )
            else:
                df.to_parquet(p, index=False)
        except OSError as exc:
            raise SkyfenceError(f"cannot write {str(p)!r}: {exc.strerror or exc}") from None
        return p

    def write_summary(self, path: str | Path) -> Path:
        """Write :meth:`summary` as CSV or Parquet (by suffix)."""
        p = Path(path)
        try:
            if p.suffix.lower() == ".csv":
                self.summary().to_csv(p, index=False)
            else:
                self.summary().to_parquet(p, index=False)
        except OSError as exc:
            raise SkyfenceError(f"cannot write {str(p)!r}: {exc.strerror or exc}") from None
        return p

    def plot(self, path: str | Path, max_pairs: int = 8) -> Path:
        """PNG of RTT over time (one line per pair, at most ``max_pairs``) with dashed fibre RTTs."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        p = Path(path)
        t_s = (self.t_utc - self.t_utc[0]).astype("timedelta64[ns]").astype(np.int64) / 1e9
        fig, ax = plt.subplots(figsize=(9, 5))
        names = self.stations.names
        for k in range(min(max_pairs, len(self.src))):
            (line,) = ax.plot(
                t_s, self.rtt_ms[:, k], label=f"{names[self.src[k]]} - {names[self.dst[k]]}"
            )
            ax.axhline(self.fibre_rtt_ms[k], color=line.get_color(), linestyle="--", linewidth=0.8)
        ax.set_xlabel(f"time since {np.datetime_as_string(self.t_utc[0], unit='s')}Z (s)")
        ax.set_ylabel("RTT (ms); dashed: great-circle fibre at 2/3 c")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        try:
            fig.savefig(p, dpi=110)
        except OSError as exc:
            raise SkyfenceError(f"cannot write {str(p)!r}: {exc.strerror or exc}") from None
        finally:
            plt.close(fig)
        return p
