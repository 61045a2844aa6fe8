"""Funding agreements in the governance plane: signed changes in the log, what is in force, replay.

A sponsor is a principal with a key. Creating, extending or ending an agreement is a funding change
(:mod:`skyfence.governance.rules.funding`) signed by the sponsor and carrying the approvals of the
usual quorum; `submit_funding` appends it as one ``funding.enacted`` entry, in one transaction,
only after every rule holds (nothing is stored otherwise): the fields and the agreement are valid
(price >= 0, a period that ends after it starts), the sponsor is a principal whose signature
verifies, the approvals make the quorum, the agreement's group, terminals or region are known to
the log (groups and terminals of the registry, regions named by an enacted policy), and the change
fits the agreements the log already holds (`fold_agreements`).

`agreements_in_log` replays a log (export, SQLite database or server URL; verified first) into
the agreements in force, for ``skyfence funding list|report`` and for a scenario's
``[funding] log``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from skyfence.errors import GovernanceError, InvalidError, RefusedError
from skyfence.funding.agreements import Agreement
from skyfence.governance import audit
from skyfence.governance.log.export import export_entries
from skyfence.governance.rules.canonical import iso_utc, parse_utc
from skyfence.governance.rules.entries import Entry, check_entry, entry_bytes, parse_entry
from skyfence.governance.rules.funding import (
    FUNDING_KIND,
    FUNDING_TYPE,
    check_funding_enacted,
    fold_agreements,
    validate_change,
)

__all__ = ["make_funding_change", "submit_funding", "agreements_of_entries", "agreements_in_log",
           "funding_view"]


def make_funding_change(
    action: str,
    agreement: Mapping[str, Any],
    *,
    justification: str,
    created_utc: dt.datetime | str | None = None,
    expires_utc: dt.datetime | str | None = None,
    change_id: str | None = None,
) -> dict:
    """A funding change's fields (client side): the sponsor (``agreement["sponsor"]``) proposes;
    expiry 7 days after creation by default. `InvalidError` naming the field if malformed."""
    created = parse_utc(iso_utc(created_utc))
    fields = {
        "type": FUNDING_TYPE,
        "id": change_id or secrets.token_hex(16),
        "proposer": agreement.get("sponsor") if isinstance(agreement, Mapping) else None,
        "action": action,
        "agreement": dict(agreement),
        "justification": justification,
        "created_utc": iso_utc(created),
        "expires_utc": iso_utc(expires_utc if expires_utc is not None else created + dt.timedelta(days=7)),
    }
    validate_change(fields)
    return fields


def _known_targets(state, a: Agreement, regions: set[str]) -> None:
    where = f"agreement {a.id!r}"
    if a.covers == "group" and a.target[0] not in state.groups:
        raise InvalidError(f"{where}: unknown group {a.target[0]!r} (the registry's groups: "
                           f"{', '.join(sorted(state.groups)) or 'none'})")
    if a.covers == "terminals":
        missing = [t for t in a.target if t not in state.terminals]
        if missing:
            raise InvalidError(f"{where}: unknown terminal {missing[0]!r}")
    if a.covers == "region" and a.target[0] not in regions:
        raise InvalidError(f"{where}: unknown region {a.target[0]!r} (regions of enacted policies: "
                           f"{', '.join(sorted(regions)) or 'none'})")


def _funding_entries(s, ledger) -> list[tuple[int, str, Mapping[str, Any]]]:
    return [(e["index"], e["t_utc"], e["data"]) for e in ledger.entries(s) if e["kind"] == FUNDING_KIND]


def submit_funding(ledger, actor: str, change: Mapping[str, Any], sponsor_signature: str,
                   approvals: Sequence[Mapping[str, str]]) -> dict:
    """Append a funding change signed by its sponsor (`actor`) with its approvals, as one
    ``funding.enacted`` entry; GovernanceError with the reason otherwise (nothing stored)."""
    fields = dict(change)
    agreement = validate_change(fields)
    if not isinstance(approvals, Sequence) or not all(
            isinstance(a, Mapping) and set(a) == {"approver", "signature"} for a in approvals):
        raise InvalidError("approvals: a list of {approver, signature}")
    data = {"change": fields, "sponsor_signature": sponsor_signature,
            "approvals": [{"approver": a["approver"], "signature": a["signature"]} for a in approvals]}
    with ledger.transaction() as tx:
        s = tx.session
        state = ledger.state(s)
        regions = {r for en in state.enactments for r in (en.regions or {})}
        _known_targets(state, agreement, regions)
        probe = state.copy()
        try:
            check_funding_enacted(probe, Entry(tx.size, tx.now_utc, FUNDING_KIND, actor, data))
            fold_agreements([*_funding_entries(s, ledger), (tx.size, tx.now_utc, data)])
            # the exact bytes appended pass the log's own check too
            check_entry(probe, tx.size, entry_bytes(tx.size, tx.now_utc, FUNDING_KIND, actor, data))
        except GovernanceError as exc:
            raise RefusedError(str(exc).split(": ", 1)[-1] if str(exc).startswith("entry ") else str(exc)) from None
        index = tx.append(FUNDING_KIND, actor, data)
    return {"id": fields["id"], "agreement": agreement.id, "action": fields["action"], "log_index": index}


def agreements_of_entries(datas: Sequence[bytes]) -> dict[str, tuple[Agreement, list[dict]]]:
    """`fold_agreements` over a log's entries (leaf data in index order)."""
    entries = []
    for i, d in enumerate(datas):
        e = parse_entry(i, d)
        if e.kind == FUNDING_KIND:
            entries.append((e.index, e.t_utc, e.data))
    return fold_agreements(entries)


