"""Mobile terminals: track files interpolated to the step times.

A track file is CSV or Parquet ``id, t_utc, lat, lon`` (+ optional ``group``), one row per fix,
rows in any order, ISO 8601 UTC times (``Z`` optional).

Each track is interpolated to the step times along the **great circle** between consecutive fixes,
at constant speed in time (spherical linear interpolation), exact at the fixes. ``speed_kmh`` at a
step is the great-circle length (WGS84 mean radius) of the segment the step lies in divided by its
duration; a step exactly on an inner fix takes the segment that starts there. Outside a track's time
span the terminal is **absent** by default (lat/lon NaN, speed 0: not in service, counted as
``absent``, not as an outage); ``outside="clamp"`` instead holds the first/last fix at speed 0.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import SkyfenceError
from skyfence.geo.earth import wgs84
from skyfence.ground.records import (
    GROUP_KEYS,
    ID_KEYS,
    LAT_KEYS,
    LON_KEYS,
    TIME_KEYS,
    checked_id,
    checked_number,
    pick_column,
    read_records,
    resolve_file,
)
from skyfence.ground.terminals import Terminals, parse_groups

__all__ = ["interpolate_tracks", "read_tracks"]


def _parse_time(value: Any, where: str) -> np.datetime64:
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[ns]")
    if hasattr(value, "isoformat") and not isinstance(value, str):  # datetime / Timestamp
        if getattr(value, "tzinfo", None) is not None:
            value = value.astimezone(_dt.UTC).replace(tzinfo=None)
        return np.datetime64(value.isoformat(), "ns")
    s = str(value).strip()
    if s.endswith(("Z", "z")):
        s = s[:-1]
    elif s.endswith("+00:00"):
        s = s[:-6]
    try:
        t = np.datetime64(s, "ns")
    except ValueError:
        raise SkyfenceError(f"{where}: t_utc {value!r} is not an ISO 8601 UTC time") from None
    if np.isnat(t):
        raise SkyfenceError(f"{where}: t_utc is empty")
    return t


def interpolate_tracks(
    track_index: np.ndarray,
    t_fix_utc: np.ndarray,
    lat_fix_deg: np.ndarray,
    lon_fix_deg: np.ndarray,
    n_tracks: int,
    t_utc: np.ndarray,
    *,
    outside: str = "absent",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate fixes to step times along great circles (see the module doc).

    ``track_index`` (int ``[n_fix]``, 0..n_tracks-1), ``t_fix_utc`` (datetime64), ``lat_fix_deg``,
    ``lon_fix_deg``: the fixes, any order (no two fixes of a track at the same time).
    ``t_utc``: the step times ``[n_time]``. ``outside``: ``"absent"`` or ``"clamp"``.

    Returns ``(lat_deg, lon_deg, speed_kmh)``, each ``[n_tracks, n_time]``; NaN lat/lon (speed 0)
    where absent. Loops over tracks, each vectorized over the steps.
    """
    if outside not in ("absent", "clamp"):
        raise SkyfenceError(f"outside must be 'absent' or 'clamp', got {outside!r}")
    ti = np.asarray(track_index, dtype=np.int64)
    tf = np.asarray(t_fix_utc, dtype="datetime64[ns]").astype(np.int64)
    la = np.asarray(lat_fix_deg, dtype=float)
    lo = np.asarray(lon_fix_deg, dtype=float)
    ts = np.asarray(t_utc, dtype="datetime64[ns]").astype(np.int64)
    n_time = len(ts)
    lat_out = np.full((n_tracks, n_time), np.nan)
    lon_out = np.full((n_tracks, n_time), np.nan)
    spd_out = np.zeros((n_tracks, n_time))
    order = np.lexsort((tf, ti))
    ti, tf, la, lo = ti[order], tf[order], la[order], lo[order]
    bounds = np.searchsorted(ti, np.arange(n_tracks + 1))
    for k in range(n_tracks):
        a, b = bounds[k], bounds[k + 1]
        if b == a:
            continue
        t_k, lat_k, lon_k = tf[a:b], la[a:b], lo[a:b]
        if b - a == 1:
            at = ts == t_k[0] if outside == "absent" else np.ones(n_time, bool)
            lat_out[k, at] = lat_k[0]
            lon_out[k, at] = lon_k[0]
            continue
        # segment j spans fixes j..j+1; a step on an inner fix takes the segment starting there
        seg = np.clip(np.searchsorted(t_k, ts, side="right") - 1, 0, len(t_k) - 2)
        t0, t1 = t_k[seg], t_k[seg + 1]
        frac = (ts - t0).astype(np.float64) / (t1 - t0).astype(np.float64)
        inside = (ts >= t_k[0]) & (ts <= t_k[-1])
        lat_i, lon_i = wgs84.great_circle_interpolate(
            lat_k[seg], lon_k[seg], lat_k[seg + 1], lon_k[seg + 1], np.clip(frac, 0.0, 1.0)
        )
        seg_km = wgs84.great_circle_km(lat_k[:-1], lon_k[:-1], lat_k[1:], lon_k[1:])
        seg_h = (t_k[1:] - t_k[:-1]).astype(np.float64) / 3.6e12
        speed = (seg_km / seg_h)[seg]
        if outside == "absent":
            lat_out[k, inside] = lat_i[inside]
            lon_out[k, inside] = lon_i[inside]
            spd_out[k, inside] = speed[inside]
        else:
            lat_out[k] = lat_i
            lon_out[k] = lon_i
            spd_out[k] = np.where(inside, speed, 0.0)
    return lat_out, lon_out, spd_out


