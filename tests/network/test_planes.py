"""Plane and slot inference (skyfence.network.planes) on Walker shells and the real snapshot."""

from __future__ import annotations

import numpy as np
import pytest
from sgp4.api import WGS72, Satrec

from skyfence.geo.earth import wgs72
from skyfence.network.isl import segment_min_radius_km
from skyfence.network.planes import circular_clusters, filed_shell_match, infer_planes
from skyfence.orbits.elements import Elements
from skyfence.orbits.propagate import propagate
from skyfence.orbits.shells import Shell, walker_elements

EPOCH = "2026-01-01T00:00:00"
P, S = 12, 10


def expected_grid(n_planes: int, sats: int) -> set[tuple[int, int]]:
    """The nearest-phase +Grid of a Walker f=1 shell: (o, i)-(o, i+1), (o, i)-(o+1, i), and after
    the last plane (P-1, i)-(0, i+1)."""
    out = set()
    for o in range(n_planes):
        for i in range(sats):
            a = o * sats + i
            nxt = [o * sats + (i + 1) % sats]
            nxt.append((o + 1) * sats + i if o < n_planes - 1 else (i + 1) % sats)
            out |= {(min(a, b), max(a, b)) for b in nxt}
    return out


def epoch_shifted(elements: Elements, days: np.ndarray) -> Elements:
    """The same satellites with element epochs ``days`` later: mean elements carried forward by
    SGP4's secular J2/J4 rates (no drag), i.e. the shell as SGP4 propagates it."""
    sats = []
    for sat, d in zip(elements.satrecs, days, strict=True):
        dt_min = float(d) * 1440.0
        new = Satrec()
        new.sgp4init(
            WGS72, "i", sat.satnum, sat.jdsatepoch + sat.jdsatepochF - 2433281.5 + float(d),
            0.0, 0.0, 0.0, sat.ecco, (sat.argpo + sat.argpdot * dt_min) % (2 * np.pi),
            sat.inclo, (sat.mo + sat.mdot * dt_min) % (2 * np.pi), sat.no_kozai,
            (sat.nodeo + sat.nodedot * dt_min) % (2 * np.pi),
        )  # fmt: skip
        sats.append(new)
    return Elements(list(elements.names), list(elements.norad_ids), sats, source="shifted")


def check_known_answer(layout, n_planes: int, sats: int) -> None:
    n = n_planes * sats
    true_plane, true_slot = np.divmod(np.arange(n), sats)
    assert layout.reason_counts()["placed"] == n
    assert len(layout.shells) == 1 and layout.shells["planes"][0] == n_planes
    assert layout.shells["slots_per_plane"][0] == sats
    # planes: a cyclic relabelling of the true ones; slots: one offset per plane
    assert len(np.unique((layout.plane - true_plane) % n_planes)) == 1
    for o in range(n_planes):
        m = true_plane == o
        assert len(np.unique((layout.slot[m] - true_slot[m]) % sats)) == 1
    assert {tuple(p) for p in layout.isls.tolist()} == expected_grid(n_planes, sats)


def test_walker_shell_planes_and_slots_exact():
    els = walker_elements([Shell(P, S, 550.0, 53.0)], epoch_utc=EPOCH)
    check_known_answer(infer_planes(els, EPOCH), P, S)


def test_walker_shell_with_epochs_spread_over_ten_days():
    els = walker_elements([Shell(P, S, 550.0, 53.0)], epoch_utc=EPOCH)
    days = (np.arange(P * S) * 7) % 11  # 0..10 days after the common instant, mixed in planes
    shifted = epoch_shifted(els, days.astype(float))
    # the node regresses ~4.6 deg/day: without the J2 rate, planes 30 deg apart would mix
    check_known_answer(infer_planes(shifted, EPOCH), P, S)
    lay = infer_planes(shifted, np.datetime64(EPOCH) + np.timedelta64(10, "D"))
    check_known_answer(lay, P, S)


def test_circular_clusters_wrap_around():
    ang = np.array([359.8, 0.1, 0.2, 90.0, 90.3, 180.0, 359.9])
    lab = circular_clusters(ang, 0.5)
    assert lab[0] == lab[1] == lab[2] == lab[6]
    assert lab[3] == lab[4] != lab[5]
    assert len(set(lab.tolist())) == 3


@pytest.fixture(scope="module")
def starlink_layout():
    from skyfence.orbits.catalog import load_elements

    els = load_elements("starlink")
    t = np.datetime64("2026-04-30T12:00:00", "ns")
    return els, t, infer_planes(els, t, max_isl_length_km=5000.0)


def test_real_snapshot_grid_links_and_degree(starlink_layout):
    els, t, lay = starlink_layout
    r = propagate(els, np.array([t])).r_teme_km[:, 0]
    a, b = lay.isls[:, 0], lay.isls[:, 1]
    length = np.linalg.norm(r[a] - r[b], axis=1)
    assert length.max() < 5000.0
    assert (segment_min_radius_km(r[a], r[b]) >= wgs72.semi_major_km + 80.0).all()
    degree = np.bincount(lay.isls.ravel(), minlength=len(els))
    assert (degree[lay.placed] == 4).all()
    partial = lay.reason == 5
    assert (degree[partial] <= 3).all()  # a wide gap in its plane or lane
    assert (degree[(~lay.placed) & (~partial)] == 0).all()  # unplaced: no ISLs
    counts = lay.reason_counts()
    assert sum(counts.values()) == len(els)
    assert counts["placed"] > 0.8 * len(els)


def test_real_snapshot_has_the_filed_72_plane_shell(starlink_layout):
    _, _, lay = starlink_layout
    table = filed_shell_match(lay.shells)
    row = table[(table["inclination_deg"].sub(53.2).abs() < 0.03) & (table["altitude_km"] > 520)]
    assert len(row) == 1
    assert int(row["planes"].iloc[0]) == int(row["filed_planes"].iloc[0]) == 72
