"""Shortest paths over the time-varying graph, RTTs and path changes.

Per step: the ISLs and ground-satellite links valid at that step form a :class:`StepGraph`
(see :mod:`skyfence.network.graph`); Dijkstra runs from the source stations' out nodes only
(one row per distinct source station, each stopping once its own destinations are settled:
:func:`skyfence.network.dijkstra.dijkstra_to_targets`), and paths are read back for all
requested pairs at once by walking the predecessor matrix vectorized over pairs.

RTT = 2 x one-way length / c (c = 299,792.458 km/s), as Hypatia reports it. Disconnected
pairs have ``length_km = inf``, ``rtt_ms = NaN`` and ``hops = -1`` (never 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import dijkstra

from skyfence.ground.fibre import C_KM_S
from skyfence.links import visible_pairs
from skyfence.network.dijkstra import NO_PREDECESSOR, dijkstra_to_targets
from skyfence.network.graph import StepGraph, build_step_graph, hypatia_node_ids
from skyfence.network.isl import DEFAULT_GRAZING_ALT_KM, valid_isl_mask

_NO_PRED = NO_PREDECESSOR
#: ground links are computed for this many steps at once (the station KD-trees are reused)
LINK_CHUNK_STEPS = 32


@dataclass
class StepPaths:
    """Result of one step for ``P`` pairs: lengths (km, inf if disconnected), hop counts (-1 if
    disconnected) and paths as a padded ``[P, L]`` array of Hypatia node ids (-1 padding)."""

    length_km: np.ndarray
    hops: np.ndarray
    paths: np.ndarray


def rtt_ms_from_length_km(length_km: np.ndarray) -> np.ndarray:
    """Round-trip time in ms for a one-way path length in km (NaN where disconnected)."""
    length_km = np.asarray(length_km, dtype=float)
    with np.errstate(invalid="ignore"):
        rtt = 2.0 * length_km / C_KM_S * 1000.0
    return np.where(np.isfinite(length_km), rtt, np.nan)


def shortest_paths_step(graph: StepGraph, src_gs: np.ndarray, dst_gs: np.ndarray) -> StepPaths:
    """Shortest paths for the pairs ``(src_gs[p], dst_gs[p])`` (station indices) on one graph."""
    src_gs = np.asarray(src_gs, dtype=np.int64)
    dst_gs = np.asarray(dst_gs, dtype=np.int64)
    sources, row = np.unique(src_gs, return_inverse=True)
    targets = graph.in_node(dst_gs)
    by_row = np.argsort(row, kind="stable")
    per_source = np.split(targets[by_row], np.cumsum(np.bincount(row, minlength=len(sources)))[:-1])
    dist, pred = dijkstra_to_targets(graph.csr, graph.out_node(sources), per_source)
    length_km = dist[row, targets]
    # walk predecessors back from every target at once
    cur = targets.copy()
    cur[~np.isfinite(length_km)] = _NO_PRED
    cols = []
    while True:
        alive = cur != _NO_PRED
        if not alive.any():
            break
        cols.append(np.where(alive, cur, -1))
        nxt = np.full_like(cur, _NO_PRED)
        nxt[alive] = pred[row[alive], cur[alive]]
        cur = nxt
    if cols:
        rev = np.stack(cols, axis=1)  # [P, L], destination first
        n = (rev >= 0).sum(axis=1)
        j = n[:, None] - 1 - np.arange(rev.shape[1])[None, :]
        paths = np.where(j >= 0, np.take_along_axis(rev, np.clip(j, 0, None), axis=1), -1)
        paths = hypatia_node_ids(paths, graph.n_sat, graph.n_gs)
    else:
        n = np.zeros(len(src_gs), dtype=np.int64)
        paths = np.full((len(src_gs), 0), -1, dtype=np.int64)
    hops = np.where(n > 0, n - 1, -1)
    return StepPaths(length_km, hops, paths)


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


def _hash_paths(paths: np.ndarray) -> np.ndarray:
    h = np.full(paths.shape[0], 1469598103934665603, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(paths.shape[1]):
            h = (h ^ (paths[:, j].astype(np.int64) + 2).astype(np.uint64)) * np.uint64(
                1099511628211
            )
    return h


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
    progress: Callable[[int], None] | None = None,
) -> RouteSeries:
    """Route pairs of ground stations over every step of ``sat_ecef_km`` ``[n_sat, n_time, 3]`` km.

    ``isl_pairs`` ``[n, 2]`` is the ISL topology (checked per step with ``max_isl_length_km`` and
    the Earth-occlusion test at ``grazing_alt_km``); ground links
    (:func:`skyfence.links.visible_pairs`) use ``max_gsl_range_km`` and/or ``min_elevation_deg``
    (one value or one per station) against the stations' up vectors ``gs_up`` (``None``: the
    geocentric radial); ``relay_gs`` are station indices allowed to relay (bent-pipe gateways).
    ``progress(t)`` is called after each step.
    """
    sat = np.asarray(sat_ecef_km, dtype=float)
    if sat.ndim == 2:
        sat = sat[:, None, :]
    n_sat, n_time = sat.shape[0], sat.shape[1]
    gs = np.asarray(gs_ecef_km, dtype=float)
    n_gs = len(gs)
    isl_pairs = np.asarray(isl_pairs, dtype=np.int64).reshape(-1, 2)
    src_gs = np.asarray(src_gs, dtype=np.int64)
    dst_gs = np.asarray(dst_gs, dtype=np.int64)
    n_pair = len(src_gs)
    length = np.empty((n_time, n_pair))
    hops = np.empty((n_time, n_pair), dtype=np.int64)
    hashes = np.empty((n_time, n_pair), dtype=np.uint64)
    nodes_chunks, counts = [], []
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
        pairs_t = isl_pairs[ok]
        d = r[pairs_t[:, 1]] - r[pairs_t[:, 0]]
        len_t = np.sqrt(np.einsum("nk,nk->n", d, d))
        graph = build_step_graph(
            n_sat, n_gs, pairs_t, len_t, links.step(t % LINK_CHUNK_STEPS), relay_gs=relay_gs
        )
        step = shortest_paths_step(graph, src_gs, dst_gs)
        length[t] = step.length_km
        hops[t] = step.hops
        hashes[t] = _hash_paths(step.paths)
        valid = step.paths >= 0
        nodes_chunks.append(step.paths[valid].astype(np.int32))  # row-major: pair by pair
        counts.append(valid.sum(axis=1))
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
