"""Ground-satellite links (GSLs) for the network layer, one time step at a time.

A GSL exists between a ground station and a satellite when the slant range is at most
``max_range_km`` (Hypatia's ``max_gsl_length_m`` cut-off) and/or the satellite's elevation
above the station's horizon is at least ``min_elevation_deg`` (the service mask). Positions
are Earth-fixed Cartesian km (ECEF). The elevation uses the station's geodetic "up" when
latitude/longitude are given, else the geocentric direction.

For a handful of stations the test is a dense ``[n_gs, n_sat]`` array; for many stations a
KD-tree on the satellites is queried with the radius the mask implies
(:func:`max_slant_range_km`), then filtered exactly. Self-contained on purpose: the
coverage-side visibility lives in :mod:`skyfence.links`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: dense test up to this many station-satellite pairs per step, KD-tree above
DENSE_LIMIT = 400_000


@dataclass
class GslStep:
    """The links of one step: parallel arrays ``gs`` (station index), ``sat`` and ``range_km``."""

    gs: np.ndarray
    sat: np.ndarray
    range_km: np.ndarray


def up_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Geodetic local vertical (unit, ECEF) for latitudes/longitudes in degrees, ``[n, 3]``."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def max_slant_range_km(
    sat_radius_km: float, min_elevation_deg: float, gs_radius_km: float = 6356.75
) -> float:
    """Largest slant range at which a satellite at geocentric radius ``sat_radius_km`` is at or
    above ``min_elevation_deg`` for a station at radius ``gs_radius_km`` (spherical geometry), km.

    Used as a conservative KD-tree radius (the default station radius is the polar one, the
    smallest on WGS84, which gives the largest range); the exact elevation test follows.
    """
    e = np.radians(min_elevation_deg)
    rg = gs_radius_km
    return float(np.sqrt(sat_radius_km**2 - (rg * np.cos(e)) ** 2) - rg * np.sin(e))


def gsl_links(
    sat_ecef_km: np.ndarray,
    gs_ecef_km: np.ndarray,
    *,
    max_range_km: float | None = None,
    min_elevation_deg: float | np.ndarray | None = None,
    gs_up: np.ndarray | None = None,
) -> GslStep:
    """Links between stations ``[n_gs, 3]`` and satellites ``[n_sat, 3]`` (km, ECEF) at one step.

    At least one of ``max_range_km`` and ``min_elevation_deg`` must be given; with both, both
    apply. ``min_elevation_deg`` may be one value per station (``[n_gs]``: e.g. users 25 deg,
    gateways 40 deg). Satellites with non-finite positions (propagation errors) get no link.
    """
    if max_range_km is None and min_elevation_deg is None:
        raise ValueError("give max_range_km and/or min_elevation_deg")
    sat = np.asarray(sat_ecef_km, dtype=float)
    gs = np.asarray(gs_ecef_km, dtype=float)
    if gs_up is None:
        gs_up = gs / np.linalg.norm(gs, axis=1, keepdims=True)
    n_gs, n_sat = len(gs), len(sat)
    sin_min = None
    if min_elevation_deg is not None:
        sin_min = np.broadcast_to(
            np.sin(np.radians(np.asarray(min_elevation_deg, dtype=float))), (n_gs,)
        )
    if n_gs * n_sat <= DENSE_LIMIT:
        # candidates from |s|^2 + |g|^2 - 2 g.s (one matrix product, slightly generous), then
        # the exact test on those few pairs only
        with np.errstate(invalid="ignore"):
            d2 = (gs * gs).sum(1)[:, None] + (sat * sat).sum(1)[None, :] - 2.0 * (gs @ sat.T)
            cand = np.isfinite(d2)
            if max_range_km is not None:
                cand &= d2 <= (max_range_km + 0.01) ** 2
            if sin_min is not None:
                up_dot = (gs_up @ sat.T) - (gs * gs_up).sum(1)[:, None]
                cand &= up_dot >= sin_min[:, None] * np.sqrt(np.maximum(d2, 0.0)) - 0.01
        g, s = np.nonzero(cand)
        return _exact_links(sat, gs, gs_up, g, s, max_range_km, sin_min, sort=False)
    from scipy.spatial import cKDTree

    finite = np.isfinite(sat).all(axis=1)
    sat_idx = np.flatnonzero(finite)
    radius = np.inf if max_range_km is None else float(max_range_km)
    if sin_min is not None and len(sat_idx) and n_gs:
        r_max = float(np.linalg.norm(sat[sat_idx], axis=1).max())
        lowest_deg = float(np.degrees(np.arcsin(sin_min.min())))
        radius = min(
            radius, max_slant_range_km(r_max, lowest_deg) + 50.0
        )  # margin: geodetic vs geocentric up
    tree = cKDTree(sat[sat_idx])
    hits = tree.query_ball_point(gs, r=radius, return_sorted=False)
    counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=n_gs)
    g = np.repeat(np.arange(n_gs), counts)
    s = sat_idx[np.fromiter((j for h in hits for j in h), dtype=np.int64, count=int(counts.sum()))]
    return _exact_links(sat, gs, gs_up, g, s, max_range_km, sin_min, sort=True)


def _exact_links(sat, gs, gs_up, g, s, max_range_km, sin_min, *, sort: bool) -> GslStep:
    """The exact range / elevation test on candidate pairs (station ``g``, satellite ``s``)."""
    diff = sat[s] - gs[g]
    rng = np.sqrt(np.einsum("nk,nk->n", diff, diff))
    ok = np.ones(len(g), dtype=bool)
    if max_range_km is not None:
        ok &= rng <= max_range_km
    if sin_min is not None:
        ok &= np.einsum("nk,nk->n", diff, gs_up[g]) >= sin_min[g] * rng
    g, s, rng = g[ok], s[ok], rng[ok]
    if sort:
        order = np.lexsort((s, g))
        g, s, rng = g[order], s[order], rng[order]
    return GslStep(g, s, rng)
