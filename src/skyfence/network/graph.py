"""The network graph of one time step as a directed ``scipy.sparse`` CSR matrix.

Node layout (``n_sat`` satellites, ``n_gs`` ground stations):

* ``0 .. n_sat-1`` — satellites; ISLs are edges in both directions;
* ``n_sat + i`` — ground station *i* as a **source** ("out" node): only edges towards satellites
  in range (plus edges from satellites when station *i* may relay, see below);
* ``n_sat + n_gs + i`` — ground station *i* as a **sink** ("in" node): only edges from satellites.

Splitting a station into an out node and an in node means a station can start or end a path but
never relay through it: Hypatia's "free one only over ISLs" routing. Stations listed in
``relay_gs`` (gateways in bent-pipe mode) get edges into their out node too, so paths may go
ground -> satellite -> gateway -> satellite -> ground. Reported paths use Hypatia's numbering
(satellites ``0..N-1``, station *i* = ``N + i``): see :func:`hypatia_node_ids`.

Edge weights are lengths in km (propagation delay is length / c, so both give the same paths).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.sparse import csr_matrix

from skyfence.links import Visibility

__all__ = ["StepGraph", "build_step_graph", "hypatia_node_ids", "relay_flags", "step_csr_arrays"]


@dataclass
class StepGraph:
    """One step's graph: ``csr`` (km weights, ``n_nodes`` square) and its layout sizes."""

    csr: csr_matrix
    n_sat: int
    n_gs: int

    @property
    def n_nodes(self) -> int:
        return self.n_sat + 2 * self.n_gs

    def out_node(self, gs: np.ndarray | int) -> np.ndarray | int:
        """Source node of ground station(s) ``gs``."""
        return self.n_sat + np.asarray(gs)

    def in_node(self, gs: np.ndarray | int) -> np.ndarray | int:
        """Sink node of ground station(s) ``gs``."""
        return self.n_sat + self.n_gs + np.asarray(gs)


@njit(cache=True, nogil=True)
def _csr(n_sat, n_gs, isl_a, isl_b, isl_km, isl_key, g_point, g_sat, g_km, relay):
    n = n_sat + 2 * n_gs
    deg = np.zeros(n + 1, dtype=np.int64)
    for k in range(len(isl_a)):
        deg[isl_a[k] + 1] += 1
        deg[isl_b[k] + 1] += 1
    for k in range(len(g_point)):
        deg[n_sat + g_point[k] + 1] += 1  # station out node -> satellite
        deg[g_sat[k] + 1] += 1 + relay[g_point[k]]  # satellite -> in node (and -> out node)
    for u in range(n):
        deg[u + 1] += deg[u]
    indptr = deg.copy()
    fill = deg[:-1].copy()
    indices = np.empty(indptr[-1], dtype=np.int32)
    weights = np.empty(indptr[-1], dtype=np.float64)
    keys = np.full(indptr[-1], -1, dtype=np.int32)
    for k in range(len(isl_a)):
        a, b, w = isl_a[k], isl_b[k], isl_km[k]
        indices[fill[a]] = b
        weights[fill[a]] = w
        keys[fill[a]] = isl_key[k]
        fill[a] += 1
        indices[fill[b]] = a
        weights[fill[b]] = w
        keys[fill[b]] = isl_key[k]
        fill[b] += 1
    for k in range(len(g_point)):
        i, s, w = g_point[k], g_sat[k], g_km[k]
        out = n_sat + i
        indices[fill[out]] = s
        weights[fill[out]] = w
        fill[out] += 1
        if relay[i]:
            indices[fill[s]] = out
            weights[fill[s]] = w
            fill[s] += 1
        indices[fill[s]] = n_sat + n_gs + i
        weights[fill[s]] = w
        fill[s] += 1
    return indptr, indices, weights, keys


def step_csr_arrays(
    n_sat: int,
    n_gs: int,
    isl_pairs: np.ndarray,
    isl_length_km: np.ndarray,
    gsl: Visibility,
    relay: np.ndarray | None = None,
    isl_key: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays ``(indptr, indices, weights, edge_key)`` of one step's graph (layout above): ISLs
    both ways, station out node -> satellite and satellite -> station in node for each ground link
    of ``gsl``, and satellite -> out node where ``relay[station]`` (bool ``[n_gs]``). A row lists
    its ISLs in the order of ``isl_pairs``, then its ground links in the order of ``gsl``.
    ``edge_key`` (int32) is, for both directions of ISL ``k``, ``isl_key[k]`` (default ``k``: give
    the ISL's index in the whole topology when ``isl_pairs`` is this step's usable subset, so a
    link keeps its key from step to step, see
    :class:`skyfence.network.dijkstra.ShortestPathTrees`), and -1 for ground links."""
    isl_pairs = np.asarray(isl_pairs, dtype=np.int64).reshape(-1, 2)
    if relay is None:
        relay = np.zeros(n_gs, dtype=np.int64)
    if isl_key is None:
        isl_key = np.arange(len(isl_pairs))
    return _csr(n_sat, n_gs, isl_pairs[:, 0], isl_pairs[:, 1],
                np.asarray(isl_length_km, dtype=np.float64), np.asarray(isl_key, dtype=np.int32),
                gsl.point.astype(np.int64),
                gsl.sat.astype(np.int64), np.asarray(gsl.range_km, dtype=np.float64),
                np.asarray(relay, dtype=np.int64))  # fmt: skip


def relay_flags(n_gs: int, relay_gs: np.ndarray | None) -> np.ndarray:
    """``[n_gs]`` 0/1: which stations may relay."""
    relay = np.zeros(n_gs, dtype=np.int64)
    if relay_gs is not None and len(relay_gs):
        relay[np.asarray(relay_gs, dtype=np.int64)] = 1
    return relay


def build_step_graph(
    n_sat: int,
    n_gs: int,
    isl_pairs: np.ndarray,
    isl_length_km: np.ndarray,
    gsl: Visibility,
    *,
    relay_gs: np.ndarray | None = None,
) -> StepGraph:
    """The CSR graph of one step from the usable ISLs (``[n, 2]`` pairs and their lengths in km,
    each undirected link once) and the ground-satellite links ``gsl`` of this step (``point`` is
    the station index; see :func:`skyfence.links.visible_pairs`): :func:`step_csr_arrays`."""
    indptr, indices, weights, _ = step_csr_arrays(n_sat, n_gs, isl_pairs, isl_length_km, gsl,
                                                  relay_flags(n_gs, relay_gs))  # fmt: skip
    n = n_sat + 2 * n_gs
    return StepGraph(csr_matrix((weights, indices, indptr), shape=(n, n)), n_sat, n_gs)


def hypatia_node_ids(nodes: np.ndarray, n_sat: int, n_gs: int) -> np.ndarray:
    """Map graph node ids to Hypatia's numbering (both station copies -> ``n_sat + i``); -1 stays -1."""
    nodes = np.asarray(nodes)
    return np.where(nodes >= n_sat + n_gs, nodes - n_gs, nodes)
