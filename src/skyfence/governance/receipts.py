"""Service receipts: the signed record of a decision, and its offline verifier.

A receipt holds the terminal, position, groups, H3 cell (with the resolution used) and its
regions, time, elevation mask, decision and reason; the policy set's log index (its
``policy.enacted`` entry) and SHA-256; the supporting log entries (proposal, enactment with the
quorum's signatures, the principals' keys) each with its RFC 9162 inclusion proof in the tree of
the signed checkpoint that is included; all signed by the log key over
``"skyfence-receipt-v1\n" || canonical bytes`` of the receipt without its signature.
`verify_receipt` checks all of it offline and re-runs Cedar on the policy text from the log.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyfence.errors import (
    GovernanceError,
    ProofError,
    QuorumError,
    SignatureError,
    WitnessError,
)
from skyfence.governance.db import LogEntry
from skyfence.governance.evaluate import cedar_decide
from skyfence.governance.keys import public_key_bytes
from skyfence.governance.ledger import Ledger
from skyfence.governance.log.checkpoint import (
    parse_checkpoint,
    parse_verifier_key,
    verify_checkpoint,
)
from skyfence.governance.log.hasher import leaf_hash
from skyfence.governance.log.proof import consistency_ok, inclusion_ok
from skyfence.governance.rules.canonical import canonical_bytes, canonical_json
from skyfence.governance.rules.in_force import Enactment
from skyfence.governance.rules.membership import MEMBERSHIP_KINDS, principal_keys
from skyfence.governance.rules.proposal import policy_sha256, verify_signature

__all__ = ["RECEIPT_VERSION", "ReceiptTemplate", "policy_block", "verify_receipt"]

RECEIPT_VERSION = "skyfence-receipt-v1"
RECEIPT_CONTEXT = b"skyfence-receipt-v1\n"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


class ReceiptTemplate:
    """Receipts that share every field but the `slots`, filled per receipt: their canonical JSON
    (`canonical_json` of the whole receipt, keys sorted) is cut once into the fixed text between
    the slots, and `sign` fills them in. `fields` are plain values; `raw` maps keys to parts
    already serialised as canonical JSON (e.g. a policy block kept per log size). Byte for byte
    what serialising and signing each whole receipt gives."""

    def __init__(self, fields: Mapping[str, Any], slots: Sequence[str] = (),
                 raw: Mapping[str, str] | None = None):
        raw = raw or {}
        self.slots = tuple(slots)
        at = {k: i for i, k in enumerate(self.slots)}
        # before / after the signature: [text, slot index, text, slot index, ..., text]
        halves: list[list[str | int]] = [[], []]
        half = 0
        pending: list[str] = []
        for k in sorted(set(fields) | set(raw) | set(at) | {"signature"}):
            if k == "signature":
                halves[0].append(",".join(pending))
                half, pending = 1, []
                continue
            name = _value_text(k) + ":"
            if k in at:
                pending.append(name)
                halves[half].append(",".join(pending))
                halves[half].append(at[k])
                pending = [""]
            else:
                pending.append(name + (raw[k] if k in raw else _value_text(fields[k])))
        halves[1].append(",".join(pending))
        self._before = [p if type(p) is int else p.encode("utf-8") for p in halves[0]]
        self._after = [p if type(p) is int else p.encode("utf-8") for p in halves[1]]

    def sign(self, values: Sequence[Any], log_key) -> bytes:
        """The receipt with `values` in the slots (in `slots` order) and the log key's
        ``signature`` over ``RECEIPT_CONTEXT`` || the canonical bytes without it, as UTF-8."""
        texts = [_value_text(v).encode("utf-8") for v in values]
        before = b"".join([texts[p] if type(p) is int else p for p in self._before])
        after = b"".join([texts[p] if type(p) is int else p for p in self._after])
        body = b"{" + before + (b"," if before and after else b"") + after + b"}"
        sig = b'"signature":"' + base64.b64encode(log_key.sign(RECEIPT_CONTEXT + body)) + b'"'
        return (b"{" + before + (b"," if before else b"") + sig + (b"," if after else b"")
                + after + b"}")


def _value_text(v: Any) -> str:
    """`canonical_json(v)`; strings, integers, finite floats and lists of strings without the
    encoder's setup."""
    t = type(v)
    if t is str:
        return encode_basestring(v)
    if t is int:
        return int.__repr__(v)
    if t is float and math.isfinite(v):
        return float.__repr__(v)
    if t is list and all(type(x) is str for x in v):
        return "[" + ",".join([encode_basestring(x) for x in v]) + "]"
    return canonical_json(v)


def _support(ledger: Ledger, s: Session, index: int, size: int) -> dict:
    return {"index": index, "entry": ledger.entry_text(s, index),
            "inclusion_proof": [_b64(h) for h in ledger.inclusion_proof(s, index, size)]}


