"""Coverage benchmark, part (a): visibility over Ukraine, KD-tree sparse vs dense NumPy all-pairs.

Input: the cells of Ukraine at H3 resolution 5 (cell centres, WGS84 geodetic up), the bundled
10,281-satellite Starlink snapshot, 60 one-minute steps from 2026-04-30T00:00Z, mask 25 deg.

* sparse: ``skyfence.links.visibility.visible_pairs`` (pairs with elevation, azimuth, range) and
  ``count_visible`` (counts only);
* dense: every (cell, satellite) pair of every step, in chunks of cells, with the same elevation
  formula (``atan2(d.up, hypot(d.east, d.north)) >= mask``), NumPy only.

Prints the wall times and the speed ratio (goal >= 20x) and asserts that both give exactly the same
visible (cell, satellite, step) triples, the same counts and the same elevations.

Run: ``.venv/bin/python benchmarks/cell_coverage.py [--steps 60] [--dense-steps N]``
(``--dense-steps`` times the dense method on the first N steps only and scales its time to all
steps; the comparison then covers those N steps).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def ukraine_cells(resolution: int = 5) -> np.ndarray:
    """Ukraine's H3 cells (centres inside the bundled Natural Earth polygon)."""
    from skyfence.geo.regions import region_cells, resolve_region

    return region_cells(resolve_region("UKR"), resolution)


