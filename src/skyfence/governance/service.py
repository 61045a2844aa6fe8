"""Service decisions with receipts (``GET /service``) and the offline receipt verifier.

Decision for terminal T at instant `at`
---------------------------------------
1. T unknown to the registry: ``denied`` ("not registered": only registered terminals are served).
2. Coverage: SGP4 positions of every satellite of the elements set (default the bundled
   ``starlink`` snapshot) at `at`, elevation of each above T's own coordinates (WGS84 geodetic
   up-vector, vectorised over all satellites); nothing above the 25 deg mask: ``uncovered``.
3. T not active (registered or suspended): ``denied`` with its status as the reason.
4. The policy set in force at `at` (`proposals.policy_at`): none -> ``served`` (no policy: what is
   covered is served); otherwise Cedar decides (principal ``Terminal`` in its groups, resource the
   terminal's H3 resolution-5 ``Cell`` in the policy's named regions that hold it, context time and
   speed 0), and the reason names the deciding policy (``file:line (@id)``) and the regions.

Receipt
-------
Terminal, position, groups, H3 cell and its regions, time, decision, reason; the policy set's log
index (its ``policy.enacted`` entry) and SHA-256; the supporting log entries (proposal, enactment
with the quorum's signatures, the principals' keys) each with its RFC 9162 inclusion proof in the
tree of the signed checkpoint that is included; all signed by the log key. `verify_receipt` checks
all of it offline and re-runs Cedar on the policy text from the log.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from skyfence.errors import GovernanceError
from skyfence.governance.proposals import (
    canonical_bytes,
    iso_utc,
    parse_utc,
    policy_at,
    policy_sha256,
    verify_signature,
)

__all__ = [
    "H3_RESOLUTION",
    "MIN_ELEVATION_DEG",
    "visible_satellites",
    "elevations_deg",
    "decide_service",
    "verify_receipt",
    "RECEIPT_VERSION",
]

H3_RESOLUTION = 5
MIN_ELEVATION_DEG = 25.0
RECEIPT_VERSION = "skyfence-receipt-v1"


# --------------------------------------------------------------------------- coverage


@functools.lru_cache(maxsize=4)
def _satrec_array(name: str):
    """The elements' vectorised SGP4 propagator (sgp4.SatrecArray), built once per elements set."""
    from skyfence.orbits.catalog import load_elements

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
        from skyfence.orbits.frames import julian_date_utc, teme_to_ecef

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


def elevations_deg(lat_deg: float, lon_deg: float, at_utc: dt.datetime | str, *,
                   elements: str = "starlink") -> np.ndarray:
    """Elevation (deg) of every satellite of `elements` (those SGP4 propagates without error, in
    the elements' order) seen from the WGS84 ground point at altitude 0 at `at_utc`: the angle
    between the line of sight and the local horizontal plane (geodetic up vector)."""
    from skyfence.geo.earth import wgs84

    t = parse_utc(at_utc)
    t_ns = int(np.datetime64(t.replace(tzinfo=None), "ns").astype(np.int64))
    r = _POSITIONS.get(elements, t_ns)
    g = np.asarray(wgs84.ecef_km(lat_deg, lon_deg, 0.0), dtype=np.float64).reshape(3)
    up = wgs84.up(lat_deg, lon_deg)
    d = r - g
    rng = np.linalg.norm(d, axis=1)
    sin_el = (d @ up) / np.maximum(rng, 1e-9)
    return np.degrees(np.arcsin(np.clip(sin_el, -1.0, 1.0)))


def visible_satellites(lat_deg: float, lon_deg: float, at_utc: dt.datetime | str, *,
                       elements: str = "starlink",
                       min_elevation_deg: float = MIN_ELEVATION_DEG) -> tuple[int, float]:
    """(number of satellites at or above the elevation mask, highest elevation in deg) seen from
    the ground point (WGS84, altitude 0) at `at_utc`."""
    el = elevations_deg(lat_deg, lon_deg, at_utc, elements=elements)
    n = int(np.count_nonzero(el >= min_elevation_deg))
    return n, float(el.max()) if len(el) else -90.0


# --------------------------------------------------------------------------- policy evaluation


