"""Offline verification of exported logs: tampering is caught and named."""

from __future__ import annotations

import base64
import copy
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from skyfence.errors import GovernanceError, VerificationError
from skyfence.governance import keys as k
from skyfence.governance.audit import verify_command
from skyfence.governance.log.checkpoint import sign_checkpoint, verifier_key
from skyfence.governance.log.export import EXPORT_FORMAT, load_export, make_export
from skyfence.governance.log.tree import MerkleLog
from skyfence.governance.log.verify import verify_export

ORIGIN = "skyfence.test/governance"
KEY = k.generate_private_key()
VKEY = verifier_key(ORIGIN, KEY)


def entry(i: int, kind: str, data: dict) -> bytes:
    return json.dumps({"index": i, "kind": kind, "data": data}, sort_keys=True,
                      separators=(",", ":")).encode()


def build(datas: list[bytes], cp_sizes: list[int], key=KEY) -> tuple[MerkleLog, list[str]]:
    log = MerkleLog()
    notes = []
    for d in datas:
        log.append(d)
        if log.size in cp_sizes:
            notes.append(sign_checkpoint(ORIGIN, log.size, log.root(), key))
    return log, notes


DATAS = [entry(i, "terminal.registered", {"id": f"T{i}"}) for i in range(30)]
CP_SIZES = [1, 5, 12, 20, 30]


@pytest.fixture()
def export():
    _, notes = build(DATAS, CP_SIZES)
    return make_export(ORIGIN, VKEY, DATAS, notes, extra={"note": "test"})


def test_clean_export_verifies(export):
    rep = verify_export(export, verifier_key=VKEY)
    assert rep.ok, rep.errors
    assert (rep.entries, rep.checkpoints, rep.size) == (30, 5, 30)
    log, _ = build(DATAS, [])
    assert rep.root_hash == log.root()
    rep2 = verify_export(json.loads(json.dumps(export)))  # survives JSON, key from export
    assert rep2.ok and any("pin" in n for n in rep2.notes)


def test_empty_log():
    rep = verify_export(make_export(ORIGIN, VKEY, [], []))
    assert rep.ok and rep.entries == 0


@settings(max_examples=25, deadline=None)
@given(i=st.integers(0, 29), pos=st.integers(0, 10**6), delta=st.integers(1, 25))
def test_tampered_entry_byte_is_named(i, pos, delta):
    _, notes = build(DATAS, CP_SIZES)
    ex = make_export(ORIGIN, VKEY, DATAS, notes)
    text = ex["entries"][i]["entry"]
    j = pos % len(text)
    ex["entries"][i]["entry"] = text[:j] + chr((ord(text[j]) + delta - 32) % 95 + 32) + text[j + 1:]
    if ex["entries"][i]["entry"] == text:
        return
    rep = verify_export(ex, verifier_key=VKEY)
    assert not rep.ok
    assert rep.first_error.startswith(f"entry {i}: leaf hash mismatch")
    # the checkpoints over it fail too
    assert any(e.startswith("checkpoint") for e in rep.errors)
    with pytest.raises(VerificationError, match=f"^entry {i}: leaf hash mismatch"):
        rep.raise_for_errors()


@settings(max_examples=25, deadline=None)
@given(i=st.integers(0, 29), byte=st.integers(0, 31), bit=st.integers(0, 7))
def test_tampered_leaf_hash_is_named(i, byte, bit):
    _, notes = build(DATAS, CP_SIZES)
    ex = make_export(ORIGIN, VKEY, DATAS, notes)
    h = bytearray(base64.b64decode(ex["entries"][i]["leaf_hash"]))
    h[byte] ^= 1 << bit
    ex["entries"][i]["leaf_hash"] = base64.b64encode(bytes(h)).decode()
    rep = verify_export(ex)
    assert rep.errors == [rep.errors[0]] and rep.first_error.startswith(
        f"entry {i}: leaf hash mismatch")


