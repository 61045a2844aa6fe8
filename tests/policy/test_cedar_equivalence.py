"""The bulk evaluator's decisions equal cedarpy.is_authorized, one request at a time."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.errors import PolicyError
from skyfence.policy.cedar import (
    ServicePolicy,
    cedar_answer,
    cedar_datetime,
    epoch_ms,
    is_allowed,
    load_policies,
    speed_to_long,
)
from skyfence.policy.evaluate import BulkEvaluator, LabelSets

POLICY_DIR = Path(__file__).resolve().parents[2] / "src" / "skyfence" / "data" / "policies"

# a small world: terminals (some named by policies), groups, res-5 cells (two named), regions
TERMINALS = [f"t{i}" for i in range(40)]
GROUPS = ["whitelisted", "gov", "emergency", "press", "civil", "registered"]
CELLS = [
    0x852D2897FFFFFFF, 0x852D76A3FFFFFFF, 0x851E5DCBFFFFFFF, 0x851E6B1BFFFFFFF,
    0x851E6B17FFFFFFF, 0x851E6B13FFFFFFF, 0x8512E2DBFFFFFFF, 0x85194AD3FFFFFFF,
]
REGIONS = ["crimea", "black_sea_zone", "taiwan", "licensed", "blacklist", "curfew", "ukraine", "frontline"]
# sponsors: two named by policies, two no policy names (collapsed into "something else")
SPONSORS = ["mod-ukraine", "usaid", "poland", "spacex"]
T0 = epoch_ms("2026-04-30T00:00:00Z")

EXTRA_POLICIES = {
    "group-whitelist": """
        permit (principal in Group::"gov", action, resource);
        permit (principal in Group::"press", action, resource in Region::"ukraine")
          unless { resource in Region::"crimea" };
        forbid (principal, action, resource in Region::"blacklist")
          unless { principal in Group::"emergency" };
    """,
    "terminal-literals": """
        permit (principal, action, resource);
        forbid (principal == Terminal::"t7", action, resource);
        forbid (principal, action, resource in Region::"crimea")
          when { principal in [Terminal::"t3", Terminal::"t11"] || principal in Group::"civil" };
        permit (principal == Terminal::"t5", action, resource);
        forbid (principal is Terminal in Group::"press", action, resource == Cell::"851e6b1bfffffff");
    """,
    "time-windows": """
        permit (principal, action, resource);
        forbid (principal, action, resource in Region::"crimea")
          when { context.time >= datetime("2026-04-30T06:00:00Z")
              && context.time < datetime("2026-04-30T12:00:00.500Z") };
        forbid (principal, action, resource in Region::"ukraine")
          when { context.time == datetime("2026-04-30T18:00:00+0200")
              || context.time > datetime("2026-05-01") }
          unless { principal in Group::"gov" };
        forbid (principal in Group::"press", action, resource)
          when { !(context.time <= datetime("2026-04-30T20:00:00Z")) && context.speed_kmh != 0 };
    """,
    "speed-and-arithmetic": """
        permit (principal, action, resource);
        forbid (principal, action, resource)
          when { context.speed_kmh * 2 > 181 && context has speed_kmh }
          unless { principal in Group::"whitelisted" };
        forbid (principal, action, resource in Region::"black_sea_zone")
          when { if context.speed_kmh >= 30 then context.time.toTime() < duration("12h") else false };
        forbid (principal, action, resource in Region::"taiwan")
          when { context.time.offset(duration("-3h")) > datetime("2026-04-30T10:00:00Z") };
    """,
    "sponsor-sets": """
        permit (principal, action, resource) when { context.funded || principal in Group::"gov" };
        forbid (principal, action, resource in Region::"crimea")
          when { context.sponsors.containsAny(["usaid", "mod-ukraine"]) && !context.funded };
        forbid (principal in Group::"press", action, resource)
          when { context.sponsors == ["usaid"] || context.sponsors.isEmpty() };
        forbid (principal, action, resource in Region::"ukraine")
          when { ["usaid", "mod-ukraine"].containsAll(context.sponsors) && context.speed_kmh > 90 };
        permit (principal == Terminal::"t5", action, resource)
          when { context.sponsors.containsAll(["usaid"]) };
    """,
    "sponsors-exact": """
        permit (principal, action, resource)
          when { context has sponsors && context.sponsors.contains("usaid") };
        forbid (principal, action, resource) when { context == {"time": context.time,
          "speed_kmh": 0, "funded": true, "sponsors": ["usaid", "spacex"]} };
    """,
}


def _policies() -> dict[str, ServicePolicy]:
    out = {f.stem: load_policies(f) for f in sorted(POLICY_DIR.glob("*.cedar"))}
    out.update({k: ServicePolicy.from_text(v, f"<{k}>") for k, v in EXTRA_POLICIES.items()})
    return out


POLICIES = _policies()


def _random_requests(rng: np.random.Generator, n: int):
    tid = np.array(TERMINALS)[rng.integers(0, len(TERMINALS), n)]
    groups = [tuple(g for g in GROUPS if rng.random() < 0.3) for _ in range(n)]
    cells = np.array(CELLS, dtype=np.uint64)[rng.integers(0, len(CELLS), n)]
    regions = [tuple(r for r in REGIONS if rng.random() < 0.35) for _ in range(n)]
    # times: random over two days, and right at / 1 ms around the policies' instants
    special = epoch_ms(np.array([
        "2026-04-30T06:00:00", "2026-04-30T12:00:00.500", "2026-04-30T16:00:00",
        "2026-04-30T20:00:00", "2026-05-01T00:00:00", "2026-04-30T22:00:00", "2026-04-30T13:00:00",
    ], dtype="datetime64[ms]"))
    times = T0 - 86_400_000 + rng.integers(0, 3 * 86_400_000, n)
    pick = rng.random(n) < 0.4
    times[pick] = special[rng.integers(0, len(special), pick.sum())] + rng.integers(-1, 2, pick.sum())
    speeds = rng.uniform(0, 200, n)
    edge = rng.random(n) < 0.3
    speeds[edge] = rng.choice([0.0, 29.5, 30.0, 89.5, 90.0, 90.5, 90.49, 91.0, 180.5], edge.sum())
    funded = rng.random(n) < 0.6
    sponsors = [tuple(x for x in SPONSORS if rng.random() < 0.3) for _ in range(n)]
    return tid, groups, cells, regions, times, speeds, funded, sponsors


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_bulk_equals_cedar_one_by_one(name):
    """Decisions and deciding policies (Cedar's diagnostics.reasons) of 10,000 random requests."""
    policy = POLICIES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    n = 10_000
    tid, groups, cells, regions, times, speeds, funded, sponsors = _random_requests(rng, n)
    ev = BulkEvaluator(policy)
    got, reason = ev.decide(tid, groups, cells, regions, times, speeds, funded, sponsors, with_reasons=True)
    if ev.time_breakpoints is not None and ev.speed_breakpoints is not None:
        assert ev.cedar_requests < n // 2  # the collapse did collapse
    answers = [
        cedar_answer(policy, tid[i], groups[i], int(cells[i]), regions[i], int(times[i]), speeds[i],
                     funded=bool(funded[i]), sponsors=sponsors[i])
        for i in range(n)
    ]
    want = np.array([a for a, _ in answers])
    bad = np.flatnonzero(got != want)
    assert len(bad) == 0, (
        f"{len(bad)} mismatches, first: {tid[bad[0]]} {groups[bad[0]]} {cells[bad[0]]:x} "
        f"{regions[bad[0]]} {cedar_datetime(int(times[bad[0]]))} {speeds[bad[0]]} {funded[bad[0]]} {sponsors[bad[0]]}"
    )
    got_reasons = [ev.reason_sets[k] for k in reason.tolist()]
    bad = [i for i in range(n) if got_reasons[i] != answers[i][1]]
    assert not bad, (f"{len(bad)} reason mismatches, first: {got_reasons[bad[0]]} != {answers[bad[0]][1]}")
    if name == "allow-all":
        assert want.all()  # the reference policy: every request allowed
    else:
        assert 0 < want.sum() < n or name == "licensed-countries"
    if name == "ukraine-crimea":  # a geofence denies by its forbid, the rest served by the permit
        assert {ev.reason_sets[k] for k in reason[~got]} >= {("policy1",), ("policy2",)}
        assert {ev.reason_sets[k] for k in reason[got]} == {("policy0",)}


def test_fast_path_classes_and_cache_match_cedar():
    """principal/resource classes once, several steps: equal to Cedar, later steps ask nothing new."""
    policy = POLICIES["time-windows"]
    rng = np.random.default_rng(7)
    n_term, n_cell = 3000, len(CELLS)
    tid = np.array([f"t{i}" for i in range(n_term)])
    groups = LabelSets.from_labels(rng.choice(GROUPS + [None], n_term), sep=None)
    regions = [tuple(r for r in REGIONS if rng.random() < 0.4) for _ in range(n_cell)]
    ev = BulkEvaluator(policy)
    pc = ev.principal_classes(tid, groups)
    rc = ev.resource_classes(np.array(CELLS, dtype=np.uint64), regions)
    asked = []
    for step in range(0, 24 * 3600 * 1000, 3 * 3600 * 1000):
        t = T0 + step
        req_cell = rng.integers(0, n_cell, n_term)
        got = ev.decide_classes(pc, rc[req_cell], t, 0.0)
        asked.append(ev.cedar_requests)
        for i in rng.choice(n_term, 100, replace=False):
            assert got[i] == is_allowed(policy, tid[i], groups.tolist()[i], CELLS[req_cell[i]],
                                        regions[req_cell[i]], t, 0.0)
    # 00:00 and 03:00 fall between the same two datetime literals: the second step asks Cedar nothing
    assert ev.time_breakpoints is not None and len(ev.time_breakpoints) == 5
    assert asked[1] == asked[0] > 0


def test_unnamed_groups_and_regions_do_not_split_classes():
    ev = BulkEvaluator(POLICIES["ukraine-crimea"])
    assert ev.named_regions == {"crimea", "black_sea_zone"}
    pc = ev.principal_classes([f"t{i}" for i in range(1000)], [(f"g{i % 17}",) for i in range(1000)])
    assert len(np.unique(pc)) == 1
    assert ev.time_breakpoints is not None and len(ev.time_breakpoints) == 0


# ---------------------------------------------------------------- random policies (hypothesis)

def _atoms():
    cmp = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
    speed = st.builds(lambda o, v: f"context.speed_kmh {o} {v}", cmp, st.integers(-5, 200))
    when = st.builds(
        lambda o, h, m: f'context.time {o} datetime("2026-04-30T{h:02d}:{m:02d}:00Z")',
        cmp, st.integers(0, 23), st.sampled_from([0, 30]),
    )
    tod = st.builds(lambda o, h: f'context.time.toTime() {o} duration("{h}h")', cmp, st.integers(0, 23))
    grp = st.builds(lambda g: f'principal in Group::"{g}"', st.sampled_from(GROUPS))
    reg = st.builds(lambda r: f'resource in Region::"{r}"', st.sampled_from(REGIONS))
    term = st.builds(lambda t: f'principal == Terminal::"{t}"', st.sampled_from(TERMINALS[:6]))
    cell = st.builds(lambda c: f'resource == Cell::"{c:x}"', st.sampled_from(CELLS[:3]))
    arith = st.builds(lambda v: f"context.speed_kmh - 40 > {v}", st.integers(-50, 150))
    funded = st.sampled_from(["context.funded", "!context.funded", "context.funded == true"])
    lit = st.lists(st.sampled_from(SPONSORS[:2] + ["other"]), min_size=1, max_size=3)
    sponsor = st.one_of(
        st.builds(lambda s: f'context.sponsors.contains("{s}")', st.sampled_from(SPONSORS[:2] + ["x"])),
        st.builds(lambda op, xs: f"context.sponsors.{op}({_set(xs)})",
                  st.sampled_from(["containsAll", "containsAny"]), lit),
        st.builds(lambda op, xs: f"{_set(xs)}.{op}(context.sponsors)",
                  st.sampled_from(["containsAll", "containsAny"]), lit),
        st.builds(lambda xs: f"context.sponsors == {_set(xs)}", lit),
        st.just("context.sponsors.isEmpty()"),
    )
    return st.one_of(speed, when, tod, grp, reg, term, cell, arith, funded, sponsor)


def _set(xs: list[str]) -> str:
    return "[" + ", ".join(f'"{x}"' for x in xs) + "]"


def _expr(depth: int = 2):
    base = _atoms()
    if depth == 0:
        return base
    sub = _expr(depth - 1)
    return st.one_of(
        base,
        st.builds(lambda a, b: f"({a} && {b})", sub, sub),
        st.builds(lambda a, b: f"({a} || {b})", sub, sub),
        st.builds(lambda a: f"!({a})", sub),
    )


_policy = st.builds(
    lambda effect, cond, kind: f"{effect} (principal, action, resource) {kind} {{ {cond} }};",
    st.sampled_from(["permit", "forbid"]), _expr(), st.sampled_from(["when", "unless"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies=st.lists(_policy, min_size=1, max_size=4), broad=st.booleans(), seed=st.integers(0, 2**31))
def test_random_policies_equal_cedar(policies, broad, seed):
    text = ("permit (principal, action, resource);\n" if broad else "") + "\n".join(policies)
    policy = ServicePolicy.from_text(text, "<random>")
    rng = np.random.default_rng(seed)
    n = 250
    tid, groups, cells, regions, times, speeds, funded, sponsors = _random_requests(rng, n)
    ev = BulkEvaluator(policy)
    got, reason = ev.decide(tid, groups, cells, regions, times, speeds, funded, sponsors, with_reasons=True)
    for i in range(n):
        want = cedar_answer(policy, tid[i], groups[i], int(cells[i]), regions[i], int(times[i]), speeds[i],
                            funded=bool(funded[i]), sponsors=sponsors[i])
        assert (bool(got[i]), ev.reason_sets[reason[i]]) == want, (text, i)


# ---------------------------------------------------------------- loading and errors

def test_invalid_cedar_names_file_and_line(tmp_path):
    bad = tmp_path / "broken.cedar"
    bad.write_text('permit (principal, action, resource);\n\nforbid (principal, action resource);\n')
    with pytest.raises(PolicyError, match=r"broken\.cedar:3: invalid Cedar policy: unexpected token"):
        load_policies(bad)
    typed = tmp_path / "typed.cedar"
    typed.write_text('permit (principal, action, resource)\n  when { context.speed_kmh > "fast" };\n')
    with pytest.raises(PolicyError, match=r"typed\.cedar:1: invalid Cedar policy: .*expected Long"):
        load_policies(typed)
    unknown = tmp_path / "unknown.cedar"
    unknown.write_text('forbid (principal, action, resource) when { context.altitude > 3 };')
    with pytest.raises(PolicyError, match=r"unknown\.cedar:1: .*altitude"):
        load_policies(unknown)
    baddate = tmp_path / "date.cedar"
    baddate.write_text('forbid (principal, action, resource) when { context.time > datetime("2026-13-01") };')
    with pytest.raises(PolicyError, match=r"date\.cedar:1: .*datetime"):
        load_policies(baddate)
    good = tmp_path / "good.cedar"
    good.write_text("permit (principal, action, resource);")
    with pytest.raises(PolicyError, match=r"broken\.cedar"):  # the right file among several
        load_policies([good, bad])
    with pytest.raises(PolicyError, match="not found"):
        load_policies(tmp_path / "missing.cedar")


def test_no_permit_warns_and_denies():
    policy = ServicePolicy.from_text('forbid (principal, action, resource in Region::"taiwan");')
    assert any("no `permit`" in w for w in policy.warnings)
    got = BulkEvaluator(policy).decide(["a", "b"], [(), ()], CELLS[:2], [("taiwan",), ()], T0)
    assert not got.any()
    assert not POLICIES["ukraine-crimea"].warnings


def test_values():
    assert speed_to_long(90.5) == 90 and speed_to_long(91.5) == 92 and speed_to_long(89.6) == 90
    assert cedar_datetime("2026-04-30T06:00:00.0019Z") == "2026-04-30T06:00:00.001Z"
    assert epoch_ms(np.datetime64("2026-04-30T06:00:00")) == epoch_ms("2026-04-30T08:00:00+02:00")
    with pytest.raises(PolicyError):
        speed_to_long(float("nan"))
    with pytest.raises(PolicyError):
        epoch_ms("yesterday")


def test_unnamed_sponsors_collapse_and_whole_context_keeps_sets_exact():
    ev = BulkEvaluator(POLICIES["sponsor-region"])
    assert ev.sponsor_mode == "named" and "mod-ukraine" in ev.named_sponsors
    sets = [("a",), ("b", "c"), ("d",), ("mod-ukraine", "x"), ("mod-ukraine", "y"), (), ()]
    fc = ev.funding_classes(True, sets, len(sets))
    assert fc[0] == fc[1] == fc[2] and fc[3] == fc[4] and fc[5] == fc[6] and len(set(fc.tolist())) == 3
    assert BulkEvaluator(POLICIES["allow-all"]).sponsor_mode == "unused"
    assert BulkEvaluator(POLICIES["sponsors-exact"]).sponsor_mode == "exact"
