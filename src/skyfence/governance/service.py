"""Service decisions with receipts (``GET /service``) and the offline receipt verifier.

Decision for terminal T at instant `at`
---------------------------------------
1. T unknown to the registry: ``denied`` ("not registered": only registered terminals are served).
2. Coverage: SGP4 positions of every satellite of the elements set (default the bundled
   ``starlink`` snapshot) at `at`, elevation of each above T's own coordinates
   (:func:`skyfence.links.elevations_deg`, the visibility engine's test); nothing at or above the
   constellation's default mask (:func:`skyfence.links.default_min_elevation_deg`): ``uncovered``.
3. T not active (registered or suspended): ``denied`` with its status as the reason.
0. `at` more than `MAX_ELEMENTS_AGE_DAYS` from the elements' epochs: refused (`InvalidError`,
   HTTP 422), never signed: SGP4 positions that far from the epochs mean nothing. A database whose
   tables disagree with its log: refused (`StateMismatchError`, HTTP 503).
4. The policy set in force at `at` (`policies.policy_at`, from the log's enactments): none ->
   ``served`` (no policy: what is
   covered is served); otherwise Cedar decides (principal ``Terminal`` in its groups, resource the
   terminal's H3 ``Cell`` at the server's resolution, in the policy's named regions that hold it,
   context time and speed 0), and the reason names the deciding policy (``file:line (@id)``) and
   the regions.

The receipt (format and offline verification: :mod:`skyfence.governance.receipts`) records
the elevation mask and H3 resolution used. `at` defaults to the current whole second.

Speed (one decision takes about 0.3 ms of CPU once warm; nothing changes the answer)
-------------------------------------------------------------------------------------
* The governance state, checkpoints and terminals come from a `skyfence.governance.view.LogView`,
  kept while the database is unchanged (any commit, a direct table edit included, drops it and
  the tables are checked against the log again before the next decision).
* Satellite ECEF positions are computed once per instant and elements set (SGP4 for every
  satellite), with a KD-tree of them (for "now", the next second's in a background thread). A
  terminal's elevations are computed (by the visibility engine) only for the satellites that
  can be at or above the mask from somewhere in its 1-degree square (kept per square and
  instant: within the slant range the mask allows, the mask less the largest deflection of the
  vertical, from the square's centre plus more than the square's half diagonal, so no satellite
  at or above the mask is left out); when none of them reaches the mask, for all satellites
  (the highest elevation is reported).
* Cedar's answer is kept per policy hash, terminal, groups, cell and resolution, and per instant
  only when the policy reads ``context.time``.
* The receipt's fixed part (checkpoints, log key, mask, the policy block with its proofs) is a
  `ReceiptTemplate` kept per view, elements, resolution and policy in force: per decision only
  the instant, terminal, coverage, decision and reason are serialised and the log key signs (the
  same bytes as serialising the whole receipt; Ed25519 signatures are deterministic).
* ``SKYFENCE_SERVICE_CACHE=off`` (`CACHING`) turns all of this off: the same answers, each from
  scratch (what the benchmark compares against, and the tests).

Size: over 400 lines because the fast paths (positions per instant and square, receipt templates,
the uncached switch) sit beside the decision they must not change.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import math
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from skyfence.errors import InvalidError
from skyfence.geo.cells import cell_of, cells_to_str
from skyfence.geo.earth import wgs84
from skyfence.governance.evaluate import cedar_decide
from skyfence.governance.ledger import Ledger
from skyfence.governance.log.checkpoint import parse_checkpoint
from skyfence.governance.policies import policy_at
from skyfence.governance.receipts import RECEIPT_VERSION, ReceiptTemplate, policy_block
from skyfence.governance.rules.canonical import canonical_json, iso_utc, parse_utc
from skyfence.governance.rules.in_force import policy_in_force
from skyfence.governance.view import LogView, StaleView, cached_view, open_view
from skyfence.links import default_min_elevation_deg
from skyfence.links import elevations_deg as link_elevations_deg
from skyfence.links.geometry import (
    GroundFrame,
    frame_elevations_deg,
    ground_frame,
    slant_range_bound_km,
)
from skyfence.orbits.catalog import load_elements
from skyfence.orbits.frames import julian_date_utc, teme_to_ecef
from skyfence.policy.cedar import ServicePolicy

__all__ = ["CACHING", "DEFAULT_H3_RESOLUTION", "MAX_ELEMENTS_AGE_DAYS", "elements_valid_range",
           "elevations_deg", "visible_satellites", "decide_service", "service_receipt_json"]

CACHING = os.environ.get("SKYFENCE_SERVICE_CACHE", "on").strip().lower() not in (
    "0", "off", "false", "no")
"""Whether decisions use what is kept between requests (the checked governance view, satellite
positions per instant, Cedar answers, receipt templates). ``SKYFENCE_SERVICE_CACHE=off`` in the
server's environment: every request reads and checks the tables in a session of its own, runs
SGP4 for every satellite, Cedar and the receipt's serialisation anew (the same answers, slower:
the benchmark's "before")."""

