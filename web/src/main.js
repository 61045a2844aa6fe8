// The skyfence page: the view of a run, an impact, a latency or a revisit output, chosen by meta.json's "kind".
// Data: window.__SKYFENCE_DATA__ (base64, self-contained index.html) or data/<name> from the server.
import { $, json, mark, marks, t0 } from './common.js';
import { runView } from './run.js';
import { latencyView } from './latency.js';
import { revisitView } from './revisit.js';

const VIEWS = { run: runView, impact: runView, latency: latencyView, revisit: revisitView };

async function main() {
  const meta = await json('meta.json');
  mark('meta');
  document.body.dataset.kind = meta.kind;
  const view = VIEWS[meta.kind];
  if (!view) throw new Error(`meta.json: unknown kind ${meta.kind}`);
  await view(meta, window.__skyfence);
  mark('rendered');
  await new Promise((r) => requestAnimationFrame(() => r()));
  $('status').className = 'done';
  // readyMs: from navigation start (performance.timeOrigin) to the first frame drawn with data
  Object.assign(window.__skyfence, { kind: meta.kind, ready: true, readyMs: performance.now(), scriptMs: performance.now() - t0, marks });
}

window.__skyfence = { ready: false, error: null };
main().catch((e) => {
  window.__skyfence.error = String(e && e.stack ? e.stack : e);
  const st = $('status');
  st.className = 'error';
  st.textContent = `error: ${e && e.message ? e.message : e}`;
  throw e;
});
