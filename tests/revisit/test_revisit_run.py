"""The revisit scenario, library call and command on a bundled example (shortened)."""

from __future__ import annotations

import json

import pandas as pd

from skyfence.cli import main
from skyfence.revisit.run import revisit
from skyfence.service.scenario import example_names, examples_dir


def test_bundled_revisit_examples_are_not_run_examples():
    names = example_names()
    assert "sevastopol-watch" not in names and "taiwan-strait-watch" not in names
    assert (examples_dir() / "sevastopol-watch" / "scenario.toml").exists()


def test_library_call_returns_dataframes():
    res = revisit(examples_dir() / "taiwan-strait-watch" / "scenario.toml", duration_s=21600, step_s=60)
    assert isinstance(res.accesses, pd.DataFrame) and len(res.accesses) > 0
    assert list(res.targets["target"]) == ["taipei", "kaohsiung_port", "penghu"]
    assert len(res.cells) > 10 and res.cells["cell"].str.len().gt(10).all()
    assert set(res.accesses["group"]) <= {"commercial_optical", "government"}
    assert (res.accesses["end_utc"] > res.accesses["start_utc"]).all()


def test_command_writes_outputs(tmp_path):
    rc = main(["revisit", str(examples_dir() / "sevastopol-watch" / "scenario.toml"), "--out", str(tmp_path),
               "--duration", "21600", "--step", "60"])
    assert rc == 0
    for f in ("summary.json", "targets.parquet", "cells.parquet", "accesses.parquet", "revisit_map.png",
              "timeline.png"):
        assert (tmp_path / f).exists(), f
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["cells"]["n"] > 0 and "sevastopol_bay" in s["targets"]


def test_bad_scenario_is_a_one_line_error(tmp_path, capsys):
    p = tmp_path / "s.toml"
    p.write_text('[observers]\nelements = "sso-500"\n[time]\nstart = "2026-01-01"\nduration_s = 60\nstep_s = 30\n'
                 '[targets]\na = { lat = 0, lon = 0 }\n')
    assert main(["revisit", str(p)]) == 2
    assert "needs a [sensor]" in capsys.readouterr().err