MAX_ELEMENTS_AGE_DAYS = 366
"""Decisions are made only for instants within this many days of the elements' epochs (before
the oldest, after the newest): beyond that, SGP4 positions say nothing about real coverage."""

DEFAULT_H3_RESOLUTION = 5
"""H3 resolution of the served cells unless the server is given another (Starlink publishes
availability as resolution-5 cells)."""

#: the largest angle (deg) between the geodetic and the geocentric vertical on WGS84 (0.1924),
#: rounded up: a satellite at geodetic elevation e is at geocentric elevation >= e - this
_MAX_DEFLECTION_DEG = 0.2
#: satellites beyond this times the median geocentric radius are kept out of the KD-tree
_FAR_FACTOR = 1.1
#: slack on the KD-tree search radius, km (the exact elevations decide)
_SLACK_KM = 1.0
#: candidate satellites are searched per square of this many degrees of latitude and longitude
_BIN_DEG = 1.0
#: more than the largest distance (km) from a square's centre to a point of it at altitude 0: half
#: its diagonal is under 0.5 * sqrt(2) deg * 111.7 km/deg (the largest WGS84 meridian degree) = 79
_BIN_REACH_KM = 100.0
#: squares kept per instant
_MAX_BINS = 256


@functools.lru_cache(maxsize=4)
def _satrec_array(name: str):
    """The elements' vectorised SGP4 propagator (sgp4.SatrecArray), built once per elements set."""
    return load_elements(name).satrec_array()


