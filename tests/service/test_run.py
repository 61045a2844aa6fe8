"""``skyfence run`` / ``impact`` end to end on small scenarios, checked against Cedar itself and
against the geometry, plus the scenario validation errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import cedarpy
import numpy as np
import pyarrow.parquet as pq
import pytest

from skyfence.cli import main
from skyfence.coverage.stats import ABSENT, DENIED, SERVED, UNCOVERED
from skyfence.policy.cedar import cell_entity, load_policies, make_request, terminal_entity
from skyfence.service.scenario import example_names, example_path, load_scenario
from skyfence.service.simulate import PROBE_ID, build_ground, compute_visibility, decide

EX = example_path("ukraine-crimea").parent
POLICIES = EX.parent.parent / "data" / "policies"


def _write(tmp_path: Path, body: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


SMALL = f"""
    name = "small"
    [constellation]
    elements = "starlink"
    [time]
    start = "2026-04-30T05:30:00Z"
    duration_s = 5400
    step_s = 600
    [ground]
    region = ["UKR", "crimea", "black_sea_zone"]
    h3_resolution = 3
    terminals = "{EX / 'terminals.csv'}"
    tracks = "{EX / 'drone_track.csv'}"
    fleet = {{ n = 200, seed = 3, group = "civil" }}
    [regions]
    crimea = "B89"
    black_sea_zone = {{ polygon = [[30.5, 43.0], [36.5, 43.0], [36.5, 44.9], [30.5, 45.6]] }}
    [policy]
    files = ["{POLICIES / 'ukraine-crimea.cedar'}", "{POLICIES / 'speed-limit.cedar'}"]
    [output]
    timeline = true
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("small")
    sc = load_scenario(_write(tmp, SMALL))
    # speed-limit.cedar repeats the serve-everywhere id: use ukraine-crimea alone for the run
    sc.policy_files = [str(POLICIES / "ukraine-crimea.cedar")]
    ground = build_ground(sc)
    vis = compute_visibility(sc, ground)
    dec = decide(sc, ground, vis)
    return sc, ground, vis, dec


def test_decisions_equal_cedar(small):
    """Every (terminal, step) and (cell, step) decision equals cedarpy.is_authorized one by one."""
    sc, ground, vis, dec = small
    policy = load_policies(sc.policy_files)
    rs = ground.regions
    terms = ground.terminals
    rng = np.random.default_rng(0)
    n_term, n_t = vis.terminal_counts.shape
    lat, lon = terms.positions(n_t)
    checked = 0
    for i in rng.choice(n_term, size=min(n_term, 120), replace=False):
        for k in range(n_t):
            if not vis.present[i, k]:
                continue
            cell = int(vis.terminal_cells[i, k])
            # the cell entity's parents: the regions holding the terminal's own position
            regions = rs.point_region_names(lat[i, k : k + 1], lon[i, k : k + 1])[0]
            req = make_request(str(terms.ids[i]), cell, ground.t_utc[k], 0)
            entities = [terminal_entity(str(terms.ids[i]), terms.groups[i]), cell_entity(cell, regions)]
            for g in terms.groups[i]:
                entities.append({"uid": {"type": "Group", "id": g}, "attrs": {}, "parents": []})
            for r in regions:
                entities.append({"uid": {"type": "Region", "id": r}, "attrs": {}, "parents": []})
            allow = cedarpy.is_authorized(req, policy.text, entities).allowed
            assert dec.terminal_allowed[i, k] == allow
            want = ABSENT if not vis.present[i, k] else (UNCOVERED if vis.terminal_counts[i, k] == 0 else (SERVED if allow else DENIED))
            assert dec.terminal_states[i, k] == want
            checked += 1
    assert checked > 500
    for j in rng.choice(len(ground.cells), size=40, replace=False):
        cell = int(ground.cells[j])
        regions = rs.cell_region_names(np.array([cell], np.uint64))[0]
        entities = [terminal_entity(PROBE_ID, ("public",)), cell_entity(cell, regions)]
        entities += [{"uid": {"type": "Region", "id": r}, "attrs": {}, "parents": []} for r in regions]
        entities += [{"uid": {"type": "Group", "id": "public"}, "attrs": {}, "parents": []}]
        allow = cedarpy.is_authorized(make_request(PROBE_ID, cell, ground.t_utc[0], 0), policy.text, entities).allowed
        assert dec.cell_allowed[j, 0] == allow


