"""The latency job: RTT between pairs of places over a constellation, step by step.

:func:`latency` propagates the elements (SGP4, TEME -> ECEF), builds the ISL topology, routes
every pair at every step (:func:`skyfence.network.routing.route_series`) and returns a
:class:`LatencyResult` with

* ``table()`` — one row per step and pair: ``t_utc, src, dst, rtt_ms, hops, path, fibre_rtt_ms``
  (``path`` is Hypatia-style ``"1177-144-143-1180"``; disconnected rows have ``rtt_ms`` NaN,
  ``hops`` -1, empty ``path``);
* ``summary()`` — per pair: min/median/max RTT over connected steps, path changes, share of
  steps disconnected, fibre RTT;
* ``write(path)`` (``.csv`` or ``.parquet``) and ``plot(path)`` (PNG, RTT over time vs fibre).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skyfence.errors import SkyfenceError
from skyfence.network.gsl import up_vectors
from skyfence.network.isl import (
    DEFAULT_GRAZING_ALT_KM,
    nearest_neighbour_isls,
    plus_grid_shells,
    read_isls,
)
from skyfence.network.routing import RouteSeries, route_series
from skyfence.network.sites import GroundStations, fibre_rtt_ms

#: default elevation mask when neither a mask nor a range cut-off is given, deg
DEFAULT_MIN_ELEVATION_DEG = 25.0


def make_time_grid(start_utc: str | np.datetime64, duration_s: float, step_s: float) -> np.ndarray:
    """``round(duration_s / step_s)`` instants from ``start_utc`` (ISO, ``Z`` allowed), datetime64[ns] UTC."""
    if step_s <= 0:
        raise SkyfenceError(f"--step must be positive, got {step_s}")
    if duration_s <= 0:
        raise SkyfenceError(f"--duration must be positive, got {duration_s}")
    if isinstance(start_utc, str):
        text = start_utc.strip().removesuffix("Z").removesuffix("z").replace(" ", "T")
        if text.endswith("+00:00"):
            text = text[:-6]
        try:
            start = np.datetime64(text, "ns")
        except ValueError:
            raise SkyfenceError(
                f"--start {start_utc!r} is not an ISO 8601 UTC time (e.g. 2000-01-01T00:00:00Z)"
            ) from None
    else:
        start = np.datetime64(start_utc, "ns")
    n = max(1, int(round(duration_s / step_s)))
    offsets_ns = np.round(np.arange(n) * step_s * 1e9).astype(np.int64)
    return start + offsets_ns.astype("timedelta64[ns]")


def first_epoch_utc(elements) -> np.datetime64:
    """The earliest element epoch (UTC, datetime64[ns]) — the default start of a run."""
    jd = min(s.jdsatepoch + s.jdsatepochF for s in elements.satrecs)
    ns = int(round((jd - 2440587.5) * 86400.0 * 1e9 / 1000.0)) * 1000  # to microseconds
    return np.datetime64(ns, "ns")


def resolve_isls(
    isl: str | np.ndarray | None,
    elements,
    r_ecef_km_first: np.ndarray | None,
    *,
    shift: int = 0,
    max_length_km: float | None = None,
) -> np.ndarray:
    """The ISL pair list for ``isl``: ``"plus-grid"``, ``"none"``, a file path, or an ``[n, 2]`` array.

    ``plus-grid`` uses the shells' (planes, sats per plane) numbering; for a real snapshot without
    it (``elements.shells is None``), each satellite is linked to its 4 nearest neighbours at the
    first step (see :func:`skyfence.network.isl.nearest_neighbour_isls`) and kept fixed.
    """
    n_sat = len(elements)
    if isl is None or (isinstance(isl, str) and isl == "none"):
        return np.empty((0, 2), dtype=np.int64)
    if isinstance(isl, str) and isl == "plus-grid":
        shells = getattr(elements, "shells", None)
        if shells:
            pairs = plus_grid_shells([tuple(s) for s in shells], shift)
            if pairs.size and pairs.max() >= n_sat:
                raise SkyfenceError(
                    f"plus-grid: the shells {shells} need more than the {n_sat} satellites given"
                )
            return pairs
        if r_ecef_km_first is None:
            raise SkyfenceError("plus-grid for a real snapshot needs positions")
        return nearest_neighbour_isls(r_ecef_km_first, k=4, max_length_km=max_length_km)
    if isinstance(isl, (str, Path)):
        if not Path(isl).exists():
            raise SkyfenceError(
                f"--isl {str(isl)!r}: not 'plus-grid', 'none' or an existing ISL file"
            )
        return read_isls(isl, n_sat)
    pairs = np.asarray(isl, dtype=np.int64).reshape(-1, 2)
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n_sat):
        raise SkyfenceError(f"ISL pairs refer to satellites outside 0..{n_sat - 1}")
    return np.unique(np.sort(pairs, axis=1), axis=0)


EARTH_ROTATIONS = ("ut1", "utc")


def satellite_ecef_km(elements, t_utc: np.ndarray, *, earth_rotation: str = "ut1") -> np.ndarray:
    """SGP4 positions rotated TEME -> ECEF, ``[n_sat, n_time, 3]`` km (NaN where SGP4 failed).

    ``earth_rotation="ut1"`` (default, correct): GMST of UT1 (:mod:`skyfence.orbits.frames`).
    ``"utc"``: GMST evaluated at UTC, i.e. UT1 - UTC taken as 0 — what Hypatia (PyEphem) does; use
    it to reproduce Hypatia's numbers (on 2000-01-01 UT1 - UTC = +0.355 s: the Earth turns
    5.3 arcsec in that time, ~165 m at the equator, up to ~1.2e-3 ms on Hypatia's RTTs).
    """
    from skyfence.orbits.frames import teme_to_ecef
    from skyfence.orbits.propagate import propagate

    if earth_rotation not in EARTH_ROTATIONS:
        raise SkyfenceError(f"earth rotation {earth_rotation!r}: choose 'ut1' or 'utc'")
    eph = propagate(elements, t_utc)
    if earth_rotation == "ut1":
        return eph.r_ecef_km
    return teme_to_ecef(eph.r_teme_km, eph.t_utc, ut1=False)


@dataclass
class LatencyResult:
    """Routes of pairs of ``stations`` over ``t_utc``; ``src``/``dst`` are station indices ``[P]``."""

    t_utc: np.ndarray
    stations: GroundStations
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


def latency(
    elements,
    stations: GroundStations,
    pairs: Sequence[tuple[int, int]],
    t_utc: np.ndarray,
    *,
    isl: str | np.ndarray | None = "plus-grid",
    isl_shift: int = 0,
    max_isl_length_km: float | None = None,
    grazing_alt_km: float | None = DEFAULT_GRAZING_ALT_KM,
    max_gsl_range_km: float | None = None,
    min_elevation_deg: float | np.ndarray | None = None,
    relay_gs: Sequence[int] | None = None,
    sat_ecef_km: np.ndarray | None = None,
    earth_rotation: str = "ut1",
    progress: Callable[[int], None] | None = None,
) -> LatencyResult:
    """RTT between pairs of ``stations`` (index pairs) at the instants ``t_utc`` (datetime64[ns] UTC).

    ``elements`` is an :class:`skyfence.orbits.elements.Elements` or a spec for ``load_elements``.
    Ground links use ``max_gsl_range_km`` and/or ``min_elevation_deg`` (one value, or one per
    station, e.g. users 25 deg and gateways 40 deg; default: 25 deg when neither is given).
    Stations never relay unless listed in ``relay_gs`` (bent-pipe gateways).
    ``sat_ecef_km`` ``[n_sat, n_time, 3]`` may be passed to skip propagation; else see
    :func:`satellite_ecef_km` for ``earth_rotation``.
    """
    if isinstance(elements, (str, Path)):
        from skyfence.orbits.elements import load_elements

        elements = load_elements(str(elements))
    t_utc = np.asarray(t_utc, dtype="datetime64[ns]")
    if sat_ecef_km is None:
        sat_ecef_km = satellite_ecef_km(elements, t_utc, earth_rotation=earth_rotation)
    pair_arr = np.asarray(list(pairs), dtype=np.int64).reshape(-1, 2)
    if len(pair_arr) == 0:
        raise SkyfenceError("no pairs of places to route")
    if pair_arr.min() < 0 or pair_arr.max() >= len(stations):
        raise SkyfenceError("a pair refers to a ground station outside the list")
    if max_gsl_range_km is None and min_elevation_deg is None:
        min_elevation_deg = DEFAULT_MIN_ELEVATION_DEG
    isl_pairs = resolve_isls(
        isl, elements, sat_ecef_km[:, 0, :], shift=isl_shift, max_length_km=max_isl_length_km
    )
    routes = route_series(
        sat_ecef_km,
        isl_pairs,
        stations.ecef_km,
        pair_arr[:, 0],
        pair_arr[:, 1],
        max_gsl_range_km=max_gsl_range_km,
        min_elevation_deg=min_elevation_deg,
        gs_up=up_vectors(stations.lat_deg, stations.lon_deg),
        max_isl_length_km=max_isl_length_km,
        grazing_alt_km=grazing_alt_km,
        relay_gs=None if relay_gs is None else np.asarray(relay_gs, dtype=np.int64),
        progress=progress,
    )
    fibre = fibre_rtt_ms(
        stations.lat_deg[pair_arr[:, 0]],
        stations.lon_deg[pair_arr[:, 0]],
        stations.lat_deg[pair_arr[:, 1]],
        stations.lon_deg[pair_arr[:, 1]],
    )
    return LatencyResult(
        t_utc, stations, pair_arr[:, 0], pair_arr[:, 1], routes, np.asarray(fibre), len(elements)
    )
