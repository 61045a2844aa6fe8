"""A ``run`` scenario with ``[observers]``: per cell and terminal, the share of served steps during
which an imaging satellite could image it, against a brute-force skyfield computation."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from skyfield.api import EarthSatellite, load, wgs84
from skyfield.framelib import itrs

from skyfence.coverage.stats import ABSENT, SERVED
from skyfence.errors import ScenarioError
from skyfence.orbits.catalog import load_elements
from skyfence.orbits.frames import time_grid
from skyfence.service.run import run
from skyfence.service.scenario import example_names, load_scenario

START, DURATION_S, STEP_S = "2025-10-07T00:00:00Z", 1800, 30
OPTICAL, STEEP = "active-2025-10-07:SKYSAT-C1", "active-2025-10-07:SKYSAT-C4"


def _skyfield_frames(spec: str, t_utc: np.ndarray):
    """ITRS positions (km, [n_sat, n_t, 3]) and sub-satellite (lat, lon) of each satellite."""
    ts = load.timescale(builtin=True)
    secs = (t_utc - t_utc[0]).astype("int64") / 1e9
    t = ts.utc(2025, 10, 7, 0, 0, secs)
    els = load_elements(spec)
    r, sub = [], []
    for s in els.satrecs:
        geo = EarthSatellite.from_satrec(s, ts).at(t)
        r.append(geo.frame_xyz(itrs).km.T)
        p = wgs84.geographic_position_of(geo)
        sub.append((p.latitude.degrees, p.longitude.degrees))
    return np.array(r), sub


def _up(lat, lon):
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def _brute_force(lat, lon, sats_opt, sub_opt, sats_steep):
    """bool [n_point, n_time]: an optical (30 deg off-nadir) or a steep (60 deg elevation) satellite
    can image the point, one point, satellite and step at a time."""
    n_t = sats_opt.shape[1]
    out = np.zeros((len(lat), n_t), bool)
    for i in range(len(lat)):
        for k in range(n_t):
            if not (np.isfinite(lat[i, k]) and np.isfinite(lon[i, k])):
                continue
            g = wgs84.latlon(lat[i, k], lon[i, k]).itrs_xyz.km
            up = _up(lat[i, k], lon[i, k])
            for j in range(len(sats_opt)):
                d = sats_opt[j, k] - g
                el = np.degrees(np.arcsin(np.clip(d @ up / np.linalg.norm(d), -1, 1)))
                nadir = -_up(sub_opt[j][0][k], sub_opt[j][1][k])
                off = np.degrees(np.arccos(np.clip(-d @ nadir / np.linalg.norm(d), -1, 1)))
                out[i, k] |= el > 0 and off < 30.0
            for j in range(len(sats_steep)):
                d = sats_steep[j, k] - g
                out[i, k] |= np.degrees(np.arcsin(d @ up / np.linalg.norm(d))) > 60.0
    return out


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("observers")
    t = time_grid(START, DURATION_S, STEP_S)
    r_opt, sub_opt = _skyfield_frames(OPTICAL, t)
    r_steep, _ = _skyfield_frames(STEEP, t)
    lat_s, lon_s = sub_opt[0]
    # A and B under the optical satellite at steps 10 and 40; C far from its track
    fixed = {"A": (lat_s[10], lon_s[10]), "B": (lat_s[40], lon_s[40]), "C": (-30.0, 20.0)}
    (tmp / "terminals.csv").write_text("id,lat,lon\n" + "".join(f"{k},{a},{b}\n" for k, (a, b) in fixed.items()))
    # M follows the optical satellite's sub-satellite point from step 5 to step 50
    iso = [str(np.datetime64(x, "s")) + "Z" for x in t]
    (tmp / "track.csv").write_text("id,t_utc,lat,lon\n" + "".join(
        f"M,{iso[k]},{lat_s[k]},{lon_s[k]}\n" for k in range(5, 51)))
    (tmp / "s.toml").write_text(textwrap.dedent(f"""
        name = "watched"
        [constellation]
        elements = "active-2025-10-07:ONEWEB-00*"
        [time]
        start = "{START}"
        duration_s = {DURATION_S}
        step_s = {STEP_S}
        [ground]
        region = {{ lat = {lat_s[10]}, lon = {lon_s[10]}, radius_km = 250 }}
        h3_resolution = 3
        terminals = "terminals.csv"
        tracks = "track.csv"
        [observers]
        elements = "{OPTICAL}"
        [sensor]
        kind = "optical"
        max_off_nadir_deg = 30
        [observers.groups.steep]
        elements = "{STEEP}"
        sensor = {{ kind = "elevation", min_elevation_deg = 60 }}
        [output]
        map = false
        plot = false
    """))
    res = run(tmp / "s.toml")
    return res, (r_opt, sub_opt, r_steep), tmp


def test_observed_steps_equal_brute_force(case):
    res, (r_opt, sub_opt, r_steep), _ = case
    n_t = len(res.ground.t_utc)
    lat, lon = res.ground.terminals.positions(n_t)
    bf = _brute_force(lat, lon, r_opt, sub_opt, r_steep)
    ids = [str(i) for i in res.ground.terminals.ids]
    np.testing.assert_array_equal(res.visibility.terminal_observed, bf)
    a, b, m = ids.index("A"), ids.index("B"), ids.index("M")
    assert bf[a, 10] and bf[b, 40] and not bf[a, 40] and not bf[b, 10]
    assert bf[m, 5:51].all() and not bf[m, :5].any() and not bf[m, 51:].any()
    cl = np.repeat(res.cells["lat_deg"].to_numpy()[:, None], n_t, axis=1)
    cn = np.repeat(res.cells["lon_deg"].to_numpy()[:, None], n_t, axis=1)
    bf_cells = _brute_force(cl, cn, r_opt, sub_opt, r_steep)
    np.testing.assert_array_equal(res.visibility.cell_observed, bf_cells)
    assert bf_cells.any() and not bf_cells.all()


def test_observed_while_served_fraction(case):
    res, _, tmp = case
    ts, obs = res.decisions.terminal_states, res.visibility.terminal_observed
    served = ts == SERVED
    assert served.any() and not served.all()  # the 73 OneWeb satellites serve some steps only
    terms = res.terminals.set_index("id")
    for i, tid in enumerate(str(x) for x in res.ground.terminals.ids):
        want = (obs[i] & served[i]).sum() / served[i].sum() if served[i].any() else np.nan
        np.testing.assert_equal(terms.loc[tid, "observed_while_served_fraction"], want)
        present = ts[i] != ABSENT
        assert terms.loc[tid, "observed_fraction"] == pytest.approx((obs[i] & present).sum() / present.sum())
    cs = res.decisions.cell_states == SERVED
    want = np.array([(o & s).sum() / s.sum() if s.any() else np.nan for o, s in zip(res.visibility.cell_observed, cs, strict=True)])
    np.testing.assert_allclose(res.cells["observed_while_served_fraction"].to_numpy(), want, equal_nan=True)
    s = res.summary["observers"]
    assert s["groups"] == {"observers": {"kind": "optical", "satellites": 1},
                           "steep": {"kind": "elevation", "satellites": 1}}
    assert s["terminals"]["observed_while_served_fraction"] == pytest.approx((obs & served).sum() / served.sum())
    res.write(tmp / "out")
    assert "observed_while_served_fraction" in pd.read_parquet(tmp / "out" / "terminals.parquet")
    assert "observed_while_served_fraction" in pd.read_parquet(tmp / "out" / "cells.parquet")
    assert json.loads((tmp / "out" / "summary.json").read_text())["observers"]["satellites"] == 2


def test_scenario_kinds(tmp_path):
    assert "sevastopol-watch" not in example_names() and "taiwan-strait-watch" in example_names("revisit")
    base = '[constellation]\nelements = "oneweb"\n[time]\nstart = "2026-01-01"\nduration_s = 60\nstep_s = 30\n' \
           '[ground]\nregion = "MLT"\n'
    for extra, msg in [('kind = "revisit"\n', "run it with skyfence revisit"), ('kind = "walk"\n', "kind must be"),
                       ('[sensor]\nkind = "optical"\n', "[sensor] without [observers]"),
                       ('[observers]\nelements = "sso-500"\n', "needs a [sensor] table")]:
        p = tmp_path / "s.toml"
        p.write_text(extra + base if extra.startswith("kind") else base + extra)
        with pytest.raises(ScenarioError, match=msg.replace("[", r"\[").replace("]", r"\]")):
            load_scenario(p)
    p.write_text(base)
    assert load_scenario(p).observers == []
