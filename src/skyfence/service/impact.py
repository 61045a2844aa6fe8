"""``skyfence impact``: what a policy change does, versus the scenario's current policy.

Visibility is computed once; both policy sets are then applied to the same cells, terminals
and steps. A terminal (cell) is *newly denied* if at some step it is served under the current
policy and denied under the new one, *restored* if the reverse happens. Areas are the H3 cells'
areas (km2), people the estimate of :mod:`skyfence.ground.population` (GeoNames places plus each
country's remaining Natural Earth ``POP_EST`` spread by area; the report's ``people_method``) summed
over the affected cells; ``first_utc`` is the first step at which the change bites.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from skyfence.coverage.stats import DENIED, SERVED
from skyfence.ground.population import METHOD as POPULATION_METHOD
from skyfence.service.outputs import cell_population, iso_utc
from skyfence.service.scenario import Scenario
from skyfence.service.simulate import build_ground, compute_visibility, decide, load_policy_segments


def compare(
    sc: Scenario,
    new_policy_files: list[str],
    *,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> dict:
    """Impact report (a JSON-able dict) of replacing the scenario's policy by ``new_policy_files``."""
    ground = build_ground(sc)
    # both policy sets are read and validated before any propagation
    old_segments = load_policy_segments(sc, ground)
    new_segments = load_policy_segments(sc, ground, policy_files=new_policy_files)
    if on_total:
        on_total(len(ground.t_utc))
    vis = compute_visibility(sc, ground, progress=progress)
    old = decide(sc, ground, vis, segments=old_segments)
    new = decide(sc, ground, vis, policy_files=new_policy_files, segments=new_segments)
    pop = cell_population(ground.cells, ground.regions.resolution)
    t = ground.t_utc
    ids = np.array([str(i) for i in ground.terminals.ids], dtype=object)
    report = {
        "scenario": sc.name,
        "current_policy": list(old.policy_sources),
        "new_policy": list(new.policy_sources),
        "warnings": list(new.warnings),
        "steps": len(t),
        "people_method": POPULATION_METHOD,
    }
    for key, frm, to in (("newly_denied", SERVED, DENIED), ("restored", DENIED, SERVED)):
        c_hit = (old.cell_states == frm) & (new.cell_states == to)  # [n_cell, n_time]
        t_hit = (old.terminal_states == frm) & (new.terminal_states == to)  # [n_term, n_time]
        c_rows, t_rows = c_hit.any(axis=1), t_hit.any(axis=1)
        steps = np.flatnonzero(c_hit.any(axis=0) | t_hit.any(axis=0))
        per_step_terms = t_hit.sum(axis=0)
        report[key] = {
            "terminals": int(t_rows.sum()),
            "terminal_ids": ids[t_rows][:200].tolist(),
            "cells": int(c_rows.sum()),
            "area_km2": float(ground.cell_area_km2[c_rows].sum()),
            "people": float(pop[c_rows].sum()),
            "first_utc": iso_utc(t[steps[0]]) if len(steps) else None,
            "last_utc": iso_utc(t[steps[-1]]) if len(steps) else None,
            "max_terminals_at_once": int(per_step_terms.max()) if len(per_step_terms) else 0,
        }
    return report
