"""The governance page at ``/`` of ``skyfence serve`` in a real browser: headless Chromium (Debian's
``/usr/bin/chromium``) driven by Playwright for Python; skipped with the reason when either is
missing. The server is the app `skyfence serve` runs (`create_app`) under uvicorn in a thread, on
a governance log made by `tests.governance.fixtures.make_plane` (approvers alice, bob, carol,
dave; operator op; auditor and viewer added by a membership change). Expected values come from
the log (`Ledger.state`); the page is read back through its DOM and ``window.__skyfence``.
Screenshots are written to each test's folder."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import threading
import time
from urllib.parse import urlparse

import httpx
import pytest

from skyfence.api.app import create_app
from skyfence.governance import policies, registry
from skyfence.governance.log.checkpoint import parse_note
from skyfence.governance.witness.client import store_witnessed
from skyfence.governance.witness.cosignature import cosign
from tests.governance.fixtures import free_port, make_plane
from tests.viz.test_web import CHROMIUM

WAIT_MS = 15_000


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM))
        yield b
        b.close()


class Served:
    """A plane (`make_plane`) served by `create_app` under uvicorn on 127.0.0.1 in a thread."""

    def __init__(self, tmp_path, witness_policy=None):
        import uvicorn

        self.path = tmp_path / "gov.db"
        self.plane = make_plane(f"sqlite:///{self.path}")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        app = create_app(self.plane.url, self.plane.log_key, witness_policy=witness_policy)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.plane.db.dispose()

    def post(self, who: str, path: str, body: dict) -> dict:
        r = httpx.post(self.base + path, json=body, headers={"X-API-Key": self.plane.api_keys[who]},
                       timeout=30)
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture
def served(tmp_path):
    with Served(tmp_path) as s:
        yield s


def _open(browser, url: str):
    """The page at `url` once its first poll is done, with console errors and requested URLs."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    page.wait_for_function("window.__skyfence && (window.__skyfence.ready || window.__skyfence.error)",
                           timeout=WAIT_MS)
    assert page.evaluate("window.__skyfence.error") is None
    return page, errors, requests


def _offsite(requests: list[str], url: str) -> list[str]:
    origin = urlparse(url).netloc
    return [u for u in requests if urlparse(u).netloc != origin and not u.startswith("data:")]


def _text(page, selector: str) -> str:
    return page.eval_on_selector(selector, "el => el.innerText")


