"""A proposal's form: its fields, canonical bytes, policy hash and Ed25519 signatures.

Model
-----
A *proposal* is a complete service policy set: Cedar text plus the named regions it uses
(``Region::"crimea"`` -> a region spec of :mod:`skyfence.geo.regions`, cells at H3 resolution 5),
with a title, a justification, an effective time and an expiry. Its **canonical bytes** are the
canonical JSON of its fields (`canonical_bytes`: keys sorted, no whitespace, UTF-8, no NaN), and
the proposal id (128 random bits chosen by the proposer) is part of them, so two proposals never
share bytes. The proposer signs those bytes (Ed25519) when proposing; each approver signs the same
bytes on the client side (`sign_proposal`), so the server never holds an approver's private key.

A *membership proposal* (type ``skyfence.membership.v1``, `make_membership_proposal`) has the same
fields with ``changes`` (:mod:`skyfence.governance.rules.membership`) instead of ``cedar`` and
``regions``; it is never an emergency.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from skyfence.errors import InvalidError, PolicyError, RegionError
from skyfence.geo.regions import resolve_region
from skyfence.governance.keys import signature_ok
from skyfence.governance.rules.canonical import canonical_bytes, iso_utc, parse_utc
from skyfence.governance.rules.membership import MEMBERSHIP_TYPE, validate_changes
from skyfence.policy.cedar import ServicePolicy

__all__ = [
    "PROPOSAL_TYPE",
    "make_proposal",
    "make_membership_proposal",
    "is_membership",
    "validate_proposal_fields",
    "proposal_digest",
    "policy_payload",
    "policy_sha256",
    "check_policy_text",
    "sign_proposal",
    "verify_signature",
]

PROPOSAL_TYPE = "skyfence.proposal.v1"
_FIELDS = {"type", "id", "proposer", "title", "justification", "cedar", "regions",
           "effective_utc", "expires_utc", "emergency", "created_utc"}
_MEMBERSHIP_FIELDS = (_FIELDS - {"cedar", "regions"}) | {"changes"}


def is_membership(fields: Mapping[str, Any]) -> bool:
    """True for a membership proposal (type ``skyfence.membership.v1``)."""
    return fields.get("type") == MEMBERSHIP_TYPE


def policy_payload(fields: Mapping[str, Any]) -> dict:
    """The policy set itself (what is in force): ``{"cedar": ..., "regions": ...}``."""
    return {"cedar": fields["cedar"], "regions": fields.get("regions") or {}}


def policy_sha256(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the policy set's canonical bytes (`policy_payload`)."""
    return hashlib.sha256(canonical_bytes(policy_payload(fields))).hexdigest()


