// Checks the governance page makes in the browser, with WebCrypto (SHA-256, Ed25519), so that it
// does not take the server's word: RFC 9162 Merkle tree hashes, inclusion and consistency proofs,
// C2SP signed-note checkpoints, canonical JSON (keys sorted, no spaces, numbers kept as written)
// and skyfence receipts (skyfence.governance.receipts.verify_receipt, except the Cedar re-run).

const enc = new TextEncoder();
const subtle = globalThis.crypto && globalThis.crypto.subtle;

export const hasCrypto = () => Boolean(subtle);

export const b64decode = (s) => {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4) throw new Error('not base64');
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};
export const b64encode = (b) => btoa(String.fromCharCode(...b));
export const hexdecode = (s) => {
  if (typeof s !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error('not hex');
  return new Uint8Array(s.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
};
export const hexencode = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export const sha256 = async (bytes) => new Uint8Array(await subtle.digest('SHA-256', bytes));
export const leafHash = (data) => sha256(concat(Uint8Array.of(0), typeof data === 'string' ? enc.encode(data) : data));
export const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

// The RFC 9162 root of leaves appended one by one: a stack of perfect subtrees (level, hash),
// as skyfence.governance.log.hasher.root_hash, one node hash per append on average.
export class TreeBuilder {
  constructor() { this.stack = []; this.size = 0; }
  async append(leaf) {
    let h = leaf, level = 0;
    while (this.stack.length && this.stack[this.stack.length - 1][0] === level) {
      h = await nodeHash(this.stack.pop()[1], h);
      level++;
    }
    this.stack.push([level, h]);
    this.size++;
  }
  async root() {
    if (!this.size) return sha256(new Uint8Array());
    let h = this.stack[this.stack.length - 1][1];
    for (let i = this.stack.length - 2; i >= 0; i--) h = await nodeHash(this.stack[i][1], h);
    return h;
  }
}

// RFC 9162 section 2.1.3.2
export async function inclusionOk(leaf, index, size, proof, root) {
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

// RFC 9162 section 2.1.4.2
export async function consistencyOk(first, second, proof, firstRoot, secondRoot) {
  if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
  if (first === 0 || first > second || !proof.length) return false;
  const path = (first & (first - 1)) === 0 ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1, sn = second - 1;
  while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, firstRoot) && equal(sr, secondRoot);
}

// ------------------------------------------------------------------ Ed25519 and signed notes

// A browser without Ed25519 in WebCrypto (before Chrome 137, Firefox 129, Safari 17): checks
// that need a signature are not made here, rather than reported as failed.
export class Unsupported extends Error {}

export async function ed25519Ok(publicKey, message, signature) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  let key;
  try {
    key = await subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
  } catch (err) {
    if (err && err.name === 'NotSupportedError') throw new Unsupported('this browser has no Ed25519 in WebCrypto');
    throw err;
  }
  return subtle.verify({ name: 'Ed25519' }, key, signature, message);
}

// A C2SP note verifier key: name+hex key hash+base64(0x01 || Ed25519 public key)
export function parseVerifierKey(vkey) {
  // the name holds no '+'; the base64 key may
  const m = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(String(vkey));
  if (!m) throw new Error('not a note verifier key');
  const parts = m.slice(1);
  const raw = b64decode(parts[2]);
  if (raw.length !== 33 || raw[0] !== 1) throw new Error('not an Ed25519 verifier key');
  return { name: parts[0], keyHash: hexdecode(parts[1]), publicKey: raw.slice(1) };
}

// A signed note: its body (through the final newline of the text) and signature lines.
export function parseNote(text) {
  const cut = text.indexOf('\n\n');
  if (cut < 0) throw new Error('not a signed note');
  const body = text.slice(0, cut + 1);
  const sigs = [];
  for (const line of text.slice(cut + 2).split('\n')) {
    if (!line) continue;
    const m = line.match(/^\u2014 (\S+) (\S+)$/);
    if (!m) throw new Error('bad signature line');
    const raw = b64decode(m[2]);
    sigs.push({ name: m[1], keyHash: raw.slice(0, 4), signature: raw.slice(4) });
  }
  const lines = body.split('\n');
  return { body, sigs, origin: lines[0], size: Number(lines[1]), root: b64decode(lines[2] ?? '') };
}

// The checkpoint with its signature by `vkey` checked; throws naming what fails.
export async function verifyCheckpoint(text, vkey) {
  const k = parseVerifierKey(vkey);
  const note = parseNote(text);
  const sig = note.sigs.find((s) => s.name === k.name && equal(s.keyHash, k.keyHash));
  if (!sig) throw new Error(`checkpoint: no signature by ${k.name}`);
  if (!(await ed25519Ok(k.publicKey, enc.encode(note.body), sig.signature))) throw new Error('checkpoint: signature does not verify');
  if (note.origin !== k.name) throw new Error(`checkpoint: origin ${note.origin} is not the key's ${k.name}`);
  return note;
}

// C2SP tlog-cosignature cosignature/v1: the cosigner vkey is name+hex key ID+base64(0x04 || key);
// its line in the note carries key ID || 8-byte big-endian timestamp || Ed25519 signature over
// "cosignature/v1\ntime <timestamp>\n" || the checkpoint body. Returns the timestamp (seconds)
// of `vkey`'s verified cosignature, null when the note has no line by it; throws when it fails.
export async function verifyCosignature(text, vkey) {
  const m = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(String(vkey));
  if (!m) throw new Error('not a cosigner vkey');
  const raw = b64decode(m[3]);
  if (raw.length !== 33 || raw[0] !== 4) throw new Error('not a cosignature/v1 vkey');
  const keyId = hexdecode(m[2]);
  const note = parseNote(text);
  const line = note.sigs.find((x) => x.name === m[1] && equal(x.keyHash, keyId));
  if (!line) return null;
  if (line.signature.length !== 72) throw new Error(`cosignature by ${m[1]}: not 8 + 64 bytes`);
  const t = line.signature.slice(0, 8).reduce((acc, b) => acc * 256n + BigInt(b), 0n);
  const msg = concat(enc.encode(`cosignature/v1\ntime ${t}\n`), enc.encode(note.body));
  if (!(await ed25519Ok(raw.slice(1), msg, line.signature.slice(8)))) throw new Error(`cosignature by ${m[1]} does not verify`);
  return Number(t);
}

// ------------------------------------------------------------------ canonical JSON

// A JSON number kept as its source text, so that canonical bytes are those the server signed
// (Python's json writes 33.0 and 1e-05; JavaScript numbers would not).
class Num { constructor(raw) { this.raw = raw; } valueOf() { return Number(this.raw); } }

const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

export function parseJson(text) {
  let i = 0;
  const ws = () => { while (' \t\n\r'.includes(text[i]) && i < text.length) i++; };
  const fail = (what) => { throw new Error(`not JSON: ${what} at ${i}`); };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; const o = {}; ws();
      if (text[i] === '}') { i++; return o; }
      for (;;) {
        ws(); if (text[i] !== '"') fail('a key expected');
        const k = str(); ws(); if (text[i++] !== ':') fail("':' expected");
        o[k] = value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i++] === '}') return o;
        fail("',' or '}' expected");
      }
    }
    if (c === '[') {
      i++; const a = []; ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) {
        a.push(value()); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i++] === ']') return a;
        fail("',' or ']' expected");
      }
    }
    if (c === '"') return str();
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m) { i += m[0].length; return new Num(m[0]); }
    for (const [w, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(w, i)) { i += w.length; return v; }
    }
    return fail('a value expected');
  };
  const str = () => {
    STRING.lastIndex = i;
    const m = STRING.exec(text);
    if (!m) fail('a string expected');
    i += m[0].length;
    return JSON.parse(m[0]);
  };
  const v = value(); ws();
  if (i !== text.length) fail('text after the value');
  return v;
}

