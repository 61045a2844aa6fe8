"""RTT between all 4,950 pairs of the top-100 cities, every 100 ms for 20 s: skyfence vs Hypatia.

    .venv/bin/python benchmarks/latency.py [--steps 200] [--baseline-steps 2] [--starlink-steps 200] [--json out.json]

Scenario 1 — Hypatia's Kuiper-630 run (tests/data/hypatia-kuiper-630): its tles.txt (34x34 at 630 km),
its +Grid isls.txt, the 100 cities of its ground_stations.txt (their ECEF as given), GSL range
cut-off 1,260 km, ISL cut-off 5,442.958 km, "free one only over ISLs" routing, 200 steps of 100 ms
from 2000-01-01T00:00:00Z, Earth turned by GMST of UTC as Hypatia (PyEphem) does. Timed: propagation (SGP4 -> ECEF) + graph + Dijkstra + paths for every
pair and step (the in-memory result; writing the 990,000-row table is timed separately).

Compared against:
* Hypatia's measured cost on this kind of machine (its README): ~900 s wall for 172 steps with
  2 threads, i.e. ~5.2 s per step, ~1,040 s for 200 steps (a constant, not re-measured here);
* in process, a straightforward per-pair approach: for each pair, a graph with the satellites and
  just those two stations, one scipy Dijkstra from the source — timed on a few steps, extrapolated,
  and checked to give the same RTTs.
The five pairs of Hypatia's rtt.csv are checked against it (max |dRTT| and paths that differ).

Scenario 2 — the real 10,281-satellite Starlink snapshot (``load_elements("starlink")``), the same
100 cities and 4,950 pairs, 25 deg elevation mask, from 2026-04-30T12:00:00Z. Real TLEs carry no
plane/slot numbering: ``isl="plus-grid"`` builds the +Grid on the planes and slots inferred at the
first step (:mod:`skyfence.network.planes`), each link checked per step against a 5,000 km length
cut-off and the 80 km grazing-altitude occlusion test. benchmarks/scale.py compares it with
4-nearest-neighbour ISLs.
Hypatia cannot run this.
"""

# ruff: noqa: E402
from __future__ import annotations

import argparse
import csv
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pandas  # noqa: F401  (imported before timing: its import is not part of a run)
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from skyfence.ground.cities import bundled_cities
from skyfence.ground.stations import read_ground_stations
from skyfence.links import visible_pairs
from skyfence.network.isl import read_isls, valid_isl_mask
from skyfence.network.latency import latency, make_time_grid, satellite_ecef_km
from skyfence.network.routing import rtt_ms_from_length_km
from skyfence.orbits.catalog import load_elements

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "hypatia-kuiper-630"
HYPATIA_S_PER_STEP = 900.0 / 172  # measured wall time of Hypatia's satgenpy, 2 threads (README)
HYPATIA_CPU_S_PER_STEP = 1070.0 / 172  # its CPU time (README)
MAX_GSL_KM = 1260.0
MAX_ISL_KM = 5442.9582030362869


def per_pair_step(sat_ecef_km, isl_pairs, gs_ecef_km, pairs, max_gsl_km):
    """The straightforward way: one graph (satellites + the two stations) and one Dijkstra per pair."""
    n = len(sat_ecef_km)
    ok = valid_isl_mask(sat_ecef_km, isl_pairs, max_length_km=MAX_ISL_KM, grazing_alt_km=None)
    e = isl_pairs[ok]
    w = np.linalg.norm(sat_ecef_km[e[:, 0]] - sat_ecef_km[e[:, 1]], axis=1)
    out = np.empty(len(pairs))
    for k, (a, b) in enumerate(pairs):
        la = visible_pairs(
            gs_ecef_km[[a]], None, sat_ecef_km, max_range_km=max_gsl_km, azimuth=False
        )
        lb = visible_pairs(
            gs_ecef_km[[b]], None, sat_ecef_km, max_range_km=max_gsl_km, azimuth=False
        )
        rows = np.concatenate([e[:, 0], e[:, 1], np.full(len(la.sat), n), lb.sat])
        cols = np.concatenate([e[:, 1], e[:, 0], la.sat, np.full(len(lb.sat), n + 1)])
        vals = np.concatenate([w, w, la.range_km, lb.range_km])
        g = csr_matrix((vals, (rows, cols)), shape=(n + 2, n + 2))
        out[k] = dijkstra(g, directed=True, indices=n)[n + 1]
    return rtt_ms_from_length_km(out)


