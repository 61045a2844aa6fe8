"""Replay of a governance log: which enacted policy set is in force at each instant.

``skyfence run`` with ``[policy] log = ...`` reads the log (an export file, a SQLite governance
database or a server URL, see `skyfence.governance.audit.load_log`), verifies it with the
governance checks, replays its entries and gives each time step the policy set in force then
(`skyfence.governance.rules.in_force.policy_in_force`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from skyfence.governance import audit
from skyfence.governance.log.export import export_entries
from skyfence.governance.rules.entries import replay_state
from skyfence.governance.rules.in_force import Enactment, policy_in_force

__all__ = ["policy_timeline", "load_policy_timeline", "policy_segments"]


def policy_timeline(export: Mapping[str, Any]) -> list[Enactment]:
    """Every policy set enacted in an export, in log order (with its Cedar text and regions).
    Verify the export first (`skyfence.governance.audit.verify_log`)."""
    return replay_state(export_entries(export)).enactments


def load_policy_timeline(source: str, *, verify_log: bool = True,
                         verifier_key: str | None = None) -> list[Enactment]:
    """`policy_timeline` of the log at `source` (export file, SQLite database or server URL),
    verified first unless `verify_log` is False."""
    export = audit.load_log(source)
    if verify_log:
        audit.verify_log(export, verifier_key=verifier_key)
    return policy_timeline(export)


def policy_segments(source: str, t_utc: np.ndarray, *,
                    verifier_key: str | None = None) -> list[tuple[Enactment | None, np.ndarray]]:
    """[(enactment in force or None, indices of the times it covers)] for the instants `t_utc`
    (datetime64, UTC) from the verified log at `source`, by log index (None first: before any
    enactment everything covered is served)."""
    timeline = load_policy_timeline(source, verifier_key=verifier_key)
    times = np.asarray(t_utc).astype("datetime64[us]")
    in_force = [policy_in_force(timeline, t.item()) for t in times]
    keys = np.array([-1 if p is None else p.index for p in in_force], dtype=np.int64)
    steps = np.arange(len(times))
    out = []
    for key in np.unique(keys):
        idx = steps[keys == key]
        out.append((in_force[int(idx[0])], idx))
    return out
