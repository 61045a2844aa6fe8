"""Read-only JSON of the governance view (the page at ``/``): what the log establishes, the policy
in force at a time, a verification of the whole log, and a verification of a receipt.

Public like ``/log``: everything here is derived from the log's entries, which anyone may read
(``/log/export``); nothing here writes. ``GET /view/state`` is built by `Ledger.state`, which
checks the tables the server acts on against the log first, so a direct edit of the database
answers 503 with the reason (the page shows it). Key fingerprints are the first 16 hex digits of
the SHA-256 of the raw 32-byte Ed25519 public key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel

from skyfence.api.routers.common import ledger_of
from skyfence.errors import GovernanceError
from skyfence.governance import policies
from skyfence.governance.audit import check_tables
from skyfence.governance.export import export_ledger
from skyfence.governance.keys import public_key_bytes
from skyfence.governance.ledger import Ledger
from skyfence.governance.log.checkpoint import parse_note, parse_verifier_key
from skyfence.governance.log.verify import verify_export
from skyfence.governance.receipts import verify_receipt
from skyfence.governance.rules.canonical import iso_utc, parse_utc
from skyfence.governance.rules.entries import EntryChecker, LogState
from skyfence.governance.rules.proposal import is_membership
from skyfence.governance.witness.client import latest_witnessed

__all__ = ["router", "key_fingerprint"]

router = APIRouter(prefix="/view", tags=["view"])
LedgerDep = Annotated[Ledger, Depends(ledger_of)]


def cosigner_of(request: Request):
    """The server's `WitnessCosigner` (``skyfence serve --witness``/``--witness-policy``), or None."""
    return getattr(request.app.state, "witness_cosigner", None)


CosignerDep = Annotated[Any, Depends(cosigner_of)]


def key_fingerprint(public_key_hex: str | None) -> str | None:
    """The first 16 hex digits of SHA-256 over a raw Ed25519 public key given in hex."""
    if not public_key_hex:
        return None
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


class Principal(BaseModel):
    id: str
    roles: list[str]
    public_key: str | None
    fingerprint: str | None
    api_keys: int


class Quorum(BaseModel):
    policy: int
    membership: int
    emergency: int
    approvers: int


class ApprovalView(BaseModel):
    approver: str
    t_utc: str
    entry_index: int
    fingerprint: str | None


class ProposalView(BaseModel):
    id: str
    kind: str
    title: str
    proposer: str
    emergency: bool
    status: str
    entry_index: int
    effective_utc: str
    expires_utc: str
    needed: int
    approvals: list[ApprovalView]
    distinct_keys: int
    enacted_index: int | None


class Cosignature(BaseModel):
    name: str
    key_id: str
    timestamp_utc: str | None


class Witnessed(BaseModel):
    tree_size: int
    note: str
    cosignatures: list[Cosignature]


class PolicyWitnessView(BaseModel):
    name: str
    vkey: str
    url: str | None
    cosigned: bool
    error: str | None


class WitnessPolicyView(BaseModel):
    quorum: str
    quorum_met: bool | None
    witnesses: list[PolicyWitnessView]
    error: str | None


class ViewState(BaseModel):
    origin: str
    size: int
    verifier_key: str
    log_key_fingerprint: str
    checkpoint: str | None
    witnessed: Witnessed | None
    witness_policy: WitnessPolicyView | None
    quorum: Quorum
    principals: list[Principal]
    proposals: list[ProposalView]
    enactments: list[dict[str, Any]]


class InForce(BaseModel):
    at_utc: str
    policy: dict[str, Any] | None


class Verification(BaseModel):
    ok: bool
    origin: str | None
    size: int | None
    root_hash: str | None
    entries: int
    checkpoints: int
    errors: list[str]
    notes: list[str]


class ReceiptCheck(BaseModel):
    ok: bool
    notes: list[str]
    error: str | None


def _proposal(state: LogState, pid: str, fields: dict, now_utc: str) -> ProposalView:
    keys = state.public_keys()
    enacted = state.enacted.get(pid)
    status = "enacted" if enacted is not None else (
        "expired" if now_utc > fields["expires_utc"] else "open")
    approvals = [ApprovalView(approver=a.approver, t_utc=a.t_utc, entry_index=i,
                              fingerprint=key_fingerprint(keys.get(a.approver)))
                 for a, i in zip(state.accepted[pid], state.approval_entries[pid], strict=True)]
    return ProposalView(
        id=pid, kind="membership" if is_membership(fields) else "policy",
        title=str(fields.get("title") or ""), proposer=fields["proposer"],
        emergency=bool(fields["emergency"]), status=status,
        entry_index=state.proposal_entries[pid][0], effective_utc=fields["effective_utc"],
        expires_utc=fields["expires_utc"], needed=state.needed(fields), approvals=approvals,
        distinct_keys=len({a.fingerprint for a in approvals if a.fingerprint}),
        enacted_index=enacted)


