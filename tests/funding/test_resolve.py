"""The funded set equals an independent per-terminal computation, caps are never exceeded, and
policy decisions on funded/sponsors equal cedarpy one request at a time."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.funding.agreements import Agreement
from skyfence.funding.report import funding_report
from skyfence.funding.resolve import resolve
from skyfence.policy.cedar import ServicePolicy, is_allowed
from skyfence.policy.evaluate import BulkEvaluator
from tests.funding.reference import reference_funding

SPONSORS = ["mod-ukraine", "usaid", "poland", "spacex"]
GROUPS = ["military", "civil", "usaid"]
REGIONS = [(), ("frontline",), ("east",), ("frontline", "east")]
T0 = np.datetime64("2022-09-20T00:00:00", "ms")
DAY_MS = 86_400_000

POLICY = ServicePolicy.from_text("""
    permit (principal, action, resource);
    forbid (principal, action, resource) unless { context.funded };
    forbid (principal, action, resource in Region::"frontline")
      unless { context.sponsors.contains("mod-ukraine") || principal in Group::"usaid" };
    forbid (principal in Group::"civil", action, resource)
      when { context.sponsors == ["usaid"] };
""", "<funding>")


@st.composite
def agreements(draw):
    n = draw(st.integers(1, 6))
    out = []
    for k in range(n):
        covers = draw(st.sampled_from(["group", "terminals", "region"]))
        if covers == "group":
            target = (draw(st.sampled_from(GROUPS)),)
        elif covers == "terminals":
            target = tuple(draw(st.lists(st.sampled_from([f"t{i}" for i in range(12)]), min_size=1,
                                         max_size=5, unique=True)))
        else:
            target = (draw(st.sampled_from(["frontline", "east"])),)
        start = T0 + np.timedelta64(draw(st.integers(-5, 40)) * 6 * 3_600_000, "ms")
        end = start + np.timedelta64(draw(st.integers(1, 60)) * 6 * 3_600_000, "ms")
        price = draw(st.sampled_from([0.0, 1.0, 2.5, 10.0, 0.1]))
        monthly = draw(st.one_of(st.none(), st.sampled_from([0.0, 0.3, 3.0, 7.5, 25.0])))
        total = draw(st.one_of(st.none(), st.sampled_from([0.0, 1.0, 5.0, 30.0])))
        grace = draw(st.sampled_from([0.0, 0.0, 3600.0, 86_400.0, 3 * 86_400.0]))
        out.append(Agreement(f"a{k}", draw(st.sampled_from(SPONSORS)), covers, target, start, end, price,
                             monthly, total, grace))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ags=agreements(), seed=st.integers(0, 2**31), n_steps=st.integers(1, 30), all_fixed=st.booleans())
def test_funded_set_equals_per_terminal_reference_and_policy_equals_cedar(ags, seed, n_steps, all_fixed):
    rng = np.random.default_rng(seed)
    n = 12
    ids = [f"t{i}" for i in rng.permutation(n)]
    groups = [tuple(g for g in GROUPS if rng.random() < 0.4) for _ in range(n)]
    # random, unsorted-in-month times over ~two months, increasing
    offsets = np.sort(rng.integers(-3 * DAY_MS, 45 * DAY_MS, n_steps))
    t = T0 + offsets.astype("timedelta64[ms]")
    moving = (rng.random(n) < 0.5) & (not all_fixed)  # all fixed: steps grouped into segments
    codes = np.where(moving[:, None], rng.integers(0, len(REGIONS), (n, n_steps)),
                     rng.integers(0, len(REGIONS), n)[:, None])
    fs = resolve(ags, ids, groups, t, region_codes=codes, region_sets=REGIONS, sponsors=SPONSORS)
    funded, sponsors, billed = reference_funding(ags, ids, groups, [[REGIONS[c] for c in row] for row in codes],
                                                 t.astype(np.int64).tolist())
    assert (fs.funded == np.array(funded, dtype=bool)).all()
    names = fs.sponsor_names(range(1 << len(SPONSORS)))
    got = [[set(names[m]) for m in row] for row in fs.sponsor_mask.tolist()]
    assert got == sponsors
    for k, a in enumerate(ags):
        for m, month in enumerate(fs.months):
            y, mo = int(str(month)[:4]), int(str(month)[5:7])
            assert fs.billed[k, m] == billed[(a.id, (y, mo))]
    # budget caps never exceeded in the report
    monthly = funding_report(fs, ids)["monthly"]
    capped = monthly[monthly["monthly_cap"].notna()]
    assert (capped["cost"] <= capped["monthly_cap"]).all()
    for a in ags:
        if a.total_budget is not None:
            assert monthly[monthly["agreement"] == a.id]["cost"].sum() <= a.total_budget
    # the bulk evaluator on funded/sponsors equals Cedar request by request
    flat_funded = fs.funded.ravel()
    flat_sponsors = [names[m] for m in fs.sponsor_mask.ravel().tolist()]
    tid = np.repeat(np.array(ids), n_steps)
    grp = [groups[i] for i in range(n) for _ in range(n_steps)]
    regions = [REGIONS[c] for c in codes.ravel().tolist()]
    cells = np.full(len(tid), 0x851E6B1BFFFFFFF, dtype=np.uint64)
    times = np.tile(t.astype(np.int64), n)
    decided = BulkEvaluator(POLICY).decide(tid, grp, cells, regions, times, 0, flat_funded, flat_sponsors)
    for i in range(len(tid)):
        assert decided[i] == is_allowed(POLICY, tid[i], grp[i], int(cells[i]), regions[i], int(times[i]), 0,
                                        funded=bool(flat_funded[i]), sponsors=flat_sponsors[i])


def test_cap_funds_the_first_terminals_by_id_and_grace_extends_service():
    ags = [Agreement("a", "usaid", "group", ("g",), np.datetime64("2022-01-01T00:00", "ms"),
                     np.datetime64("2022-01-01T02:00", "ms"), 10.0, monthly_cap=25.0, grace_s=1800.0)]
    t = np.arange(np.datetime64("2022-01-01T00:00", "ms"), np.datetime64("2022-01-01T04:00", "ms"),
                  np.timedelta64(15, "m"))
    fs = resolve(ags, ["c", "a", "b", "d"], [("g",)] * 4, t)
    paid = fs.sponsor_mask != 0
    assert paid.any(axis=1).tolist() == [False, True, True, False]  # two terminals: "a" and "b"
    assert fs.billed.tolist() == [[2]] and fs.cost().tolist() == [[20.0]]
    # paid 00:00..01:45, funded until 02:15 (30 min grace), unfunded from 02:30
    assert fs.funded[1].tolist() == [True] * 10 + [False] * 6
    assert fs.cap_binding.tolist() == [0]
