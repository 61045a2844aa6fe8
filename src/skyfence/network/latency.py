"""RTT between pairs of places over a constellation, step by step: :func:`latency`.

:func:`latency` resolves the places and pairs (:mod:`skyfence.network.pairs`), propagates the
elements (SGP4, TEME -> ECEF), builds the ISL topology, links stations to satellites under the
constellation's elevation mask and/or a slant-range cut-off (:mod:`skyfence.links`), routes every
pair at every step (:func:`skyfence.network.routing.route_series`) and returns a
:class:`skyfence.network.result.LatencyResult` (tables, summary, files, plot).
:func:`plan_latency` does all but the routing, for runs routed in time chunks
(:mod:`skyfence.scale.latency`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skyfence.errors import SkyfenceError
from skyfence.ground.fibre import fibre_rtt_ms
from skyfence.ground.places import Places
from skyfence.links import default_min_elevation_deg
from skyfence.network.isl import DEFAULT_GRAZING_ALT_KM, plus_grid_shells, read_isls
from skyfence.network.pairs import PairSpec, gateway_list, resolve_pairs, station_list
from skyfence.network.planes import plus_grid_isls
from skyfence.network.result import LatencyResult
from skyfence.network.routing import RouteSeries, route_series

__all__ = [
    "EARTH_ROTATIONS",
    "LatencyPlan",
    "latency",
    "plan_latency",
    "make_time_grid",
    "first_epoch_utc",
    "resolve_isls",
    "satellite_ecef_km",
]


def make_time_grid(start_utc: str | np.datetime64, duration_s: float, step_s: float) -> np.ndarray:
    """``round(duration_s / step_s)`` instants from ``start_utc`` (ISO, ``Z`` allowed), datetime64[ns] UTC."""
    if step_s <= 0:
        raise SkyfenceError(f"--step must be positive, got {step_s}")
    if duration_s <= 0:
        raise SkyfenceError(f"--duration must be positive, got {duration_s}")
    if isinstance(start_utc, str):
        text = start_utc.strip().removesuffix("Z").removesuffix("z").replace(" ", "T")
        if text.endswith("+00:00"):
            text = text[:-6]
        try:
            start = np.datetime64(text, "ns")
        except ValueError:
            raise SkyfenceError(
                f"--start {start_utc!r} is not an ISO 8601 UTC time (e.g. 2000-01-01T00:00:00Z)"
            ) from None
    else:
        start = np.datetime64(start_utc, "ns")
    n = max(1, int(round(duration_s / step_s)))
    offsets_ns = np.round(np.arange(n) * step_s * 1e9).astype(np.int64)
    return start + offsets_ns.astype("timedelta64[ns]")


def first_epoch_utc(elements) -> np.datetime64:
    """The earliest element epoch (UTC, datetime64[ns]) — the default start of a run."""
    jd = min(s.jdsatepoch + s.jdsatepochF for s in elements.satrecs)
    ns = int(round((jd - 2440587.5) * 86400.0 * 1e9 / 1000.0)) * 1000  # to microseconds
    return np.datetime64(ns, "ns")


def resolve_isls(
    isl: str | np.ndarray | None,
    elements,
    t_utc: np.ndarray | None = None,
    *,
    shift: int = 0,
    max_length_km: float | None = None,
    grazing_alt_km: float | None = DEFAULT_GRAZING_ALT_KM,
) -> np.ndarray:
    """The ISL pair list for ``isl``: ``"plus-grid"``, ``"none"``, a file path, or an ``[n, 2]`` array.

    ``plus-grid`` uses the shells' (planes, sats per plane) numbering; for a real snapshot without
    it (``elements.shells is None``), planes and slots are inferred at ``t_utc[0]`` and the
    +Grid built on them (:func:`skyfence.network.planes.infer_planes`, with the run's ISL length
    cut-off and grazing altitude); satellites it cannot place get no ISLs.
    """
    n_sat = len(elements)
    if isl is None or (isinstance(isl, str) and isl == "none"):
        return np.empty((0, 2), dtype=np.int64)
    if isinstance(isl, str) and isl == "plus-grid":
        shells = getattr(elements, "shells", None)
        if shells:
            pairs = plus_grid_shells([tuple(s) for s in shells], shift)
            if pairs.size and pairs.max() >= n_sat:
                raise SkyfenceError(
                    f"plus-grid: the shells {shells} need more than the {n_sat} satellites given"
                )
            return pairs
        if t_utc is None or len(t_utc) == 0:
            raise SkyfenceError("plus-grid for a real snapshot needs the time of the first step")
        return plus_grid_isls(
            elements, np.asarray(t_utc)[0], max_isl_length_km=max_length_km,
            grazing_alt_km=grazing_alt_km,
        )  # fmt: skip
    if isinstance(isl, (str, Path)):
        if not Path(isl).exists():
            raise SkyfenceError(
                f"--isl {str(isl)!r}: not 'plus-grid', 'none' or an existing ISL file"
            )
        return read_isls(isl, n_sat)
    pairs = np.asarray(isl, dtype=np.int64).reshape(-1, 2)
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n_sat):
        raise SkyfenceError(f"ISL pairs refer to satellites outside 0..{n_sat - 1}")
    return np.unique(np.sort(pairs, axis=1), axis=0)


EARTH_ROTATIONS = ("ut1", "utc")


def satellite_ecef_km(elements, t_utc: np.ndarray, *, earth_rotation: str = "ut1") -> np.ndarray:
    """SGP4 positions rotated TEME -> ECEF, ``[n_sat, n_time, 3]`` km (NaN where SGP4 failed).

    ``earth_rotation="ut1"`` (default, correct): GMST of UT1 (:mod:`skyfence.orbits.frames`).
    ``"utc"``: GMST evaluated at UTC, i.e. UT1 - UTC taken as 0 — what Hypatia (PyEphem) does; use
    it to reproduce Hypatia's numbers (on 2000-01-01 UT1 - UTC = +0.355 s: the Earth turns
    5.3 arcsec in that time, ~165 m at the equator, up to ~1.2e-3 ms on Hypatia's RTTs).
    """
    from skyfence.orbits.frames import teme_to_ecef
    from skyfence.orbits.propagate import propagate

    if earth_rotation not in EARTH_ROTATIONS:
        raise SkyfenceError(f"earth rotation {earth_rotation!r}: choose 'ut1' or 'utc'")
    eph = propagate(elements, t_utc)
    if earth_rotation == "ut1":
        return eph.r_ecef_km
    return teme_to_ecef(eph.r_teme_km, eph.t_utc, ut1=False)


def _check_mask(value, what: str) -> None:
    if value is not None and not np.all((-90.0 < np.asarray(value)) & (np.asarray(value) < 90.0)):
        raise SkyfenceError(f"{what} must be in (-90, 90) deg, got {value}")


@dataclass
class LatencyPlan:
    """A latency run ready to route: the elements, time grid, station list, pairs ``[P, 2]``
    (station indices), ISL topology and the ground-link/ISL keywords of
    :func:`skyfence.network.routing.route_series`. :meth:`positions` propagates any slice of the
    grid, :meth:`result` wraps routes into a :class:`LatencyResult`."""

    elements: object
    t_utc: np.ndarray
    places: Places
    pairs: np.ndarray
    isl_pairs: np.ndarray
    route_kw: dict
    earth_rotation: str
    elements_spec: str | None = None

    def __getstate__(self) -> dict:
        """Pickled with the elements' preset name or file instead of the SGP4 records (which do
        not pickle); unpickling loads them again, identical."""
        if self.elements_spec is None:
            raise SkyfenceError("a latency plan travels only with elements given as a preset or a file")
        state = dict(self.__dict__)
        state["elements"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        from skyfence.orbits.catalog import load_elements

        self.__dict__.update(state)
        self.elements = load_elements(state["elements_spec"])

    def positions(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Satellite ECEF km ``[n_sat, hi - lo, 3]`` on steps ``lo:hi`` of the grid."""
        return satellite_ecef_km(self.elements, self.t_utc[lo:hi], earth_rotation=self.earth_rotation)

    def route(self, sat_ecef_km: np.ndarray, first_step: int = 0, progress=None) -> RouteSeries:
        """:func:`route_series` of every pair over ``sat_ecef_km`` (steps from ``first_step``)."""
        return route_series(sat_ecef_km, self.isl_pairs, self.places.ecef_km, self.pairs[:, 0],
                            self.pairs[:, 1], first_step=first_step, progress=progress,
                            **self.route_kw)  # fmt: skip

    def result(self, routes: RouteSeries) -> LatencyResult:
        """The run's :class:`LatencyResult` for routes over the whole grid."""
        src, dst = self.pairs[:, 0], self.pairs[:, 1]
        lat, lon = self.places.lat_deg, self.places.lon_deg
        fibre = fibre_rtt_ms(lat[src], lon[src], lat[dst], lon[dst])
        return LatencyResult(self.t_utc, self.places, src, dst, routes, np.asarray(fibre),
                             len(self.elements))  # fmt: skip


