"""The revisit page's view data: revisit statistics by H3 cell and named target, and the accesses.

Files (``meta.json``'s ``kind`` is ``"revisit"``): ``meta.json`` (the summary, the time window as
steps, the map extent, Natural Earth outlines and the ``[regions]`` geofences), ``cells.arrow`` (the
cells' statistics, ``cell`` renamed ``h3``), ``targets.arrow`` (the named targets' statistics) and
``accesses.arrow`` (``target`` row: named targets first, then cells; ``satellite``, ``name``,
``start_s``/``end_s`` from the start, ``max_elevation_deg``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from skyfence.viz.web import countries_geojson, extent_of, frame_table, ipc_bytes, meta_bytes

__all__ = ["revisit_view_files"]


def revisit_view_files(result) -> dict[str, bytes]:
    """The view data of a :class:`skyfence.imaging.run.RevisitResult`, file name -> bytes."""
    s = result.summary
    start = np.datetime64(str(s["start_utc"]).removesuffix("Z"), "ms")
    step_s = float(s["step_s"])
    steps = max(1, int(round(float(s["duration_s"]) / step_s)))
    cells = result.cells.rename(columns={"cell": "h3"})
    tg = result.targets
    extent = extent_of(np.concatenate([cells["lon_deg"].to_numpy(float), tg["lon_deg"].to_numpy(float)]),
                       np.concatenate([cells["lat_deg"].to_numpy(float), tg["lat_deg"].to_numpy(float)]))  # fmt: skip
    a = result.accesses
    since = lambda col: ((a[col].to_numpy("datetime64[ms]") - start) / np.timedelta64(1, "s")).astype(np.float32)  # noqa: E731
    meta = {
        "kind": "revisit",
        "summary": s,
        "time": {"start_utc": str(start) + "Z", "step_s": step_s, "steps": steps},
        "extent": extent,
        "countries": countries_geojson(extent),
        "metrics": ["revisit_mean_s", "revisit_max_s", "max_unobserved_s", "observed_fraction", "n_passes"],
    }
    accesses = pa.table({
        "target": pa.array(a["target"].to_numpy(np.int32)), "satellite": pa.array(a["satellite"].to_numpy(np.int32)),
        "name": pa.array(a["name"].astype(str).tolist(), pa.string()).dictionary_encode(),
        "start_s": pa.array(since("start_utc")), "end_s": pa.array(since("end_utc")),
        "max_elevation_deg": pa.array(a["max_elevation_deg"].to_numpy(np.float32)),
    })  # fmt: skip
    return {
        "meta.json": meta_bytes(meta),
        "cells.arrow": ipc_bytes(frame_table(cells)),
        "targets.arrow": ipc_bytes(frame_table(tg)),
        "accesses.arrow": ipc_bytes(accesses),
    }
