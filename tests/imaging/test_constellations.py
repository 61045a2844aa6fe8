"""Constellations for revisit: selection inside a catalogue, sun-synchronous Walker shells."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.errors import ElementsError
from skyfence.orbits.catalog import load_elements, select
from skyfence.orbits.frames import time_grid
from skyfence.orbits.propagate import propagate
from skyfence.orbits.shells import SUN_MEAN_MOTION_DEG_DAY, Shell, mean_sun_ra_deg, walker_elements


def test_selection_by_pattern_and_norad_id():
    els = load_elements("active-2025-10-07:SKYSAT*,25544")
    assert len(els) == 16
    assert all(n.startswith("SKYSAT") for n in els.names if n != "ISS (ZARYA)")
    assert 25544 in els.norad_ids
    full = load_elements("active-2025-10-07")
    assert len(select(full, name_pattern="yaogan*")) == sum(n.startswith("YAOGAN") for n in full.names)
    with pytest.raises(ElementsError, match="no satellite"):
        load_elements("active-2025-10-07:NOSUCHSAT*")


def test_sun_synchronous_raan_drift_under_sgp4():
    """RAAN from the propagated TEME state over 30 days drifts at the Sun's mean motion (< 1 %)."""
    els = walker_elements([Shell(2, 2, 550.0, 0.0, ltan_h=10.5, name="sso")], epoch_utc="2026-01-01T00:00:00")
    t = time_grid("2026-01-01T00:00:00", 30 * 86400, 3600)
    eph = propagate(els, t)
    h = np.cross(eph.r_teme_km, eph.v_teme_km_s)
    raan = np.degrees(np.unwrap(np.arctan2(h[..., 0], -h[..., 1]), axis=1))
    days = (t - t[0]).astype("int64") / 86_400e9
    for k in range(len(els)):
        rate = np.polyfit(days, raan[k], 1)[0]
        assert rate == pytest.approx(0.9856, rel=0.01)
        assert rate == pytest.approx(SUN_MEAN_MOTION_DEG_DAY, rel=0.005)
    # plane 0's node at 10:30 mean local time: 22.5 deg west of the mean Sun
    assert (raan[0, 0] - mean_sun_ra_deg("2026-01-01T00:00:00") + 22.5 + 180) % 360 - 180 == pytest.approx(0, abs=0.05)
    assert 97.0 < np.degrees(els.satrecs[0].inclo) < 98.0
