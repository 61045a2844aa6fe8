// The governance page at / of `skyfence serve`: the log's entries, proposals with their approvals
// and quorum state, the policy in force at a chosen time, membership, the witnessed checkpoint, a
// verification of the log (the root recomputed here from the entries, and the server's own
// check) and of a pasted receipt. It polls the public log every second (`GET /log`: the size;
// `GET /view/state`: what the log establishes, 503 when the database's tables disagree with it)
// and flags a tampered or inconsistent log in red. State for tests: window.__skyfence.
import * as checks from './governance.verify.js';

const { TreeBuilder, b64encode, hasCrypto, leafHash, verifyCheckpoint, verifyReceipt } = checks;

const POLL_MS = 1000;
const SERVER_VERIFY_MS = 10_000;
const SHOWN_ENTRIES = 300;

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const short = (id) => esc(String(id).slice(0, 8));
const badge = (cls, text) => `<span class="badge ${cls}">${esc(text)}</span>`;
const list = (notes) => `<ul class="checks">${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`;

const hook = window.__skyfence = {
  ready: false, error: null, polls: 0, size: 0, state: null, tamper: null,
  verify: { client: null, server: null }, receipt: null, inForce: null,
  checks, // the browser's own checks, for tests against the Python implementation
};
const alarms = { state: null, server: null, client: null };
let tree = new TreeBuilder();
const entries = [];
let head = null, lastServerVerify = 0, verifiedSize = -1, shownIndex = -1, atNow = true, reread = false, lastInForce = 0;

async function getJson(url, init) {
  const r = await fetch(url, { cache: 'no-store', ...init });
  let body = null;
  try { body = await r.json(); } catch { /* not JSON */ }
  return { status: r.status, ok: r.ok, body };
}

// ------------------------------------------------------------------ entries and the root

function signers(e) {
  const d = e.data || {};
  switch (e.kind) {
    case 'genesis': return esc(Object.keys(d.signatures || {}).join(', ')) + ' (every founder)';
    case 'proposal.created': return `${esc(e.actor)} (proposer)`;
    case 'approval.added': return `${esc(d.approver)} (approver)`;
    case 'policy.enacted': case 'membership.enacted':
      return esc((d.approvals || []).map((a) => a.approver).join(', ')) + ' (quorum)';
    default: return `${esc(e.actor)} <span class="muted">(API caller; no signature in the entry)</span>`;
  }
}

function about(e) {
  const d = e.data || {};
  switch (e.kind) {
    case 'genesis': return `${(d.principals || []).length} founders; quorum policy ${d.quorum?.policy}, membership ${d.quorum?.membership}, emergency ${d.quorum?.emergency}`;
    case 'proposal.created': {
      const p = d.proposal || {};
      return `${short(p.id)} ${esc(p.title || p.type || '')}${p.emergency ? ' ' + badge('emergency', 'EMERGENCY') : ''}`;
    }
    case 'approval.added': return `of ${short(d.proposal_id)}`;
    case 'policy.enacted': return `${short(d.proposal_id)} in force from ${esc(d.effective_utc)}${d.emergency ? ' ' + badge('emergency', 'EMERGENCY') : ''}`;
    case 'membership.enacted': return `${short(d.proposal_id)}: ${esc((d.changes || []).map((c) => `${c.op} ${c.id ?? ''}`.trim()).join(', '))}`;
    case 'terminal.registered': return `${esc(d.id)} at ${esc(d.lat_deg)}, ${esc(d.lon_deg)} (${esc(d.status)}${d.owner ? `, owner ${esc(d.owner)}` : ''})`;
    case 'terminal.status': return `${esc(d.id)} now ${esc(d.to)}`;
    default: return esc(JSON.stringify(d).slice(0, 90));
  }
}

