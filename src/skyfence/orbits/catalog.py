"""Named element sets: the bundled real snapshots and the Walker presets, and :func:`load_elements`,
which accepts either name or any TLE / OMM / Hypatia file path.

A selection inside a set follows a colon: ``"active-2025-10-07:SKYSAT*,FLOCK*,43797"`` keeps the
satellites whose name matches one of the glob patterns (case-insensitive, :mod:`fnmatch`) or whose
NORAD id is one of the numbers (see :func:`select`)."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from importlib.resources import files
from pathlib import Path

from skyfence.errors import ElementsError
from skyfence.orbits.elements import Elements, load_file
from skyfence.orbits.shells import PRESETS, preset_elements

__all__ = ["SNAPSHOTS", "data_path", "available_presets", "load_elements", "select"]

#: bundled real snapshots, by name (see data/SOURCES.md)
SNAPSHOTS: dict[str, str] = {
    "starlink": "tle/starlink_gp_2026-04-30.tle",
    "starlink-2026-04-30": "tle/starlink_gp_2026-04-30.tle",
    "active-2025-10-07": "tle/active_gp_2025-10-07.tle",
    "oneweb-2026-07-16": "tle/oneweb_gp_2026-07-16.tle",
    "starlink-omm-2024-05-20": "omm/starlink_omm_2024-05-20.json",
}


def data_path(relative: str) -> Path:
    """Path of a bundled data file (``relative`` to ``skyfence/data``)."""
    return Path(str(files("skyfence") / "data" / relative))


def available_presets() -> list[str]:
    """Names accepted by :func:`load_elements` besides file paths."""
    return sorted(set(SNAPSHOTS) | set(PRESETS))


def load_elements(
    spec: str | os.PathLike | Iterable[str],
    *,
    skip_invalid: bool = False,
    epoch_utc: object | None = None,
) -> Elements:
    """Load elements from a preset, a bundled snapshot name, or a file path.

    ``spec`` may also be a list of these (concatenated). ``epoch_utc`` sets the epoch of
    generated Walker shells (default: see :data:`skyfence.orbits.shells.DEFAULT_EPOCH`).
    """
    if not isinstance(spec, (str, os.PathLike)):
        parts = [load_elements(s, skip_invalid=skip_invalid, epoch_utc=epoch_utc) for s in spec]
        if not parts:
            raise ElementsError("empty list of elements")
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out
    key = str(spec).strip()
    base, sep, selection = key.partition(":")
    if sep and not Path(key).exists() and selection.strip():
        els = load_elements(base, skip_invalid=skip_invalid, epoch_utc=epoch_utc)
        items = [x.strip() for x in selection.split(",") if x.strip()]
        ids = [int(x) for x in items if x.isdigit()]
        patterns = [x for x in items if not x.isdigit()]
        out = select(els, name_pattern=patterns or None, norad_ids=ids or None)
        if len(out) == 0:
            raise ElementsError(f"{key!r}: no satellite of {base!r} matches {selection!r}")
        out.source = key
        return out
    low = key.lower()
    if low in SNAPSHOTS:
        els = load_file(data_path(SNAPSHOTS[low]), skip_invalid=skip_invalid)
        els.source = low
        return els
    if low in PRESETS:
        return preset_elements(low, epoch_utc=epoch_utc)
    p = Path(key)
    if p.exists():
        return load_file(p, skip_invalid=skip_invalid)
    import difflib

    close = difflib.get_close_matches(low, available_presets(), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; presets: {', '.join(available_presets())}"
    raise ElementsError(f"{key!r} is neither an elements file nor a preset{hint}")


def select(
    elements: Elements,
    *,
    name_pattern: str | Sequence[str] | None = None,
    norad_ids: Iterable[int] | None = None,
) -> Elements:
    """The satellites of ``elements`` whose name matches one of the glob patterns ``name_pattern``
    (case-insensitive, :func:`fnmatch.fnmatchcase` on upper-cased text) or whose NORAD id is in
    ``norad_ids``; the union when both are given. Catalogue order is kept."""
    if name_pattern is None and norad_ids is None:
        raise ElementsError("select: give name_pattern and/or norad_ids")
    patterns = [name_pattern] if isinstance(name_pattern, str) else list(name_pattern or [])
    pats = [p.strip().upper() for p in patterns]
    ids = {int(i) for i in (norad_ids or [])}
    keep = [
        i
        for i, (name, nid) in enumerate(zip(elements.names, elements.norad_ids, strict=True))
        if (nid is not None and int(nid) in ids)
        or any(fnmatch.fnmatchcase(name.strip().upper(), p) for p in pats)
    ]
    return elements.subset(keep)
