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

`EntryChecker` replays entries in order through `check` and `apply` and so re-verifies what the
Merkle tree cannot: the proposer's and every approver's Ed25519 signature over the proposal's
canonical bytes, that no public key belongs to two principals, that approvers held the role,
had distinct keys, did not hold the proposer's key and approved
before expiry, and that each ``policy.enacted`` lists exactly a valid quorum. `replay_state` runs
``apply`` only (a log verified before).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skyfence.errors import EntryError, GovernanceError, QuorumError
from skyfence.governance.rules.canonical import canonical_bytes, canonical_json
from skyfence.governance.rules.funding import FUNDING_KIND, check_funding_enacted
from skyfence.governance.rules.in_force import Enactment
from skyfence.governance.rules.proposal import policy_sha256, proposal_digest, verify_signature
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
    "replay_state",
    "apply_entry",
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
    """What a log has established up to some entry: principals (id -> roles, public key), API keys
    (SHA-256 -> principal), quorum k, proposals (id -> fields, with the proposal's entry index
    and digest in `proposal_entries`), accepted approvals (with their entry indices in
    `approval_entries`), enacted proposals (id -> entry index) and the enactments in log order."""

    principals: dict[str, dict] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)
    quorum_k: int = 2
    proposals: dict[str, dict] = field(default_factory=dict)
    proposal_entries: dict[str, tuple[int, str]] = field(default_factory=dict)
    accepted: dict[str, list[ApprovalAttempt]] = field(default_factory=dict)
    approval_entries: dict[str, list[int]] = field(default_factory=dict)
    enacted: dict[str, int] = field(default_factory=dict)
    enactments: list[Enactment] = field(default_factory=list)

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
        if check and kind.check is not None:
            kind.check(state, e)
        if kind.apply is not None:
            kind.apply(state, e)
    except GovernanceError as exc:
        raise type(exc)(f"entry {e.index} ({e.kind}): {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EntryError(f"entry {e.index} ({e.kind}): malformed data: {exc!r}") from None


class EntryChecker:
    """Checks entries' meaning: call it per entry in index order with the entry's bytes; raises
    `EntryError` (or `QuorumError`) naming the entry on failure. `state` is what the entries
    checked so far established."""

    def __init__(self) -> None:
        self.state = LogState()
        self.next_index = 0
        self.last_t = ""

    def __call__(self, index: int, data: bytes) -> None:
        where = f"entry {index}"
        e = parse_entry(index, data)
        if index != self.next_index:
            raise EntryError(f"{where}: records index {e.index}")
        if not isinstance(e.t_utc, str) or e.t_utc < self.last_t:
            raise EntryError(f"{where}: time goes backwards")
        self.next_index += 1
        self.last_t = e.t_utc
        _dispatch(self.state, e, check=True)


def replay_state(datas: Iterable[bytes]) -> LogState:
    """The state a log's entries (leaf data in index order) establish, applying each kind's
    `apply` without its checks (for a log verified before)."""
    state = LogState()
    for i, data in enumerate(datas):
        _dispatch(state, parse_entry(i, data), check=False)
    return state


def apply_entry(state: LogState, index: int, data: bytes) -> None:
    """Apply the entry at `index` (leaf data) to `state` in place, without its checks."""
    _dispatch(state, parse_entry(index, data), check=False)


# --------------------------------------------------------------------------- the kinds


def _apply_settings(state: LogState, e: Entry) -> None:
    if "quorum_k" in e.data:
        state.quorum_k = int(e.data["quorum_k"])


def _check_principal_added(state: LogState, e: Entry) -> None:
    pid, key = e.data["id"], e.data.get("public_key")
    if pid in state.principals:
        raise EntryError(f"principal {pid!r} added twice")
    holder = state.key_owner(key)
    if holder is not None:
        raise EntryError(f"public key of {pid!r} already belongs to principal {holder!r}")


def _apply_api_key(state: LogState, e: Entry) -> None:
    state.api_keys[e.data["key_sha256"]] = e.data["principal"]


def _apply_principal_added(state: LogState, e: Entry) -> None:
    state.principals[e.data["id"]] = {"roles": list(e.data["roles"]),
                                      "public_key": e.data.get("public_key")}


def _apply_principal_roles(state: LogState, e: Entry) -> None:
    state.principals[e.data["id"]]["roles"] = list(e.data["roles"])


def _check_proposal_created(state: LogState, e: Entry) -> None:
    fields = e.data["proposal"]
    proposer = fields["proposer"]
    if proposer != e.actor:
        raise EntryError(f"proposer {proposer!r} is not the actor {e.actor!r}")
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
    state.accepted[d["proposal_id"]].append(ApprovalAttempt(d["approver"], d["signature"], e.t_utc))
    state.approval_entries[d["proposal_id"]].append(e.index)


def _check_policy_enacted(state: LogState, e: Entry) -> None:
    d = e.data
    pid = d["proposal_id"]
    fields = state.proposals.get(pid)
    if fields is None:
        raise EntryError(f"enacts unknown proposal {pid}")
    if pid in state.enacted:
        raise EntryError(f"proposal {pid} already enacted at entry {state.enacted[pid]}")
    acc = state.accepted[pid]
    need = required_approvals(state.quorum_k, bool(fields["emergency"]))
    listed = [(a["approver"], a["signature"]) for a in d["approvals"]]
    if listed != [(a.approver, a.signature) for a in acc] or len(acc) < need:
        raise QuorumError(f"no valid quorum for proposal {pid}: {len(acc)} valid "
                          f"approval(s), {need} needed")
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


for _kind in (
    EntryKind("log.created", apply=_apply_settings),
    EntryKind("settings.set", apply=_apply_settings),
    EntryKind("principal.added", check=_check_principal_added, apply=_apply_principal_added),
    EntryKind("principal.roles", apply=_apply_principal_roles),
    EntryKind("apikey.added", apply=_apply_api_key),
    EntryKind("owner.set"),
    EntryKind("group.created"),
    EntryKind("terminal.registered"),
    EntryKind("terminals.imported"),
    EntryKind("terminal.status"),
    EntryKind("terminal.groups"),
    EntryKind("proposal.created", check=_check_proposal_created, apply=_apply_proposal_created),
    EntryKind("approval.added", check=_check_approval_added, apply=_apply_approval_added),
    EntryKind("policy.enacted", check=_check_policy_enacted, apply=_apply_policy_enacted),
    EntryKind(FUNDING_KIND, check=check_funding_enacted),
):
    register_kind(_kind)