// Fetch the entries [tree.size, size), hash them into the tree, and check the checkpoint's root
// and signature against what this browser computed.
async function syncLog(h) {
  if (h.size < entries.length) {
    alarms.client = `the log shrank from ${entries.length} to ${h.size} entries (a rollback or a split view)`;
    return;
  }
  while (entries.length < h.size) {
    const start = entries.length;
    const r = await getJson(`log/entries?start=${start}&limit=${Math.min(1000, h.size - start)}`);
    if (!r.ok) throw new Error(`GET /log/entries: HTTP ${r.status} ${r.body?.detail ?? ""}`);
    if (!r.body.entries.length) break;
    for (const { index, entry } of r.body.entries) {
      if (index !== entries.length) throw new Error(`log/entries: index ${index} out of order`);
      if (hasCrypto()) await tree.append(await leafHash(entry));
      const e = JSON.parse(entry);
      entries.push({ index, kind: e.kind, t_utc: e.t_utc, signers: signers(e), about: about(e) });
    }
  }
  if (!hasCrypto()) return;
  if (!h.checkpoint) {
    if (h.size) alarms.client = `the log has ${h.size} entries and no signed checkpoint`;
    return;
  }
  try {
    const note = await verifyCheckpoint(h.checkpoint, h.verifier_key);
    const root = await tree.root();
    if (note.size !== tree.size) throw new Error(`the checkpoint has size ${note.size}, the log ${tree.size} entries`);
    if (b64encode(root) !== b64encode(note.root)) {
      throw new Error(`the root of the ${tree.size} entries read (${b64encode(root)}) is not the checkpoint's (${b64encode(note.root)}): the log was rewritten`);
    }
    alarms.client = null;
    hook.verify.client = { ok: true, size: tree.size, root: b64encode(root) };
    $('client-verify').innerHTML = `<span class="ok">OK</span>${list([
      `${tree.size} entries read (GET /log/entries) and hashed here with WebCrypto SHA-256 (RFC 9162)`,
      `root ${b64encode(root)} = the checkpoint's root`,
      `checkpoint signature by ${note.origin} verified here (Ed25519)`,
      'entries kept from earlier polls: a rewritten history would not reproduce the new root',
    ])}`;
  } catch (err) {
    if (err instanceof checks.Unsupported) {
      hook.verify.client = { ok: null, error: err.message };
      $('client-verify').innerHTML = `<span class="muted">not checked here: ${esc(err.message)}; see the server's check</span>`;
      return;
    }
    alarms.client = String(err.message || err);
    hook.verify.client = { ok: false, error: alarms.client };
    $('client-verify').innerHTML = `<span class="fail">FAILED</span> ${esc(alarms.client)}`;
  }
}

function renderEntries() {
  const rows = [];
  for (let i = entries.length - 1; i >= Math.max(0, entries.length - SHOWN_ENTRIES); i--) {
    const e = entries[i];
    rows.push(`<tr data-index="${e.index}" class="${shownIndex >= 0 && e.index > shownIndex ? 'new' : ''}"><td class="n">${e.index}</td><td>${esc(e.kind)}</td><td class="mono">${esc(e.t_utc)}</td><td>${e.signers}</td><td>${e.about}</td></tr>`);
  }
  $('entries').tBodies[0].innerHTML = rows.join('');
  $('entries-count').textContent = entries.length > SHOWN_ENTRIES ? `(latest ${SHOWN_ENTRIES} of ${entries.length})` : `(${entries.length})`;
  shownIndex = entries.length - 1;
}

// ------------------------------------------------------------------ what the log establishes

