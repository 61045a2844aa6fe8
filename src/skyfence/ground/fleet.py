"""Synthetic fleets: ``n`` fixed terminals spread by city population within a region.

A ``rural_share`` is placed uniformly over the region's area (on the sphere), the rest assigned to
the cities inside the region with probability proportional to population and placed around them
with a Gaussian spread of ``sigma_km = spread_km_per_sqrt_pop * sqrt(pop)`` (1 km minimum; 10 km
for a city of one million), redrawn until inside the region. Cities:
:func:`skyfence.ground.cities.load_cities`. Seeded: same inputs and seed, same fleet.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from skyfence.errors import SkyfenceError
from skyfence.geo.earth import wgs84
from skyfence.geo.polygons import polygons_of
from skyfence.ground.cities import Cities, load_cities
from skyfence.ground.terminals import Terminals, parse_groups

__all__ = ["synthetic_fleet"]


def _uniform_in(geom: BaseGeometry, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform over the sphere's area within a lon/lat polygon (rejection sampling
    from each part's lon/lat box, parts chosen by box area; parts may be split at 180 deg)."""
    polys = [p for p in polygons_of(geom) if not p.is_empty and p.area > 0]
    if not polys:
        raise SkyfenceError("synthetic fleet: region has no area")
    boxes = np.array([p.bounds for p in polys])  # minx, miny, maxx, maxy
    s0, s1 = np.sin(np.radians(boxes[:, 1])), np.sin(np.radians(boxes[:, 3]))
    w = (boxes[:, 2] - boxes[:, 0]) * (s1 - s0)
    w = w / w.sum()
    lat_out = np.empty(0)
    lon_out = np.empty(0)
    for _ in range(1000):
        need = n - len(lat_out)
        if need <= 0:
            break
        m = max(4 * need, 64)
        part = rng.choice(len(polys), size=m, p=w)
        lon = boxes[part, 0] + rng.random(m) * (boxes[part, 2] - boxes[part, 0])
        lat = np.degrees(np.arcsin(s0[part] + rng.random(m) * (s1[part] - s0[part])))
        ok = np.zeros(m, dtype=bool)
        for k, poly in enumerate(polys):
            sel = part == k
            if sel.any():
                ok[sel] = shapely.contains_xy(poly, lon[sel], lat[sel])
        lat_out = np.concatenate([lat_out, lat[ok]])
        lon_out = np.concatenate([lon_out, lon[ok]])
    if len(lat_out) < n:  # pragma: no cover - only for degenerate slivers
        raise SkyfenceError("synthetic fleet: could not sample points inside the region")
    return lat_out[:n], lon_out[:n]


def synthetic_fleet(
    n: int,
    region: BaseGeometry,
    *,
    seed: int = 0,
    rural_share: float = 0.1,
    group: str | Sequence[str] = "fleet",
    id_prefix: str = "T",
    spread_km_per_sqrt_pop: float = 0.01,
    cities: Cities | None = None,
) -> Terminals:
    """``n`` fixed terminals spread by city population within ``region`` (see the module doc).

    ``region``: shapely (Multi)Polygon in lon/lat degrees (e.g. from
    ``skyfence.geo.regions.resolve_region``). ``rural_share``: fraction placed uniformly over the
    area (all of them if no city lies inside). ``group``: group name(s) of every terminal.
    ``id_prefix``: ids are ``f"{id_prefix}{i:06d}"``. Same arguments, same fleet.
    """
    n = int(n)
    if n < 0:
        raise SkyfenceError(f"synthetic fleet: n must be >= 0, got {n}")
    if not 0.0 <= rural_share <= 1.0:
        raise SkyfenceError(f"synthetic fleet: rural_share must be in [0, 1], got {rural_share}")
    rng = np.random.default_rng(seed)
    c = cities if cities is not None else load_cities()
    inside = shapely.contains_xy(region, c.lon_deg, c.lat_deg) & (c.pop > 0)
    c_lat, c_lon, c_pop = c.lat_deg[inside], c.lon_deg[inside], c.pop[inside]
    n_rural = n if len(c_pop) == 0 else int(round(n * rural_share))
    n_urban = n - n_rural
    lat = np.empty(n)
    lon = np.empty(n)
    if n_urban:
        city = rng.choice(len(c_pop), size=n_urban, p=c_pop / c_pop.sum())
        sigma = np.maximum(spread_km_per_sqrt_pop * np.sqrt(c_pop[city]), 1.0)
        u_lat = np.empty(n_urban)
        u_lon = np.empty(n_urban)
        todo = np.arange(n_urban)
        for _ in range(50):
            if len(todo) == 0:
                break
            ci = city[todo]
            dn = rng.normal(size=len(todo)) * sigma[todo]
            de = rng.normal(size=len(todo)) * sigma[todo]
            km_per_deg = np.pi * wgs84.mean_radius_km / 180.0
            la = np.clip(c_lat[ci] + dn / km_per_deg, -89.999, 89.999)
            lo = c_lon[ci] + de / (km_per_deg * np.cos(np.radians(la)))
            lo = (lo + 180.0) % 360.0 - 180.0
            ok = shapely.contains_xy(region, lo, la)
            u_lat[todo[ok]] = la[ok]
            u_lon[todo[ok]] = lo[ok]
            todo = todo[~ok]
        # the few still outside after 50 draws sit on their city (which is inside)
        u_lat[todo] = c_lat[city[todo]]
        u_lon[todo] = c_lon[city[todo]]
        lat[:n_urban], lon[:n_urban] = u_lat, u_lon
    if n_rural:
        lat[n_urban:], lon[n_urban:] = _uniform_in(region, n_rural, rng)
    g = parse_groups(list(group) if isinstance(group, (list, tuple)) else group)
    return Terminals(
        ids=np.array([f"{id_prefix}{i:06d}" for i in range(n)], dtype=object),
        groups=(g,) * n,
        lat_deg=lat,
        lon_deg=lon,
    )
