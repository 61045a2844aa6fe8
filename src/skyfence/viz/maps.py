"""Maps: H3 cells coloured by service state or by a fraction, over country outlines.

Drawn with matplotlib's Agg canvas directly (``Figure`` + ``FigureCanvasAgg``: no global backend
switch, no display needed) in plate carree (x = longitude, y = latitude, degrees) with the aspect
``1 / cos(mid latitude)`` so shapes look right at the map's centre. Country outlines: the bundled
Natural Earth 50m admin-0 countries. Cell polygons: :func:`skyfence.geo.cells.cell_boundaries`.

Antimeridian: when the cells span more than 180 deg of longitude in [-180, 180) the map switches to
longitudes in [0, 360) (negative ones + 360), cells whose boundary jumps across 180 deg are unwrapped
next to their centre, and outlines/geofences are drawn at -360/0/+360 offsets, so a map of Fiji or
Chukotka is one piece.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = [
    "STATE_COLORS",
    "Track",
    "cell_polygons",
    "cell_map",
]

#: state code (skyfence.coverage.stats) -> (label, colour)
STATE_COLORS: dict[int, tuple[str, str]] = {
    1: ("served", "#2ca25f"),
    2: ("denied", "#de2d26"),
    0: ("uncovered", "#9e9e9e"),
}
_GEOFENCE_COLORS = ["#08306b", "#6a3d9a", "#b15928", "#1f78b4", "#e31a1c", "#33a02c"]
_ABSENT = -1
_DENIED = 2


@dataclass(frozen=True)
class Track:
    """A mobile terminal's path to draw: positions and service state per step (NaN / -1 where
    absent), and the step times (``datetime64``) for the first-denied annotation."""

    name: str
    lon_deg: np.ndarray
    lat_deg: np.ndarray
    states: np.ndarray
    t_utc: np.ndarray


def cell_polygons(cells: np.ndarray | Sequence) -> tuple[list[np.ndarray], np.ndarray]:
    """Boundaries of H3 cells as ``[k, 2]`` (lon, lat) degree arrays, unwrapped across the
    antimeridian next to each cell's centre (so a boundary may reach beyond +-180), and the cell
    centres' longitudes. Cells: uint64 ints or hex strings."""
    from skyfence.geo.cells import cell_boundaries, cell_centres, cells_from_str

    cells = list(cells)
    ids = cells_from_str(cells) if cells and isinstance(cells[0], str) else np.asarray(cells, dtype=np.uint64)
    _, centre_lon = cell_centres(ids)
    polys = cell_boundaries(ids)
    for b, lon_c in zip(polys, centre_lon.tolist(), strict=True):
        d = b[:, 0] - lon_c
        b[:, 0] = lon_c + (d + 180.0) % 360.0 - 180.0
    return polys, centre_lon


@lru_cache(maxsize=1)
def _country_rings() -> tuple[np.ndarray, ...]:
    """Exterior and interior rings of the bundled Natural Earth 50m countries, (lon, lat)."""
    path = resources.files("skyfence").joinpath("data", "geo", "ne4_50m_admin_0_countries.geojson")
    obj = json.loads(path.read_text("utf-8"))
    rings = []
    for f in obj["features"]:
        g = f.get("geometry") or {}
        if g.get("type") == "Polygon":
            polys = [g["coordinates"]]
        elif g.get("type") == "MultiPolygon":
            polys = g["coordinates"]
        else:
            continue
        for poly in polys:
            for ring in poly:
                rings.append(np.asarray(ring, dtype=float)[:, :2])
    return tuple(rings)


def _geom_rings(geom) -> list[np.ndarray]:
    out = []
    if geom is None or geom.is_empty:
        return out
    if hasattr(geom, "geoms"):
        for g in geom.geoms:
            out.extend(_geom_rings(g))
        return out
    if geom.geom_type == "Polygon":
        out.append(np.asarray(geom.exterior.coords)[:, :2])
        out.extend(np.asarray(r.coords)[:, :2] for r in geom.interiors)
    elif geom.geom_type in ("LineString", "LinearRing"):
        out.append(np.asarray(geom.coords)[:, :2])
    return out


def _shifted(rings, extent, wrap: bool):
    """Copies of rings at -360/0/+360 deg that overlap the extent (x0, x1, y0, y1)."""
    x0, x1, y0, y1 = extent
    out = []
    offsets = (-360.0, 0.0, 360.0) if wrap or x0 < -180 or x1 > 180 else (0.0,)
    for r in rings:
        rx0, rx1 = r[:, 0].min(), r[:, 0].max()
        ry0, ry1 = r[:, 1].min(), r[:, 1].max()
        if ry1 < y0 or ry0 > y1:
            continue
        for off in offsets:
            if rx1 + off >= x0 and rx0 + off <= x1:
                out.append(r + np.array([off, 0.0]) if off else r)
    return out