def _witnessed(note: str | None) -> Witnessed | None:
    """The stored witnessed note with its cosignature lines (name, key ID, timestamp; the lines
    by the log's own key left out). Their signatures are checked by a verifier holding the
    witness policy (`skyfence verify --witness-policy`), not here."""
    if note is None:
        return None
    body, sigs = parse_note(note)
    size = int(body.split("\n")[1])
    out = []
    for sig in sigs:
        raw = sig.signature
        if len(raw) == 72:  # cosignature/v1: 8-byte timestamp then the Ed25519 signature
            t = int.from_bytes(raw[:8], "big")
            when = iso_utc(dt.datetime.fromtimestamp(t, dt.UTC)) if t < 2**40 else None
            out.append(Cosignature(name=sig.name, key_id=sig.key_hash.hex(), timestamp_utc=when))
    return Witnessed(tree_size=size, note=note, cosignatures=out)


def _witness_policy(cosigner, note: str | None, log_key: str) -> WitnessPolicyView | None:
    """The witnesses of the server's witness policy, which of them cosigned the latest witnessed
    note (cosignatures verified with their keys by `WitnessPolicy.check`), whether the policy's
    quorum is met, and each witness's error in the latest cosigning round."""
    if cosigner is None:
        return None
    policy = cosigner.witnessing.policy
    last = cosigner.last
    errors = dict(last.errors) if last is not None else {}
    found, met, error = set(), None, None
    if note is not None:
        try:
            res = policy.check(note, log_key=log_key)
            found, met = set(res.cosigned_by), res.quorum_met
        except GovernanceError as exc:
            error = str(exc)
    return WitnessPolicyView(
        quorum=policy.quorum, quorum_met=met, error=error,
        witnesses=[PolicyWitnessView(name=w.name, vkey=w.key.vkey, url=w.url,
                                     cosigned=w.name in found, error=errors.get(w.name))
                   for w in policy.witnesses.values()])


@router.get("/state", response_model=ViewState,
            summary="What the log establishes: membership, quorums, proposals, checkpoints")
def state(ledger: LedgerDep, cosigner: CosignerDep) -> ViewState:
    with ledger.db.read_session() as s:
        st = ledger.state(s)  # tables checked against the log: 503 on a disagreement
        size = ledger.size(s)
        checkpoint = ledger.checkpoint_at(s, size)
        witnessed = latest_witnessed(s)
    now = iso_utc()
    vkey = st.log_key or ledger.verifier_key
    raw_key = public_key_bytes(parse_verifier_key(vkey).public_key).hex()
    api_keys: dict[str, int] = {}
    for pid in st.api_keys.values():
        api_keys[pid] = api_keys.get(pid, 0) + 1
    return ViewState(
        origin=ledger.origin, size=size, verifier_key=vkey,
        log_key_fingerprint=key_fingerprint(raw_key), checkpoint=checkpoint,
        witnessed=_witnessed(witnessed),
        witness_policy=_witness_policy(cosigner, witnessed, vkey),
        quorum=Quorum(policy=st.quorum_k, membership=st.membership_k, emergency=st.emergency_k,
                      approvers=len(st.approver_keys())),
        principals=[Principal(id=p, roles=list(v["roles"]), public_key=v.get("public_key"),
                              fingerprint=key_fingerprint(v.get("public_key")),
                              api_keys=api_keys.get(p, 0))
                    for p, v in sorted(st.principals.items())],
        proposals=[_proposal(st, pid, f, now) for pid, f in
                   sorted(st.proposals.items(), key=lambda kv: st.proposal_entries[kv[0]][0])],
        enactments=[e.summary() for e in st.enactments])


@router.get("/in-force", response_model=InForce,
            summary="The policy set in force at a time (default now), from the log's enactments")
def in_force(ledger: LedgerDep,
             at: Annotated[str | None, Query(max_length=64, description="ISO 8601 UTC")] = None
             ) -> InForce:
    at_utc = iso_utc(parse_utc(at, "at") if at else None)
    with ledger.db.read_session() as s:
        pol = policies.policy_at(ledger, s, at_utc)
    if pol is not None:
        pol.pop("proposal", None)
    return InForce(at_utc=at_utc, policy=pol)


@router.get("/verify", response_model=Verification,
            summary="Verify the whole log here: entries, rules, tree, checkpoints, tables")
def verify(ledger: LedgerDep) -> Verification:
    doc = export_ledger(ledger)
    checker = EntryChecker()
    rep = verify_export(doc, check_entry=checker, check_export=lambda d: check_tables(d, checker))
    return Verification(
        ok=rep.ok, origin=rep.origin, size=rep.size,
        root_hash=None if rep.root_hash is None else base64.b64encode(rep.root_hash).decode(),
        entries=rep.entries, checkpoints=rep.checkpoints, errors=rep.errors, notes=rep.notes)


@router.post("/receipt", response_model=ReceiptCheck,
             summary="Verify a receipt here (signatures, proofs, quorum, Cedar, and the server's "
                     "witness policy if it has one); writes nothing")
def receipt(ledger: LedgerDep, cosigner: CosignerDep, doc: Annotated[Any, Body()]) -> ReceiptCheck:
    policy = None if cosigner is None else cosigner.witnessing.policy
    try:
        notes = verify_receipt(doc, verifier_key=ledger.verifier_key, witness_policy=policy)
    except GovernanceError as exc:
        return ReceiptCheck(ok=False, notes=[], error=str(exc))
    return ReceiptCheck(ok=True, notes=notes, error=None)