@settings(max_examples=40, deadline=None)
@given(c=st.integers(0, 4), pos=st.integers(0, 10**6), delta=st.integers(1, 25))
def test_tampered_checkpoint_byte_is_named(c, pos, delta):
    _, notes = build(DATAS, CP_SIZES)
    note = notes[c]
    j = pos % len(note)
    ch = note[j]
    if ch == "\n":
        new = "x"
    elif ch == "\u2014":
        new = "-"
    else:
        new = chr((ord(ch) + delta - 32) % 95 + 32)
    tampered = note[:j] + new + note[j + 1:]
    if tampered == note:
        return
    notes[c] = tampered
    rep = verify_export(make_export(ORIGIN, VKEY, DATAS, notes), verifier_key=VKEY)
    assert not rep.ok
    assert rep.first_error.startswith(f"checkpoint {c}")


def test_plain_text_entries_without_leaf_hashes_localise_the_change():
    """G2's export form: entries are the texts only. A changed entry is caught by the first
    checkpoint over it, which names the range holding it."""
    _, notes = build(DATAS, CP_SIZES)
    ex = {"format": EXPORT_FORMAT, "origin": ORIGIN, "verifier_key": VKEY,
          "entries": [d.decode() for d in DATAS], "checkpoints": notes}
    assert verify_export(ex).ok
    ex["entries"][15] = ex["entries"][15].replace("T15", "T99")
    rep = verify_export(ex)
    assert rep.first_error.startswith("checkpoint 3 (size 20): root hash does not match")
    assert "[12, 20)" in rep.first_error


def test_check_entry_hook_names_entry(export):
    seen = []

    def hook(index: int, data: bytes) -> None:
        seen.append(index)
        if json.loads(data)["data"]["id"] == "T7":
            raise GovernanceError("approval signature does not verify")

    rep = verify_export(export, check_entry=hook)
    assert seen == list(range(30))
    assert rep.errors == ["entry 7: approval signature does not verify"]

    def export_hook(doc):
        raise GovernanceError("approvals table: row 3 differs")

    rep = verify_export(export, check_export=export_hook)
    assert rep.errors == ["export: approvals table: row 3 differs"]


def test_other_failures(export):
    other = k.generate_private_key()
    rep = verify_export(export, verifier_key=verifier_key(ORIGIN, other))
    assert rep.first_error == "export: its verifier_key is not the pinned log key"
    ex = copy.deepcopy(export)
    ex["checkpoints"] = ex["checkpoints"][:-1]  # last 10 entries unsigned
    rep = verify_export(ex)
    assert rep.errors == ["entry 20: not covered by any signed checkpoint (entries [20, 30) "
                          "are unsigned)"]
    ex = copy.deepcopy(export)
    ex["entries"].append({"index": 30, "entry": "x"})
    assert not verify_export(ex).ok
    ex = copy.deepcopy(export)
    ex["entries"][3]["index"] = 4
    assert verify_export(ex).first_error == "entry 3: records index 4"
    ex = copy.deepcopy(export)
    ex["origin"] = "someone.else/log"
    assert "origin" in verify_export(ex).first_error
    # checkpoint by a foreign key only
    _, foreign = build(DATAS, [30], key=other)
    ex = copy.deepcopy(export)
    ex["checkpoints"][-1] = foreign[0]
    rep = verify_export(ex)
    assert rep.first_error.startswith("checkpoint 4 (size 30): note has no verifiable signatures")


def rewritten_history():
    """History: 10 entries, a geofence is added at entry 6 and an auditor keeps the checkpoint
    of size 10. The operator later rebuilds the log without the geofence entry (same key),
    appends more entries and signs fresh checkpoints."""
    honest = [entry(i, "terminal.registered", {"id": f"T{i}"}) for i in range(10)]
    honest[6] = entry(6, "policy.enacted", {"geofence": "Crimea", "action": "deny"})
    _, notes = build(honest, [10])
    old_cp = notes[0]
    rewritten = [entry(i, "terminal.registered", {"id": f"T{i}"}) for i in range(25)]
    _, new_notes = build(rewritten, [5, 10, 25])
    return old_cp, make_export(ORIGIN, VKEY, rewritten, new_notes), honest


