"""User terminals: the :class:`Terminals` container and the fixed-terminal reader.

The :class:`Terminals` container
--------------------------------
``ids`` (str, unique), ``groups`` (a tuple of group names per terminal; Cedar ``Group``s),
``lat_deg``/``lon_deg`` (WGS84 geodetic degrees, lon in [-180, 180]): shape ``[n]`` for fixed
terminals, ``[n, n_time]`` for mobile ones (NaN where the terminal is absent), ``alt_km`` ``[n]``
(height above the ellipsoid, default 0), ``t_utc`` (the step times for mobile terminals, else None),
``speed_kmh`` ``[n, n_time]`` (None for fixed: 0 everywhere). Positions use the names and units of
:class:`skyfence.ground.places.Places`; mobile terminals come from :mod:`skyfence.ground.tracks`,
synthetic fleets from :mod:`skyfence.ground.fleet`.

Files (:func:`read_terminals`)
------------------------------
* **CSV**: header row, columns ``id, lat, lon`` and optional ``group`` (also ``latitude``,
  ``longitude``/``lng``, ``groups``; case-insensitive; other columns ignored). Several groups in
  one cell are ``;``-separated (``"ngo;medical"``). Errors name the file and the line.
* **GeoJSON**: a FeatureCollection of ``Point`` features; ``id`` from the feature's ``id`` or
  ``properties.id``; ``group``/``groups`` from properties (a ``;``-separated string or a list).
* **Parquet**: the CSV's columns (``group`` may also be a list column). Errors name the row
  (1-based data row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import SkyfenceError
from skyfence.ground.records import (
    GROUP_KEYS,
    ID_KEYS,
    LAT_KEYS,
    LON_KEYS,
    checked_id,
    checked_number,
    pick_column,
    read_records,
    resolve_file,
)

__all__ = ["Terminals", "empty_terminals", "parse_groups", "read_terminals"]


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
    p = resolve_file(path, base_dir)
    columns, rows = read_records(p)
    where0 = str(p)
    c_id = pick_column(columns, ID_KEYS, "id", where0)
    c_lat = pick_column(columns, LAT_KEYS, "latitude", where0)
    c_lon = pick_column(columns, LON_KEYS, "longitude", where0)
    c_grp = pick_column(columns, GROUP_KEYS, "group", where0, required=False)
    dflt = parse_groups(list(default_group) if isinstance(default_group, (list, tuple))
                        else default_group)
    ids: list[str] = []
    groups: list[tuple[str, ...]] = []
    lat = np.empty(len(rows))
    lon = np.empty(len(rows))
    seen: dict[str, str] = {}
    for i, (where, r) in enumerate(rows):
        tid = checked_id(r.get(c_id), where)
        if tid in seen:
            raise SkyfenceError(f"{where}: duplicate id {tid!r} (first at {seen[tid]})")
        seen[tid] = where
        lat[i] = checked_number(r.get(c_lat), "lat", -90.0, 90.0, where)
        lon[i] = checked_number(r.get(c_lon), "lon", -180.0, 180.0, where)
        g = parse_groups(r.get(c_grp)) if c_grp is not None else ()
        ids.append(tid)
        groups.append(g or dflt)
    return Terminals(
        ids=np.array(ids, dtype=object),
        groups=tuple(groups),
        lat_deg=lat,
        lon_deg=lon,
    )
