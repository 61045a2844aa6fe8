"""``skyfence examples list|copy``: a copied example validates and runs from its new folder, and
gives the same result as the bundled one."""

from __future__ import annotations

import json

import pytest

from skyfence.cli import main
from skyfence.errors import ScenarioError
from skyfence.service.examples import copy_example, list_examples
from skyfence.service.scenario import example_names, load_scenario


def test_list_names_every_example(capsys):
    assert [e["name"] for e in list_examples()] == example_names()
    assert main(["examples", "list"]) == 0
    out = capsys.readouterr().out
    for name in example_names():
        assert name in out


@pytest.mark.parametrize("name", example_names())
def test_copy_is_self_contained(tmp_path, name):
    target = copy_example(name, tmp_path / name)
    sc = load_scenario(target)
    for f in [*sc.terminals, *sc.tracks, *sc.policy_files]:
        p = sc.path(f)
        assert p.exists() and p.parent == target.parent, f
    with pytest.raises(ScenarioError, match="exists"):
        copy_example(name, tmp_path / name)


def test_copied_example_runs_like_the_bundled_one(tmp_path):
    assert main(["examples", "copy", "ukraine-crimea", str(tmp_path / "uc")]) == 0
    short = ["--start", "2026-04-30T06:00:00Z", "--duration", "1200", "--step", "600"]
    assert main(["run", str(tmp_path / "uc" / "scenario.toml"), "--out", str(tmp_path / "a"), *short]) == 0
    assert main(["run", "--example", "ukraine-crimea", "--out", str(tmp_path / "b"), *short]) == 0
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    a["policy"].pop("files"), b["policy"].pop("files")
    assert a == b
