"""The impact page's view data: a run's view of the new decisions plus the current ones.

Files (``meta.json``'s ``kind`` is ``"impact"``): those of the run view
(:func:`skyfence.viz.web.run_view_files`) with the states under the *new* policy or funding, plus
``cell_events_before.arrow`` / ``terminal_events_before.arrow``, the states as things stand (the
terminals' with the policies that decided them, labelled by ``meta.json``'s ``deciding_before``);
the cells and terminals tables gain ``newly_denied_steps`` / ``restored_steps`` (steps served before
and denied after, and the reverse) and ``meta.json`` carries the impact report.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd

from skyfence.coverage.stats import DENIED, SERVED
from skyfence.geo import cells as h3cells
from skyfence.viz.web import deciding_labels, ipc_bytes, meta_bytes, run_view_files, state_events

__all__ = ["impact_view_files"]


def _changes(before: np.ndarray, after: np.ndarray) -> dict[str, np.ndarray]:
    return {"newly_denied_steps": ((before == SERVED) & (after == DENIED)).sum(axis=1),
            "restored_steps": ((before == DENIED) & (after == SERVED)).sum(axis=1)}  # fmt: skip


def impact_view_files(report: dict, ground, before, after) -> dict[str, bytes]:
    """The view data of an impact report (:func:`skyfence.service.impact.compare`), given the
    ground and the current and new decisions it passes to ``on_decided``; file name -> bytes."""
    n_t = len(ground.t_utc)
    n_term = len(ground.terminals)
    c_before = np.asarray(before.cell_states, np.int8)
    c_after = np.asarray(after.cell_states, np.int8)
    t_before = np.asarray(before.terminal_states, np.int8).reshape(n_term, n_t)
    t_after = np.asarray(after.terminal_states, np.int8).reshape(n_term, n_t)
    names = ground.regions.cell_region_names(ground.cells) if len(ground.regions) else [()] * len(ground.cells)
    cells = pd.DataFrame({
        "h3": h3cells.cells_to_str(ground.cells), "lat_deg": ground.cell_lat_deg, "lon_deg": ground.cell_lon_deg,
        "area_km2": ground.cell_area_km2, **_changes(c_before, c_after), "regions": ["; ".join(n) for n in names],
    })  # fmt: skip
    lat = np.full(n_term, np.nan)
    lon = np.full(n_term, np.nan)
    if n_term:
        p_lat, p_lon = (np.atleast_2d(a) for a in ground.terminals.positions(n_t))
        ok = np.isfinite(p_lat) & np.isfinite(p_lon) & np.atleast_2d(ground.terminals.present(n_t))
        first = ok.argmax(axis=1)
        rows = np.flatnonzero(ok.any(axis=1))
        lat[rows], lon[rows] = p_lat[rows, first[rows]], p_lon[rows, first[rows]]
    terminals = pd.DataFrame({
        "id": [str(i) for i in ground.terminals.ids],
        "group": [";".join(g) if isinstance(g, list | tuple) else str(g) for g in ground.terminals.groups],
        "lat_deg": lat, "lon_deg": lon, **_changes(t_before, t_after),
    })  # fmt: skip
    result = SimpleNamespace(summary=report, cells=cells, terminals=terminals, ground=ground, decisions=after)
    files = run_view_files(result)
    meta = {**json.loads(files["meta.json"]), "kind": "impact",
            "deciding_before": deciding_labels(getattr(before, "reason_labels", ()))}
    return {**files, "meta.json": meta_bytes(meta),
            "cell_events_before.arrow": ipc_bytes(state_events(c_before)),
            "terminal_events_before.arrow": ipc_bytes(state_events(t_before, getattr(before, "terminal_reasons", None)))}  # fmt: skip
