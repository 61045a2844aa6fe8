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
from scipy.sparse import csr_matrix

from skyfence.links import Visibility


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


def build_step_graph(
    n_sat: int,
    n_gs: int,
    isl_pairs: np.ndarray,
    isl_length_km: np.ndarray,
    gsl: Visibility,
    *,
    relay_gs: np.ndarray | None = None,
) -> StepGraph:
    """Assemble the CSR graph of one step from the usable ISLs (``[n, 2]`` pairs and their lengths
    in km, each undirected link once) and the ground-satellite links ``gsl`` of this step
    (``point`` is the station index; see :func:`skyfence.links.visible_pairs`).
    """
    isl_pairs = np.asarray(isl_pairs, dtype=np.int64).reshape(-1, 2)
    a, b = isl_pairs[:, 0], isl_pairs[:, 1]
    g_out = n_sat + gsl.point
    g_in = n_sat + n_gs + gsl.point
    rows = [a, b, g_out, gsl.sat]
    cols = [b, a, gsl.sat, g_in]
    vals = [isl_length_km, isl_length_km, gsl.range_km, gsl.range_km]
    if relay_gs is not None and len(relay_gs):
        relay = np.zeros(n_gs, dtype=bool)
        relay[np.asarray(relay_gs, dtype=np.int64)] = True
        m = relay[gsl.point]
        rows.append(gsl.sat[m])
        cols.append(g_out[m])
        vals.append(gsl.range_km[m])
    n = n_sat + 2 * n_gs
    csr = csr_matrix(
        (np.concatenate(vals).astype(float), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
    )
    return StepGraph(csr, n_sat, n_gs)


def hypatia_node_ids(nodes: np.ndarray, n_sat: int, n_gs: int) -> np.ndarray:
    """Map graph node ids to Hypatia's numbering (both station copies -> ``n_sat + i``); -1 stays -1."""
    nodes = np.asarray(nodes)
    return np.where(nodes >= n_sat + n_gs, nodes - n_gs, nodes)
