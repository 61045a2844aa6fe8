"""``skyfence impact``: what a policy or funding change does, versus the scenario as it stands.

Visibility is computed once; the current policy and funding and the new ones are then applied to
the same cells, terminals and steps. A terminal (cell) is *newly denied* if at some step it is
served under the current policy and denied under the new one, *restored* if the reverse happens.
Areas are the H3 cells' areas (km2), people the estimate of :mod:`skyfence.ground.population`
(GeoNames places plus each country's remaining Natural Earth ``POP_EST`` spread by area; the
report's ``people_method``) summed over the affected cells; ``first_utc`` is the first step at
which the change bites. Cells are decided for the anonymous probe (always funded), so a funding
change shows in terminals; a terminal's cells (the cells it stands in when the change bites)
count as ``cells`` / ``area_km2`` / ``people`` too.

Funding changes: ``end_funding`` ``[(sponsor, instant)]`` ends every agreement of the sponsor at
that instant (an agreement starting later is dropped); ``add_funding`` adds the agreements (and
sponsors) of funding files. The report's ``funding`` block gives the monthly cost per sponsor
before and after, and the change (negative: saved).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from skyfence.coverage.stats import DENIED, SERVED
from skyfence.errors import ScenarioError
from skyfence.ground.population import METHOD as POPULATION_METHOD
from skyfence.service.outputs import cell_population, iso_utc
from skyfence.service.scenario import Scenario, read_funding_file
from skyfence.service.simulate import (
    build_ground,
    compute_visibility,
    decide,
    load_policy_segments,
    resolve_funding,
)

__all__ = ["compare", "changed_agreements", "parse_end_funding", "fundings", "funding_change", "terminal_places"]


def parse_end_funding(text: str) -> tuple[str, np.datetime64]:
    """``SPONSOR@DATE`` (DATE ISO 8601 UTC) -> (sponsor, datetime64[ms])."""
    from skyfence.errors import FundingError
    from skyfence.funding.agreements import to_ms

    sponsor, sep, when = str(text).partition("@")
    if not sep or not sponsor or not when:
        raise ScenarioError(f"--end-funding {text!r}: expected SPONSOR@DATE, e.g. spacex@2022-10-01T00:00:00Z")
    try:
        return sponsor, to_ms(when, f"--end-funding {text!r}")
    except FundingError as exc:
        raise ScenarioError(str(exc)) from None


def changed_agreements(
    sc: Scenario, end_funding: Sequence[tuple[str, np.datetime64]] = (), add_funding: Sequence[str | Path] = ()
) -> tuple[list[str], list]:
    """(sponsors, agreements) after ending and adding funding; a sponsor to end must exist."""
    from skyfence.errors import FundingError
    from skyfence.funding.agreements import parse_agreements

    sponsors = list(sc.sponsors or [])
    ags = list(sc.agreements)
    if sc.funding_log:
        from skyfence.governance.funding import agreements_in_log

        log_sponsors, ags, _ = agreements_in_log(sc.funding_log)
        sponsors += [x for x in log_sponsors if x not in sponsors]
    for sponsor, when in end_funding:
        if sponsor not in sponsors:
            raise ScenarioError(f"--end-funding: unknown sponsor {sponsor!r} (known: {', '.join(sponsors) or 'none'})")
        ags = [a if a.sponsor != sponsor or a.end_utc <= when else dataclasses.replace(a, end_utc=when)
               for a in ags if a.sponsor != sponsor or a.start_utc < when]
    for f in add_funding:
        data = read_funding_file(Path(f), "--add-funding")
        sponsors += [s for s in data.get("sponsors", []) if s not in sponsors]
        try:
            extra = parse_agreements(data.get("agreements", []), str(f))
        except FundingError as exc:
            raise ScenarioError(f"--add-funding {f}: {exc}") from None
        clash = {a.id for a in ags} & {a.id for a in extra}
        if clash:
            raise ScenarioError(f"--add-funding {f}: agreement {sorted(clash)[0]!r} exists already")
        ags += extra
    return sponsors, ags


def _monthly_costs(fs) -> dict[tuple[str, str], float]:
    if fs is None:
        return {}
    cost = fs.cost()
    out: dict[tuple[str, str], float] = {}
    for k, a in enumerate(fs.agreements):
        for m, month in enumerate(fs.months):
            key = (a.sponsor, str(month))
            out[key] = out.get(key, 0.0) + float(cost[k, m])
    return out


def compare(
    sc: Scenario,
    new_policy_files: list[str] | None = None,
    *,
    end_funding: Sequence[tuple[str, np.datetime64]] = (),
    add_funding: Sequence[str | Path] = (),
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_decided: Callable[[object, object, object], None] | None = None,
) -> dict:
    """Impact report (a JSON-able dict) of replacing the scenario's policy by ``new_policy_files``
    (None: keep it) and changing its funding. ``on_decided(ground, current, new)`` is called with
    the ground and both :class:`~skyfence.service.simulate.Decisions` (e.g. for the impact page)."""
    ground = build_ground(sc)
    # both policy sets and both fundings are read and validated before any propagation
    old_segments = load_policy_segments(sc, ground)
    new_segments = (load_policy_segments(sc, ground, policy_files=new_policy_files) if new_policy_files is not None
                    else old_segments)
    funding_changed = bool(end_funding or add_funding)
    old_funding, new_funding = fundings(sc, ground, end_funding, add_funding)
    if on_total:
        on_total(len(ground.t_utc))
    vis = compute_visibility(sc, ground, progress=progress)
    old = decide(sc, ground, vis, segments=old_segments, funding=old_funding)
    new = decide(sc, ground, vis, policy_files=new_policy_files, segments=new_segments, funding=new_funding)
    if on_decided:
        on_decided(ground, old, new)
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
        entry = {
            "terminals": int(t_rows.sum()),
            "terminal_ids": ids[t_rows][:200].tolist(),
            "cells": int(c_rows.sum()),
            "area_km2": float(ground.cell_area_km2[c_rows].sum()),
            "people": float(pop[c_rows].sum()),
            "first_utc": iso_utc(t[steps[0]]) if len(steps) else None,
            "last_utc": iso_utc(t[steps[-1]]) if len(steps) else None,
            "max_terminals_at_once": int(per_step_terms.max()) if len(per_step_terms) else 0,
        }
        if funding_changed:
            rows = np.flatnonzero(t_rows)
            first = t_hit[rows].argmax(axis=1)
            entry.update(terminal_places(ground, rows, vis.terminal_cells[rows, first], pop))
        report[key] = entry
    if funding_changed:
        report["funding"] = funding_change(old_funding, new_funding, end_funding, add_funding)
    return report


def fundings(sc: Scenario, ground, end_funding: Sequence[tuple[str, np.datetime64]] = (),
             add_funding: Sequence[str | Path] = ()) -> tuple:  # fmt: skip
    """(current, changed) funded sets of the scenario's terminals (the same object when nothing
    changes; None without ``[funding]``), read and validated before any propagation."""
    old_funding = resolve_funding(sc, ground)
    if not (end_funding or add_funding):
        return old_funding, old_funding
    sponsors, agreements = changed_agreements(sc, end_funding, add_funding)
    return old_funding, resolve_funding(dataclasses.replace(sc, sponsors=sponsors), ground, agreements)


def terminal_places(ground, rows: np.ndarray, first_cells: np.ndarray, pop: np.ndarray) -> dict:
    """``terminal_cells`` and ``terminal_groups`` of a funding change's entry: the ground cells the
    affected terminals ``rows`` stand in when the change bites (``first_cells``, their H3 cells
    then) and how many of each group."""
    cell_index = {int(c): i for i, c in enumerate(ground.cells.tolist())}
    where = {cell_index.get(int(c), -1) for c in np.asarray(first_cells).tolist()} - {-1}
    tc = np.zeros(len(ground.cells), bool)
    tc[list(where)] = True
    groups = [";".join(g) for g in np.asarray(ground.terminals.groups, dtype=object)[rows]] if len(rows) else []
    return {"terminal_cells": {"cells": int(tc.sum()), "area_km2": float(ground.cell_area_km2[tc].sum()),
                               "people": float(pop[tc].sum())},
            "terminal_groups": {g: groups.count(g) for g in sorted(set(groups))}}  # fmt: skip


def funding_change(old_funding, new_funding, end_funding: Sequence[tuple[str, np.datetime64]],
                   add_funding: Sequence[str | Path]) -> dict:  # fmt: skip
    """The report's ``funding`` block: monthly cost per sponsor before and after, saved and added."""
    before, after = _monthly_costs(old_funding), _monthly_costs(new_funding)
    rows = [{"sponsor": s, "month": m, "cost_before": before.get((s, m), 0.0), "cost_after": after.get((s, m), 0.0),
             "change": after.get((s, m), 0.0) - before.get((s, m), 0.0)} for s, m in sorted(set(before) | set(after))]
    return {
        "ended": [{"sponsor": s, "at_utc": iso_utc(w)} for s, w in end_funding],
        "added": [str(f) for f in add_funding],
        "monthly_cost": rows,
        "cost_saved": float(-sum(r["change"] for r in rows if r["change"] < 0)),
        "cost_added": float(sum(r["change"] for r in rows if r["change"] > 0)),
    }
