"""Governance core: registry, proposals and quorum, ledger (one entry + checkpoint per write),
roles; parametrized over SQLite and PostgreSQL (see governance_fixtures)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.errors import ConflictError, GovernanceError, NotFoundError, RefusedError
from skyfence.governance import policies, registry
from skyfence.governance.audit import verify_log
from skyfence.governance.export import export_ledger
from skyfence.governance.log.checkpoint import parse_checkpoint
from skyfence.governance.log.hasher import leaf_hash
from skyfence.governance.log.proof import consistency_ok, inclusion_ok
from skyfence.governance.replay import load_policy_timeline, policy_timeline
from skyfence.governance.rules import roles
from skyfence.governance.rules.canonical import canonical_bytes, iso_utc, parse_utc
from skyfence.governance.rules.entries import EntryChecker
from skyfence.governance.rules.in_force import policy_in_force
from skyfence.governance.rules.proposal import policy_sha256
from skyfence.governance.rules.quorum import ApprovalAttempt, evaluate_approvals
from tests.governance.fixtures import APPROVERS, enact_membership, make_plane, pub_hex

T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, t: dt.datetime = T0):
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t


# --------------------------------------------------------------------------- registry


def test_registry_writes_are_logged_and_limits_hold(plane):
    L = plane.ledger
    n0 = L.size()
    registry.create_owner(L, "op", "ngo", 1)
    registry.register_terminal(L, "op", "t1", 50.45, 30.52, owner="ngo", groups=["donated"])
    registry.register_terminal(L, "op", "t2", 49.8, 24.0, owner="ngo")
    registry.set_terminal_status(L, "op", "t1", "active")
    with pytest.raises(RefusedError, match="at most 1 active"):
        registry.set_terminal_status(L, "op", "t2", "active")
    registry.set_terminal_status(L, "op", "t1", "suspended")
    registry.set_terminal_status(L, "op", "t2", "active")
    out = registry.move_terminal(L, "op", "t1", ["mobile", "whitelisted"])
    assert out["groups"] == ["mobile", "whitelisted"]
    with pytest.raises(ConflictError):
        registry.register_terminal(L, "op", "t1", 0, 0)
    with pytest.raises(NotFoundError):
        registry.set_terminal_status(L, "op", "nope", "active")
    # 7 successful writes, 7 entries, and a checkpoint per write
    assert L.size() == n0 + 7
    with L.db.read_session() as s:
        kinds = [e["kind"] for e in L.entries(s, n0)]
        assert kinds == ["owner.set", "terminal.registered", "terminal.registered",
                         "terminal.status", "terminal.status", "terminal.status", "terminal.groups"]
        sizes = [c["tree_size"] for c in L.checkpoints(s, n0 + 1)]
        assert sizes == list(range(n0 + 1, n0 + 8))
        assert registry.get_terminal(s, "t2")["status"] == "active"
    verify_log(export_ledger(L))


def test_bulk_import_is_one_transaction(plane):
    L = plane.ledger
    rows = ["id,lat,lon,group,owner"] + [f"d{i},{48 + i * 1e-4},{30 + i * 1e-4},donated;ukr,"
                                         for i in range(15_000)]
    out = registry.import_terminals_csv(L, "op", "\n".join(rows))
    assert out["count"] == 15_000
    with L.db.read_session() as s:
        assert registry.count_terminals(s) == 15_000
        assert {g["name"]: g["terminals"] for g in registry.list_groups(s)} == {
            "donated": 15_000, "ukr": 15_000}
        entry = L.entries(s, out["log_index"], out["log_index"] + 1)[0]
        assert entry["kind"] == "terminals.imported" and entry["data"]["count"] == 15_000
    size = L.size()
    # a bad row (line 4) aborts the whole import: nothing half-written, nothing logged
    bad = "id,lat,lon\nx1,10,10\nx2,20,20\nx3,95,0\n"
    with pytest.raises(GovernanceError, match=r"<csv>:4.*lat"):
        registry.import_terminals_csv(L, "op", bad)
    # a duplicate of an existing terminal aborts too
    with pytest.raises(ConflictError):
        registry.import_terminals_csv(L, "op", "id,lat,lon\nnew1,1,1\nd5,1,1\n")
    assert L.size() == size
    with L.db.read_session() as s:
        assert registry.get_terminal(s, "x1") is None and registry.get_terminal(s, "new1") is None


# --------------------------------------------------------------------------- proposals


def test_proposal_lifecycle_and_rejections(plane):
    L = plane.ledger
    f = plane.proposal("alice")
    policies.submit_proposal(L, "alice", f, plane.sign("alice", f))
    with pytest.raises(RefusedError, match="self-approval"):
        policies.submit_approval(L, "alice", f["id"], plane.sign("alice", f))
    with pytest.raises(RefusedError, match="bad signature"):
        policies.submit_approval(L, "bob", f["id"], plane.sign("carol", f))
    other = plane.proposal("dave")
    policies.submit_proposal(L, "dave", other, plane.sign("dave", other))
    with pytest.raises(RefusedError, match="bad signature"):  # replayed from another proposal
        policies.submit_approval(L, "bob", f["id"], plane.sign("bob", other))
    with pytest.raises(RefusedError, match="not an approver"):
        policies.submit_approval(L, "op", f["id"], plane.sign("op", f))
    r1 = policies.submit_approval(L, "bob", f["id"], plane.sign("bob", f))
    assert r1["enacted_index"] is None
    with pytest.raises(RefusedError, match="already approved"):
        policies.submit_approval(L, "bob", f["id"], plane.sign("bob", f))
    with L.db.read_session() as s:
        assert policies.policy_at(L, s, "2100-01-01T00:00:00Z") is None
    r2 = policies.submit_approval(L, "carol", f["id"], plane.sign("carol", f))
    assert r2["enacted_index"] == r2["log_index"] + 1
    with L.db.read_session() as s:
        pol = policies.policy_at(L, s, "2100-01-01T00:00:00Z")
        assert pol["proposal_id"] == f["id"] and pol["enacted_index"] == r2["enacted_index"]
        enact = L.entries(s, r2["enacted_index"], r2["enacted_index"] + 1)[0]
        assert [a["approver"] for a in enact["data"]["approvals"]] == ["bob", "carol"]
        # not in force before the entry that records the quorum
        assert policies.policy_at(L, s, enact["t_utc"]) is not None
        before = iso_utc(parse_utc(enact["t_utc"]) - dt.timedelta(microseconds=1))
        assert policies.policy_at(L, s, before) is None
    verify_log(export_ledger(L))


def test_invalid_cedar_and_fields_are_named(plane):
    L = plane.ledger
    f = plane.proposal("alice", cedar="permit(principal, action, resource) when { context.nope };")
    with pytest.raises(GovernanceError, match="invalid Cedar"):
        policies.submit_proposal(L, "alice", f, plane.sign("alice", f))
    f = plane.proposal("alice", regions={"zone": "Atlantis"})
    with pytest.raises(GovernanceError, match="regions.zone"):
        policies.submit_proposal(L, "alice", f, plane.sign("alice", f))
    f = plane.proposal("alice")
    f["justification"] = " "
    with pytest.raises(GovernanceError, match="justification"):
        policies.submit_proposal(L, "alice", f, plane.sign("alice", f))
    f = plane.proposal("alice")
    with pytest.raises(RefusedError, match="not the caller"):
        policies.submit_proposal(L, "bob", f, plane.sign("alice", f))


def test_effective_time_expiry_supersede_and_emergency(gov_url):
    clock = Clock()
    p = make_plane(gov_url, clock=clock)
    L = p.ledger
    a = p.proposal("alice", effective_utc=T0 + dt.timedelta(hours=2),
                   expires_utc=T0 + dt.timedelta(hours=1), created_utc=T0)
    policies.submit_proposal(L, "alice", a, p.sign("alice", a))
    clock.t = T0 + dt.timedelta(minutes=10)
    policies.submit_approval(L, "bob", a["id"], p.sign("bob", a))
    clock.t = T0 + dt.timedelta(minutes=61)  # past expiry
    with pytest.raises(RefusedError, match="expired"):
        policies.submit_approval(L, "carol", a["id"], p.sign("carol", a))
    # a second proposal, approved in time; effective before its quorum -> in force from the quorum
    b = p.proposal("bob", created_utc=clock.t, effective_utc=T0)
    policies.submit_proposal(L, "bob", b, p.sign("bob", b))
    clock.t = T0 + dt.timedelta(minutes=70)
    policies.submit_approval(L, "alice", b["id"], p.sign("alice", b))
    clock.t = T0 + dt.timedelta(minutes=80)
    out = policies.submit_approval(L, "dave", b["id"], p.sign("dave", b))
    assert out["status"] == "enacted"
    with L.db.read_session() as s:
        assert policies.policy_at(L, s, T0 + dt.timedelta(minutes=79)) is None
        assert policies.policy_at(L, s, T0 + dt.timedelta(minutes=80))["proposal_id"] == b["id"]
    # emergency: proposer + ONE approver (two distinct signers), marked in the log
    e = p.proposal("carol", emergency=True, created_utc=clock.t, effective_utc=clock.t)
    policies.submit_proposal(L, "carol", e, p.sign("carol", e))
    clock.t = T0 + dt.timedelta(minutes=90)
    out = policies.submit_approval(L, "dave", e["id"], p.sign("dave", e))
    assert out["enacted_index"] is not None and out["needed"] == 1
    with L.db.read_session() as s:
        enact = L.entries(s, out["enacted_index"], out["enacted_index"] + 1)[0]
        assert enact["data"]["emergency"] is True
        pol = policies.policy_at(L, s, clock.t)
        assert pol["proposal_id"] == e["id"] and pol["emergency"]
        assert policies.policy_at(L, s, T0 + dt.timedelta(minutes=85))["proposal_id"] == b["id"]
    # replay from the log (what `skyfence run` uses) agrees with the database at every instant
    tl = policy_timeline(export_ledger(L))
    assert [t.emergency for t in tl] == [False, True]
    with L.db.read_session() as s:
        for minutes in (0, 79, 80, 85, 89, 90, 200):
            t = T0 + dt.timedelta(minutes=minutes)
            a, b = policies.policy_at(L, s, t), policy_in_force(tl, t)
            assert (a and a["proposal_id"]) == (b and b.proposal_id)
            assert (a and a["cedar"]) == (b and b.cedar)
    if gov_url.startswith("sqlite"):
        assert load_policy_timeline(gov_url.split("///", 1)[1]) == tl
    # an operator (not an approver) cannot use the emergency path
    o = p.proposal("op", emergency=True, created_utc=clock.t)
    with pytest.raises(RefusedError, match="emergency"):
        policies.submit_proposal(L, "op", o, p.sign("op", o))
    verify_log(export_ledger(L))
    p.db.dispose()


# --------------------------------------------------------------------------- quorum property test

KINDS = ("genuine", "self", "expired", "wrong_key", "replay", "non_approver", "garbage")


@st.composite
def approval_sequences(draw):
    k = draw(st.integers(1, 3))
    emergency = draw(st.booleans())
    proposer = draw(st.sampled_from(APPROVERS))
    seq = draw(st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(APPROVERS)),
                        max_size=9))
    return k, emergency, proposer, seq


def _oracle(k: int, emergency: bool, proposer: str, seq) -> bool:
    """Independent oracle: distinct approvers (not the proposer) with at least one genuine,
    in-time approval; quorum = k, or 1 for an emergency."""
    good = {who for kind, who in seq if kind == "genuine" and who != proposer}
    return len(good) >= (1 if emergency else k)


def _attempt(p, kind: str, who: str, fields: dict, other: dict):
    """(actor, signature, is_late) for an attempt of the given kind."""
    if kind == "genuine":
        return who, p.sign(who, fields), False
    if kind == "self":
        return fields["proposer"], p.sign(fields["proposer"], fields), False
    if kind == "expired":
        return who, p.sign(who, fields), True
    if kind == "wrong_key":
        wrong = next(a for a in APPROVERS if a != who)
        return who, p.sign(wrong, fields), False
    if kind == "replay":
        return who, p.sign(who, other), False
    if kind == "non_approver":
        return "op", p.sign("op", fields), False
    return who, "00" * 64, False


@pytest.mark.parametrize("gov_url", ["sqlite"], indirect=True)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=approval_sequences())
def test_quorum_property(gov_url, case, tmp_path_factory):
    k, emergency, proposer, seq = case
    # pure replay
    p = _PLANES.get(gov_url) or _PLANES.setdefault(gov_url, make_plane(gov_url, quorum_k=1,
                                                                      clock=Clock()))
    clock: Clock = p.ledger._clock
    with p.ledger.db.read_session() as s:
        st = p.ledger.state(s)
    if st.quorum_k != k:
        enact_membership(p.ledger, p.keys, "op", list(APPROVERS[:st.membership_k]), [
            {"op": "quorum", "policy": k, "membership": max(k, 2), "emergency": 1}])
    start = clock.t
    fields = p.proposal(proposer, emergency=emergency, created_utc=start, effective_utc=start,
                        expires_utc=start + dt.timedelta(hours=1))
    other = p.proposal(proposer, created_utc=start)
    policies.submit_proposal(p.ledger, proposer, fields, p.sign(proposer, fields))
    keys = {a: pub_hex(p.keys[a]) for a in APPROVERS}
    attempts = []
    for i, (kind, who) in enumerate(seq):
        actor, sig, late = _attempt(p, kind, who, fields, other)
        clock.t = start + dt.timedelta(hours=2 if late else 0, seconds=i + 1)
        attempts.append(ApprovalAttempt(actor, sig, iso_utc(clock.t)))
        try:
            policies.submit_approval(p.ledger, actor, fields["id"], sig)
        except RefusedError:
            pass
    expected = _oracle(k, emergency, proposer, seq)
    # pure quorum function agrees with the oracle
    _, done = evaluate_approvals(fields, attempts, keys, k)
    assert (done is not None) == expected
    # the database agrees: enacted, and in force, iff a valid quorum exists
    clock.t = start + dt.timedelta(hours=3)
    with p.db.read_session() as s:
        prop = policies.get_proposal(s, fields["id"])
        assert (prop["status"] == "enacted") == expected
        pol = policies.policy_at(p.ledger, s, clock.t)
        assert (pol is not None and pol["proposal_id"] == fields["id"]) == expected
        # accepted approvals are exactly the distinct genuine in-time ones, first come
        want = []
        for kind, who in seq:
            if kind == "genuine" and who != proposer and who not in want:
                want.append(who)
        assert [a["approver"] for a in prop["approvals"]] == want
    clock.t = start + dt.timedelta(days=1)


_PLANES: dict = {}


def test_quorum_log_replays_offline():
    """After the property test, the whole log (hundreds of approvals) verifies offline."""
    for p in _PLANES.values():
        notes = verify_log(export_ledger(p.ledger))
        assert "entries verified" in notes[0]


# --------------------------------------------------------------------------- ledger


def test_proofs_from_the_database_verify(plane):
    L = plane.ledger
    for i in range(6):
        registry.create_group(L, "op", f"g{i}")
    with L.db.read_session() as s:
        n = L.size(s)
        sizes = [c["tree_size"] for c in L.checkpoints(s)]  # one per write transaction
        assert sizes[-1] == n and len(sizes) >= n - 2
        roots = {m: L.root(s, m) for m in range(1, n + 1)}
        for m in sizes:
            assert parse_checkpoint(L.checkpoint_at(s, m)).root_hash == roots[m]
        for m in range(1, n + 1):
            for i in range(m):
                proof = L.inclusion_proof(s, i, m)
                leaf = leaf_hash(L.entry_text(s, i).encode())
                assert inclusion_ok(leaf, i, m, proof, roots[m])
                if proof:
                    bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                    assert not inclusion_ok(leaf, i, m, bad, roots[m])
            for o in range(1, m + 1):
                assert consistency_ok(o, m, L.consistency_proof(s, o, m), roots[o], roots[m])
        old = [c["note"] for c in L.checkpoints(s)]
    notes = verify_log(export_ledger(L), older_checkpoints=old)
    assert notes[2].startswith(f"{len(old)} older")


def test_rewritten_log_is_inconsistent_with_older_checkpoint(tmp_path):
    """A geofence added and later quietly removed from history shows as an inconsistency."""
    p = make_plane(f"sqlite:///{tmp_path / 'a.db'}")
    registry.create_group(p.ledger, "op", "x")
    with p.db.read_session() as s:
        old = p.ledger.latest_checkpoint(s)
    export = export_ledger(p.ledger)
    # history rewritten: drop the last entry and re-sign a checkpoint with the same key
    from skyfence.governance.log.checkpoint import sign_checkpoint
    from skyfence.governance.log.export import export_entry_bytes, make_export
    from skyfence.governance.log.hasher import root_hash

    datas = [export_entry_bytes(e, i)[0] for i, e in enumerate(export["entries"])]
    datas[-1] = datas[-1].replace(b'"x"', b'"y"')
    root = root_hash([leaf_hash(d) for d in datas])
    forged = make_export(export["origin"], export["verifier_key"], datas,
                         [sign_checkpoint(export["origin"], len(datas), root, p.log_key)])
    verify_log(forged)  # self-consistent on its own...
    with pytest.raises(GovernanceError, match="not consistent"):
        verify_log(forged, older_checkpoints=[old])  # ...but not with the past
    p.db.dispose()


def test_checker_rejects_forged_enactment(plane):
    L = plane.ledger
    f = plane.proposal("alice")
    policies.submit_proposal(L, "alice", f, plane.sign("alice", f))
    policies.submit_approval(L, "bob", f["id"], plane.sign("bob", f))
    texts = [e["entry"] for e in export_ledger(L)["entries"]]
    forged = json.loads(texts[-1])
    forged_enact = {"index": len(texts), "t_utc": forged["t_utc"], "kind": "policy.enacted",
                    "actor": "bob", "data": {"proposal_id": f["id"], "digest": "", "emergency": False,
                                             "policy_sha256": policy_sha256(f),
                                             "effective_utc": f["effective_utc"],
                                             "approvals": [{"approver": "bob", "signature": "",
                                                            "entry_index": len(texts) - 1}]}}
    c = EntryChecker()
    for i, t in enumerate(texts):
        c(i, t.encode())
    with pytest.raises(GovernanceError, match=rf"entry {len(texts)} .*no valid quorum"):
        c(len(texts), canonical_bytes(forged_enact))


# --------------------------------------------------------------------------- roles


def test_roles_matrix_from_cedar():
    assert roles.is_permitted("x", ["operator"], "terminals.write")
    assert not roles.is_permitted("x", ["operator"], "approvals.create")
    assert roles.is_permitted("x", ["approver"], "approvals.create")
    assert not roles.is_permitted("x", ["approver"], "terminals.write")
    assert roles.is_permitted("x", ["auditor"], "log.export")
    assert not roles.is_permitted("x", ["viewer"], "log.export")
    assert roles.is_permitted("x", ["viewer"], "service.read")
    assert not any(roles.is_permitted("x", [], a) for a in roles.ACTIONS)
    with pytest.raises(RefusedError, match="may not approvals.create"):
        roles.authorize("vic", ["viewer"], "approvals.create")
    with pytest.raises(GovernanceError, match="unknown role"):
        roles.parse_roles("root")


def test_database_urls_and_sqlite_pragmas(tmp_path):
    from skyfence.governance.db import Database, normalize_url

    assert normalize_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(GovernanceError, match="unsupported database URL scheme"):
        normalize_url("mysql://x/y")
    db = Database(tmp_path / "x.db")
    with db.read_session() as s:
        conn = s.connection()
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    db.dispose()


def test_alembic_schema_matches_the_models(gov_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from skyfence.governance.db import Base, init_db

    db = init_db(gov_url)
    init_db(gov_url).dispose()  # upgrading an up-to-date database is a no-op
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0003_witnessed_checkpoints"
    db.dispose()
    assert diff == []
