"""The city catalogue: bundled Natural Earth populated places and Hypatia's city lists.

* :func:`bundled_cities`: Hypatia's ``top-100`` / ``top-1000`` cities by estimated 2025 population
  as :class:`~skyfence.ground.places.Places` (the end points of latency studies);
* :func:`load_cities`: every bundled city with a population (:class:`Cities`, for fleets and
  population weights): Natural Earth 50m populated places (``pop_max``) merged with the Hypatia
  top-1000 list; a Hypatia city without a Natural Earth place within 30 km gets a population
  estimated from its rank (log-log interpolation over the ranks matched to Natural Earth);
* :func:`resolve_place`: a place given as ``"lat,lon"``, a name or id in a list, or a top-1000 city.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from skyfence.errors import SitesError
from skyfence.geo.earth import Ellipsoid, wgs84
from skyfence.ground.places import Places, parse_latlon
from skyfence.ground.stations import parse_ground_stations

__all__ = ["CITY_LISTS", "Cities", "bundled_cities", "load_cities", "resolve_place"]

#: bundled Hypatia city lists: name -> file in ``skyfence/data/cities``
CITY_LISTS = {
    "top-100": "hypatia_cities_by_est_2025_pop_top_100.basic.txt",
    "top-1000": "hypatia_cities_by_est_2025_pop_top_1000.basic.txt",
}
_NE_PLACES = "ne4_50m_populated_places_simple.geojson"
_MATCH_KM = 30.0  # a Hypatia city within this of a Natural Earth place is that place


def _city_file(name: str) -> str:
    return resources.files("skyfence.data").joinpath("cities").joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=8)
def bundled_cities(which: str = "top-100", *, ellipsoid: Ellipsoid = wgs84) -> Places:
    """Hypatia's city list bundled with skyfence: ``"top-100"`` or ``"top-1000"`` by estimated
    2025 population (ids 0..n-1 in rank order). Cached."""
    if which not in CITY_LISTS:
        raise SitesError(f"unknown city list {which!r}; choose one of {', '.join(CITY_LISTS)}")
    return parse_ground_stations(_city_file(CITY_LISTS[which]), CITY_LISTS[which], ellipsoid=ellipsoid)


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


@lru_cache(maxsize=1)
def load_cities() -> Cities:
    """Every bundled city with a population (see the module doc). Cached."""
    ne = json.loads(_city_file(_NE_PLACES))
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
    top = bundled_cities("top-1000")
    hl, ho = top.lat_deg, top.lon_deg
    rank = np.arange(1, len(hl) + 1, dtype=float)
    # nearest Natural Earth place of each Hypatia city (1000 x 1249, small)
    d = wgs84.great_circle_km(hl[:, None], ho[:, None], ne_lat[None, :], ne_lon[None, :])
    j = np.argmin(d, axis=1)
    matched = (d[np.arange(len(hl)), j] <= _MATCH_KM) & (ne_pop[j] > 0)
    extra = ~matched
    if matched.sum() >= 2:
        # population estimated from the rank: log-log interpolation over matched ranks (monotone)
        mr = np.log(rank[matched])
        mp = np.minimum.accumulate(np.log(ne_pop[j[matched]]))
        est = np.exp(np.interp(np.log(rank), mr, mp))
    else:  # pragma: no cover - bundled data always matches
        est = 1e6 / rank
    all_names = np.array(names + [top.names[i] for i in np.flatnonzero(extra)], dtype=object)
    return Cities(
        name=all_names,
        lat_deg=np.concatenate([ne_lat, hl[extra]]),
        lon_deg=np.concatenate([ne_lon, ho[extra]]),
        pop=np.concatenate([ne_pop, est[extra]]),
        source=np.array(["ne"] * len(ne_lat) + ["hypatia"] * int(extra.sum()), dtype=object),
    )


def resolve_place(spec: str, stations: Places | None = None, *, ellipsoid: Ellipsoid = wgs84) -> Places:
    """One place as a one-row :class:`Places`: ``"lat,lon"`` (deg), a name/id in ``stations``, or a
    city of the bundled top-1000 list. Raises SitesError for anything else."""
    latlon = parse_latlon(spec)
    if latlon is not None:
        la, lo = latlon
        return Places.from_geodetic([f"{la:g},{lo:g}"], [la], [lo], ellipsoid=ellipsoid)
    if stations is not None:
        try:
            return stations.subset([stations.index_of(spec)])
        except SitesError:
            pass
    if not re.fullmatch(r"\s*\d+\s*", spec):  # bare ids only make sense within a station list
        cities = bundled_cities("top-1000", ellipsoid=ellipsoid)
        try:
            return cities.subset([cities.index_of(spec)])
        except SitesError:
            pass
    raise SitesError(
        f"unknown place {spec!r}: give 'lat,lon' in degrees or a city of the bundled top-1000 list "
        "(e.g. 'London', 'New-York-Newark')"
    )