def proposal_digest(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a proposal's canonical bytes."""
    return hashlib.sha256(canonical_bytes(dict(fields))).hexdigest()


def check_policy_text(cedar: str, regions: Mapping[str, Any] | None = None) -> None:
    """GovernanceError unless `cedar` is a valid Cedar service policy (validated against the
    service schema of :mod:`skyfence.policy.cedar`) and every region spec resolves."""
    try:
        ServicePolicy.from_text(cedar, source="proposal.cedar")
    except PolicyError as exc:
        raise InvalidError(str(exc)) from None
    for name, spec in (regions or {}).items():
        if not isinstance(name, str) or not name:
            raise InvalidError(f"regions: region names must be non-empty strings, got {name!r}")
        try:
            resolve_region(spec)
        except RegionError as exc:
            raise InvalidError(f"regions.{name}: {exc}") from None
        except Exception as exc:  # malformed spec shapes
            raise InvalidError(f"regions.{name}: invalid region spec: {exc}") from None


def validate_proposal_fields(fields: Mapping[str, Any], *, check_policy: bool = True) -> dict:
    """Check a proposal's fields (names, types, times) and return them as a plain dict.
    GovernanceError naming the field on failure."""
    if not isinstance(fields, Mapping):
        raise InvalidError("proposal: must be a JSON object")
    membership = is_membership(fields)
    want = _MEMBERSHIP_FIELDS if membership else _FIELDS
    missing = sorted(want - set(fields))
    extra = sorted(set(fields) - want)
    if missing:
        raise InvalidError(f"proposal: missing field(s) {', '.join(missing)}")
    if extra:
        raise InvalidError(f"proposal: unknown field(s) {', '.join(extra)}")
    if fields["type"] not in (PROPOSAL_TYPE, MEMBERSHIP_TYPE):
        raise InvalidError(f"proposal.type: must be {PROPOSAL_TYPE!r} or {MEMBERSHIP_TYPE!r}")
    pid = fields["id"]
    if not (isinstance(pid, str) and 8 <= len(pid) <= 64 and all(c in "0123456789abcdef" for c in pid)):
        raise InvalidError("proposal.id: must be 8-64 lowercase hex characters")
    for key in ("proposer", "title", "justification", *(() if membership else ("cedar",))):
        if not isinstance(fields[key], str):
            raise InvalidError(f"proposal.{key}: must be a string")
    if not fields["justification"].strip():
        raise InvalidError("proposal.justification: must not be empty")
    if not membership and not isinstance(fields["regions"], Mapping):
        raise InvalidError("proposal.regions: must be an object of region name -> spec")
    if not isinstance(fields["emergency"], bool):
        raise InvalidError("proposal.emergency: must be true or false")
    if membership:
        if fields["emergency"]:
            raise InvalidError("proposal.emergency: a membership change is never an emergency")
        validate_changes(fields["changes"])
    for key in ("effective_utc", "expires_utc", "created_utc"):
        if fields[key] != iso_utc(parse_utc(fields[key], f"proposal.{key}")):
            raise InvalidError(f"proposal.{key}: must be written as YYYY-MM-DDThh:mm:ss.ffffffZ")
    if fields["expires_utc"] <= fields["created_utc"]:
        raise InvalidError("proposal.expires_utc: must be after created_utc")
    canonical_bytes(dict(fields))  # no NaN, JSON-able
    if check_policy and not membership:
        check_policy_text(fields["cedar"], fields["regions"])
    return dict(fields)


def make_proposal(
    proposer: str,
    cedar: str,
    *,
    justification: str,
    title: str = "",
    regions: Mapping[str, Any] | None = None,
    effective_utc: dt.datetime | str | None = None,
    expires_utc: dt.datetime | str | None = None,
    emergency: bool = False,
    created_utc: dt.datetime | str | None = None,
    proposal_id: str | None = None,
) -> dict:
    """Build a proposal's fields (client side). Defaults: effective now, expiry 7 days after creation."""
    created = parse_utc(iso_utc(created_utc))
    fields = {
        "type": PROPOSAL_TYPE,
        "id": proposal_id or secrets.token_hex(16),
        "proposer": proposer,
        "title": title,
        "justification": justification,
        "cedar": cedar,
        "regions": dict(regions or {}),
        "effective_utc": iso_utc(effective_utc if effective_utc is not None else created),
        "expires_utc": iso_utc(expires_utc if expires_utc is not None
                               else created + dt.timedelta(days=7)),
        "emergency": bool(emergency),
        "created_utc": iso_utc(created),
    }
    return fields


def make_membership_proposal(
    proposer: str,
    changes: list[Mapping[str, Any]],
    *,
    justification: str,
    title: str = "",
    expires_utc: dt.datetime | str | None = None,
    created_utc: dt.datetime | str | None = None,
    proposal_id: str | None = None,
) -> dict:
    """Build a membership proposal's fields (client side): `changes` as in
    :mod:`skyfence.governance.rules.membership`; in force when enacted; expiry 7 days after
    creation by default."""
    created = parse_utc(iso_utc(created_utc))
    fields = {
        "type": MEMBERSHIP_TYPE,
        "id": proposal_id or secrets.token_hex(16),
        "proposer": proposer,
        "title": title,
        "justification": justification,
        "changes": [dict(c) for c in changes],
        "effective_utc": iso_utc(created),
        "expires_utc": iso_utc(expires_utc if expires_utc is not None
                               else created + dt.timedelta(days=7)),
        "emergency": False,
        "created_utc": iso_utc(created),
    }
    validate_changes(fields["changes"])
    return fields


def sign_proposal(private_key: Ed25519PrivateKey, fields: Mapping[str, Any]) -> str:
    """Ed25519 signature (hex, 128 chars) over the proposal's canonical bytes."""
    return private_key.sign(canonical_bytes(dict(fields))).hex()


def verify_signature(public_key_hex: str | None, message: bytes, signature_hex: str) -> bool:
    """True iff `signature_hex` is a valid Ed25519 signature of `message` by the raw public key."""
    if not public_key_hex or not isinstance(signature_hex, str):
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    return signature_ok(key, message, signature)
