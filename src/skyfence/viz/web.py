"""The interactive page: the data it reads, the self-contained ``index.html``, and a local server.

One page shows every kind of output (``meta.json``'s ``kind``: ``run`` here, ``impact``, ``latency``
and ``revisit`` in :mod:`skyfence.viz.web_impact`, :mod:`~skyfence.viz.web_latency` and
:mod:`~skyfence.viz.web_revisit`). A run's view data is a folder ``OUT_DIR/view/`` of small files:

* ``meta.json``: the run's summary, the time grid (``start_utc``, ``step_s``, ``steps``), the map
  extent, country outlines (bundled Natural Earth 50m, clipped to the extent) and the geofences as
  GeoJSON;
* ``cells.arrow``: one row per H3 cell (the columns of ``cells.parquet``; ``regions`` joined by ``; ``);
* ``cell_shapes.arrow``: the cells' boundaries, one row per vertex (``row``, ``lon_deg``, ``lat_deg``
  as float32, H3's ring order, not closed), so the page needs no H3 library to draw them;
* ``cell_events.arrow`` / ``terminal_events.arrow``: the state changes, one row per
  (``row``, ``step``, ``state``) where a cell's (terminal's) state differs from the step before, step
  0 included, sorted by row then step (the page expands them to a ``[steps, rows]`` int8 array);
  ``terminal_events.arrow`` also has ``reason``, the policies that decided the terminal's request
  (an index into ``meta.json``'s ``deciding``, lists of "file:line (@id)" of Cedar's
  ``diagnostics.reasons``; ``[]`` Cedar's default deny; -1 no policy in force), with a row wherever
  the state or the reason changes;
* ``terminals.arrow``: one row per terminal (the columns of ``terminals.parquet``, ``regions`` at its
  first position, ``moving``);
* ``tracks.arrow``: the positions of the moving terminals at every step where present
  (``row``, ``step``, ``lat_deg``, ``lon_deg``, ``regions``).

Arrow tables are IPC streams (read in the page by Apache Arrow JS). In the run and impact views,
deck.gl holds the viewport (pan, zoom, hover, click) and land, cells, outlines, geofences, tracks and
terminals are drawn on plain 2D canvases in step with it: nothing is compiled for WebGL, so the page
is interactive well within 2 s on a machine without a GPU (software WebGL), and 15,000 terminals
are redrawn per step as pixels. The page itself (``app.js``,
``app.css`` and the licences of the libraries bundled in them) is built from ``web/`` at the
repository root by ``make web`` and ships in ``skyfence/viz/web/``.
"""

from __future__ import annotations

import base64
import json
import math
import re
from functools import cache, partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from skyfence.errors import SkyfenceError

__all__ = [
    "VIEW_DIR",
    "VIEW_FILES",
    "countries_geojson",
    "extent_of",
    "frame_table",
    "ipc_bytes",
    "meta_bytes",
    "state_events",
    "cell_shapes",
    "deciding_labels",
    "run_view_files",
    "write_view",
    "read_view_files",
    "page_html",
    "view_server",
]

#: the view data's folder inside a run's output folder
VIEW_DIR = "view"
#: the files of each kind of view (``meta.json``'s ``kind``)
VIEW_FILES = {
    "run": ("meta.json", "cells.arrow", "cell_shapes.arrow", "cell_events.arrow", "terminals.arrow", "terminal_events.arrow",
            "tracks.arrow"),
    "latency": ("meta.json", "routes.arrow", "nodes.arrow"),
    "revisit": ("meta.json", "cells.arrow", "targets.arrow", "accesses.arrow"),
    "impact": ("meta.json", "cells.arrow", "cell_shapes.arrow", "cell_events.arrow", "terminals.arrow", "terminal_events.arrow", "tracks.arrow",
               "cell_events_before.arrow", "terminal_events_before.arrow"),
}  # fmt: skip
#: at most this many moving terminals get a track on the page
MAX_TRACKS = 500
_SIMPLIFY_DEG = 0.01