def dense_visibility(
    ground_ecef_km: np.ndarray,
    ground_up: np.ndarray,
    sat_ecef_km: np.ndarray,
    min_elevation_deg: float,
    chunk: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All-pairs reference: (point, sat, step, elevation_deg) of every visible triple."""
    from skyfence.links import east_north

    n_pt = len(ground_ecef_km)
    east, north = east_north(ground_up)
    out_p, out_q, out_k, out_el = [], [], [], []
    for k in range(sat_ecef_km.shape[1]):
        s = sat_ecef_km[:, k]
        for lo in range(0, n_pt, chunk):
            g = ground_ecef_km[lo : lo + chunk, None, :]
            u = ground_up[lo : lo + chunk, None, :]
            e = east[lo : lo + chunk, None, :]
            n = north[lo : lo + chunk, None, :]
            d = s[None, :, :] - g  # [chunk, n_sat, 3]
            du = np.einsum("pqi,pqi->pq", d, np.broadcast_to(u, d.shape))
            de = np.einsum("pqi,pqi->pq", d, np.broadcast_to(e, d.shape))
            dn = np.einsum("pqi,pqi->pq", d, np.broadcast_to(n, d.shape))
            el = np.degrees(np.arctan2(du, np.hypot(de, dn)))
            with np.errstate(invalid="ignore"):
                p, q = np.nonzero(el >= min_elevation_deg)  # NaN satellites: False
            out_p.append(p + lo)
            out_q.append(q)
            out_k.append(np.full(len(p), k))
            out_el.append(el[p, q])
    return (np.concatenate(out_p), np.concatenate(out_q), np.concatenate(out_k),
            np.concatenate(out_el))


def bench_visibility(n_steps: int = 60, dense_steps: int | None = None, mask_deg: float = 25.0):
    from skyfence.geo.cells import cell_centres
    from skyfence.links import count_visible, ground_points, visible_pairs
    from skyfence.orbits.catalog import load_elements
    from skyfence.orbits.frames import time_grid
    from skyfence.orbits.propagate import propagate

    print("== (a) visibility: Ukraine H3 res 5, 10,281-satellite snapshot, "
          f"{n_steps} x 60 s steps, mask {mask_deg:g} deg")
    t0 = time.perf_counter()
    cells = ukraine_cells(5)
    lat, lon = cell_centres(cells)
    g, up = ground_points(lat, lon)
    elements = load_elements("starlink")
    t_utc = time_grid("2026-04-30T00:00:00Z", n_steps * 60, 60)
    sat = propagate(elements, t_utc).r_ecef_km
    print(f"   setup: {len(cells):,} cells, {len(elements):,} satellites, {len(t_utc)} steps "
          f"({time.perf_counter() - t0:.1f} s, propagation included)")

    t0 = time.perf_counter()
    vis = visible_pairs(g, up, sat, mask_deg)
    t_pairs = time.perf_counter() - t0
    t0 = time.perf_counter()
    counts = count_visible(g, up, sat, mask_deg)
    t_count = time.perf_counter() - t0
    print(f"   sparse visible_pairs: {t_pairs:8.2f} s  ({len(vis):,} visible triples, "
          f"{1e3 * t_pairs / n_steps:.0f} ms/step)")
    print(f"   sparse count_visible: {t_count:8.2f} s  ({1e3 * t_count / n_steps:.0f} ms/step); "
          f"satellites in view per cell: mean {counts.mean():.1f}, min {counts.min()}, "
          f"max {counts.max()}")

    nd = n_steps if dense_steps is None else min(int(dense_steps), n_steps)
    t0 = time.perf_counter()
    p, q, k, el = dense_visibility(g, up, sat[:, :nd], mask_deg)
    t_dense_run = time.perf_counter() - t0
    t_dense = t_dense_run * n_steps / nd
    note = "" if nd == n_steps else f" (measured on {nd} steps: {t_dense_run:.1f} s, scaled)"
    print(f"   dense all-pairs:      {t_dense:8.2f} s  ({len(cells) * len(elements) * n_steps:,} "
          f"pairs tested){note}")

    # identical results on the steps both computed
    sub = vis.take(vis.time < nd).sorted()
    order = np.lexsort((q, p, k))
    p, q, k, el = p[order], q[order], k[order], el[order]
    assert len(sub) == len(p), f"pair counts differ: sparse {len(sub)}, dense {len(p)}"
    assert np.array_equal(sub.time, k) and np.array_equal(sub.point, p)
    assert np.array_equal(sub.sat, q)
    max_del = float(np.max(np.abs(sub.elevation_deg - el))) if len(el) else 0.0
    assert max_del <= 1e-12, max_del
    dense_counts = np.bincount(p * nd + k, minlength=len(cells) * nd).reshape(len(cells), nd)
    assert np.array_equal(counts[:, :nd], dense_counts)
    print(f"   identical: {len(p):,} visible triples, counts, elevations "
          f"(max |diff| {max_del:.1e} deg)")
    print(f"   speed-up: visible_pairs {t_dense / t_pairs:.1f}x, count_visible "
          f"{t_dense / t_count:.1f}x  (goal >= 20x)")
    return {"cells": len(cells), "sats": len(elements), "steps": n_steps,
            "sparse_pairs_s": t_pairs, "sparse_count_s": t_count, "dense_s": t_dense,
            "speedup_pairs": t_dense / t_pairs, "speedup_count": t_dense / t_count}


def bench_membership(n_terminals: int = 1_000_000, seed: int = 0) -> dict:
    """Exact membership of fixed terminals: ``RegionSet.point_region_labels`` (point in polygon,
    prepared geometries) for ``n_terminals`` points uniform in lon [-25, 45], lat [34, 72] against
    every Natural Earth 4.0 50m country whose CONTINENT is Europe (one region each). Prints
    terminals per second; cross-checks 20,000 points with shapely's STRtree.

    Recorded on a shared 2-core machine (2026-11-27): 1,000,000 terminals x 50 countries in 1.69 s
    of CPU (~590,000 terminals per CPU second). The full ``ukraine-crimea`` example
    (``benchmarks/run_example.py``, 24 h at 60 s), before exact membership (cells and terminals by
    cell centre; 2,896 cells) and after (overlap cells, terminals by point in polygon; 3,107 cells),
    both run at the same time: 619.7 s wall / 116.6 s CPU before, 631.8 s wall / 121.2 s CPU after
    (+2 % wall, +4 % CPU; the wall times are long because the machine was shared).
    """
    import json
    from importlib import resources

    import shapely
    from shapely.geometry import shape

    from skyfence.policy.regionset import RegionSet

    text = resources.files("skyfence.data.geo").joinpath("ne4_50m_admin_0_countries.geojson").read_text()
    feats = [f for f in json.loads(text)["features"] if f["properties"].get("CONTINENT") == "Europe"]
    rs = RegionSet(resolution=0)  # the cells are not timed: the coarsest grid keeps setup short
    for f in feats:
        rs.add(f["properties"]["ADM0_A3"], shape(f["geometry"]))
    rng = np.random.default_rng(seed)
    lat = rng.uniform(34.0, 72.0, n_terminals)
    lon = rng.uniform(-25.0, 45.0, n_terminals)
    t0, c0 = time.perf_counter(), time.process_time()
    labels = rs.point_region_labels(lat, lon)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    names = labels.tolist()
    n_in = sum(1 for x in names if x)
    # cross-check a sample with an STRtree over the same geometries
    geoms = [rs.geometry(n) for n in rs.names]
    tree = shapely.STRtree(geoms)
    k = min(20_000, n_terminals)
    pts = shapely.points(lon[:k], lat[:k])
    pi, gi = tree.query(pts, predicate="intersects")
    ref: list[set] = [set() for _ in range(k)]
    for a, b in zip(pi.tolist(), gi.tolist(), strict=True):
        ref[a].add(rs.names[b])
    assert all(set(names[i]) == ref[i] for i in range(k)), "membership differs from the STRtree"
    print(f"exact membership: {n_terminals:,} fixed terminals x {len(rs):,} European countries (NE 50m): "
          f"{dt:.2f} s wall, {cpu:.2f} s CPU = {n_terminals / dt:,.0f} terminals per second "
          f"({n_terminals / cpu:,.0f} per CPU second; {n_in:,} inside a country)")
    return {"terminals": n_terminals, "regions": len(rs), "seconds": dt, "cpu_seconds": cpu,
            "terminals_per_s": n_terminals / dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--dense-steps", type=int, default=None,
                    help="time the dense reference on the first N steps only, scale to all")
    ap.add_argument("--membership", type=int, default=None, metavar="N",
                    help="time exact membership of N fixed terminals against Europe's countries instead")
    args = ap.parse_args()
    if args.membership:
        bench_membership(args.membership)
        return
    bench_visibility(args.steps, args.dense_steps)


if __name__ == "__main__":
    main()
