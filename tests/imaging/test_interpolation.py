"""Between grid steps :mod:`skyfence.imaging.access` evaluates satellites without SGP4: cubic Hermite
interpolation of SGP4's TEME positions and velocities, the interpolated sidereal angle, and the
interpolated deflection of the vertical for the geodetic nadir. Against SGP4 run directly at random
instants (1 day at 30 s steps, LEO satellites from 265 to 650 km and a geostationary one): position
error measured at most 9 cm for the LEO satellites (ICEYE-X20 at 265 km: 8.6 cm; Sentinel-2A: 5.6 cm)
and 17 cm for the geostationary GAOFEN-4 (asserted: below 0.25 m), i.e. below 1e-6 deg as seen from
a target 300 km away. The floor is SGP4's own: its velocity differs from the time derivative of its
position by 17-57 mm/s (measured by central differences over 10 ms), and a Hermite interpolant
over h = 30 s with a velocity error dv is off by up to 4/27 h dv (up to 25 cm); geodetic nadir direction within 2e-4 deg (measured 1.0e-4 deg, from the
linear interpolation of the deflection of the vertical)."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.imaging.access import _grid, _nadir, _Problem, _Sats, _unit
from skyfence.imaging.sensors import Sensor, SensorTable
from skyfence.links import ground_points
from skyfence.orbits.catalog import load_elements
from skyfence.orbits.propagate import propagate

NAMES = "ICEYE-X20,SKYSAT-C1,SENTINEL-2A,GAOFEN-1 03,GAOFEN-4"


@pytest.fixture(scope="module")
def setup():
    els = load_elements(f"active-2025-10-07:{NAMES}")
    grid = _grid("2025-10-07T00:00:00", 86400.0, 30.0)
    eph = propagate(els, grid.t_utc)
    r = eph.r_ecef_km
    sats = _Sats(eph.r_teme_km, eph.v_teme_km_s, r, _nadir(r) + _unit(r), np.arange(len(els)))
    g, u = ground_points(np.array([0.0]), np.array([0.0]), 0.0)
    table = SensorTable.of([Sensor()] * len(els))
    return els, grid, _Problem(grid, sats, table, g.reshape(-1, 3), u.reshape(-1, 3))


def test_hermite_positions_equal_sgp4_at_random_instants(setup):
    els, grid, prob = setup
    rng = np.random.default_rng(7)
    s = rng.uniform(0, len(grid.sec) - 1, 2000)
    t = grid.t_utc[0] + np.round(s * 30e9).astype("int64").astype("timedelta64[ns]")
    s = (t - grid.t_utc[0]).astype("int64") / 30e9  # the instants exactly
    exact = propagate(els, t).r_ecef_km  # [n_sat, 2000, 3]
    worst_m = []
    for j in range(len(els)):
        r, _, _, _ = prob.hermite(np.full(len(s), j), s)
        err_m = np.linalg.norm(r - exact[j], axis=1) * 1e3
        worst_m.append(err_m.max())
    assert max(worst_m) < 0.25, dict(zip(els.names, worst_m, strict=True))


def test_interpolated_nadir_equals_geodetic_nadir(setup):
    els, grid, prob = setup
    rng = np.random.default_rng(8)
    s = rng.uniform(0, len(grid.sec) - 1, 2000)
    for j in range(len(els)):
        js = np.full(len(s), j)
        r, _, k0, tau = prob.hermite(js, s)
        d = prob.sats.deflection
        nad = _unit(d[js, k0] + tau * (d[js, k0 + 1] - d[js, k0]) - _unit(r))
        exact = _nadir(r)
        ang = np.degrees(np.arctan2(np.linalg.norm(np.cross(nad, exact), axis=1), np.sum(nad * exact, axis=1)))
        assert ang.max() < 2e-4, (els.names[j], ang.max())
