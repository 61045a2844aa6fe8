"""The places and pairs of a latency run: station lists, place names, ``lat,lon`` and pair texts.

A pair names its two places by station index (``int``), by name or id within the station list,
by ``"lat,lon"`` in degrees, or by a city of the bundled top-1000 list; places not in the list
are appended to it (each once).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from pathlib import Path

from skyfence.errors import SitesError, SkyfenceError
from skyfence.ground.cities import CITY_LISTS, bundled_cities, resolve_place
from skyfence.ground.places import Places
from skyfence.ground.stations import GATEWAY_LISTS, bundled_gateways, read_ground_stations

__all__ = ["PairSpec", "station_list", "gateway_list", "parse_pairs_text", "resolve_pairs"]

#: pairs as ``"A,B;C,D"`` text, a file of ``src,dst`` lines, or ``(src, dst)`` indices / places
PairSpec = str | Path | Sequence[tuple[int | str, int | str]]


def station_list(stations: Places | str | Path | None) -> Places | None:
    """A station list: as given, a bundled city list (``"top-100"``, ``"top-1000"``), or a file
    (Hypatia ``ground_stations.txt`` basic/extended, or StarPerf XML)."""
    if stations is None or isinstance(stations, Places):
        return stations
    if isinstance(stations, str) and stations in CITY_LISTS:
        return bundled_cities(stations)
    return read_ground_stations(stations)


def gateway_list(gateways: Places | str | Path) -> Places:
    """Gateways: as given, a bundled list (``"starlink"``, ...), or a file."""
    if isinstance(gateways, Places):
        return gateways
    if isinstance(gateways, str) and gateways in GATEWAY_LISTS:
        return bundled_gateways(gateways)
    return read_ground_stations(gateways)


def parse_pairs_text(text: str, source: str) -> list[tuple[str, str]]:
    """``src,dst`` pairs separated by ``;`` or new lines (``#`` comments; ``lat,lon,lat,lon`` too)."""
    out = []
    chunks = [c for c in re.split(r"[;\n]", text) if c.strip() and not c.strip().startswith("#")]
    for chunk in chunks:
        parts = chunk.split(",")
        if len(parts) == 4:  # "lat,lon,lat,lon"
            parts = [f"{parts[0]},{parts[1]}", f"{parts[2]},{parts[3]}"]
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise SkyfenceError(f"{source}: pair {chunk.strip()!r} is not 'SRC,DST' (names or ids)")
        out.append((parts[0].strip(), parts[1].strip()))
    if not out:
        raise SkyfenceError(f"{source}: no pairs given")
    return out


class _Places:
    """A station list that grows as places are named."""

    def __init__(self, base: Places | None) -> None:
        self.stations = base

    def index(self, spec: int | str) -> int:
        if not isinstance(spec, str):
            i = int(spec)
            if self.stations is None or not 0 <= i < len(self.stations):
                raise SkyfenceError("a pair refers to a ground station outside the list")
            return i
        spec = spec.strip()
        if not spec:
            raise SkyfenceError("an empty place name in the pairs")
        if self.stations is not None:
            try:
                return self.stations.index_of(spec)
            except SitesError:
                pass
        one = resolve_place(spec, None)
        if self.stations is None:
            self.stations = one
            return 0
        if one.names[0] in self.stations.names:  # the same place named twice
            return self.stations.names.index(one.names[0])
        self.stations = self.stations.concat(one)
        return len(self.stations) - 1


def resolve_pairs(
    pairs: PairSpec | None, stations: Places | None
) -> tuple[Places, list[tuple[int, int]]]:
    """The station list (``stations`` plus the places named) and the pairs as index pairs.

    ``pairs=None`` routes every pair ``i < j`` of ``stations``. A string is a file of pairs when
    such a file exists, else pair text (see :func:`parse_pairs_text`).
    """
    if pairs is None:
        if stations is None or len(stations) < 2:
            raise SkyfenceError("every pair needs a station list with at least two stations")
        return stations, list(itertools.combinations(range(len(stations)), 2))
    if isinstance(pairs, Path) or (isinstance(pairs, str) and Path(pairs).is_file()):
        named = parse_pairs_text(Path(pairs).read_text(encoding="utf-8"), str(pairs))
    elif isinstance(pairs, str):
        named = parse_pairs_text(pairs, "--pairs")
    else:
        named = [tuple(p) for p in pairs]
        if not named:
            raise SkyfenceError("no pairs of places to route")
    places = _Places(stations)
    idx = []
    for a, b in named:
        i, j = places.index(a), places.index(b)
        if i == j:
            raise SkyfenceError(f"pair {a!r},{b!r}: source and destination are the same place")
        idx.append((i, j))
    return places.stations, idx
