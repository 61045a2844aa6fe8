"""Membership of a governance log: the genesis document and membership changes.

Genesis
-------
A log starts with ONE ``genesis`` entry (index 0) whose data is the genesis document plus the
founders' signatures::

    {"type": "skyfence.genesis.v1", "origin": ..., "verifier_key": <the log's C2SP vkey>,
     "principals": [{"id", "roles", "public_key", "api_keys"}, ...],
     "quorum": {"policy": k, "membership": m, "emergency": e},
     "created_utc": ..., "signatures": {<founder id>: <Ed25519 signature, hex>}}

Every founder has a public key and signs the document's canonical bytes (`genesis_message`: the
data without ``signatures``); a genesis missing any founder's valid signature is refused.
``quorum.policy`` (k) is the approvals a policy proposal needs, ``quorum.membership`` (m >= k)
those a membership change needs, ``quorum.emergency`` (e >= 1) those an emergency policy
proposal needs (with the proposer, at least two distinct signers). ``api_keys`` are SHA-256 hashes
of API keys (never the keys).

Membership changes
------------------
After the genesis, membership changes only by a proposal of type ``skyfence.membership.v1``
(fields as a policy proposal's, with ``changes`` instead of ``cedar``/``regions``; never an
emergency) that gathers ``quorum.membership`` approvals and is enacted by a
``membership.enacted`` entry. Its ``changes`` is a list of operations, applied in order:

* ``{"op": "add", "id", "roles", "public_key", "api_keys"}``: a new principal (the id was never
  used, the key belongs to nobody);
* ``{"op": "remove", "id"}``: the principal keeps its id (never reused) but loses roles, key and
  API keys;
* ``{"op": "roles", "id", "roles"}``; ``{"op": "key", "id", "public_key"}`` (key rotation);
  ``{"op": "api_keys", "id", "api_keys"}`` (replace the API key hashes);
* ``{"op": "quorum", "policy", "membership", "emergency"}``;
* ``{"op": "log_key", "verifier_key"}``: the log's own key; checkpoints after the enactment are
  signed by the new key (`skyfence.governance.ledger.Ledger` refuses to sign with another).

After the changes, k >= 1, m >= k, e >= 1, and at least m approvers hold a key (the log can
still change its membership); otherwise the change is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from skyfence.errors import EntryError, InvalidError
from skyfence.governance.rules.canonical import canonical_bytes, iso_utc, parse_utc
from skyfence.governance.rules.roles import check_public_key, parse_roles

__all__ = [
    "GENESIS_TYPE",
    "MEMBERSHIP_TYPE",
    "MEMBERSHIP_KINDS",
    "CHANGE_OPS",
    "make_genesis",
    "genesis_message",
    "validate_genesis",
    "validate_changes",
    "apply_changes",
    "check_membership_rules",
    "principal_keys",
]

GENESIS_TYPE = "skyfence.genesis.v1"
MEMBERSHIP_TYPE = "skyfence.membership.v1"
MEMBERSHIP_KINDS = ("genesis", "membership.enacted")
"""The entry kinds that establish principals and their keys."""
_GENESIS_FIELDS = {"type", "origin", "verifier_key", "principals", "quorum", "created_utc"}
_PRINCIPAL_FIELDS = {"id", "roles", "public_key", "api_keys"}
_QUORUM_FIELDS = {"policy", "membership", "emergency"}
CHANGE_OPS: dict[str, frozenset[str]] = {
    "add": frozenset({"op", "id", "roles", "public_key", "api_keys"}),
    "remove": frozenset({"op", "id"}),
    "roles": frozenset({"op", "id", "roles"}),
    "key": frozenset({"op", "id", "public_key"}),
    "api_keys": frozenset({"op", "id", "api_keys"}),
    "quorum": frozenset({"op", "policy", "membership", "emergency"}),
    "log_key": frozenset({"op", "verifier_key"}),
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _principal_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 128 or value != value.strip() \
            or any(ord(c) < 32 for c in value):
        raise InvalidError(f"{where}: a principal id is a non-empty string of at most 128 "
                           "characters without surrounding spaces")
    return value


def _roles(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise InvalidError(f"{where}: roles must be a list of role names")
    out = parse_roles(value)
    if out != value:
        raise InvalidError(f"{where}: roles must be sorted and distinct ({out})")
    return out


def _api_keys(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(k, str) and _SHA256.match(k)
                                              for k in value):
        raise InvalidError(f"{where}: api_keys must be a list of SHA-256 hashes (64 lowercase hex)")
    if sorted(set(value)) != value:
        raise InvalidError(f"{where}: api_keys must be sorted and distinct")
    return value


def _key(value: Any, where: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidError(f"{where}: public_key must be 64 hex characters")
    key = check_public_key(value)
    if key != value:
        raise InvalidError(f"{where}: public_key must be lowercase hex")
    return key


def _count(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidError(f"{where}: must be an integer >= 1")
    return value


def _fields(obj: Any, want: Iterable[str], where: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise InvalidError(f"{where}: must be a JSON object")
    want = set(want)
    if set(obj) != want:
        missing, extra = sorted(want - set(obj)), sorted(set(obj) - want)
        raise InvalidError(f"{where}: " + "; ".join(
            ([f"missing field(s) {', '.join(missing)}"] if missing else [])
            + ([f"unknown field(s) {', '.join(extra)}"] if extra else [])))
    return obj


def make_genesis(origin: str, verifier_key: str, principals: Iterable[Mapping[str, Any]], *,
                 quorum: int = 2, membership_quorum: int | None = None, emergency: int = 1,
                 created_utc: str | None = None) -> dict:
    """A genesis document (unsigned): founders given as {"id", "roles", "public_key"[,
    "api_keys"]}; `membership_quorum` defaults to `quorum`."""
    doc = {
        "type": GENESIS_TYPE, "origin": origin, "verifier_key": verifier_key,
        "principals": [{"id": p["id"], "roles": parse_roles(p["roles"]),
                        "public_key": p["public_key"],
                        "api_keys": sorted(set(p.get("api_keys") or []))} for p in principals],
        "quorum": {"policy": quorum, "membership": membership_quorum or quorum,
                   "emergency": emergency},
        "created_utc": iso_utc(created_utc),
    }
    validate_genesis(doc)
    return doc


def genesis_message(doc: Mapping[str, Any]) -> bytes:
    """What every founder signs: the canonical bytes of the genesis document (without
    ``signatures``)."""
    return canonical_bytes({k: v for k, v in doc.items() if k != "signatures"})


def validate_genesis(doc: Mapping[str, Any]) -> dict:
    """Check a genesis document's form (not its signatures) and that its rules can work;
    `InvalidError` naming the field otherwise."""
    doc = _fields({k: v for k, v in doc.items() if k != "signatures"}, _GENESIS_FIELDS, "genesis")
    if doc["type"] != GENESIS_TYPE:
        raise InvalidError(f"genesis.type: must be {GENESIS_TYPE!r}")
    for k in ("origin", "verifier_key"):
        if not isinstance(doc[k], str) or not doc[k]:
            raise InvalidError(f"genesis.{k}: must be a non-empty string")
    if doc["created_utc"] != iso_utc(parse_utc(doc["created_utc"], "genesis.created_utc")):
        raise InvalidError("genesis.created_utc: must be written as YYYY-MM-DDThh:mm:ss.ffffffZ")
    founders = doc["principals"]
    if not isinstance(founders, list) or not founders:
        raise InvalidError("genesis.principals: must name at least one founder")
    principals: dict[str, dict] = {}
    api_keys: dict[str, str] = {}
    for i, p in enumerate(founders):
        where = f"genesis.principals[{i}]"
        _fields(p, _PRINCIPAL_FIELDS, where)
        pid = _principal_id(p["id"], f"{where}.id")
        if pid in principals:
            raise InvalidError(f"{where}.id: {pid!r} named twice")
        key = _key(p["public_key"], f"{where}.public_key", required=True)
        holder = next((q for q, v in principals.items() if v["public_key"] == key), None)
        if holder is not None:
            raise InvalidError(f"{where}.public_key: already the key of {holder!r}")
        principals[pid] = {"roles": _roles(p["roles"], f"{where}.roles"), "public_key": key}
        for h in _api_keys(p["api_keys"], f"{where}.api_keys"):
            if h in api_keys:
                raise InvalidError(f"{where}.api_keys: already an API key of {api_keys[h]!r}")
            api_keys[h] = pid
    q = _fields(doc["quorum"], _QUORUM_FIELDS, "genesis.quorum")
    check_membership_rules(principals, *(_count(q[k], f"genesis.quorum.{k}")
                                         for k in ("policy", "membership", "emergency")))
    return dict(doc)


def check_membership_rules(principals: Mapping[str, Mapping[str, Any]], policy_k: int,
                           membership_k: int, emergency_k: int) -> None:
    """`InvalidError` unless k >= 1, m >= k, 1 <= e and at least m approvers hold a key."""
    if policy_k < 1 or emergency_k < 1:
        raise InvalidError("quorum: policy and emergency approvals must be at least 1")
    if membership_k < policy_k:
        raise InvalidError(f"quorum: membership changes need at least the policy quorum "
                           f"({membership_k} < {policy_k})")
    approvers = sum(1 for v in principals.values()
                    if "approver" in v["roles"] and v.get("public_key"))
    if approvers < max(membership_k, policy_k, emergency_k):
        raise InvalidError(f"quorum: {approvers} approver(s) with a key, fewer than the "
                           f"{max(membership_k, policy_k, emergency_k)} approvals a change needs")


def validate_changes(changes: Any, where: str = "proposal.changes") -> list[dict]:
    """Check the form of a membership proposal's ``changes``; `InvalidError` naming the item."""
    if not isinstance(changes, list) or not changes:
        raise InvalidError(f"{where}: must be a non-empty list of changes")
    for i, c in enumerate(changes):
        w = f"{where}[{i}]"
        if not isinstance(c, Mapping) or c.get("op") not in CHANGE_OPS:
            raise InvalidError(f"{w}: op must be one of {', '.join(CHANGE_OPS)}")
        _fields(c, CHANGE_OPS[c["op"]], w)
        if "id" in c:
            _principal_id(c["id"], f"{w}.id")
        if "roles" in c:
            _roles(c["roles"], f"{w}.roles")
        if "public_key" in c:
            _key(c["public_key"], f"{w}.public_key", required=c["op"] == "key")
        if "api_keys" in c:
            _api_keys(c["api_keys"], f"{w}.api_keys")
        if c["op"] == "quorum":
            for k in ("policy", "membership", "emergency"):
                _count(c[k], f"{w}.{k}")
        if c["op"] == "log_key" and (not isinstance(c["verifier_key"], str)
                                     or not c["verifier_key"]):
            raise InvalidError(f"{w}.verifier_key: must be the new key's C2SP verifier key")
    return [dict(c) for c in changes]


