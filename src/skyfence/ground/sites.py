"""User terminals: fixed (CSV / GeoJSON / Parquet), synthetic fleets, mobile tracks.

The :class:`Terminals` container
--------------------------------
``ids`` (str, unique), ``groups`` (a tuple of group names per terminal; Cedar ``Group``s),
``lat_deg``/``lon_deg`` (WGS84 geodetic degrees, lon in [-180, 180]): shape ``[n]`` for fixed
terminals, ``[n, n_time]`` for mobile ones (NaN where the terminal is absent), ``alt_km`` ``[n]``
(height above the ellipsoid, default 0), ``t_utc`` (the step times for mobile terminals, else None),
``speed_kmh`` ``[n, n_time]`` (None for fixed: 0 everywhere).

Files
-----
* **CSV**: header row, columns ``id, lat, lon`` and optional ``group`` (also ``latitude``,
  ``longitude``/``lng``, ``groups``; case-insensitive; other columns ignored). Several groups in
  one cell are ``;``-separated (``"ngo;medical"``). Errors name the file and the line.
* **GeoJSON**: a FeatureCollection of ``Point`` features; ``id`` from the feature's ``id`` or
  ``properties.id``; ``group``/``groups`` from properties (a ``;``-separated string or a list).
* **Parquet**: the CSV's columns (``group`` may also be a list column). Errors name the row
  (1-based data row).
* **Tracks** (mobile): CSV or Parquet ``id, t_utc, lat, lon`` (+ optional ``group``), one row per
  fix, rows in any order, ISO 8601 UTC times (``Z`` optional).

Mobile terminals (:func:`read_tracks`, :func:`interpolate_tracks`)
-----------------------------------------------------------------
Each track is interpolated to the step times along the **great circle** between consecutive fixes,
at constant speed in time (spherical linear interpolation), exact at the fixes. ``speed_kmh`` at a
step is the great-circle length (WGS84 mean radius) of the segment the step lies in divided by its
duration; a step exactly on an inner fix takes the segment that starts there. Outside a track's time
span the terminal is **absent** by default (lat/lon NaN, speed 0: not in service, counted as
``absent``, not as an outage); ``outside="clamp"`` instead holds the first/last fix at speed 0.

Synthetic fleet (:func:`synthetic_fleet`)
-----------------------------------------
``n`` terminals within a region polygon: a ``rural_share`` uniformly over the polygon's area (on the
sphere), the rest assigned to the cities inside the polygon with probability proportional to
population and placed around them with a Gaussian spread of ``sigma_km = spread_km_per_sqrt_pop *
sqrt(pop)`` (1 km minimum; 10 km for a city of one million), redrawn until inside the polygon.
Cities: Natural Earth 50m populated places (``pop_max``) merged with the Hypatia top-1000 list; a
Hypatia city without a Natural Earth place within 30 km gets a population estimated from its rank
(log-log interpolation over the ranks matched to Natural Earth). Seeded: same inputs and seed,
same fleet.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import SkyfenceError
from skyfence.geo.earth import wgs84

__all__ = [
    "Terminals",
    "Cities",
    "parse_groups",
    "read_terminals",
    "read_tracks",
    "interpolate_tracks",
    "load_cities",
    "synthetic_fleet",
]

_ID_KEYS = ("id",)
_LAT_KEYS = ("lat", "latitude", "lat_deg")
_LON_KEYS = ("lon", "lng", "longitude", "lon_deg")
_GROUP_KEYS = ("group", "groups")
_TIME_KEYS = ("t_utc", "time", "timestamp", "t")


def parse_groups(value: Any) -> tuple[str, ...]:
    """Group names from a cell: None/"" -> (), "a;b" -> ("a", "b"), a list -> its strings.

    Names are stripped, empty names dropped, duplicates removed, order kept.
    """
    if value is None:
        return ()
    if isinstance(value, float) and np.isnan(value):
        return ()
    if isinstance(value, str):
        items = value.split(";")
    elif isinstance(value, (list, tuple, np.ndarray)):
        items = [str(v) for v in value if v is not None]
    else:
        items = str(value).split(";")
    out: list[str] = []
    for it in items:
        s = it.strip()
        if s and s not in out:
            out.append(s)
    return tuple(out)


@dataclass(frozen=True)
class Terminals:
    """User terminals (see module doc). Build with the readers/generators or directly."""

    ids: np.ndarray
    groups: tuple[tuple[str, ...], ...]
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    alt_km: np.ndarray | None = None
    t_utc: np.ndarray | None = None
    speed_kmh: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        if len(self.groups) != n or self.lat_deg.shape != self.lon_deg.shape:
            raise ValueError("ids, groups, lat_deg, lon_deg must have matching lengths")
        if self.lat_deg.shape[:1] != (n,):
            raise ValueError(f"lat_deg must be [n] or [n, n_time] with n={n}")
        if self.lat_deg.ndim == 2:
            if self.t_utc is None or len(self.t_utc) != self.lat_deg.shape[1]:
                raise ValueError("mobile terminals need t_utc matching lat_deg's second axis")
            if self.speed_kmh is not None and self.speed_kmh.shape != self.lat_deg.shape:
                raise ValueError("speed_kmh must have lat_deg's shape [n, n_time]")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def mobile(self) -> bool:
        """True when positions vary with time (``lat_deg`` is ``[n, n_time]``)."""
        return self.lat_deg.ndim == 2

    @property
    def n_time(self) -> int | None:
        """Number of steps of mobile positions (None for fixed terminals)."""
        return self.lat_deg.shape[1] if self.mobile else None

    @property
    def heights_km(self) -> np.ndarray:
        """``alt_km`` with the default 0 filled in, ``[n]``."""
        return np.zeros(len(self)) if self.alt_km is None else np.asarray(self.alt_km, float)

    def present(self, n_time: int | None = None) -> np.ndarray:
        """Bool ``[n, n_time]``: terminal exists at the step (finite position)."""
        lat, _ = self.positions(n_time)
        return np.isfinite(lat)

    def positions(self, n_time: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(lat_deg, lon_deg) as ``[n, n_time]`` (fixed terminals broadcast; read-only views)."""
        if self.mobile:
            if n_time is not None and n_time != self.n_time:
                raise ValueError(f"terminals have {self.n_time} steps, asked for {n_time}")
            return self.lat_deg, self.lon_deg
        if n_time is None:
            raise ValueError("n_time is needed to broadcast fixed terminals")
        shape = (len(self), int(n_time))
        return (
            np.broadcast_to(self.lat_deg[:, None], shape),
            np.broadcast_to(self.lon_deg[:, None], shape),
        )

    def speeds_kmh(self, n_time: int) -> np.ndarray:
        """Speed per terminal and step, ``[n, n_time]`` km/h (0 for fixed terminals)."""
        if self.speed_kmh is None:
            return np.zeros((len(self), int(n_time)))
        if self.speed_kmh.shape[1] != n_time:
            raise ValueError(f"terminals have {self.speed_kmh.shape[1]} steps, asked for {n_time}")
        return self.speed_kmh

    def ecef(self) -> tuple[np.ndarray, np.ndarray]:
        """(ground_ecef_km, ground_up) for :mod:`skyfence.links`: ``[n, 3]`` for fixed,
        ``[n, n_time, 3]`` for mobile terminals (NaN where absent)."""
        from skyfence.links import ground_points

        alt = self.heights_km
        if self.mobile:
            alt = alt[:, None]
        return ground_points(self.lat_deg, self.lon_deg, alt)

    def subset(self, index: np.ndarray | Sequence[int]) -> Terminals:
        """Terminals selected by an index array or boolean mask (order kept)."""
        idx = np.arange(len(self))[np.asarray(index)]
        return Terminals(
            ids=self.ids[idx],
            groups=tuple(self.groups[i] for i in idx.tolist()),
            lat_deg=self.lat_deg[idx],
            lon_deg=self.lon_deg[idx],
            alt_km=None if self.alt_km is None else np.asarray(self.alt_km)[idx],
            t_utc=self.t_utc,
            speed_kmh=None if self.speed_kmh is None else self.speed_kmh[idx],
        )

    def at_times(self, t_utc: np.ndarray) -> Terminals:
        """Mobile form on the step times ``t_utc`` (fixed terminals broadcast, speed 0).

        Mobile terminals must already be on the same ``t_utc``.
        """
        t = np.asarray(t_utc, dtype="datetime64[ns]")
        if self.mobile:
            if not np.array_equal(self.t_utc, t):
                raise ValueError("mobile terminals are on other step times; interpolate again")
            return self
        lat, lon = self.positions(len(t))
        return replace(
            self,
            lat_deg=np.array(lat),
            lon_deg=np.array(lon),
            t_utc=t,
            speed_kmh=np.zeros((len(self), len(t))),
        )

    @staticmethod
    def concat(parts: Sequence[Terminals], t_utc: np.ndarray | None = None) -> Terminals:
        """Join several sets; ids must stay unique. If any part is mobile (or ``t_utc`` given)
        the result is mobile on ``t_utc`` (fixed parts broadcast)."""
        parts = [p for p in parts if p is not None]
        if not parts:
            return empty_terminals()
        if t_utc is None and any(p.mobile for p in parts):
            t_utc = next(p.t_utc for p in parts if p.mobile)
        if t_utc is not None:
            parts = [p.at_times(t_utc) for p in parts]
        ids = np.concatenate([p.ids for p in parts]).astype(object)
        uniq, counts = np.unique(ids.astype(str), return_counts=True)
        if np.any(counts > 1):
            dup = uniq[counts > 1][:5].tolist()
            raise SkyfenceError(f"terminal ids are not unique across terminal sets: {dup}")
        return Terminals(
            ids=ids,
            groups=tuple(g for p in parts for g in p.groups),
            lat_deg=np.concatenate([p.lat_deg for p in parts]),
            lon_deg=np.concatenate([p.lon_deg for p in parts]),
            alt_km=np.concatenate([p.heights_km for p in parts]),
            t_utc=None if t_utc is None else np.asarray(t_utc, dtype="datetime64[ns]"),
            speed_kmh=None
            if t_utc is None
            else np.concatenate([p.speeds_kmh(len(t_utc)) for p in parts]),
        )


