"""A run sharded on a local Dask cluster equals the single-process run bit for bit, also when a
worker is killed in the middle of it."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

import skyfence
from skyfence.scale.engine import impact_sharded, run_sharded
from skyfence.service.run import resolve_scenario
from skyfence.service.scenario import example_path

distributed = pytest.importorskip("dask.distributed")

EX = example_path("ukraine-crimea").parent
POLICIES = EX.parent.parent / "data" / "policies"

SMALL = f"""
    name = "small-dask"
    [constellation]
    elements = "starlink-550"
    min_elevation_deg = 25
    [time]
    start = "2026-04-30T05:30:00Z"
    duration_s = 1800
    step_s = 300
    [ground]
    region = ["UKR", "crimea", "black_sea_zone"]
    h3_resolution = 3
    terminals = "{EX / 'terminals.csv'}"
    tracks = "{EX / 'drone_track.csv'}"
    fleet = {{ n = 40, seed = 3, group = "civil" }}
    [regions]
    crimea = "B89"
    black_sea_zone = {{ polygon = [[30.5, 43.0], [36.5, 43.0], [36.5, 44.9], [30.5, 45.6]] }}
    [policy]
    files = ["{POLICIES / 'ukraine-crimea.cedar'}"]
    [output]
    timeline = true
"""


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    p = tmp_path_factory.mktemp("dask") / "s.toml"
    p.write_text(textwrap.dedent(SMALL))
    return p


@pytest.fixture(scope="module")
def single(scenario, tmp_path_factory):
    result = skyfence.run(scenario)
    out = tmp_path_factory.mktemp("single")
    result.write(out)
    return result, out


def _same(a, b_out, a_out):
    for name in ("cells.parquet", "terminals.parquet", "terminal_states.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a_out / name), pd.read_parquet(b_out / name), check_exact=True)
    assert (a_out / "summary.json").read_text() == (b_out / "summary.json").read_text()


def test_two_workers_equal_single_process(scenario, single, tmp_path):
    a, a_out = single
    b = skyfence.run(scenario, workers=2)
    assert b.shards >= 4
    pd.testing.assert_frame_equal(a.cells, b.cells, check_exact=True)
    pd.testing.assert_frame_equal(a.terminals, b.terminals, check_exact=True)
    assert b.summary == a.summary
    b.write(tmp_path)
    _same(a, tmp_path, a_out)
    assert (tmp_path / "map.png").stat().st_size > 0 and (tmp_path / "terminals.png").stat().st_size > 0


def test_killed_worker_gives_the_same_tables(scenario, single, cluster, worker_killer, tmp_path):
    """kill -9 of one worker process once the first shard is done: Dask reruns its tasks."""
    a, a_out = single
    sc = resolve_scenario(scenario)
    b = run_sharded(sc, scheduler=cluster.scheduler_address, steps_per_shard=2, cells_per_shard=40,
                    progress=worker_killer)  # fmt: skip
    assert b.shards >= 4
    worker_killer.check()
    b.write(tmp_path)
    _same(a, tmp_path, a_out)


FUNDING_EX = example_path("ukraine-funding").parent

FUNDED = f"""
    name = "funded-dask"
    [constellation]
    elements = "starlink-550"
    min_elevation_deg = 25
    [time]
    start = "2022-10-01T01:00:00Z"   # the example's lapse bites at 02:00 (2 h grace)
    duration_s = 7200
    step_s = 600
    [ground]
    region = "UKR"
    h3_resolution = 3
    terminals = "{FUNDING_EX / 'terminals.csv'}"
    tracks = "{EX / 'drone_track.csv'}"
    [policy]
    files = ["{POLICIES / 'funded-only.cedar'}"]
    [funding]
    file = "{FUNDING_EX / 'funding.toml'}"
    [observers]
    elements = "starlink-550"
    [sensor]
    kind = "optical"
    max_off_nadir_deg = 5            # narrow: observed at some steps only
    [output]
    timeline = true
"""


@pytest.fixture(scope="module")
def funded(tmp_path_factory):
    p = tmp_path_factory.mktemp("funded") / "s.toml"
    p.write_text(textwrap.dedent(FUNDED))
    return p


def test_funding_and_observers_sharded_equal_single_process(funded, cluster, tmp_path):
    """A scenario with [funding] (budgets resolved once for the whole run, each time shard deciding
    with its part) and [observers]: the same summary (funding and observers blocks), tables,
    funding report and files on 2 workers as in one process."""
    a = skyfence.run(funded)
    a.write(tmp_path / "a")
    summary = a.summary
    assert summary["funding"]["terminal_steps_denied_unfunded"] > 0  # the lapse shows
    assert 0 < summary["observers"]["terminals"]["observed_fraction"] < 0.5  # observed at some steps only
    b = run_sharded(resolve_scenario(funded), scheduler=cluster.scheduler_address, steps_per_shard=4,
                    cells_per_shard=30)  # fmt: skip
    assert b.shards >= 6
    assert b.summary == summary
    b.write(tmp_path / "b")
    _same(a, tmp_path / "b", tmp_path / "a")
    for name in ("funding_monthly.csv", "funding_sponsors.csv", "funding_agreements.csv", "funding_unfunded.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in (tmp_path / "b").iterdir())


def test_funding_change_impact_sharded_equals_single_process(funded, cluster):
    """``skyfence impact --end-funding`` sharded: the same report (terminal cells and groups where
    the change bites, monthly costs) as in one process."""
    want = skyfence.impact(funded, end_funding=["poland@2022-10-01T01:30:00Z"])
    assert want["newly_denied"]["terminals"] > 0
    got = skyfence.impact(funded, end_funding=["poland@2022-10-01T01:30:00Z"], scheduler=cluster.scheduler_address)
    assert json.dumps(got) == json.dumps(want)


def test_impact_sharded_equals_single_process(scenario, cluster):
    allow_all = str(POLICIES / "allow-all.cedar")
    want = skyfence.impact(scenario, [allow_all])
    got = impact_sharded(resolve_scenario(scenario), [allow_all], scheduler=cluster.scheduler_address,
                         steps_per_shard=3)  # fmt: skip
    assert json.dumps(got) == json.dumps(want)
