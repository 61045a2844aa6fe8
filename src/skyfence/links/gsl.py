"""Ground-to-satellite visibility for many ground points, many satellites, many time steps.

Frames and definitions
----------------------
* Positions are Earth-fixed Cartesian km (``ecef``: WGS84/ITRF), satellites ``[n_sat, n_time, 3]``
  (the :class:`skyfence.orbits.propagate.Ephemeris` layout, NaN rows where SGP4 failed), ground
  points ``[n_pt, 3]`` (fixed) or ``[n_pt, n_time, 3]`` (mobile; NaN where a terminal is absent).
* ``ground_up`` is the unit **geodetic** local vertical of each ground point (the WGS84 ellipsoid
  normal from its geodetic lat/lon, :meth:`skyfence.geo.earth.Ellipsoid.up`), same shape as the
  positions. Elevation and azimuth are measured against that vertical, as a terminal's antenna
  (levelled with a spirit level) and as skyfield's ``wgs84.latlon(...).at(t).altaz()`` do. It differs
  from the geocentric vertical by up to 0.19 deg.
* For the vector ``d = sat - ground`` and up ``u``::

      range_km      = |d|
      elevation_deg = degrees(atan2(d . u, hypot(d . east, d . north)))   in [-90, 90]
      azimuth_deg   = degrees(atan2(d . east, d . north)) mod 360         clockwise from north

  with ``east = normalize(z x u)`` (``(0, 1, 0)`` at the poles) and ``north = u x east`` (the
  local east-north-up frame; for the geodetic up of lat/lon this is the usual ENU frame).
* A pair is **visible** when ``elevation_deg >= min_elevation_deg`` (exactly this float64
  comparison; pairs and counts use the same test, so counts == number of pairs). No refraction,
  no terrain, no Earth blockage test beyond the mask (the mask is >= 0 in practice).

Method
------
Nothing dense ``[sat x ground x time]`` is ever built. Per time step, a ``scipy.spatial.cKDTree`` over
the satellites is matched against a KD-tree of the ground points (built once when they are fixed) by
``sparse_distance_matrix`` with a radius that bounds the slant range of anything at or above the
mask: by the law of sines/cosines in the plane (Earth centre, ground point, satellite), a satellite at
geocentric radius ``r_s`` seen at *geocentric* elevation ``e`` from ground radius ``r_g`` is at range
``sqrt(r_s^2 - r_g^2 cos^2 e) - r_g sin e``, which grows with ``r_s`` and shrinks with ``r_g`` and
``e``. Using the step's largest satellite radius, the smallest ground radius and the mask lowered by
the largest angle between the given up vectors and the geocentric radial (<= 0.19 deg on WGS84: the
geodetic elevation exceeds the geocentric one by at most that angle) the radius never misses a
visible pair. Satellites are split in 20 km bands of geocentric radius, each with its own
tree and radius, so a low shell is not searched with the radius of the highest one. The candidates
are then filtered with the exact elevation test above. Work per step is
O((n_pt + n_sat) log + candidate pairs), about 1-2 % of the all-pairs work for a country.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from skyfence.geo.earth import wgs84

__all__ = [
    "DEFAULT_MIN_ELEVATION_DEG",
    "Visibility",
    "ground_points",
    "east_north",
    "look_angles",
    "slant_range_bound_km",
    "visible_pairs",
    "count_visible",
]

#: default elevation mask (Starlink user terminals, FCC filings), degrees
DEFAULT_MIN_ELEVATION_DEG = 25.0

#: ground points per KD-tree block (bounds the memory of one step's candidate pairs)
_BLOCK = 16_384
#: extra slack on the KD-tree radius, km (the exact test decides)
_SLACK_KM = 1.0
#: width of the satellite radius bands, km (one KD-tree and search radius per band)
_BAND_KM = 20.0
#: at most this many bands per step
_MAX_BANDS = 64


@dataclass(frozen=True)
class Visibility:
    """Sparse visibility: one row per visible (ground point, satellite, time step) triple.

    Parallel arrays ordered by time (within a step in an unspecified but deterministic order;
    :meth:`sorted` orders by (time, point, sat)): ``point`` / ``sat`` / ``time`` (int32 indices
    into the inputs), ``range_km``, ``elevation_deg``, ``azimuth_deg`` (float64, see module doc).
    ``n_points``, ``n_sats``, ``n_times`` are the input sizes.
    """

    point: np.ndarray
    sat: np.ndarray
    time: np.ndarray
    range_km: np.ndarray
    elevation_deg: np.ndarray
    azimuth_deg: np.ndarray
    n_points: int
    n_sats: int
    n_times: int

    def __len__(self) -> int:
        return len(self.point)

    def counts(self) -> np.ndarray:
        """Satellites in view per point and step, int16 ``[n_points, n_times]``."""
        flat = self.point.astype(np.int64) * self.n_times + self.time
        c = np.bincount(flat, minlength=self.n_points * self.n_times)
        return c.reshape(self.n_points, self.n_times).astype(np.int16)

    def step(self, k: int) -> Visibility:
        """The pairs of time step ``k`` only (``n_times`` kept)."""
        lo, hi = np.searchsorted(self.time, [k, k + 1])
        return self.take(slice(lo, hi))

    def take(self, index: slice | np.ndarray) -> Visibility:
        """Rows selected by a slice, an index array or a boolean mask."""
        return Visibility(
            point=self.point[index],
            sat=self.sat[index],
            time=self.time[index],
            range_km=self.range_km[index],
            elevation_deg=self.elevation_deg[index],
            azimuth_deg=self.azimuth_deg[index],
            n_points=self.n_points,
            n_sats=self.n_sats,
            n_times=self.n_times,
        )

    def sorted(self) -> Visibility:
        """The same pairs ordered by (time, point, sat)."""
        return self.take(np.lexsort((self.sat, self.point, self.time)))

    def max_elevation_deg(self) -> np.ndarray:
        """Highest elevation in view per point and step, float64 ``[n_points, n_times]`` (NaN: none)."""
        out = np.full(self.n_points * self.n_times, -np.inf)
        flat = self.point.astype(np.int64) * self.n_times + self.time
        np.maximum.at(out, flat, self.elevation_deg)
        out[np.isneginf(out)] = np.nan
        return out.reshape(self.n_points, self.n_times)


def ground_points(
    lat_deg: np.ndarray, lon_deg: np.ndarray, alt_km: np.ndarray | float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """ECEF positions (km) and geodetic up vectors for geodetic lat/lon degrees (any shape ``S``).

    Returns ``(ground_ecef_km [*S, 3], ground_up [*S, 3])``, the inputs of :func:`visible_pairs`
    and :func:`count_visible`. NaN lat/lon (absent terminals) give NaN rows.
    """

    lat = np.asarray(lat_deg, dtype=float)
    lon = np.asarray(lon_deg, dtype=float)
    return np.asarray(wgs84.ecef_km(lat, lon, alt_km), dtype=float), wgs84.up(lat, lon)


def east_north(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """East and north unit vectors (ECEF, ``[..., 3]`` each) of the local frame of unit up vectors
    ``u`` (``[..., 3]``): ``east = normalize(z x u)`` (``(0, 1, 0)`` at the poles), ``north = u x
    east``."""
    ux, uy, uz = u[..., 0], u[..., 1], u[..., 2]
    h = np.hypot(ux, uy)
    polar = h < 1e-15
    hs = np.where(polar, 1.0, h)
    ex = np.where(polar, 0.0, -uy / hs)
    ey = np.where(polar, 1.0, ux / hs)
    east = np.stack([ex, ey, np.zeros_like(ex)], axis=-1)
    north = np.stack([-uz * ey, uz * ex, ux * ey - uy * ex], axis=-1)  # u x east
    return east, north


def look_angles(
    ground_ecef_km: np.ndarray, ground_up: np.ndarray, sat_ecef_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elevation, azimuth and slant range of satellites seen from ground points, elementwise.

    All three inputs are ``[..., 3]`` (ECEF km, unit up, ECEF km) and broadcast together.
    Returns ``(elevation_deg, azimuth_deg, range_km)`` with the definitions of the module doc
    (the very same arithmetic as :func:`visible_pairs`).
    """
    g = np.asarray(ground_ecef_km, dtype=float)
    u = np.asarray(ground_up, dtype=float)
    s = np.asarray(sat_ecef_km, dtype=float)
    east, north = east_north(u)
    d = s - g
    shape = np.broadcast_shapes(d.shape, u.shape)
    d, u, east, north = (np.broadcast_to(x, shape).reshape(-1, 3) for x in (d, u, east, north))
    el, az, rng = _angles(d, u, east, north, azimuth=True)
    return el.reshape(shape[:-1]), az.reshape(shape[:-1]), rng.reshape(shape[:-1])


