"""Scale figures, Dask part: the visibility count per cell-step before and after the counting
kernel, cell-steps per second in one process and on a local cluster of 2 workers, and the
projected time of the ``world-coverage`` example.

    .venv/bin/python benchmarks/scale_dask.py [--steps 10 190] [--region USA,CAN,MEX] [--json out.json]

Count (``kernel_section``): the case of issue 14, the 241,455 H3 resolution-5 cells (centre
rule) of Russia, Canada, the USA, Brazil, Australia and China against the real 10,281-satellite
Starlink snapshot (2026-04-30, 25 deg mask), CPU time of ``links.count_visible`` per cell-step:

* after: this tree's count (the compiled kernel of :mod:`skyfence.links.counting`);
* before: ``links/search.py`` and ``links/visibility.py`` of commit :data:`BEFORE_REV` (the
  KD-tree count that was current before the kernel) read from git and imported in this process
  (geometry is this tree's), on the first steps of the same positions; the counts are checked
  equal step for step.

Dask (``dask_section``): the ``world-coverage`` example cut to the land cells of ``--region``, run
for two lengths (``--steps``); a rate is the extra cell-steps of the longer run over its extra wall
time, so the fixed costs (ground, elements, policy) drop out.

* one process: ``skyfence.run`` (no Dask), wall time of the whole run, no map;
* 2 workers: ``skyfence.scale.engine.run_sharded`` on a ``LocalCluster`` of 2 single-thread
  processes started beforehand (its start is timed apart), one cell block per worker; the tables
  are checked equal to the one-process run's; the workers' peak resident memory is read from them;
* projection: the world's 569,676 land cells (centre rule) x 1,440 steps (288 shards of at most
  50,000 cells x 60 steps) at the measured rates, plus each shard's fixed cost (from the shorter
  2-worker run) spread over the workers; for a 64-core cluster, 64 workers at this machine's
  per-worker rate on 2 workers. The world's ground (H3 cells of all land: 185 s here, once, in the
  client) is added, and the cut's own ground (timed apart) is taken out of the fixed cost. From CPU
  seconds: the workers' CPU of each run as ``a * cell-steps + b * shards`` (``a``, ``b`` from the
  two runs), the world's as ``a * 820 M + b * 288``, over 2 or 64 idle cores.

Timings are wall clock on a shared machine, and CPU seconds (``time.process_time`` here and in
each worker) beside them: the count's figures and the projections "on idle cores" come from CPU
time, which a loaded machine changes far less; the wall-clock speed-up is only meaningful with 2
idle cores.

Measured 2026-11-27, 2 shared cores under other work (load 3-8): count 7.1-8.5 -> 0.44-0.55 us
per cell-step CPU (13-19x, counts equal); one process 1.6 M cell-steps/s wall, 2 workers 1.2 M
(0.76x: the other work took the second core), CPU 0.60 us/cell-step in one process, 0.78 in a
worker + 0.3 s per shard (1.5x on 2 idle cores); world-coverage projected at 0.20 worker
CPU-hours: 0.15 h on 2 idle cores, 0.05 h on 64. The whole run (``skyfence run --example
world-coverage --workers 2``, nice 10, load 7-10) took 22 min 15 s, workers' peak RSS ~0.5 GB.
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

import numpy as np
import pandas as pd

WORLD_CELLS = 569_676  # land cells at H3 res 5, centre rule (region "land")
WORLD_STEPS = 1440  # 24 h at 60 s
WORLD_GROUND_S = 185.0  # region_cells("land", 5, "centre") measured here
#: the commit whose links.count_visible (KD-tree blocks) is measured as "before"
BEFORE_REV = "951378d"
#: issue 14's case: the land cells of these countries at H3 resolution 5
SIX = ["RUS", "CAN", "USA", "BRA", "AUS", "CHN"]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _scenario(tmp: Path, region: str, steps: int):
    from skyfence.service.run import resolve_scenario
    from skyfence.service.scenario import example_path

    src = example_path("world-coverage").read_text()
    regions = ", ".join(f'"{r}"' for r in region.split(","))
    body = (src.replace('region = "land"', f"region = [{regions}]")
            .replace("duration_s = 86400", f"duration_s = {steps * 60}")) + "\n[output]\nmap = false\nplot = false\n"  # fmt: skip
    path = tmp / f"s{steps}.toml"
    path.write_text(body)
    return resolve_scenario(path)


def _before_count_visible(rev: str = BEFORE_REV):
    """``count_visible`` of ``rev``: its links/search.py and links/visibility.py from git, imported
    under other names in this process."""
    import importlib
    import subprocess

    root = Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="skyfence-before-"))
    for name in ("search", "visibility"):
        text = subprocess.run(["git", "show", f"{rev}:src/skyfence/links/{name}.py"], cwd=root, check=True,
                              capture_output=True, text=True).stdout  # fmt: skip
        text = (text.replace("from skyfence.links import search", "import _before_search as search")
                .replace("from skyfence.links.search import", "from _before_search import"))  # fmt: skip
        (tmp / f"_before_{name}.py").write_text(text)
    sys.path.insert(0, str(tmp))
    try:
        return importlib.import_module("_before_visibility").count_visible
    finally:
        sys.path.remove(str(tmp))


def kernel_section(steps_after: int = 10, steps_before: int = 2) -> dict:
    """CPU time of ``count_visible`` per cell-step on issue 14's six countries, before and after."""
    from skyfence.geo.cells import cell_centres
    from skyfence.geo.regions import region_cells, resolve_region
    from skyfence.links import count_visible, ground_points
    from skyfence.orbits.catalog import load_elements
    from skyfence.orbits.frames import time_grid
    from skyfence.orbits.propagate import propagate

    cells = region_cells(resolve_region(SIX), 5, "centre")
    g, up = ground_points(*cell_centres(cells))
    sat = propagate(load_elements("starlink"), time_grid("2026-04-30T00:00:00Z", steps_after * 60, 60)).r_ecef_km
    before = _before_count_visible()
    count_visible(g[:100], up[:100], sat[:, :1], 25.0)  # numba's compilation (cached on disk) not timed
    t0 = time.process_time()
    after_counts = count_visible(g, up, sat, 25.0)
    cpu_after = time.process_time() - t0
    t0 = time.process_time()
    before_counts = before(g, up, sat[:, :steps_before], 25.0)
    cpu_before = time.process_time() - t0
    assert (before_counts == after_counts[:, :steps_before]).all()
    us_after = 1e6 * cpu_after / (len(g) * steps_after)
    us_before = 1e6 * cpu_before / (len(g) * steps_before)
    out = {"cells": len(g), "satellites": sat.shape[0], "before_rev": BEFORE_REV,
           "steps_after": steps_after, "steps_before": steps_before,
           "cpu_s_per_step_after": cpu_after / steps_after, "cpu_s_per_step_before": cpu_before / steps_before,
           "us_per_cell_step_after": us_after, "us_per_cell_step_before": us_before,
           "speedup": us_before / us_after, "mean_visible": float(after_counts.mean()),
           "world_count_core_hours_after": WORLD_CELLS * WORLD_STEPS * us_after / 1e6 / 3600,
           "world_count_core_hours_before": WORLD_CELLS * WORLD_STEPS * us_before / 1e6 / 3600}  # fmt: skip
    print(f"count: {len(g):,} cells ({','.join(SIX)}, res 5) x {sat.shape[0]:,} satellites, 25 deg, "
          f"{out['mean_visible']:.1f} in view on average; CPU per step "
          f"{out['cpu_s_per_step_before']:.2f} s before ({BEFORE_REV}, {steps_before} steps), "
          f"{out['cpu_s_per_step_after']:.3f} s after ({steps_after} steps): {us_before:.2f} -> {us_after:.3f} "
          f"us/cell-step ({out['speedup']:.0f}x), counts equal; the world's count "
          f"{out['world_count_core_hours_before']:.2f} -> {out['world_count_core_hours_after']:.3f} core-hours")  # fmt: skip
    return out


