"""The library calls at the package top (``skyfence.run``, ``skyfence.impact``,
``skyfence.positions``, ``skyfence.latency``) return the same numbers the CLI writes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import skyfence
from skyfence.cli import main
from skyfence.errors import ScenarioError, SkyfenceError
from skyfence.orbits.catalog import load_elements
from skyfence.orbits.frames import time_grid
from skyfence.orbits.propagate import propagate
from skyfence.service.scenario import example_path

SHORT = {"start": "2026-04-30T06:00:00Z", "duration_s": 1800, "step_s": 600}


@pytest.fixture(scope="module")
def result():
    return skyfence.run("ukraine-crimea", **SHORT)


def test_run_returns_frames_and_summary(result):
    assert isinstance(result.cells, pd.DataFrame) and isinstance(result.terminals, pd.DataFrame)
    assert len(result.cells) == result.summary["cells"]
    assert len(result.terminals) == result.summary["terminals"]["count"]
    assert result.summary["time"]["steps"] == 3
    assert result.summary["time"]["start_utc"] == "2026-04-30T06:00:00Z"
    tl = result.timeline
    assert len(tl) == 3 * len(result.terminals)
    assert set(tl["state"]) <= {"served", "denied", "uncovered", "absent"}
    # the cell table's served fraction is the summary's, weighted by steps
    assert np.isclose(result.cells["served_fraction"].mean(), result.summary["served_fraction"])


def test_utc_columns_are_timezone_aware(result):
    for frame in (result.cells, result.terminals, result.timeline):
        for col in [c for c in frame.columns if c.endswith("_utc")]:
            assert str(frame[col].dt.tz) == "UTC", col


def test_write_equals_cli(result, tmp_path):
    summary = result.write(tmp_path / "lib")
    rc = main(["run", "--example", "ukraine-crimea", "--out", str(tmp_path / "cli"), "--start", SHORT["start"],
               "--duration", str(SHORT["duration_s"]), "--step", str(SHORT["step_s"])])  # fmt: skip
    assert rc == 0
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert cli == json.loads(json.dumps(summary))
    for name in ("cells.parquet", "terminals.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "lib" / name), pd.read_parquet(tmp_path / "cli" / name))


def test_run_accepts_path_folder_and_scenario():
    from skyfence.service.run import resolve_scenario

    path = example_path("ukraine-crimea")
    a = resolve_scenario(path, **SHORT)
    b = resolve_scenario(path.parent, **SHORT)
    c = resolve_scenario(a)
    assert a == b == c
    assert (a.start, a.duration_s, a.step_s) == ("2026-04-30T06:00:00Z", 1800.0, 600.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"duration_s": 0}, "duration_s"), ({"step_s": -5}, "step_s"), ({"start": "yesterday"}, "start")],
)
def test_bad_overrides_are_named(kwargs, message):
    with pytest.raises(ScenarioError, match=message):
        skyfence.run("ukraine-crimea", **kwargs)


def test_unknown_example_names_the_examples():
    with pytest.raises(ScenarioError, match="ukraine-crimea"):
        skyfence.run("ukraine-crimaea")


def test_positions_equals_propagation():
    df = skyfence.positions("kuiper-630", start="2026-04-30T00:00:00Z", duration_s=120, step_s=60, frame="lla")
    els = load_elements("kuiper-630")
    eph = propagate(els, time_grid("2026-04-30T00:00:00Z", 120, 60))
    lat, lon, alt = eph.lla()
    assert len(df) == len(els) * 2
    np.testing.assert_array_equal(df["lat_deg"].to_numpy(), lat.ravel())
    np.testing.assert_array_equal(df["alt_km"].to_numpy(), alt.ravel())
    assert str(df["t_utc"].dt.tz) == "UTC"
    with pytest.raises(SkyfenceError, match="frame"):
        skyfence.positions("kuiper-630", frame="gcrs")


def test_top_level_names():
    for name in skyfence.__all__:
        assert callable(getattr(skyfence, name)) or isinstance(getattr(skyfence, name), type)
    with pytest.raises(AttributeError):
        skyfence.not_a_name  # noqa: B018
