"""Proposals of service policy sets, approvals by Ed25519 signature, quorum, policy in force.

Model
-----
A *proposal* is a complete service policy set: Cedar text plus the named regions it uses
(``Region::"crimea"`` -> a region spec of :mod:`skyfence.geo.regions`, cells at H3 resolution 5),
with a title, a justification, an effective time and an expiry. Its **canonical bytes** are the
canonical JSON of its fields (`canonical_bytes`: keys sorted, no whitespace, UTF-8, no NaN), and
the proposal id (128 random bits chosen by the proposer) is part of them, so two proposals never
share bytes. The proposer signs those bytes (Ed25519) when proposing; each approver signs the same
bytes on the client side (`sign_proposal`), so the server never holds an approver's private key.

Quorum
------
An approval is accepted iff: the approver currently holds the ``approver`` role and a public key;
it is not the proposer (no self-approval); it is the first accepted approval of that approver for
that proposal (distinct approvers); it arrives no later than the proposal's ``expires_utc``; and
its signature verifies over *this* proposal's canonical bytes with the approver's key (a signature
made over another proposal never verifies here). The proposal is enacted when ``k`` approvals are
accepted (``k`` = setting ``quorum_k``); an **emergency** proposal needs one accepted approval,
i.e. two distinct signers (proposer + approver), and is marked ``emergency`` in the log.

The entry ``policy.enacted`` that records the quorum is appended in the same transaction as the
approval that completes it. The policy set is **in force** from ``max(enacted entry time,
effective_utc)``; at any instant the policy in force is the enacted proposal with the greatest
log index among those already in force (`policy_in_force`). Before any enactment there is no
policy (everything covered is served, as in ``skyfence run`` without a policy).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from skyfence.errors import GovernanceError

__all__ = [
    "canonical_json",
    "canonical_bytes",
    "iso_utc",
    "parse_utc",
    "make_proposal",
    "validate_proposal_fields",
    "proposal_digest",
    "policy_payload",
    "policy_sha256",
    "sign_proposal",
    "verify_signature",
    "ApprovalAttempt",
    "evaluate_approvals",
    "required_approvals",
    "Enactment",
    "policy_in_force",
    "check_policy_text",
    "submit_proposal",
    "submit_approval",
    "get_proposal",
    "list_proposals",
    "enactments",
    "policy_at",
]

PROPOSAL_TYPE = "skyfence.proposal.v1"
_FIELDS = {"type", "id", "proposer", "title", "justification", "cedar", "regions",
           "effective_utc", "expires_utc", "emergency", "created_utc"}


def _db():
    from skyfence.governance import db

    return db


# --------------------------------------------------------------------------- canonical form


def canonical_json(obj: Any) -> str:
    """Canonical JSON text: keys sorted, separators without spaces, non-ASCII kept, no NaN/inf."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise GovernanceError(f"not canonical JSON: {exc}") from None


def canonical_bytes(obj: Any) -> bytes:
    """`canonical_json` encoded as UTF-8: the bytes that are signed and hashed."""
    return canonical_json(obj).encode("utf-8")


def iso_utc(t: dt.datetime | str | None = None) -> str:
    """A UTC instant as fixed-width ISO 8601 text, ``YYYY-MM-DDThh:mm:ss.ffffffZ`` (sorts as text).
    None means now; naive datetimes are taken as UTC; strings are parsed first."""
    if t is None:
        t = dt.datetime.now(dt.UTC)
    elif isinstance(t, str):
        t = parse_utc(t)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str | dt.datetime, what: str = "time") -> dt.datetime:
    """Parse an ISO 8601 instant (``Z`` or an offset; naive = UTC) into an aware UTC datetime."""
    if isinstance(text, dt.datetime):
        return text if text.tzinfo else text.replace(tzinfo=dt.UTC)
    if not isinstance(text, str):
        raise _db().Invalid(f"{what}: not an ISO 8601 time: {text!r}")
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        t = dt.datetime.fromisoformat(s)
    except ValueError:
        raise _db().Invalid(f"{what}: not an ISO 8601 time: {text!r}") from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


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
    from skyfence.errors import PolicyError, RegionError
    from skyfence.geo.regions import resolve_region
    from skyfence.policy.cedar import ServicePolicy

    try:
        ServicePolicy.from_text(cedar, source="proposal.cedar")
    except PolicyError as exc:
        raise _db().Invalid(str(exc)) from None
    for name, spec in (regions or {}).items():
        if not isinstance(name, str) or not name:
            raise _db().Invalid(f"regions: region names must be non-empty strings, got {name!r}")
        try:
            resolve_region(spec)
        except RegionError as exc:
            raise _db().Invalid(f"regions.{name}: {exc}") from None
        except Exception as exc:  # malformed spec shapes
            raise _db().Invalid(f"regions.{name}: invalid region spec: {exc}") from None


