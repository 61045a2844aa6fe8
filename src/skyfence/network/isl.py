"""Inter-satellite link (ISL) topologies and their per-step validity.

A topology is an ``[n_links, 2]`` int array of undirected satellite pairs ``(a, b)`` with
``a < b``, each listed once, satellite ids 0..N-1 in plane-major order
(``id = plane * sats_per_plane + index``, as Hypatia and skyfence's Walker shells number them).

* :func:`plus_grid` — Hypatia's +Grid: (o, i)-(o, i+1) in-plane and (o, i)-(o+1, (i+shift) mod S)
  cross-plane, for every plane o (the last plane wraps to the first);
* :func:`read_isls` — Hypatia's ``isls.txt`` (``a b`` per line) or any ``a,b`` list;
* :func:`nearest_neighbour_isls` — for real snapshots without plane numbering;
* :func:`valid_isl_mask` — length cut-off and Earth occlusion (segment dipping below a grazing altitude).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skyfence.errors import SkyfenceError
from skyfence.geo.earth import wgs72

#: default grazing altitude below which a link is blocked by the atmosphere, km
DEFAULT_GRAZING_ALT_KM = 80.0


class IslError(SkyfenceError):
    """A malformed ISL list or an impossible topology request."""


def _canonical(pairs: np.ndarray) -> np.ndarray:
    pairs = np.sort(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    if len(pairs) == 0:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(pairs, axis=0)


def plus_grid(n_planes: int, sats_per_plane: int, shift: int = 0, *, offset: int = 0) -> np.ndarray:
    """+Grid ISLs for one shell, ``[n_links, 2]`` (satellite ids start at ``offset``).

    Satellite (o, i) links to (o, i+1 mod S) and to (o+1 mod P, i+shift mod S), as Hypatia's
    ``generate_plus_grid_isls`` does. With P >= 3 and S >= 3 every satellite has degree 4.
    Duplicate links that arise for small P or S are listed once.
    """
    if n_planes < 1 or sats_per_plane < 1:
        raise IslError(
            f"plus-grid needs at least one plane and one satellite per plane, got {n_planes}x{sats_per_plane}"
        )
    o, i = np.meshgrid(np.arange(n_planes), np.arange(sats_per_plane), indexing="ij")
    sid = o * sats_per_plane + i
    in_plane = o * sats_per_plane + (i + 1) % sats_per_plane
    cross = ((o + 1) % n_planes) * sats_per_plane + (i + shift) % sats_per_plane
    pairs = np.concatenate(
        [np.stack([sid.ravel(), in_plane.ravel()], 1), np.stack([sid.ravel(), cross.ravel()], 1)]
    )
    return _canonical(pairs) + offset


def plus_grid_shells(shells: list[tuple[int, int]], shift: int = 0) -> np.ndarray:
    """+Grid for several shells numbered one after another (no links between shells)."""
    out, offset = [], 0
    for n_planes, sats_per_plane in shells:
        out.append(plus_grid(n_planes, sats_per_plane, shift, offset=offset))
        offset += n_planes * sats_per_plane
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


def parse_isls(text: str, n_sat: int | None = None, source: str = "<text>") -> np.ndarray:
    """Parse an ISL pair list: one ``a b`` (Hypatia ``isls.txt``) or ``a,b`` per line; ``#`` comments."""
    pairs = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").split()
        if len(parts) != 2:
            raise IslError(
                f"{source}, line {lineno}: expected two satellite ids 'a b', got {raw.strip()!r}"
            )
        try:
            a, b = int(parts[0]), int(parts[1])
        except ValueError:
            raise IslError(
                f"{source}, line {lineno}: satellite ids must be integers, got {raw.strip()!r}"
            ) from None
        for s in (a, b):
            if s < 0 or (n_sat is not None and s >= n_sat):
                raise IslError(
                    f"{source}, line {lineno}: satellite id {s} outside 0..{(n_sat or 1) - 1}"
                )
        if a == b:
            raise IslError(f"{source}, line {lineno}: a satellite cannot link to itself ({a})")
        pairs.append((a, b))
    return (
        _canonical(np.array(pairs, dtype=np.int64)) if pairs else np.empty((0, 2), dtype=np.int64)
    )