def apply_changes(state, changes: Iterable[Mapping[str, Any]]) -> None:
    """Apply membership `changes` to `state` (a
    :class:`~skyfence.governance.rules.entries.LogState`) in order; `EntryError` if one cannot
    apply (unknown or reused id, a key or API key another principal holds) or the result breaks
    `check_membership_rules`."""
    for i, c in enumerate(changes):
        w = f"change {i} ({c['op']})"
        op, pid = c["op"], c.get("id")
        if op != "add" and pid is not None and pid not in state.principals:
            raise EntryError(f"{w}: no principal {pid!r}")
        if "public_key" in c:
            holder = state.key_owner(c["public_key"])
            if holder is not None and holder != pid:
                raise EntryError(f"{w}: the public key already belongs to {holder!r}")
        if "api_keys" in c:
            taken = [state.api_keys[h] for h in c["api_keys"]
                     if state.api_keys.get(h, pid) != pid]
            if taken:
                raise EntryError(f"{w}: an API key already belongs to {taken[0]!r}")
        if op == "add":
            if pid in state.principals:
                raise EntryError(f"{w}: principal id {pid!r} is taken")
            state.principals[pid] = {"roles": list(c["roles"]), "public_key": c["public_key"]}
        elif op == "remove":
            state.principals[pid] = {"roles": [], "public_key": None}
        elif op == "roles":
            state.principals[pid] = {**state.principals[pid], "roles": list(c["roles"])}
        elif op == "key":
            state.principals[pid] = {**state.principals[pid], "public_key": c["public_key"]}
        elif op == "quorum":
            state.quorum_k, state.membership_k, state.emergency_k = (
                c["policy"], c["membership"], c["emergency"])
        elif op == "log_key":
            state.log_key = c["verifier_key"]
        if op in ("add", "remove", "api_keys"):
            for h in [h for h, p in state.api_keys.items() if p == pid]:
                del state.api_keys[h]
            for h in c.get("api_keys", []):
                state.api_keys[h] = pid
    try:
        check_membership_rules(state.principals, state.quorum_k, state.membership_k,
                               state.emergency_k)
    except InvalidError as exc:
        raise EntryError(str(exc)) from None


def principal_keys(entries: Iterable[Mapping[str, Any]], before: int | None = None) -> dict:
    """Principal id -> public key (hex or None) established by the ``genesis`` and
    ``membership.enacted`` entries (parsed entry dicts) with index below `before` (default all),
    applied in index order."""
    keys: dict[str, str | None] = {}
    for e in sorted(entries, key=lambda e: e["index"]):
        if before is not None and e["index"] >= before:
            continue
        if e["kind"] == "genesis":
            keys.update({p["id"]: p["public_key"] for p in e["data"]["principals"]})
        elif e["kind"] == "membership.enacted":
            for c in e["data"]["changes"]:
                if c["op"] in ("add", "key"):
                    keys[c["id"]] = c["public_key"]
                elif c["op"] == "remove":
                    keys[c["id"]] = None
    return keys