def agreements_in_log(source: str, *, verify_log: bool = True,
                      verifier_key: str | None = None) -> tuple[list[str], list[Agreement], dict]:
    """(sponsors: every principal of the log, agreements in force, histories by agreement id) of
    the log at `source` (export file, SQLite database or server URL), verified first."""
    from skyfence.governance.rules.entries import replay_state

    export = audit.load_log(source)
    if verify_log:
        audit.verify_log(export, verifier_key=verifier_key)
    datas = export_entries(export)
    folded = agreements_of_entries(datas)
    state = replay_state(datas)
    return sorted(state.principals), [a for a, _ in folded.values()], {k: h for k, (_, h) in folded.items()}


def funding_view(ledger, s) -> list[dict]:
    """The agreements the log holds (for ``GET /funding``): each agreement's table and history."""
    folded = fold_agreements(_funding_entries(s, ledger))
    return [{"agreement": a.to_dict(), "history": h} for a, h in folded.values()]


def log_funded_set(source: str, t_utc, *, verifier_key: str | None = None):
    """(FundedSet, terminal ids) of the log at `source` (verified first) over the instants `t_utc`:
    the agreements in force and the registry's terminals (not suspended) with their groups and positions
    (region agreements: the regions named by the log's enacted policies, point in polygon)."""
    import numpy as np

    from skyfence.funding.resolve import resolve
    from skyfence.governance.rules.entries import replay_state

    export = audit.load_log(source)
    audit.verify_log(export, verifier_key=verifier_key)
    datas = export_entries(export)
    agreements = [a for a, _ in agreements_of_entries(datas).values()]
    state = replay_state(datas)
    ids = sorted(t for t, row in state.terminals.items() if row[3] != "suspended")
    groups = [state.terminal_groups.get(t, ()) for t in ids]
    codes, sets = np.zeros(len(ids), np.int64), [()]
    regions = {k: v for en in state.enactments for k, v in (en.regions or {}).items()}
    if regions and any(a.covers == "region" for a in agreements):
        from skyfence.policy.regionset import RegionSet

        lat = np.array([state.terminals[t][0] for t in ids], float)
        lon = np.array([state.terminals[t][1] for t in ids], float)
        ls = RegionSet.from_specs(regions, 5).point_region_labels(lat, lon)
        codes, sets = ls.codes.astype(np.int64), list(ls.sets)
    sponsors = sorted(set(state.principals) | {a.sponsor for a in agreements})
    fs = resolve(agreements, ids, groups, np.asarray(t_utc), region_codes=codes, region_sets=sets,
                 sponsors=sponsors[:64] if len(sponsors) > 64 else sponsors)
    return fs, ids
