"""skyfence's routing against Hypatia's own output (Kuiper-630, top-100 cities, +Grid, 100 ms steps).

Reference: tests/data/hypatia-kuiper-630 (see its README). Hypatia's inputs are used as they are:
tles.txt (epoch 2000-01-01T00:00:00Z), isls.txt, the ECEF x,y,z of ground_stations.txt and the
cut-offs of description.txt. Satellites: skyfence.orbits (python-sgp4, TEME -> ECEF); the Earth is
turned by GMST of UTC, as PyEphem (inside Hypatia) does — skyfence's default, GMST of UT1, is
checked too, with its measured (larger) difference stated.

Known, explained deviation: Hypatia measures ground-satellite ranges with PyEphem's topocentric
geometry, which differs from SGP4 + GMST rotation by ~10-20 m. When a ground link's range is
within that margin of the 1,260 km cut-off, the two tools may disagree on whether the link exists
at that step. That happens once in the 860 reference rows (t = 3.2 s, Rio de Janeiro -> Saint
Petersburg: satellite 177 is at 1,259.988 km of Saint Petersburg here, just outside the cut-off for
Hypatia, which takes that link one step later). The test allows a different path only in that case
(a ground link on one of the two paths within 30 m of the cut-off) and at most once; everywhere
else the path must be the same (or of equal length within 1 m) and the RTT within 0.001 ms.
"""

from __future__ import annotations

import csv
import heapq
from pathlib import Path

import numpy as np
import pytest

from skyfence.ground.stations import read_ground_stations
from skyfence.network.isl import plus_grid, read_isls
from skyfence.network.latency import latency, satellite_ecef_km
from skyfence.network.routing import path_length_km, rtt_ms_from_length_km
from skyfence.orbits.catalog import load_elements

DATA = Path(__file__).resolve().parents[1] / "data" / "hypatia-kuiper-630"
C_KM_S = 299_792.458


def _description() -> dict[str, float]:
    out = {}
    for line in (DATA / "description.txt").read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = float(v)
    return out


DESC = _description()
MAX_GSL_KM = DESC["max_gsl_length_m"] / 1000.0
MAX_ISL_KM = DESC["max_isl_length_m"] / 1000.0
EPOCH = np.datetime64("2000-01-01T00:00:00", "ns")