function renderState(s) {
  const q = s.quorum;
  $('quorum').innerHTML = `<table>
    <tr><td>policy proposals</td><td><b>${q.policy}</b> of ${q.approvers} approvers (distinct keys, not the proposer's)</td></tr>
    <tr><td>membership changes</td><td><b>${q.membership}</b> of ${q.approvers} approvers</td></tr>
    <tr><td>emergency policies</td><td><b>${q.emergency}</b> approval(s) besides the proposer: two distinct signers at least, marked ${badge('emergency', 'EMERGENCY')}</td></tr>
    <tr><td>log key</td><td class="mono">${esc(s.verifier_key)}<br>fingerprint ${esc(s.log_key_fingerprint)}</td></tr></table>`;
  $('principals').tBodies[0].innerHTML = s.principals.map((p) => `<tr data-principal="${esc(p.id)}">
    <td>${esc(p.id)}</td><td>${esc(p.roles.join(', ') || '(removed)')}</td>
    <td class="mono">${esc(p.fingerprint ?? '(no key)')}</td><td class="n">${p.api_keys}</td></tr>`).join('');
  $('proposals').tBodies[0].innerHTML = [...s.proposals].reverse().map((p) => {
    const state = badge(p.status, p.status) + (p.emergency ? ' ' + badge('emergency', 'EMERGENCY') : '');
    const quorum = `${p.approvals.length} of ${p.needed} needed<br><span class="muted">${p.distinct_keys} distinct signer key(s)${p.enacted_index != null ? `; enacted by entry ${p.enacted_index}` : ''}</span>`;
    const approvals = p.approvals.map((a) => `${esc(a.approver)} <span class="mono muted">${esc(a.fingerprint)}</span> #${a.entry_index}`).join('<br>') || '<span class="muted">none yet</span>';
    return `<tr data-proposal="${esc(p.id)}" data-status="${esc(p.status)}" data-approvals="${p.approvals.length}">
      <td class="mono" title="${esc(p.id)}">${short(p.id)}</td><td>${esc(p.kind)}</td><td>${esc(p.title)}</td><td>${esc(p.proposer)}</td>
      <td>${state}</td><td>${quorum}</td><td>${approvals}</td></tr>`;
  }).join('') || '<tr><td colspan="7" class="muted">no proposals yet</td></tr>';
  $('checkpoint').innerHTML = `<h3>Latest checkpoint (size ${s.size}, signed by the log)</h3><pre>${esc(s.checkpoint ?? '(none yet)')}</pre>`;
  const w = s.witnessed;
  $('witnessed').innerHTML = !w ? '<h3>Witnesses</h3><p class="muted">No witnessed checkpoint yet (<code>skyfence witness cosign</code> collects cosignatures).</p>'
    : `<h3>Witnessed checkpoint: size ${w.tree_size}${w.tree_size < s.size ? ` <span class="muted">(${s.size - w.tree_size} ${s.size - w.tree_size === 1 ? "entry" : "entries"} behind)</span>` : ''}</h3>
       <table><thead><tr><th>witness</th><th>key ID</th><th>cosigned (UTC)</th></tr></thead><tbody>${w.cosignatures.map((c) => `<tr data-witness="${esc(c.name)}"><td>${esc(c.name)}</td><td class="mono">${esc(c.key_id)}</td><td class="mono">${esc(c.timestamp_utc ?? '')}</td></tr>`).join('')}</tbody></table>
       <p class="muted small">Cosignatures (C2SP tlog-cosignature) are checked against a witness policy by <code>skyfence verify --witness-policy</code>.</p>`;
  const wp = s.witness_policy;
  if (wp) {
    const met = wp.quorum_met == null ? '<span class="muted">no witnessed checkpoint yet</span>'
      : wp.quorum_met ? badge('ok', 'met') : badge('fail', 'NOT met');
    $('witnessed').innerHTML += `<h3>The server's witness policy (C2SP tlog-policy): quorum <code>${esc(wp.quorum)}</code> ${met}</h3>
      ${wp.error ? `<p class="fail">${esc(wp.error)}</p>` : ''}
      <table id="policy-witnesses"><thead><tr><th>witness</th><th>URL</th><th>cosigned the latest witnessed checkpoint (server)</th><th>checked in this browser</th></tr></thead><tbody>${wp.witnesses.map((w) => `<tr data-witness="${esc(w.name)}" data-cosigned="${w.cosigned}">
        <td title="${esc(w.vkey)}">${esc(w.name)}</td><td class="mono">${esc(w.url ?? '')}</td>
        <td>${w.cosigned ? '<span class="ok">yes</span>' : '<span class="muted">no</span>'}${w.error ? ` <span class="fail">${esc(w.error)}</span>` : ''}</td>
        <td class="here">${cosigned.get(`${s.witnessed?.note}\u0000${w.vkey}`) ?? ''}</td></tr>`).join('')}</tbody></table>`;
    checkCosignatures(s);
  }
}