def policy_block(ledger: Ledger, s: Session, pol: dict, size: int) -> dict:
    """The receipt's policy part: log index, hash, quorum signatures, supporting entries + proofs."""
    prop = pol["proposal"]
    people = sorted({a["approver"] for a in prop["approvals"]} | {prop["fields"]["proposer"]})
    principal_entries = _principal_entries(ledger, s, people)
    return {
        "log_index": pol["enacted_index"], "policy_sha256": pol["policy_sha256"],
        "proposal_id": pol["proposal_id"], "title": pol["title"],
        "emergency": pol["emergency"], "in_force_from_utc": pol["in_force_from_utc"],
        "quorum_signatures": [{"approver": a["approver"], "signature": a["signature"]}
                              for a in _enacted_approvals(ledger, s, pol["enacted_index"])],
        "entries": [_support(ledger, s, i, size) for i in
                    sorted({prop["entry_index"], pol["enacted_index"], *principal_entries})],
    }


def _enacted_approvals(ledger: Ledger, s: Session, index: int) -> list[dict]:
    return json.loads(ledger.entry_text(s, index))["data"]["approvals"]


def _principal_entries(ledger: Ledger, s: Session, people: list[str]) -> list[int]:
    out = []
    want = set(people)
    for e in s.scalars(select(LogEntry).where(LogEntry.kind.in_(MEMBERSHIP_KINDS))
                       .order_by(LogEntry.idx)):
        if want & set(principal_keys([json.loads(e.body)])):
            out.append(e.idx)
    return out


# --------------------------------------------------------------------------- offline verification


def verify_receipt(receipt: Mapping[str, Any], *, verifier_key: str | None = None,
                   recheck_cedar: bool = True, witness_policy=None) -> list[str]:
    """Verify a receipt offline; returns notes (what was checked). GovernanceError on failure.

    Checks: the log's signature over the receipt; the checkpoint's signature; each supporting log
    entry's inclusion proof against the checkpoint's root; that the enactment entry names the
    proposal and the policy hash of the proposal's Cedar text and regions; every quorum signature
    (distinct approvers, not the proposer, keys from logged principal entries) over the proposal's
    canonical bytes; that the policy was in force at the receipt's time; and (`recheck_cedar`)
    that Cedar on the logged policy gives the receipt's decision. A receipt that is not a JSON
    object of this form (a missing field, a value of the wrong type, text that is not base64) is
    a GovernanceError naming the problem.

    A receipt made while the log had a witnessed checkpoint carries it (``witnessed``: the note
    with the witnesses' cosignatures, its size and the consistency proof from it to the receipt's
    checkpoint); the log's signature on it and the proof are checked, and with `witness_policy`
    (a :class:`skyfence.governance.witness.policy.WitnessPolicy`) its cosignatures must meet the
    policy's quorum (a receipt without a witnessed checkpoint then fails unless the quorum is
    ``none``)."""
    if not isinstance(receipt, Mapping):
        raise GovernanceError(f"receipt: a JSON object expected, got {type(receipt).__name__}")
    try:
        notes = _verify(receipt, verifier_key, recheck_cedar)
        return notes + _verify_witnessed(receipt, verifier_key or receipt["log_verifier_key"],
                                         witness_policy)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise GovernanceError(f"receipt: malformed: {what}") from None