@functools.lru_cache(maxsize=32)
def _compiled(policy_hash: str, cedar: str, regions_json: str):
    from skyfence.policy.cedar import ServicePolicy
    from skyfence.policy.regionset import RegionSet

    policy = ServicePolicy.from_text(cedar, source="policy.cedar")
    regions = RegionSet.from_specs(json.loads(regions_json), H3_RESOLUTION)
    return policy, regions


def _cedar_decide(cedar: str, regions: Mapping[str, Any], policy_hash: str, terminal: str,
                  groups: list[str], cell_hex: str, at_utc: str) -> tuple[bool, list[str], list[str]]:
    """(allowed, explained deciding policies, the cell's regions)."""
    import cedarpy

    from skyfence.policy.cedar import cell_entity, make_request, terminal_entity

    policy, rs = _compiled(policy_hash, cedar, json.dumps(regions, sort_keys=True))
    cell_int = np.array([int(cell_hex, 16)], dtype=np.uint64)
    cell_regions = list(rs.cell_region_names(cell_int)[0]) if len(rs) else []
    result = cedarpy.is_authorized(make_request(terminal, cell_hex, at_utc, 0), policy.policy_set,
                                   [terminal_entity(terminal, groups), cell_entity(cell_hex, cell_regions)])
    return bool(result.allowed), policy.explain(result.diagnostics.reasons), cell_regions


# --------------------------------------------------------------------------- decisions and receipts


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _support(ledger, s, index: int, size: int) -> dict:
    return {"index": index, "entry": ledger.entry_text(s, index),
            "inclusion_proof": [_b64(h) for h in ledger.inclusion_proof(s, index, size)]}


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()


def _cached(ledger, key: tuple, make):
    """Memo of log-derived values keyed by tree size: the log is append-only, so a value computed
    for (..., size) never changes."""
    full = (id(ledger), *key)
    with _CACHE_LOCK:
        if full in _CACHE:
            return _CACHE[full]
    value = make()
    with _CACHE_LOCK:
        if len(_CACHE) > 20_000:
            _CACHE.clear()
        _CACHE[full] = value
    return value


def decide_service(ledger, terminal_id: str, at_utc: dt.datetime | str | None = None, *,
                   elements: str = "starlink") -> dict:
    """The decision for `terminal_id` at `at_utc` (default now) and its signed receipt."""
    from skyfence.governance.proposals import enactments, policy_in_force
    from skyfence.governance.registry import get_terminal

    at = iso_utc(parse_utc(at_utc, "at") if at_utc is not None else None)
    with ledger.db.read_session() as s:
        size = ledger.size(s)
        note = _cached(ledger, ("checkpoint", size), lambda: ledger.checkpoint_at(s, size))
        term = get_terminal(s, terminal_id)
        enacts = _cached(ledger, ("enactments", size), lambda: enactments(s))
        current = policy_in_force(enacts, at)
        pol = None if current is None else _cached(
            ledger, ("policy", current.index, size), lambda: policy_at(s, at))
        receipt: dict[str, Any] = {
            "version": RECEIPT_VERSION, "terminal": terminal_id, "at_utc": at,
            "h3_resolution": H3_RESOLUTION, "min_elevation_deg": MIN_ELEVATION_DEG,
            "elements": elements, "tree_size": size, "checkpoint": note,
            "log_verifier_key": ledger.verifier_key,
        }
        if term is None:
            receipt.update(decision="denied", reason="terminal not registered (only registered "
                           "terminals are served)", lat_deg=None, lon_deg=None, groups=[],
                           status=None, h3_cell=None, regions=[], visible_satellites=None,
                           policy=None)
        else:
            from skyfence.geo.cells import cell_of, cells_to_str

            cell = cells_to_str(cell_of(term["lat_deg"], term["lon_deg"], H3_RESOLUTION))[0]
            try:
                n_vis, max_el = visible_satellites(term["lat_deg"], term["lon_deg"], at,
                                                   elements=elements)
            except (ValueError, OverflowError, ArithmeticError) as exc:
                from skyfence.governance.db import Invalid

                raise Invalid(f"at: cannot compute satellite positions at {at}: {exc}") from None
            receipt.update(lat_deg=term["lat_deg"], lon_deg=term["lon_deg"], groups=term["groups"],
                           status=term["status"], h3_cell=cell, visible_satellites=n_vis,
                           max_elevation_deg=round(max_el, 3), regions=[], policy=None)
            if pol is not None:
                allowed, why, cell_regions = _cedar_decide(
                    pol["cedar"], pol["regions"], pol["policy_sha256"], terminal_id, term["groups"],
                    cell, at)
                receipt["regions"] = cell_regions
                receipt["policy"] = copy.deepcopy(_cached(
                    ledger, ("receipt-policy", pol["enacted_index"], size),
                    lambda: _policy_block(ledger, s, pol, size)))
            else:
                allowed, why = True, []
            if n_vis == 0:
                receipt.update(decision="uncovered", reason=f"no satellite above {MIN_ELEVATION_DEG:g} "
                               f"deg elevation (highest {max_el:.1f} deg)")
            elif term["status"] != "active":
                receipt.update(decision="denied", reason=f"terminal is {term['status']}, not active")
            elif pol is None:
                receipt.update(decision="served", reason="no service policy in force: covered is served")
            elif allowed:
                receipt.update(decision="served", reason=f"permitted by {', '.join(why) or 'policy'}"
                               + (f" in region(s) {', '.join(receipt['regions'])}" if receipt["regions"] else ""))
            else:
                where = (f" in region(s) {', '.join(receipt['regions'])}" if receipt["regions"]
                         else f" in cell {cell}")
                receipt.update(decision="denied", reason=(f"forbidden by {', '.join(why)}" if why
                               else "no permit matches (Cedar default deny)") + where)
    body = canonical_bytes(receipt)
    receipt["signature"] = _b64(ledger.log_key.sign(b"skyfence-receipt-v1\n" + body))
    return receipt


