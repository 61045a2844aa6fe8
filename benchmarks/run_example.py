"""Benchmark (issue 3, part c): wall time of a full bundled example (default ``ukraine-crimea``,
24 h at 60 s, 10,281 Starlink satellites), stage by stage, with the bare SGP4 propagation of the
same satellites and steps as the in-process reference (ratio = whole run / bare SGP4).

    python benchmarks/run_example.py [NAME]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "ukraine-crimea"
    from skyfence.orbits.catalog import load_elements
    from skyfence.orbits.frames import julian_date_utc
    from skyfence.service.outputs import write_outputs
    from skyfence.service.scenario import example_path, load_scenario
    from skyfence.service.simulate import build_ground, compute_visibility, decide

    sc = load_scenario(example_path(name))
    stages = {}
    t0 = time.perf_counter()
    ground = build_ground(sc)
    stages["regions, cells, terminals"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    vis = compute_visibility(sc, ground)
    stages["propagation + visibility"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    dec = decide(sc, ground, vis)
    stages["Cedar decisions"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        write_outputs(sc, ground, vis, dec, Path(d))
    stages["outputs (parquet, png)"] = time.perf_counter() - t1
    total = time.perf_counter() - t0

    els = load_elements(sc.elements)
    jd, fr = julian_date_utc(ground.t_utc)
    arr = els.satrec_array()
    t1 = time.perf_counter()
    for a in range(0, len(jd), 60):
        arr.sgp4(jd[a : a + 60], fr[a : a + 60])
    bare = time.perf_counter() - t1

    n_cell, n_t = vis.cell_counts.shape
    print(f"{name}: {len(els):,} satellites x {n_t} steps, {n_cell:,} cells, {len(ground.terminals):,} terminals")
    for k, v in stages.items():
        print(f"  {k:28s} {v:8.2f} s")
    print(f"  {'total':28s} {total:8.2f} s")
    print(f"bare SatrecArray.sgp4 of the same satellites and steps: {bare:.2f} s")
    print(f"ratio whole run / bare SGP4: {total / bare:.2f}x")
    decisions = (n_cell + len(ground.terminals)) * n_t
    print(f"(cell + terminal) x step decisions: {decisions:,} in {stages['Cedar decisions']:.2f} s = "
          f"{decisions / stages['Cedar decisions']:,.0f} per second")


if __name__ == "__main__":
    main()