class _Sky:
    """ECEF positions [n_sat, 3] km of every satellite at one instant (those SGP4 fails for at the
    Earth's centre, below every horizon), in the elements' order, with a KD-tree of those up to
    `_FAR_FACTOR` times the median geocentric radius; the few beyond it (orbits SGP4 carries far
    past their epochs, high outliers) are always candidates."""

    def __init__(self, r_km: np.ndarray):
        self.r_km = r_km
        radius = np.linalg.norm(r_km, axis=1)
        cut = _FAR_FACTOR * float(np.median(radius)) if len(radius) else 0.0
        near = radius <= cut
        self.tree_r_km = np.ascontiguousarray(r_km[near])
        self.far_r_km = np.ascontiguousarray(r_km[~near])
        self.tree = cKDTree(self.tree_r_km)
        self.r_max_km = float(radius[near].max()) if near.any() else 0.0
        self._bins: dict[tuple[float, int, int], np.ndarray] = {}

    def candidates_km(self, lat_deg: float, lon_deg: float,
                      min_elevation_deg: float) -> np.ndarray | None:
        """ECEF positions [m, 3] km (in no particular order) of every satellite that can be at or
        above `min_elevation_deg` from any ground point (altitude 0) of the `_BIN_DEG` square
        holding (`lat_deg`, `lon_deg`) (a superset: the KD-tree search from the square's centre
        reaches `_BIN_REACH_KM` further); None when the mask is too low to prune. Kept per
        square (up to `_MAX_BINS` of them)."""
        key = (min_elevation_deg, math.floor(lat_deg / _BIN_DEG), math.floor(lon_deg / _BIN_DEG))
        near = self._bins.get(key)
        if near is not None:
            return near
        e_bound = min_elevation_deg - _MAX_DEFLECTION_DEG - 1e-6
        if e_bound < 0.0 or not len(self.r_km):
            return None
        radius = _SLACK_KM + _BIN_REACH_KM + \
            slant_range_bound_km(self.r_max_km, wgs84.semi_minor_km, e_bound)
        centre = _frame(min(key[1] * _BIN_DEG, 90.0 - _BIN_DEG) + _BIN_DEG / 2,
                        key[2] * _BIN_DEG + _BIN_DEG / 2).ecef_km
        near = self.tree_r_km[self.tree.query_ball_point(centre, r=radius)]
        if len(self.far_r_km):
            near = np.concatenate([near, self.far_r_km])
        if len(self._bins) >= _MAX_BINS:
            self._bins.clear()
        self._bins[key] = near
        return near


@functools.lru_cache(maxsize=65_536)
def _frame(lat_deg: float, lon_deg: float) -> GroundFrame:
    """The local frame of a terminal's point (altitude 0), kept per position."""
    return ground_frame(lat_deg, lon_deg, 0.0)


def _sky_at(elements: str, t_ns: int) -> _Sky:
    """SGP4 positions of every satellite of `elements` at the instant `t_ns` (ns since 1970 UTC),
    in ECEF, as a `_Sky` (SGP4 runs straight on the cached SatrecArray)."""
    t = np.array([t_ns], dtype="datetime64[ns]")
    jd, fr = julian_date_utc(t)
    err, r_teme, _v = _satrec_array(elements).sgp4(jd, fr)
    r = np.asarray(teme_to_ecef(r_teme, t))[:, 0, :].copy()
    ok = (np.asarray(err)[:, 0] == 0) & np.all(np.isfinite(r), axis=1)
    r[~ok] = 0.0
    return _Sky(r)


class _PositionCache:
    """`_Sky` of recent instants per elements set (LRU, thread-safe; SGP4 runs once per instant
    even when many requests ask for it at once)."""

    def __init__(self, size: int = 256):
        self.size = size
        self._d: OrderedDict[tuple[str, int], _Sky] = OrderedDict()
        self._lock = threading.Lock()
        self._compute = threading.Lock()
        self._pending: set[tuple[str, int]] = set()

    def _hit(self, key: tuple[str, int]) -> _Sky | None:
        with self._lock:
            sky = self._d.get(key)
            if sky is not None:
                self._d.move_to_end(key)
            return sky

    def prefetch(self, elements: str, t_ns: int) -> None:
        """Compute the instant `t_ns` in a background thread unless kept or under way (the next
        second of "now" is ready before its first request)."""
        key = (elements, t_ns)
        if not CACHING:
            return
        with self._lock:
            if key in self._d or key in self._pending:
                return
            self._pending.add(key)

        def run() -> None:
            try:
                self.get(elements, t_ns)
            finally:
                with self._lock:
                    self._pending.discard(key)

        threading.Thread(target=run, name="skyfence-positions", daemon=True).start()

    def has(self, elements: str, t_ns: int) -> bool:
        if not CACHING:
            return False
        with self._lock:
            return (elements, t_ns) in self._d

    def get(self, elements: str, t_ns: int) -> _Sky:
        """The kept `_Sky` of the instant (`_sky_at` when not kept, or when `CACHING` is off)."""
        if not CACHING:
            return _sky_at(elements, t_ns)
        key = (elements, t_ns)
        sky = self._hit(key)
        if sky is not None:
            return sky
        with self._compute:
            sky = self._hit(key)
            if sky is not None:
                return sky
            sky = _sky_at(elements, t_ns)
            with self._lock:
                self._d[key] = sky
                while len(self._d) > self.size:
                    self._d.popitem(last=False)
        return sky