def validate_proposal_fields(fields: Mapping[str, Any], *, check_policy: bool = True) -> dict:
    """Check a proposal's fields (names, types, times) and return them as a plain dict.
    GovernanceError naming the field on failure."""
    if not isinstance(fields, Mapping):
        raise _db().Invalid("proposal: must be a JSON object")
    missing = sorted(_FIELDS - set(fields))
    extra = sorted(set(fields) - _FIELDS)
    if missing:
        raise _db().Invalid(f"proposal: missing field(s) {', '.join(missing)}")
    if extra:
        raise _db().Invalid(f"proposal: unknown field(s) {', '.join(extra)}")
    if fields["type"] != PROPOSAL_TYPE:
        raise _db().Invalid(f"proposal.type: must be {PROPOSAL_TYPE!r}")
    pid = fields["id"]
    if not (isinstance(pid, str) and 8 <= len(pid) <= 64 and all(c in "0123456789abcdef" for c in pid)):
        raise _db().Invalid("proposal.id: must be 8-64 lowercase hex characters")
    for key in ("proposer", "title", "justification", "cedar"):
        if not isinstance(fields[key], str):
            raise _db().Invalid(f"proposal.{key}: must be a string")
    if not fields["justification"].strip():
        raise _db().Invalid("proposal.justification: must not be empty")
    if not isinstance(fields["regions"], Mapping):
        raise _db().Invalid("proposal.regions: must be an object of region name -> spec")
    if not isinstance(fields["emergency"], bool):
        raise _db().Invalid("proposal.emergency: must be true or false")
    for key in ("effective_utc", "expires_utc", "created_utc"):
        if fields[key] != iso_utc(parse_utc(fields[key], f"proposal.{key}")):
            raise _db().Invalid(f"proposal.{key}: must be written as YYYY-MM-DDThh:mm:ss.ffffffZ")
    if fields["expires_utc"] <= fields["created_utc"]:
        raise _db().Invalid("proposal.expires_utc: must be after created_utc")
    canonical_bytes(dict(fields))  # no NaN, JSON-able
    if check_policy:
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


# --------------------------------------------------------------------------- signatures


def sign_proposal(private_key: Ed25519PrivateKey, fields: Mapping[str, Any]) -> str:
    """Ed25519 signature (hex, 128 chars) over the proposal's canonical bytes."""
    return private_key.sign(canonical_bytes(dict(fields))).hex()


def verify_signature(public_key_hex: str | None, message: bytes, signature_hex: str) -> bool:
    """True iff `signature_hex` is a valid Ed25519 signature of `message` by the raw public key."""
    if not public_key_hex or not isinstance(signature_hex, str):
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature_hex), message)
    except (ValueError, InvalidSignature):
        return False
    return True


# --------------------------------------------------------------------------- quorum


@dataclass(frozen=True)
class ApprovalAttempt:
    """One approval as submitted: who, their signature (hex), and when it arrived (ISO UTC)."""

    approver: str
    signature: str
    t_utc: str


def required_approvals(quorum_k: int, emergency: bool) -> int:
    """Accepted approvals needed: k, or 1 for an emergency (proposer + 1 = two distinct signers)."""
    if quorum_k < 1:
        raise GovernanceError("quorum_k must be at least 1")
    return 1 if emergency else int(quorum_k)


def reject_reason(
    fields: Mapping[str, Any],
    attempt: ApprovalAttempt,
    approver_keys: Mapping[str, str],
    accepted: Iterable[str],
) -> str | None:
    """Why `attempt` must be rejected (None: accept). `approver_keys` maps every current holder of
    the approver role to their public key (hex); `accepted` are approvers already accepted."""
    if attempt.approver == fields["proposer"]:
        return "self-approval: the proposer cannot approve their own proposal"
    if attempt.approver not in approver_keys:
        return f"{attempt.approver!r} is not an approver (or has no public key)"
    if attempt.approver in set(accepted):
        return f"{attempt.approver!r} has already approved this proposal"
    if attempt.t_utc > fields["expires_utc"]:
        return f"the proposal expired at {fields['expires_utc']}"
    if not verify_signature(approver_keys[attempt.approver], canonical_bytes(dict(fields)),
                            attempt.signature):
        return "bad signature: not a signature of this proposal's canonical bytes by the approver's key"
    return None


