// What every view shares: reading the view data, number formats, the timeline (slider, play, time).
import { tableFromIPC } from 'apache-arrow';

export const t0 = performance.now();
export const marks = {};
export const mark = (k) => { marks[k] = Math.round(performance.now() - t0); };
export const $ = (id) => document.getElementById(id);

export async function bytes(name) {
  const inline = window.__SKYFENCE_DATA__;
  if (inline) {
    const s = atob(inline[name]);
    const b = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
    return b;
  }
  const r = await fetch(`data/${name}`);
  if (!r.ok) throw new Error(`data/${name}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

export const json = async (name) => JSON.parse(new TextDecoder().decode(await bytes(name)));
export const arrow = async (name) => tableFromIPC(await bytes(name));

export function rows(table) {
  const cols = table.schema.fields.map((f) => f.name);
  return { cols, get: (i) => Object.fromEntries(cols.map((c) => [c, table.getChild(c).get(i)])) };
}

const NUM = new Intl.NumberFormat('en'); // one formatter: toLocaleString builds one per call
export const fmt = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? NUM.format(v) : v.toFixed(4)) : typeof v === 'bigint' ? NUM.format(v) : v ?? '');
export const pct = (v) => (v == null ? '' : `${(100 * v).toFixed(1)}%`);
export const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
export const hex = (c) => '#' + c.slice(0, 3).map((x) => x.toString(16).padStart(2, '0')).join('');
export const table = (pairs) => '<table>' + pairs.map(([k, v]) => `<tr><td>${k}</td><td class="n">${v}</td></tr>`).join('') + '</table>';

export function timeline(meta, onStep) {
  const nT = meta.time.steps;
  const startMs = Date.parse(meta.time.start_utc), stepMs = meta.time.step_s * 1000;
  const timeOf = (t) => new Date(startMs + t * stepMs).toISOString().replace('.000Z', 'Z');
  const slider = $('slider');
  slider.max = String(nT - 1);
  const tl = { step: 0, playing: false, timeOf, nT };
  tl.set = (t) => {
    tl.step = Math.max(0, Math.min(nT - 1, t | 0));
    slider.value = String(tl.step);
    $('time').textContent = `${timeOf(tl.step)}  (step ${tl.step})`;
    onStep(tl.step);
  };
  slider.addEventListener('input', () => tl.set(Number(slider.value)));
  let timer = null;
  $('play').addEventListener('click', () => {
    tl.playing = !tl.playing;
    $('play').innerHTML = tl.playing ? '&#10074;&#10074;' : '&#9654;';
    if (tl.playing) {
      const tick = () => { if (!tl.playing) return; tl.set(tl.step + 1 >= nT ? 0 : tl.step + 1); timer = requestAnimationFrame(tick); };
      timer = requestAnimationFrame(tick);
    } else cancelAnimationFrame(timer);
  });
  return tl;
}

// a chart canvas whose plot is drawn once (drawBase) and the time cursor on top at every step
export function cursorChart(canvas, nT, drawBase, onPick) {
  let base = null;
  const chart = { step: 0 };
  const size = () => {
    const w = Math.max(1, Math.round(canvas.clientWidth * devicePixelRatio)), h = Math.max(1, Math.round(canvas.clientHeight * devicePixelRatio));
    if (canvas.width !== w || canvas.height !== h || !base) {
      canvas.width = w; canvas.height = h;
      base = document.createElement('canvas');
      base.width = w; base.height = h;
      drawBase(base.getContext('2d'), w, h);
    }
    return [w, h];
  };
  chart.draw = (t = chart.step) => {
    chart.step = t;
    const [w, h] = size();
    const g = canvas.getContext('2d');
    g.clearRect(0, 0, w, h);
    g.drawImage(base, 0, 0);
    const x = ((t + 0.5) / nT) * w;
    g.fillStyle = '#000';
    g.fillRect(x - devicePixelRatio, 0, 2 * devicePixelRatio, h);
  };
  chart.redo = () => { base = null; chart.draw(); };
  const stepAt = (e) => Math.min(nT - 1, Math.max(0, Math.floor((e.offsetX / canvas.clientWidth) * nT)));
  canvas.addEventListener('mousedown', (e) => { onPick(stepAt(e)); canvas.onmousemove = (m) => onPick(stepAt(m)); });
  window.addEventListener('mouseup', () => { canvas.onmousemove = null; });
  window.addEventListener('resize', () => chart.redo());
  return chart;
}
