"""Satellite positions as tables: one row per (satellite, time), in TEME, ECEF or geodetic.

:func:`positions` is ``skyfence.positions``, the library call behind ``skyfence positions``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from skyfence.errors import SkyfenceError
from skyfence.orbits.catalog import load_elements
from skyfence.orbits.frames import time_grid
from skyfence.orbits.propagate import Ephemeris, propagate

__all__ = ["FRAMES", "positions_table", "positions"]

#: the frames a table can be written in
FRAMES = ("teme", "ecef", "lla")


def positions_table(ephemeris: Ephemeris, frame: str) -> pa.Table:
    """Long Arrow table of an ephemeris: ``sat, norad_id, t_utc`` (UTC-aware), then ``x_km, y_km,
    z_km`` (``teme``/``ecef``) or ``lat_deg, lon_deg, alt_km`` (``lla``), and the SGP4 ``error``
    code (0: none; positions NaN where non-zero)."""
    frame = frame.lower()
    if frame not in FRAMES:
        raise SkyfenceError(f"frame {frame!r}: choose teme, ecef or lla")
    n_sat, n_time = ephemeris.n_sat, ephemeris.n_time
    sat = np.repeat(np.asarray(ephemeris.names, dtype=object), n_time)
    norad = pa.array(np.repeat(np.asarray(ephemeris.norad_ids, dtype=object), n_time), type=pa.int64())
    t = pa.array(np.tile(ephemeris.t_utc, n_sat), type=pa.timestamp("ns", tz="UTC"))
    cols = {"sat": pa.array(sat, type=pa.string()), "norad_id": norad, "t_utc": t}
    if frame == "teme":
        xyz = ephemeris.r_teme_km.reshape(-1, 3)
        cols.update(x_km=xyz[:, 0], y_km=xyz[:, 1], z_km=xyz[:, 2])
    elif frame == "ecef":
        xyz = ephemeris.r_ecef_km.reshape(-1, 3)
        cols.update(x_km=xyz[:, 0], y_km=xyz[:, 1], z_km=xyz[:, 2])
    else:
        lat, lon, alt = ephemeris.lla()
        cols.update(lat_deg=lat.ravel(), lon_deg=lon.ravel(), alt_km=alt.ravel())
    cols["error"] = ephemeris.error.ravel().astype(np.int8)
    return pa.table(cols)


def positions(
    elements: str | os.PathLike | Iterable[str],
    *,
    start: str = "2026-04-30T00:00:00Z",
    duration_s: float = 3600.0,
    step_s: float = 60.0,
    frame: str = "ecef",
    skip_invalid: bool = False,
) -> pd.DataFrame:
    """Positions of a constellation (preset, bundled snapshot or TLE/OMM file) propagated with SGP4
    from ``start`` (ISO 8601 UTC) every ``step_s`` seconds for ``duration_s`` seconds, in ``frame``
    (``teme``, ``ecef`` km, or ``lla``: WGS84 degrees and km), as a DataFrame (see
    :func:`positions_table` for the columns)."""
    if frame.lower() not in FRAMES:
        raise SkyfenceError(f"frame {frame!r}: choose teme, ecef or lla")
    els = load_elements(elements, skip_invalid=skip_invalid)
    eph = propagate(els, time_grid(start, duration_s, step_s))
    return positions_table(eph, frame).to_pandas()