def evaluate_approvals(
    fields: Mapping[str, Any],
    attempts: Sequence[ApprovalAttempt],
    approver_keys: Mapping[str, str],
    quorum_k: int,
) -> tuple[list[ApprovalAttempt], int | None]:
    """Replay approval attempts in order: (accepted attempts, position in `attempts` of the one that
    completed the quorum, or None). Attempts after the quorum are still checked and accepted."""
    need = required_approvals(quorum_k, bool(fields["emergency"]))
    accepted: list[ApprovalAttempt] = []
    done_at: int | None = None
    for i, a in enumerate(attempts):
        if reject_reason(fields, a, approver_keys, [x.approver for x in accepted]) is None:
            accepted.append(a)
            if done_at is None and len(accepted) >= need:
                done_at = i
    return accepted, done_at


@dataclass(frozen=True)
class Enactment:
    """A proposal enacted by the log entry at `index` (appended at `t_utc`)."""

    index: int
    t_utc: str
    effective_utc: str
    proposal_id: str
    policy_sha256: str
    emergency: bool = False

    @property
    def in_force_from_utc(self) -> str:
        """The policy is in force from the later of its enactment entry and its effective time."""
        return max(self.t_utc, self.effective_utc)


def policy_in_force(enactments: Iterable[Enactment], at_utc: dt.datetime | str) -> Enactment | None:
    """The enactment in force at `at_utc`: greatest log index among those in force by then."""
    at = iso_utc(at_utc)
    best: Enactment | None = None
    for e in enactments:
        if e.in_force_from_utc <= at and (best is None or e.index > best.index):
            best = e
    return best


# --------------------------------------------------------------------------- database operations


def _approver_keys(s) -> dict[str, str]:
    from sqlalchemy import select

    from skyfence.governance.db import Principal

    out = {}
    for p in s.scalars(select(Principal)):
        if "approver" in p.roles.split(",") and p.public_key:
            out[p.id] = p.public_key
    return out


def submit_proposal(ledger, actor: str, fields: Mapping[str, Any], signature: str) -> dict:
    """Store a proposal signed by its proposer (`actor`); logged as ``proposal.created``.
    GovernanceError (with the reason) if the fields, the Cedar policy or the signature are bad."""
    from skyfence.governance.db import Principal, Proposal

    fields = validate_proposal_fields(fields)
    if fields["proposer"] != actor:
        raise _db().Refused(f"proposal.proposer: {fields['proposer']!r} is not the caller {actor!r}")
    data = canonical_bytes(fields)
    digest = hashlib.sha256(data).hexdigest()
    with ledger.transaction() as tx:
        s = tx.session
        prin = s.get(Principal, actor)
        if prin is None or not prin.public_key:
            raise _db().Refused(f"proposer {actor!r} has no public key registered")
        if not verify_signature(prin.public_key, data, signature):
            raise _db().Refused("bad signature: not the proposer's signature of the proposal's "
                                  "canonical bytes")
        if fields["emergency"] and "approver" not in prin.roles.split(","):
            raise _db().Refused("an emergency proposal must come from an approver")
        if s.get(Proposal, fields["id"]) is not None:
            raise _db().Conflict(f"proposal {fields['id']} already exists")
        if tx.now_utc > fields["expires_utc"]:
            raise _db().Refused(f"proposal.expires_utc: already past ({fields['expires_utc']})")
        index = tx.append("proposal.created", actor, {"proposal": fields, "signature": signature,
                                                      "digest": digest})
        s.add(Proposal(id=fields["id"], proposer=actor, canonical=data.decode("utf-8"),
                       digest=digest, emergency=fields["emergency"],
                       effective_utc=fields["effective_utc"], expires_utc=fields["expires_utc"],
                       status="open", entry_index=index, enacted_index=None))
    return {"id": fields["id"], "digest": digest, "log_index": index}


