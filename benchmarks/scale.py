"""Scale figures: the real Starlink snapshot's inferred +Grid, and routing over it.

    .venv/bin/python benchmarks/scale.py [--steps 20] [--json out.json]

Network (one process, one core):
* planes and slots inferred for the bundled 10,281-satellite snapshot
  (:func:`skyfence.network.planes.infer_planes` at 2026-04-30T12:00:00Z, ISL cut-off 5,000 km,
  80 km grazing altitude): shells found, planes per shell beside the nearest filed shell of
  ``starlink-gen1``, and how many satellites are placed / partial / not placed and why;
* routing time per step for the 4,950 pairs of the top-100 cities (25 deg mask, 1 s steps):
  the inferred +Grid against the 4-nearest-neighbour ISLs (each satellite to its 4 nearest at
  the first step), in the same run on the same positions; CPU time of ``route_series``
  (ground links, ISL checks, graph, Dijkstra, paths), propagation excluded. The goal of issue 14
  is at most 60 ms/step.

Dask (``--dask``, :mod:`scale_dask` beside this file): cell-steps per second in one process and on
a local cluster of 2 workers (speed-up), and the projected time of ``world-coverage`` on this
machine and on a 64-core cluster. The 1,000-city all-pairs run is not measured here yet.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/coverage.py would shadow the `coverage` package that numba probes on import
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import itertools
import json
import time

import numpy as np
import pandas as pd

from skyfence.ground.cities import bundled_cities
from skyfence.network.isl import nearest_neighbour_isls
from skyfence.network.latency import make_time_grid, satellite_ecef_km
from skyfence.network.planes import REASONS, filed_shell_match, infer_planes
from skyfence.network.routing import route_series
from skyfence.orbits.catalog import load_elements

START = "2026-04-30T12:00:00Z"
MAX_ISL_KM = 5000.0


def network(args) -> dict:
    elements = load_elements("starlink")
    t_utc = make_time_grid(START, args.steps, 1.0)
    t0 = time.process_time()
    layout = infer_planes(elements, t_utc[0], max_isl_length_km=MAX_ISL_KM)
    t_infer = time.process_time() - t0
    table = filed_shell_match(layout.shells)
    counts = layout.reason_counts()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        cols = ["inclination_deg", "altitude_km", "satellites", "planes", "slots_per_plane",
                "placed", "partial", "filed_name", "filed_planes", "filed_sats_per_plane"]  # fmt: skip
        print(table[cols].round(2).to_string(index=False))
    print(f"  inferred in {t_infer:.2f} s CPU; satellites: {counts}; {len(layout.isls):,} ISLs")

    stations = bundled_cities("top-100")
    pairs = np.array(list(itertools.combinations(range(len(stations)), 2)))
    sat = satellite_ecef_km(elements, t_utc)
    nn = nearest_neighbour_isls(sat[:, 0], k=4, max_length_km=MAX_ISL_KM)
    out = {"steps": len(t_utc), "pairs": len(pairs), "infer_cpu_s": t_infer,
           "reasons": counts, "shells": table.to_dict(orient="records")}  # fmt: skip
    # one step first so numba's compilation (cached on disk) is not timed
    route_series(sat[:, :1], layout.isls, stations.ecef_km, pairs[:1, 0], pairs[:1, 1],
                 min_elevation_deg=25.0, gs_up=stations.up)  # fmt: skip
    for name, isls in (("plus_grid", layout.isls), ("nearest_4", nn)):
        t0 = time.process_time()
        routes = route_series(
            sat, isls, stations.ecef_km, pairs[:, 0], pairs[:, 1], min_elevation_deg=25.0,
            gs_up=stations.up, max_isl_length_km=MAX_ISL_KM,
        )  # fmt: skip
        cpu = time.process_time() - t0
        rtt = routes.rtt_ms
        out[name] = {
            "isls": len(isls),
            "ms_per_step": 1000 * cpu / len(t_utc),
            "median_rtt_ms": float(np.nanmedian(rtt)),
            "disconnected_share": float(np.mean(~routes.connected)),
        }
        print(f"  {name}: {len(isls):,} ISLs, {out[name]['ms_per_step']:.0f} ms/step CPU, "
              f"median RTT {out[name]['median_rtt_ms']:.1f} ms, "
              f"disconnected {out[name]['disconnected_share']:.3f}")  # fmt: skip
    out["goal_ms_per_step"] = 60.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=20, help="1 s steps routed")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--dask", action="store_true", help="also the Dask figures (benchmarks/scale_dask.py)")
    args = ap.parse_args()
    report = {"network": network(args), "reasons": list(REASONS)}
    if args.dask:
        sys.path.append(str(Path(__file__).resolve().parent))  # last: benchmarks/coverage.py must not shadow coverage
        from scale_dask import dask_section

        report["dask"] = dask_section()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
