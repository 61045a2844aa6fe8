"""The latency page's view data: RTT per step and pair, and every path's nodes on the map.

Files (in ``OUT_DIR/view/``, read by the same page as a run's, ``meta.json``'s ``kind`` is
``"latency"``):

* ``meta.json``: the time grid, the pairs (names, fibre RTT, min/median/max RTT, path changes,
  disconnected share), the stations the pairs use (``name``, ``lat_deg``, ``lon_deg``; node id
  ``n_sat + k`` is station ``k``), ``n_sat``, the map extent and Natural Earth outlines;
* ``routes.arrow``: one row per (step, pair), step-major: ``rtt_ms`` (NaN when disconnected),
  ``hops`` (-1), and ``first``/``count``, the pair's path at that step as rows of ``nodes.arrow``
  (paths of the first :data:`MAX_PATH_PAIRS` pairs only);
* ``nodes.arrow``: the path nodes: ``node`` (Hypatia id) with ``lat_deg``/``lon_deg`` at that
  step (a satellite's sub-satellite point, a station's position).
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from skyfence.geo.earth import wgs84
from skyfence.network.latency import satellite_ecef_km
from skyfence.network.result import LatencyResult
from skyfence.viz.web import countries_geojson, extent_of, ipc_bytes

__all__ = ["MAX_PAIRS", "MAX_PATH_PAIRS", "latency_view_files"]

#: the page shows at most this many pairs (the first ones) ...
MAX_PAIRS = 200
#: ... and the paths of at most this many
MAX_PATH_PAIRS = 32


def _finite(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def latency_view_files(result: LatencyResult, elements, *, earth_rotation: str = "ut1",
                       title: str = "") -> dict[str, bytes]:  # fmt: skip
    """The view data of a latency run, file name -> bytes.

    ``elements`` are the constellation the result was routed over (an
    :class:`skyfence.orbits.elements.Elements` or a preset / file name); only the satellites on
    some stored path are propagated again, on ``result.t_utc`` with ``earth_rotation``.
    """
    if isinstance(elements, str):
        from skyfence.orbits.catalog import load_elements

        elements = load_elements(elements)
    routes, n_sat = result.routes, result.n_sat
    t_utc = np.asarray(result.t_utc, dtype="datetime64[ns]")
    n_t, n_all = routes.length_km.shape
    n_p = min(n_all, MAX_PAIRS)
    off = np.asarray(routes.path_offsets, dtype=np.int64)
    count = np.diff(off).reshape(n_t, n_all)[:, :n_p].copy()
    count[:, MAX_PATH_PAIRS:] = 0
    start = off[:-1].reshape(n_t, n_all)[:, :n_p].ravel()
    count = count.ravel()
    out_first = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    idx = np.repeat(start - out_first, count) + np.arange(int(count.sum()))
    node = np.asarray(routes.path_nodes, dtype=np.int64)[idx]
    step = np.repeat(np.arange(n_t * n_p) // n_p, count)
    lat = np.full(len(node), np.nan)
    lon = np.full(len(node), np.nan)
    st = node >= n_sat
    lat[st] = result.stations.lat_deg[node[st] - n_sat]
    lon[st] = result.stations.lon_deg[node[st] - n_sat]
    if (~st).any():
        used, inv = np.unique(node[~st], return_inverse=True)
        r = satellite_ecef_km(elements.subset(used), t_utc, earth_rotation=earth_rotation)  # [U, T, 3]
        s_lat, s_lon, _ = wgs84.geodetic(r[inv, step[~st]])
        lat[~st], lon[~st] = s_lat, s_lon
    first = np.where(count > 0, out_first, -1)
    summary = result.summary().iloc[:n_p]
    used_gs = np.unique(np.concatenate([result.src[:n_p], result.dst[:n_p], node[st] - n_sat])).astype(int)
    pts_lon = np.concatenate([result.stations.lon_deg[used_gs], lon])
    pts_lat = np.concatenate([result.stations.lat_deg[used_gs], lat])
    extent = extent_of(pts_lon, pts_lat)
    pairs = [
        {"src": str(r.src), "dst": str(r.dst), "fibre_rtt_ms": _finite(r.fibre_rtt_ms),
         "min_rtt_ms": _finite(r.min_rtt_ms), "median_rtt_ms": _finite(r.median_rtt_ms),
         "max_rtt_ms": _finite(r.max_rtt_ms), "path_changes": int(r.path_changes),
         "disconnected_share": float(r.disconnected_share)}
        for r in summary.itertuples()
    ]  # fmt: skip
    names = result.stations.names
    stations = [{"name": str(names[k]), "lat_deg": float(result.stations.lat_deg[k]),
                 "lon_deg": float(result.stations.lon_deg[k])} for k in range(len(names))]  # fmt: skip
    step_s = float((t_utc[1] - t_utc[0]) / np.timedelta64(1, "s")) if n_t > 1 else 1.0
    meta = {
        "kind": "latency",
        "summary": {"title": title or "skyfence latency",
                    "description": f"{n_all} pair(s){f' (the first {n_p} shown)' if n_p < n_all else ''}, {n_t} steps of {step_s:g} s, {n_sat} satellites"},
        "time": {"start_utc": np.datetime_as_string(t_utc[0], unit="ms") + "Z", "step_s": step_s, "steps": n_t},
        "extent": extent,
        "countries": countries_geojson(extent),
        "pairs": pairs,
        "stations": stations,
        "n_sat": int(n_sat),
    }  # fmt: skip
    rtt = np.asarray(result.rtt_ms, dtype=np.float32)[:, :n_p].ravel()
    hops = np.asarray(routes.hops)[:, :n_p].ravel().astype(np.int16)
    return {
        "meta.json": json.dumps(meta, separators=(",", ":"), allow_nan=False).encode(),
        "routes.arrow": ipc_bytes(pa.table({
            "rtt_ms": pa.array(rtt), "hops": pa.array(hops),
            "first": pa.array(first.astype(np.int32)), "count": pa.array(count.astype(np.int16)),
        })),
        "nodes.arrow": ipc_bytes(pa.table({
            "node": pa.array(node.astype(np.int32)), "lat_deg": pa.array(lat.astype(np.float32)),
            "lon_deg": pa.array(lon.astype(np.float32)),
        })),
    }  # fmt: skip