// The policy witnesses' cosignatures on the witnessed note, verified here (kept per note and key).
const cosigned = new Map();
async function checkCosignatures(s) {
  const note = s.witnessed?.note;
  if (!note || !hasCrypto()) return;
  for (const w of s.witness_policy.witnesses) {
    const k = `${note}\u0000${w.vkey}`;
    if (!cosigned.has(k)) {
      let out;
      try {
        const t = await checks.verifyCosignature(note, w.vkey);
        out = t === null ? '<span class="muted">no cosignature</span>'
          : `<span class="ok">verified</span> <span class="muted">(${new Date(t * 1000).toISOString().replace('.000Z', 'Z')})</span>`;
      } catch (err) {
        out = err instanceof checks.Unsupported ? '<span class="muted">not checked (no Ed25519 here)</span>' : `<span class="fail">${esc(err.message || err)}</span>`;
      }
      cosigned.set(k, out);
    }
    const cell = document.querySelector(`#policy-witnesses tr[data-witness="${CSS.escape(w.name)}"] td.here`);
    if (cell) cell.innerHTML = cosigned.get(k);
  }
}

async function loadInForce() {
  lastInForce = Date.now();
  const v = $('at').value;
  const at = atNow || !v ? '' : `?at=${encodeURIComponent(v + 'Z')}`;
  const r = await getJson(`view/in-force${at}`);
  const el = $('policy');
  if (!r.ok) {
    el.innerHTML = `<p class="fail">${esc(r.body?.detail ?? `HTTP ${r.status}`)}</p>`;
    hook.inForce = { error: r.body?.detail ?? r.status };
    return;
  }
  const { at_utc: atUtc, policy: p } = r.body;
  hook.inForce = r.body;
  if (atNow) $('at').value = atUtc.slice(0, 19);
  if (!p) { el.innerHTML = `<p>At ${esc(atUtc)}: <b>no policy in force</b>: everything covered is served.</p>`; return; }
  el.innerHTML = `<p>At ${esc(atUtc)}: <b>${esc(p.title || p.proposal_id)}</b>${p.emergency ? ' ' + badge('emergency', 'EMERGENCY') : ''}</p>
    <table><tr><td>proposal</td><td class="mono">${esc(p.proposal_id)}</td></tr>
    <tr><td>enacted by</td><td>entry ${p.enacted_index} at ${esc(p.enacted_utc)}</td></tr>
    <tr><td>in force from</td><td>${esc(p.in_force_from_utc)}</td></tr>
    <tr><td>approved by</td><td>${esc(p.approvals.map((a) => a.approver).join(', '))}</td></tr>
    <tr><td>policy SHA-256</td><td class="mono">${esc(p.policy_sha256)}</td></tr></table>
    <pre>${esc(p.cedar)}</pre><pre>${esc(JSON.stringify(p.regions))}</pre>`;
}

// ------------------------------------------------------------------ the server's verification

async function serverVerify() {
  lastServerVerify = Date.now();
  const r = await getJson('view/verify');
  const el = $('server-verify');
  const v = r.body;
  if (!r.ok || !v) {
    alarms.server = `GET /view/verify: HTTP ${r.status} ${v?.detail ?? ''}`;
  } else if (!v.ok) {
    alarms.server = v.errors.slice(0, 3).join('\n');
  } else {
    alarms.server = null;
  }
  hook.verify.server = v;
  verifiedSize = v?.size ?? -1;
  el.innerHTML = alarms.server ? `<span class="fail">FAILED</span>${list(alarms.server.split('\n'))}`
    : `<span class="ok">OK</span>${list([`${v.entries} entries: every signature, quorum and rule checked`, `${v.checkpoints} checkpoints verified; root ${v.root_hash}`, 'the database\'s tables agree with the log', ...v.notes])}`;
}

function renderAlarm() {
  const why = [];
  if (alarms.state) why.push(`The server refuses to act (HTTP 503): ${alarms.state}`);
  if (alarms.server) why.push(`Verification of the log failed: ${alarms.server}`);
  if (alarms.client) why.push(`This browser's check of the log failed: ${alarms.client}`);
  hook.tamper = why.length ? why.join('\n') : null;
  const el = $('alarm');
  el.hidden = !why.length;
  el.innerHTML = why.length ? `&#9888; TAMPERED OR INCONSISTENT LOG: do not trust decisions of this server<div class="why">${esc(why.join('\n'))}</div>` : '';
}