_POSITIONS = _PositionCache(64)


@functools.lru_cache(maxsize=8)
def elements_valid_range(name: str) -> tuple[str, str]:
    """(first, last) instant, ISO UTC, at which `decide_service` decides with the elements `name`:
    `MAX_ELEMENTS_AGE_DAYS` before the oldest epoch to as many days after the newest."""
    epochs = load_elements(name).epochs_utc()
    margin = np.timedelta64(MAX_ELEMENTS_AGE_DAYS, "D")
    lo, hi = (np.datetime_as_string(x, unit="us") + "Z"
              for x in (epochs.min() - margin, epochs.max() + margin))
    return lo, hi


def _check_at(at: str, elements: str) -> None:
    lo, hi = elements_valid_range(elements)
    if not lo <= at <= hi:
        raise InvalidError(f"at: {at} is outside the validity of the elements {elements!r} "
                           f"({lo} to {hi}: {MAX_ELEMENTS_AGE_DAYS} days around their epochs)")


@functools.lru_cache(maxsize=4096)
def _t_ns(at_utc: dt.datetime | str) -> int:
    t = parse_utc(at_utc)
    return int(np.datetime64(t.replace(tzinfo=None), "ns").astype(np.int64))


def elevations_deg(lat_deg: float, lon_deg: float, at_utc: dt.datetime | str, *,
                   elements: str = "starlink") -> np.ndarray:
    """Elevation (deg) of every satellite of `elements` (in the elements' order; those SGP4 fails
    for are put at the Earth's centre, far below the horizon) seen from the WGS84 ground point at
    altitude 0 at `at_utc`, by the visibility engine (:func:`skyfence.links.elevations_deg`)."""
    return link_elevations_deg(lat_deg, lon_deg, _POSITIONS.get(elements, _t_ns(at_utc)).r_km)


def visible_satellites(lat_deg: float, lon_deg: float, at_utc: dt.datetime | str, *,
                       elements: str = "starlink",
                       min_elevation_deg: float | None = None) -> tuple[int, float]:
    """(number of satellites at or above the elevation mask, highest elevation in deg) seen from
    the ground point (WGS84, altitude 0) at `at_utc`; the mask defaults to the constellation's
    (:func:`skyfence.links.default_min_elevation_deg`). Elevations are computed for the
    satellites near enough to reach the mask, and for all when none of them does."""
    if min_elevation_deg is None:
        min_elevation_deg = default_min_elevation_deg(elements)
    sky = _POSITIONS.get(elements, _t_ns(at_utc))
    frame = (_frame if CACHING else _frame.__wrapped__)(float(lat_deg), float(lon_deg))
    near_km = sky.candidates_km(float(lat_deg), float(lon_deg), min_elevation_deg)
    if near_km is not None and len(near_km):
        el = frame_elevations_deg(frame, near_km)
        n = int(np.count_nonzero(el >= min_elevation_deg))
        if n:
            return n, float(el.max())
    el = frame_elevations_deg(frame, sky.r_km)
    n = int(np.count_nonzero(el >= min_elevation_deg))
    return n, float(el.max()) if len(el) else -90.0


# --------------------------------------------------------------------------- Cedar


def _reads_time(node: Any) -> bool:
    """Whether a Cedar policy's JSON form may read ``context.time``: any use of ``context`` other
    than ``context.<attr>`` / ``context has <attr>`` for an attribute other than ``time``."""
    if isinstance(node, dict):
        for op in (".", "has"):
            inner = node.get(op)
            if isinstance(inner, dict) and inner.get("left") == {"Var": "context"}:
                return inner.get("attr") == "time"
        if node.get("Var") == "context":
            return True
        return any(_reads_time(v) for v in node.values())
    if isinstance(node, list):
        return any(_reads_time(v) for v in node)
    return False