def kuiper(args) -> dict:
    stations = read_ground_stations(DATA / "ground_stations.txt")
    pairs = list(itertools.combinations(range(len(stations)), 2))
    t_utc = make_time_grid("2000-01-01T00:00:00Z", args.steps * 0.1, 0.1)

    t0 = time.perf_counter()
    elements = load_elements(str(DATA / "tles.txt"))
    isls = read_isls(DATA / "isls.txt", len(elements))
    t_load = time.perf_counter() - t0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    sat = satellite_ecef_km(elements, t_utc, earth_rotation="utc")  # as Hypatia (PyEphem)
    t_prop = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = latency(
        elements,
        pairs,
        stations=stations,
        t_utc=t_utc,
        isl=isls,
        max_isl_length_km=MAX_ISL_KM,
        grazing_alt_km=None,
        max_gsl_range_km=MAX_GSL_KM,
        sat_ecef_km=sat,
    )
    t_route = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = res.summary()
    t_summary = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    t0 = time.perf_counter()
    table = res.table()
    t_table = time.perf_counter() - t0
    wall = t_prop + t_route + t_summary

    # in-process reference: per pair, a few steps
    base_steps = list(range(min(args.baseline_steps, len(t_utc))))
    t0 = time.perf_counter()
    base = [
        per_pair_step(sat[:, s, :], isls, stations.ecef_km, pairs, MAX_GSL_KM) for s in base_steps
    ]
    t_base = (time.perf_counter() - t0) / max(1, len(base_steps))
    base_diff = max(
        float(np.nanmax(np.abs(b - res.rtt_ms[s]))) if np.isfinite(b).any() else 0.0
        for s, b in zip(base_steps, base, strict=True)
    )
    base_nan_same = all(
        np.array_equal(np.isnan(b), np.isnan(res.rtt_ms[s]))
        for s, b in zip(base_steps, base, strict=True)
    )

    # Hypatia's own numbers for its five pairs
    pair_index = {p: k for k, p in enumerate(pairs)}
    max_diff, n_rows, diff_paths = 0.0, 0, []
    with open(DATA / "rtt.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            t = int(r["t_ns"]) // 100_000_000
            if t >= len(t_utc):
                continue
            a, b = int(r["src_gs"]), int(r["dst_gs"])
            p = pair_index[(min(a, b), max(a, b))]
            path = res.routes.path(t, p)
            if a > b:
                path = path[::-1]
            n_rows += 1
            if "-".join(map(str, path)) == r["path"]:
                max_diff = max(max_diff, abs(res.rtt_ms[t, p] - float(r["rtt_ms"])))
            else:
                diff_paths.append((int(r["t_ns"]), r["src_name"], r["dst_name"]))

    n_steps = len(t_utc)
    hypatia_s = HYPATIA_S_PER_STEP * n_steps
    base_total = t_base * n_steps
    out = {
        "steps": n_steps,
        "pairs": len(pairs),
        "load_s": t_load,
        "propagate_s": t_prop,
        "route_s": t_route,
        "summary_s": t_summary,
        "wall_s": wall,
        "cpu_s": cpu,
        "hypatia_cpu_s_reference": HYPATIA_CPU_S_PER_STEP * n_steps,
        "speedup_vs_hypatia_cpu": HYPATIA_CPU_S_PER_STEP * n_steps / cpu,
        "table_rows": len(table),
        "table_build_s": t_table,
        "ms_per_step": 1000 * wall / n_steps,
        "hypatia_s_reference": hypatia_s,
        "speedup_vs_hypatia": hypatia_s / wall,
        "per_pair_s_per_step": t_base,
        "per_pair_extrapolated_s": base_total,
        "speedup_vs_per_pair": base_total / wall,
        "per_pair_max_rtt_diff_ms": base_diff,
        "per_pair_same_disconnected": base_nan_same,
        "hypatia_rows_checked": n_rows,
        "hypatia_max_rtt_diff_ms_same_path": max_diff,
        "hypatia_rows_different_path": diff_paths,
        "disconnected_share": float(summary["disconnected_share"].mean()),
        "total_path_changes": int(summary["path_changes"].sum()),
    }
    print(f"Kuiper-630 (Hypatia scenario): {len(pairs)} pairs x {n_steps} steps of 100 ms")
    print(
        f"  propagate {t_prop:.3f} s, route {t_route:.3f} s, summary {t_summary:.3f} s -> wall {wall:.2f} s "
        f"({out['ms_per_step']:.1f} ms/step); building the {len(table):,}-row table {t_table:.2f} s more"
    )
    print(
        f"  Hypatia (README constant, 5.23 s/step): {hypatia_s:.0f} s -> {out['speedup_vs_hypatia']:.0f}x faster"
    )
    print(
        f"  CPU {cpu:.2f} s vs Hypatia's ~{HYPATIA_CPU_S_PER_STEP * n_steps:.0f} s CPU "
        f"-> {out['speedup_vs_hypatia_cpu']:.0f}x (less sensitive to other load on the machine)"
    )
    print(
        f"  per-pair Dijkstra in process: {t_base:.2f} s/step ({len(base_steps)} steps timed) -> "
        f"{base_total:.0f} s for {n_steps} steps -> {out['speedup_vs_per_pair']:.0f}x; "
        f"max |dRTT| {base_diff:.2e} ms, same disconnected steps: {base_nan_same}"
    )
    print(
        f"  vs Hypatia rtt.csv: {n_rows} rows, max |dRTT| (same path) {max_diff:.6f} ms, "
        f"different path: {diff_paths}"
    )
    return out


def starlink(args) -> dict:
    stations = bundled_cities("top-100")
    pairs = list(itertools.combinations(range(len(stations)), 2))
    t_utc = make_time_grid("2026-04-30T12:00:00Z", args.starlink_steps * 0.1, 0.1)
    t0 = time.perf_counter()
    elements = load_elements("starlink")
    t_load = time.perf_counter() - t0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    sat = satellite_ecef_km(elements, t_utc)
    t_prop = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = latency(
        elements,
        pairs,
        stations=stations,
        t_utc=t_utc,
        isl="plus-grid",
        max_isl_length_km=5000.0,
        min_elevation_deg=25.0,
        sat_ecef_km=sat,
    )
    t_route = time.perf_counter() - t0
    summary = res.summary()
    cpu = time.process_time() - cpu0
    wall = t_prop + t_route
    out = {
        "satellites": len(elements),
        "steps": len(t_utc),
        "pairs": len(pairs),
        "load_s": t_load,
        "propagate_s": t_prop,
        "route_s": t_route,
        "wall_s": wall,
        "cpu_s": cpu,
        "ms_per_step": 1000 * wall / len(t_utc),
        "median_rtt_ms": float(np.nanmedian(res.rtt_ms)),
        "disconnected_share": float(summary["disconnected_share"].mean()),
    }
    print(
        f"Starlink snapshot: {len(elements)} satellites, {len(pairs)} pairs x {len(t_utc)} steps, 25 deg mask, "
        f"inferred +Grid ISLs"
    )
    print(
        f"  propagate {t_prop:.2f} s, route {t_route:.2f} s -> wall {wall:.2f} s, CPU {cpu:.2f} s ({out['ms_per_step']:.0f} ms/step); "
        f"median RTT {out['median_rtt_ms']:.1f} ms, disconnected share {out['disconnected_share']:.3f}"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--baseline-steps", type=int, default=2)
    ap.add_argument("--starlink-steps", type=int, default=200, help="0 skips the Starlink run")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    report = {"kuiper_630": kuiper(args)}
    if args.starlink_steps > 0:
        report["starlink"] = starlink(args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
