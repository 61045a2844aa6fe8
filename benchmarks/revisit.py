"""Revisit benchmark: 10,000 targets over 7 days at 30 s with 200 real imaging satellites (optical
sensor, 30 deg off-nadir, no Sun constraint), skyfence against TAT-C 3.6 and skyfield.

* skyfence: :func:`skyfence.imaging.access.find_accesses` on the whole case, then
  :func:`skyfence.imaging.stats.target_stats`.
* TAT-C: ``collect_observations`` on a subset (``--tatc-sats`` x ``--tatc-points``, same period),
  its time scaled linearly to the full case (TAT-C's cost is per satellite and grows with the
  points); the subset's statistics are compared with ours on the same subset.
* skyfield: ``find_events`` (elevation threshold) on ``--skyfield-pairs`` (target, satellite) pairs,
  scaled to all pairs.

Usage: ``python benchmarks/revisit.py [--targets 10000] [--days 7] [--sats 200]``.

TAT-C's time is fitted over two point counts (``--tatc-points`` and 4x), a fixed part plus a part per
point for each group of ``--tatc-sats`` satellites, then scaled to all satellites and targets.

Usage for the figures below: ``python benchmarks/revisit.py --days 1 --tatc-sats 20 --tatc-points 400``
(and ``--days 7 --skyfence-only`` for the week).

Measured (2026-11-27, a shared 2-core machine at load average 12-25, so CPU seconds are the figures;
the wall times depend on the load), 10,000 targets x 200 satellites x **1 day** (1/7 of the full
case), in one run:

* skyfence: **28.9 s CPU** (245 s wall at load 12-25), 1,083,049 accesses (the same count as the
  previous engine's);
* TAT-C 3.6 (warmed up), 20 satellites x 400 / 1,600 points: 6.4 / 20.6 s CPU -> 1.65 s + 11.85 ms
  per point per 20 satellites -> 1,202 s CPU for the full day: skyfence **41.6x faster (CPU)**
  (an earlier run of the same fit at a lower load gave TAT-C 1,019 s: 35x against that); same
  accesses (4,707), samples (2,736) and mean revisit over points (7,471.3 s) as TAT-C on the
  20 x 400 subset; the wall-time fit (66x) is not meaningful at this load;
* skyfield ``find_events``: 5.7 ms CPU per pair x 2,000,000 pairs = 11,459 s CPU: skyfence 396x.

The full week (``--days 7 --skyfence-only``, same machine, load 18-22): skyfence **239.1 s CPU**
(1,336 s wall), 7,473,307 accesses. TAT-C was not run for the week; its 1-day fit times 7 (its cost
is linear in the period) projects 8,414 s CPU (7,133 s from the earlier fit): skyfence about 35x
(30x) faster, a projection.

Where the time went before (4.4x, 203-230 s CPU for the day) and what changed: the per-step
screen with :func:`skyfence.links.visible_pairs` (one KD-tree per 20 km band of satellites at
every step, loose elevation masks: about 70 million samples a day) is now one KD-tree of the targets
matched against a whole time chunk of satellite positions
(:class:`skyfence.links.TargetIndex`, per-satellite central angles: about 8 million samples a
day); geostationary imagers are sampled every 19 steps; the search for short accesses between
samples (248,000 golden-section searches per 2 h, 1 % of them successful) starts from the closest
approach of three samples; access ends start from the margins known at the samples; peaks come
from parabolic interpolation; the Hermite interpolant is kept in Horner form and the nadir
deflection is interpolated instead of a geodetic conversion per evaluation.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from skyfence.imaging.access import find_accesses
from skyfence.imaging.sensors import Sensor
from skyfence.imaging.stats import target_stats
from skyfence.orbits.catalog import load_elements

START = "2025-10-07T00:00:00"
SPEC = "active-2025-10-07:FLOCK*,SKYSAT*,JILIN-1*,SUPERVIEW*,GAOFEN*,ICEYE*"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=10_000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--sats", type=int, default=200)
    ap.add_argument("--tatc-sats", type=int, default=5)
    ap.add_argument("--tatc-points", type=int, default=100)
    ap.add_argument("--skyfield-pairs", type=int, default=20)
    ap.add_argument("--skyfence-only", action="store_true", help="time skyfence alone (no TAT-C, no skyfield)")
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    lat = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-60)), np.sin(np.radians(60)), a.targets)))
    lon = rng.uniform(-180, 180, a.targets)
    els = load_elements(SPEC).subset(np.arange(a.sats))
    sensor = Sensor(kind="optical", max_off_nadir_deg=30.0)
    dur = a.days * 86400
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    t, c = time.perf_counter(), time.process_time()
    acc = find_accesses(els, sensor, lat, lon, start=START, duration_s=dur, step_s=30.0)
    st = target_stats(acc, a.targets, start=START, duration_s=dur)
    t_sky, c_sky = time.perf_counter() - t, time.process_time() - c
    print(f"skyfence: {a.targets} targets x {len(els)} satellites x {a.days} days at 30 s: {t_sky:.1f} s wall, "
          f"{c_sky:.1f} s CPU, {len(acc)} accesses, mean revisit {np.nanmean(st.revisit_mean_s) / 3600:.2f} h; "
          f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if a.skyfence_only:
        return

    from sgp4.exporter import export_tle
    from shapely.geometry import Point
    from tatc.analysis import aggregate_observations, collect_observations, reduce_observations
    from tatc.schemas import Instrument, Satellite, TwoLineElements

    sub_s, sub_p = np.arange(a.tatc_sats), np.arange(a.tatc_points)
    sats = [Satellite(name=els.names[i], orbit=TwoLineElements(tle=list(export_tle(els.satrecs[i]))),
                      instruments=[Instrument(field_of_regard=60.0)]) for i in sub_s]
    t0 = datetime(2025, 10, 7, tzinfo=UTC)
    # warm-up (numba compiles TAT-C's kernels on first use), not timed
    reduce_observations(aggregate_observations(collect_observations([Point(lon[0], lat[0])], sats[:1], t0,
                                                                    t0 + timedelta(hours=6))))
    cpu, wall = [], []
    for n in (a.tatc_points, 4 * a.tatc_points):
        c, t = time.process_time(), time.perf_counter()
        obs = collect_observations([Point(lon[i], lat[i]) for i in range(n)], sats, t0, t0 + timedelta(seconds=dur))
        red = reduce_observations(aggregate_observations(obs))
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    # TAT-C's CPU time per satellite: a fixed part plus a part per point (a line through both runs)
    per_point = (cpu[1] - cpu[0]) / (3 * a.tatc_points)
    fixed = cpu[0] - per_point * a.tatc_points
    full = (fixed + per_point * a.targets) * len(els) / a.tatc_sats
    per_point_w = (wall[1] - wall[0]) / (3 * a.tatc_points)
    full_w = (wall[0] - per_point_w * a.tatc_points + per_point_w * a.targets) * len(els) / a.tatc_sats
    print(f"TAT-C 3.6: {a.tatc_sats} satellites x {a.tatc_points} / {4 * a.tatc_points} points: {cpu[0]:.1f} / "
          f"{cpu[1]:.1f} s CPU; scaled to the full case ({fixed:.2f} s + {per_point * 1e3:.2f} ms per point, per "
          f"{a.tatc_sats} satellites): {full:.0f} s CPU -> skyfence {full / c_sky:.1f}x faster (CPU); "
          f"wall {wall[0]:.1f} / {wall[1]:.1f} s scaled the same way: {full_w:.0f} s -> {full_w / t_sky:.1f}x (wall)")
    obs = collect_observations([Point(lon[i], lat[i]) for i in sub_p], sats, t0, t0 + timedelta(seconds=dur))
    red = reduce_observations(aggregate_observations(obs))
    mine = find_accesses(els.subset(sub_s), sensor, lat[sub_p], lon[sub_p], start=START, duration_s=dur)
    ms = target_stats(mine, len(sub_p), start=START, duration_s=dur)
    print(f"  same subset: {len(mine)} accesses (TAT-C {len(obs)}), samples {int(ms.n_accesses.sum())} "
          f"(TAT-C {int(red.samples.sum())}), mean revisit over points {np.nanmean(ms.revisit_mean_s):.1f} s "
          f"(TAT-C {red.revisit.dt.total_seconds().mean():.1f} s)")

    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    t_a, t_b = ts.from_datetime(t0), ts.from_datetime(t0 + timedelta(seconds=dur))
    t = time.perf_counter()
    c = time.process_time()
    for _ in range(a.skyfield_pairs):
        i, j = int(rng.integers(a.targets)), int(rng.integers(len(els)))
        EarthSatellite.from_satrec(els.satrecs[j], ts).find_events(wgs84.latlon(lat[i], lon[i]), t_a, t_b,
                                                                    altitude_degrees=56.0)
    per_pair, cpu_pair = (time.perf_counter() - t) / a.skyfield_pairs, (time.process_time() - c) / a.skyfield_pairs
    n_pairs = a.targets * len(els)
    print(f"skyfield find_events: {per_pair:.3f} s per pair x {n_pairs} pairs = {per_pair * n_pairs:.0f} s wall, "
          f"{cpu_pair * n_pairs:.0f} s CPU (scaled from {a.skyfield_pairs} pairs) -> skyfence "
          f"{per_pair * n_pairs / t_sky:.0f}x faster (wall), {cpu_pair * n_pairs / c_sky:.0f}x (CPU)")


if __name__ == "__main__":
    main()
