"""Every input of ``skyfence run`` / ``impact`` is read and validated before any propagation: a bad
one exits 2 with one line naming the file, key or line, no traceback, in far less time than the
24 h simulation it stops (about 90 s for this scenario on 2 cores)."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from skyfence.cli import main
from skyfence.service import impact as impact_module
from skyfence.service import run as run_module

#: a 24 h Starlink scenario (1,441 steps over ~10,000 satellites): minutes if it ever propagated
SCENARIO = """
    name = "kyiv"
    [constellation]
    elements = "starlink"
    [time]
    start = "2026-04-30T00:00:00Z"
    duration_s = 86400
    step_s = 60
    [ground]
    region = {region}
    h3_resolution = 4
    terminals = "terminals.csv"
    tracks = "track.csv"
    [regions]
    kyiv = {{ lat = 50.45, lon = 30.52, radius_km = 50 }}
    [policy]
    {policy}
"""
REGION = "{ lat = 50.45, lon = 30.52, radius_km = 150 }"
GOOD_CEDAR = 'permit(principal, action, resource);\nforbid(principal, action, resource in Region::"kyiv");\n'
BAD_CEDAR = "permit(principal, action, resource);\nforbid(principal, action, resource) when { context.altitude > 3 };\n"
TERMINALS = "id,lat,lon\nt1,50.40,30.50\nt2,50.10,30.90\n"
TRACK = "id,t_utc,lat,lon\nd1,2026-04-30T00:00:00Z,50.0,30.0\nd1,2026-04-30T06:00:00Z,50.5,30.6\n"
#: well under the simulation time even on a busy 2-core machine (0.1-3 s measured alone)
LIMIT_S = 6.0


def _folder(tmp_path: Path, *, region: str = REGION, policy: str = 'files = ["policy.cedar"]',
            files: dict[str, str] | None = None) -> Path:
    (tmp_path / "terminals.csv").write_text(TERMINALS)
    (tmp_path / "track.csv").write_text(TRACK)
    (tmp_path / "policy.cedar").write_text(GOOD_CEDAR)
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    p = tmp_path / "scenario.toml"
    p.write_text(textwrap.dedent(SCENARIO.format(region=region, policy=policy)))
    return p


@pytest.fixture
def no_propagation(monkeypatch):
    """Fail the test if anything reaches the visibility computation."""

    def refuse(*args, **kwargs):
        raise AssertionError("propagation started before the inputs were validated")

    monkeypatch.setattr(run_module, "compute_visibility", refuse)
    monkeypatch.setattr(impact_module, "compute_visibility", refuse)


def _fails(argv: list[str], capsys, *expected: str) -> float:
    """Run the CLI; assert exit 2 and one ``error:`` line holding every expected text; returns the
    wall time (s)."""
    t0 = time.perf_counter()
    rc = main(argv)
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert rc == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return elapsed


CASES = {
    "unknown key": (dict(region=REGION + "\n    regoin = 1"), ["ground.regoin", "scenario.toml", "region"]),
    "unknown region": (dict(region='"Atlantis"'), ["ground.region", "Atlantis"]),
    "bad GeoJSON": (dict(region='"zone.geojson"',
                         files={"zone.geojson": '{"type": "FeatureCollection", "features": [{"type": '
                                                '"Feature", "geometry": {"type": "Polygon", "coordinates": [[1, 2]]}}]}'}),
                    ["ground.region", "zone.geojson", "features[0]"]),
    "bad terminal latitude": (dict(files={"terminals.csv": "id,lat,lon\nt1,50.4,30.5\nt2,123,30.5\n"}),
                              ["terminals.csv", "line 3", "lat"]),
    "bad track file": (dict(files={"track.csv": TRACK.replace("50.5,30.6", "north,30.6")}),
                       ["track.csv", "line 3", "north"]),
    "invalid Cedar": (dict(files={"policy.cedar": BAD_CEDAR}), ["policy.cedar:2", "altitude"]),
    "missing policy file": (dict(policy='files = ["nowhere.cedar"]'), ["nowhere.cedar", "not found"]),
    "bad governance log": (dict(policy='log = "log.json"', files={"log.json": '{"entries": 3}'}),
                           ["policy.log", "log.json"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_run_rejects_a_bad_input_before_propagation(case, tmp_path, capsys, no_propagation):
    kwargs, expected = CASES[case]
    scenario = _folder(tmp_path, **kwargs)
    elapsed = _fails(["run", str(scenario), "--out", str(tmp_path / "out")], capsys, *expected)
    assert elapsed < LIMIT_S, f"{case}: {elapsed:.2f} s"


def test_impact_rejects_an_invalid_new_policy_before_propagation(tmp_path, capsys, no_propagation):
    scenario = _folder(tmp_path, files={"new.cedar": BAD_CEDAR})
    elapsed = _fails(["impact", str(scenario), "--policy", str(tmp_path / "new.cedar")], capsys,
                     "new.cedar:2", "altitude")
    assert elapsed < LIMIT_S
    _fails(["impact", str(scenario), "--policy", str(tmp_path / "missing.cedar")], capsys, "missing.cedar")
    # the scenario's own policy is validated too
    (tmp_path / "policy.cedar").write_text(BAD_CEDAR)
    _fails(["impact", str(scenario), "--policy", "allow-all"], capsys, "policy.cedar:2")


def test_impact_takes_a_bundled_policy_name(tmp_path):
    from skyfence.service.run import policy_path

    assert policy_path("allow-all").name == "allow-all.cedar" and policy_path("allow-all").is_file()
    assert policy_path("allow-all.cedar") == policy_path("allow-all")
    own = tmp_path / "allow-all.cedar"
    own.write_text(GOOD_CEDAR)
    assert policy_path(own) == own.resolve()  # an existing file wins over the bundled name


def test_a_valid_scenario_reaches_propagation(tmp_path, capsys, no_propagation):
    """The same folder with no bad input gets past validation (and here stops at the refusal)."""
    scenario = _folder(tmp_path)
    with pytest.raises(AssertionError, match="propagation started"):
        main(["run", str(scenario), "--out", str(tmp_path / "out")])