def read_isls(path: str | Path, n_sat: int | None = None) -> np.ndarray:
    """Read an ISL pair file (Hypatia ``isls.txt``); ids checked against ``n_sat`` when given."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IslError(f"cannot read ISL file {str(p)!r}: {exc}") from None
    return parse_isls(text, n_sat, str(p))


def nearest_neighbour_isls(
    r_ecef_km: np.ndarray, k: int = 4, max_length_km: float | None = None
) -> np.ndarray:
    """ISLs for a real snapshot (no plane numbering): each satellite to its ``k`` nearest others.

    ``r_ecef_km`` is ``[n_sat, 3]`` at one epoch (positions with NaN get no links). The union of
    the per-satellite choices is returned, so degrees are >= k (typically 4..6 for k = 4) — an
    approximation of a +Grid: in a dense shell the nearest neighbours are the in-plane and
    adjacent-plane satellites.
    """
    from scipy.spatial import cKDTree

    r = np.asarray(r_ecef_km, dtype=float)
    ok = np.isfinite(r).all(axis=1)
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return np.empty((0, 2), dtype=np.int64)
    tree = cKDTree(r[idx])
    kk = min(k + 1, len(idx))
    dist, nn = tree.query(r[idx], k=kk)
    a = np.repeat(np.arange(len(idx)), kk - 1)
    b = nn[:, 1:].ravel()
    d = dist[:, 1:].ravel()
    keep = np.isfinite(d)
    if max_length_km is not None:
        keep &= d <= max_length_km
    return _canonical(np.stack([idx[a[keep]], idx[b[keep]]], 1))


def segment_min_radius_km(r_a_km: np.ndarray, r_b_km: np.ndarray) -> np.ndarray:
    """Smallest distance from Earth's centre to the segment a-b, km (inputs ``[..., 3]`` km)."""
    d = r_b_km - r_a_km
    dd = np.einsum("...k,...k->...", d, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(-np.einsum("...k,...k->...", r_a_km, d) / dd, 0.0, 1.0)
    t = np.where(dd > 0, t, 0.0)
    p = r_a_km + t[..., None] * d
    return np.sqrt(np.einsum("...k,...k->...", p, p))


def isl_lengths_km(r_ecef_km: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Lengths of the links ``pairs`` for positions ``[n_sat, 3]`` or ``[n_sat, n_time, 3]`` km."""
    d = r_ecef_km[pairs[:, 1]] - r_ecef_km[pairs[:, 0]]
    return np.sqrt(np.einsum("...k,...k->...", d, d))


def valid_isl_mask(
    r_ecef_km: np.ndarray,
    pairs: np.ndarray,
    *,
    max_length_km: float | None = None,
    grazing_alt_km: float | None = DEFAULT_GRAZING_ALT_KM,
) -> np.ndarray:
    """Which links are usable: finite positions, length <= ``max_length_km``, and the straight
    segment stays above ``grazing_alt_km`` over a spherical Earth (radius 6,378.135 km).

    ``r_ecef_km`` is ``[n_sat, 3]`` or ``[n_sat, n_time, 3]``; result ``[n_links]`` or ``[n_links, n_time]``.
    """
    ra = r_ecef_km[pairs[:, 0]]
    rb = r_ecef_km[pairs[:, 1]]
    d = rb - ra
    length = np.sqrt(np.einsum("...k,...k->...", d, d))
    ok = np.isfinite(length)
    if max_length_km is not None:
        ok &= length <= max_length_km
    if grazing_alt_km is not None:
        # the grazing check is on a sphere of WGS72's equatorial radius (6,378.135 km): the radius
        # of SGP4's Earth model, and the one Hypatia uses for this test
        ok &= segment_min_radius_km(ra, rb) >= wgs72.semi_major_km + grazing_alt_km
    return ok