def _policy_block(ledger, s, pol: dict, size: int) -> dict:
    """The receipt's policy part: log index, hash, quorum signatures, supporting entries + proofs."""
    prop = pol["proposal"]
    people = sorted({a["approver"] for a in prop["approvals"]} | {prop["fields"]["proposer"]})
    principal_entries = _principal_entries(ledger, s, people)
    return {
        "log_index": pol["enacted_index"], "policy_sha256": pol["policy_sha256"],
        "proposal_id": pol["proposal_id"], "title": pol["title"],
        "emergency": pol["emergency"], "in_force_from_utc": pol["in_force_from_utc"],
        "quorum_signatures": [{"approver": a["approver"], "signature": a["signature"]}
                              for a in _enacted_approvals(ledger, s, pol["enacted_index"])],
        "entries": [_support(ledger, s, i, size) for i in
                    sorted({prop["entry_index"], pol["enacted_index"], *principal_entries})],
    }


def _enacted_approvals(ledger, s, index: int) -> list[dict]:
    return json.loads(ledger.entry_text(s, index))["data"]["approvals"]


def _principal_entries(ledger, s, people: list[str]) -> list[int]:
    from sqlalchemy import select

    from skyfence.governance.db import LogEntry

    out = []
    want = set(people)
    for e in s.scalars(select(LogEntry).where(LogEntry.kind == "principal.added").order_by(LogEntry.idx)):
        d = json.loads(e.body)["data"]
        if d["id"] in want:
            out.append(e.idx)
    return out


# --------------------------------------------------------------------------- offline verification