def dask_section(steps: tuple[int, int] = (10, 190), region: str = "USA,CAN,MEX") -> dict:
    """The count before/after (:func:`kernel_section`, under ``"count"``), then one process vs 2
    local workers on cuts of world-coverage of two lengths (the difference is the cost of the extra
    cell-steps, fixed costs excluded); project the world."""
    import math

    from dask.distributed import Client, LocalCluster

    import skyfence
    from skyfence.scale.engine import run_sharded
    from skyfence.service.simulate import build_ground

    count = kernel_section()
    tmp = Path(tempfile.mkdtemp(prefix="skyfence-bench-"))
    scs = [_scenario(tmp, region, n) for n in steps]
    warm = _scenario(tmp, region, 1)
    skyfence.run(warm)  # gazetteer, elements, imports: paid once, outside the timings
    t_one, cpu_one, results = [], [], []
    for sc in scs:
        t0, c0 = time.perf_counter(), time.process_time()
        results.append(skyfence.run(sc))
        t_one.append(time.perf_counter() - t0)
        cpu_one.append(time.process_time() - c0)
    n_cells = len(results[0].cells)
    t0 = time.perf_counter()
    build_ground(scs[0])  # the client's share of a sharded run's fixed cost, apart from the shards
    t_ground = time.perf_counter() - t0
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           memory_limit="4GB")  # fmt: skip
    client = Client(cluster)
    t_start = time.perf_counter() - t0
    t_two, cpu_two, shards = [], [], []
    try:
        run_sharded(warm, scheduler=cluster.scheduler_address, cells_per_shard=math.ceil(n_cells / 2))  # warm workers
        for sc, one in zip(scs, results, strict=True):
            t0, c0 = time.perf_counter(), client.run(time.process_time)
            two = run_sharded(sc, scheduler=cluster.scheduler_address, cells_per_shard=math.ceil(n_cells / 2))
            t_two.append(time.perf_counter() - t0)
            c1 = client.run(time.process_time)
            cpu_two.append(sum(c1[w] - c0[w] for w in c0))  # the workers' CPU seconds
            shards.append(two.shards)
            pd.testing.assert_frame_equal(one.cells, two.cells, check_exact=True)
            assert one.summary == two.summary
        rss = client.run(_peak_rss_mb)
    finally:
        client.close()
        cluster.close()
    extra = n_cells * (steps[1] - steps[0])
    # NaN where the longer run was not slower (a loaded machine's noise beats the extra work)
    rate_one = extra / (t_one[1] - t_one[0]) if t_one[1] > t_one[0] else float("nan")
    rate_two = extra / (t_two[1] - t_two[0]) if t_two[1] > t_two[0] else float("nan")
    speedup = rate_two / rate_one
    world = WORLD_CELLS * WORLD_STEPS
    # per shard of the 2-worker runs: what a run costs beyond its cell-steps (propagation of the
    # chunk, policy, files), from the shorter run
    fixed_two = max(0.0, t_two[0] - t_ground - n_cells * steps[0] / rate_two)
    world_shards = math.ceil(WORLD_CELLS / 50_000) * math.ceil(WORLD_STEPS / 60)
    per_shard = fixed_two * 2 / max(shards[0], 1)
    per_worker = rate_two / 2
    # the same from CPU seconds (what the runs cost whatever else the machine does): one process,
    # and the workers' sum; a world run on n idle cores takes the workers' CPU / n + the ground
    cpu_rate_one = extra / max(cpu_one[1] - cpu_one[0], 1e-9)
    # the workers' CPU as a * cell-steps + b * shards, a and b from the two runs
    cs = [n_cells * n for n in steps]
    a_cpu, b_cpu = np.linalg.solve([[cs[0], shards[0]], [cs[1], shards[1]]], cpu_two)
    b_cpu = max(0.0, float(b_cpu))
    a_cpu = float(a_cpu) if b_cpu > 0 else float(cpu_two[1] / cs[1])
    cpu_rate_worker, cpu_fixed = 1.0 / a_cpu, b_cpu
    world_cpu_s = world / cpu_rate_worker + world_shards * cpu_fixed
    out = {
        "count": count, "region": region, "cells": n_cells, "steps": list(steps), "shards": shards,
        "ground_s": t_ground, "one_process_s": t_one, "two_workers_s": t_two, "cluster_start_s": t_start,
        "cell_steps_per_s_one_process": rate_one, "cell_steps_per_s_two_workers": rate_two,
        "speedup_two_workers": speedup, "worker_peak_rss_mb": sorted(rss.values()),
        "fixed_s_per_shard": per_shard, "world_cell_steps": world, "world_shards": world_shards,
        "world_hours_one_process": (world / rate_one + WORLD_GROUND_S) / 3600,
        "world_hours_two_workers": (world / rate_two + world_shards * per_shard / 2 + WORLD_GROUND_S) / 3600,
        "world_hours_64_workers": (world / (64 * per_worker) + world_shards * per_shard / 64 + WORLD_GROUND_S) / 3600,
        "one_process_cpu_s": cpu_one, "two_workers_cpu_s": cpu_two,
        "cpu_cell_steps_per_s_one_process": cpu_rate_one, "cpu_cell_steps_per_s_per_worker": cpu_rate_worker,
        "cpu_fixed_s_per_shard": cpu_fixed, "world_worker_cpu_hours": world_cpu_s / 3600,
        "cpu_speedup_2_idle_cores": 2 * cpu_rate_worker / cpu_rate_one,
        "world_hours_2_idle_cores": (world_cpu_s / 2 + WORLD_GROUND_S) / 3600,
        "world_hours_64_idle_cores": (world_cpu_s / 64 + WORLD_GROUND_S) / 3600,
    }  # fmt: skip
    print(f"dask: {n_cells:,} cells ({region}) x {steps[0]} and {steps[1]} steps; rates from the difference")
    print(f"  one process: {t_one[0]:.1f} s and {t_one[1]:.1f} s: {rate_one:,.0f} cell-steps/s "
          f"({1e6 / rate_one:.1f} us/cell-step)")  # fmt: skip
    print(f"  2 workers:   {t_two[0]:.1f} s and {t_two[1]:.1f} s ({shards} shards): {rate_two:,.0f} cell-steps/s, "
          f"speed-up {speedup:.2f}x; cluster start {t_start:.1f} s apart; fixed {per_shard:.1f} s per shard; "
          f"workers' peak RSS {sorted(round(v) for v in rss.values())} MB")  # fmt: skip
    print(f"  world-coverage ({WORLD_CELLS:,} cells x {WORLD_STEPS} steps = {world / 1e6:,.0f} M cell-steps, "
          f"{world_shards} shards), projected: {out['world_hours_one_process']:.1f} h one process, "
          f"{out['world_hours_two_workers']:.1f} h on 2 workers, {out['world_hours_64_workers']:.2f} h on 64 workers")  # fmt: skip
    print(f"  CPU: one process {1e6 / cpu_rate_one:.2f} us/cell-step, a worker {1e6 / cpu_rate_worker:.2f} us/cell-step "
          f"+ {cpu_fixed:.1f} s per shard (2 idle cores: {out['cpu_speedup_2_idle_cores']:.2f}x); world-coverage {out['world_worker_cpu_hours']:.2f} worker CPU-hours: "
          f"{out['world_hours_2_idle_cores']:.2f} h on 2 idle cores, {out['world_hours_64_idle_cores']:.2f} h on 64 "
          f"(with the ground's {WORLD_GROUND_S:.0f} s)")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, nargs=2, default=(10, 190), help="the two run lengths (steps)")
    ap.add_argument("--region", default="USA,CAN,MEX")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    report = {"dask": dask_section(tuple(args.steps), args.region), "client_peak_rss_mb": _peak_rss_mb()}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