def _assets():
    return resources.files("skyfence").joinpath("viz", "web")


def state_events(states: np.ndarray, reasons: np.ndarray | None = None) -> pa.Table:
    """The changes of an int8 ``[rows, steps]`` state array: ``row``, ``step``, ``state`` where the
    state differs from the previous step's (every row's step 0 included), sorted by row then step.
    With ``reasons`` (int ``[rows, steps]``, e.g. ``Decisions.terminal_reasons``): also where the
    reason changes, in an int16 column ``reason``."""
    s = np.asarray(states, dtype=np.int8)
    if s.ndim != 2:
        raise ValueError("states must be [rows, steps]")
    changed = np.ones(s.shape, dtype=bool)
    changed[:, 1:] = s[:, 1:] != s[:, :-1]
    if reasons is not None:
        r = np.asarray(reasons).reshape(s.shape)
        changed[:, 1:] |= r[:, 1:] != r[:, :-1]
    row, step = np.nonzero(changed)
    cols = {"row": row.astype(np.int32), "step": step.astype(np.int32), "state": s[row, step].astype(np.int8)}
    if reasons is not None:
        cols["reason"] = r[row, step].astype(np.int16)
    return pa.table(cols)


def cell_shapes(cells: np.ndarray) -> pa.Table:
    """The boundaries of H3 cells, one row per vertex: ``row`` (the cell's), ``lon_deg``, ``lat_deg``
    (float32; :func:`skyfence.geo.cells.cell_boundaries`)."""
    from skyfence.geo.cells import cell_boundaries

    rings = cell_boundaries(cells)
    n = np.array([len(b) for b in rings], dtype=np.int64)
    xy = np.concatenate(rings) if rings else np.zeros((0, 2))
    return pa.table({"row": np.repeat(np.arange(len(rings), dtype=np.int32), n),
                     "lon_deg": xy[:, 0].astype(np.float32), "lat_deg": xy[:, 1].astype(np.float32)})  # fmt: skip


_ORIGIN = re.compile(r"^(.*?):(\d+)( \(.*\))?$")


def deciding_labels(labels) -> list[list[str]]:
    """``Decisions.reason_labels`` ("path:line (@id)" per policy) with the file name only."""
    def short(text: str) -> str:
        m = _ORIGIN.match(text)
        return f"{Path(m.group(1)).name}:{m.group(2)}{m.group(3) or ''}" if m else text
    return [[short(x) for x in group] for group in labels]


def frame_table(df: pd.DataFrame) -> pa.Table:
    """A DataFrame as an Arrow table the page can show: timestamps as ISO strings, lists joined."""
    cols = {}
    for name in df.columns:
        v = df[name]
        if isinstance(v.dtype, pd.DatetimeTZDtype) or v.dtype.kind == "M":
            cols[name] = pa.array([None if pd.isna(x) else x.strftime("%Y-%m-%dT%H:%M:%SZ") for x in v], pa.string())
        elif v.dtype == object and len(v) and isinstance(v.iloc[0], list | tuple | np.ndarray):
            cols[name] = pa.array(["; ".join(map(str, x)) for x in v], pa.string())
        elif v.dtype.kind in "iub":
            cols[name] = pa.array(v.to_numpy())
        elif v.dtype.kind == "f":
            cols[name] = pa.array(v.to_numpy(dtype=np.float64))
        else:
            cols[name] = pa.array([None if x is None else str(x) for x in v], pa.string())
    return pa.table(cols)


def ipc_bytes(table: pa.Table) -> bytes:
    """An Arrow table as IPC stream bytes (what the page reads)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def extent_of(lon: np.ndarray, lat: np.ndarray) -> list[float]:
    """``[lon0, lat0, lon1, lat1]`` around the finite points, 8% margins (at least 0.08 deg)."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return [-180.0, -85.0, 180.0, 85.0]
    x0, x1, y0, y1 = lon[ok].min(), lon[ok].max(), lat[ok].min(), lat[ok].max()
    dx, dy = max(x1 - x0, 1.0) * 0.08, max(y1 - y0, 1.0) * 0.08
    return [float(x0 - dx), float(max(y0 - dy, -85.0)), float(x1 + dx), float(min(y1 + dy, 85.0))]