def _verify(receipt: Mapping[str, Any], verifier_key: str | None, recheck_cedar: bool) -> list[str]:
    r = dict(receipt)
    notes: list[str] = []
    if r.get("version") != RECEIPT_VERSION:
        raise GovernanceError(f"receipt: unknown version {r.get('version')!r}")
    key = verifier_key or r.get("log_verifier_key")
    if verifier_key is None:
        notes.append("log key taken from the receipt itself: pin it with --key to trust it")
    elif r.get("log_verifier_key") != verifier_key:
        raise GovernanceError("receipt: made by a different log key")
    sig = r.pop("signature", None)
    try:
        sig_bytes = base64.b64decode(sig, validate=True) if isinstance(sig, str) else b""
    except binascii.Error:
        raise SignatureError("receipt: the signature is not base64") from None
    if not isinstance(key, str):
        raise GovernanceError("receipt: no log verifier key")
    if not sig_bytes or not _verify_with_vkey(key, RECEIPT_CONTEXT + canonical_bytes(r), sig_bytes):
        raise SignatureError("receipt: bad signature by the log key")
    notes.append("receipt signature ok")
    cp = parse_checkpoint(r["checkpoint"])
    size, root = cp.size, cp.root_hash
    try:
        verify_checkpoint(r["checkpoint"], key)
    except GovernanceError:
        raise SignatureError("receipt: checkpoint signature does not verify") from None
    if size != r["tree_size"]:
        raise GovernanceError("receipt: checkpoint size differs from tree_size")
    notes.append(f"checkpoint ok (size {size})")
    pol = r.get("policy")
    if pol is None:
        if r["decision"] == "denied" and r.get("status") in ("active",):
            raise GovernanceError("receipt: denied without a policy")
        notes.append("no policy in force")
        return notes
    entries: dict[int, dict] = {}
    for sup in pol["entries"]:
        text = sup["entry"]
        proof = [base64.b64decode(h) for h in sup["inclusion_proof"]]
        if not inclusion_ok(leaf_hash(text.encode("utf-8")), sup["index"], size, proof, root):
            raise ProofError(f"receipt: entry {sup['index']} is not in the checkpointed log")
        entries[sup["index"]] = json.loads(text)
    notes.append(f"{len(entries)} log entries proven included")
    enact = entries.get(pol["log_index"])
    if enact is None or enact["kind"] != "policy.enacted":
        raise GovernanceError("receipt: no enactment entry at the policy's log index")
    created = next((e for e in entries.values() if e["kind"] == "proposal.created"
                    and e["data"]["proposal"]["id"] == enact["data"]["proposal_id"]), None)
    if created is None:
        raise GovernanceError("receipt: the enacted proposal's entry is missing")
    fields = created["data"]["proposal"]
    if policy_sha256(fields) != pol["policy_sha256"] or enact["data"]["policy_sha256"] != pol["policy_sha256"]:
        raise GovernanceError("receipt: policy hash differs from the logged proposal")
    keys = principal_keys(entries.values(), before=pol["log_index"])
    msg = canonical_bytes(fields)
    seen: set[str] = set()
    for a in enact["data"]["approvals"]:
        if a["approver"] == fields["proposer"] or a["approver"] in seen:
            raise QuorumError(f"receipt: approval by {a['approver']!r} is not distinct")
        if not verify_signature(keys.get(a["approver"]), msg, a["signature"]):
            raise QuorumError(f"receipt: quorum signature of {a['approver']!r} does not verify")
        seen.add(a["approver"])
    if [(a["approver"], a["signature"]) for a in enact["data"]["approvals"]] != \
            [(a["approver"], a["signature"]) for a in pol["quorum_signatures"]]:
        raise GovernanceError("receipt: quorum signatures differ from the logged enactment")
    notes.append(f"quorum: {len(seen)} distinct valid approver signature(s)"
                 + (" [EMERGENCY path]" if fields["emergency"] else ""))
    in_force = Enactment(index=pol["log_index"], t_utc=enact["t_utc"],
                         effective_utc=fields["effective_utc"], proposal_id=fields["id"],
                         policy_sha256=pol["policy_sha256"])
    if in_force.in_force_from_utc > r["at_utc"]:
        raise GovernanceError("receipt: the policy was not yet in force at the receipt's time")
    if recheck_cedar and r["decision"] in ("served", "denied") and r.get("status") == "active":
        allowed, _, regions = cedar_decide(fields["cedar"], fields["regions"], pol["policy_sha256"],
                                           r["terminal"], list(r["groups"]), r["h3_cell"], r["at_utc"],
                                           int(r["h3_resolution"]))
        if sorted(regions) != sorted(r["regions"]):
            raise GovernanceError("receipt: the cell's regions differ from the logged policy's")
        if allowed != (r["decision"] == "served"):
            raise GovernanceError("receipt: Cedar on the logged policy gives another decision")
        notes.append("Cedar re-evaluation agrees")
    return notes


def _verify_witnessed(r: Mapping[str, Any], key: str, policy) -> list[str]:
    """Check the receipt's witnessed checkpoint (see `verify_receipt`)."""
    w = r.get("witnessed")
    if w is None:
        if policy is not None and policy.quorum != "none":
            raise WitnessError(f"receipt: no witnessed checkpoint, the witness policy's quorum "
                               f"{policy.quorum!r} is not met")
        return ["no witnessed checkpoint in the receipt"]
    try:
        wcp = verify_checkpoint(w["checkpoint"], key)
    except GovernanceError:
        raise SignatureError("receipt: the witnessed checkpoint is not signed by the log") from None
    cp = parse_checkpoint(r["checkpoint"])
    proof = [base64.b64decode(h, validate=True) for h in w["consistency_proof"]]
    if wcp.size != w["tree_size"] or wcp.size > cp.size:
        raise ProofError(f"receipt: witnessed checkpoint of size {wcp.size} does not precede the "
                         f"receipt's size {cp.size}")
    ok = (wcp.root_hash == cp.root_hash and not proof) if wcp.size == cp.size else \
        consistency_ok(wcp.size, cp.size, proof, wcp.root_hash, cp.root_hash)
    if not ok:
        raise ProofError(f"receipt: the receipt's checkpoint (size {cp.size}) is not consistent "
                         f"with the witnessed checkpoint (size {wcp.size})")
    notes = [f"witnessed checkpoint of size {wcp.size} consistent with the receipt's"]
    if policy is not None:
        res = policy.check(w["checkpoint"], log_key=key)
        if not res.quorum_met:
            raise WitnessError(f"receipt: {res.summary()}")
        notes.append(res.summary())
    return notes


def _verify_with_vkey(vkey: str, message: bytes, signature: bytes) -> bool:
    public_hex = public_key_bytes(parse_verifier_key(vkey).public_key).hex()
    return verify_signature(public_hex, message, signature.hex())
