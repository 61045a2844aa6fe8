"""Orbital planes and slots of a real constellation, inferred from its elements, and its +Grid.

Real element sets (CelesTrak TLE / OMM) carry no plane or slot numbers. :func:`infer_planes`
places every satellite at one common instant ``t_utc``:

1. **Shells.** Satellites are binned by (inclination, mean altitude) in 0.02 deg x 5 km bins;
   bins holding at least ``min_bin_sats`` satellites are the dense cores, and connected cores
   are the shells. Satellites outside every core (raising orbits, decaying, lone spares) are
   ``off-shell``; shells of fewer than ``min_shell_sats`` satellites are too.
2. **Planes.** Each satellite's mean RAAN is carried from its own element epoch to ``t_utc``
   with SGP4's secular nodal rate (``Satrec.nodedot``: J2 and J4, from that satellite's own
   mean motion, eccentricity and inclination), so elements spread over days compare at one
   instant (at 53 deg and 550 km the node regresses ~4.6 deg/day, about one plane spacing a day).
   Mean elements rather than the angular momentum of the SGP4 state: the osculating node
   carries short-period J2 terms that the mean node has not, and planes are told apart by their
   RAAN alone. In each shell the RAANs are clustered on the circle (sorted, split where two
   neighbours are more than ``plane_gap_deg`` apart). Planes are numbered by increasing RAAN,
   as Walker shells and Hypatia number them; a plane with fewer than
   ``max(3, min_plane_fraction x the shell's median plane size)`` members is ``small-plane``,
   and so are all planes of a shell with fewer than three planes.
3. **Slots.** The argument of latitude ``u`` comes from the SGP4 state at ``t_utc`` (it holds
   drag's along-track drift, which decides who is next to whom now). A shell has ``S`` slots
   per plane (the 90th percentile of its plane sizes); plane ``o`` has slot ``k`` at
   ``theta_o + k * 360 / S``, ``theta_o`` fitted to the plane's members and unwrapped from plane
   to plane by the nearest phase, and members take slots by a least-squares assignment.
   Members beyond ``S`` in a plane are ``surplus``.

:func:`plus_grid_isls` links every placed satellite to the next and previous member of its plane
(by ``u``, Hypatia's (o, i)-(o, i+1)) and to the next and previous occupied slot of its *lane*
(slot ``k`` of planes o, o+1, ...; Hypatia's (o, i)-(o+1, i)): the lane steps over planes with
that slot empty, and after the last plane it goes on in the first plane at the slot of nearest
phase. Every link must be usable at ``t_utc`` (segment above the grazing altitude, length under
the cut-off); an unusable one (a wide gap in a plane or a lane) is left out, and the satellites
at its ends keep their other links and are counted as ``partial``: a satellite is ``placed``
when all four of its +Grid links are usable, so every placed satellite has degree 4.
Satellites not in a plane and a slot get no links.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from skyfence.geo.earth import wgs72
from skyfence.network.isl import DEFAULT_GRAZING_ALT_KM, valid_isl_mask

__all__ = ["PlaneLayout", "REASONS", "infer_planes", "plus_grid_isls", "filed_shell_match"]

#: why a satellite is not placed (``PlaneLayout.reason``); 0 = placed
REASONS = ("placed", "sgp4-error", "off-shell", "small-plane", "surplus", "partial")
_INC_BIN_DEG, _ALT_BIN_KM = 0.02, 5.0


@dataclass
class PlaneLayout:
    """Where each of ``n_sat`` satellites sits at ``t_utc`` (``-1``: not placed).

    ``shell``, ``plane`` (within its shell, by increasing RAAN), ``slot`` (lane within its
    shell) and ``reason`` (index into :data:`REASONS`) are ``[n_sat]`` ints;
    ``inclination_deg``, ``altitude_km`` (mean semi-major axis minus WGS72's equatorial
    radius), ``raan_deg`` (mean, at ``t_utc``) and ``u_deg`` (argument of latitude at ``t_utc``)
    are ``[n_sat]`` floats. ``shells`` is one row per shell; ``isls`` the +Grid pairs.
    """

    t_utc: np.datetime64
    shell: np.ndarray
    plane: np.ndarray
    slot: np.ndarray
    reason: np.ndarray
    inclination_deg: np.ndarray
    altitude_km: np.ndarray
    raan_deg: np.ndarray
    u_deg: np.ndarray
    shells: pd.DataFrame
    isls: np.ndarray

    @property
    def placed(self) -> np.ndarray:
        return self.reason == 0

    def reason_counts(self) -> dict[str, int]:
        """How many satellites each reason covers (``placed`` included)."""
        counts = np.bincount(self.reason, minlength=len(REASONS))
        return {name: int(c) for name, c in zip(REASONS, counts, strict=True)}


def _mean_and_state(elements, t_utc: np.datetime64):
    """Mean inclination, altitude and RAAN at ``t_utc``; ``u`` and TEME position from SGP4."""
    from skyfence.orbits.propagate import propagate

    sats = elements.satrecs
    inc = np.array([s.inclo for s in sats])
    node = np.array([s.nodeo for s in sats])
    nodedot = np.array([s.nodedot for s in sats])  # rad/min
    a_er = np.array([s.a for s in sats])  # Earth radii (WGS72)
    epoch_jd = np.array([s.jdsatepoch for s in sats]) + np.array([s.jdsatepochF for s in sats])
    t_jd = (t_utc - np.datetime64("1970-01-01T00:00:00", "ns")).astype("int64") / 86_400e9
    dt_min = (t_jd + 2440587.5 - epoch_jd) * 1440.0
    raan = np.degrees(node + nodedot * dt_min) % 360.0
    alt = a_er * wgs72.semi_major_km - wgs72.semi_major_km
    eph = propagate(elements, np.array([t_utc]))
    r, v = eph.r_teme_km[:, 0], eph.v_teme_km_s[:, 0]
    h = np.cross(r, v)
    node_vec = np.stack([-h[:, 1], h[:, 0], np.zeros(len(h))], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_hat = node_vec / np.linalg.norm(node_vec, axis=1, keepdims=True)
        h_hat = h / np.linalg.norm(h, axis=1, keepdims=True)
        m_hat = np.cross(h_hat, n_hat)
    u = np.degrees(np.arctan2(np.einsum("nk,nk->n", r, m_hat), np.einsum("nk,nk->n", r, n_hat)))
    ok = (eph.error[:, 0] == 0) & np.isfinite(u)
    return np.degrees(inc), alt, raan, u % 360.0, r, ok


def _shell_labels(inc_deg, alt_km, ok, min_bin_sats: int, min_shell_sats: int) -> np.ndarray:
    """Shell label per satellite (-1 off-shell): connected dense (inclination, altitude) bins."""
    labels = np.full(len(inc_deg), -1)
    if not ok.any():
        return labels
    i_bin = np.floor(inc_deg / _INC_BIN_DEG).astype(np.int64)
    a_bin = np.floor(alt_km / _ALT_BIN_KM).astype(np.int64)
    i0, a0 = i_bin[ok].min(), a_bin[ok].min()
    grid = np.zeros((i_bin[ok].max() - i0 + 1, a_bin[ok].max() - a0 + 1), dtype=np.int64)
    np.add.at(grid, (i_bin[ok] - i0, a_bin[ok] - a0), 1)
    comp, _ = ndimage.label(grid >= min_bin_sats, structure=np.ones((3, 3)))
    raw = np.where(ok, comp[np.clip(i_bin - i0, 0, grid.shape[0] - 1),
                            np.clip(a_bin - a0, 0, grid.shape[1] - 1)], 0)  # fmt: skip
    ids, sizes = np.unique(raw[raw > 0], return_counts=True)
    big = ids[sizes >= min_shell_sats]
    # shells numbered by inclination, then altitude
    order = np.lexsort([[np.median(alt_km[raw == k]) for k in big],
                        [np.median(inc_deg[raw == k]) for k in big]])  # fmt: skip
    for new, k in enumerate(big[order]):
        labels[raw == k] = new
    return labels


def circular_clusters(angle_deg: np.ndarray, gap_deg: float) -> np.ndarray:
    """1-D clustering on the circle: labels 0.. in increasing angle, split at gaps > ``gap_deg``.

    The cluster straddling 0/360 deg gets label 0 only if no gap precedes the smallest angle.
    """
    n = len(angle_deg)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(angle_deg, kind="stable")
    a = angle_deg[order]
    gaps = np.diff(np.r_[a, a[0] + 360.0])  # gap after each sorted angle
    cut = gaps > gap_deg
    if not cut.any():
        return np.zeros(n, dtype=np.int64)
    # start counting after the last cut so the wrap-around cluster is one cluster
    start = (np.flatnonzero(cut)[-1] + 1) % n
    rolled_cut = np.roll(cut, -start)
    lab = np.r_[0, np.cumsum(rolled_cut[:-1])]
    out = np.empty(n, dtype=np.int64)
    out[order[(np.arange(n) + start) % n]] = lab
    return out


def _circ_diff(a, b):
    return (a - b + 180.0) % 360.0 - 180.0


def _wrap(x, period: float):
    """``x`` wrapped into ``[-period / 2, period / 2)``."""
    return (x + period / 2.0) % period - period / 2.0


def _assign_slots(u_deg: np.ndarray, plane: np.ndarray, n_planes: int, n_slots: int):
    """Slot per satellite of one shell (-1: surplus) and the lane shift after the last plane."""
    step = 360.0 / n_slots
    slot = np.full(len(u_deg), -1)
    thetas = []
    for o in range(n_planes):
        m = np.flatnonzero(plane == o)
        # phase of the plane's slot grid: circular mean of u on a circle of one slot
        theta = np.degrees(np.angle(np.exp(1j * np.radians(u_deg[m] * n_slots)).mean())) / n_slots
        if thetas:  # unwrapped: nearest to the previous plane's
            theta = thetas[-1] + _wrap(theta - thetas[-1], step)
        thetas.append(theta)
        centres = theta + step * np.arange(n_slots)
        cost = _wrap(u_deg[m, None] - centres[None, :], 360.0) ** 2
        rows, cols = linear_sum_assignment(cost)
        slot[m[rows]] = cols
    seam = int(np.round((thetas[-1] - thetas[0]) / step)) % n_slots if thetas else 0
    return slot, seam


def _ring_next(group: np.ndarray) -> np.ndarray:
    """For rows sorted by ``group``, the index of the next row of the same group (cyclic)."""
    n = len(group)
    first = np.r_[True, group[1:] != group[:-1]]
    last = np.r_[group[1:] != group[:-1], True]
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    return np.where(last, start, np.arange(n) + 1)


def _grid_links(shell, plane, slot, u_deg, n_planes, n_slots, seams) -> np.ndarray:
    """+Grid pairs (each link once per end, not canonical) over the satellites with ``slot >= 0``."""
    links = []
    for sh, (n_p, n_s, seam) in enumerate(zip(n_planes, n_slots, seams, strict=True)):
        idx = np.flatnonzero((shell == sh) & (slot >= 0))
        if len(idx) == 0:
            continue
        p, k = plane[idx], slot[idx]
        order = np.lexsort([u_deg[idx], p])  # in-plane rings by u
        links.append(np.stack([idx[order], idx[order][_ring_next(p[order])]], 1))
        # lanes: slot k of plane o continues at slot k of o+1, and at k+seam of plane 0 after the
        # last plane; lanes k, k+seam, k+2 seam, ... form one cycle of (n_s / g) lanes
        g = int(np.gcd(seam, n_s)) if seam else n_s
        cycle = k % g
        if seam:
            length = n_s // g
            inv = pow(seam // g, -1, length) if length > 1 else 0
            turn = (((k - cycle) // g) * inv) % length
        else:
            turn = np.zeros_like(k)
        order = np.lexsort([turn * n_p + p, cycle])
        links.append(np.stack([idx[order], idx[order][_ring_next(cycle[order])]], 1))
    if not links:
        return np.empty((0, 2), dtype=np.int64)
    return np.concatenate(links).astype(np.int64)


def _canonical_pairs(links: np.ndarray) -> np.ndarray:
    pairs = np.sort(links, axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0) if len(pairs) else np.empty((0, 2), dtype=np.int64)


def infer_planes(
    elements,
    t_utc: object,
    *,
    plane_gap_deg: float = 0.5,
    min_bin_sats: int = 8,
    min_shell_sats: int = 50,
    min_plane_fraction: float = 0.25,
    slots_quantile: float = 0.9,
    max_isl_length_km: float | None = None,
    grazing_alt_km: float | None = DEFAULT_GRAZING_ALT_KM,
) -> PlaneLayout:
    """Shells, planes and slots of every satellite of ``elements`` at ``t_utc`` and their +Grid.

    See the module docstring for the method. ``max_isl_length_km`` and ``grazing_alt_km`` are
    the link tests every +Grid link must pass at ``t_utc`` (as
    :func:`skyfence.network.isl.valid_isl_mask`).
    """
    from skyfence.orbits.frames import as_utc

    t = as_utc(t_utc)[0]
    n = len(elements)
    inc, alt, raan, u, r_teme, ok = _mean_and_state(elements, t)
    reason = np.where(ok, 0, 1)
    shell = _shell_labels(inc, alt, ok, min_bin_sats, min_shell_sats)
    reason[(reason == 0) & (shell < 0)] = 2
    plane = np.full(n, -1)
    slot = np.full(n, -1)
    rows, n_planes, n_slots, seams = [], [], [], []
    for sh in range(shell.max() + 1):
        idx = np.flatnonzero(shell == sh)
        lab = circular_clusters(raan[idx], plane_gap_deg)
        sizes = np.bincount(lab)
        keep = sizes >= max(3, int(np.ceil(min_plane_fraction * np.median(sizes))))
        if keep.sum() < 3:  # a +Grid needs three planes
            keep[:] = False
        renum = np.cumsum(keep) - 1
        good = keep[lab]
        reason[idx[~good]] = 3
        plane[idx[good]] = renum[lab[good]]
        p_count = int(keep.sum())
        s_count = int(np.ceil(np.quantile(sizes[keep], slots_quantile))) if p_count else 0
        if p_count:
            sl, seam = _assign_slots(u[idx[good]], plane[idx[good]], p_count, s_count)
            slot[idx[good]] = sl
            reason[idx[good][sl < 0]] = 4
        else:
            seam = 0
        n_planes.append(p_count)
        n_slots.append(s_count)
        seams.append(seam)
        rows.append({
            "shell": sh,
            "inclination_deg": float(np.median(inc[idx])),
            "altitude_km": float(np.median(alt[idx])),
            "satellites": len(idx),
            "planes": p_count,
            "slots_per_plane": s_count,
            "median_plane_size": float(np.median(sizes[keep])) if p_count else 0.0,
        })  # fmt: skip
    # every +Grid link must be usable now; satellites left with fewer than 4 links are "partial"
    links = _grid_links(shell, plane, np.where(reason == 0, slot, -1), u, n_planes, n_slots, seams)
    pairs = _canonical_pairs(links) if len(links) else np.empty((0, 2), dtype=np.int64)
    pairs = pairs[
        valid_isl_mask(
            r_teme, pairs, max_length_km=max_isl_length_km, grazing_alt_km=grazing_alt_km
        )
    ]
    degree = np.bincount(pairs.ravel(), minlength=n)
    reason[(reason == 0) & (degree != 4)] = 5
    placed = reason == 0
    slotted = placed | (reason == 5)
    shells = pd.DataFrame(rows)
    if len(shells):
        shells["placed"] = np.bincount(shell[placed], minlength=len(shells))
        shells["partial"] = np.bincount(shell[reason == 5], minlength=len(shells))
    return PlaneLayout(
        t, shell, np.where(slotted, plane, -1), np.where(slotted, slot, -1), reason, inc, alt, raan, u, shells, pairs,
    )  # fmt: skip


def plus_grid_isls(elements, t_utc: object, **kwargs) -> np.ndarray:
    """The inferred +Grid of ``elements`` at ``t_utc``, ``[n_links, 2]`` (see :func:`infer_planes`)."""
    return infer_planes(elements, t_utc, **kwargs).isls


def filed_shell_match(shells: pd.DataFrame, preset: str = "starlink-gen1") -> pd.DataFrame:
    """``shells`` (from :attr:`PlaneLayout.shells`) beside the nearest filed shell of ``preset``.

    Nearest by inclination within 1 deg, then altitude; the filed planes and satellites per
    plane are added (``filed_*`` columns, NaN where no filed shell is within 1 deg).
    """
    from skyfence.orbits.shells import PRESETS

    filed = PRESETS[preset]
    out = shells.copy()
    cols = {"filed_name": [], "filed_inclination_deg": [], "filed_altitude_km": [],
            "filed_planes": [], "filed_sats_per_plane": []}  # fmt: skip
    for inc, alt in zip(shells["inclination_deg"], shells["altitude_km"], strict=True):
        near = [f for f in filed if abs(f.inclination_deg - inc) <= 1.0]
        best = min(near, key=lambda f: (abs(f.inclination_deg - inc) > 0.1,
                                        abs(f.altitude_km - alt))) if near else None  # fmt: skip
        cols["filed_name"].append(best.name if best else None)
        cols["filed_inclination_deg"].append(best.inclination_deg if best else np.nan)
        cols["filed_altitude_km"].append(best.altitude_km if best else np.nan)
        cols["filed_planes"].append(best.planes if best else np.nan)
        cols["filed_sats_per_plane"].append(best.sats_per_plane if best else np.nan)
    for k, v in cols.items():
        out[k] = v
    return out
