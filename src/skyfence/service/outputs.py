"""What a service run reports: the summary document, per-cell / per-terminal / per-step tables as
pandas DataFrames, and the files ``skyfence run`` writes (``summary.json``, ``cells.parquet``,
``terminals.parquet``, ``terminal_states.parquet``, ``map.png``, ``terminals.png``).

Every ``*_utc`` column is timezone-aware UTC (``datetime64[ns, UTC]``); "none" is ``NaT``.

With ``[observers]``, cells and terminals get ``observed_fraction`` (share of the steps where
present during which an observer could image it) and ``observed_while_served_fraction`` (share of
the served steps during which an observer could image it; NaN if never served), and the summary an
``observers`` block (:func:`observers_summary`). With ``[funding]``, the funding block, columns and
report files come from :mod:`skyfence.service.funding_outputs`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from skyfence.coverage.stats import (
    ABSENT,
    DENIED,
    SERVED,
    STATE_NAMES,
    UNCOVERED,
    coverage_stats,
    state_counts,
    state_stats,
)
from skyfence.geo import cells as h3cells
from skyfence.orbits.frames import iso_utc
from skyfence.service.scenario import Scenario
from skyfence.service.simulate import Decisions, Ground, Visibility

__all__ = [
    "iso_utc",
    "state_names",
    "cell_population",
    "first_positions",
    "majority_states",
    "majority_of_counts",
    "moving_terminals",
    "draw_run_map",
    "utc_aware",
    "utc_frame",
    "summarize",
    "observed_counts",
    "observed_columns",
    "observers_block",
    "observers_summary",
    "cells_frame",
    "terminals_frame",
    "timeline_frame",
    "write_outputs",
]


#: at most this many fixed terminals (a seeded random sample) and mobile tracks on map.png
MAX_MAP_TERMINALS = 3000
MAX_TRACKS = 20


def state_names(states: np.ndarray) -> np.ndarray:
    """State codes -> names (served/denied/uncovered/absent)."""
    codes = np.array(sorted(STATE_NAMES))
    names = np.array([STATE_NAMES[c] for c in codes], dtype=object)
    return names[np.searchsorted(codes, states)]


def utc_aware(values: np.ndarray) -> pd.Series | pd.DatetimeIndex:
    """datetime64 values as timezone-aware UTC."""
    return pd.to_datetime(np.asarray(values, dtype="datetime64[ns]")).tz_localize("UTC")


def utc_frame(cols: dict) -> pd.DataFrame:
    """A DataFrame of ``cols`` whose datetime64 columns are timezone-aware UTC."""
    return pd.DataFrame({k: utc_aware(v) if isinstance(v, np.ndarray) and v.dtype.kind == "M" else v
                         for k, v in cols.items()})  # fmt: skip


def cell_population(cells: np.ndarray, resolution: int) -> np.ndarray:
    """Estimated people per cell (:func:`skyfence.ground.population.population_per_cell`: GeoNames
    places plus each country's remaining Natural Earth ``POP_EST`` spread by area)."""
    from skyfence.ground.population import population_per_cell

    return population_per_cell(cells, resolution)


def summarize(sc: Scenario, ground: Ground, vis: Visibility, dec: Decisions) -> dict:
    """The ``summary.json`` document (keys documented in README)."""
    n_cell, n_t = vis.cell_counts.shape
    pairs = n_cell * n_t
    cs = dec.cell_states
    tcounts = state_counts(dec.terminal_states)
    hours = {}
    if len(ground.terminals):
        hour = ground.t_utc.astype("datetime64[h]")
        for h in np.unique(hour):
            m = hour == h
            pres = (dec.terminal_states[:, m] != ABSENT).sum()
            hours[iso_utc(h)] = float((dec.terminal_states[:, m] == SERVED).sum() / pres) if pres else None
    per_region = []
    member = ground.regions.membership(ground.cells).tocsc() if len(ground.regions) else None
    for j, name in enumerate(ground.regions.names):
        rows = member[:, j].nonzero()[0] if member is not None else []
        if len(rows) == 0:
            per_region.append({"region": name, "cells_in_ground": 0})
            continue
        s = cs[rows]
        per_region.append({
            "region": name, "cells_in_ground": int(len(rows)),
            "area_km2": float(ground.cell_area_km2[rows].sum()),
            "covered_fraction": float((s != UNCOVERED).mean()),
            "served_fraction": float((s == SERVED).mean()),
            "denied_fraction": float((s == DENIED).mean()),
        })  # fmt: skip
    ts = dec.terminal_states
    out = {
        "scenario": sc.name,
        "description": sc.description,
        "constellation": {"elements": sc.elements, "satellites": ground.n_sat,
                          "min_elevation_deg": ground.min_elevation_deg, "sgp4_errors": {str(k): v for k, v in vis.sgp4_errors.items()}},
        "time": {"start_utc": iso_utc(ground.t_utc[0]), "end_utc": iso_utc(ground.t_utc[-1]), "steps": n_t, "step_s": ground.step_s},
        "policy": {"files": list(dec.policy_sources), "warnings": list(dec.warnings)},
        "h3_resolution": ground.regions.resolution,
        "cell_membership": ground.cell_membership,
        "terminal_membership": ground.terminal_membership,
        "cells": n_cell,
        "area_km2": float(ground.cell_area_km2.sum()),
        "covered_fraction": float((cs != UNCOVERED).sum() / pairs),
        "served_fraction": float((cs == SERVED).sum() / pairs),
        "denied_fraction": float((cs == DENIED).sum() / pairs),
        "uncovered_fraction": float((cs == UNCOVERED).sum() / pairs),
        "cells_always_covered": int((cs != UNCOVERED).all(axis=1).sum()),
        "cells_ever_denied": int((cs == DENIED).any(axis=1).sum()),
        "regions": per_region,
        "terminals": {
            "count": int(len(ground.terminals)),
            "terminal_steps": {k: int(v.sum()) for k, v in tcounts.items()},
            "ever_denied": int((ts == DENIED).any(axis=1).sum()),
            "ever_uncovered": int((ts == UNCOVERED).any(axis=1).sum()),
            # served at every step where present (terminals never present excluded)
            "always_served": int((((ts == SERVED) | (ts == ABSENT)).all(axis=1) & (ts != ABSENT).any(axis=1)).sum()),
            "served_share_by_hour": hours,
        },
    }
    if dec.funding is not None:
        from skyfence.service.funding_outputs import denied_unfunded, funding_summary

        du = denied_unfunded(dec)
        out["funding"] = funding_summary(ground, dec.funding, du.sum(axis=1), du.sum(axis=0))
    if vis.observers is not None:
        out["observers"] = observers_summary(vis, dec)
    return out


def observed_counts(observed: np.ndarray, states: np.ndarray) -> dict[str, np.ndarray]:
    """Per row of ``[n, n_time]`` observed flags and service states: steps present, served,
    observed while present and observed while served (int64; summable over time windows)."""
    present, served = states != ABSENT, states == SERVED
    return {"n_present": present.sum(axis=1), "n_served": served.sum(axis=1),
            "n_observed": (observed & present).sum(axis=1), "n_observed_served": (observed & served).sum(axis=1)}


def observed_columns(observed: np.ndarray | None = None, states: np.ndarray | None = None, *,
                     counts: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """``observed_fraction`` and ``observed_while_served_fraction`` per row of ``[n, n_time]``
    observed flags and service states, or of their :func:`observed_counts` (NaN where never
    present / never served)."""
    c = counts if counts is not None else observed_counts(observed, states)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"observed_fraction": c["n_observed"] / c["n_present"],
                "observed_while_served_fraction": c["n_observed_served"] / c["n_served"]}


def observers_block(groups: dict, cells: dict[str, np.ndarray], terminals: dict[str, np.ndarray]) -> dict:
    """The ``observers`` block of summary.json from the observer groups and the cells' and
    terminals' :func:`observed_counts`."""
    def block(c: dict[str, np.ndarray]) -> dict:
        share = lambda a, b: float(a.sum() / b.sum()) if b.sum() else None  # noqa: E731
        return {"observed_fraction": share(c["n_observed"], c["n_present"]),
                "observed_while_served_fraction": share(c["n_observed_served"], c["n_served"]),
                "ever_observed_while_served": int((c["n_observed_served"] > 0).sum())}

    return {"groups": groups, "satellites": int(sum(g["satellites"] for g in groups.values())),
            "cells": block(cells), "terminals": block(terminals)}


def observers_summary(vis: Visibility, dec: Decisions) -> dict:
    """The ``observers`` block of summary.json: the observer groups, and over all cells and all
    terminals the observed share of the steps (where present) and of the served steps (None if
    none)."""
    return observers_block(vis.observers, observed_counts(vis.cell_observed, dec.cell_states),
                           observed_counts(vis.terminal_observed, dec.terminal_states))  # fmt: skip


def cells_frame(ground: Ground, vis: Visibility, dec: Decisions) -> pd.DataFrame:
    """One row per H3 cell of the ground region: centre, area, coverage and service statistics, and
    the named regions that contain it (``cells.parquet``)."""
    cov = coverage_stats(vis.cell_counts, ground.step_s).to_columns(ground.t_utc)
    cs = dec.cell_states
    names = ground.regions.cell_region_names(ground.cells) if len(ground.regions) else [()] * len(ground.cells)
    return utc_frame({
        "h3": h3cells.cells_to_str(ground.cells), "lat_deg": ground.cell_lat_deg, "lon_deg": ground.cell_lon_deg,
        "area_km2": ground.cell_area_km2, **cov,
        "served_fraction": (cs == SERVED).mean(axis=1), "denied_fraction": (cs == DENIED).mean(axis=1),
        **(observed_columns(vis.cell_observed, cs) if vis.cell_observed is not None else {}),
        "regions": [list(n) for n in names],
    })  # fmt: skip


def first_positions(ground: Ground) -> tuple[np.ndarray, np.ndarray]:
    """Each terminal's first present position (``lat_deg``, ``lon_deg``; NaN if never present)."""
    lat, lon = ground.terminals.positions(len(ground.t_utc))
    lat, lon = np.atleast_2d(lat), np.atleast_2d(lon)
    ok = np.isfinite(lat) & np.isfinite(lon)
    i = ok.argmax(axis=1)
    rows = np.arange(len(lat))
    never = ~ok.any(axis=1)
    return np.where(never, np.nan, lat[rows, i]), np.where(never, np.nan, lon[rows, i])


def moving_terminals(ground: Ground) -> np.ndarray:
    """bool [n_term]: terminals that move or are absent at some step (drawn as tracks)."""
    lat, lon = ground.terminals.positions(len(ground.t_utc))
    present = ground.terminals.present(len(ground.t_utc))
    return ~(present.all(axis=1) & (lat == lat[:, :1]).all(axis=1) & (lon == lon[:, :1]).all(axis=1))


def majority_of_counts(n_denied: np.ndarray, n_served: np.ndarray, n_uncovered: np.ndarray) -> np.ndarray:
    """Per row, the most frequent of served / denied / uncovered given the steps in each state
    (ties: denied, then served, then uncovered); ABSENT for rows with no step at all."""
    counts = np.stack([n_denied, n_served, n_uncovered], axis=1)
    best = np.array([DENIED, SERVED, UNCOVERED], np.int8)[counts.argmax(axis=1)]
    return np.where(counts.sum(axis=1) > 0, best, ABSENT).astype(np.int8)


def majority_states(states: np.ndarray) -> np.ndarray:
    """:func:`majority_of_counts` of a state matrix ``[n, n_time]`` (steps where present)."""
    return majority_of_counts(*((states == c).sum(axis=1) for c in (DENIED, SERVED, UNCOVERED)))


def terminals_frame(ground: Ground, dec: Decisions, vis: Visibility | None = None) -> pd.DataFrame:
    """One row per terminal: id, groups, position (``lat_deg``, ``lon_deg``: the first present one
    for mobile terminals) and service statistics over the run (``terminals.parquet``); with
    observers in ``vis``, the observed shares (:func:`observed_columns`)."""
    terms = ground.terminals
    st = state_stats(dec.terminal_states, ground.step_s).to_columns(ground.t_utc)
    lat, lon = first_positions(ground) if len(terms) else (np.zeros(0), np.zeros(0))
    cols = {"id": [str(i) for i in terms.ids], "group": [";".join(g) for g in terms.groups],
            "lat_deg": lat, "lon_deg": lon, **st}
    if dec.funding is not None:
        from skyfence.service.funding_outputs import denied_unfunded, funding_columns

        cols.update(funding_columns(dec.funding, denied_unfunded(dec).sum(axis=1)))
    if vis is not None and vis.terminal_observed is not None:
        cols.update(observed_columns(vis.terminal_observed, dec.terminal_states))
    return utc_frame(cols)


def timeline_frame(ground: Ground, vis: Visibility, dec: Decisions) -> pd.DataFrame:
    """One row per (terminal, step): ``id``, ``t_utc``, ``state`` and satellites ``visible``."""
    ts = dec.terminal_states
    n, n_t = ts.shape
    return pd.DataFrame({
        "id": np.repeat(np.array([str(i) for i in ground.terminals.ids], dtype=object), n_t),
        "t_utc": utc_aware(np.tile(ground.t_utc, n)),
        "state": state_names(ts.ravel()),
        "visible": vis.terminal_counts.ravel(),
    })  # fmt: skip


def write_outputs(
    sc: Scenario,
    ground: Ground,
    vis: Visibility,
    dec: Decisions,
    out_dir: Path,
    *,
    summary: dict | None = None,
    cells: pd.DataFrame | None = None,
    terminals: pd.DataFrame | None = None,
) -> dict:
    """Write the run's files into ``out_dir`` (tables already built may be passed in); returns the
    summary."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summary if summary is not None else summarize(sc, ground, vis, dec)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    (cells if cells is not None else cells_frame(ground, vis, dec)).to_parquet(out_dir / "cells.parquet", index=False)
    (terminals if terminals is not None else terminals_frame(ground, dec, vis)).to_parquet(
        out_dir / "terminals.parquet", index=False
    )
    if sc.output.get("timeline"):
        timeline_frame(ground, vis, dec).to_parquet(out_dir / "terminal_states.parquet", index=False)
    if dec.funding is not None:
        from skyfence.service.funding_outputs import write_funding_files

        write_funding_files(sc, ground, dec.funding, out_dir)
    terms = ground.terminals
    if sc.output.get("map", True):
        ts = dec.terminal_states
        draw_run_map(out_dir / "map.png", sc, ground, cell_majority=majority_states(dec.cell_states),
                     terminal_majority=majority_states(ts), terminal_ever_denied=(ts == DENIED).any(axis=1),
                     track_states=lambda k: ts[k])  # fmt: skip
    if sc.output.get("plot", True) and len(terms):
        from skyfence.viz.plots import states_over_time

        events = {}
        for k in np.flatnonzero(moving_terminals(ground))[:MAX_TRACKS]:
            first = np.flatnonzero(dec.terminal_states[k] == DENIED)
            if len(first):
                events[f"{terms.ids[k]} first denied"] = ground.t_utc[first[0]]
        states_over_time(out_dir / "terminals.png", ground.t_utc, state_counts(dec.terminal_states),
                         title=f"{sc.name}: terminals by service state ({len(terms):,} terminals, "
                               f"{ground.step_s:g} s steps)",
                         ylabel="terminals (count)", events=events)  # fmt: skip
    return summary


def draw_run_map(
    path: Path,
    sc: Scenario,
    ground: Ground,
    *,
    cell_majority: np.ndarray,
    terminal_majority: np.ndarray,
    terminal_ever_denied: np.ndarray,
    track_states: Callable[[int], np.ndarray | None],
) -> None:
    """``map.png``: cells by majority state, geofences, a seeded random sample of at most
    ``MAX_MAP_TERMINALS`` fixed terminals coloured by majority state (triangles: ever denied), and
    up to ``MAX_TRACKS`` mobile terminals as tracks coloured by ``track_states(k)`` (the states of
    terminal ``k`` per step; ``None``: not drawn). The per-terminal arrays cover all terminals."""
    from skyfence.viz.maps import Track, cell_map

    terms = ground.terminals
    fences = {n: ground.regions.geometry(n) for n in ground.regions.names if ground.regions.geometry(n) is not None}
    kw: dict = {}
    if len(terms):
        moving = moving_terminals(ground)
        fixed = np.flatnonzero(~moving)
        shown = fixed
        if len(fixed) > MAX_MAP_TERMINALS:
            shown = np.sort(np.random.default_rng(0).choice(fixed, MAX_MAP_TERMINALS, replace=False))
        lat, lon = first_positions(ground)
        t_lat, t_lon = terms.positions(len(ground.t_utc))
        tracks = []
        for k in np.flatnonzero(moving)[:MAX_TRACKS]:
            states = track_states(int(k))
            if states is not None:
                tracks.append(Track(str(terms.ids[k]), t_lon[k], t_lat[k], states, ground.t_utc))
        kw = {"terminals_lat_deg": lat[shown], "terminals_lon_deg": lon[shown],
              "terminal_states": terminal_majority[shown], "terminals_ever_denied": terminal_ever_denied[shown],
              "terminals_total": len(fixed), "tracks": tracks}  # fmt: skip
    cell_map(path, ground.cells, states=cell_majority,
             title=f"{sc.name}: majority state per H3 cell (res {ground.regions.resolution}), "
                   f"{iso_utc(ground.t_utc[0])} + {sc.duration_s / 3600:g} h",
             geofences=fences, **kw)  # fmt: skip
