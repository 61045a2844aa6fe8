"""``skyfence.imaging``: accesses and revisit statistics of a revisit scenario, and its output files.

Outputs (``write_outputs``): ``summary.json`` (per named target, over all cells, and per
``[regions]`` region: its cells of the ground and the named targets inside it), ``targets.parquet`` (named targets),
``cells.parquet`` (H3 cells of ``[ground].region``, one target at each centre),
``accesses.parquet`` (one row per satellite access), ``revisit_map.png`` (mean and max revisit of
the cells) and ``timeline.png`` (accesses of each named target).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from skyfence.errors import RegionError, ScenarioError
from skyfence.imaging.access import find_accesses
from skyfence.imaging.observed import Observers
from skyfence.imaging.scenario import RevisitScenario, load_revisit_scenario
from skyfence.imaging.stats import harmonic_revisit_s, target_stats

__all__ = ["RevisitResult", "revisit", "write_outputs"]


@dataclass
class RevisitResult:
    """Results of :func:`revisit` (DataFrames and a JSON-ready summary)."""

    scenario: RevisitScenario
    accesses: pd.DataFrame
    targets: pd.DataFrame
    cells: pd.DataFrame
    summary: dict


def _summary_of(stats: pd.DataFrame) -> dict:
    if len(stats) == 0:
        return {"n": 0}
    h = lambda x: None if pd.isna(x) else round(float(x) / 3600.0, 4)  # noqa: E731
    return {
        "n": int(len(stats)),
        "never_observed": int((stats["n_accesses"] == 0).sum()),
        "revisit_harmonic_h": h(harmonic_revisit_s(stats)),
        "revisit_mean_h_mean": h(stats["revisit_mean_s"].mean()),
        "revisit_max_h_max": h(stats["revisit_max_s"].max()),
        "max_unobserved_h_max": h(stats["max_unobserved_s"].max()),
        "mean_response_h_mean": h(stats["mean_response_s"].mean()),
        "observed_fraction_mean": round(float(stats["observed_fraction"].mean()), 6),
    }


def _region_summaries(sc: RevisitScenario, cells: np.ndarray, cell_df: pd.DataFrame,
                       targets: pd.DataFrame) -> dict:
    """Per ``[regions]`` region: the revisit summary of the ground's cells in it (cell membership as
    ``[ground].cell_membership``) and of the named targets inside it (point in polygon)."""
    import shapely

    from skyfence.geo.regions import region_cells, resolve_region

    out = {}
    for name, spec in sc.regions.items():
        try:
            geom = resolve_region(spec, base_dir=sc.base_dir)
        except RegionError as exc:
            raise ScenarioError(f"{sc.source}: regions.{name}: {exc}") from None
        rows = np.isin(cells, region_cells(geom, sc.h3_resolution, sc.cell_membership)) if len(cells) \
            else np.zeros(0, bool)
        inside = shapely.contains_xy(geom, targets["lon_deg"].to_numpy(), targets["lat_deg"].to_numpy()) \
            if len(targets) else np.zeros(0, bool)
        out[name] = {"cells": _summary_of(cell_df[rows]), "target_names": list(targets["target"][inside]),
                     "targets": _summary_of(targets[inside])}
    return out


def revisit(scenario: str | Path | RevisitScenario, *, start: str | None = None,
            duration_s: float | None = None, step_s: float | None = None,
            find: Callable[..., pd.DataFrame] = find_accesses) -> RevisitResult:
    """Accesses and revisit statistics of a revisit scenario (a path or a parsed scenario);
    ``start`` / ``duration_s`` / ``step_s`` override its ``[time]``. ``find``: what computes the
    accesses, called as :func:`~skyfence.imaging.access.find_accesses` (e.g. sharded over a Dask
    cluster by :func:`skyfence.scale.revisit.revisit_sharded`)."""
    from skyfence.geo.cells import cell_centres, cells_to_str
    from skyfence.geo.regions import region_cells, resolve_region
    sc = scenario if isinstance(scenario, RevisitScenario) else load_revisit_scenario(scenario)
    t0 = start or sc.start
    dur = float(duration_s if duration_s is not None else sc.duration_s)
    step = float(step_s if step_s is not None else sc.step_s)
    obs = Observers.load(sc.groups, sc.source)
    els, sensors, group_of = obs.elements, obs.sensors, obs.group_of
    cells = np.zeros(0, dtype=np.uint64)
    if sc.region is not None:
        spec = sc.region
        spec = [sc.regions.get(s, s) if isinstance(s, str) else s for s in spec] if isinstance(spec, list) \
            else sc.regions.get(spec, spec) if isinstance(spec, str) else spec
        try:
            geom = resolve_region(spec, base_dir=sc.base_dir)
        except RegionError as exc:
            raise ScenarioError(f"{sc.source}: ground.region: {exc}") from None
        cells = region_cells(geom, sc.h3_resolution, sc.cell_membership)
    c_lat, c_lon = cell_centres(cells) if len(cells) else (np.zeros(0), np.zeros(0))
    names = list(sc.targets)
    lat = np.r_[[sc.targets[n][0] for n in names], c_lat]
    lon = np.r_[[sc.targets[n][1] for n in names], c_lon]
    acc = find(els, sensors, lat, lon, start=t0, duration_s=dur, step_s=step)
    acc.insert(2, "group", np.asarray(group_of, dtype=object)[acc["satellite"].to_numpy()])
    stats = target_stats(acc, len(lat), start=t0, duration_s=dur)
    n_named = len(names)
    labels = names + cells_to_str(cells)
    acc.insert(1, "target_name", np.asarray(labels, dtype=object)[acc["target"].to_numpy()] if len(acc) else [])
    targets = stats.iloc[:n_named].reset_index(drop=True)
    targets.insert(0, "target", names)
    targets.insert(1, "lat_deg", lat[:n_named])
    targets.insert(2, "lon_deg", lon[:n_named])
    cell_df = stats.iloc[n_named:].reset_index(drop=True)
    cell_df.insert(0, "cell", cells_to_str(cells))
    cell_df.insert(1, "lat_deg", c_lat)
    cell_df.insert(2, "lon_deg", c_lon)
    summary = {
        "name": sc.name, "start_utc": str(np.datetime64(pd.Timestamp(t0).tz_localize(None) if pd.Timestamp(t0).tz
                                                        else pd.Timestamp(t0), "s")),
        "duration_s": dur, "step_s": step, "satellites": len(els),
        "groups": obs.groups,
        "accesses": int(len(acc)),
        "targets": {r.target: {k: (None if pd.isna(v) else float(v)) for k, v in r._asdict().items()
                               if k not in ("Index", "target", "lat_deg", "lon_deg")}
                    for r in targets.itertuples()},
        "cells": _summary_of(cell_df),
        "regions": _region_summaries(sc, cells, cell_df, targets),
    }
    return RevisitResult(sc, acc, targets, cell_df, summary)


def write_outputs(result: RevisitResult, out_dir: str | Path) -> list[Path]:
    """Write the output files of a revisit run into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "summary.json", out / "targets.parquet", out / "cells.parquet", out / "accesses.parquet"]
    paths[0].write_text(json.dumps(result.summary, indent=2) + "\n", encoding="utf-8")
    result.targets.to_parquet(paths[1], index=False)
    result.cells.to_parquet(paths[2], index=False)
    result.accesses.to_parquet(paths[3], index=False)
    from skyfence.imaging.plots import revisit_map, timeline

    sc = result.scenario
    if sc.output.get("map", True) and len(result.cells):
        paths.append(revisit_map(out / "revisit_map.png", result.cells, title=sc.name))
    if sc.output.get("timeline", True) and len(result.targets):
        paths.append(timeline(out / "timeline.png", result.accesses, list(result.targets["target"]),
                              start=result.summary["start_utc"], duration_s=result.summary["duration_s"],
                              title=sc.name))
    return paths
