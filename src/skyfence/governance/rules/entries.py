"""Log entries of a governance log and what each kind means, dispatched through a table.

Entry format
------------
An entry's bytes (the Merkle leaf data) are the canonical JSON (`canonical_bytes`) of
``{"index", "t_utc", "kind", "actor", "data"}``; ``t_utc`` is the server's clock at append.

Kinds
-----
`ENTRY_KINDS` maps each kind name to an `EntryKind`: ``check(state, entry)`` raises
`EntryError` when the entry breaks a rule given what the log established before it, and
``apply(state, entry)`` records what the entry establishes in a `LogState`. A kind with neither is
a record the log carries without rules of its own (the terminal registry). A new kind registers
its handler with `register_kind`; an entry of an unregistered kind is an error, both when it is
appended (`skyfence.governance.ledger.Tx.append`) and when a log is verified.

`check_entry` (and `EntryChecker`, per entry in order) runs `check` and `apply` and so
re-verifies what the Merkle tree cannot: that the log starts with a ``genesis`` signed by every
founder (:mod:`skyfence.governance.rules.membership`) and has no other; the proposer's and every
approver's Ed25519 signature over the proposal's canonical bytes; that approvers held the role,
had distinct keys, did not hold the proposer's key and approved before expiry; that each
``policy.enacted`` and ``membership.enacted`` lists exactly a valid quorum (m approvals for a
membership change) and that a membership change keeps one key per principal. Membership and
quorums change only through ``genesis`` and ``membership.enacted``: there is no entry kind that
adds a principal or sets a quorum by itself. `replay_state` runs ``apply`` only (a log verified
before). The registry's kinds (owners, groups, terminals) have no rules of their own; their
``apply`` derives the registry tables the server acts on.

Size: over 400 lines because the dispatch table, the state it builds and every kind's check and
apply (each a few lines) are read together: a rule is only clear next to the state it reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from skyfence.errors import EntryError, GovernanceError, InvalidError, QuorumError
from skyfence.governance.rules.canonical import canonical_bytes, canonical_json
from skyfence.governance.rules.funding import FUNDING_KIND, check_funding_enacted
from skyfence.governance.rules.in_force import Enactment
from skyfence.governance.rules.membership import apply_changes, genesis_message, validate_genesis
from skyfence.governance.rules.proposal import (
    is_membership,
    policy_sha256,
    proposal_digest,
    validate_proposal_fields,
    verify_signature,
)
from skyfence.governance.rules.quorum import ApprovalAttempt, reject_reason, required_approvals

__all__ = [
    "ENTRY_FIELDS",
    "Entry",
    "LogState",
    "EntryKind",
    "ENTRY_KINDS",
    "register_kind",
    "entry_kind",
    "entry_bytes",
    "parse_entry",
    "EntryChecker",
    "check_entry",
    "replay_state",
]

ENTRY_FIELDS = frozenset({"index", "t_utc", "kind", "actor", "data"})


@dataclass(frozen=True)
class Entry:
    """One parsed log entry."""

    index: int
    t_utc: str
    kind: str
    actor: str
    data: Mapping[str, Any]


@dataclass
class LogState:
    """What a log has established up to some entry (`size` entries, the last at `last_t`): the
    log's verifier key, principals (id -> roles, public key), API keys (SHA-256 -> principal), the
    quorums (policy k, membership m, emergency e), proposals (id -> fields, with the proposal's
    entry index and digest in `proposal_entries`), accepted approvals (with their entry indices in
    `approval_entries`), enacted proposals (id -> entry index), the policy enactments in log
    order, and the terminal registry (owners, groups, terminals, terminal groups)."""

    size: int = 0
    last_t: str = ""
    log_key: str | None = None
    principals: dict[str, dict] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)
    quorum_k: int = 2
    membership_k: int = 2
    emergency_k: int = 1
    proposals: dict[str, dict] = field(default_factory=dict)
    proposal_entries: dict[str, tuple[int, str]] = field(default_factory=dict)
    accepted: dict[str, list[ApprovalAttempt]] = field(default_factory=dict)
    approval_entries: dict[str, list[int]] = field(default_factory=dict)
    enacted: dict[str, int] = field(default_factory=dict)
    enactments: list[Enactment] = field(default_factory=list)
    owners: dict[str, int | None] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    terminals: dict[str, tuple] = field(default_factory=dict)
    terminal_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def copy(self) -> LogState:
        """An independent copy (handlers replace values instead of changing them in place, so
        copying the containers is enough)."""
        return replace(
            self, principals=dict(self.principals), api_keys=dict(self.api_keys),
            proposals=dict(self.proposals), proposal_entries=dict(self.proposal_entries),
            accepted={k: list(v) for k, v in self.accepted.items()},
            approval_entries={k: list(v) for k, v in self.approval_entries.items()},
            enacted=dict(self.enacted), enactments=list(self.enactments),
            owners=dict(self.owners), groups=dict(self.groups), terminals=dict(self.terminals),
            terminal_groups=dict(self.terminal_groups))

    def needed(self, fields: Mapping[str, Any]) -> int:
        """Approvals the proposal `fields` needs: m for a membership change, e for an
        emergency, k otherwise."""
        return required_approvals(self.quorum_k, bool(fields["emergency"]),
                                  membership_k=self.membership_k if is_membership(fields) else None,
                                  emergency_k=self.emergency_k)

    def approver_keys(self) -> dict[str, str]:
        """Principal id -> public key (hex) of every current approver with a key."""
        return {p: v["public_key"] for p, v in self.principals.items()
                if "approver" in v["roles"] and v.get("public_key")}

    def public_keys(self) -> dict[str, str | None]:
        """Principal id -> public key (hex, or None) of every principal."""
        return {p: v.get("public_key") for p, v in self.principals.items()}

    def key_owner(self, public_key: str | None) -> str | None:
        """The principal holding `public_key` (None: nobody, or no key given)."""
        if not public_key:
            return None
        return next((p for p, v in self.principals.items()
                     if v.get("public_key") == public_key), None)


Handler = Callable[[LogState, Entry], None]


@dataclass(frozen=True)
class EntryKind:
    """The rules of one entry kind: `check` (raise `EntryError`) and `apply` (update the state)."""

    name: str
    check: Handler | None = None
    apply: Handler | None = None


ENTRY_KINDS: dict[str, EntryKind] = {}


def register_kind(kind: EntryKind) -> EntryKind:
    """Add `kind` to `ENTRY_KINDS`; `GovernanceError` if its name is taken."""
    if kind.name in ENTRY_KINDS:
        raise GovernanceError(f"entry kind {kind.name!r} is already registered")
    ENTRY_KINDS[kind.name] = kind
    return kind


def entry_kind(name: str) -> EntryKind:
    """The registered handler of kind `name`; `EntryError` for an unknown kind."""
    try:
        return ENTRY_KINDS[name]
    except (KeyError, TypeError):
        raise EntryError(f"unknown entry kind {name!r}") from None


def entry_bytes(index: int, t_utc: str, kind: str, actor: str, data: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a log entry (the Merkle leaf data)."""
    return canonical_bytes({"index": index, "t_utc": t_utc, "kind": kind, "actor": actor,
                            "data": dict(data)})