@functools.lru_cache(maxsize=64)
def _policy_reads_time(policy_hash: str, cedar: str) -> bool:
    return _reads_time(ServicePolicy.from_text(cedar, source="policy.cedar").ast)


_CEDAR: dict[tuple, tuple[bool, list[str], list[str]]] = {}
_CEDAR_LOCK = threading.Lock()


def _cedar(pol: dict, terminal_id: str, groups: list[str], cell: str, at: str,
           h3_resolution: int) -> tuple[bool, list[str], list[str]]:
    """`cedar_decide` for the enacted policy `pol`, kept per request (the instant only when the
    policy reads it)."""
    h = pol["policy_sha256"]
    if not CACHING:
        return cedar_decide(pol["cedar"], pol["regions"], h, terminal_id, groups, cell, at,
                            h3_resolution)
    when = at if _policy_reads_time(h, pol["cedar"]) else None
    key = (h, terminal_id, tuple(groups), cell, int(h3_resolution), when)
    with _CEDAR_LOCK:
        hit = _CEDAR.get(key)
    if hit is None:
        hit = cedar_decide(pol["cedar"], pol["regions"], h, terminal_id, groups, cell, at,
                           h3_resolution)
        with _CEDAR_LOCK:
            if len(_CEDAR) > 200_000:
                _CEDAR.clear()
            _CEDAR[key] = hit
    return hit[0], list(hit[1]), list(hit[2])


# --------------------------------------------------------------------------- decisions


def decision_instant(at_utc: dt.datetime | str | None) -> str:
    """The decision's instant as fixed-width ISO UTC text: `at_utc`, or the current whole second."""
    if at_utc is None:
        return _instant_text(int(dt.datetime.now(dt.UTC).timestamp()))
    return _parsed_instant(at_utc)


@functools.lru_cache(maxsize=64)
def _instant_text(unix_s: int) -> str:
    return iso_utc(dt.datetime.fromtimestamp(unix_s, dt.UTC))


@functools.lru_cache(maxsize=4096)
def _parsed_instant(at_utc: dt.datetime | str) -> str:
    return iso_utc(parse_utc(at_utc, "at"))


def decide_service(ledger: Ledger, terminal_id: str, at_utc: dt.datetime | str | None = None, *,
                   elements: str = "starlink",
                   h3_resolution: int = DEFAULT_H3_RESOLUTION) -> dict:
    """The decision for `terminal_id` at `at_utc` (default the current whole second) and its
    signed receipt; the terminal's cell is taken at `h3_resolution` and the mask is the
    constellation's default."""
    return json.loads(service_receipt_json(ledger, terminal_id, at_utc, elements=elements,
                                           h3_resolution=h3_resolution))


def service_receipt_json(ledger: Ledger, terminal_id: str,
                         at_utc: dt.datetime | str | None = None, *, elements: str = "starlink",
                         h3_resolution: int = DEFAULT_H3_RESOLUTION,
                         cached_only: bool = False) -> bytes | None:
    """`decide_service`'s signed receipt as canonical JSON bytes (what ``GET /service`` sends).
    `cached_only`: None instead of reading the database or running SGP4 (an event loop answers
    from what is kept and hands the rest to a thread)."""
    at = decision_instant(at_utc)
    _check_at(at, elements)
    if not CACHING:  # every request reads and checks the tables in a session of its own
        if cached_only:
            return None
        with open_view(ledger, session_bound=True) as view:
            return _receipt(ledger, view, terminal_id, at, elements, h3_resolution)
    if at_utc is None:  # "now": the next second's positions are computed ahead
        _POSITIONS.prefetch(elements, _t_ns(at) + 1_000_000_000)
    if cached_only:
        try:
            view = cached_view(ledger)
            if not _POSITIONS.has(elements, _t_ns(at)):
                return None
            return _receipt(ledger, view, terminal_id, at, elements, h3_resolution, cached_only)
        except StaleView:
            return None
    for _ in range(3):
        try:
            with open_view(ledger) as view:
                return _receipt(ledger, view, terminal_id, at, elements, h3_resolution)
        except StaleView:
            continue
    with open_view(ledger, session_bound=True) as view:  # writes keep coming: one snapshot
        return _receipt(ledger, view, terminal_id, at, elements, h3_resolution)


