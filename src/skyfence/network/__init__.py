"""Routing over a constellation: ISLs, per-step graphs, shortest paths and the latency analysis.

* :mod:`skyfence.network.isl` — ISL topologies (+Grid, files, nearest neighbours) and their validity;
* :mod:`skyfence.network.planes` — shells, planes and slots inferred for real snapshots, their +Grid;
* :mod:`skyfence.network.dijkstra` — shortest-path trees kept from step to step (bucket Dijkstra, then label correcting);
* :mod:`skyfence.network.graph` — one step's directed graph (satellites, station source/sink nodes);
* :mod:`skyfence.network.routing` — shortest paths, RTTs and path changes over time;
* :mod:`skyfence.network.pairs` — the places and pairs of a run (names, ``lat,lon``, files);
* :mod:`skyfence.network.latency` — :func:`~skyfence.network.latency.latency`, the library call;
* :mod:`skyfence.network.result` — :class:`~skyfence.network.result.LatencyResult` (tables, files, plot).

Ground-satellite links come from :mod:`skyfence.links`.
"""
