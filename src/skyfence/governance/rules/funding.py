"""Funding changes in the governance log: creating, extending or ending a funding agreement.

A funding change (type ``skyfence.funding.v1``) is a document with the fields ``type``, ``id`` (8-64
hex), ``proposer`` (the sponsor's principal id), ``action`` (``create``, ``extend`` or ``end``),
``agreement`` (the agreement's table, :mod:`skyfence.funding.agreements`, in full),
``justification``, ``created_utc`` and ``expires_utc``. It lands in the log as ONE entry of kind
``funding.enacted`` whose data are ``{"change", "sponsor_signature", "approvals"}``, and only with:

* the sponsor's own signature: the agreement's ``sponsor`` is the ``proposer`` and the entry's
  actor, a principal with a key, whose Ed25519 signature over the change's canonical bytes
  verifies;
* the usual quorum: at least the log's policy quorum k of approvals, each accepted by the same
  rules as a policy approval (:func:`skyfence.governance.rules.quorum.reject_reason`: an
  approver with a key, not the sponsor nor holding the sponsor's key, distinct keys, before
  expiry, a valid signature of the same bytes).

`check_funding_enacted` is the entry kind's check (registered in
:mod:`skyfence.governance.rules.entries`). What the changes establish, in log order, is
`fold_agreements`: ``create`` needs a new agreement id; ``extend`` and ``end`` name an existing
agreement of the same sponsor and change only its ``end`` (later for ``extend``, not later for
``end``). `fold_agreements` raises `EntryError` naming the entry for a change that breaks these
rules; the server runs it before appending, and replay runs it on every log it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from skyfence.errors import EntryError, FundingError, InvalidError, QuorumError
from skyfence.funding.agreements import Agreement, parse_agreement
from skyfence.governance.rules.canonical import canonical_bytes, iso_utc, parse_utc
from skyfence.governance.rules.proposal import verify_signature
from skyfence.governance.rules.quorum import ApprovalAttempt, reject_reason

__all__ = ["FUNDING_TYPE", "FUNDING_KIND", "ACTIONS", "validate_change", "check_funding_enacted",
           "fold_agreements"]

FUNDING_TYPE = "skyfence.funding.v1"
FUNDING_KIND = "funding.enacted"
ACTIONS = ("create", "extend", "end")
_FIELDS = {"type", "id", "proposer", "action", "agreement", "justification", "created_utc", "expires_utc"}


def validate_change(fields: Mapping[str, Any]) -> Agreement:
    """Check a funding change's fields; returns its agreement. `InvalidError` naming the field."""
    if not isinstance(fields, Mapping):
        raise InvalidError("funding change: must be a JSON object")
    missing, extra = sorted(_FIELDS - set(fields)), sorted(set(fields) - _FIELDS)
    if missing:
        raise InvalidError(f"funding change: missing field(s) {', '.join(missing)}")
    if extra:
        raise InvalidError(f"funding change: unknown field(s) {', '.join(extra)}")
    if fields["type"] != FUNDING_TYPE:
        raise InvalidError(f"funding change.type: must be {FUNDING_TYPE!r}")
    pid = fields["id"]
    if not (isinstance(pid, str) and 8 <= len(pid) <= 64 and all(c in "0123456789abcdef" for c in pid)):
        raise InvalidError("funding change.id: must be 8-64 lowercase hex characters")
    if fields["action"] not in ACTIONS:
        raise InvalidError(f"funding change.action: must be one of {', '.join(ACTIONS)}")
    if not isinstance(fields["justification"], str) or not fields["justification"].strip():
        raise InvalidError("funding change.justification: must not be empty")
    for key in ("created_utc", "expires_utc"):
        if fields[key] != iso_utc(parse_utc(fields[key], f"funding change.{key}")):
            raise InvalidError(f"funding change.{key}: must be written as YYYY-MM-DDThh:mm:ss.ffffffZ")
    if fields["expires_utc"] <= fields["created_utc"]:
        raise InvalidError("funding change.expires_utc: must be after created_utc")
    try:
        agreement = parse_agreement(fields["agreement"])
    except FundingError as exc:
        raise InvalidError(str(exc)) from None
    if fields["proposer"] != agreement.sponsor:
        raise InvalidError(f"funding change.proposer: {fields['proposer']!r} is not the agreement's sponsor "
                           f"{agreement.sponsor!r}")
    canonical_bytes(dict(fields))
    return agreement