def read_tracks(
    path: str | Path,
    t_utc: np.ndarray,
    *,
    base_dir: str | Path | None = None,
    outside: str = "absent",
    default_group: str | Sequence[str] | None = None,
) -> Terminals:
    """Mobile terminals from a track file (CSV/Parquet ``id, t_utc, lat, lon[, group]``),
    interpolated to the step times ``t_utc`` (see module doc for the method and ``outside``).

    A terminal's groups are the union of its rows' groups (``default_group`` if none).
    Errors name the file and line/row: bad time, lat/lon, empty id, two fixes of one id at the
    same time.
    """
    p = resolve_file(path, base_dir)
    if p.suffix.lower() in (".geojson", ".json"):
        raise SkyfenceError(f"{p}: tracks must be CSV or Parquet (id, t_utc, lat, lon)")
    columns, rows = read_records(p)
    where0 = str(p)
    c_id = pick_column(columns, ID_KEYS, "id", where0)
    c_t = pick_column(columns, TIME_KEYS, "t_utc", where0)
    c_lat = pick_column(columns, LAT_KEYS, "latitude", where0)
    c_lon = pick_column(columns, LON_KEYS, "longitude", where0)
    c_grp = pick_column(columns, GROUP_KEYS, "group", where0, required=False)
    if not rows:
        raise SkyfenceError(f"{p}: no track rows")
    dflt = parse_groups(list(default_group) if isinstance(default_group, (list, tuple))
                        else default_group)
    index: dict[str, int] = {}
    groups: list[list[str]] = []
    n = len(rows)
    tix = np.empty(n, dtype=np.int64)
    tfix = np.empty(n, dtype="datetime64[ns]")
    lat = np.empty(n)
    lon = np.empty(n)
    seen: dict[tuple[str, int], str] = {}
    for i, (where, r) in enumerate(rows):
        tid = checked_id(r.get(c_id), where)
        t = _parse_time(r.get(c_t), where)
        key = (tid, int(t.astype(np.int64)))
        if key in seen:
            raise SkyfenceError(f"{where}: second fix of {tid!r} at {r.get(c_t)} "
                                f"(first at {seen[key]})")
        seen[key] = where
        lat[i] = checked_number(r.get(c_lat), "lat", -90.0, 90.0, where)
        lon[i] = checked_number(r.get(c_lon), "lon", -180.0, 180.0, where)
        if tid not in index:
            index[tid] = len(index)
            groups.append([])
        k = index[tid]
        tix[i] = k
        tfix[i] = t
        if c_grp is not None:
            for g in parse_groups(r.get(c_grp)):
                if g not in groups[k]:
                    groups[k].append(g)
    t_steps = np.asarray(t_utc, dtype="datetime64[ns]")
    la, lo, spd = interpolate_tracks(tix, tfix, lat, lon, len(index), t_steps, outside=outside)
    return Terminals(
        ids=np.array(list(index), dtype=object),
        groups=tuple(tuple(g) or dflt for g in groups),
        lat_deg=la,
        lon_deg=lo,
        t_utc=t_steps,
        speed_kmh=spd,
    )
