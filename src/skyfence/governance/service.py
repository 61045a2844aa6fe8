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
the elevation mask and H3 resolution used.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from skyfence.errors import InvalidError
from skyfence.geo.cells import cell_of, cells_to_str
from skyfence.governance.evaluate import cedar_decide
from skyfence.governance.ledger import Ledger
from skyfence.governance.policies import policy_at
from skyfence.governance.receipts import RECEIPT_VERSION, policy_block, sign_receipt
from skyfence.governance.registry import get_terminal
from skyfence.governance.rules.canonical import iso_utc, parse_utc
from skyfence.governance.rules.in_force import policy_in_force
from skyfence.links import default_min_elevation_deg
from skyfence.links import elevations_deg as link_elevations_deg
from skyfence.orbits.catalog import load_elements
from skyfence.orbits.frames import julian_date_utc, teme_to_ecef

__all__ = ["DEFAULT_H3_RESOLUTION", "MAX_ELEMENTS_AGE_DAYS", "elements_valid_range",
           "elevations_deg", "visible_satellites", "decide_service"]

MAX_ELEMENTS_AGE_DAYS = 366
"""Decisions are made only for instants within this many days of the elements' epochs (before
the oldest, after the newest): beyond that, SGP4 positions say nothing about real coverage."""

DEFAULT_H3_RESOLUTION = 5
"""H3 resolution of the served cells unless the server is given another (Starlink publishes
availability as resolution-5 cells)."""


@functools.lru_cache(maxsize=4)
def _satrec_array(name: str):
    """The elements' vectorised SGP4 propagator (sgp4.SatrecArray), built once per elements set."""
    return load_elements(name).satrec_array()


class _PositionCache:
    """ECEF positions [n_sat, 3] km of every satellite at recent instants (LRU, thread-safe).
    SGP4 runs straight on the cached SatrecArray (no Ephemeris); satellites whose SGP4 fails
    are put at the Earth's centre (never above any horizon), keeping the elements' order."""

    def __init__(self, size: int = 256):
        self.size = size
        self._d: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, elements: str, t_ns: int) -> np.ndarray:
        key = (elements, t_ns)
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        t = np.array([t_ns], dtype="datetime64[ns]")
        jd, fr = julian_date_utc(t)
        err, r_teme, _v = _satrec_array(elements).sgp4(jd, fr)
        r = np.asarray(teme_to_ecef(r_teme, t))[:, 0, :].copy()
        ok = (np.asarray(err)[:, 0] == 0) & np.all(np.isfinite(r), axis=1)
        r[~ok] = 0.0
        with self._lock:
            self._d[key] = r
            while len(self._d) > self.size:
                self._d.popitem(last=False)
        return r


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


def elevations_deg(lat_deg: float, lon_deg: float, at_utc: dt.datetime | str, *,
                   elements: str = "starlink") -> np.ndarray:
    """Elevation (deg) of every satellite of `elements` (in the elements' order; those SGP4 fails
    for are put at the Earth's centre, far below the horizon) seen from the WGS84 ground point at
    altitude 0 at `at_utc`, by the visibility engine (:func:`skyfence.links.elevations_deg`)."""
    t = parse_utc(at_utc)
    t_ns = int(np.datetime64(t.replace(tzinfo=None), "ns").astype(np.int64))
    return link_elevations_deg(lat_deg, lon_deg, _POSITIONS.get(elements, t_ns))


def visible_satellites(lat_deg: float, lon_deg: float, at_utc: dt.datetime | str, *,
                       elements: str = "starlink",
                       min_elevation_deg: float | None = None) -> tuple[int, float]:
    """(number of satellites at or above the elevation mask, highest elevation in deg) seen from
    the ground point (WGS84, altitude 0) at `at_utc`; the mask defaults to the constellation's
    (:func:`skyfence.links.default_min_elevation_deg`)."""
    if min_elevation_deg is None:
        min_elevation_deg = default_min_elevation_deg(elements)
    el = elevations_deg(lat_deg, lon_deg, at_utc, elements=elements)
    n = int(np.count_nonzero(el >= min_elevation_deg))
    return n, float(el.max()) if len(el) else -90.0


