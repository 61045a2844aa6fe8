"""The log's side of C2SP tlog-witness: submit the latest checkpoint to witnesses, collect their
cosignatures and store the cosigned note (table ``witnessed_checkpoints``).

`submit_checkpoint` is one ``POST <prefix>/add-checkpoint``. `Witnessing.cosign_latest` sends the
log's latest checkpoint to every witness with a URL in a `WitnessPolicy`, with the consistency
proof from the size each witness last cosigned (remembered per witness; a 409 answer names the
witness's size, and the request is repeated once from it), verifies every returned cosignature
with that witness's key, and stores the note with the cosignatures appended.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from skyfence.errors import WitnessError
from skyfence.governance.db import WitnessedCheckpoint
from skyfence.governance.log.checkpoint import parse_checkpoint
from skyfence.governance.witness.cosignature import add_cosignatures, cosignatures
from skyfence.governance.witness.policy import PolicyWitness, WitnessPolicy
from skyfence.governance.witness.protocol import SIZE_CONTENT_TYPE, add_checkpoint_body

__all__ = [
    "WitnessConflict",
    "submit_checkpoint",
    "cosign_with",
    "CosignResult",
    "Witnessing",
    "latest_witnessed",
    "store_witnessed",
]


class WitnessConflict(WitnessError):
    """A 409 answer: the witness's latest cosigned size is `size`, not the old size sent."""

    def __init__(self, url: str, size: int):
        super().__init__(f"witness {url}: its latest cosigned size is {size}")
        self.size = size


def submit_checkpoint(url: str, old_size: int, proof: Sequence[bytes], note: str, *,
                      http: httpx.Client | None = None, timeout_s: float = 10.0) -> str:
    """POST an add-checkpoint request to the witness at submission prefix `url`; the cosignature
    lines on 200, `WitnessConflict` on 409, `WitnessError` naming the status otherwise."""
    body = add_checkpoint_body(old_size, proof, note)
    target = url.rstrip("/") + "/add-checkpoint"
    try:
        if http is None:
            r = httpx.post(target, content=body, timeout=timeout_s)
        else:
            r = http.post(target, content=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise WitnessError(f"witness {url}: {exc}") from None
    if r.status_code == 200:
        return r.text
    if r.status_code == 409 and r.headers.get("content-type", "").startswith(SIZE_CONTENT_TYPE):
        text = r.text
        if text.endswith("\n") and text[:-1].isdigit():
            raise WitnessConflict(url, int(text[:-1]))
    raise WitnessError(f"witness {url}: HTTP {r.status_code}: {r.text.strip()[:200]}")


def cosign_with(witness: PolicyWitness, note: str, proof_from: Callable[[int], list[bytes]], *,
                old_size: int = 0, http: httpx.Client | None = None,
                timeout_s: float = 10.0) -> tuple[str, int]:
    """The verified cosignature line(s) of `witness` on checkpoint `note`, and the size the
    witness now holds. `proof_from(old)` gives the consistency proof from size `old` to the
    checkpoint's size. A witness ahead of the checkpoint is a `WitnessError` (it saw a larger
    tree: a rollback or a split view)."""
    size = parse_checkpoint(note).size
    if not witness.url:
        raise WitnessError(f"witness {witness.name}: no URL in the policy")
    for attempt in range(2):
        if old_size > size:
            raise WitnessError(f"witness {witness.name} has cosigned size {old_size}, larger than "
                               f"the log's checkpoint {size}")
        proof = [] if old_size in (0, size) else proof_from(old_size)
        try:
            lines = submit_checkpoint(witness.url, old_size, proof, note, http=http,
                                      timeout_s=timeout_s)
        except WitnessConflict as exc:
            if attempt:
                raise
            old_size = exc.size
            continue
        got = cosignatures(add_cosignatures(note, lines), [witness.key])
        if witness.key.name not in got:
            raise WitnessError(f"witness {witness.name}: no cosignature by its key in the answer")
        mine = [ln for ln in lines.splitlines(keepends=True)
                if ln.startswith(f"\u2014 {witness.key.name} ")]
        return "".join(mine), size
    raise WitnessError(f"witness {witness.name}: no answer")  # pragma: no cover


@dataclass
class CosignResult:
    """The stored note, the witnesses (policy names) that cosigned it, errors by witness."""

    note: str
    size: int
    cosigned_by: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


class Witnessing:
    """Obtains cosignatures for a `Ledger`'s checkpoints from the witnesses of `policy`."""

    def __init__(self, ledger, policy: WitnessPolicy, *, http: httpx.Client | None = None,
                 timeout_s: float = 10.0):
        self.ledger = ledger
        self.policy = policy
        self.http = http
        self.timeout_s = timeout_s
        self.sizes: dict[str, int] = {}

    def cosign_latest(self) -> CosignResult:
        """Submit the log's latest checkpoint to every witness with a URL whose cosignature its
        stored witnessed note lacks, store the note with the cosignatures obtained; witnesses
        that fail are listed in `errors` (each request times out after `timeout_s`)."""
        with self.ledger.db.read_session() as s:
            note = self.ledger.latest_checkpoint(s)
            if note is None:
                raise WitnessError("the log has no checkpoint yet")
            size = parse_checkpoint(note).size
            row = s.get(WitnessedCheckpoint, size)
            stored = None if row is None else row.note
            have = set() if stored is None else set(cosignatures(
                stored, [w.key for w in self.policy.witness_urls()]))
            proofs: dict[int, list[bytes]] = {}

            def proof_from(old: int) -> list[bytes]:
                if old not in proofs:
                    proofs[old] = self.ledger.consistency_proof(s, old, size)
                return proofs[old]

            res = CosignResult(note, size)
            lines: list[str] = []
            for w in self.policy.witness_urls():
                if w.key.name in have:
                    res.cosigned_by.append(w.name)
                    continue
                try:
                    got, held = cosign_with(w, note, proof_from, old_size=self.sizes.get(w.name, 0),
                                            http=self.http, timeout_s=self.timeout_s)
                except WitnessError as exc:
                    res.errors[w.name] = str(exc)
                    continue
                self.sizes[w.name] = held
                lines.append(got)
                res.cosigned_by.append(w.name)
        if lines:
            with self.ledger.db.write_session() as s:
                res.note = store_witnessed(s, note, lines, self.ledger.now_utc())
        elif stored is not None:
            res.note = stored
        return res


def store_witnessed(s: Session, note: str, lines: Sequence[str], t_utc: str) -> str:
    """Add cosignature `lines` to the stored witnessed note of `note`'s size (created from `note`
    if absent); returns the stored note."""
    size = parse_checkpoint(note).size
    row = s.get(WitnessedCheckpoint, size)
    if row is None:
        row = WitnessedCheckpoint(tree_size=size, note=add_cosignatures(note, lines), t_utc=t_utc)
        s.add(row)
    else:
        row.note = add_cosignatures(row.note, lines)
        row.t_utc = t_utc
    return row.note


def latest_witnessed(s: Session) -> str | None:
    """The witnessed note of the largest tree size, or None."""
    row = s.scalars(select(WitnessedCheckpoint)
                    .order_by(WitnessedCheckpoint.tree_size.desc()).limit(1)).first()
    return None if row is None else row.note
