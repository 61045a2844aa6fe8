"""GET /service coverage with the real constellation: the server's vectorised elevation of every
Starlink satellite equals skyfield's topocentric altitude (an independent implementation) on a
sample of satellites, and a decision at a real place and time carries a receipt that verifies."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from skyfence.governance import registry
from skyfence.governance import service as svc
from skyfence.governance.receipts import verify_receipt

AT = dt.datetime(2026, 4, 30, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("lat, lon", [(50.45, 30.52), (-33.9, 18.4), (64.1, -21.9)])
def test_elevations_match_skyfield(lat, lon):
    from skyfield.api import EarthSatellite, load, wgs84

    from skyfence.orbits.catalog import load_elements

    el = svc.elevations_deg(lat, lon, AT)
    elements = load_elements("starlink")
    assert len(el) == len(elements.satrecs)
    ts = load.timescale(builtin=True)
    t = ts.from_datetime(AT)
    here = wgs84.latlon(lat, lon)
    rng = np.random.default_rng(7)
    sample = list(rng.choice(len(el), 150, replace=False)) + list(np.argsort(el)[-10:])
    for i in sample:
        sat = EarthSatellite.from_satrec(elements.satrecs[i], ts)
        alt, _, _ = (sat - here).at(t).altaz()
        assert abs(alt.degrees - el[i]) < 0.05, (i, alt.degrees, el[i])
    n, top = svc.visible_satellites(lat, lon, AT)
    assert n == int(np.sum(el >= 25.0)) and n > 0 and top == pytest.approx(el.max())


def test_real_decision_and_receipt(plane):
    registry.register_terminal(plane.ledger, "op", "kyiv", 50.45, 30.52, status="active")
    r = svc.decide_service(plane.ledger, "kyiv", AT)
    assert r["decision"] == "served" and r["visible_satellites"] > 0
    assert r["h3_cell"] and r["tree_size"] == plane.ledger.size()
    verify_receipt(r, verifier_key=plane.ledger.verifier_key)