def submit_approval(ledger, actor: str, proposal_id: str, signature: str) -> dict:
    """Record `actor`'s approval (signature over the proposal's canonical bytes). Logged as
    ``approval.added``; the approval that completes the quorum also appends ``policy.enacted`` in
    the same transaction. GovernanceError with the reason for a rejected approval."""
    from sqlalchemy import select

    from skyfence.governance.db import Approval, Proposal

    with ledger.transaction() as tx:
        s = tx.session
        prop = s.get(Proposal, proposal_id)
        if prop is None:
            raise _db().NotFound(f"no proposal {proposal_id!r}")
        fields = json.loads(prop.canonical)
        accepted = [a.approver for a in s.scalars(
            select(Approval).where(Approval.proposal_id == proposal_id).order_by(Approval.id))]
        attempt = ApprovalAttempt(actor, signature, tx.now_utc)
        why = reject_reason(fields, attempt, _approver_keys(s), accepted)
        if why:
            raise _db().Refused(f"approval rejected: {why}")
        index = tx.append("approval.added", actor, {"proposal_id": proposal_id,
                                                    "approver": actor, "signature": signature})
        s.add(Approval(proposal_id=proposal_id, approver=actor, signature=signature,
                       t_utc=tx.now_utc, entry_index=index))
        s.flush()
        need = required_approvals(ledger.quorum_k(s), bool(fields["emergency"]))
        enacted = None
        if prop.status == "open" and len(accepted) + 1 >= need:
            rows = list(s.scalars(select(Approval).where(Approval.proposal_id == proposal_id)
                                  .order_by(Approval.id)))
            enacted = tx.append("policy.enacted", actor, {
                "proposal_id": proposal_id, "digest": prop.digest,
                "policy_sha256": policy_sha256(fields), "emergency": bool(fields["emergency"]),
                "effective_utc": fields["effective_utc"],
                "approvals": [{"approver": a.approver, "signature": a.signature,
                               "entry_index": a.entry_index} for a in rows]})
            prop.status = "enacted"
            prop.enacted_index = enacted
        return {"proposal_id": proposal_id, "approver": actor, "log_index": index,
                "approvals": len(accepted) + 1, "needed": need, "enacted_index": enacted,
                "status": prop.status}


def proposal_view(p) -> dict:
    """A proposal row as a dict: the fields, canonical text, digest and status."""
    fields = json.loads(p.canonical)
    status = p.status
    if status == "open" and iso_utc() > p.expires_utc:
        status = "expired"
    return {"id": p.id, "fields": fields, "canonical": p.canonical, "digest": p.digest,
            "status": status, "emergency": p.emergency, "entry_index": p.entry_index,
            "enacted_index": p.enacted_index, "policy_sha256": policy_sha256(fields)}


def get_proposal(s, proposal_id: str) -> dict | None:
    from sqlalchemy import select

    from skyfence.governance.db import Approval, Proposal

    p = s.get(Proposal, proposal_id)
    if p is None:
        return None
    out = proposal_view(p)
    out["approvals"] = [{"approver": a.approver, "signature": a.signature, "t_utc": a.t_utc,
                         "entry_index": a.entry_index}
                        for a in s.scalars(select(Approval).where(Approval.proposal_id == p.id)
                                           .order_by(Approval.id))]
    return out


def list_proposals(s, *, status: str | None = None, offset: int = 0, limit: int = 100) -> list[dict]:
    from sqlalchemy import select

    from skyfence.governance.db import Proposal

    q = select(Proposal).order_by(Proposal.entry_index)
    if status:
        q = q.where(Proposal.status == status)
    return [proposal_view(p) for p in s.scalars(q.offset(max(0, offset)).limit(max(0, min(limit, 1000))))]


def enactments(s) -> list[Enactment]:
    """Every enactment, by log index (from the proposals table joined with the log entry times)."""
    from sqlalchemy import select

    from skyfence.governance.db import LogEntry, Proposal

    rows = s.execute(select(Proposal, LogEntry.t_utc).join(
        LogEntry, LogEntry.idx == Proposal.enacted_index).order_by(Proposal.enacted_index))
    out = []
    for p, t in rows:
        fields = json.loads(p.canonical)
        out.append(Enactment(index=p.enacted_index, t_utc=t, effective_utc=p.effective_utc,
                             proposal_id=p.id, policy_sha256=policy_sha256(fields),
                             emergency=p.emergency))
    return out


def policy_at(s, at_utc: dt.datetime | str) -> dict | None:
    """The policy set in force at `at_utc`: enactment, fields and approvals (None: no policy)."""
    e = policy_in_force(enactments(s), at_utc)
    if e is None:
        return None
    prop = get_proposal(s, e.proposal_id)
    return {"enacted_index": e.index, "enacted_utc": e.t_utc, "in_force_from_utc": e.in_force_from_utc,
            "proposal_id": e.proposal_id, "policy_sha256": e.policy_sha256, "emergency": e.emergency,
            "cedar": prop["fields"]["cedar"], "regions": prop["fields"]["regions"],
            "title": prop["fields"]["title"], "approvals": prop["approvals"], "proposal": prop}
