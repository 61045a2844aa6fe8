"""Revisit benchmark: 10,000 targets over 7 days at 30 s with 200 real imaging satellites (optical
sensor, 30 deg off-nadir, no Sun constraint), skyfence against TAT-C 3.6 and skyfield.

* skyfence: :func:`skyfence.revisit.access.find_accesses` on the whole case, then
  :func:`skyfence.revisit.stats.target_stats`.
* TAT-C: ``collect_observations`` on a subset (``--tatc-sats`` x ``--tatc-points``, same period),
  its time scaled linearly to the full case (TAT-C's cost is per satellite and grows with the
  points); the subset's statistics are compared with ours on the same subset.
* skyfield: ``find_events`` (elevation threshold) on ``--skyfield-pairs`` (target, satellite) pairs,
  scaled to all pairs.

Usage: ``python benchmarks/revisit.py [--targets 10000] [--days 7] [--sats 200]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from skyfence.orbits.catalog import load_elements
from skyfence.revisit.access import find_accesses
from skyfence.revisit.sensors import Sensor
from skyfence.revisit.stats import target_stats

START = "2025-10-07T00:00:00"
SPEC = "active-2025-10-07:FLOCK*,SKYSAT*,JILIN-1*,SUPERVIEW*,GAOFEN*,ICEYE*"


def main() -> None:
    # benchmarks/coverage.py would shadow the coverage package that numba (under TAT-C) probes for
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=10_000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--sats", type=int, default=200)
    ap.add_argument("--tatc-sats", type=int, default=5)
    ap.add_argument("--tatc-points", type=int, default=100)
    ap.add_argument("--skyfield-pairs", type=int, default=20)
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    lat = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-60)), np.sin(np.radians(60)), a.targets)))
    lon = rng.uniform(-180, 180, a.targets)
    els = load_elements(SPEC).subset(np.arange(a.sats))
    sensor = Sensor(kind="optical", max_off_nadir_deg=30.0)
    dur = a.days * 86400
    t = time.perf_counter()
    acc = find_accesses(els, sensor, lat, lon, start=START, duration_s=dur, step_s=30.0)
    st = target_stats(acc, a.targets, start=START, duration_s=dur)
    t_sky = time.perf_counter() - t
    print(f"skyfence: {a.targets} targets x {len(els)} satellites x {a.days} days at 30 s: {t_sky:.1f} s, "
          f"{len(acc)} accesses, mean revisit {np.nanmean(st.revisit_mean_s) / 3600:.2f} h")

    from sgp4.exporter import export_tle
    from shapely.geometry import Point
    from tatc.analysis import aggregate_observations, collect_observations, reduce_observations
    from tatc.schemas import Instrument, Satellite, TwoLineElements

    sub_s, sub_p = np.arange(a.tatc_sats), np.arange(a.tatc_points)
    sats = [Satellite(name=els.names[i], orbit=TwoLineElements(tle=list(export_tle(els.satrecs[i]))),
                      instruments=[Instrument(field_of_regard=60.0)]) for i in sub_s]
    t0 = datetime(2025, 10, 7, tzinfo=UTC)
    t = time.perf_counter()
    obs = collect_observations([Point(lon[i], lat[i]) for i in sub_p], sats, t0, t0 + timedelta(seconds=dur))
    red = reduce_observations(aggregate_observations(obs))
    t_tatc = time.perf_counter() - t
    scale = (len(els) / a.tatc_sats) * (a.targets / a.tatc_points)
    print(f"TAT-C 3.6: {a.tatc_points} points x {a.tatc_sats} satellites: {t_tatc:.1f} s; scaled x{scale:.0f} "
          f"to the full case: {t_tatc * scale:.0f} s -> skyfence {t_tatc * scale / t_sky:.0f}x faster")
    mine = find_accesses(els.subset(sub_s), sensor, lat[sub_p], lon[sub_p], start=START, duration_s=dur)
    ms = target_stats(mine, len(sub_p), start=START, duration_s=dur)
    print(f"  same subset: {len(mine)} accesses (TAT-C {len(obs)}), samples {int(ms.n_accesses.sum())} "
          f"(TAT-C {int(red.samples.sum())}), mean revisit over points {np.nanmean(ms.revisit_mean_s):.1f} s "
          f"(TAT-C {red.revisit.dt.total_seconds().mean():.1f} s)")

    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    t_a, t_b = ts.from_datetime(t0), ts.from_datetime(t0 + timedelta(seconds=dur))
    t = time.perf_counter()
    for _ in range(a.skyfield_pairs):
        i, j = int(rng.integers(a.targets)), int(rng.integers(len(els)))
        EarthSatellite.from_satrec(els.satrecs[j], ts).find_events(wgs84.latlon(lat[i], lon[i]), t_a, t_b,
                                                                    altitude_degrees=56.0)
    per_pair = (time.perf_counter() - t) / a.skyfield_pairs
    n_pairs = a.targets * len(els)
    print(f"skyfield find_events: {per_pair:.3f} s per pair x {n_pairs} pairs = {per_pair * n_pairs:.0f} s "
          f"(scaled from {a.skyfield_pairs} pairs) -> skyfence {per_pair * n_pairs / t_sky:.0f}x faster")


if __name__ == "__main__":
    main()
