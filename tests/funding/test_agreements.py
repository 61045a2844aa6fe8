"""Bad agreements get a clear error naming the agreement and the field; nothing is stored."""

from __future__ import annotations

import pytest

from skyfence.errors import FundingError, ScenarioError
from skyfence.funding.agreements import parse_agreement, parse_agreements, validate_agreements
from skyfence.service.run import resolve_scenario
from skyfence.service.simulate import build_ground, resolve_funding

GOOD = {"id": "usaid-2022", "sponsor": "usaid", "group": "usaid", "start": "2022-04-01T00:00:00Z",
        "end": "2023-04-01T00:00:00Z", "price_per_terminal_month": 500.0}


@pytest.mark.parametrize("change, message", [
    ({"sponsor": "usiad"}, r"agreement 'usaid-2022': unknown sponsor 'usiad' \(did you mean 'usaid'\?\)"),
    ({"price_per_terminal_month": -1}, r"agreement 'usaid-2022': price_per_terminal_month must be >= 0"),
    ({"end": "2022-03-01T00:00:00Z"}, r"agreement 'usaid-2022': period ends \(2022-03-01T00:00:00.000Z\) before it starts"),
    ({"group": "nobody"}, r"agreement 'usaid-2022': unknown group 'nobody'"),
    ({"monthly_cap": -5}, r"monthly_cap must be >= 0"),
    ({"start": "yesterday"}, r"agreement 'usaid-2022': start: not a UTC time"),
    ({"region": "x"}, r"exactly one of group, terminals, region"),
])
def test_bad_agreement_names_the_field(change, message):
    with pytest.raises(FundingError, match=message):
        a = parse_agreement({**GOOD, **change})
        validate_agreements([a], sponsors=["usaid", "poland"], groups=["usaid", "civil"], regions=["frontline"])


def test_duplicate_ids_and_unknown_keys():
    with pytest.raises(FundingError, match="duplicate id"):
        parse_agreements([GOOD, GOOD])
    with pytest.raises(FundingError, match=r"unknown key 'prise_per_terminal_month'"):
        parse_agreement({**GOOD, "prise_per_terminal_month": 1})


def _scenario(tmp_path, agreement: dict, sponsors=("usaid",)) -> str:
    body = ", ".join(f'{k} = {v!r}' if not isinstance(v, str) else f'{k} = "{v}"' for k, v in agreement.items())
    (tmp_path / "terminals.csv").write_text("id,lat,lon,group\nT1,50.45,30.52,usaid\nT2,49.84,24.03,civil\n")
    p = tmp_path / "scenario.toml"
    p.write_text(f"""
[constellation]
elements = "starlink-550"
[time]
start = "2022-10-01T00:00:00Z"
duration_s = 600
step_s = 300
[ground]
region = {{ lat = 50.0, lon = 30.0, radius_km = 100 }}
terminals = "terminals.csv"
[funding]
sponsors = {list(sponsors)!r}
agreements = [{{ {body} }}]
""".replace("'", '"'))
    return str(p)


def test_scenario_errors_name_the_agreement(tmp_path):
    with pytest.raises(ScenarioError, match=r"\[funding\]: agreement 'usaid-2022': unknown sponsor 'usaid'"):
        resolve_scenario(_scenario(tmp_path, GOOD, sponsors=("poland",)))
    with pytest.raises(ScenarioError, match="price_per_terminal_month must be >= 0"):
        resolve_scenario(_scenario(tmp_path, {**GOOD, "price_per_terminal_month": -2}))
    with pytest.raises(ScenarioError, match="before it starts"):
        resolve_scenario(_scenario(tmp_path, {**GOOD, "end": "2021-01-01T00:00:00Z"}))
    # groups are checked against the scenario's terminals, before any propagation
    sc = resolve_scenario(_scenario(tmp_path, {**GOOD, "group": "military"}))
    with pytest.raises(ScenarioError, match=r"unknown group 'military' \(known: civil, usaid\)"):
        resolve_funding(sc, build_ground(sc))
