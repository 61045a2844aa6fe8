"""Quorum: which approvals a proposal accepts and how many it needs.

An approval is accepted iff: the approver currently holds the ``approver`` role and a public key;
neither the approver nor the approver's public key is the proposer's (no self-approval: keys are
compared, so one person holding two principal ids cannot approve their own proposal); it is the
first accepted approval of that key for that proposal (distinct approvers are distinct keys); it arrives no later than the proposal's ``expires_utc``; and
its signature verifies over *this* proposal's canonical bytes with the approver's key (a signature
made over another proposal never verifies here). A policy proposal is enacted when ``k``
approvals are accepted (the genesis' ``quorum.policy``, changed only by a membership change); a
membership proposal needs ``m`` (``quorum.membership``); an **emergency** policy proposal needs
``e`` (``quorum.emergency``, at least 1: with the proposer, two distinct signers) and is marked
``emergency`` in the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skyfence.errors import QuorumError
from skyfence.governance.rules.canonical import canonical_bytes
from skyfence.governance.rules.proposal import verify_signature

__all__ = ["ApprovalAttempt", "required_approvals", "reject_reason", "evaluate_approvals"]


@dataclass(frozen=True)
class ApprovalAttempt:
    """One approval as submitted: who, their signature (hex), and when it arrived (ISO UTC)."""

    approver: str
    signature: str
    t_utc: str


def required_approvals(quorum_k: int, emergency: bool, *, membership_k: int | None = None,
                       emergency_k: int = 1) -> int:
    """Accepted approvals needed: `membership_k` for a membership proposal (given), else
    `emergency_k` for an emergency (at least 1: proposer + 1 = two distinct signers), else k."""
    need = membership_k if membership_k is not None else (emergency_k if emergency else quorum_k)
    if int(need) < 1:
        raise QuorumError("a quorum must be at least 1")
    return int(need)


def reject_reason(
    fields: Mapping[str, Any],
    attempt: ApprovalAttempt,
    approver_keys: Mapping[str, str],
    accepted: Iterable[str],
    public_keys: Mapping[str, str | None] | None = None,
) -> str | None:
    """Why `attempt` must be rejected (None: accept). `approver_keys` maps every current holder of
    the approver role to their public key (hex); `accepted` are approvers already accepted;
    `public_keys` maps every principal to its key (default `approver_keys`), to compare the
    approver's key with the proposer's and the accepted approvers'."""
    keys = dict(public_keys if public_keys is not None else approver_keys)
    keys.update(approver_keys)
    if attempt.approver == fields["proposer"]:
        return "self-approval: the proposer cannot approve their own proposal"
    if attempt.approver not in approver_keys:
        return f"{attempt.approver!r} is not an approver (or has no public key)"
    key = approver_keys[attempt.approver]
    if key == keys.get(fields["proposer"]):
        return (f"self-approval: {attempt.approver!r} holds the proposer's public key "
                f"({fields['proposer']!r})")
    accepted = list(accepted)
    if attempt.approver in set(accepted):
        return f"{attempt.approver!r} has already approved this proposal"
    same = [a for a in accepted if keys.get(a) == key]
    if same:
        return f"{attempt.approver!r} holds the key of {same[0]!r}, who already approved"
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
    public_keys: Mapping[str, str | None] | None = None,
) -> tuple[list[ApprovalAttempt], int | None]:
    """Replay approval attempts in order: (accepted attempts, position in `attempts` of the one that
    completed the quorum, or None). Attempts after the quorum are still checked and accepted.
    `quorum_k`: the approvals this proposal needs (emergency: 1)."""
    need = required_approvals(quorum_k, bool(fields["emergency"]))
    accepted: list[ApprovalAttempt] = []
    done_at: int | None = None
    for i, a in enumerate(attempts):
        if reject_reason(fields, a, approver_keys, [x.approver for x in accepted],
                         public_keys) is None:
            accepted.append(a)
            if done_at is None and len(accepted) >= need:
                done_at = i
    return accepted, done_at
