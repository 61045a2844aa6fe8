"""``skyfence run`` replays the policy in force from a governance log, step by step."""

from __future__ import annotations

import datetime as dt
import textwrap

import numpy as np

from skyfence.coverage.stats import DENIED, SERVED, UNCOVERED
from skyfence.governance import policies
from skyfence.service.scenario import load_scenario
from skyfence.service.simulate import build_ground, compute_visibility, decide
from tests.governance.fixtures import make_plane

T0 = dt.datetime(2026, 4, 30, 6, 0, tzinfo=dt.UTC)


class _Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def test_replay_from_sqlite_log(tmp_path):
    clock = _Clock(T0 - dt.timedelta(hours=1))
    db = tmp_path / "gov.sqlite"
    plane = make_plane(f"sqlite:///{db}", clock=clock)
    cedar = 'permit(principal, action, resource);\n@id("geofence")\nforbid(principal, action, resource in Region::"zone");'
    # geofence around Sevastopol: proposed at 05:00, effective 06:30, quorum at 06:10 -> in force 06:30
    f = plane.proposal("alice", cedar=cedar, created_utc=clock.t, effective_utc=T0 + dt.timedelta(minutes=30),
                       regions={"zone": {"lat": 44.6, "lon": 33.52, "radius_km": 150}})
    policies.submit_proposal(plane.ledger, "alice", f, plane.sign("alice", f))
    clock.t = T0 + dt.timedelta(minutes=5)
    policies.submit_approval(plane.ledger, "bob", f["id"], plane.sign("bob", f))
    clock.t = T0 + dt.timedelta(minutes=10)
    assert policies.submit_approval(plane.ledger, "carol", f["id"], plane.sign("carol", f))["status"] == "enacted"
    plane.db.dispose()

    scen = tmp_path / "s.toml"
    scen.write_text(textwrap.dedent(f"""
        [constellation]
        elements = "starlink"
        [time]
        start = "2026-04-30T06:00:00Z"
        duration_s = 3600
        step_s = 600
        [ground]
        region = {{ lat = 44.6, lon = 33.52, radius_km = 400 }}
        h3_resolution = 4
        [policy]
        log = "{db.name}"
    """))
    sc = load_scenario(scen)
    ground = build_ground(sc)
    vis = compute_visibility(sc, ground)
    dec = decide(sc, ground, vis)
    st = dec.cell_states
    assert (st != UNCOVERED).all()
    # 06:00, 06:10, 06:20: no policy in force yet -> all served
    assert (st[:, :3] == SERVED).all()
    # from 06:30: cells in the zone denied, the others served
    from skyfence.policy.regionset import RegionSet

    zone = RegionSet.from_specs({"zone": {"lat": 44.6, "lon": 33.52, "radius_km": 150}}, 4)
    inside = np.isin(ground.cells, zone.cells("zone"))
    assert inside.sum() > 5 and (~inside).sum() > 5
    assert (st[inside, 3:] == DENIED).all() and (st[~inside, 3:] == SERVED).all()
    assert dec.policy_sources and "entry-" in dec.policy_sources[0]