def test_terminal_visibility_is_at_own_coordinates(small):
    """Counts at the terminal's own position equal an independent brute-force elevation count."""
    from skyfence.geo.earth import wgs84
    from skyfence.orbits.catalog import load_elements
    from skyfence.orbits.propagate import propagate

    sc, ground, vis, dec = small
    eph = propagate(load_elements("starlink"), ground.t_utc)
    lat, lon = ground.terminals.positions(len(ground.t_utc))
    for i in range(0, len(ground.terminals), 17):
        for k in range(len(ground.t_utc)):
            la = lat[i, k] if lat.ndim == 2 else lat[i]
            lo = lon[i, k] if lon.ndim == 2 else lon[i]
            if np.isnan(la):
                continue
            g = wgs84.ecef_km(la, lo, 0.0)
            d = eph.r_ecef_km[:, k] - g
            up = wgs84.up(la, lo)
            sin_el = (d @ up) / np.linalg.norm(d, axis=1)
            n = int(np.nansum(np.degrees(np.arcsin(np.clip(sin_el, -1, 1))) >= ground.min_elevation_deg))
            assert abs(n - vis.terminal_counts[i, k]) <= 0 or _borderline(sin_el, ground.min_elevation_deg)


def _borderline(sin_el, mask_deg):
    el = np.degrees(np.arcsin(np.clip(sin_el, -1, 1)))
    return np.any(np.abs(el - mask_deg) < 1e-9)


def test_crimea_denied_ukraine_served(small):
    sc, ground, vis, dec = small
    crimea = ground.regions.membership(ground.cells)[:, ground.regions.names.index("crimea")].toarray().ravel()
    covered = vis.cell_counts > 0
    assert (dec.cell_states[crimea][covered[crimea]] == DENIED).all()
    kyiv = list(ground.terminals.ids).index("kyiv-hospital-1")
    assert (dec.terminal_states[kyiv] == SERVED).all()
    sev = list(ground.terminals.ids).index("sevastopol-home-7")
    assert (dec.terminal_states[sev] == DENIED).all()


def test_drone_loses_service_at_geofence(tmp_path):
    """The Odesa -> Sevastopol drone is served, then denied from the first step whose own position
    is in a geofenced region: the boundary crossing, not before."""
    body = SMALL.replace('start = "2026-04-30T05:30:00Z"', 'start = "2026-04-30T02:00:00Z"').replace(
        "duration_s = 5400", "duration_s = 30000").replace("step_s = 600", "step_s = 300").replace(
        "fleet = { n = 200, seed = 3, group = \"civil\" }", "")
    sc = load_scenario(_write(tmp_path, body))
    sc.policy_files = [str(POLICIES / "ukraine-crimea.cedar")]
    ground = build_ground(sc)
    vis = compute_visibility(sc, ground)
    dec = decide(sc, ground, vis)
    i = list(ground.terminals.ids).index("sea-drone-1")
    st = dec.terminal_states[i]
    assert (st[vis.present[i]] != UNCOVERED).all()
    first = int(np.argmax(st == DENIED))
    assert st[0] == SERVED and first > 0 and (st[:first][vis.present[i, :first]] == SERVED).all()
    fence = {"crimea", "black_sea_zone"}
    lat, lon = ground.terminals.positions(len(ground.t_utc))
    names = ground.regions.point_region_names(lat[i, [first - 1, first]], lon[i, [first - 1, first]])
    assert not fence & set(names[0]) and fence & set(names[1])


