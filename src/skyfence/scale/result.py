"""The outcome of a sharded run: the same ``summary.json``, ``cells.parquet`` and
``terminals.parquet`` as :class:`skyfence.service.run.RunResult` (bit for bit), built from the
whole-run statistics of :mod:`skyfence.scale.reduce` instead of ``[cell x time]`` matrices, and the
same files (``map.png`` and ``terminals.png`` from per-cell / per-terminal state counts).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from skyfence.geo import cells as h3cells
from skyfence.scale.runs import CoveragePart, StatePart
from skyfence.service.funding_outputs import funding_columns, funding_summary, write_funding_files
from skyfence.service.outputs import (
    MAX_TRACKS,
    draw_run_map,
    first_positions,
    iso_utc,
    majority_of_counts,
    moving_terminals,
    observed_columns,
    observers_block,
    utc_frame,
)
from skyfence.service.scenario import Scenario
from skyfence.service.simulate import Ground

__all__ = ["ShardedRun"]


@dataclass
class ShardedRun:
    """Whole-run statistics of a sharded run and the tables built from them."""

    scenario: Scenario
    ground: Ground
    cell_part: CoveragePart
    terminal_part: StatePart | None
    terminal_steps: pd.DataFrame  # per step: terminals served / denied / uncovered / absent
    tracks: dict[int, np.ndarray]  # drawn mobile terminals: states per step
    sgp4_errors: dict[int, int]
    policy_sources: tuple[str, ...]
    warnings: tuple[str, ...]
    timeline: pd.DataFrame | None = None
    shards: int = 0
    extra: dict = field(default_factory=dict)
    #: the run's funded set (scenarios with ``[funding]``) and each terminal's steps denied while
    #: unfunded
    funding: object = None
    denied_unfunded_steps: np.ndarray | None = None
    #: observer groups (scenarios with ``[observers]``) and the cells' and terminals'
    #: :func:`~skyfence.service.outputs.observed_counts` over the run
    observers: dict | None = None
    observed_cells: dict | None = None
    observed_terminals: dict | None = None

    @cached_property
    def summary(self) -> dict:
        """The ``summary.json`` document (that of :func:`skyfence.service.outputs.summarize`)."""
        sc, ground, cp = self.scenario, self.ground, self.cell_part
        n_cell, n_t = len(ground.cells), len(ground.t_utc)
        pairs = n_cell * n_t
        tsteps = self.terminal_steps
        hours = {}
        if len(ground.terminals):
            hour = ground.t_utc.astype("datetime64[h]")
            served, absent = tsteps["served"].to_numpy(), tsteps["absent"].to_numpy()
            n_term = len(ground.terminals)
            for h in np.unique(hour):
                m = hour == h
                pres = int(m.sum()) * n_term - int(absent[m].sum())
                hours[iso_utc(h)] = float(int(served[m].sum()) / pres) if pres else None
        per_region = []
        member = ground.regions.membership(ground.cells).tocsc() if len(ground.regions) else None
        for j, name in enumerate(ground.regions.names):
            rows = member[:, j].nonzero()[0] if member is not None else []
            if len(rows) == 0:
                per_region.append({"region": name, "cells_in_ground": 0})
                continue
            n = len(rows) * n_t
            per_region.append({
                "region": name, "cells_in_ground": int(len(rows)),
                "area_km2": float(ground.cell_area_km2[rows].sum()),
                "covered_fraction": float((n - int(cp.n_uncovered[rows].sum())) / n),
                "served_fraction": float(int(cp.n_served[rows].sum()) / n),
                "denied_fraction": float(int(cp.n_denied[rows].sum()) / n),
            })  # fmt: skip
        tp = self.terminal_part
        n_unc = int(cp.n_uncovered.sum())
        if tp is None:
            ever_denied = ever_uncovered = always_served = 0
        else:
            ever_denied, ever_uncovered = int((tp.n_denied > 0).sum()), int((tp.n_uncovered > 0).sum())
            always_served = int(((tp.n_served + tp.n_absent == n_t) & (tp.n_absent < n_t)).sum())
        lines_sources = list(self.policy_sources)
        out = {
            "scenario": sc.name,
            "description": sc.description,
            "constellation": {"elements": sc.elements, "satellites": ground.n_sat,
                              "min_elevation_deg": ground.min_elevation_deg,
                              "sgp4_errors": {str(k): v for k, v in self.sgp4_errors.items()}},
            "time": {"start_utc": iso_utc(ground.t_utc[0]), "end_utc": iso_utc(ground.t_utc[-1]), "steps": n_t,
                     "step_s": ground.step_s},
            "policy": {"files": lines_sources, "warnings": list(self.warnings)},
            "h3_resolution": ground.regions.resolution,
            "cell_membership": ground.cell_membership,
            "terminal_membership": ground.terminal_membership,
            "cells": n_cell,
            "area_km2": float(ground.cell_area_km2.sum()),
            "covered_fraction": float((pairs - n_unc) / pairs),
            "served_fraction": float(int(cp.n_served.sum()) / pairs),
            "denied_fraction": float(int(cp.n_denied.sum()) / pairs),
            "uncovered_fraction": float(n_unc / pairs),
            "cells_always_covered": int((cp.n_uncovered == 0).sum()),
            "cells_ever_denied": int((cp.n_denied > 0).sum()),
            "regions": per_region,
            "terminals": {
                "count": int(len(ground.terminals)),
                "terminal_steps": {k: int(tsteps[k].sum()) if len(tsteps) else 0
                                   for k in ("served", "denied", "uncovered", "absent")},
                "ever_denied": ever_denied,
                "ever_uncovered": ever_uncovered,
                "always_served": always_served,
                "served_share_by_hour": hours,
            },
        }  # fmt: skip
        if self.funding is not None:
            per_step = tsteps["denied_unfunded"].to_numpy() if "denied_unfunded" in tsteps else np.zeros(n_t, np.int64)
            out["funding"] = funding_summary(ground, self.funding, self.denied_unfunded_steps, per_step)
        if self.observers is not None:
            out["observers"] = observers_block(self.observers, self.observed_cells, self.observed_terminals)
        return out

    @cached_property
    def cells(self) -> pd.DataFrame:
        """One row per H3 cell (``cells.parquet``, as :func:`skyfence.service.outputs.cells_frame`)."""
        ground, cp = self.ground, self.cell_part
        n_t = len(ground.t_utc)
        cov = cp.stats(ground.step_s).to_columns(ground.t_utc)
        names = ground.regions.cell_region_names(ground.cells) if len(ground.regions) else [()] * len(ground.cells)
        return utc_frame({
            "h3": h3cells.cells_to_str(ground.cells), "lat_deg": ground.cell_lat_deg, "lon_deg": ground.cell_lon_deg,
            "area_km2": ground.cell_area_km2, **cov,
            "served_fraction": cp.n_served / n_t, "denied_fraction": cp.n_denied / n_t,
            **(observed_columns(counts=self.observed_cells) if self.observers is not None else {}),
            "regions": [list(n) for n in names],
        })  # fmt: skip

    @cached_property
    def terminals(self) -> pd.DataFrame:
        """One row per terminal (``terminals.parquet``, as :func:`~skyfence.service.outputs.terminals_frame`)."""
        terms, ground = self.ground.terminals, self.ground
        if self.terminal_part is None:
            from skyfence.coverage.stats import state_stats

            st = state_stats(np.zeros((0, len(ground.t_utc)), np.int8), ground.step_s).to_columns(ground.t_utc)
        else:
            st = self.terminal_part.stats(ground.step_s).to_columns(ground.t_utc)
        lat, lon = first_positions(ground) if len(terms) else (np.zeros(0), np.zeros(0))
        cols = {"id": [str(i) for i in terms.ids], "group": [";".join(g) for g in terms.groups],
                "lat_deg": lat, "lon_deg": lon, **st}  # fmt: skip
        if self.funding is not None:
            cols.update(funding_columns(self.funding, self.denied_unfunded_steps))
        if self.observers is not None:
            cols.update(observed_columns(counts=self.observed_terminals))
        return utc_frame(cols)

    def write(self, out_dir: str | os.PathLike) -> dict:
        """Write the files of ``skyfence run`` into ``out_dir``; returns the summary."""
        sc, ground = self.scenario, self.ground
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(self.summary, indent=2))
        self.cells.to_parquet(out / "cells.parquet", index=False)
        self.terminals.to_parquet(out / "terminals.parquet", index=False)
        if self.timeline is not None:
            self.timeline.to_parquet(out / "terminal_states.parquet", index=False)
        if self.funding is not None:
            write_funding_files(sc, ground, self.funding, out)
        if sc.output.get("map", True):
            self._write_map(out / "map.png")
        if sc.output.get("plot", True) and len(ground.terminals):
            from skyfence.viz.plots import states_over_time

            events = {}
            ids = ground.terminals.ids
            for k in np.flatnonzero(moving_terminals(ground))[:MAX_TRACKS]:
                first = int(self.terminal_part.denied.first[k])
                if first >= 0:
                    events[f"{ids[k]} first denied"] = ground.t_utc[first]
            counts = {k: self.terminal_steps[k].to_numpy() for k in ("served", "denied", "uncovered", "absent")}
            states_over_time(out / "terminals.png", ground.t_utc, counts,
                             title=f"{sc.name}: terminals by service state ({len(ground.terminals):,} terminals, "
                                   f"{ground.step_s:g} s steps)",
                             ylabel="terminals (count)", events=events)  # fmt: skip
        return self.summary

    def _write_map(self, path: Path) -> None:
        """``map.png`` from the whole-run state counts (see :func:`~skyfence.service.outputs.draw_run_map`)."""
        cp, tp = self.cell_part, self.terminal_part
        if tp is None:  # no terminals
            t_major, t_denied = np.zeros(0, np.int8), np.zeros(0, bool)
        else:
            t_major, t_denied = majority_of_counts(tp.n_denied, tp.n_served, tp.n_uncovered), tp.n_denied > 0
        draw_run_map(path, self.scenario, self.ground,
                     cell_majority=majority_of_counts(cp.n_denied, cp.n_served, cp.n_uncovered),
                     terminal_majority=t_major, terminal_ever_denied=t_denied,
                     track_states=self.tracks.get)  # fmt: skip