def _angles(
    d: np.ndarray, u: np.ndarray, east: np.ndarray, north: np.ndarray, *, azimuth: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(elevation_deg, azimuth_deg or None, range_km) of rows ``d`` (``[m, 3]``) in local frames."""
    du = np.einsum("ij,ij->i", d, u)
    de = np.einsum("ij,ij->i", d, east)
    dn = np.einsum("ij,ij->i", d, north)
    el = np.degrees(np.arctan2(du, np.hypot(de, dn)))
    rng = np.sqrt(np.einsum("ij,ij->i", d, d))
    az = np.mod(np.degrees(np.arctan2(de, dn)), 360.0) if azimuth else None
    return el, az, rng


def slant_range_bound_km(
    sat_radius_km: float, ground_radius_km: float, elevation_deg: float
) -> float:
    """Slant range (km) of a satellite at geocentric radius ``sat_radius_km`` seen at *geocentric*
    elevation ``elevation_deg`` from ground radius ``ground_radius_km`` (plane triangle: Earth
    centre, ground, satellite): ``sqrt(r_s^2 - r_g^2 cos^2 e) - r_g sin e``.

    For ``e >= 0`` it is the largest range at which the satellite is at or above ``e``; it grows
    with ``r_s`` and shrinks with ``r_g``. For ``e < 0`` the trivial bound ``r_s + r_g`` is
    returned (the search then uses the largest ground radius: no pruning, still exact).
    """
    rs, rg = float(sat_radius_km), float(ground_radius_km)
    if rs <= rg:
        return 0.0
    if elevation_deg < 0.0:
        return rs + rg
    e = np.radians(elevation_deg)
    return float(np.sqrt(rs * rs - (rg * np.cos(e)) ** 2) - rg * np.sin(e))


def _check_inputs(ground_ecef_km, ground_up, sat_ecef_km):
    g = np.asarray(ground_ecef_km, dtype=float)
    u = np.asarray(ground_up, dtype=float)
    s = np.asarray(sat_ecef_km, dtype=float)
    if s.ndim == 2 and s.shape[-1] == 3:
        s = s[:, None, :]
    if s.ndim != 3 or s.shape[-1] != 3:
        raise ValueError(f"sat_ecef_km must be [n_sat, n_time, 3], got shape {s.shape}")
    n_time = s.shape[1]
    if g.shape != u.shape:
        raise ValueError(f"ground_up shape {u.shape} != ground_ecef_km shape {g.shape}")
    if g.ndim == 2 and g.shape[-1] == 3:
        mobile = False
    elif g.ndim == 3 and g.shape[-1] == 3:
        if g.shape[1] != n_time:
            raise ValueError(
                f"mobile ground_ecef_km has {g.shape[1]} steps, satellites have {n_time}"
            )
        mobile = True
    else:
        raise ValueError(f"ground_ecef_km must be [n_pt, 3] or [n_pt, n_time, 3], got {g.shape}")
    return g, u, s, mobile


def _deflection_deg(g: np.ndarray, u: np.ndarray) -> float:
    """Largest angle (deg) between the up vectors and the geocentric radial of finite rows."""
    if len(g) == 0:
        return 0.0
    r = np.linalg.norm(g, axis=1)
    c = np.einsum("ij,ij->i", g, u) / (r * np.linalg.norm(u, axis=1))
    return float(np.degrees(np.arccos(np.clip(np.min(c), -1.0, 1.0))))


class _GroundBlocks:
    """Finite ground points of one step, split into KD-tree blocks (reused while fixed)."""

    def __init__(self, g: np.ndarray, u: np.ndarray, min_elevation_deg: float):
        idx = np.flatnonzero(np.all(np.isfinite(g), axis=1) & np.all(np.isfinite(u), axis=1))
        self.idx = idx
        self.g = g[idx]
        self.u = u[idx]
        self.east, self.north = east_north(self.u)
        r_g = np.linalg.norm(self.g, axis=1)
        self.r_min = float(np.min(r_g)) if len(idx) else np.inf
        self.r_max = float(np.max(r_g)) if len(idx) else np.inf
        # the geocentric elevation of a pair is at least its geodetic one minus the deflection
        self.e_bound = min_elevation_deg - _deflection_deg(self.g, self.u) - 1e-6
        self.blocks = [
            (lo, cKDTree(self.g[lo : lo + _BLOCK])) for lo in range(0, len(idx), _BLOCK)
        ]


def _sat_bands(r_km: np.ndarray) -> list[np.ndarray]:
    """Indices of satellites grouped in geocentric-radius bands (tighter KD-tree radii)."""
    if len(r_km) == 0:
        return []
    lo = float(np.min(r_km))
    band = ((r_km - lo) // _BAND_KM).astype(np.int64)
    order = np.argsort(band, kind="stable")
    keys, starts = np.unique(band[order], return_index=True)
    if len(keys) > _MAX_BANDS:  # very wide altitude spread: equal-count bands instead
        order = np.argsort(r_km, kind="stable")
        starts = np.linspace(0, len(r_km), _MAX_BANDS + 1).astype(np.int64)[:-1]
    ends = np.append(starts[1:], len(r_km))
    return [order[a:b] for a, b in zip(starts, ends, strict=True) if b > a]


def _visible_rows(
    d: np.ndarray, gi: np.ndarray, blocks: _GroundBlocks, min_elevation_deg: float
) -> np.ndarray:
    """Indices of the rows of ``d`` (candidate pairs of ground rows ``gi``) at or above the mask.

    Same answer as ``_angles(...)[0] >= mask``, cheaper: ``sin(elevation) = d.u / |d|`` decides
    every pair farther than 1e-9 from the mask's sine; only the others go through the exact formula.
    """
    sin_m = np.sin(np.radians(min_elevation_deg))
    q = np.einsum("ij,ij->i", d, blocks.u[gi]) / np.sqrt(np.einsum("ij,ij->i", d, d))
    sure = q > sin_m + 1e-9
    near = np.flatnonzero(np.abs(q - sin_m) <= 1e-9)
    if len(near):
        g_near = gi[near]
        el, _, _ = _angles(d[near], blocks.u[g_near], blocks.east[g_near], blocks.north[g_near],
                           azimuth=False)
        sure[near[el >= min_elevation_deg]] = True
    return np.flatnonzero(sure)


def _step_pairs(
    blocks: _GroundBlocks,
    s_step: np.ndarray,
    min_elevation_deg: float,
    azimuth: bool = False,
    count_only: bool = False,
) -> tuple[np.ndarray, ...]:
    """Visible pairs of one step: (point, sat, elevation_deg, range_km, azimuth_deg or empty),
    grouped by radius band. ``count_only``: only the point column is filled (others empty)."""
    empty_i = np.empty(0, dtype=np.int64)
    empty_f = np.empty(0, dtype=float)
    sat_ok = np.flatnonzero(np.all(np.isfinite(s_step), axis=1))
    if len(sat_ok) == 0 or len(blocks.idx) == 0:
        return empty_i, empty_i, empty_f, empty_f, empty_f
    s = s_step[sat_ok]
    r_s = np.sqrt(np.einsum("ij,ij->i", s, s))
    pts, sats, els, rngs, azs = [], [], [], [], []
    for band in _sat_bands(r_s):
        rs_max = float(r_s[band].max())
        if blocks.e_bound >= 0.0:
            radius = slant_range_bound_km(rs_max, blocks.r_min, blocks.e_bound)
            if radius <= 0.0:
                continue
        else:  # masks below the vertical deflection: no pruning (|s - g| <= |s| + |g|)
            radius = rs_max + blocks.r_max
        radius += _SLACK_KM
        sb = s[band]
        sat_tree = cKDTree(sb)
        for lo, tree in blocks.blocks:
            cand = tree.sparse_distance_matrix(sat_tree, radius, output_type="ndarray")
            if len(cand) == 0:
                continue
            gi = cand["i"].astype(np.int64) + lo
            sj = cand["j"].astype(np.int64)
            d = sb[sj] - blocks.g[gi]
            if count_only:
                pts.append(blocks.idx[gi[_visible_rows(d, gi, blocks, min_elevation_deg)]])
                continue
            el, az, rng = _angles(d, blocks.u[gi], blocks.east[gi], blocks.north[gi],
                                  azimuth=azimuth)
            keep = el >= min_elevation_deg
            pts.append(blocks.idx[gi[keep]])
            sats.append(sat_ok[band[sj[keep]]])
            els.append(el[keep])
            rngs.append(rng[keep])
            if azimuth:
                azs.append(az[keep])
    if not pts:
        return empty_i, empty_i, empty_f, empty_f, empty_f
    if count_only:
        return np.concatenate(pts), empty_i, empty_f, empty_f, empty_f
    return (np.concatenate(pts), np.concatenate(sats), np.concatenate(els),
            np.concatenate(rngs), np.concatenate(azs) if azimuth else empty_f)


def _iterate(
    ground_ecef_km, ground_up, sat_ecef_km, min_elevation_deg, progress, azimuth=False,
    count_only=False,
):
    g, u, s, mobile = _check_inputs(ground_ecef_km, ground_up, sat_ecef_km)
    mask = float(min_elevation_deg)
    fixed_blocks = None if mobile else _GroundBlocks(g, u, mask)
    n_time = s.shape[1]
    for k in range(n_time):
        blocks = fixed_blocks if fixed_blocks is not None else _GroundBlocks(g[:, k], u[:, k], mask)
        yield k, blocks, _step_pairs(blocks, s[:, k], mask, azimuth, count_only)
        if progress is not None:
            progress(1)


def visible_pairs(
    ground_ecef_km: np.ndarray,
    ground_up: np.ndarray,
    sat_ecef_km: np.ndarray,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    *,
    azimuth: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Visibility:
    """Every (ground point, satellite, step) with the satellite at or above the elevation mask.

    ``ground_ecef_km``/``ground_up``: ``[n_pt, 3]`` fixed or ``[n_pt, n_time, 3]`` mobile (ECEF
    km / unit geodetic up; NaN rows = point absent at that step). ``sat_ecef_km``: ``[n_sat,
    n_time, 3]`` ECEF km (``[n_sat, 3]`` is one step); NaN rows (SGP4 errors) are ignored.
    ``min_elevation_deg``: the mask (visible iff elevation >= mask). ``azimuth=False`` skips the
    azimuth (NaN column) for speed. ``progress(1)`` is called after each step (progress bars).

    Returns a sparse :class:`Visibility`, ordered by time (``.sorted()`` for (time, point, sat)).
    """
    g_all, u_all, s_all, _mobile = _check_inputs(ground_ecef_km, ground_up, sat_ecef_km)
    n_pt, n_sat, n_time = g_all.shape[0], s_all.shape[0], s_all.shape[1]
    parts: list[tuple[np.ndarray, ...]] = []
    for k, _blocks, (p, q, el, rng, az) in _iterate(
        g_all, u_all, s_all, min_elevation_deg, progress, azimuth
    ):
        if len(p) == 0:
            continue
        if not azimuth:
            az = np.full(len(p), np.nan)
        parts.append((p.astype(np.int32), q.astype(np.int32), np.full(len(p), k, dtype=np.int32),
                      rng, el, az))
    if parts:
        cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    else:
        cols = [np.empty(0, dtype=np.int32)] * 3 + [np.empty(0, dtype=float)] * 3
    return Visibility(
        point=cols[0],
        sat=cols[1],
        time=cols[2],
        range_km=cols[3],
        elevation_deg=cols[4],
        azimuth_deg=cols[5],
        n_points=n_pt,
        n_sats=n_sat,
        n_times=n_time,
    )


def count_visible(
    ground_ecef_km: np.ndarray,
    ground_up: np.ndarray,
    sat_ecef_km: np.ndarray,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    *,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Number of satellites at or above the mask per ground point and step, int16 ``[n_pt, n_time]``.

    Same inputs and the same exact test as :func:`visible_pairs` (so it equals
    ``visible_pairs(...).counts()``), without keeping the pairs. Absent points (NaN) count 0;
    NaN satellite positions are ignored.
    """
    g, u, s, _ = _check_inputs(ground_ecef_km, ground_up, sat_ecef_km)
    n_pt, n_time = g.shape[0], s.shape[1]
    out = np.zeros((n_pt, n_time), dtype=np.int16)
    for k, _blocks, (p, *_rest) in _iterate(
        g, u, s, min_elevation_deg, progress, count_only=True
    ):
        if len(p):
            out[:, k] = np.bincount(p, minlength=n_pt)
    return out
