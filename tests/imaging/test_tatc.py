"""Revisit statistics against NASA TAT-C 3.6 (``tatc``, a dev dependency) on the same real
satellites, targets, sensor and period.

Matched definitions: our per-satellite accesses = TAT-C ``collect_observations`` periods (target
within half the field of regard of the geodetic nadir); ``n_accesses`` = ``reduce_observations``
``samples`` (after ``aggregate_observations`` merging); ``access_mean_s`` = its ``access``;
``revisit_mean_s`` = its ``revisit``; :func:`harmonic_revisit_s` = ``grid_observations``'s
sample-weighted harmonic mean. Tolerance: 0.05 s per access end (TAT-C refines to 1 ms on its
own Earth-rotation model), so 0.05 s on the means too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from skyfence.imaging.access import find_accesses
from skyfence.imaging.sensors import Sensor
from skyfence.imaging.stats import harmonic_revisit_s, target_stats
from skyfence.orbits.catalog import load_elements

tatc = pytest.importorskip("tatc")

POINTS = [(44.6, 33.5), (25.0, 121.5), (0.0, 10.0), (60.0, -100.0)]
START = datetime(2025, 10, 7, tzinfo=UTC)
DURATION_S = 2 * 86400
TOL_S = 0.05


@pytest.fixture(scope="module")
def both():
    from sgp4.exporter import export_tle
    from shapely.geometry import Point
    from tatc.analysis import aggregate_observations, collect_observations, reduce_observations
    from tatc.schemas import Instrument, Satellite, TwoLineElements

    els = load_elements("active-2025-10-07:SENTINEL-2*,SKYSAT-C1*,ICEYE-X2")
    sats = [Satellite(name=n, orbit=TwoLineElements(tle=list(export_tle(s))),
                      instruments=[Instrument(field_of_regard=60.0)])
            for n, s in zip(els.names, els.satrecs, strict=True)]
    points = [Point(lon, lat) for lat, lon in POINTS]
    obs = collect_observations(points, sats, START, START + timedelta(seconds=DURATION_S))
    red = reduce_observations(aggregate_observations(obs))
    ours = find_accesses(els, Sensor(kind="optical", max_off_nadir_deg=30.0),
                         np.array([p[0] for p in POINTS]), np.array([p[1] for p in POINTS]),
                         start="2025-10-07T00:00:00", duration_s=DURATION_S, step_s=30.0)
    # TAT-C identifies points by hash; map them back by coordinates
    key = {(round(g.y, 6), round(g.x, 6)): i for i, g in enumerate(points)}
    obs["target"] = [key[(round(g.y, 6), round(g.x, 6))] for g in obs.geometry]
    red["target"] = [key[(round(g.y, 6), round(g.x, 6))] for g in red.geometry]
    return els, obs, red.set_index("target").sort_index(), ours


def test_accesses_equal_tatc_observations(both):
    els, obs, _, ours = both
    theirs = pd.DataFrame({"target": obs["target"], "name": obs["satellite"],
                           "start": obs["start"].dt.tz_localize(None), "end": obs["end"].dt.tz_localize(None)})
    theirs = theirs.sort_values(["target", "name", "start"]).reset_index(drop=True)
    mine = ours.sort_values(["target", "name", "start_utc"]).reset_index(drop=True)
    assert len(mine) == len(theirs) > 40
    assert (mine["name"].to_numpy() == theirs["name"].to_numpy()).all()
    d0 = np.abs((mine["start_utc"] - theirs["start"]).dt.total_seconds())
    d1 = np.abs((mine["end_utc"] - theirs["end"]).dt.total_seconds())
    assert max(d0.max(), d1.max()) < TOL_S


def test_revisit_statistics_equal_tatc(both):
    _, _, red, ours = both
    st = target_stats(ours, len(POINTS), start="2025-10-07T00:00:00", duration_s=DURATION_S)
    assert (st["n_accesses"].to_numpy() == red["samples"].to_numpy()).all()
    np.testing.assert_allclose(st["access_mean_s"], red["access"].dt.total_seconds(), atol=TOL_S)
    np.testing.assert_allclose(st["revisit_mean_s"], red["revisit"].dt.total_seconds(), atol=TOL_S)
    # grid_observations' harmonic mean, computed from TAT-C's own per-point numbers
    n, r = red["samples"].to_numpy(float), red["revisit"].dt.total_seconds().to_numpy()
    assert harmonic_revisit_s(st) == pytest.approx(n.sum() / (n / r).sum(), abs=TOL_S)
