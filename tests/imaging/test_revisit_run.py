"""The revisit scenario, library call and command on a bundled example (shortened)."""

from __future__ import annotations

import json

import pandas as pd

import skyfence
from skyfence.cli import main
from skyfence.imaging.run import revisit
from skyfence.service.scenario import example_names, examples_dir


def test_bundled_revisit_examples_are_not_run_examples():
    names = example_names()
    assert "sevastopol-watch" not in names and "taiwan-strait-watch" not in names
    assert (examples_dir() / "sevastopol-watch" / "scenario.toml").exists()


def test_library_call_returns_dataframes():
    res = skyfence.revisit(examples_dir() / "taiwan-strait-watch" / "scenario.toml", duration_s=21600, step_s=60)
    assert isinstance(res, skyfence.RevisitResult)
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


def test_summary_per_region(tmp_path):
    from skyfence.geo.cells import cells_to_str
    from skyfence.geo.regions import region_cells, resolve_region

    p = tmp_path / "s.toml"
    p.write_text('kind = "revisit"\n[observers]\nelements = "active-2025-10-07:SKYSAT*"\n'
                 '[sensor]\nkind = "optical"\nmax_off_nadir_deg = 30\n'
                 '[time]\nstart = "2025-10-07T00:00:00Z"\nduration_s = 43200\nstep_s = 60\n'
                 '[ground]\nregion = ["north", "south"]\nh3_resolution = 4\n'
                 '[regions]\nnorth = { lat = 25.0, lon = 121.5, radius_km = 80 }\n'
                 'south = { lat = 22.6, lon = 120.3, radius_km = 80 }\n'
                 '[targets]\ntaipei = { lat = 25.03, lon = 121.56 }\nkaohsiung = { lat = 22.61, lon = 120.28 }\n'
                 'taichung = { lat = 24.15, lon = 120.67 }\n')
    res = revisit(p)
    regions = res.summary["regions"]
    assert regions["north"]["target_names"] == ["taipei"] and regions["south"]["target_names"] == ["kaohsiung"]
    for name, spec in (("north", (25.0, 121.5)), ("south", (22.6, 120.3))):
        cells = set(cells_to_str(region_cells(resolve_region({"lat": spec[0], "lon": spec[1], "radius_km": 80}), 4,
                                              "overlap")))
        rows = res.cells[res.cells["cell"].isin(cells)]
        s = regions[name]["cells"]
        assert s["n"] == len(rows) > 0
        assert s["never_observed"] == int((rows["n_accesses"] == 0).sum())
        assert s["max_unobserved_h_max"] == round(rows["max_unobserved_s"].max() / 3600, 4)
        assert regions[name]["targets"]["n"] == 1
    assert res.summary["cells"]["n"] == len(res.cells) >= regions["north"]["cells"]["n"] + 1


def test_revisit_example_copies_and_runs_by_name(tmp_path, capsys):
    """`examples copy` validates a revisit example as one; `revisit --example` runs it by name."""
    assert main(["examples", "copy", "taiwan-strait-watch", str(tmp_path / "tsw")]) == 0
    assert "skyfence revisit" in capsys.readouterr().err
    rc = main(["revisit", "--example", "taiwan-strait-watch", "--duration", "3600", "--step", "120",
               "--out", str(tmp_path / "out")])
    assert rc == 0 and json.loads((tmp_path / "out" / "summary.json").read_text())["accesses"] > 0
    by_name = skyfence.revisit("taiwan-strait-watch", duration_s=3600, step_s=120)
    assert by_name.summary["accesses"] == json.loads((tmp_path / "out" / "summary.json").read_text())["accesses"]
    assert main(["revisit", "--example", "ukraine-crimea"]) == 2
    assert main(["revisit", str(tmp_path / "tsw" / "scenario.toml"), "--example", "taiwan-strait-watch"]) == 2