def empty_terminals() -> Terminals:
    """A set of zero fixed terminals."""
    return Terminals(
        ids=np.empty(0, dtype=object), groups=(), lat_deg=np.empty(0), lon_deg=np.empty(0)
    )


# --------------------------------------------------------------------------- readers


def _resolve(path: str | Path, base_dir: Path | str | None) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if not p.is_file():
        raise SkyfenceError(f"terminal file not found: {p}")
    return p


def _pick(columns: Sequence[str], keys: Sequence[str], what: str, where: str, required=True):
    low = {str(c).strip().lower(): c for c in columns}
    for k in keys:
        if k in low:
            return low[k]
    if required:
        raise SkyfenceError(
            f"{where}: no {what} column (expected one of {list(keys)}; have {list(columns)})"
        )
    return None


def _number(value: Any, what: str, lo: float, hi: float, where: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SkyfenceError(f"{where}: {what} {value!r} is not a number") from None
    if not np.isfinite(x) or not lo <= x <= hi:
        raise SkyfenceError(f"{where}: {what} {value!r} is outside [{lo:g}, {hi:g}]")
    return x


def _ident(value: Any, where: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        raise SkyfenceError(f"{where}: empty id")
    s = str(value).strip()
    if not s:
        raise SkyfenceError(f"{where}: empty id")
    return s


def _records_csv(p: Path) -> tuple[list[str], list[tuple[str, dict]]]:
    """(columns, [(where, row dict)]) of a CSV file with a header row."""
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                raise SkyfenceError(f"{p}: empty file (expected a header row)") from None
            rows = []
            for row in reader:
                line = reader.line_num
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise SkyfenceError(
                        f"{p}, line {line}: {len(row)} fields, header has {len(header)}"
                    )
                rows.append((f"{p}, line {line}", dict(zip(header, row, strict=True))))
    except UnicodeDecodeError as exc:
        raise SkyfenceError(f"{p}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise SkyfenceError(f"{p}: malformed CSV ({exc})") from None
    return header, rows


def _records_parquet(p: Path) -> tuple[list[str], list[tuple[str, dict]]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except Exception as exc:  # pyarrow raises several types
        raise SkyfenceError(f"{p}: cannot read Parquet ({exc})") from None
    cols = table.column_names
    data = table.to_pylist()
    return cols, [(f"{p}, row {i + 1}", r) for i, r in enumerate(data)]


def _records_geojson(p: Path) -> tuple[list[str], list[tuple[str, dict]]]:
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SkyfenceError(f"{p}: not valid JSON ({exc})") from None
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        feats = [obj]
    elif isinstance(obj, dict) and obj.get("type") == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list):
            raise SkyfenceError(f"{p}: FeatureCollection without a 'features' list")
    else:
        raise SkyfenceError(f"{p}: expected a GeoJSON FeatureCollection of Point features")
    rows = []
    for i, f in enumerate(feats):
        where = f"{p}, feature {i}"
        if not isinstance(f, dict):
            raise SkyfenceError(f"{where}: not a GeoJSON Feature object")
        geom = f.get("geometry") or {}
        props = f.get("properties") or {}
        if geom.get("type") != "Point":
            raise SkyfenceError(f"{where}: geometry must be a Point, got {geom.get('type')!r}")
        coords = geom.get("coordinates")
        if not isinstance(coords, list) or len(coords) < 2:
            raise SkyfenceError(f"{where}: Point coordinates must be [lon, lat]")
        rec = {str(k).lower(): v for k, v in props.items()}
        if "id" not in rec:
            rec["id"] = f.get("id")
        rec["lon"], rec["lat"] = coords[0], coords[1]
        rows.append((where, rec))
    return ["id", "lat", "lon", "group", "groups"], rows


def _records(p: Path) -> tuple[list[str], list[tuple[str, dict]]]:
    suffix = p.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _records_csv(p)
    if suffix in (".parquet", ".pq"):
        return _records_parquet(p)
    if suffix in (".geojson", ".json"):
        return _records_geojson(p)
    raise SkyfenceError(f"{p}: unknown terminal file type {suffix!r} (use .csv, .geojson, .parquet)")


def read_terminals(
    path: str | Path,
    *,
    base_dir: str | Path | None = None,
    default_group: str | Sequence[str] | None = None,
) -> Terminals:
    """Fixed terminals from a CSV / GeoJSON / Parquet file (format by suffix; see module doc).

    ``base_dir``: folder that relative paths resolve against (the scenario's). ``default_group``:
    groups for terminals whose group is empty. Raises :class:`SkyfenceError` naming the file and
    the line/row/feature for a missing column, empty or duplicate id, bad or out-of-range lat/lon.
    """
    p = _resolve(path, base_dir)
    columns, rows = _records(p)
    where0 = str(p)
    c_id = _pick(columns, _ID_KEYS, "id", where0)
    c_lat = _pick(columns, _LAT_KEYS, "latitude", where0)
    c_lon = _pick(columns, _LON_KEYS, "longitude", where0)
    c_grp = _pick(columns, _GROUP_KEYS, "group", where0, required=False)
    dflt = parse_groups(list(default_group) if isinstance(default_group, (list, tuple))
                        else default_group)
    ids: list[str] = []
    groups: list[tuple[str, ...]] = []
    lat = np.empty(len(rows))
    lon = np.empty(len(rows))
    seen: dict[str, str] = {}
    for i, (where, r) in enumerate(rows):
        tid = _ident(r.get(c_id), where)
        if tid in seen:
            raise SkyfenceError(f"{where}: duplicate id {tid!r} (first at {seen[tid]})")
        seen[tid] = where
        lat[i] = _number(r.get(c_lat), "lat", -90.0, 90.0, where)
        lon[i] = _number(r.get(c_lon), "lon", -180.0, 180.0, where)
        g = parse_groups(r.get(c_grp)) if c_grp is not None else ()
        ids.append(tid)
        groups.append(g or dflt)
    return Terminals(
        ids=np.array(ids, dtype=object),
        groups=tuple(groups),
        lat_deg=lat,
        lon_deg=lon,
    )


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
    """Interpolate fixes to step times along great circles (see module doc).

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
    p = _resolve(path, base_dir)
    if p.suffix.lower() in (".geojson", ".json"):
        raise SkyfenceError(f"{p}: tracks must be CSV or Parquet (id, t_utc, lat, lon)")
    columns, rows = _records(p)
    where0 = str(p)
    c_id = _pick(columns, _ID_KEYS, "id", where0)
    c_t = _pick(columns, _TIME_KEYS, "t_utc", where0)
    c_lat = _pick(columns, _LAT_KEYS, "latitude", where0)
    c_lon = _pick(columns, _LON_KEYS, "longitude", where0)
    c_grp = _pick(columns, _GROUP_KEYS, "group", where0, required=False)
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
        tid = _ident(r.get(c_id), where)
        t = _parse_time(r.get(c_t), where)
        key = (tid, int(t.astype(np.int64)))
        if key in seen:
            raise SkyfenceError(f"{where}: second fix of {tid!r} at {r.get(c_t)} "
                                f"(first at {seen[key]})")
        seen[key] = where
        lat[i] = _number(r.get(c_lat), "lat", -90.0, 90.0, where)
        lon[i] = _number(r.get(c_lon), "lon", -180.0, 180.0, where)
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


# --------------------------------------------------------------------------- cities and fleets


@dataclass(frozen=True)
class Cities:
    """Populated places: ``name``, ``lat_deg``, ``lon_deg``, ``pop`` (people), ``source``
    (``"ne"`` Natural Earth pop_max, ``"hypatia"`` rank-estimated)."""

    name: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    pop: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.name)


def _data_file(*parts: str):
    return resources.files("skyfence").joinpath("data", *parts)


@lru_cache(maxsize=1)
def load_cities() -> Cities:
    """Bundled cities: Natural Earth 50m populated places merged with Hypatia's top 1000 (see
    module doc). Cached."""
    ne = json.loads(_data_file("cities", "ne4_50m_populated_places_simple.geojson").read_text("utf-8"))
    names, lats, lons, pops = [], [], [], []
    for f in ne["features"]:
        pr = f["properties"]
        lon, lat = f["geometry"]["coordinates"][:2]
        pop = pr.get("pop_max") or 0
        names.append(str(pr.get("name") or pr.get("nameascii") or ""))
        lats.append(float(lat))
        lons.append(float(lon))
        pops.append(max(float(pop), 0.0))
    ne_lat, ne_lon, ne_pop = np.array(lats), np.array(lons), np.array(pops)
    h_names, h_lat, h_lon = [], [], []
    text = _data_file("cities", "hypatia_cities_by_est_2025_pop_top_1000.basic.txt").read_text("utf-8")
    for line in text.splitlines():
        parts = line.strip().split(",")
        if len(parts) < 4:
            continue
        h_names.append(parts[1])
        h_lat.append(float(parts[2]))
        h_lon.append(float(parts[3]))
    hl, ho = np.array(h_lat), np.array(h_lon)
    rank = np.arange(1, len(hl) + 1, dtype=float)
    # nearest Natural Earth place of each Hypatia city (1000 x 1249, small)
    d = wgs84.great_circle_km(hl[:, None], ho[:, None], ne_lat[None, :], ne_lon[None, :])
    j = np.argmin(d, axis=1)
    matched = (d[np.arange(len(hl)), j] <= 30.0) & (ne_pop[j] > 0)
    extra = ~matched
    if matched.sum() >= 2:
        # population estimated from the rank: log-log interpolation over matched ranks (monotone)
        mr = np.log(rank[matched])
        mp = np.minimum.accumulate(np.log(ne_pop[j[matched]]))
        est = np.exp(np.interp(np.log(rank), mr, mp))
    else:  # pragma: no cover - bundled data always matches
        est = 1e6 / rank
    all_names = np.array(names + [h_names[i] for i in np.flatnonzero(extra)], dtype=object)
    return Cities(
        name=all_names,
        lat_deg=np.concatenate([ne_lat, hl[extra]]),
        lon_deg=np.concatenate([ne_lon, ho[extra]]),
        pop=np.concatenate([ne_pop, est[extra]]),
        source=np.array(["ne"] * len(ne_lat) + ["hypatia"] * int(extra.sum()), dtype=object),
    )


def _polygons(geom) -> list:
    from shapely.geometry import MultiPolygon, Polygon

    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):
        return [g for sub in geom.geoms for g in _polygons(sub)]
    return []


def _uniform_in(geom, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform over the sphere's area within a lon/lat polygon (rejection sampling
    from each part's lon/lat box, parts chosen by box area; parts may be split at 180 deg)."""
    import shapely

    polys = [p for p in _polygons(geom) if not p.is_empty and p.area > 0]
    if not polys:
        raise SkyfenceError("synthetic fleet: region has no area")
    boxes = np.array([p.bounds for p in polys])  # minx, miny, maxx, maxy
    s0, s1 = np.sin(np.radians(boxes[:, 1])), np.sin(np.radians(boxes[:, 3]))
    w = (boxes[:, 2] - boxes[:, 0]) * (s1 - s0)
    w = w / w.sum()
    lat_out = np.empty(0)
    lon_out = np.empty(0)
    for _ in range(1000):
        need = n - len(lat_out)
        if need <= 0:
            break
        m = max(4 * need, 64)
        part = rng.choice(len(polys), size=m, p=w)
        lon = boxes[part, 0] + rng.random(m) * (boxes[part, 2] - boxes[part, 0])
        lat = np.degrees(np.arcsin(s0[part] + rng.random(m) * (s1[part] - s0[part])))
        ok = np.zeros(m, dtype=bool)
        for k, poly in enumerate(polys):
            sel = part == k
            if sel.any():
                ok[sel] = shapely.contains_xy(poly, lon[sel], lat[sel])
        lat_out = np.concatenate([lat_out, lat[ok]])
        lon_out = np.concatenate([lon_out, lon[ok]])
    if len(lat_out) < n:  # pragma: no cover - only for degenerate slivers
        raise SkyfenceError("synthetic fleet: could not sample points inside the region")
    return lat_out[:n], lon_out[:n]


def synthetic_fleet(
    n: int,
    region,
    *,
    seed: int = 0,
    rural_share: float = 0.1,
    group: str | Sequence[str] = "fleet",
    id_prefix: str = "T",
    spread_km_per_sqrt_pop: float = 0.01,
    cities: Cities | None = None,
) -> Terminals:
    """``n`` fixed terminals spread by city population within ``region`` (see module doc).

    ``region``: shapely (Multi)Polygon in lon/lat degrees (e.g. from
    ``skyfence.geo.regions.resolve_region``). ``rural_share``: fraction placed uniformly over the
    area (all of them if no city lies inside). ``group``: group name(s) of every terminal.
    ``id_prefix``: ids are ``f"{id_prefix}{i:06d}"``. Same arguments, same fleet.
    """
    import shapely

    n = int(n)
    if n < 0:
        raise SkyfenceError(f"synthetic fleet: n must be >= 0, got {n}")
    if not 0.0 <= rural_share <= 1.0:
        raise SkyfenceError(f"synthetic fleet: rural_share must be in [0, 1], got {rural_share}")
    rng = np.random.default_rng(seed)
    c = cities if cities is not None else load_cities()
    inside = shapely.contains_xy(region, c.lon_deg, c.lat_deg) & (c.pop > 0)
    c_lat, c_lon, c_pop = c.lat_deg[inside], c.lon_deg[inside], c.pop[inside]
    n_rural = n if len(c_pop) == 0 else int(round(n * rural_share))
    n_urban = n - n_rural
    lat = np.empty(n)
    lon = np.empty(n)
    if n_urban:
        city = rng.choice(len(c_pop), size=n_urban, p=c_pop / c_pop.sum())
        sigma = np.maximum(spread_km_per_sqrt_pop * np.sqrt(c_pop[city]), 1.0)
        u_lat = np.empty(n_urban)
        u_lon = np.empty(n_urban)
        todo = np.arange(n_urban)
        for _ in range(50):
            if len(todo) == 0:
                break
            ci = city[todo]
            dn = rng.normal(size=len(todo)) * sigma[todo]
            de = rng.normal(size=len(todo)) * sigma[todo]
            km_per_deg = np.pi * wgs84.mean_radius_km / 180.0
            la = np.clip(c_lat[ci] + dn / km_per_deg, -89.999, 89.999)
            lo = c_lon[ci] + de / (km_per_deg * np.cos(np.radians(la)))
            lo = (lo + 180.0) % 360.0 - 180.0
            ok = shapely.contains_xy(region, lo, la)
            u_lat[todo[ok]] = la[ok]
            u_lon[todo[ok]] = lo[ok]
            todo = todo[~ok]
        # the few still outside after 50 draws sit on their city (which is inside)
        u_lat[todo] = c_lat[city[todo]]
        u_lon[todo] = c_lon[city[todo]]
        lat[:n_urban], lon[:n_urban] = u_lat, u_lon
    if n_rural:
        lat[n_urban:], lon[n_urban:] = _uniform_in(region, n_rural, rng)
    g = parse_groups(list(group) if isinstance(group, (list, tuple)) else group)
    return Terminals(
        ids=np.array([f"{id_prefix}{i:06d}" for i in range(n)], dtype=object),
        groups=(g,) * n,
        lat_deg=lat,
        lon_deg=lon,
    )
