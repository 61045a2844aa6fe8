// The skyfence run page: H3 cells and terminals coloured by service state at a chosen time step.
// Data: window.__SKYFENCE_DATA__ (base64, self-contained index.html) or data/<name> from the server.
import { Deck, MapView, WebMercatorViewport } from '@deck.gl/core';
import { GeoJsonLayer, LineLayer, ScatterplotLayer, SolidPolygonLayer } from '@deck.gl/layers';
import { tableFromIPC } from 'apache-arrow';
import { cellToBoundary } from 'h3-js';

const UNCOVERED = 0, SERVED = 1, DENIED = 2, ABSENT = 3;
const NAMES = ['uncovered', 'served', 'denied', 'absent'];
const CELL_RGBA = [[158, 158, 158, 200], [44, 162, 95, 200], [222, 45, 38, 215], [0, 0, 0, 0]];
const TERM_RGBA = [[110, 110, 110, 255], [20, 120, 60, 255], [200, 20, 20, 255], [0, 0, 0, 0]];
const FENCE_RGBA = [[8, 48, 107], [106, 61, 154], [177, 89, 40], [31, 120, 180], [227, 26, 28], [51, 160, 44]];
const t0 = performance.now();
const marks = {};
const mark = (k) => { marks[k] = Math.round(performance.now() - t0); };
const $ = (id) => document.getElementById(id);