// ------------------------------------------------------------------ polling

async function poll() {
  if (reread) { // 'verify again': read and hash every entry again, and ask the server now
    reread = false;
    tree = new TreeBuilder();
    entries.length = 0;
    shownIndex = -1;
    lastServerVerify = 0;
    hook.verify.client = hook.verify.server = null;
  }
  try {
    const h = await getJson('log');
    if (!h.ok) throw new Error(`GET /log: HTTP ${h.status}`);
    head = h.body;
    const grew = head.size !== entries.length;
    if (grew) {
      try {
        await syncLog(head);
      } catch (err) { // entries the server cannot serve (e.g. a row edited into invalid text)
        alarms.client = `cannot read the log's entries: ${err.message || err}`;
        hook.verify.client = { ok: false, error: alarms.client };
        $('client-verify').innerHTML = `<span class="fail">FAILED</span> ${esc(alarms.client)}`;
      }
      renderEntries();
    }
    const s = await getJson('view/state');
    if (s.status === 503) {
      if (!alarms.state) lastServerVerify = 0; // check the whole log at once
      alarms.state = s.body?.detail ?? 'the server refuses to act';
    } else if (!s.ok) {
      throw new Error(`GET /view/state: HTTP ${s.status} ${s.body?.detail ?? ''}`);
    } else {
      if (alarms.state) lastServerVerify = 0; // the tables agree again: check the whole log again
      alarms.state = null;
      hook.state = s.body;
      renderState(s.body);
      // 'now' moves on: a policy whose effective time comes is in force without a new entry
      if (grew || !hook.inForce || (atNow && Date.now() - lastInForce > SERVER_VERIFY_MS)) await loadInForce();
    }
    // the server's check reads the whole log: after a change at most every 2 s, else every
    // 10 s, or 1 ms per entry for a long log
    const every = verifiedSize !== head.size ? 2000 : Math.max(SERVER_VERIFY_MS, head.size);
    if (Date.now() - lastServerVerify > every) await serverVerify();
    renderAlarm();
    hook.size = head.size;
    $('head').textContent = `${head.origin} · ${head.size} entries · updated ${new Date().toISOString().slice(11, 19)} UTC`;
    hook.error = null;
    hook.ready = true;
  } catch (err) {
    $('head').textContent = `cannot read the log: ${err.message || err}`;
    if (!hook.ready) hook.error = String(err.message || err);
  }
  hook.polls++;
  setTimeout(poll, POLL_MS);
}

async function checkReceipt() {
  const text = $('receipt').value.trim();
  const out = { client: null, server: null };
  hook.receipt = null;
  $('receipt-client').innerHTML = $('receipt-server').innerHTML = '<span class="muted">checking&hellip;</span>';
  try {
    if (!hasCrypto()) throw new Error('WebCrypto is not available here (the page is not a secure context): see the server\'s answer');
    out.client = { ok: true, notes: await verifyReceipt(text, head?.verifier_key) };
  } catch (err) {
    out.client = { ok: false, error: String(err.message || err) };
  }
  const r = await getJson('view/receipt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
  out.server = r.ok ? r.body : { ok: false, error: r.body?.detail ? JSON.stringify(r.body.detail) : `HTTP ${r.status}` };
  const show = (v) => (v.ok ? `<span class="ok">VALID</span>${list(v.notes)}` : `<span class="fail">INVALID</span> ${esc(v.error)}`);
  $('receipt-client').innerHTML = show(out.client);
  $('receipt-server').innerHTML = show(out.server);
  hook.receipt = out;
}

$('verify-receipt').addEventListener('click', checkReceipt);
$('verify-again').addEventListener('click', () => { reread = true; });
$('at').addEventListener('change', () => { atNow = false; loadInForce(); });
$('at-now').addEventListener('click', () => { atNow = true; loadInForce(); });
if (!hasCrypto()) {
  $('client-verify').innerHTML = '<span class="fail">not checked</span>: WebCrypto is not available (open the page over https or on localhost)';
}
poll();