def parse_entry(index: int, data: bytes) -> Entry:
    """The entry at `index` from its leaf data; `EntryError` unless it is canonical JSON of a
    skyfence log entry recording that index."""
    where = f"entry {index}"
    try:
        e = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EntryError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(e, dict) or set(e) != ENTRY_FIELDS:
        raise EntryError(f"{where}: not a skyfence log entry")
    if canonical_json(e).encode("utf-8") != data:
        raise EntryError(f"{where}: not in canonical form")
    if e["index"] != index:
        raise EntryError(f"{where}: records index {e['index']}")
    return Entry(index, e["t_utc"], e["kind"], e["actor"], e["data"])


def _dispatch(state: LogState, e: Entry, *, check: bool) -> None:
    kind = entry_kind(e.kind)
    try:
        if check:
            if e.index != state.size:
                raise EntryError(f"records index {e.index}, expected {state.size}")
            if not isinstance(e.t_utc, str) or e.t_utc < state.last_t:
                raise EntryError("time goes backwards")
            if (e.kind == "genesis") != (e.index == 0):
                raise EntryError("the log's first entry, and only it, is its genesis")
            if kind.check is not None:
                kind.check(state, e)
        if kind.apply is not None:
            kind.apply(state, e)
    except GovernanceError as exc:
        raise type(exc)(f"entry {e.index} ({e.kind}): {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EntryError(f"entry {e.index} ({e.kind}): malformed data: {exc!r}") from None
    state.size = e.index + 1
    state.last_t = e.t_utc if isinstance(e.t_utc, str) else state.last_t


def check_entry(state: LogState, index: int, data: bytes) -> None:
    """Check the entry at `index` (leaf data) against `state` and apply it in place; raises
    `EntryError` (or `QuorumError`) naming the entry when it breaks a rule (and then `state` may
    be partly changed: check on a copy)."""
    _dispatch(state, parse_entry(index, data), check=True)


class EntryChecker:
    """Checks entries' meaning: call it per entry in index order with the entry's bytes; raises
    `EntryError` (or `QuorumError`) naming the entry on failure. `state` is what the entries
    checked so far established."""

    def __init__(self) -> None:
        self.state = LogState()

    @property
    def next_index(self) -> int:
        return self.state.size

    def __call__(self, index: int, data: bytes) -> None:
        check_entry(self.state, index, data)


def replay_state(datas: Iterable[bytes]) -> LogState:
    """The state a log's entries (leaf data in index order) establish, applying each kind's
    `apply` without its checks (for a log verified before)."""
    state = LogState()
    for i, data in enumerate(datas):
        _dispatch(state, parse_entry(i, data), check=False)
    return state


# --------------------------------------------------------------------------- the kinds


def _check_genesis(state: LogState, e: Entry) -> None:
    if e.actor != "genesis":
        raise EntryError("the genesis' actor must be 'genesis'")
    try:
        doc = validate_genesis(e.data)
    except InvalidError as exc:
        raise EntryError(str(exc)) from None
    sigs = e.data["signatures"]
    founders = {p["id"]: p["public_key"] for p in doc["principals"]}
    if not isinstance(sigs, Mapping) or set(sigs) != set(founders):
        raise EntryError("the genesis must carry exactly one signature per founder")
    msg = genesis_message(doc)
    bad = sorted(p for p, key in founders.items() if not verify_signature(key, msg, sigs[p]))
    if bad:
        raise EntryError(f"bad genesis signature of {', '.join(map(repr, bad))}")


def _apply_genesis(state: LogState, e: Entry) -> None:
    d = e.data
    state.log_key = d["verifier_key"]
    for p in d["principals"]:
        state.principals[p["id"]] = {"roles": list(p["roles"]), "public_key": p["public_key"]}
        for h in p["api_keys"]:
            state.api_keys[h] = p["id"]
    q = d["quorum"]
    state.quorum_k, state.membership_k, state.emergency_k = (
        q["policy"], q["membership"], q["emergency"])


def _check_proposal_created(state: LogState, e: Entry) -> None:
    fields = e.data["proposal"]
    proposer = fields["proposer"]
    if proposer != e.actor:
        raise EntryError(f"proposer {proposer!r} is not the actor {e.actor!r}")
    try:
        validate_proposal_fields(fields, check_policy=False)
    except InvalidError as exc:
        raise EntryError(str(exc)) from None
    key = state.principals.get(proposer, {}).get("public_key")
    if not verify_signature(key, canonical_bytes(fields), e.data["signature"]):
        raise EntryError(f"bad proposer signature on proposal {fields['id']}")
    if proposal_digest(fields) != e.data["digest"]:
        raise EntryError("digest does not match the proposal")
    if fields["id"] in state.proposals:
        raise EntryError(f"proposal {fields['id']} proposed twice")


def _apply_proposal_created(state: LogState, e: Entry) -> None:
    fields = e.data["proposal"]
    state.proposals[fields["id"]] = fields
    state.proposal_entries[fields["id"]] = (e.index, e.data["digest"])
    state.accepted[fields["id"]] = []
    state.approval_entries[fields["id"]] = []


def _check_approval_added(state: LogState, e: Entry) -> None:
    d = e.data
    fields = state.proposals.get(d["proposal_id"])
    if fields is None:
        raise EntryError(f"approval of unknown proposal {d['proposal_id']}")
    if d["approver"] != e.actor:
        raise EntryError("approver is not the actor")
    why = reject_reason(fields, ApprovalAttempt(d["approver"], d["signature"], e.t_utc),
                        state.approver_keys(), [a.approver for a in state.accepted[d["proposal_id"]]],
                        state.public_keys())
    if why:
        raise EntryError(f"approval by {d['approver']!r} invalid: {why}")


def _apply_approval_added(state: LogState, e: Entry) -> None:
    d = e.data
    pid = d["proposal_id"]
    state.accepted[pid] = [*state.accepted[pid], ApprovalAttempt(d["approver"], d["signature"],
                                                                 e.t_utc)]
    state.approval_entries[pid] = [*state.approval_entries[pid], e.index]


def _check_quorum(state: LogState, e: Entry, membership: bool) -> dict:
    d = e.data
    pid = d["proposal_id"]
    fields = state.proposals.get(pid)
    if fields is None:
        raise EntryError(f"enacts unknown proposal {pid}")
    if is_membership(fields) != membership:
        raise EntryError(f"proposal {pid} is not a {'membership' if membership else 'policy'} "
                         "proposal")
    if pid in state.enacted:
        raise EntryError(f"proposal {pid} already enacted at entry {state.enacted[pid]}")
    acc = state.accepted[pid]
    need = state.needed(fields)
    listed = [(a["approver"], a["signature"]) for a in d["approvals"]]
    if listed != [(a.approver, a.signature) for a in acc] or len(acc) < need:
        raise QuorumError(f"no valid quorum for proposal {pid}: {len(acc)} valid "
                          f"approval(s), {need} needed")
    if d["digest"] != state.proposal_entries[pid][1]:
        raise EntryError("digest differs from the proposal")
    return fields


def _check_policy_enacted(state: LogState, e: Entry) -> None:
    d = e.data
    fields = _check_quorum(state, e, membership=False)
    if bool(d["emergency"]) != bool(fields["emergency"]):
        raise EntryError("emergency flag differs from the proposal")
    if d["policy_sha256"] != policy_sha256(fields):
        raise EntryError("policy hash differs from the proposal")


def _apply_policy_enacted(state: LogState, e: Entry) -> None:
    fields = state.proposals[e.data["proposal_id"]]
    state.enacted[fields["id"]] = e.index
    state.enactments.append(Enactment(
        index=e.index, t_utc=e.t_utc, effective_utc=fields["effective_utc"],
        proposal_id=fields["id"], policy_sha256=policy_sha256(fields),
        emergency=bool(fields["emergency"]), cedar=fields["cedar"], regions=fields["regions"]))


def _check_membership_enacted(state: LogState, e: Entry) -> None:
    fields = _check_quorum(state, e, membership=True)
    if e.data["changes"] != fields["changes"]:
        raise EntryError("changes differ from the proposal")
    apply_changes(state.copy(), fields["changes"])


def _apply_membership_enacted(state: LogState, e: Entry) -> None:
    fields = state.proposals[e.data["proposal_id"]]
    state.enacted[fields["id"]] = e.index
    apply_changes(state, fields["changes"])


def _apply_owner_set(state: LogState, e: Entry) -> None:
    state.owners[e.data["owner"]] = e.data["max_terminals"]


def _new_groups(state: LogState, e: Entry) -> None:
    for g in e.data.get("new_groups") or []:
        state.groups[g] = ""


def _apply_group_created(state: LogState, e: Entry) -> None:
    state.groups[e.data["group"]] = e.data["description"]


def _apply_terminal_registered(state: LogState, e: Entry) -> None:
    d = e.data
    _new_groups(state, e)
    state.terminals[d["id"]] = (d["lat_deg"], d["lon_deg"], d["owner"], d["status"])
    state.terminal_groups[d["id"]] = tuple(sorted(d["groups"]))


def _apply_terminals_imported(state: LogState, e: Entry) -> None:
    _new_groups(state, e)
    for tid, lat, lon, owner, groups, status in e.data["rows"]:
        state.terminals[tid] = (lat, lon, owner, status)
        state.terminal_groups[tid] = tuple(sorted(groups))


def _apply_terminal_status(state: LogState, e: Entry) -> None:
    lat, lon, owner, _ = state.terminals[e.data["id"]]
    state.terminals[e.data["id"]] = (lat, lon, owner, e.data["to"])


def _apply_terminal_groups(state: LogState, e: Entry) -> None:
    _new_groups(state, e)
    state.terminal_groups[e.data["id"]] = tuple(sorted(e.data["to"]))


for _kind in (
    EntryKind("genesis", check=_check_genesis, apply=_apply_genesis),
    EntryKind("owner.set", apply=_apply_owner_set),
    EntryKind("group.created", apply=_apply_group_created),
    EntryKind("terminal.registered", apply=_apply_terminal_registered),
    EntryKind("terminals.imported", apply=_apply_terminals_imported),
    EntryKind("terminal.status", apply=_apply_terminal_status),
    EntryKind("terminal.groups", apply=_apply_terminal_groups),
    EntryKind("proposal.created", check=_check_proposal_created, apply=_apply_proposal_created),
    EntryKind("approval.added", check=_check_approval_added, apply=_apply_approval_added),
    EntryKind("policy.enacted", check=_check_policy_enacted, apply=_apply_policy_enacted),
    EntryKind("membership.enacted", check=_check_membership_enacted,
              apply=_apply_membership_enacted),
    EntryKind(FUNDING_KIND, check=check_funding_enacted),
):
    register_kind(_kind)
