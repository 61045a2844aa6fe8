"""Shortest paths over the time-varying graph, RTTs and path changes.

Per step: the ISLs and ground-satellite links valid at that step form the step's graph
(:func:`skyfence.network.graph.step_csr_arrays`); the shortest-path trees of the distinct source
stations' out nodes are brought up to date (:class:`skyfence.network.dijkstra.ShortestPathTrees`:
Dijkstra at every :data:`TREE_RESET_STEPS`-th step of a run, label correcting from the previous
step's trees in between, the same distances), and each pair's path is read back from its
source's tree (:func:`source_trees` gives the trees alone, for callers that need only lengths).

RTT = 2 x one-way length / c (c = 299,792.458 km/s), as Hypatia reports it. Disconnected
pairs have ``length_km = inf``, ``rtt_ms = NaN`` and ``hops = -1`` (never 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.sparse.csgraph import dijkstra

from skyfence.ground.fibre import C_KM_S
from skyfence.links import visible_pairs
from skyfence.network.dijkstra import NO_PREDECESSOR, ShortestPathTrees
from skyfence.network.graph import build_step_graph, relay_flags, step_csr_arrays
from skyfence.network.isl import DEFAULT_GRAZING_ALT_KM, valid_isl_mask

__all__ = [
    "LINK_CHUNK_STEPS",
    "TREE_RESET_STEPS",
    "RouteSeries",
    "gateway_rtt_ms",
    "path_length_km",
    "route_series",
    "rtt_ms_from_length_km",
    "source_trees",
]

#: ground links are computed for this many steps at once (the station KD-trees are reused)
LINK_CHUNK_STEPS = 32
#: the trees are searched from scratch at every multiple of this many steps of a run's time grid,
#: so a run cut into time chunks at such multiples gives the very same paths (ties included)
TREE_RESET_STEPS = 60
_FNV_OFFSET = np.uint64(1469598103934665603)
_FNV_PRIME = np.uint64(1099511628211)


def rtt_ms_from_length_km(length_km: np.ndarray) -> np.ndarray:
    """Round-trip time in ms for a one-way path length in km (NaN where disconnected)."""
    length_km = np.asarray(length_km, dtype=float)
    with np.errstate(invalid="ignore"):
        rtt = 2.0 * length_km / C_KM_S * 1000.0
    return np.where(np.isfinite(length_km), rtt, np.nan)


@dataclass
class RouteSeries:
    """Routes of ``P`` pairs over ``T`` steps.

    ``length_km`` and ``rtt_ms`` are ``[T, P]`` (inf / NaN when disconnected), ``hops`` ``[T, P]``
    (-1 when disconnected); paths are ragged: the path of step t, pair p is
    ``path_nodes[path_offsets[t*P + p] : path_offsets[t*P + p + 1]]`` (Hypatia node ids);
    ``path_hash`` ``[T, P]`` identifies a path (equal paths, equal hash) for change counting.
    """

    length_km: np.ndarray
    hops: np.ndarray
    path_nodes: np.ndarray
    path_offsets: np.ndarray
    path_hash: np.ndarray

    @property
    def rtt_ms(self) -> np.ndarray:
        return rtt_ms_from_length_km(self.length_km)

    @property
    def connected(self) -> np.ndarray:
        return np.isfinite(self.length_km)

    def path(self, t: int, p: int) -> list[int]:
        """Path of pair ``p`` at step ``t`` as node ids (empty when disconnected)."""
        k = t * self.length_km.shape[1] + p
        return self.path_nodes[self.path_offsets[k] : self.path_offsets[k + 1]].tolist()

    def path_changes(self) -> np.ndarray:
        """Per pair, the number of steps whose path differs from the previous step's (a change to
        or from "disconnected" counts as a change), ``[P]``."""
        if self.path_hash.shape[0] < 2:
            return np.zeros(self.path_hash.shape[1], dtype=np.int64)
        return (self.path_hash[1:] != self.path_hash[:-1]).sum(axis=0)


@njit(cache=True, nogil=True)
def _walk_paths(pred, dist, row, target, n_sat, n_gs):
    """Per pair (tree ``row[p]`` of :class:`ShortestPathTrees`, node ``target[p]``):
    length, hop count (-1: disconnected), path hash (FNV-1a of the Hypatia node ids + 2, source
    first) and the path nodes, concatenated."""
    n_pair = len(row)
    length = np.empty(n_pair)
    counts = np.zeros(n_pair, dtype=np.int64)
    for p in range(n_pair):
        length[p] = dist[row[p], target[p]]
        if length[p] < np.inf:
            v = target[p]
            while v != NO_PREDECESSOR:
                counts[p] += 1
                v = pred[row[p], v]
    ends = np.cumsum(counts)
    nodes = np.empty(ends[-1] if n_pair else 0, dtype=np.int32)
    hashes = np.empty(n_pair, dtype=np.uint64)
    for p in range(n_pair):
        k = ends[p]
        v = target[p]
        for _ in range(counts[p]):
            k -= 1
            nodes[k] = v - n_gs if v >= n_sat + n_gs else v
            v = pred[row[p], v]
        h = _FNV_OFFSET
        for j in range(ends[p] - counts[p], ends[p]):
            h = (h ^ np.uint64(nodes[j] + 2)) * _FNV_PRIME
        hashes[p] = h
    hops = np.where(counts > 0, counts - 1, -1)
    return length, hops, hashes, nodes, counts


def _step_graphs(sat, isl_pairs, gs, gs_up, min_elevation_deg, max_gsl_range_km, max_isl_length_km,
                 grazing_alt_km, relay):  # fmt: skip
    """Each step's CSR arrays and edge keys (an ISL's key is its row in ``isl_pairs``): ground links
    per chunk of :data:`LINK_CHUNK_STEPS` steps, ISLs checked per step."""
    n_sat, n_time = sat.shape[0], sat.shape[1]
    links = None
    for t in range(n_time):
        if t % LINK_CHUNK_STEPS == 0:
            links = visible_pairs(
                gs, gs_up, sat[:, t : t + LINK_CHUNK_STEPS], min_elevation_deg,
                max_range_km=max_gsl_range_km, azimuth=False,
            ).sorted()  # fmt: skip
        r = sat[:, t, :]
        ok = valid_isl_mask(
            r, isl_pairs, max_length_km=max_isl_length_km, grazing_alt_km=grazing_alt_km
        )
        key_t = np.flatnonzero(ok)
        pairs_t = isl_pairs[key_t]
        d = r[pairs_t[:, 1]] - r[pairs_t[:, 0]]
        len_t = np.sqrt(np.einsum("nk,nk->n", d, d))
        yield t, step_csr_arrays(n_sat, len(gs), pairs_t, len_t, links.step(t % LINK_CHUNK_STEPS), relay,
                                 isl_key=key_t)  # fmt: skip


def source_trees(
    sat_ecef_km: np.ndarray,
    isl_pairs: np.ndarray,
    gs_ecef_km: np.ndarray,
    sources_gs: np.ndarray,
    *,
    max_gsl_range_km: float | None = None,
    min_elevation_deg: float | np.ndarray | None = None,
    gs_up: np.ndarray | None = None,
    max_isl_length_km: float | None = None,
    grazing_alt_km: float | None = DEFAULT_GRAZING_ALT_KM,
    relay_gs: np.ndarray | None = None,
    first_step: int = 0,
) -> Iterator[tuple[int, ShortestPathTrees]]:
    """``(t, trees)`` for every step ``t`` of ``sat_ecef_km``: the shortest-path trees from the
    out nodes of stations ``sources_gs`` (tree ``k`` is ``sources_gs[k]``, see
    :class:`ShortestPathTrees`; station ``j``'s in node is ``n_sat + n_gs + j``). ``first_step`` is the
    index of the first step in the run's time grid (trees restart at multiples of
    :data:`TREE_RESET_STEPS`). The same ``trees`` object is updated in place. Arguments as
    :func:`route_series`."""
    sat = np.asarray(sat_ecef_km, dtype=float)
    if sat.ndim == 2:
        sat = sat[:, None, :]
    gs = np.asarray(gs_ecef_km, dtype=float)
    n_sat, n_gs = sat.shape[0], len(gs)
    isl_pairs = np.asarray(isl_pairs, dtype=np.int64).reshape(-1, 2)
    trees = ShortestPathTrees(n_sat + 2 * n_gs, n_sat + np.asarray(sources_gs, dtype=np.int64))
    graphs = _step_graphs(sat, isl_pairs, gs, gs_up, min_elevation_deg, max_gsl_range_km,
                          max_isl_length_km, grazing_alt_km, relay_flags(n_gs, relay_gs))  # fmt: skip
    for t, (indptr, indices, weights, edge_key) in graphs:
        if (first_step + t) % TREE_RESET_STEPS == 0:
            trees.reset()
        trees.update(indptr, indices, weights, edge_key)
        yield t, trees


def route_series(
    sat_ecef_km: np.ndarray,
    isl_pairs: np.ndarray,
    gs_ecef_km: np.ndarray,
    src_gs: np.ndarray,
    dst_gs: np.ndarray,
    *,
    max_gsl_range_km: float | None = None,
    min_elevation_deg: float | np.ndarray | None = None,
    gs_up: np.ndarray | None = None,
    max_isl_length_km: float | None = None,
    grazing_alt_km: float | None = DEFAULT_GRAZING_ALT_KM,
    relay_gs: np.ndarray | None = None,
    first_step: int = 0,
    progress: Callable[[int], None] | None = None,
) -> RouteSeries:
    """Route pairs of ground stations over every step of ``sat_ecef_km`` ``[n_sat, n_time, 3]`` km.

    ``isl_pairs`` ``[n, 2]`` is the ISL topology (checked per step with ``max_isl_length_km`` and
    the Earth-occlusion test at ``grazing_alt_km``); ground links
    (:func:`skyfence.links.visible_pairs`) use ``max_gsl_range_km`` and/or ``min_elevation_deg``
    (one value or one per station) against the stations' up vectors ``gs_up`` (``None``: the
    geocentric radial); ``relay_gs`` are station indices allowed to relay (bent-pipe gateways).
    ``first_step``: the index of ``sat_ecef_km``'s first step in the run's time grid (a run cut
    into chunks at multiples of :data:`TREE_RESET_STEPS` gives the same result as in one piece).
    ``progress(t)`` is called after each step.
    """
    sat = np.asarray(sat_ecef_km, dtype=float)
    if sat.ndim == 2:
        sat = sat[:, None, :]
    n_sat, n_time, n_gs = sat.shape[0], sat.shape[1], len(gs_ecef_km)
    src_gs = np.asarray(src_gs, dtype=np.int64)
    target = n_sat + n_gs + np.asarray(dst_gs, dtype=np.int64)
    sources, row = np.unique(src_gs, return_inverse=True)
    n_pair = len(src_gs)
    length = np.empty((n_time, n_pair))
    hops = np.empty((n_time, n_pair), dtype=np.int64)
    hashes = np.empty((n_time, n_pair), dtype=np.uint64)
    nodes_chunks, counts = [], []
    trees = source_trees(
        sat, isl_pairs, gs_ecef_km, sources, max_gsl_range_km=max_gsl_range_km,
        min_elevation_deg=min_elevation_deg, gs_up=gs_up, max_isl_length_km=max_isl_length_km,
        grazing_alt_km=grazing_alt_km, relay_gs=relay_gs, first_step=first_step,
    )  # fmt: skip
    for t, tr in trees:
        length[t], hops[t], hashes[t], nodes, count = _walk_paths(
            tr.pred, tr.dist, row.astype(np.int64), target, n_sat, n_gs
        )
        nodes_chunks.append(nodes)  # pair by pair
        counts.append(count)
        if progress is not None:
            progress(t)
    counts_all = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(counts_all) + 1, dtype=np.int64)
    np.cumsum(counts_all, out=offsets[1:])
    nodes = np.concatenate(nodes_chunks) if nodes_chunks else np.zeros(0, dtype=np.int32)
    return RouteSeries(length, hops, nodes, offsets, hashes)


def path_length_km(sat_ecef_km: np.ndarray, gs_ecef_km: np.ndarray, path: list[int]) -> float:
    """Geometric length of a path of Hypatia node ids (satellites ``< n_sat``, stations after), km."""
    n_sat = len(sat_ecef_km)
    pts = np.array([sat_ecef_km[n] if n < n_sat else gs_ecef_km[n - n_sat] for n in path])
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())


def gateway_rtt_ms(
    sat_ecef_km: np.ndarray,
    isl_pairs: np.ndarray,
    terminal_ecef_km: np.ndarray,
    gateway_ecef_km: np.ndarray,
    *,
    terminal_min_elevation_deg: float | np.ndarray,
    gateway_min_elevation_deg: float | np.ndarray,
    terminal_up: np.ndarray | None = None,
    gateway_up: np.ndarray | None = None,
    max_isl_length_km: float | None = None,
    grazing_alt_km: float | None = DEFAULT_GRAZING_ALT_KM,
) -> np.ndarray:
    """RTT (ms) from each terminal to its nearest reachable gateway, ``[n_time, n_terminal]``.

    A terminal is usefully served only if some gateway is reachable: NaN marks steps where none is.
    One multi-source Dijkstra per step (all gateways at once, ``min_only``) over satellites and
    ISLs; terminals are sinks only, gateways sources only (neither relays). Each station type has
    its own elevation mask (one value, or one per station) and up vectors (``None``: geocentric).
    """
    sat = np.asarray(sat_ecef_km, dtype=float)
    if sat.ndim == 2:
        sat = sat[:, None, :]
    n_sat, n_time = sat.shape[:2]
    gw = np.asarray(gateway_ecef_km, dtype=float)
    term = np.asarray(terminal_ecef_km, dtype=float)
    n_gw, n_term = len(gw), len(term)
    isl_pairs = np.asarray(isl_pairs, dtype=np.int64).reshape(-1, 2)
    out = np.full((n_time, n_term), np.nan)
    if n_gw == 0 or n_term == 0:
        return out
    both = np.concatenate([gw, term])
    up = np.concatenate([_up_or_radial(gateway_up, gw), _up_or_radial(terminal_up, term)])
    mask = np.concatenate([
        np.broadcast_to(np.asarray(gateway_min_elevation_deg, dtype=float), (n_gw,)),
        np.broadcast_to(np.asarray(terminal_min_elevation_deg, dtype=float), (n_term,)),
    ])  # fmt: skip
    for t in range(n_time):
        r = sat[:, t, :]
        ok = valid_isl_mask(
            r, isl_pairs, max_length_km=max_isl_length_km, grazing_alt_km=grazing_alt_km
        )
        pairs_t = isl_pairs[ok]
        len_t = np.linalg.norm(r[pairs_t[:, 1]] - r[pairs_t[:, 0]], axis=1)
        links = visible_pairs(both, up, r, mask, azimuth=False).sorted()
        graph = build_step_graph(n_sat, n_gw + n_term, pairs_t, len_t, links)
        dist = dijkstra(
            graph.csr, directed=True, indices=graph.out_node(np.arange(n_gw)), min_only=True
        )
        out[t] = rtt_ms_from_length_km(dist[graph.in_node(np.arange(n_gw, n_gw + n_term))])
    return out


def _up_or_radial(up: np.ndarray | None, ecef_km: np.ndarray) -> np.ndarray:
    """The given up vectors, or the geocentric radial of ``ecef_km`` when ``None``."""
    if up is not None:
        return np.asarray(up, dtype=float)
    return ecef_km / np.linalg.norm(ecef_km, axis=1, keepdims=True)