def _reference_rows() -> list[dict]:
    with open(DATA / "rtt.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _positions(t_ns: np.ndarray, earth_rotation: str = "utc"):
    """Satellite ECEF km [n_sat, n_time, 3] of Hypatia's tles.txt through skyfence.orbits, with
    the Earth turned by GMST of UTC as Hypatia (PyEphem) does (UT1 - UTC ignored)."""
    elements = load_elements(str(DATA / "tles.txt"))
    return elements, satellite_ecef_km(
        elements, EPOCH + t_ns.astype("timedelta64[ns]"), earth_rotation=earth_rotation
    )


@pytest.fixture(scope="module")
def scenario():
    rows = _reference_rows()
    t_ns = np.array(sorted({int(r["t_ns"]) for r in rows}), dtype=np.int64)
    assert len(t_ns) == 172
    elements, sat_ecef_km = _positions(t_ns)
    assert len(elements) == 1156
    stations = read_ground_stations(DATA / "ground_stations.txt")
    isls = read_isls(DATA / "isls.txt", len(elements))
    return rows, t_ns, elements, sat_ecef_km, stations, isls


def test_hypatia_isls_are_plus_grid():
    assert np.array_equal(read_isls(DATA / "isls.txt", 1156), plus_grid(34, 34, shift=0))


def test_hypatia_ground_station_ecef_used_as_given():
    gs = read_ground_stations(DATA / "ground_stations.txt")
    assert len(gs) == 100 and gs.names[21] == "Moskva-(Moscow)"
    assert gs.ecef_km[0] == pytest.approx(
        [-3954.843592378, 3354.935154958, 3700.263820217], abs=1e-9
    )


def _run(scenario, pairs, steps=None):
    rows, t_ns, elements, sat, stations, isls = scenario
    if steps is not None:
        sat = sat[:, steps, :]
        t_ns = t_ns[steps]
    # Hypatia's ground links: its slant-range cut-off alone, no elevation mask
    return latency(
        elements,
        pairs,
        stations=stations,
        t_utc=EPOCH + t_ns.astype("timedelta64[ns]"),
        isl=isls,
        max_isl_length_km=MAX_ISL_KM,
        grazing_alt_km=None,
        max_gsl_range_km=MAX_GSL_KM,
        min_elevation_deg=None,
        sat_ecef_km=sat,
    )


def _gsl_ranges(path: list[int], sat_t: np.ndarray, gs_ecef: np.ndarray) -> list[float]:
    n = len(sat_t)
    return [
        float(np.linalg.norm(sat_t[path[1]] - gs_ecef[path[0] - n])),
        float(np.linalg.norm(sat_t[path[-2]] - gs_ecef[path[-1] - n])),
    ]


def _compare_with_hypatia(scenario, sat, tolerance_ms):
    """Route the five reference pairs on ``sat``; assert the reference's criteria; return
    (max |dRTT| over rows with the same path, rows with a different path)."""
    rows, t_ns, elements, _, stations, isls = scenario
    pairs = sorted({(int(r["src_gs"]), int(r["dst_gs"])) for r in rows})
    res = _run((rows, t_ns, elements, sat, stations, isls), pairs)
    t_index = {int(t): i for i, t in enumerate(t_ns)}
    max_diff_ms = 0.0
    different_paths = []
    for r in rows:
        t = t_index[int(r["t_ns"])]
        p = pairs.index((int(r["src_gs"]), int(r["dst_gs"])))
        ours = res.routes.path(t, p)
        theirs = [int(x) for x in r["path"].split("-")]
        assert int(r["hops"]) == len(theirs) - 1
        if ours == theirs:
            same = True
            assert res.routes.hops[t, p] == int(r["hops"])
        else:  # a different path of equal length (within 1 m) counts as the same
            len_ours = path_length_km(sat[:, t, :], stations.ecef_km, ours)
            len_theirs = path_length_km(sat[:, t, :], stations.ecef_km, theirs)
            same = abs(len_ours - len_theirs) <= 1e-3
        if same:
            diff = abs(res.rtt_ms[t, p] - float(r["rtt_ms"]))
            max_diff_ms = max(max_diff_ms, diff)
            assert diff <= tolerance_ms, (r["t_ns"], r["src_name"], r["dst_name"], res.rtt_ms[t, p])
        else:
            # only explained by a ground link at the cut-off (PyEphem vs SGP4 geometry, ~10-20 m)
            ranges = _gsl_ranges(ours, sat[:, t, :], stations.ecef_km)
            ranges += _gsl_ranges(theirs, sat[:, t, :], stations.ecef_km)
            assert min(abs(x - MAX_GSL_KM) for x in ranges) < 0.030, (r, ours, ranges)
            different_paths.append((int(r["t_ns"]), r["src_name"], r["dst_name"]))
    return max_diff_ms, different_paths


def test_five_pairs_match_hypatia_at_every_step(scenario):
    """Earth rotation as Hypatia does it (GMST of UTC): RTT within 0.001 ms at all 860 rows."""
    max_diff_ms, different_paths = _compare_with_hypatia(scenario, scenario[3], 0.001)
    print(
        f"GMST(UTC): max |RTT - Hypatia| = {max_diff_ms:.6f} ms; different paths: {different_paths}"
    )
    assert max_diff_ms > 0.0  # the comparison really ran on numbers
    assert len(different_paths) <= 1, different_paths


def test_five_pairs_with_ut1_earth_rotation(scenario):
    """skyfence's default (GMST of UT1; UT1 - UTC = +0.355 s on 2000-01-01) turns the Earth
    5.3 arcsec (~165 m at the equator) further than Hypatia: measured max |dRTT| 0.00116 ms (Manila - Dalian), so the bound
    here is 0.002 ms, stated rather than hidden. Paths: all 860 the same as Hypatia's."""
    _, sat_ut1 = _positions(scenario[1], "ut1")
    max_diff_ms, different_paths = _compare_with_hypatia(scenario, sat_ut1, 0.002)
    print(
        f"GMST(UT1): max |RTT - Hypatia| = {max_diff_ms:.6f} ms; different paths: {different_paths}"
    )
    assert len(different_paths) <= 2, different_paths


def _dijkstra_reference(sat_t, isls_t, gs_ecef, src, dsts):
    """Independent heap Dijkstra: sources are the satellites in range of ``src`` (initial
    offsets = ground link length), no relaying through ground stations. Returns km per dst."""
    n = len(sat_t)
    adj: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for a, b in isls_t:
        d = float(np.linalg.norm(sat_t[a] - sat_t[b]))
        adj[a].append((b, d))
        adj[b].append((a, d))
    rng = np.linalg.norm(sat_t - gs_ecef[src], axis=1)
    dist = np.full(n, np.inf)
    heap = []
    for s in np.flatnonzero(rng <= MAX_GSL_KM):
        dist[s] = rng[s]
        heap.append((rng[s], int(s)))
    heapq.heapify(heap)
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v, w in adj[u]:
            if d + w < dist[v]:
                dist[v] = d + w
                heapq.heappush(heap, (d + w, v))
    out = []
    for dst in dsts:
        rd = np.linalg.norm(sat_t - gs_ecef[dst], axis=1)
        ok = rd <= MAX_GSL_KM
        out.append(float(np.min(dist[ok] + rd[ok])) if ok.any() else np.inf)
    return np.array(out)


def test_other_city_pairs_consistent(scenario):
    rows, t_ns, elements, sat, stations, isls = scenario
    rng = np.random.default_rng(4)
    reference = {(int(r["src_gs"]), int(r["dst_gs"])) for r in rows}
    pairs = []
    while len(pairs) < 40:
        a, b = (int(x) for x in rng.choice(100, 2, replace=False))
        if (a, b) not in reference and (a, b) not in pairs:
            pairs.append((a, b))
    steps = np.array([0, 57, 171])
    res = _run(scenario, pairs, steps)
    n_sat = len(elements)
    n_disconnected = 0
    for k, t in enumerate(steps):
        sat_t = sat[:, t, :]
        lengths = np.linalg.norm(sat_t[isls[:, 0]] - sat_t[isls[:, 1]], axis=1)
        isls_t = isls[lengths <= MAX_ISL_KM]
        links = {tuple(x) for x in isls_t.tolist()}
        for p, (a, b) in enumerate(pairs):
            ref_km = _dijkstra_reference(sat_t, isls_t, stations.ecef_km, a, [b])[0]
            got_km = res.routes.length_km[k, p]
            if not np.isfinite(ref_km):
                n_disconnected += 1
                assert np.isnan(res.rtt_ms[k, p]) and res.routes.hops[k, p] == -1
                continue
            assert got_km == pytest.approx(ref_km, abs=1e-6)
            assert res.rtt_ms[k, p] == pytest.approx(rtt_ms_from_length_km(ref_km), abs=1e-9)
            path = res.routes.path(k, p)
            assert path[0] == n_sat + a and path[-1] == n_sat + b
            assert all(x < n_sat for x in path[1:-1]), "a ground station relayed"
            assert res.routes.hops[k, p] == len(path) - 1
            for u, v in zip(path[1:-2], path[2:-1], strict=True):
                assert (min(u, v), max(u, v)) in links
            assert max(_gsl_ranges(path, sat_t, stations.ecef_km)) <= MAX_GSL_KM
            assert path_length_km(sat_t, stations.ecef_km, path) == pytest.approx(got_km, abs=1e-6)
    assert n_disconnected < len(pairs) * len(steps) // 4