def cell_map(
    out_path: str | Path,
    cells: np.ndarray | Sequence,
    *,
    states: np.ndarray | None = None,
    values: np.ndarray | None = None,
    value_label: str = "fraction",
    cmap: str = "RdYlGn",
    vmin: float = 0.0,
    vmax: float = 1.0,
    title: str = "",
    geofences: Mapping[str, object] | None = None,
    terminals_lat_deg: np.ndarray | None = None,
    terminals_lon_deg: np.ndarray | None = None,
    terminal_states: np.ndarray | None = None,
    terminals_ever_denied: np.ndarray | None = None,
    terminals_total: int | None = None,
    tracks: Sequence[Track] = (),
    extent_deg: tuple[float, float, float, float] | None = None,
    figsize_in: tuple[float, float] = (10.0, 7.5),
    dpi: int = 120,
) -> Path:
    """Write a PNG map of H3 cells and return its path.

    Colour by ``states`` (int per cell, codes of :mod:`skyfence.coverage.stats`: served green,
    denied red, uncovered grey; other codes not drawn) **or** by ``values`` (float per cell, e.g.
    ``denied_fraction``, colour map ``cmap`` over [vmin, vmax], colour bar titled ``value_label``).
    ``geofences``: name -> shapely lon/lat geometry, outlined and named in the legend.
    ``terminals_*``: optional points (one state per terminal in ``terminal_states`` to colour them
    like the cells; black otherwise); those flagged in ``terminals_ever_denied`` are drawn as
    triangles. ``terminals_total``: how many terminals the points were sampled from (the legend
    then says "N of M shown, random sample"). ``tracks``: mobile terminals drawn as lines coloured
    by their state at each step, the first denied step marked and labelled with its UTC time.
    ``extent_deg``: (lon_min, lon_max, lat_min, lat_max), default the cells' bounds plus a margin.
    Output size is ``figsize_in * dpi`` pixels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    cells = list(cells)
    if states is not None and values is not None:
        raise ValueError("give states or values, not both")
    polys, centre_lon = cell_polygons(cells)
    wrap = len(cells) > 0 and float(np.ptp(centre_lon)) > 180.0
    if wrap:
        polys = [p + np.array([360.0, 0.0]) if c < 0 else p
                 for p, c in zip(polys, centre_lon, strict=True)]
    t_lat = None if terminals_lat_deg is None else np.asarray(terminals_lat_deg, float).ravel()
    t_lon = None if terminals_lon_deg is None else np.asarray(terminals_lon_deg, float).ravel()
    if t_lon is not None and wrap:
        t_lon = np.where(t_lon < 0, t_lon + 360.0, t_lon)
    tracks = [Track(k.name, np.where(np.asarray(k.lon_deg, float) < 0, np.asarray(k.lon_deg, float) + 360.0,
                                     np.asarray(k.lon_deg, float)) if wrap else np.asarray(k.lon_deg, float),
                    np.asarray(k.lat_deg, float), np.asarray(k.states, int), np.asarray(k.t_utc))
              for k in tracks]  # fmt: skip

    if extent_deg is None:
        xs, ys = [], []
        if polys:
            allp = np.concatenate(polys)
            xs += [allp[:, 0].min(), allp[:, 0].max()]
            ys += [allp[:, 1].min(), allp[:, 1].max()]
        if t_lat is not None and np.isfinite(t_lat).any():
            xs += [np.nanmin(t_lon), np.nanmax(t_lon)]
            ys += [np.nanmin(t_lat), np.nanmax(t_lat)]
        for k in tracks:
            if np.isfinite(k.lat_deg).any():
                xs += [np.nanmin(k.lon_deg), np.nanmax(k.lon_deg)]
                ys += [np.nanmin(k.lat_deg), np.nanmax(k.lat_deg)]
        for g in (geofences or {}).values():
            if g is not None and not g.is_empty and not polys:
                b = g.bounds
                xs += [b[0], b[2]]
                ys += [b[1], b[3]]
        if not xs:
            xs, ys = [-180.0, 180.0], [-90.0, 90.0]
        dx = max(max(xs) - min(xs), 1.0) * 0.06
        dy = max(max(ys) - min(ys), 1.0) * 0.06
        extent_deg = (min(xs) - dx, max(xs) + dx, max(min(ys) - dy, -90.0), min(max(ys) + dy, 90.0))
    x0, x1, y0, y1 = extent_deg

    fig = Figure(figsize=figsize_in, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor("#dceaf5")  # sea
    land = _shifted(_country_rings(), extent_deg, wrap)
    ax.add_collection(PolyCollection(land, facecolors="#f4f1ea", edgecolors="none", zorder=0))

    handles = []
    if polys:
        if values is not None:
            v = np.asarray(values, dtype=float)
            pc = PolyCollection(polys, array=v, cmap=cmap, edgecolors="none", zorder=2)
            pc.set_clim(vmin, vmax)
            ax.add_collection(pc)
            cb = fig.colorbar(pc, ax=ax, fraction=0.035, pad=0.02)
            cb.set_label(value_label)
        else:
            st = np.full(len(polys), 1, dtype=int) if states is None else np.asarray(states, int)
            colors = np.full(len(polys), "none", dtype=object)
            for code, (label, col) in STATE_COLORS.items():
                hit = st == code
                colors[hit] = col
                if hit.any():
                    handles.append(Patch(facecolor=col, edgecolor="none",
                                         label=f"{label} ({int(hit.sum()):,} cells)"))
            ax.add_collection(PolyCollection(polys, facecolors=list(colors), edgecolors="none",
                                             alpha=0.85, zorder=2))
    ax.add_collection(LineCollection(land, colors="#555555", linewidths=0.5, zorder=3))

    for i, (name, geom) in enumerate((geofences or {}).items()):
        rings = _shifted(_geom_rings(geom), extent_deg, wrap)
        col = _GEOFENCE_COLORS[i % len(_GEOFENCE_COLORS)]
        ax.add_collection(LineCollection(rings, colors=col, linewidths=1.6,
                                         linestyles="--", zorder=4))
        handles.append(Line2D([], [], color=col, lw=1.6, ls="--", label=f"geofence: {name}"))

    if t_lat is not None:
        handles += _draw_terminals(ax, t_lon, t_lat, terminal_states, terminals_ever_denied, terminals_total)
    for k in tracks:
        handles += _draw_track(ax, k)

    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    mid = np.radians(0.5 * (y0 + y1))
    ax.set_aspect(1.0 / max(np.cos(mid), 0.1))
    ax.set_xlabel("longitude (deg)" + (" [0, 360)" if wrap else ""))
    ax.set_ylabel("latitude (deg)")
    ax.grid(True, color="white", lw=0.4, zorder=1)
    if title:
        ax.set_title(title)
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.85)
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out


def _draw_terminals(ax, lon, lat, states, ever_denied, total) -> list:
    """Terminals as points coloured by state (triangles: ever denied); legend entries."""
    from matplotlib.lines import Line2D

    n = int(np.isfinite(lat).sum())
    shown = f"{n:,} of {total:,} shown, random sample" if total and total > n else f"{n:,}"
    handles = [Line2D([], [], ls="", label=f"terminals by majority state\n({shown}):")]
    if states is None:
        ax.scatter(lon, lat, s=4, c="black", zorder=5)
        handles[0].set_label(f"terminals ({shown})")
        handles[0].set_marker("o")
        handles[0].set_color("black")
        return handles
    st = np.asarray(states, int).ravel()
    ever = np.zeros(len(st), bool) if ever_denied is None else np.asarray(ever_denied, bool).ravel()
    for code, (label, col) in STATE_COLORS.items():
        for flag, marker, size in ((False, "o", 9), (True, "^", 22)):
            hit = (st == code) & (ever == flag)
            if hit.any():
                ax.scatter(lon[hit], lat[hit], s=size, c=col, marker=marker, edgecolors="black",
                           linewidths=0.35, zorder=5 + flag)
        hit = st == code
        if hit.any():
            handles.append(Line2D([], [], marker="o", ls="", markersize=5, markerfacecolor=col,
                                  markeredgecolor="black", label=f"  {label} ({int(hit.sum()):,})"))
    if ever.any():
        handles.append(Line2D([], [], marker="^", ls="", markersize=6, markerfacecolor="white",
                              markeredgecolor="black", label=f"  ever denied ({int(ever.sum()):,})"))
    return handles


def _draw_track(ax, track: Track) -> list:
    """A mobile terminal's path, each segment coloured by the state at its start; the first denied
    step marked and labelled with its UTC time."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    xy = np.column_stack([track.lon_deg, track.lat_deg])
    ok = np.isfinite(xy).all(axis=1) & (track.states != _ABSENT)
    seg_ok = ok[:-1] & ok[1:]
    segs = np.stack([xy[:-1], xy[1:]], axis=1)[seg_ok]
    cols = [STATE_COLORS.get(int(s), ("", "#000000"))[1] for s in track.states[:-1][seg_ok]]
    ax.add_collection(LineCollection(segs, colors=cols, linewidths=3.0, zorder=6))
    ax.add_collection(LineCollection(segs, colors="white", linewidths=5.5, zorder=5.9))  # casing
    if ok.any():
        j = int(np.flatnonzero(ok)[0])
        ax.plot(xy[j, 0], xy[j, 1], marker="o", ms=6, mfc="white", mec="black", zorder=7)
    handles = [Line2D([], [], color="#555555", lw=3, marker="o", mfc="white", mec="black", ms=5,
                      label=f"track {track.name} (o start), by state")]
    first = np.flatnonzero((track.states == _DENIED) & ok)
    if len(first):
        i = int(first[0])
        when = np.datetime_as_string(np.asarray(track.t_utc)[i].astype("datetime64[s]"), unit="m")
        ax.plot(xy[i, 0], xy[i, 1], marker="*", ms=14, mfc=STATE_COLORS[_DENIED][1], mec="black", zorder=7)
        ax.annotate(f"{track.name} first denied\n{when.replace('T', ' ')} UTC", xy=(xy[i, 0], xy[i, 1]),
                    xytext=(18, -28), textcoords="offset points", fontsize=8, zorder=8,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "#333333", "alpha": 0.9},
                    arrowprops={"arrowstyle": "->", "color": "#333333"})
    return handles