def test_cli_run_outputs(tmp_path):
    p = _write(tmp_path, SMALL.replace(f', "{POLICIES / "speed-limit.cedar"}"', ""))
    out = tmp_path / "out"
    assert main(["run", str(p), "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    for key in ("cells", "covered_fraction", "served_fraction", "denied_fraction", "terminals"):
        assert key in s
    assert s["served_fraction"] + s["denied_fraction"] + s["uncovered_fraction"] == pytest.approx(1.0)
    assert s["denied_fraction"] > 0 and s["terminals"]["count"] == 209
    cells = pq.read_table(out / "cells.parquet")
    assert {"h3", "covered_fraction", "denied_fraction", "regions", "longest_outage_s"} <= set(cells.column_names)
    terms = pq.read_table(out / "terminals.parquet")
    assert {"id", "group", "steps_served", "steps_denied", "steps_uncovered", "longest_outage_s", "first_denied_utc"} <= set(terms.column_names)
    assert (out / "map.png").stat().st_size > 20_000 and (out / "terminals.png").stat().st_size > 10_000
    tl = pq.read_table(out / "terminal_states.parquet")
    assert tl.num_rows == 209 * 9


def test_impact_taiwan(tmp_path):
    """Withholding Taiwan vs serving it: every covered Taiwanese terminal is restored by the permit-all policy."""
    src = example_path("taiwan-withheld").read_text()
    src = src.replace("duration_s = 21600", "duration_s = 1200").replace("step_s = 60", "step_s = 600")
    src = src.replace("h3_resolution = 5", "h3_resolution = 4").replace("n = 3000", "n = 300")
    src = src.replace("../../data/policies/taiwan-withheld.cedar", str(POLICIES / "taiwan-withheld.cedar"))
    p = _write(tmp_path, src)
    allow = tmp_path / "allow.cedar"
    allow.write_text('permit (principal, action == Action::"connect", resource);\n')
    out = tmp_path / "imp"
    assert main(["impact", str(p), "--policy", str(allow), "--out", str(out)]) == 0
    rep = json.loads((out / "impact.json").read_text())
    # membership is by the terminal's own position: count those inside the fenced region's polygon
    import shapely

    from skyfence.service.simulate import build_ground

    sc = load_scenario(p)
    ground = build_ground(sc)
    fence = ground.regions.geometry("taiwan")
    lat, lon = (np.asarray(a).reshape(len(ground.terminals), -1)[:, 0] for a in ground.terminals.positions(len(ground.t_utc)))
    in_tw = int(shapely.intersects_xy(fence, lon, lat).sum())
    assert 250 < in_tw <= 300
    assert rep["restored"]["terminals"] == in_tw and rep["newly_denied"]["terminals"] == 0
    assert rep["restored"]["people"] > 1e6 and rep["restored"]["area_km2"] > 20_000
    assert rep["restored"]["first_utc"] == "2026-04-30T00:00:00Z"


@pytest.mark.parametrize(
    "mutate, want",
    [
        (lambda s: s.replace("h3_resolution", "h3_resolutoin"), "unknown key ground.h3_resolutoin (did you mean 'h3_resolution'?)"),
        (lambda s: s.replace('crimea = "B89"', 'crimea = "B8"'), "[regions]"),
        (lambda s: s.replace('region = ["UKR", "crimea", "black_sea_zone"]', 'region = "Ukrane"'), "did you mean"),
        (lambda s: s.replace("step_s = 600", 'step_s = "ten"'), "time.step_s: expected an integer or a number, got 'ten'"),
        (lambda s: s.replace("[time]", "[tiem]"), "unknown key 'tiem'"),
        (lambda s: s.replace('start = "2026-04-30T05:30:00Z"', 'start = "yesterday"'), "time.start"),
        (lambda s: s + "\n[[[", "invalid TOML"),
    ],
)
def test_bad_scenarios(tmp_path, capsys, mutate, want):
    p = _write(tmp_path, mutate(textwrap.dedent(SMALL)))
    rc = main(["run", str(p), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and want in " ".join(err.split()), err


def test_bad_geojson_and_bad_cedar(tmp_path, capsys):
    bad = tmp_path / "zone.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[1, 2]]}}]}')
    s = textwrap.dedent(SMALL).replace('crimea = "B89"', f'crimea = "{bad}"')
    assert main(["run", str(_write(tmp_path, s)), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "zone.geojson" in err and "Traceback" not in err
    pol = tmp_path / "broken.cedar"
    pol.write_text("permit (principal, action, resource) when { context.time >> 3 };\n")
    s = textwrap.dedent(SMALL).replace(f'files = ["{POLICIES / "ukraine-crimea.cedar"}", "{POLICIES / "speed-limit.cedar"}"]', f'files = ["{pol}"]')
    assert main(["run", str(_write(tmp_path, s, "t.toml")), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "broken.cedar" in err and "invalid Cedar policy" in err and "Traceback" not in err


def test_examples_load():
    assert set(example_names()) >= {"ukraine-crimea", "taiwan-withheld", "terminal-donation"}
    for name in example_names():
        sc = load_scenario(example_path(name))
        for f in sc.policy_files:
            assert sc.path(f).exists()