def _no_read(_fn):
    raise StaleView


def _memo(ledger: Ledger, key: tuple, make):
    """`ledger.memo(key, make)`; `make()` when `CACHING` is off."""
    return ledger.memo(key, make) if CACHING else make()


def _witnessed_block(ledger: Ledger, view: LogView, read) -> str | None:
    """Canonical JSON of the receipt's ``witnessed`` part: the latest witnessed checkpoint (with
    the witnesses' cosignatures) and the consistency proof from its size to the receipt's."""
    if view.witnessed is None:
        return None
    size = view.size

    def make() -> str:
        w = parse_checkpoint(view.witnessed).size
        proof = [] if w >= size else read(lambda s: ledger.consistency_proof(s, w, size))
        return canonical_json({"checkpoint": view.witnessed, "tree_size": w,
                               "consistency_proof": [_b64(h) for h in proof]})

    return _memo(ledger, ("receipt-witnessed", view.witnessed, size), make)


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


#: the receipt fields that differ between the receipts of one template (`ReceiptTemplate` slots)
_UNREGISTERED_SLOTS = ("at_utc", "terminal")
_REGISTERED_SLOTS = ("at_utc", "decision", "groups", "h3_cell", "lat_deg", "lon_deg",
                     "max_elevation_deg", "reason", "regions", "status", "terminal",
                     "visible_satellites")


