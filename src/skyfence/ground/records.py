"""Tabular terminal files: rows of CSV, Parquet and GeoJSON Point files with the place they came from.

:func:`read_records` gives ``(columns, [(where, row)])`` for a file chosen by suffix, where
``where`` names the file and the line (CSV), row (Parquet, 1-based data row) or feature (GeoJSON)
so every later error can point at it. GeoJSON Points become rows with ``id``, ``lat``, ``lon`` and
their lower-cased properties. Columns are picked case-insensitively from lists of accepted names.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import SkyfenceError

__all__ = [
    "ID_KEYS",
    "LAT_KEYS",
    "LON_KEYS",
    "GROUP_KEYS",
    "TIME_KEYS",
    "resolve_file",
    "read_records",
    "pick_column",
    "checked_number",
    "checked_id",
]

#: accepted column names, lower case
ID_KEYS = ("id",)
LAT_KEYS = ("lat", "latitude", "lat_deg")
LON_KEYS = ("lon", "lng", "longitude", "lon_deg")
GROUP_KEYS = ("group", "groups")
TIME_KEYS = ("t_utc", "time", "timestamp", "t")


def resolve_file(path: str | Path, base_dir: Path | str | None) -> Path:
    """``path`` (relative ones against ``base_dir``); SkyfenceError if it is not a file."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if not p.is_file():
        raise SkyfenceError(f"terminal file not found: {p}")
    return p


def pick_column(columns: Sequence[str], keys: Sequence[str], what: str, where: str, required: bool = True):
    """The first of ``columns`` whose lower-cased name is in ``keys`` (None if optional and absent)."""
    low = {str(c).strip().lower(): c for c in columns}
    for k in keys:
        if k in low:
            return low[k]
    if required:
        raise SkyfenceError(
            f"{where}: no {what} column (expected one of {list(keys)}; have {list(columns)})"
        )
    return None


def checked_number(value: Any, what: str, lo: float, hi: float, where: str) -> float:
    """``value`` as a finite float in [lo, hi], else SkyfenceError naming ``where``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SkyfenceError(f"{where}: {what} {value!r} is not a number") from None
    if not np.isfinite(x) or not lo <= x <= hi:
        raise SkyfenceError(f"{where}: {what} {value!r} is outside [{lo:g}, {hi:g}]")
    return x


def checked_id(value: Any, where: str) -> str:
    """``value`` as a non-empty stripped id string, else SkyfenceError naming ``where``."""
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


def read_records(p: Path) -> tuple[list[str], list[tuple[str, dict]]]:
    """``(columns, [(where, row dict)])`` of a .csv/.txt, .parquet/.pq or .geojson/.json file."""
    suffix = p.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _records_csv(p)
    if suffix in (".parquet", ".pq"):
        return _records_parquet(p)
    if suffix in (".geojson", ".json"):
        return _records_geojson(p)
    raise SkyfenceError(f"{p}: unknown terminal file type {suffix!r} (use .csv, .geojson, .parquet)")
