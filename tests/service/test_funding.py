"""``[funding]`` in a run: the ukraine-funding example's lapse, terminal decisions equal to Cedar
with the funded/sponsors context, and ``impact --end-funding / --add-funding``."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.cli import main
from skyfence.coverage.stats import DENIED, SERVED, UNCOVERED
from skyfence.policy.cedar import is_allowed
from skyfence.service.run import impact, run
from skyfence.service.scenario import example_path


@pytest.fixture(scope="module")
def result():
    # 23:00 to 02:55 at 300 s: the SpaceX agreement lapses at 00:00, its 2-hour grace ends after 01:55
    return run("ukraine-funding", start="2022-09-30T23:00:00Z", duration_s=4 * 3600 - 300, step_s=300)


def test_lapse_cuts_the_military_group_after_the_grace_period(result):
    lapses = result.summary["funding"]["lapses"]
    assert [x["sponsor"] for x in lapses] == ["spacex"]
    assert lapses[0]["groups"] == ["military"] and lapses[0]["terminals"] == 1200
    assert lapses[0]["first_unfunded_utc"] == "2022-10-01T02:00:00Z"
    tf = result.terminals
    mil = tf[tf["group"] == "military"]
    assert (mil["funded_steps"] == 36).all()  # 23:00..23:55 paid, 00:00..01:55 grace
    assert (mil["sponsors"] == "spacex").all()
    states = result.decisions.terminal_states[(tf["group"] == "military").to_numpy()]
    covered = states != UNCOVERED
    assert (states[:, 36:][covered[:, 36:]] == DENIED).all()
    assert (states[:, :36][covered[:, :36]] == SERVED).all()
    assert (mil["denied_unfunded_steps"] == covered[:, 36:].sum(axis=1)).all()
    # the Polish cap: 500 of the 667 civil terminals, the first by id
    civil = tf[tf["group"] == "civil"].sort_values("id")
    assert (civil["sponsors"] == "poland").sum() == 500 and (civil["sponsors"].iloc[:500] == "poland").all()
    monthly = result.summary["funding"]["agreements"]
    assert {a["id"]: a["cap_binding_from"] for a in monthly}["poland-civil-2022"] == "2022-09-01T00:00:00Z"


def test_terminal_decisions_equal_cedar_with_funding_context(result):
    ground, dec, vis = result.ground, result.decisions, result.visibility
    from skyfence.policy.cedar import load_policies

    policy = load_policies(example_path("ukraine-funding").parent / "../../data/policies/funded-only.cedar")
    fs = dec.funding
    funded, masks = fs.funded, fs.sponsor_mask
    rng = np.random.default_rng(3)
    for i in rng.choice(len(ground.terminals), 40, replace=False):
        for k in (0, 20, 35, 36, 46):
            allowed = is_allowed(policy, str(ground.terminals.ids[i]), ground.terminals.groups[i],
                                 int(vis.terminal_cells[i, k]), (), ground.t_utc[k], 0,
                                 funded=bool(funded[i, k]), sponsors=fs.sponsor_names([masks[i, k]])[0])
            assert dec.terminal_allowed[i, k] == allowed


def test_impact_of_ending_and_adding_funding(tmp_path):
    dod = example_path("ukraine-funding").parent / "dod-2022.toml"
    rep = impact("ukraine-funding", end_funding=["poland@2022-10-01T01:00:00Z"], add_funding=[dod],
                 start="2022-09-30T23:30:00Z", duration_s=3 * 3600, step_s=600)
    assert rep["newly_denied"]["terminals"] == 500 and rep["newly_denied"]["terminal_groups"] == {"civil": 500}
    assert rep["newly_denied"]["first_utc"] == "2022-10-01T01:00:00Z"
    assert rep["newly_denied"]["terminal_cells"]["people"] > 0
    assert rep["restored"]["terminals"] == 1200 and rep["restored"]["terminal_groups"] == {"military": 1200}
    rows = {(r["sponsor"], r["month"]): r for r in rep["funding"]["monthly_cost"]}
    assert rows[("us-dod", "2022-10")]["change"] == 1200 * 4500.0
    assert rep["funding"]["cost_added"] == 1200 * 4500.0


def test_cli_impact_end_funding_unknown_sponsor_is_one_line(capsys):
    assert main(["impact", "--example", "ukraine-funding", "--end-funding", "nasa@2022-10-01"]) == 2
    err = capsys.readouterr().err
    assert "unknown sponsor 'nasa'" in err and len(err.strip().splitlines()) == 1