def plan_latency(
    elements,
    pairs: PairSpec | None = None,
    *,
    stations: Places | str | Path | None = None,
    gateways: Places | str | Path | None = None,
    start_utc: str | np.datetime64 | None = None,
    duration_s: float = 60.0,
    step_s: float = 1.0,
    t_utc: np.ndarray | None = None,
    isl: str | Path | np.ndarray | None = "plus-grid",
    isl_shift: int = 0,
    max_isl_length_km: float | None = None,
    grazing_alt_km: float | None = DEFAULT_GRAZING_ALT_KM,
    max_gsl_range_km: float | None = None,
    min_elevation_deg: float | np.ndarray | None = None,
    gateway_min_elevation_deg: float | None = None,
    earth_rotation: str = "ut1",
) -> LatencyPlan:
    """Everything of a latency run but the routing: inputs checked, places, pairs, time grid,
    ISL topology and ground-link test resolved (arguments as :func:`latency`)."""
    if max_gsl_range_km is not None and max_gsl_range_km <= 0:
        raise SkyfenceError(f"max_gsl_range_km must be positive, got {max_gsl_range_km}")
    if max_isl_length_km is not None and max_isl_length_km <= 0:
        raise SkyfenceError(f"max_isl_length_km must be positive, got {max_isl_length_km}")
    _check_mask(min_elevation_deg, "min_elevation_deg")
    _check_mask(gateway_min_elevation_deg, "gateway_min_elevation_deg")
    if gateway_min_elevation_deg is not None and gateways is None:
        raise SkyfenceError("gateway_min_elevation_deg needs gateways")
    if earth_rotation not in EARTH_ROTATIONS:
        raise SkyfenceError(f"earth rotation {earth_rotation!r}: choose ut1 or utc")
    if t_utc is None and start_utc is not None:
        make_time_grid(start_utc, duration_s, step_s)  # checks the time window before any work

    places, pair_idx = resolve_pairs(pairs, station_list(stations))
    n_users = len(places)
    relay = None
    if gateways is not None:
        places = places.concat(gateway_list(gateways))
        relay = np.arange(n_users, len(places))
    spec = elements
    if isinstance(elements, (str, Path)):
        from skyfence.orbits.catalog import load_elements

        elements = load_elements(str(elements))
    if len(elements) == 0:
        raise SkyfenceError(f"elements {str(spec)!r}: no satellites")
    mask_deg = min_elevation_deg
    if min_elevation_deg is None and max_gsl_range_km is None:
        mask_deg = default_min_elevation_deg(elements)
    if gateway_min_elevation_deg is not None:
        users_deg = -90.0 if mask_deg is None else mask_deg  # -90: the range cut-off alone
        mask_deg = np.concatenate([
            np.full(n_users, users_deg), np.full(len(places) - n_users, gateway_min_elevation_deg)
        ])  # fmt: skip

    if t_utc is None:
        start = start_utc if start_utc is not None else first_epoch_utc(elements)
        t_utc = make_time_grid(start, duration_s, step_s)
    t_utc = np.asarray(t_utc, dtype="datetime64[ns]")
    pair_arr = np.asarray(pair_idx, dtype=np.int64).reshape(-1, 2)
    isl_pairs = resolve_isls(
        isl, elements, t_utc, shift=isl_shift, max_length_km=max_isl_length_km,
        grazing_alt_km=grazing_alt_km,
    )  # fmt: skip
    route_kw = {"max_gsl_range_km": max_gsl_range_km, "min_elevation_deg": mask_deg,
                "gs_up": places.up, "max_isl_length_km": max_isl_length_km,
                "grazing_alt_km": grazing_alt_km, "relay_gs": relay}  # fmt: skip
    spec = str(spec) if isinstance(spec, (str, Path)) else None
    return LatencyPlan(elements, t_utc, places, pair_arr, isl_pairs, route_kw, earth_rotation, spec)