// Python sorts keys by code point; JavaScript's < compares UTF-16 units (which differ above U+FFFF)
function byCodePoint(a, b) {
  const x = Array.from(a, (c) => c.codePointAt(0)), y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

export function canonical(v) {
  if (v === null || v === true || v === false) return String(v);
  if (v instanceof Num) return v.raw;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('not canonical JSON: NaN or Infinity');
    return JSON.stringify(v);
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  const keys = Object.keys(v).sort(byCodePoint);
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonical(v[k])).join(',') + '}';
}
export const canonicalBytes = (v) => enc.encode(canonical(v));
const n = (v) => (v instanceof Num ? Number(v.raw) : v);

// ------------------------------------------------------------------ receipts

// Principal id -> public key (hex or null) from genesis and membership.enacted entries below
// `before` (skyfence.governance.rules.membership.principal_keys).
function principalKeys(entries, before) {
  const keys = {};
  for (const e of [...entries].sort((a, b) => n(a.index) - n(b.index))) {
    if (n(e.index) >= before) continue;
    if (e.kind === 'genesis') for (const p of e.data.principals) keys[p.id] = p.public_key;
    else if (e.kind === 'membership.enacted') {
      for (const c of e.data.changes) {
        if (c.op === 'add' || c.op === 'key') keys[c.id] = c.public_key;
        else if (c.op === 'remove') keys[c.id] = null;
      }
    }
  }
  return keys;
}

