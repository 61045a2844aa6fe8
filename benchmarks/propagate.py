"""Benchmark: ECEF positions of starlink-gen1 (4,408 satellites) x 1,440 one-minute steps.

Prints, from one run in one process:
  (a) skyfence.propagate + ECEF  vs  the bare SatrecArray.sgp4 call in TEME   (goal <= 1.3x)
  (b) skyfence                   vs  skyfield ITRS positions satellite by satellite (goal >= 10x faster;
      skyfield is timed on a sample of satellites and scaled to all 4,408)
and the largest ECEF difference between the two on the sample.

    python benchmarks/propagate.py [--sample N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=100, help="satellites timed with skyfield")
    args = ap.parse_args()

    from sgp4.exporter import export_tle
    from skyfield.api import EarthSatellite, load
    from skyfield.framelib import itrs

    from skyfence.orbits.catalog import load_elements
    from skyfence.orbits.frames import julian_date_utc, time_grid
    from skyfence.orbits.propagate import propagate

    els = load_elements("starlink-gen1", epoch_utc="2026-04-30T00:00:00")
    t = time_grid("2026-04-30T00:00:00Z", 86_400, 60)
    jd, fr = julian_date_utc(t)
    arr = els.satrec_array()

    def best(f, n=3):
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            f()
            out.append(time.perf_counter() - t0)
        return min(out)

    t_bare = best(lambda: arr.sgp4(jd, fr))
    t_ours = best(lambda: propagate(els, t).r_ecef_km)
    eph = propagate(els, t)

    ts = load.timescale(builtin=True)
    secs = (t - t[0]).astype("int64") / 1e9
    tt = ts.utc(2026, 4, 30, 0, 0, secs)
    idx = np.linspace(0, len(els) - 1, args.sample).astype(int)
    sats = [EarthSatellite(*export_tle(els.satrecs[i])) for i in idx]
    t0 = time.perf_counter()
    worst = 0.0
    for k, s in zip(idx, sats, strict=True):
        r = s.at(tt).frame_xyz(itrs).km.T
        worst = max(worst, float(np.nanmax(np.linalg.norm(r - eph.r_ecef_km[k], axis=-1))))
    t_sky = (time.perf_counter() - t0) * len(els) / len(idx)

    n = len(els) * len(t)
    print(f"satellites x steps: {len(els)} x {len(t)} = {n:,} positions")
    print(f"bare SatrecArray.sgp4 (TEME)      : {t_bare:8.3f} s")
    print(f"skyfence propagate + ECEF         : {t_ours:8.3f} s")
    print(f"skyfield ITRS, per satellite (est.): {t_sky:8.3f} s  (timed on {len(idx)} satellites)")
    print(f"(a) skyfence / bare sgp4 ratio    : {t_ours / t_bare:6.2f}x   (goal <= 1.3x)")
    print(f"(b) skyfield / skyfence speed-up  : {t_sky / t_ours:6.1f}x   (goal >= 10x)")
    print(f"max |ECEF skyfence - skyfield ITRS| on the sample: {worst * 1000:.2f} m")


if __name__ == "__main__":
    main()
