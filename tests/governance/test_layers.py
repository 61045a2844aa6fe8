"""Governance layering: a new log entry kind registers a handler in the kinds table (checked on
append and by the offline verifier), and receipts of two databases in one process each carry
their own log's checkpoint."""

from __future__ import annotations

import gc

import pytest

from skyfence.errors import EntryError, GovernanceError, VerificationError
from skyfence.governance.audit import verify_log
from skyfence.governance.export import export_ledger
from skyfence.governance.receipts import verify_receipt
from skyfence.governance.rules import entries
from skyfence.governance.rules.entries import EntryKind, register_kind
from skyfence.governance.service import decide_service
from tests.governance.fixtures import make_plane


@pytest.fixture
def kinds(monkeypatch):
    """A private copy of the kinds table for one test."""
    monkeypatch.setattr(entries, "ENTRY_KINDS", dict(entries.ENTRY_KINDS))
    return entries.ENTRY_KINDS


def test_a_new_entry_kind_registers_a_handler(kinds, tmp_path):
    p = make_plane(f"sqlite:///{tmp_path / 'k.db'}")
    with pytest.raises(EntryError, match="unknown entry kind 'funding.pledged'"):
        with p.ledger.transaction() as tx:
            tx.append("funding.pledged", "op", {"amount_eur": 5})
    applied: list[int] = []

    def check(state, e):
        if e.data["amount_eur"] <= 0:
            raise EntryError("a pledge must be positive")

    register_kind(EntryKind("funding.pledged", check=check,
                            apply=lambda state, e: applied.append(e.data["amount_eur"])))
    assert kinds["funding.pledged"].name == "funding.pledged"
    with pytest.raises(GovernanceError, match="already registered"):
        register_kind(EntryKind("funding.pledged"))
    with p.ledger.transaction() as tx:
        tx.append("funding.pledged", "op", {"amount_eur": 5})
        tx.append("funding.pledged", "op", {"amount_eur": 7})
    verify_log(export_ledger(p.ledger))
    assert applied == [5, 7]
    with p.ledger.transaction() as tx:
        bad = tx.append("funding.pledged", "op", {"amount_eur": -1})
    with pytest.raises(VerificationError, match=rf"entry {bad} \(funding.pledged\): a pledge must be positive"):
        verify_log(export_ledger(p.ledger))


def test_receipts_of_two_databases_carry_their_own_checkpoints(tmp_path):
    a = make_plane(f"sqlite:///{tmp_path / 'a.db'}")
    b = make_plane(f"sqlite:///{tmp_path / 'b.db'}")
    assert a.ledger.size() == b.ledger.size()  # same tree size, different logs
    for plane in (a, b, a, b):
        r = decide_service(plane.ledger, "nobody", "2026-05-01T12:00:00Z")
        with plane.db.read_session() as s:
            assert r["checkpoint"] == plane.ledger.latest_checkpoint(s)
        verify_receipt(r, verifier_key=plane.ledger.verifier_key)
    size = a.ledger.size()
    a.db.dispose()
    del a
    gc.collect()  # a new ledger may now get the freed object's id
    c = make_plane(f"sqlite:///{tmp_path / 'c.db'}")
    assert c.ledger.size() == size
    r = decide_service(c.ledger, "nobody", "2026-05-01T12:00:00Z")
    verify_receipt(r, verifier_key=c.ledger.verifier_key)
    with pytest.raises(GovernanceError):
        verify_receipt(r, verifier_key=b.ledger.verifier_key)