class _Templates:
    """`ReceiptTemplate`s of the most recent views (a new view, i.e. any commit, starts afresh),
    per elements, resolution, registered or not and policy in force."""

    def __init__(self, views: int = 4, per_view: int = 64):
        self.views, self.per_view = views, per_view
        self._d: OrderedDict[int, tuple[LogView, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, view: LogView, key: tuple, make) -> ReceiptTemplate:
        if not CACHING:
            return make()
        with self._lock:
            kept = self._d.get(id(view))
            if kept is None or kept[0] is not view:
                kept = self._d[id(view)] = (view, {})
                while len(self._d) > self.views:
                    self._d.popitem(last=False)
            tpl = kept[1].get(key)
        if tpl is None:
            tpl = make()
            with self._lock:
                if len(kept[1]) >= self.per_view:
                    kept[1].clear()
                kept[1][key] = tpl
        return tpl


_TEMPLATES = _Templates()


def _template(ledger: Ledger, view: LogView, registered: bool, pol: dict | None, elements: str,
              h3_resolution: int, read) -> ReceiptTemplate:
    """The fields every receipt of this view, terminal kind and policy shares (the log's
    checkpoints and key, the mask, the policy block), with the per-decision fields as slots."""
    size = view.size

    def make() -> ReceiptTemplate:
        fields: dict[str, Any] = {
            "version": RECEIPT_VERSION, "h3_resolution": int(h3_resolution),
            "min_elevation_deg": default_min_elevation_deg(elements), "elements": elements,
            "tree_size": size, "checkpoint": view.checkpoint,
            "log_verifier_key": _memo(ledger, ("verifier-key", ledger.log_key),
                                      lambda: ledger.verifier_key),
        }
        raw = {}
        witnessed = _witnessed_block(ledger, view, read)
        if witnessed is not None:
            raw["witnessed"] = witnessed
        if not registered:
            fields.update(decision="denied", reason="terminal not registered (only registered "
                          "terminals are served)", lat_deg=None, lon_deg=None, groups=[],
                          status=None, h3_cell=None, regions=[], visible_satellites=None,
                          policy=None)
            return ReceiptTemplate(fields, _UNREGISTERED_SLOTS, raw)
        if pol is None:
            fields["policy"] = None
        else:
            raw["policy"] = _memo(
                ledger, ("receipt-policy-json", pol["enacted_index"], size),
                lambda: canonical_json(read(lambda s: policy_block(ledger, s, pol, size))))
        return ReceiptTemplate(fields, _REGISTERED_SLOTS, raw)

    key = (elements, int(h3_resolution), registered, None if pol is None else pol["enacted_index"])
    return _TEMPLATES.get(view, key, make)


@functools.lru_cache(maxsize=65_536)
def _cell(lat_deg: float, lon_deg: float, h3_resolution: int) -> str:
    """The H3 cell (hex text) of a terminal's position at `h3_resolution`."""
    return cells_to_str(cell_of(lat_deg, lon_deg, h3_resolution))[0]


def _receipt(ledger: Ledger, view: LogView, terminal_id: str, at: str, elements: str,
             h3_resolution: int, cached_only: bool = False) -> bytes:
    read = _no_read if cached_only else view.read
    term = view.terminal(terminal_id, cached_only=cached_only)
    if term is None:
        return _template(ledger, view, False, None, elements, h3_resolution, read).sign(
            [at, terminal_id], ledger.log_key)
    size, state = view.size, view.state
    current = _memo(ledger, ("in-force", size, at),
                    lambda: policy_in_force(state.enactments, at))
    pol = None if current is None else _memo(
        ledger, ("policy", current.index, size), lambda: read(lambda s: policy_at(ledger, s, at)))
    tpl = _template(ledger, view, True, pol, elements, h3_resolution, read)
    lat, lon = term["lat_deg"], term["lon_deg"]
    cell = (_cell if CACHING else _cell.__wrapped__)(lat, lon, int(h3_resolution))
    mask_deg = default_min_elevation_deg(elements)
    try:
        n_vis, max_el = visible_satellites(lat, lon, at, elements=elements,
                                           min_elevation_deg=mask_deg)
    except (ValueError, OverflowError, ArithmeticError) as exc:
        raise InvalidError(f"at: cannot compute satellite positions at {at}: {exc}") from None
    groups = list(term["groups"])
    allowed, why, regions = True, [], []
    if pol is not None:
        allowed, why, regions = _cedar(pol, terminal_id, groups, cell, at, h3_resolution)
    decision, reason = _decision(term["status"], n_vis, regions, pol, allowed, why, mask_deg,
                                 max_el, cell)
    return tpl.sign([at, decision, groups, cell, lat, lon, round(max_el, 3), reason, regions,
                     term["status"], terminal_id, n_vis], ledger.log_key)


def _decision(status: str, n_visible: int, regions: list[str], pol: dict | None, allowed: bool,
              why: list[str], mask_deg: float, max_el: float, cell: str) -> tuple[str, str]:
    """(decision, reason) of a registered terminal: coverage, then status, then the policy."""
    where = f" in region(s) {', '.join(regions)}" if regions else ""
    if n_visible == 0:
        return "uncovered", f"no satellite above {mask_deg:g} deg elevation (highest {max_el:.1f} deg)"
    if status != "active":
        return "denied", f"terminal is {status}, not active"
    if pol is None:
        return "served", "no service policy in force: covered is served"
    if allowed:
        return "served", f"permitted by {', '.join(why) or 'policy'}" + where
    return "denied", ((f"forbidden by {', '.join(why)}" if why
                       else "no permit matches (Cedar default deny)") + (where or f" in cell {cell}"))
