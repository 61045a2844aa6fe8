"""Which enacted policy set is in force at an instant.

A policy set enacted by the log entry at index ``index`` (appended at ``t_utc``) is in force from
``max(t_utc, effective_utc)``; at any instant the policy in force is the enactment with the
greatest log index among those already in force. Before any there is no policy (everything
covered is served, as in ``skyfence run`` without a policy). The server (`governance.policies`),
the replay of a log (`governance.replay`) and receipts all use `policy_in_force`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skyfence.governance.rules.canonical import iso_utc

__all__ = ["Enactment", "policy_in_force"]


@dataclass(frozen=True)
class Enactment:
    """A proposal enacted by the log entry at `index` (appended at `t_utc`): the policy set's
    hash, its Cedar text and its named regions (region name -> spec)."""

    index: int
    t_utc: str
    effective_utc: str
    proposal_id: str
    policy_sha256: str
    emergency: bool = False
    cedar: str = field(default="", repr=False, compare=False)
    regions: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def in_force_from_utc(self) -> str:
        """The policy is in force from the later of its enactment entry and its effective time."""
        return max(self.t_utc, self.effective_utc)

    def summary(self) -> dict[str, Any]:
        """The enactment as JSON data, without the policy text."""
        return {"index": self.index, "t_utc": self.t_utc, "effective_utc": self.effective_utc,
                "proposal_id": self.proposal_id, "policy_sha256": self.policy_sha256,
                "emergency": self.emergency, "in_force_from_utc": self.in_force_from_utc}


def policy_in_force(enactments: Iterable[Enactment], at_utc: dt.datetime | str) -> Enactment | None:
    """The enactment in force at `at_utc`: greatest log index among those in force by then."""
    at = iso_utc(at_utc)
    best: Enactment | None = None
    for e in enactments:
        if e.in_force_from_utc <= at and (best is None or e.index > best.index):
            best = e
    return best