def test_history_rewrite_fails_consistency():
    old_cp, ex, honest = rewritten_history()
    assert verify_export(ex, verifier_key=VKEY).ok  # self-consistent on its own
    rep = verify_export(ex, verifier_key=VKEY, older_checkpoints=[old_cp])
    assert not rep.ok
    assert rep.first_error.startswith("older checkpoint 0 (size 10): not consistent with the "
                                      "export's checkpoint of size 25")
    assert "rewritten" in rep.first_error
    # the honest continuation of the same history is consistent with the old checkpoint
    cont = honest + [entry(i, "terminal.registered", {"id": f"T{i}"}) for i in range(10, 25)]
    _, notes = build(cont, [25])
    rep = verify_export(make_export(ORIGIN, VKEY, cont, notes), older_checkpoints=[old_cp])
    assert rep.ok and rep.older_checkpoints == 1


def test_truncated_log_fails():
    old_cp, ex, _ = rewritten_history()
    _, notes = build(DATAS[:3], [3])
    rep = verify_export(make_export(ORIGIN, VKEY, DATAS[:3], notes),
                          older_checkpoints=[old_cp])
    assert "truncated or rolled back" in rep.first_error


def test_load_and_command(tmp_path, export):
    p = tmp_path / "export.json"
    p.write_text(json.dumps(export))
    buf = io.StringIO()
    rep = verify_command(str(p), [], semantic=False, console=Console(file=buf, width=200))
    assert rep.ok and "OK" in buf.getvalue()
    # JSON-lines form
    lines = [json.dumps({"type": "header", "format": EXPORT_FORMAT, "origin": ORIGIN,
                         "verifier_key": VKEY})]
    lines += [json.dumps({"type": "entry", **e}) for e in export["entries"]]
    lines += [json.dumps({"type": "checkpoint", "note": n}) for n in export["checkpoints"]]
    pj = tmp_path / "export.jsonl"
    pj.write_text("\n".join(lines) + "\n")
    assert verify_export(load_export(pj)).ok
    # failure: printed and raised
    old_cp, ex, _ = rewritten_history()
    p2 = tmp_path / "rewritten.json"
    p2.write_text(json.dumps(ex))
    (tmp_path / "old.cp").write_text(old_cp)
    buf = io.StringIO()
    with pytest.raises(VerificationError, match="older checkpoint 0"):
        verify_command(str(p2), [str(tmp_path / "old.cp")], semantic=False,
                         console=Console(file=buf, width=200))
    assert "FAIL" in buf.getvalue()
    with pytest.raises(VerificationError, match="cannot read"):
        verify_command(str(tmp_path / "missing.json"), [], semantic=False)


def test_command_over_http(monkeypatch, export):
    import httpx

    calls = []

    def fake_get(url, **kw):
        calls.append(url)
        return httpx.Response(200, json=export, request=httpx.Request("GET", url))

    monkeypatch.setattr(httpx, "get", fake_get)
    rep = verify_command("http://log.example/", [], semantic=False,
                           console=Console(file=io.StringIO()))
    assert rep.ok and calls == ["http://log.example/log/export"]


def test_older_checkpoint_of_the_empty_tree(export):
    """An older checkpoint of size 0 is consistent with every tree when its root is the empty
    tree's (C2SP tlog-witness, no proof needed); one claiming another root for size 0 fails."""
    from skyfence.governance.log.hasher import EMPTY_ROOT

    empty = sign_checkpoint(ORIGIN, 0, EMPTY_ROOT, KEY)
    rep = verify_export(export, verifier_key=VKEY, older_checkpoints=[empty])
    assert rep.ok and rep.older_checkpoints == 1, rep.errors
    bogus = sign_checkpoint(ORIGIN, 0, b"\x01" * 32, KEY)
    rep = verify_export(export, verifier_key=VKEY, older_checkpoints=[bogus])
    assert rep.first_error.startswith("older checkpoint 0 (size 0): not consistent")
    assert "empty tree's root" in rep.first_error
