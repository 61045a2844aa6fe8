"""Service decisions for 1,000,000 fixed terminals at one step: bulk evaluator vs. Cedar itself.

    .venv/bin/python benchmarks/policy.py [--terminals 1000000] [--sample 10000] [--json out.json]

Setup: Ukraine with Crimea at H3 res 5, regions "crimea" (B89) and "black_sea_zone"; terminals on
random cells of that ground with random groups (some "whitelisted"); policies = the bundled
ukraine-crimea.cedar + speed-limit.cedar. Reported: decisions per second of the bulk evaluator
(one-off class set-up per terminal/cell, a first step that asks Cedar, later steps served from the
class cache), and cedarpy.is_authorized_batch on a sample extrapolated to all terminals; the sample's
decisions must be identical.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cedarpy
import numpy as np

from skyfence.geo.cells import cells_to_str
from skyfence.policy.cedar import cell_entity, load_policies, make_request, terminal_entity
from skyfence.policy.evaluate import BulkEvaluator, LabelSets
from skyfence.policy.regionset import RegionSet

POLICIES = Path(__file__).resolve().parents[1] / "src" / "skyfence" / "data" / "policies"
GROUPS = np.array(["civil", "gov", "press", "ngo", "whitelisted", "military"], dtype=object)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--terminals", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--policies", nargs="+", default=["ukraine-crimea", "speed-limit"],
                    help="bundled policy names (src/skyfence/data/policies/NAME.cedar) or .cedar paths")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    t = time.perf_counter()
    regions = RegionSet.from_specs(
        {
            "ukraine": ["UKR", "B89"],
            "crimea": "B89",
            "black_sea_zone": {"polygon": [[30.5, 43.0], [36.5, 43.0], [36.5, 44.9], [30.5, 45.6]]},
        },
        resolution=5,
    )
    ground = np.union1d(regions.cells("ukraine"), regions.cells("black_sea_zone"))
    cell_labels = regions.cell_region_labels(ground)
    t_regions = time.perf_counter() - t

    n = args.terminals
    term_ids = np.array([f"term-{i:07d}" for i in range(n)])
    term_cell = rng.integers(0, len(ground), n)  # index into `ground`
    groups = LabelSets.from_labels(GROUPS[rng.integers(0, len(GROUPS), n)])
    policy = load_policies([p if p.endswith(".cedar") else POLICIES / f"{p}.cedar" for p in args.policies])
    start = np.datetime64("2026-04-30T00:00:00", "ms")

    ev = BulkEvaluator(policy)
    t = time.perf_counter()
    pc = ev.principal_classes(term_ids, groups)
    rc = ev.resource_classes(ground, cell_labels)
    t_classes = time.perf_counter() - t

    step_times = []
    decisions = None
    for k in range(args.steps):
        when = start + np.timedelta64(60 * k, "s")
        t = time.perf_counter()
        decisions = ev.decide_classes(pc, rc[term_cell], when, 0)
        step_times.append(time.perf_counter() - t)
    classes_per_step = ev.last_classes
    first, warm = step_times[0], float(np.median(step_times[1:])) if len(step_times) > 1 else step_times[0]

    # Cedar itself on a sample of the same step, extrapolated
    m = min(args.sample, n)
    idx = rng.choice(n, m, replace=False)
    hexes = cells_to_str(ground)
    label_lists = cell_labels.tolist()
    g_lists = groups.tolist()
    entities = [terminal_entity(term_ids[i], g_lists[i]) for i in idx]
    used_cells = np.unique(term_cell[idx])
    entities += [cell_entity(hexes[c], label_lists[c]) for c in used_cells]
    requests = [make_request(term_ids[i], hexes[term_cell[i]], start, 0) for i in idx]
    t = time.perf_counter()
    ent_handle = cedarpy.Entities.from_json_str(json.dumps(entities))
    results = cedarpy.is_authorized_batch(requests, policy.policy_set, ent_handle)
    t_cedar = time.perf_counter() - t
    cedar_allow = np.array([r.allowed for r in results])
    # the first step's decisions, recomputed at the same instant
    bulk_allow = ev.decide_classes(pc[idx], rc[term_cell[idx]], start, 0)
    identical = bool(np.array_equal(cedar_allow, bulk_allow))

    cedar_rate = m / t_cedar
    out = {
        "policies": [str(p) for p in args.policies],
        "terminals": n,
        "ground_cells": int(len(ground)),
        "regions_setup_s": round(t_regions, 3),
        "class_setup_s": round(t_classes, 3),
        "first_step_s": round(first, 4),
        "warm_step_s": round(warm, 4),
        "classes_per_step": classes_per_step,
        "cedar_requests_total": ev.cedar_requests,
        "bulk_decisions_per_s_first_step": round(n / first),
        "bulk_decisions_per_s_incl_class_setup": round(n / (first + t_classes)),
        "bulk_decisions_per_s_warm_step": round(n / warm),
        "cedar_batch_sample": m,
        "cedar_batch_s": round(t_cedar, 3),
        "cedar_decisions_per_s": round(cedar_rate),
        "cedar_extrapolated_s_for_all": round(n / cedar_rate, 2),
        "speedup_first_step": round((n / first) / cedar_rate, 1),
        "speedup_warm_step": round((n / warm) / cedar_rate, 1),
        "allowed_fraction": round(float(decisions.mean()), 4),
        "sample_identical_to_cedar": identical,
    }
    for k, v in out.items():
        print(f"{k:34s} {v}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    if not identical:
        raise SystemExit("bulk decisions differ from Cedar's on the sample")


if __name__ == "__main__":
    main()
