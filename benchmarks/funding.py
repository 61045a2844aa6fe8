"""Funding benchmark: resolving who pays for 100,000 terminals x 1,440 steps x 50 agreements, and
the share funding takes of a full ``skyfence run``.

Part (a), resolution (``skyfence.funding.resolve.resolve``): 100,000 fixed terminals with 1-3 of
20 groups each and one of 12 named-region sets, 1,440 steps of 30 min (30 days across a month
boundary), 50 agreements: 20 by group, 15 by region, 10 by terminal list (1,000 ids each), with
overlaps, gaps, 12 monthly caps, 5 total budgets and grace periods. Times ``resolve`` and the
dense ``funded`` [T, S] array the run's outputs read.

Part (b), share of a run: ``skyfence.run`` of the bundled ``ukraine-funding`` example with its
2,000 terminals replaced by a seeded fleet of ``--run-terminals`` terminals in the same groups, at
``--run-steps`` steps; the funding part is ``resolve_funding`` plus the evaluator's funding
classes (timed by wrapping them), the rest is the run. Part (c) extrapolates (b)'s seconds per terminal-step to (a)'s size to give
the resolution's share of a run that large (a run of 100,000 x 1,440 is not timed here).

Run: ``.venv/bin/python benchmarks/funding.py [--terminals 100000] [--steps 1440]
[--agreements 50] [--run-terminals 20000] [--run-steps 72]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def synthetic(n_term: int, n_steps: int, n_ag: int, seed: int = 0):
    from skyfence.funding.agreements import Agreement

    rng = np.random.default_rng(seed)
    ids = np.array([f"T{i:07d}" for i in rng.permutation(n_term)])
    groups_all = [f"g{j}" for j in range(20)]
    gi = rng.integers(0, 20, (n_term, 3))
    k = rng.integers(1, 4, n_term)
    groups = [tuple(groups_all[x] for x in gi[i, :k[i]]) for i in range(n_term)]
    region_names = [f"r{j}" for j in range(6)]
    region_sets = [()] + [tuple(sorted(rng.choice(region_names, rng.integers(1, 3), replace=False)))
                          for _ in range(11)]
    region_codes = rng.integers(0, len(region_sets), n_term)
    t0 = np.datetime64("2022-09-20T00:00:00", "ms")
    t = t0 + np.arange(n_steps) * np.timedelta64(30, "m")
    sponsors = [f"s{j}" for j in range(10)]
    ags = []
    for a in range(n_ag):
        kind = "group" if a < 0.4 * n_ag else ("region" if a < 0.7 * n_ag else "terminals")
        target = ((rng.choice(groups_all),) if kind == "group" else
                  (rng.choice(region_names),) if kind == "region" else
                  tuple(rng.choice(ids, 1000, replace=False)))
        start = t0 + np.timedelta64(int(rng.integers(-10, 20)), "D")
        end = start + np.timedelta64(int(rng.integers(2, 40)), "D")
        price = float(rng.choice([50.0, 500.0, 4500.0]))
        cap = float(rng.integers(100, 2000)) * price if a % 4 == 0 else None
        total = float(rng.integers(500, 5000)) * price if a % 10 == 3 else None
        grace = float(rng.choice([0.0, 3600.0, 86400.0]))
        ags.append(Agreement(f"a{a}", str(rng.choice(sponsors)), kind, target, start, end, price, cap, total, grace))
    return ags, ids, groups, region_codes, region_sets, t, sponsors


def part_a(n_term: int, n_steps: int, n_ag: int) -> float:
    from skyfence.funding.resolve import resolve

    ags, ids, groups, codes, sets, t, sponsors = synthetic(n_term, n_steps, n_ag)
    t1 = time.perf_counter()
    fs = resolve(ags, ids, groups, t, region_codes=codes, region_sets=sets, sponsors=sponsors)
    t2 = time.perf_counter()
    funded = fs.funded
    t3 = time.perf_counter()
    print(f"(a) resolve {n_term:,} terminals x {n_steps:,} steps x {n_ag} agreements: {t2 - t1:.2f} s "
          f"({fs.mask.shape[1]:,} segments, {len(fs.months)} months); dense funded "
          f"[{funded.shape[0]:,} x {funded.shape[1]:,}]: {t3 - t2:.2f} s; funded share "
          f"{funded.mean():.3f}; billed terminal-months {int(fs.billed.sum()):,}")
    return t2 - t1


def part_b(n_term: int, n_steps: int) -> float:
    import dataclasses

    import pandas as pd

    import skyfence.policy.evaluate as evaluate
    import skyfence.service.run as service_run
    import skyfence.service.simulate as simulate
    from skyfence.service.scenario import example_path, load_scenario

    sc = load_scenario(example_path("ukraine-funding"))
    base = pd.read_csv(sc.path("terminals.csv"))
    rng = np.random.default_rng(1)
    rows = base.sample(n_term, replace=True, random_state=1).reset_index(drop=True)
    rows["id"] = [f"UA-{i:07d}" for i in range(n_term)]
    rows["lat"] = rows["lat"] + rng.normal(0, 0.05, n_term)
    rows["lon"] = rows["lon"] + rng.normal(0, 0.05, n_term)
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp())
    rows.to_csv(tmp / "terminals.csv", index=False)
    sc = dataclasses.replace(sc, terminals=[str(tmp / "terminals.csv")], duration_s=n_steps * sc.step_s,
                             output={"map": False, "plot": False, "timeline": False})
    spent = {"funding": 0.0}

    def timed(fn):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent["funding"] += time.perf_counter() - t0
        return wrapper

    orig_rf, orig_fc, orig_ev = simulate.resolve_funding, simulate._funding_classes, evaluate.BulkEvaluator.funding_classes
    service_run.resolve_funding = timed(orig_rf)
    simulate._funding_classes = timed(orig_fc)
    try:
        t0 = time.perf_counter()
        res = service_run.run(sc)
        _ = res.summary, res.terminals
        total = time.perf_counter() - t0
    finally:
        service_run.resolve_funding, simulate._funding_classes = orig_rf, orig_fc
        evaluate.BulkEvaluator.funding_classes = orig_ev
    print(f"(b) run ukraine-funding with {n_term:,} terminals x {n_steps} steps: {total:.2f} s, of which "
          f"funding (resolve + evaluator classes) {spent['funding']:.2f} s = {100 * spent['funding'] / total:.1f}%")
    return total / (n_term * n_steps)


def share_estimate(resolve_s: float, per_terminal_step_s: float, n_term: int, n_steps: int) -> None:
    """The share of (a)'s resolution in a run of its size, the run's time estimated from (b)'s
    seconds per terminal-step (an extrapolation, stated as one)."""
    run_s = per_terminal_step_s * n_term * n_steps
    print(f"(c) estimated full run of {n_term:,} x {n_steps:,} at (b)'s {per_terminal_step_s * 1e6:.1f} us per "
          f"terminal-step: {run_s:,.0f} s; funding resolution {resolve_s:.2f} s = {100 * resolve_s / run_s:.2f}% of it")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--terminals", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=1440)
    ap.add_argument("--agreements", type=int, default=50)
    ap.add_argument("--run-terminals", type=int, default=20_000)
    ap.add_argument("--run-steps", type=int, default=72)
    args = ap.parse_args()
    resolve_s = part_a(args.terminals, args.steps, args.agreements)
    per_step = part_b(args.run_terminals, args.run_steps)
    share_estimate(resolve_s, per_step, args.terminals, args.steps)


if __name__ == "__main__":
    main()