@pytest.fixture
def witnessed(tmp_path):
    """A served plane with a witness policy of two witnesses (no URLs) and quorum w1; w1 has
    cosigned the latest checkpoint."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from skyfence.governance.witness.cosignature import cosigner_vkey
    from skyfence.governance.witness.policy import parse_policy

    wkeys = {n: Ed25519PrivateKey.generate() for n in ("w1", "w2")}
    policy = parse_policy("".join(f"witness {n} {cosigner_vkey(f'{n}.example/witness', k)}\n"
                                  for n, k in wkeys.items()) + "quorum w1\n")
    with Served(tmp_path, policy) as served:
        p = served.plane
        with p.db.read_session() as s:
            note = p.ledger.latest_checkpoint(s)
        line = cosign(parse_note(note)[0], "w1.example/witness", wkeys["w1"], int(time.time()))
        with p.db.write_session() as s:
            store_witnessed(s, note, [line], p.ledger.now_utc())
        yield served, note


def test_view_shows_membership_quorum_entries_and_verifies(browser, witnessed, tmp_path):
    served, note = witnessed
    p = served.plane
    page, errors, requests = _open(browser, served.base + "/")
    page.wait_for_function("window.__skyfence.verify.client && window.__skyfence.verify.server", timeout=WAIT_MS)
    page.screenshot(path=str(tmp_path / "governance.png"), full_page=True)
    assert errors == []
    assert _offsite(requests, served.base) == []

    with p.db.read_session() as s:
        st = p.ledger.state(s)
        size = p.ledger.size(s)
    rows = page.eval_on_selector_all(
        "#principals tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.innerText))")
    want = [[pid, ", ".join(v["roles"]),
             hashlib.sha256(bytes.fromhex(v["public_key"])).hexdigest()[:16] if v.get("public_key") else "(no key)",
             str(sum(1 for o in st.api_keys.values() if o == pid))]
            for pid, v in sorted(st.principals.items())]
    assert rows == want
    quorum = _text(page, "#quorum")
    n_approvers = len(st.approver_keys())
    assert f"{st.quorum_k} of {n_approvers} approvers" in quorum
    assert f"{st.membership_k} of {n_approvers} approvers" in quorum
    # entries: index, kind and time of each, and who signed the genesis
    got = page.eval_on_selector_all("#entries tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.innerText))")
    with p.db.read_session() as s:
        logged = p.ledger.entries(s, 0, size)
    assert [(int(r[0]), r[1], r[2]) for r in got] == [(e["index"], e["kind"], e["t_utc"]) for e in reversed(logged)]
    assert set(got[-1][3].split(" (")[0].split(", ")) == set(logged[0]["data"]["signatures"])
    # the membership change that added aud and vic: enacted by bob and carol
    (prop,) = st.proposals
    row = f'#proposals tr[data-proposal="{prop}"]'
    assert page.get_attribute(row, "data-status") == "enacted"
    assert "2 of 2 needed" in _text(page, row) and "2 distinct signer key(s)" in _text(page, row)
    # verification: the root recomputed in the browser is the checkpoint's; the server's check
    client = page.evaluate("window.__skyfence.verify.client")
    server = page.evaluate("window.__skyfence.verify.server")
    assert client["ok"] and client["size"] == size and server["ok"] and server["size"] == size
    assert client["root"] == parse_note(note)[0].split("\n")[2] == server["root_hash"]
    assert page.is_hidden("#alarm"), _text(page, "#alarm")
    assert "w1.example/witness" in _text(page, "#witnessed")
    assert page.get_attribute('#policy-witnesses tr[data-witness="w1"]', "data-cosigned") == "true"
    assert page.get_attribute('#policy-witnesses tr[data-witness="w2"]', "data-cosigned") == "false"
    assert "quorum w1 met" in _text(page, "#witnessed")
    page.wait_for_function("document.querySelector('#policy-witnesses tr[data-witness=\"w2\"] td.here').innerText", timeout=WAIT_MS)
    assert _text(page, '#policy-witnesses tr[data-witness="w1"] td.here').startswith("verified")
    assert _text(page, '#policy-witnesses tr[data-witness="w2"] td.here') == "no cosignature"
    assert "no policy in force" in _text(page, "#policy")


def test_enacted_after_two_approvals_without_reload(browser, served, tmp_path):
    p = served.plane
    page, errors, _ = _open(browser, served.base + "/")
    page.evaluate("window.__notReloaded = true")
    fields = p.proposal("alice", title="crimea geofence")
    served.post("alice", "/proposals", {"proposal": fields, "signature": p.sign("alice", fields)})
    row = f'#proposals tr[data-proposal="{fields["id"]}"]'
    page.wait_for_selector(f'{row}[data-status="open"]', timeout=WAIT_MS)
    assert "0 of 2 needed" in _text(page, row)
    served.post("bob", f"/proposals/{fields['id']}/approvals", {"signature": p.sign("bob", fields)})
    page.wait_for_selector(f'{row}[data-approvals="1"]', timeout=WAIT_MS)
    assert page.get_attribute(row, "data-status") == "open"
    served.post("carol", f"/proposals/{fields['id']}/approvals", {"signature": p.sign("carol", fields)})
    page.wait_for_selector(f'{row}[data-status="enacted"]', timeout=WAIT_MS)
    page.wait_for_function("document.querySelector('#policy').innerText.includes('crimea geofence')", timeout=WAIT_MS)
    assert page.evaluate("window.__notReloaded") is True
    text = _text(page, row)
    assert "2 of 2 needed" in text and "bob" in text and "carol" in text
    page.screenshot(path=str(tmp_path / "governance-enacted.png"), full_page=True)
    # the policy in force at a time before the enactment: none
    page.fill("#at", "2001-01-01T00:00:00")
    page.dispatch_event("#at", "change")
    page.wait_for_function("window.__skyfence.inForce && window.__skyfence.inForce.at_utc.startsWith('2001')", timeout=WAIT_MS)
    assert "no policy in force" in _text(page, "#policy")
    assert errors == []


def test_tampered_database_is_flagged(browser, served, tmp_path):
    page, _, _ = _open(browser, served.base + "/")
    assert page.is_hidden("#alarm"), _text(page, "#alarm")
    # the operator lowers the quorum in the table (the log says 2)
    with sqlite3.connect(served.path) as con:
        con.execute("UPDATE settings SET value = '1' WHERE key = 'quorum_k'")
    page.wait_for_selector("#alarm:not([hidden])", timeout=WAIT_MS)
    page.wait_for_function("window.__skyfence.verify.server && !window.__skyfence.verify.server.ok", timeout=WAIT_MS)
    alarm = _text(page, "#alarm")
    assert "TAMPERED" in alarm and "HTTP 503" in alarm and "quorum_k" in alarm
    assert page.eval_on_selector("#alarm", "el => getComputedStyle(el).backgroundColor") == "rgb(198, 40, 40)"
    page.screenshot(path=str(tmp_path / "governance-tampered.png"), full_page=True)
    # put back: the flag goes away without a reload
    with sqlite3.connect(served.path) as con:
        con.execute("UPDATE settings SET value = '2' WHERE key = 'quorum_k'")
    page.wait_for_function("document.querySelector('#alarm').hidden", timeout=WAIT_MS)
    # a logged approval rewritten in place: the tables still agree, the entries do not
    with sqlite3.connect(served.path) as con:
        con.execute("UPDATE log_entries SET body = replace(body, '\"approver\":\"bob\"', "
                    "'\"approver\":\"dave\"') WHERE idx = 2")
    page.click("#verify-again")  # read every entry again (the page keeps those it read)
    page.wait_for_selector("#alarm:not([hidden])", timeout=WAIT_MS)
    page.wait_for_function("window.__skyfence.verify.client && window.__skyfence.verify.server", timeout=WAIT_MS)
    alarm = _text(page, "#alarm")
    assert "entry 2" in alarm and "the log was rewritten" in alarm, alarm
    assert not page.evaluate("window.__skyfence.verify.client.ok")
    assert not page.evaluate("window.__skyfence.verify.server.ok")
    page.screenshot(path=str(tmp_path / "governance-rewritten.png"), full_page=True)


def test_pasted_receipt_verifies_and_a_modified_one_fails(browser, served, tmp_path):
    p = served.plane
    registry.register_terminal(p.ledger, "op", "kyiv1", 50.45, 30.52, status="active")
    fields = p.proposal("alice", title="first")
    policies.submit_proposal(p.ledger, "alice", fields, p.sign("alice", fields))
    for a in ("bob", "carol"):
        policies.submit_approval(p.ledger, a, fields["id"], p.sign(a, fields))
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
    r = httpx.get(served.base + "/service", params={"terminal": "kyiv1", "at": at},
                  headers={"X-API-Key": p.api_keys["vic"]}, timeout=60)
    assert r.status_code == 200, r.text
    page, errors, _ = _open(browser, served.base + "/")

    def check(text: str) -> dict:
        page.evaluate("window.__skyfence.receipt = null")
        page.fill("#receipt", text)
        page.click("#verify-receipt")
        page.wait_for_function("window.__skyfence.receipt", timeout=WAIT_MS)
        return page.evaluate("window.__skyfence.receipt")

    good = check(r.text)
    assert good["client"]["ok"], good
    assert good["server"]["ok"], good
    assert any("inclusion proofs recomputed" in n for n in good["client"]["notes"])
    assert any("distinct valid approver" in n for n in good["client"]["notes"])
    assert any("Cedar" in n for n in good["server"]["notes"])
    page.screenshot(path=str(tmp_path / "governance-receipt.png"), full_page=True)
    doc = json.loads(r.text)
    doc["decision"] = "denied" if doc["decision"] == "served" else "served"
    bad = check(json.dumps(doc))
    assert not bad["client"]["ok"] and "signature" in bad["client"]["error"]
    assert not bad["server"]["ok"] and "signature" in bad["server"]["error"]
    assert "INVALID" in _text(page, "#receipt-client")
    assert errors == []


def test_browser_checks_agree_with_the_python_ones(browser, served):
    """The page's own checks (WebCrypto) against skyfence's Python ones, which are tested against
    the transparency-dev and C2SP vectors: Merkle roots, every inclusion and consistency proof of
    trees up to 21 leaves, checkpoint signatures (vkeys whose base64 holds '+' and '/'), and
    canonical JSON (numbers as Python writes them, escapes, keys in code point order)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from skyfence.governance.log.checkpoint import sign_checkpoint, verifier_key
    from skyfence.governance.log.tree import MerkleLog
    from skyfence.governance.rules.canonical import canonical_json

    page, errors, _ = _open(browser, served.base + "/")
    b64 = lambda h: base64.b64encode(h).decode()  # noqa: E731
    n = 21
    tree = MerkleLog()
    tree.extend([f"leaf {i}".encode() for i in range(n)])
    roots = [b64(tree.root(k)) for k in range(1, n + 1)]
    inclusion = [[i, k, [b64(h) for h in tree.inclusion_proof(i, k)]]
                 for k in range(1, n + 1) for i in range(k)]
    consistency = [[m, k, [b64(h) for h in tree.consistency_proof(m, k)]]
                   for k in range(1, n + 1) for m in range(1, k + 1)]
    got = page.evaluate("""async ({n, roots, inclusion, consistency}) => {
        const c = window.__skyfence.checks, enc = new TextEncoder(), d = c.b64decode;
        const t = new c.TreeBuilder(), leaves = [], rootsJs = [];
        for (let i = 0; i < n; i++) {
            leaves.push(await c.leafHash(enc.encode(`leaf ${i}`)));
            await t.append(leaves[i]);
            rootsJs.push(c.b64encode(await t.root()));
        }
        const bad = [];
        for (const [i, k, p] of inclusion) {
            const proof = p.map(d), root = d(roots[k - 1]);
            if (!(await c.inclusionOk(leaves[i], i, k, proof, root))) bad.push(['inclusion', i, k]);
            if (k > 1 && await c.inclusionOk(leaves[(i + 1) % k], i, k, proof, root)) bad.push(['inclusion of another leaf', i, k]);
        }
        for (const [m, k, p] of consistency) {
            const proof = p.map(d), r1 = d(roots[m - 1]), r2 = d(roots[k - 1]);
            if (!(await c.consistencyOk(m, k, proof, r1, r2))) bad.push(['consistency', m, k]);
            if (m < k && await c.consistencyOk(m, k, proof, r2, r1)) bad.push(['consistency of swapped roots', m, k]);
        }
        return {rootsJs, bad};
    }""", {"n": n, "roots": roots, "inclusion": inclusion, "consistency": consistency})
    assert got["rootsJs"] == roots
    assert got["bad"] == []

    keys, seen = [], set()
    while seen != {"+", "/"}:  # vkeys whose base64 part holds each of '+' and '/'
        k = Ed25519PrivateKey.generate()
        tail = verifier_key("o.example/log", k).split("+", 2)[2]
        new = {c for c in "+/" if c in tail} - seen
        if new:
            seen |= new
            keys.append(k)
    other = Ed25519PrivateKey.generate()
    cases = []
    for k in keys:
        note = sign_checkpoint("o.example/log", 7, tree.root(7), k)
        vkey = verifier_key("o.example/log", k)
        lines = note.split("\n")
        lines[2] = b64(tree.root(6))
        cases += [[note, vkey, True], ["\n".join(lines), vkey, False],
                  [note, verifier_key("o.example/log", other), False]]
    res = page.evaluate("""async (cases) => {
        const out = [];
        for (const [note, vkey] of cases) {
            try { const n = await window.__skyfence.checks.verifyCheckpoint(note, vkey); out.push(n.size); }
            catch (e) { out.push(String(e.message)); }
        }
        return out;
    }""", cases)
    assert [r == 7 for r in res] == [ok for *_, ok in cases], res

    from skyfence.governance.witness.cosignature import add_cosignatures, cosigner_vkey

    wkey = keys[0]
    note = sign_checkpoint("o.example/log", 7, tree.root(7), other)
    signed = add_cosignatures(note, [cosign(parse_note(note)[0], "w.example/w", wkey, 1_700_000_000)])
    lines = signed.split("\n")
    lines[2] = b64(tree.root(6))
    cosig = page.evaluate("""async (cases) => {
        const out = [];
        for (const [note, vkey] of cases) {
            try { out.push(await window.__skyfence.checks.verifyCosignature(note, vkey)); }
            catch (e) { out.push(String(e.message)); }
        }
        return out;
    }""", [[signed, cosigner_vkey("w.example/w", wkey)], ["\n".join(lines), cosigner_vkey("w.example/w", wkey)],
          [signed, cosigner_vkey("w.example/w", other)]])
    assert cosig == [1_700_000_000, "cosignature by w.example/w does not verify", None]

    doc = {"b": 1.0, "a": [1e-05, 33.0, -0.0, 12345678901234567890, 1.5e300, 0.1, 50.45],
           "\u00fc": "\u00e9\n\t\u0001\"\\/\u2028", "z": None, "t": True, "f": False,
           "\U0001F600": 1, "\uFFFD": 2, "k\u00e9": {}, "nested": {"y": [], "x": [{"b": 2, "a": 1}]}}
    js = page.evaluate("""(text) => { const c = window.__skyfence.checks; return c.canonical(c.parseJson(text)); }""",
                       json.dumps(doc, indent=2))
    assert js == canonical_json(doc)
    assert errors == []