def latency(
    elements,
    pairs: PairSpec | None = None,
    *,
    stations: Places | str | Path | None = None,
    gateways: Places | str | Path | None = None,
    start_utc: str | np.datetime64 | None = None,
    duration_s: float = 60.0,
    step_s: float = 1.0,
    t_utc: np.ndarray | None = None,
    isl: str | Path | np.ndarray | None = "plus-grid",
    isl_shift: int = 0,
    max_isl_length_km: float | None = None,
    grazing_alt_km: float | None = DEFAULT_GRAZING_ALT_KM,
    max_gsl_range_km: float | None = None,
    min_elevation_deg: float | np.ndarray | None = None,
    gateway_min_elevation_deg: float | None = None,
    earth_rotation: str = "ut1",
    sat_ecef_km: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> LatencyResult:
    """Round-trip time between pairs of places over a constellation, at every time step.

    Paths are shortest paths (by length) over ground-satellite links and inter-satellite links
    (ISLs); stations start or end paths but never relay, except ``gateways`` (bent pipe).
    RTT = 2 x path length / c, as Hypatia reports it.

    Args:
        elements: the constellation: a preset (``"starlink"``, ``"kuiper-630"``, ...), a TLE/OMM
            file (Hypatia ``tles.txt`` accepted) or an :class:`skyfence.orbits.elements.Elements`.
        pairs: ``"A,B;C,D"`` text or a file of ``src,dst`` lines, or a sequence of ``(src, dst)``
            where each is a station index (``int``) or a place (a name or id in ``stations``,
            ``"lat,lon"`` in degrees, or a city of the bundled top-1000 list);
            ``None``: every pair ``i < j`` of ``stations``.
        stations: the base station list: :class:`skyfence.ground.places.Places`, a bundled city
            list (``"top-100"``, ``"top-1000"``) or a file (Hypatia ground stations, StarPerf XML).
        gateways: bent-pipe gateways appended to the stations and allowed to relay: a bundled list
            (``"starlink"``, ...), a file or :class:`Places`.
        start_utc: first instant, ISO 8601 UTC (default: the earliest element epoch).
        duration_s, step_s: the time grid, ``round(duration_s / step_s)`` steps (s).
        t_utc: explicit instants (datetime64[ns] UTC), instead of start/duration/step.
        isl: ``"plus-grid"`` (Hypatia's +Grid from the shells' numbering; for real snapshots
            from the planes and slots inferred at the first step), ``"none"``/``None``, an ISL file, or ``[n, 2]`` pairs.
        isl_shift: +Grid cross-plane index shift.
        max_isl_length_km: ISL length cut-off, km (None: none).
        grazing_alt_km: ISLs whose segment dips below this altitude are blocked (None: no test).
        max_gsl_range_km: ground-link slant-range cut-off, km (Hypatia ``max_gsl_length_m``/1000).
        min_elevation_deg: elevation mask of the stations, deg (one value, or one per station
            of the final list when no ``gateway_min_elevation_deg`` is given). Default: the constellation's mask
            (:func:`skyfence.links.default_min_elevation_deg`) unless ``max_gsl_range_km`` is given,
            which then applies alone.
        gateway_min_elevation_deg: the gateways' own mask, deg (default: the stations' test).
        earth_rotation: ``"ut1"`` (correct) or ``"utc"`` (GMST of UTC, as Hypatia/PyEphem); see
            :func:`satellite_ecef_km`.
        sat_ecef_km: satellite positions ``[n_sat, n_time, 3]`` ECEF km on ``t_utc``, to skip
            propagation.
        progress: called with the step index after each routed step.

    Returns:
        :class:`skyfence.network.result.LatencyResult`: ``rtt_ms`` ``[T, P]``, ``table()``,
        ``summary()``, ``write()``, ``plot()``.
    """
    plan = plan_latency(
        elements, pairs, stations=stations, gateways=gateways, start_utc=start_utc,
        duration_s=duration_s, step_s=step_s, t_utc=t_utc, isl=isl, isl_shift=isl_shift,
        max_isl_length_km=max_isl_length_km, grazing_alt_km=grazing_alt_km,
        max_gsl_range_km=max_gsl_range_km, min_elevation_deg=min_elevation_deg,
        gateway_min_elevation_deg=gateway_min_elevation_deg, earth_rotation=earth_rotation,
    )  # fmt: skip
    if sat_ecef_km is None:
        sat_ecef_km = plan.positions()
    return plan.result(plan.route(sat_ecef_km, progress=progress))