def _features(geoms: dict, extent: list[float] | None) -> dict:
    """GeoJSON FeatureCollection of named shapely geometries, clipped to ``extent`` and simplified."""
    from shapely.geometry import box, mapping

    # the map shows more than the extent (the page's aspect ratio, panning): clip generously
    size = max(extent[2] - extent[0], extent[3] - extent[1]) if extent else 20.0
    pad = max(2.0, 0.6 * size) if extent else 0.0
    tolerance = _SIMPLIFY_DEG * max(1.0, size / 20.0)  # ~the same detail on screen at any extent
    clip = box(*extent).buffer(pad, join_style="mitre") if extent else None
    feats = []
    for name, g in geoms.items():
        if g is None or g.is_empty:
            continue
        if clip is not None:
            if not g.intersects(clip):
                continue
            g = g.intersection(clip)
        g = g.simplify(tolerance, preserve_topology=True)
        if g.is_empty:
            continue
        gj = json.loads(json.dumps(mapping(g)))
        feats.append({"type": "Feature", "properties": {"name": name}, "geometry": _rounded(gj)})
    return {"type": "FeatureCollection", "features": feats}


def _rounded(obj):
    if isinstance(obj, float):
        return round(obj, 4)
    if isinstance(obj, list):
        return [_rounded(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj


@cache
def _country_shapes() -> dict:
    """The bundled Natural Earth 50m admin-0 countries, name -> shapely geometry (read once)."""
    from shapely.geometry import shape

    path = resources.files("skyfence").joinpath("data", "geo", "ne4_50m_admin_0_countries.geojson")
    obj = json.loads(path.read_text("utf-8"))
    geoms = {}
    for i, f in enumerate(obj["features"]):
        if not f.get("geometry"):
            continue
        p = f.get("properties") or {}
        geoms[p.get("ADMIN") or p.get("NAME") or f"country {i}"] = shape(f["geometry"])
    return geoms


def countries_geojson(extent: list[float]) -> dict:
    """Natural Earth 50m admin-0 outlines that meet ``extent`` (a GeoJSON FeatureCollection)."""
    return _features(_country_shapes(), extent)


def run_view_files(result) -> dict[str, bytes]:
    """The view data of a run (an object with ``summary``, ``cells``, ``terminals``, ``ground`` and
    ``decisions`` like :class:`skyfence.service.run.RunResult`), file name -> bytes."""
    ground, dec = result.ground, result.decisions
    t_utc = np.asarray(ground.t_utc, dtype="datetime64[s]")
    n_t = len(t_utc)
    terms = ground.terminals
    n_term = len(terms)
    tracks = {"row": [], "step": [], "lat_deg": [], "lon_deg": [], "regions": []}
    moving = np.zeros(n_term, dtype=bool)
    t_regions = [""] * n_term
    lon_all = [np.asarray(ground.cell_lon_deg, float)]
    lat_all = [np.asarray(ground.cell_lat_deg, float)]
    tdf = result.terminals
    if n_term:
        lat, lon = terms.positions(n_t)
        lat, lon = np.atleast_2d(lat), np.atleast_2d(lon)
        present = np.atleast_2d(terms.present(n_t)) & np.isfinite(lat) & np.isfinite(lon)
        moving = ~(present.all(axis=1) & (lat == lat[:, :1]).all(axis=1) & (lon == lon[:, :1]).all(axis=1))
        first_lat, first_lon = tdf["lat_deg"].to_numpy(float), tdf["lon_deg"].to_numpy(float)
        has = np.isfinite(first_lat) & np.isfinite(first_lon)
        if len(ground.regions) and has.any():
            names = ground.regions.point_region_names(first_lat[has], first_lon[has])
            for k, n in zip(np.flatnonzero(has), names, strict=True):
                t_regions[k] = "; ".join(n)
        lon_all.append(first_lon)
        lat_all.append(first_lat)
        for k in np.flatnonzero(moving)[:MAX_TRACKS]:
            steps = np.flatnonzero(present[k])
            tracks["row"].append(np.full(len(steps), k, np.int32))
            tracks["step"].append(steps.astype(np.int32))
            tracks["lat_deg"].append(lat[k, steps].astype(np.float32))
            tracks["lon_deg"].append(lon[k, steps].astype(np.float32))
            names = ground.regions.point_region_names(lat[k, steps], lon[k, steps]) if len(ground.regions) else [()] * len(steps)
            tracks["regions"] += ["; ".join(n) for n in names]
            lon_all.append(lon[k, steps])
            lat_all.append(lat[k, steps])
    extent = extent_of(np.concatenate(lon_all), np.concatenate(lat_all))
    fences = {n: ground.regions.geometry(n) for n in ground.regions.names}
    step_s = float(ground.step_s)
    meta = {
        "kind": "run",
        "summary": result.summary,
        "time": {"start_utc": str(t_utc[0]) + "Z" if n_t else None, "step_s": step_s, "steps": n_t},
        "extent": extent,
        "countries": countries_geojson(extent),
        "geofences": _features(fences, None),
        "states": {"0": "uncovered", "1": "served", "2": "denied", "3": "absent"},
        "deciding": deciding_labels(getattr(dec, "reason_labels", ())),
    }
    tdf = tdf.assign(regions=t_regions, moving=moving)
    track_table = pa.table({
        "row": pa.array(np.concatenate(tracks["row"]) if tracks["row"] else np.zeros(0, np.int32)),
        "step": pa.array(np.concatenate(tracks["step"]) if tracks["step"] else np.zeros(0, np.int32)),
        "lat_deg": pa.array(np.concatenate(tracks["lat_deg"]) if tracks["lat_deg"] else np.zeros(0, np.float32)),
        "lon_deg": pa.array(np.concatenate(tracks["lon_deg"]) if tracks["lon_deg"] else np.zeros(0, np.float32)),
        "regions": pa.array(tracks["regions"], pa.string()).dictionary_encode(),
    })  # fmt: skip
    term_states = np.asarray(dec.terminal_states, np.int8).reshape(n_term, n_t)
    reasons = getattr(dec, "terminal_reasons", None)
    return {
        "meta.json": meta_bytes(meta),
        "cells.arrow": ipc_bytes(frame_table(result.cells)),
        "cell_shapes.arrow": ipc_bytes(cell_shapes(ground.cells)),
        "cell_events.arrow": ipc_bytes(state_events(dec.cell_states)),
        "terminals.arrow": ipc_bytes(frame_table(tdf)),
        "terminal_events.arrow": ipc_bytes(state_events(term_states, reasons)),
        "tracks.arrow": ipc_bytes(track_table),
    }


def meta_bytes(meta: dict) -> bytes:
    """``meta.json``'s bytes: compact JSON, numpy scalars as numbers, NaN as null."""
    return json.dumps(meta, separators=(",", ":"), allow_nan=False, default=_json_default).encode()


def _json_default(x):
    if isinstance(x, np.generic):
        x = x.item()
        return None if isinstance(x, float) and not math.isfinite(x) else x
    raise TypeError(f"not JSON: {type(x).__name__}")


def write_view(files: dict[str, bytes], out_dir: str | Path, *, html: bool = True) -> Path:
    """Write view data into ``out_dir/view/`` and, with ``html``, the self-contained
    ``out_dir/index.html`` (page, libraries and data inline: it opens from the file system).
    Returns the folder written."""
    out = Path(out_dir)
    d = out / VIEW_DIR
    d.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (d / name).write_bytes(data)
    if html:
        (out / "index.html").write_text(page_html(files), encoding="utf-8")
    return out


def read_view_files(out_dir: str | Path) -> dict[str, bytes]:
    """The view data of ``out_dir`` (written by ``skyfence run ... --html`` or
    ``skyfence latency ... --html``), file name -> bytes."""
    d = Path(out_dir) / VIEW_DIR
    if not Path(out_dir).is_dir():
        raise SkyfenceError(f"{out_dir}: no such folder")
    hint = f"write it with `skyfence run ... --html --out {out_dir}` (or impact, latency, revisit ... --html)"
    if not (d / "meta.json").is_file():
        raise SkyfenceError(f"{out_dir} has no view data ({d}/meta.json missing): {hint}")
    try:
        kind = json.loads((d / "meta.json").read_bytes()).get("kind")
    except (ValueError, AttributeError):
        raise SkyfenceError(f"{d}/meta.json is not a view's JSON object: {hint}") from None
    if kind not in VIEW_FILES:
        raise SkyfenceError(f"{d}/meta.json: unknown kind of view {kind!r} (known: {', '.join(VIEW_FILES)})")
    missing = [n for n in VIEW_FILES[kind] if not (d / n).is_file()]
    if missing:
        raise SkyfenceError(f"{out_dir} has incomplete view data ({d}/{missing[0]} missing): {hint}")
    return {n: (d / n).read_bytes() for n in VIEW_FILES[kind]}


def page_html(files: dict[str, bytes] | None = None, *, preload: list[str] | tuple[str, ...] = ()) -> str:
    """The page. With ``files``, self-contained: stylesheet, script and data inline (base64);
    without, it loads ``app.css``, ``app.js`` and ``data/<name>`` from its own server, the data
    files named in ``preload`` fetched while the script loads (``<link rel="preload">``)."""
    shell = _assets().joinpath("index.html").read_text("utf-8")
    if files is None:
        links = "".join(f'<link rel="preload" href="data/{n}" as="fetch" crossorigin>' for n in preload)
        return shell.replace("<!--STYLE-->", links + '<link rel="stylesheet" href="app.css">').replace(
            "<!--SCRIPT-->", '<script src="app.js"></script>')
    css = _assets().joinpath("app.css").read_text("utf-8").replace("</style", "<\\/style")
    js = _assets().joinpath("app.js").read_text("utf-8").replace("</script", "<\\/script")
    data = json.dumps({k: base64.b64encode(v).decode("ascii") for k, v in files.items()})
    shell = shell.replace("<!--STYLE-->", f"<style>{css}</style>", 1)
    return shell.replace("<!--SCRIPT-->", f"<script>window.__SKYFENCE_DATA__={data};</script>\n<script>{js}</script>", 1)


class _Handler(SimpleHTTPRequestHandler):
    """``/`` the page, ``/app.js`` ``/app.css`` ``/LICENSES.txt`` the built assets, ``/data/NAME``
    the view data; nothing else."""

    files: dict[str, bytes] = {}
    types = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain; charset=utf-8",
             ".json": "application/json", ".arrow": "application/vnd.apache.arrow.stream",
             ".html": "text/html; charset=utf-8"}  # fmt: skip

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            body, name = page_html(preload=tuple(self.files)).encode(), "index.html"
        elif path in ("/app.js", "/app.css", "/LICENSES.txt"):
            body, name = _assets().joinpath(path[1:]).read_bytes(), path[1:]
        elif path.startswith("/data/") and path[6:] in self.files:
            body, name = self.files[path[6:]], path[6:]
        else:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self.types[Path(name).suffix])
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


def view_server(out_dir: str | Path, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving: call ``serve_forever``) of the page for ``out_dir``'s view
    data; ``port`` 0 picks a free port (``server.server_address``)."""
    files = read_view_files(out_dir)
    handler = type("ViewHandler", (_Handler,), {"files": files})
    return ThreadingHTTPServer((host, port), partial(handler, directory=str(out_dir)))