def check_funding_enacted(state, e) -> None:
    """The ``funding.enacted`` rules against the log's state (principals, keys, quorum k)."""
    d = e.data
    fields = d["change"]
    try:
        validate_change(fields)
    except InvalidError as exc:
        raise EntryError(str(exc)) from None
    sponsor = fields["proposer"]
    if e.actor != sponsor:
        raise EntryError(f"the actor {e.actor!r} is not the sponsor {sponsor!r}")
    if sponsor not in state.principals:
        raise EntryError(f"unknown sponsor {sponsor!r}: a sponsor is a principal with a key")
    key = state.principals[sponsor].get("public_key")
    if not verify_signature(key, canonical_bytes(dict(fields)), d["sponsor_signature"]):
        raise EntryError(f"no valid signature of sponsor {sponsor!r} on funding change {fields['id']}")
    if e.t_utc > fields["expires_utc"]:
        raise EntryError(f"funding change {fields['id']} expired at {fields['expires_utc']}")
    accepted: list[str] = []
    for a in d["approvals"]:
        why = reject_reason(fields, ApprovalAttempt(a["approver"], a["signature"], e.t_utc),
                            state.approver_keys(), accepted, state.public_keys())
        if why:
            raise EntryError(f"approval by {a['approver']!r} invalid: {why}")
        accepted.append(a["approver"])
    if len(accepted) < state.quorum_k:
        raise QuorumError(f"no valid quorum for funding change {fields['id']}: {len(accepted)} valid "
                          f"approval(s), {state.quorum_k} needed")


def fold_agreements(entries: Iterable[tuple[int, str, Mapping[str, Any]]]) -> dict[str, tuple[Agreement, list[dict]]]:
    """Agreement id -> (the agreement as the log's changes leave it, its history ``[{index, t_utc,
    action, change_id}]``), from ``(index, t_utc, data)`` of the ``funding.enacted`` entries in log
    order. `EntryError` naming the entry for a change that breaks the rules of the module."""
    out: dict[str, tuple[Agreement, list[dict]]] = {}
    for index, t_utc, data in entries:
        fields = data["change"]
        try:
            a = validate_change(fields)
        except InvalidError as exc:
            raise EntryError(f"entry {index} ({FUNDING_KIND}): {exc}") from None
        where = f"entry {index} ({FUNDING_KIND}): agreement {a.id!r}"
        action = fields["action"]
        old = out.get(a.id)
        if action == "create":
            if old is not None:
                raise EntryError(f"{where}: created twice")
        else:
            if old is None:
                raise EntryError(f"{where}: {action} of an agreement the log never created")
            prev = old[0]
            if prev.sponsor != a.sponsor:
                raise EntryError(f"{where}: belongs to sponsor {prev.sponsor!r}, not {a.sponsor!r}")
            from dataclasses import replace

            if replace(prev, end_utc=a.end_utc) != a:
                raise EntryError(f"{where}: {action} may change only the end of the period")
            if action == "extend" and not a.end_utc > prev.end_utc:
                raise EntryError(f"{where}: extend must move the end later than {prev.end_utc}Z")
            if action == "end" and a.end_utc > prev.end_utc:
                raise EntryError(f"{where}: end must not move the end later than {prev.end_utc}Z")
        history = ([] if old is None else old[1]) + [{"index": index, "t_utc": t_utc, "action": action,
                                                      "change_id": fields["id"]}]
        out[a.id] = (a, history)
    return out