# --------------------------------------------------------------------------- decisions


def decide_service(ledger: Ledger, terminal_id: str, at_utc: dt.datetime | str | None = None, *,
                   elements: str = "starlink",
                   h3_resolution: int = DEFAULT_H3_RESOLUTION) -> dict:
    """The decision for `terminal_id` at `at_utc` (default now) and its signed receipt; the
    terminal's cell is taken at `h3_resolution` and the mask is the constellation's default."""
    at = iso_utc(parse_utc(at_utc, "at") if at_utc is not None else None)
    _check_at(at, elements)
    mask_deg = default_min_elevation_deg(elements)
    with ledger.db.read_session() as s:
        size = ledger.size(s)
        state = ledger.state(s)
        note = ledger.memo(("checkpoint", size), lambda: ledger.checkpoint_at(s, size))
        term = get_terminal(s, terminal_id)
        current = policy_in_force(state.enactments, at)
        pol = None if current is None else ledger.memo(
            ("policy", current.index, size), lambda: policy_at(ledger, s, at))
        receipt: dict[str, Any] = {
            "version": RECEIPT_VERSION, "terminal": terminal_id, "at_utc": at,
            "h3_resolution": int(h3_resolution), "min_elevation_deg": mask_deg,
            "elements": elements, "tree_size": size, "checkpoint": note,
            "log_verifier_key": ledger.verifier_key,
        }
        if term is None:
            receipt.update(decision="denied", reason="terminal not registered (only registered "
                           "terminals are served)", lat_deg=None, lon_deg=None, groups=[],
                           status=None, h3_cell=None, regions=[], visible_satellites=None,
                           policy=None)
            return sign_receipt(ledger, receipt)
        cell = cells_to_str(cell_of(term["lat_deg"], term["lon_deg"], h3_resolution))[0]
        try:
            n_vis, max_el = visible_satellites(term["lat_deg"], term["lon_deg"], at,
                                               elements=elements, min_elevation_deg=mask_deg)
        except (ValueError, OverflowError, ArithmeticError) as exc:
            raise InvalidError(f"at: cannot compute satellite positions at {at}: {exc}") from None
        receipt.update(lat_deg=term["lat_deg"], lon_deg=term["lon_deg"], groups=term["groups"],
                       status=term["status"], h3_cell=cell, visible_satellites=n_vis,
                       max_elevation_deg=round(max_el, 3), regions=[], policy=None)
        allowed, why = True, []
        if pol is not None:
            allowed, why, receipt["regions"] = cedar_decide(
                pol["cedar"], pol["regions"], pol["policy_sha256"], terminal_id, term["groups"],
                cell, at, h3_resolution)
            receipt["policy"] = copy.deepcopy(ledger.memo(
                ("receipt-policy", pol["enacted_index"], size),
                lambda: policy_block(ledger, s, pol, size)))
    receipt.update(zip(("decision", "reason"), _decision(receipt, pol, allowed, why, mask_deg,
                                                          max_el, cell), strict=True))
    return sign_receipt(ledger, receipt)


def _decision(receipt: dict, pol: dict | None, allowed: bool, why: list[str], mask_deg: float,
              max_el: float, cell: str) -> tuple[str, str]:
    """(decision, reason) of a registered terminal: coverage, then status, then the policy."""
    regions = receipt["regions"]
    where = f" in region(s) {', '.join(regions)}" if regions else ""
    if receipt["visible_satellites"] == 0:
        return "uncovered", f"no satellite above {mask_deg:g} deg elevation (highest {max_el:.1f} deg)"
    if receipt["status"] != "active":
        return "denied", f"terminal is {receipt['status']}, not active"
    if pol is None:
        return "served", "no service policy in force: covered is served"
    if allowed:
        return "served", f"permitted by {', '.join(why) or 'policy'}" + where
    return "denied", ((f"forbidden by {', '.join(why)}" if why
                       else "no permit matches (Cedar default deny)") + (where or f" in cell {cell}"))
