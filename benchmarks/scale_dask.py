"""Scale figures, Dask part: cell-steps per second in one process and on a local cluster of 2
workers, and the projected time of the ``world-coverage`` example.

    .venv/bin/python benchmarks/scale_dask.py [--steps 10] [--region FRA,DEU,POL] [--json out.json]

Input: the ``world-coverage`` example (real 10,281-satellite Starlink snapshot, 60 s steps, H3
resolution 5, cell centres on land) cut to the land cells of ``--region`` and ``--steps`` steps.

* one process: ``skyfence.run`` (no Dask), wall time of the whole run (ground, propagation,
  visibility, statistics), no map;
* 2 workers: ``skyfence.scale.engine.run_sharded`` on a ``LocalCluster`` of 2 single-thread
  processes started beforehand (its start is timed apart), same scenario; the tables are checked
  equal to the one-process run's; the workers' peak resident memory is read from the workers;
* projection: the world's 569,676 land cells (centre rule) x 1,440 steps at the measured rates;
  for a 64-core cluster, 64 workers at this machine's per-worker rate times the 2-worker
  efficiency (speed-up / 2). The ground of the world (H3 cells of all land: 185 s here, once, in
  the client) is added to both.

Timings are wall clock on a shared machine; the speed-up is only meaningful with 2 idle cores.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import resource
import tempfile
import time

import pandas as pd

WORLD_CELLS = 569_676  # land cells at H3 res 5, centre rule (region "land")
WORLD_STEPS = 1440  # 24 h at 60 s
WORLD_GROUND_S = 185.0  # region_cells("land", 5, "centre") measured here


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dask_section(steps: int = 10, region: str = "FRA,DEU,POL") -> dict:
    """Measure one process vs 2 local workers on a cut of world-coverage; project the world."""
    from dask.distributed import Client, LocalCluster

    import skyfence
    from skyfence.scale.engine import run_sharded
    from skyfence.service.run import resolve_scenario
    from skyfence.service.scenario import example_path

    src = example_path("world-coverage").read_text()
    regions = ", ".join(f'"{r}"' for r in region.split(","))
    body = (src.replace('region = "land"', f"region = [{regions}]")
            .replace("duration_s = 86400", f"duration_s = {steps * 60}")) + "\n[output]\nmap = false\nplot = false\n"  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="skyfence-bench-"))
    (tmp / "scenario.toml").write_text(body)
    sc = resolve_scenario(tmp / "scenario.toml")

    t0 = time.perf_counter()
    one = skyfence.run(sc)
    t_one = time.perf_counter() - t0
    n_cells = len(one.cells)
    cell_steps = n_cells * steps

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           memory_limit="4GB")  # fmt: skip
    client = Client(cluster)
    t_start = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        two = run_sharded(sc, scheduler=cluster.scheduler_address)
        t_two = time.perf_counter() - t0
        rss = client.run(_peak_rss_mb)
    finally:
        client.close()
        cluster.close()
    pd.testing.assert_frame_equal(one.cells, two.cells, check_exact=True)
    assert one.summary == two.summary

    rate_one, rate_two = cell_steps / t_one, cell_steps / t_two
    speedup = t_one / t_two
    world = WORLD_CELLS * WORLD_STEPS
    per_worker = rate_two / 2
    out = {
        "region": region, "cells": n_cells, "steps": steps, "cell_steps": cell_steps, "shards": two.shards,
        "one_process_s": t_one, "two_workers_s": t_two, "cluster_start_s": t_start,
        "cell_steps_per_s_one_process": rate_one, "cell_steps_per_s_two_workers": rate_two,
        "speedup_two_workers": speedup, "worker_peak_rss_mb": sorted(rss.values()),
        "world_cell_steps": world,
        "world_hours_one_process": (world / rate_one + WORLD_GROUND_S) / 3600,
        "world_hours_two_workers": (world / rate_two + WORLD_GROUND_S) / 3600,
        "world_hours_64_workers": (world / (64 * per_worker) + WORLD_GROUND_S) / 3600,
    }  # fmt: skip
    print(f"dask: {n_cells:,} cells x {steps} steps = {cell_steps:,} cell-steps ({region}), {two.shards} shards")
    print(f"  one process: {t_one:.1f} s, {rate_one:,.0f} cell-steps/s ({1e6 / rate_one:.1f} us/cell-step)")
    print(f"  2 workers:   {t_two:.1f} s, {rate_two:,.0f} cell-steps/s, speed-up {speedup:.2f}x "
          f"(cluster start {t_start:.1f} s apart); workers' peak RSS {sorted(round(v) for v in rss.values())} MB")  # fmt: skip
    print(f"  world-coverage ({WORLD_CELLS:,} cells x {WORLD_STEPS} steps = {world / 1e6:,.0f} M cell-steps), projected: "
          f"{out['world_hours_one_process']:.1f} h one process, {out['world_hours_two_workers']:.1f} h on 2 workers, "
          f"{out['world_hours_64_workers']:.2f} h on 64 workers")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--region", default="FRA,DEU,POL")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    report = {"dask": dask_section(args.steps, args.region), "client_peak_rss_mb": _peak_rss_mb()}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