async function bytes(name) {
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

// state changes (row, step, state; sorted by row then step) -> Int8Array [steps * rows], step-major
function expand(events, nRows, nSteps) {
  const out = new Int8Array(nRows * nSteps).fill(ABSENT);
  const row = events.getChild('row').toArray();
  const step = events.getChild('step').toArray();
  const state = events.getChild('state').toArray();
  const n = row.length;
  for (let i = 0; i < n; i++) {
    const r = row[i], s = state[i];
    const end = i + 1 < n && row[i + 1] === r ? step[i + 1] : nSteps;
    for (let t = step[i]; t < end; t++) out[t * nRows + r] = s;
  }
  return out;
}

function counts(states, nRows, nSteps) {
  const c = new Int32Array(nSteps * 4);
  for (let t = 0; t < nSteps; t++) {
    const o = t * nRows;
    for (let r = 0; r < nRows; r++) c[t * 4 + states[o + r]]++;
  }
  return c;
}

function rows(table) {
  const cols = table.schema.fields.map((f) => f.name);
  return { cols, get: (i) => Object.fromEntries(cols.map((c) => [c, table.getChild(c).get(i)])) };
}

const fmt = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en') : v.toFixed(4)) : typeof v === 'bigint' ? v.toLocaleString('en') : v ?? '');
const pct = (v) => (v == null ? '' : `${(100 * v).toFixed(1)}%`);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const hex = (c) => '#' + c.slice(0, 3).map((x) => x.toString(16).padStart(2, '0')).join('');

async function main() {
  const [metaB, cellsB, cellEvB, termsB, termEvB, tracksB] = await Promise.all(
    ['meta.json', 'cells.arrow', 'cell_events.arrow', 'terminals.arrow', 'terminal_events.arrow', 'tracks.arrow'].map(bytes));
  mark('bytes');
  const meta = JSON.parse(new TextDecoder().decode(metaB));
  const cells = tableFromIPC(cellsB), terms = tableFromIPC(termsB), tracks = tableFromIPC(tracksB);
  const nT = meta.time.steps, nC = cells.numRows, nK = terms.numRows;
  const cellStates = expand(tableFromIPC(cellEvB), nC, nT);
  const termStates = expand(tableFromIPC(termEvB), nK, nT);
  const cellCounts = counts(cellStates, nC, nT), termCounts = counts(termStates, nK, nT);
  const startMs = Date.parse(meta.time.start_utc), stepMs = meta.time.step_s * 1000;
  mark('states');
  const timeOf = (t) => new Date(startMs + t * stepMs).toISOString().replace('.000Z', 'Z');

  // cells
  const h3 = cells.getChild('h3').toArray();
  const cellIndex = new Map();
  const cellPolys = new Array(nC);
  for (let i = 0; i < nC; i++) { cellIndex.set(h3[i], i); cellPolys[i] = cellToBoundary(h3[i], true); }
  const cellRows = rows(cells);
  mark('cells');
  // terminals: fixed positions, and per-step positions of the moving ones (tracks)
  const tLat = terms.getChild('lat_deg').toArray(), tLon = terms.getChild('lon_deg').toArray();
  const tId = terms.getChild('id').toArray(), tGroup = terms.getChild('group').toArray();
  const tRegions = terms.getChild('regions').toArray(), tMoving = terms.getChild('moving').toArray();
  const termIndex = new Map(tId.map((id, i) => [id, i]));
  const trRow = tracks.getChild('row').toArray(), trStep = tracks.getChild('step').toArray();
  const trLat = tracks.getChild('lat_deg').toArray(), trLon = tracks.getChild('lon_deg').toArray();
  const trRegions = tracks.getChild('regions');
  const moving = new Map(); // row -> Int32Array [nT] of track point index (-1 absent)
  for (let j = 0; j < trRow.length; j++) {
    let a = moving.get(trRow[j]);
    if (!a) { a = new Int32Array(nT).fill(-1); moving.set(trRow[j], a); }
    a[trStep[j]] = j;
  }
  const segments = [];
  for (let j = 0; j + 1 < trRow.length; j++) {
    if (trRow[j + 1] === trRow[j] && trStep[j + 1] === trStep[j] + 1) segments.push(j);
  }
  const termData = [];
  for (let i = 0; i < nK; i++) if (moving.has(i) || (!tMoving[i] && Number.isFinite(tLat[i]))) termData.push(i);

  const view = { step: 0, playing: false, selected: -1, show: { cells: true, terminals: true, tracks: true, fences: true } };
  const cellState = (i, t = view.step) => cellStates[t * nC + i];
  const termState = (i, t = view.step) => termStates[t * nK + i];
  const termPos = (i, t = view.step) => {
    const a = moving.get(i);
    if (!a) return [tLon[i], tLat[i]];
    const j = a[t];
    return j < 0 ? [NaN, NaN] : [trLon[j], trLat[j]];
  };
  const termRegionsAt = (i, t = view.step) => {
    const a = moving.get(i);
    return a ? (a[t] < 0 ? '' : trRegions.get(a[t])) : tRegions[i];
  };
  const cellColor = (i) => CELL_RGBA[cellState(i)];
  const termColor = (i) => TERM_RGBA[termState(i)];

  // the map: a blank sea, Natural Earth outlines, geofences; no tiles, no network
  const el = $('map');
  const [x0, y0, x1, y1] = meta.extent;
  const fit = new WebMercatorViewport({ width: el.clientWidth || 800, height: el.clientHeight || 600 })
    .fitBounds([[x0, y0], [x1, y1]], { padding: 20 });
  const fences = meta.geofences.features;

  function layers() {
    const t = view.step;
    return [
      new GeoJsonLayer({ id: 'land', data: meta.countries, filled: true, stroked: false, getFillColor: [244, 241, 234] }),
      new SolidPolygonLayer({
        id: 'cells', data: cellPolys, visible: view.show.cells, pickable: true,
        getPolygon: (d) => d, getFillColor: (_, { index }) => cellColor(index), onClick: ({ index }) => select(index),
        updateTriggers: { getFillColor: t }, highlightColor: [255, 255, 0, 160], autoHighlight: true,
      }),
      new GeoJsonLayer({ id: 'outlines', data: meta.countries, filled: false, stroked: true, getLineColor: [85, 85, 85], lineWidthUnits: 'pixels', getLineWidth: 0.8 }),
      new GeoJsonLayer({
        id: 'fences', data: meta.geofences, visible: view.show.fences, filled: false, stroked: true,
        getLineColor: (f) => FENCE_RGBA[fences.indexOf(f) % FENCE_RGBA.length], lineWidthUnits: 'pixels', getLineWidth: 2.2,
      }),
      new LineLayer({
        id: 'tracks', data: segments, visible: view.show.tracks,
        getSourcePosition: (j) => [trLon[j], trLat[j]], getTargetPosition: (j) => [trLon[j + 1], trLat[j + 1]],
        getColor: (j) => TERM_RGBA[termStates[trStep[j] * nK + trRow[j]]], getWidth: 2.5, widthUnits: 'pixels',
      }),
      new ScatterplotLayer({
        id: 'terminals', data: termData, visible: view.show.terminals, pickable: true,
        getPosition: (i) => termPos(i), getFillColor: (i) => termColor(i),
        getRadius: (i) => (moving.has(i) ? 6 : 2.6), radiusUnits: 'pixels', stroked: true,
        getLineColor: (i) => (moving.has(i) ? [0, 0, 0, 255] : [255, 255, 255, 160]), lineWidthUnits: 'pixels', getLineWidth: 0.6,
        updateTriggers: { getPosition: t, getFillColor: t },
      }),
    ];
  }

  const tooltip = ({ object, layer, index }) => {
    if (object == null || !layer) return null;
    if (layer.id === 'terminals') {
      const i = object;
      return { html: `<b>${esc(tId[i])}</b><br>group: ${esc(tGroup[i])}<br>state: <b>${NAMES[termState(i)]}</b><br>regions: ${esc(termRegionsAt(i) || '(none)')}<br>${timeOf(view.step)}` };
    }
    if (layer.id === 'cells') return { html: `${esc(h3[index])}: <b>${NAMES[cellState(index)]}</b>` };
    if (layer.id === 'fences') return { html: `geofence <b>${esc(object.properties.name)}</b>` };
    return null;
  };

  let deck;
  const ready = new Promise((resolve) => {
    deck = new Deck({
      parent: el, views: new MapView({ repeat: false }),
      initialViewState: { longitude: fit.longitude, latitude: fit.latitude, zoom: fit.zoom },
      controller: true, layers: layers(), getTooltip: tooltip,
      onAfterRender: () => resolve(),
    });
  });

  // side panel
  const s = meta.summary;
  $('title').textContent = s.scenario || 'skyfence run';
  $('description').textContent = s.description || '';
  const tm = s.terminals || {};
  $('summary').innerHTML = '<h2>Run</h2><table>' + [
    ['period (UTC)', `${s.time.start_utc} &ndash; ${s.time.end_utc}`], ['steps', `${fmt(s.time.steps)} &times; ${s.time.step_s} s`],
    ['satellites', fmt(s.constellation.satellites)], ['H3 cells (res ' + s.h3_resolution + ')', fmt(s.cells)],
    ['area km&sup2;', fmt(Math.round(s.area_km2))], ['covered', pct(s.covered_fraction)], ['served', pct(s.served_fraction)],
    ['denied', pct(s.denied_fraction)], ['terminals', fmt(tm.count)], ['terminals ever denied', fmt(tm.ever_denied)],
    ['policy', esc((s.policy.files || []).map((f) => f.split('/').pop()).join(', '))],
  ].map(([k, v]) => `<tr><td>${k}</td><td class="n">${v}</td></tr>`).join('') + '</table>';
  $('regions').innerHTML = (s.regions || []).length ? '<h2>Regions</h2><table><tr><th>region</th><th class="n">cells</th><th class="n">served</th><th class="n">denied</th></tr>' +
    s.regions.map((r) => `<tr><td>${esc(r.region)}</td><td class="n">${fmt(r.cells_in_ground)}</td><td class="n">${pct(r.served_fraction)}</td><td class="n">${pct(r.denied_fraction)}</td></tr>`).join('') + '</table>' : '';

  function select(i) {
    view.selected = i;
    if (i < 0) return;
    const r = cellRows.get(i);
    $('selection').innerHTML = `<h2>Cell ${esc(h3[i])}</h2><p>state at ${timeOf(view.step)}: <b>${NAMES[cellState(i)]}</b></p><table>` +
      cellRows.cols.filter((c) => c !== 'h3').map((c) => `<tr><td>${esc(c)}</td><td class="n">${esc(fmt(r[c]))}</td></tr>`).join('') + '</table>';
  }

  function nowPanel() {
    const t = view.step, c = (a, k) => a[t * 4 + k];
    $('now').innerHTML = `<h2>At ${timeOf(t)}</h2><table><tr><th></th><th class="n">served</th><th class="n">denied</th><th class="n">uncovered</th></tr>` +
      `<tr><td>cells</td><td class="n">${fmt(c(cellCounts, SERVED))}</td><td class="n">${fmt(c(cellCounts, DENIED))}</td><td class="n">${fmt(c(cellCounts, UNCOVERED))}</td></tr>` +
      (nK ? `<tr><td>terminals</td><td class="n">${fmt(c(termCounts, SERVED))}</td><td class="n">${fmt(c(termCounts, DENIED))}</td><td class="n">${fmt(c(termCounts, UNCOVERED))}</td></tr>` : '') + '</table>';
  }

  // the served / denied / uncovered chart (cells above, terminals below), linked to the slider
  const canvas = $('chart');
  function drawChart() {
    const w = (canvas.width = canvas.clientWidth * devicePixelRatio), h = (canvas.height = canvas.clientHeight * devicePixelRatio);
    const g = canvas.getContext('2d');
    g.clearRect(0, 0, w, h);
    const panels = nK ? [[cellCounts, nC, 'cells'], [termCounts, nK, 'terminals']] : [[cellCounts, nC, 'cells']];
    const ph = h / panels.length;
    panels.forEach(([c, n, label], p) => {
      const top = p * ph;
      for (const [k, col] of [[SERVED, '#2ca25f'], [DENIED, '#de2d26'], [UNCOVERED, '#9e9e9e']]) {
        g.fillStyle = col;
        for (let t = 0; t < nT; t++) {
          let below = 0;
          for (const kk of [SERVED, DENIED, UNCOVERED]) { if (kk === k) break; below += c[t * 4 + kk]; }
          const x = (t / nT) * w, bw = Math.max(w / nT, 1);
          const y0 = top + ph * (1 - below / n), y1 = top + ph * (1 - (below + c[t * 4 + k]) / n);
          g.fillRect(x, y1, bw + 0.5, y0 - y1);
        }
      }
      g.fillStyle = '#000';
      g.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
      g.fillText(label, 4 * devicePixelRatio, top + 12 * devicePixelRatio);
    });
    const x = ((view.step + 0.5) / nT) * w;
    g.fillStyle = '#000';
    g.fillRect(x - devicePixelRatio, 0, 2 * devicePixelRatio, h);
  }
  const stepFromChart = (e) => Math.min(nT - 1, Math.max(0, Math.floor((e.offsetX / canvas.clientWidth) * nT)));
  canvas.addEventListener('mousedown', (e) => { setStep(stepFromChart(e)); canvas.onmousemove = (m) => setStep(stepFromChart(m)); });
  window.addEventListener('mouseup', () => { canvas.onmousemove = null; });

  const slider = $('slider');
  slider.max = String(nT - 1);
  function setStep(t) {
    view.step = Math.max(0, Math.min(nT - 1, t | 0));
    slider.value = String(view.step);
    $('time').textContent = `${timeOf(view.step)}  (step ${view.step})`;
    deck.setProps({ layers: layers() });
    nowPanel();
    drawChart();
    if (view.selected >= 0) select(view.selected);
  }
  slider.addEventListener('input', () => setStep(Number(slider.value)));
  let timer = null;
  $('play').addEventListener('click', () => {
    view.playing = !view.playing;
    $('play').innerHTML = view.playing ? '&#10074;&#10074;' : '&#9654;';
    if (view.playing) {
      const tick = () => { if (!view.playing) return; setStep(view.step + 1 >= nT ? 0 : view.step + 1); timer = requestAnimationFrame(tick); };
      timer = requestAnimationFrame(tick);
    } else cancelAnimationFrame(timer);
  });
  for (const k of Object.keys(view.show)) {
    $(`show-${k}`).addEventListener('change', (e) => { view.show[k] = e.target.checked; deck.setProps({ layers: layers() }); });
  }
  window.addEventListener('resize', drawChart);

  mark('panel');
  setStep(0);
  await ready;
  mark('rendered');
  await new Promise((r) => requestAnimationFrame(() => r()));
  $('status').className = 'done';

  // a small hook for tests and scripts: states and the colours the layers draw
  const layerColor = (id, i) => {
    const layer = deck.props.layers.find((l) => l.id === id);
    return hex(layer.props.getFillColor(i, { index: i }));
  };
  Object.assign(window.__skyfence, {
    ready: true, readyMs: performance.now() - t0, marks, steps: nT, cells: nC, terminals: nK,
    step: () => view.step, setStep, timeOf,
    cellIds: () => Array.from(h3), terminalIds: () => Array.from(tId),
    cellState: (id, t = view.step) => NAMES[cellState(cellIndex.get(id), t)],
    terminalState: (id, t = view.step) => NAMES[termState(termIndex.get(id), t)],
    cellColor: (id) => layerColor('cells', cellIndex.get(id)),
    terminalColor: (id) => layerColor('terminals', termIndex.get(id)),
    stateColors: { cell: Object.fromEntries(NAMES.map((n, k) => [n, hex(CELL_RGBA[k])])), terminal: Object.fromEntries(NAMES.map((n, k) => [n, hex(TERM_RGBA[k])])) },
    project: (lon, lat) => deck.getViewports()[0].project([lon, lat]),
    terminalPosition: (id, t = view.step) => termPos(termIndex.get(id), t),
    selectCell: (id) => select(cellIndex.get(id)),
  });
}

window.__skyfence = { ready: false, error: null };
main().catch((e) => {
  window.__skyfence.error = String(e && e.stack ? e.stack : e);
  const st = $('status');
  st.className = 'error';
  st.textContent = `error: ${e && e.message ? e.message : e}`;
  throw e;
});