// Verify a receipt (its JSON text) in the browser; returns the notes of what was checked, throws
// an Error naming the first failure. `logKey`: the verifier key the page holds for this log.
export async function verifyReceipt(text, logKey) {
  const doc = parseJson(text);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('receipt: a JSON object expected');
  const notes = [];
  if (doc.version !== 'skyfence-receipt-v1') throw new Error(`receipt: unknown version ${JSON.stringify(doc.version)}`);
  const key = doc.log_verifier_key;
  if (key !== logKey) throw new Error('receipt: made by another log key than this log\'s');
  notes.push('made by this log\'s key');
  const { signature, ...unsigned } = doc;
  const sig = b64decode(signature);
  const k = parseVerifierKey(key);
  const msg = concat(enc.encode('skyfence-receipt-v1\n'), canonicalBytes(unsigned));
  if (!(await ed25519Ok(k.publicKey, msg, sig))) throw new Error('receipt: bad signature by the log key');
  notes.push('receipt signature ok');
  const cp = await verifyCheckpoint(doc.checkpoint, key);
  if (cp.size !== n(doc.tree_size)) throw new Error('receipt: checkpoint size differs from tree_size');
  notes.push(`checkpoint signature ok (size ${cp.size})`);
  const pol = doc.policy;
  if (pol === null || pol === undefined) {
    if (doc.decision === 'denied' && doc.status === 'active') throw new Error('receipt: denied without a policy');
    notes.push('no policy in force');
  } else {
    const entries = new Map();
    for (const sup of pol.entries) {
      const proof = sup.inclusion_proof.map(b64decode);
      if (!(await inclusionOk(await leafHash(sup.entry), n(sup.index), cp.size, proof, cp.root))) {
        throw new Error(`receipt: entry ${n(sup.index)} is not in the checkpointed log`);
      }
      entries.set(n(sup.index), parseJson(sup.entry));
    }
    notes.push(`${entries.size} log entries proven included (inclusion proofs recomputed)`);
    const enact = entries.get(n(pol.log_index));
    if (!enact || enact.kind !== 'policy.enacted') throw new Error('receipt: no enactment entry at the policy\'s log index');
    const created = [...entries.values()].find((e) => e.kind === 'proposal.created' && e.data.proposal.id === enact.data.proposal_id);
    if (!created) throw new Error('receipt: the enacted proposal\'s entry is missing');
    const fields = created.data.proposal;
    const policyHash = hexencode(await sha256(canonicalBytes({ cedar: fields.cedar, regions: fields.regions || {} })));
    if (policyHash !== pol.policy_sha256 || enact.data.policy_sha256 !== pol.policy_sha256) throw new Error('receipt: policy hash differs from the logged proposal');
    notes.push('policy hash matches the logged proposal');
    const keys = principalKeys(entries.values(), n(pol.log_index));
    const pmsg = canonicalBytes(fields);
    const seen = new Set();
    for (const a of enact.data.approvals) {
      if (a.approver === fields.proposer || seen.has(a.approver)) throw new Error(`receipt: approval by ${a.approver} is not distinct`);
      const pk = keys[a.approver];
      if (!pk || !(await ed25519Ok(hexdecode(pk), pmsg, hexdecode(a.signature)))) throw new Error(`receipt: quorum signature of ${a.approver} does not verify`);
      seen.add(a.approver);
    }
    const listed = (xs) => JSON.stringify(xs.map((a) => [a.approver, a.signature]));
    if (listed(enact.data.approvals) !== listed(pol.quorum_signatures)) throw new Error('receipt: quorum signatures differ from the logged enactment');
    notes.push(`quorum: ${seen.size} distinct valid approver signature(s)${fields.emergency ? ' [EMERGENCY path]' : ''}`);
    const from = enact.t_utc > fields.effective_utc ? enact.t_utc : fields.effective_utc;
    if (from > doc.at_utc) throw new Error('receipt: the policy was not yet in force at the receipt\'s time');
    notes.push(`policy in force from ${from}`);
  }
  const w = doc.witnessed;
  if (w) {
    const wcp = await verifyCheckpoint(w.checkpoint, key);
    const proof = w.consistency_proof.map(b64decode);
    if (wcp.size !== n(w.tree_size) || wcp.size > cp.size) throw new Error(`receipt: witnessed checkpoint of size ${wcp.size} does not precede the receipt's size ${cp.size}`);
    if (!(await consistencyOk(wcp.size, cp.size, proof, wcp.root, cp.root))) throw new Error('receipt: the receipt\'s checkpoint is not consistent with the witnessed checkpoint');
    notes.push(`witnessed checkpoint of size ${wcp.size} consistent (${wcp.sigs.length - 1} cosignature line(s), not checked here: no witness policy)`);
  } else {
    notes.push('no witnessed checkpoint in the receipt');
  }
  return notes;
}