def verify_receipt(receipt: Mapping[str, Any], *, verifier_key: str | None = None,
                   recheck_cedar: bool = True) -> list[str]:
    """Verify a receipt offline; returns notes (what was checked). GovernanceError on failure.

    Checks: the log's signature over the receipt; the checkpoint's signature; each supporting log
    entry's inclusion proof against the checkpoint's root; that the enactment entry names the
    proposal and the policy hash of the proposal's Cedar text and regions; every quorum signature
    (distinct approvers, not the proposer, keys from logged principal entries) over the proposal's
    canonical bytes; that the policy was in force at the receipt's time; and (`recheck_cedar`)
    that Cedar on the logged policy gives the receipt's decision."""
    from skyfence.governance.ledger import (
        _checkpoint_root,
        _leaf_hash,
        _verify_inclusion,
        _verify_note,
    )

    r = dict(receipt)
    notes: list[str] = []
    if r.get("version") != RECEIPT_VERSION:
        raise GovernanceError(f"receipt: unknown version {r.get('version')!r}")
    key = verifier_key or r.get("log_verifier_key")
    if verifier_key is None:
        notes.append("log key taken from the receipt itself: pin it with --key to trust it")
    elif r.get("log_verifier_key") != verifier_key:
        raise GovernanceError("receipt: made by a different log key")
    sig = r.pop("signature", None)
    if not sig or not _verify_with_vkey(key, b"skyfence-receipt-v1\n" + canonical_bytes(r),
                                        base64.b64decode(sig)):
        raise GovernanceError("receipt: bad signature by the log key")
    notes.append("receipt signature ok")
    size, root = _checkpoint_root(r["checkpoint"])
    if not _verify_note(r["checkpoint"], key):
        raise GovernanceError("receipt: checkpoint signature does not verify")
    if size != r["tree_size"]:
        raise GovernanceError("receipt: checkpoint size differs from tree_size")
    notes.append(f"checkpoint ok (size {size})")
    pol = r.get("policy")
    if pol is None:
        if r["decision"] == "denied" and r.get("status") in ("active",):
            raise GovernanceError("receipt: denied without a policy")
        notes.append("no policy in force")
        return notes
    entries: dict[int, dict] = {}
    for sup in pol["entries"]:
        text = sup["entry"]
        proof = [base64.b64decode(h) for h in sup["inclusion_proof"]]
        if not _verify_inclusion(_leaf_hash(text.encode("utf-8")), sup["index"], size, proof, root):
            raise GovernanceError(f"receipt: entry {sup['index']} is not in the checkpointed log")
        entries[sup["index"]] = json.loads(text)
    notes.append(f"{len(entries)} log entries proven included")
    enact = entries.get(pol["log_index"])
    if enact is None or enact["kind"] != "policy.enacted":
        raise GovernanceError("receipt: no enactment entry at the policy's log index")
    created = next((e for e in entries.values() if e["kind"] == "proposal.created"
                    and e["data"]["proposal"]["id"] == enact["data"]["proposal_id"]), None)
    if created is None:
        raise GovernanceError("receipt: the enacted proposal's entry is missing")
    fields = created["data"]["proposal"]
    if policy_sha256(fields) != pol["policy_sha256"] or enact["data"]["policy_sha256"] != pol["policy_sha256"]:
        raise GovernanceError("receipt: policy hash differs from the logged proposal")
    keys = {e["data"]["id"]: e["data"]["public_key"] for e in entries.values()
            if e["kind"] == "principal.added"}
    msg = canonical_bytes(fields)
    seen: set[str] = set()
    for a in enact["data"]["approvals"]:
        if a["approver"] == fields["proposer"] or a["approver"] in seen:
            raise GovernanceError(f"receipt: approval by {a['approver']!r} is not distinct")
        if not verify_signature(keys.get(a["approver"]), msg, a["signature"]):
            raise GovernanceError(f"receipt: quorum signature of {a['approver']!r} does not verify")
        seen.add(a["approver"])
    if [(a["approver"], a["signature"]) for a in enact["data"]["approvals"]] != \
            [(a["approver"], a["signature"]) for a in pol["quorum_signatures"]]:
        raise GovernanceError("receipt: quorum signatures differ from the logged enactment")
    notes.append(f"quorum: {len(seen)} distinct valid approver signature(s)"
                 + (" [EMERGENCY path]" if fields["emergency"] else ""))
    in_force = max(enact["t_utc"], fields["effective_utc"])
    if in_force > r["at_utc"]:
        raise GovernanceError("receipt: the policy was not yet in force at the receipt's time")
    if recheck_cedar and r["decision"] in ("served", "denied") and r.get("status") == "active":
        allowed, _, regions = _cedar_decide(fields["cedar"], fields["regions"], pol["policy_sha256"],
                                            r["terminal"], list(r["groups"]), r["h3_cell"], r["at_utc"])
        if sorted(regions) != sorted(r["regions"]):
            raise GovernanceError("receipt: the cell's regions differ from the logged policy's")
        if allowed != (r["decision"] == "served"):
            raise GovernanceError("receipt: Cedar on the logged policy gives another decision")
        notes.append("Cedar re-evaluation agrees")
    return notes


def _verify_with_vkey(vkey: str, message: bytes, signature: bytes) -> bool:
    from skyfence.governance.ledger import _vkey_public_hex

    return verify_signature(_vkey_public_hex(vkey), message, signature.hex())


def receipt_digest(receipt: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(dict(receipt))).hexdigest()
