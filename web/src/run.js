// The run view: H3 cells and terminals coloured by service state at the chosen step, outlines,
// geofences and tracks, all on the canvas map's 2D canvases (no WebGL context: on a machine without
// a GPU, creating one and compiling its shaders took longer than the whole rest of the page), the
// summary, the state chart, and each terminal's deciding policies in its tooltip.
// The impact view is the same page over two sets of states (as things stand, and under the new
// policy or funding) with a before / after toggle, the cells and terminals that differ outlined.
import { getResolution, latLngToCell } from 'h3-js';
import { $, arrow, cursorChart, esc, fmt, hex, mark, pct, rows, timeline } from './common.js';
import { mercator } from './basemap.js';
import { makeCanvasMap, outlines, pagePixel } from './map.js';

const UNCOVERED = 0, SERVED = 1, DENIED = 2, ABSENT = 3;
export const NAMES = ['uncovered', 'served', 'denied', 'absent'];
export const CELL_RGBA = [[158, 158, 158, 200], [44, 162, 95, 200], [222, 45, 38, 215], [0, 0, 0, 0]];
export const TERM_RGBA = [[110, 110, 110, 255], [20, 120, 60, 255], [200, 20, 20, 255], [0, 0, 0, 0]];

// state changes (row, step, state; sorted by row then step) -> { states: Int8Array [steps * rows],
// step-major; counts: Int32Array [steps * 4] of rows per state }. The events are bucketed by step
// (a counting sort), then each step is the step before (one copy) with that step's events applied,
// and the counts follow the events: time in the number of events, not of steps x rows.
export function expand(events, nRows, nSteps) {
  const out = new Int8Array(nRows * nSteps).fill(ABSENT);
  const c = new Int32Array(nSteps * 4);
  const row = events.getChild('row').toArray();
  const step = events.getChild('step').toArray();
  const state = events.getChild('state').toArray();
  const n = row.length;
  const start = new Int32Array(nSteps + 1);
  for (let i = 0; i < n; i++) start[step[i] + 1]++;
  for (let t = 0; t < nSteps; t++) start[t + 1] += start[t];
  const order = new Int32Array(n), fill = start.slice(0, nSteps);
  for (let i = 0; i < n; i++) order[fill[step[i]]++] = i;
  let now = [0, 0, 0, nRows];
  for (let t = 0; t < nSteps; t++) {
    const o = t * nRows;
    if (t) out.copyWithin(o, o - nRows, o);
    for (let k = start[t]; k < start[t + 1]; k++) {
      const i = order[k], r = row[i], s = state[i];
      now[out[o + r]]--; now[s]++;
      out[o + r] = s;
    }
    c.set(now, t * 4);
  }
  return { states: out, counts: c };
}

// where each row's events start (events sorted by row then step), and the index of row r's event
// in force at step t (-1: none)
function rowStarts(events, nRows) {
  const row = events.getChild('row').toArray();
  const start = new Int32Array(nRows + 1);
  for (let i = 0; i < row.length; i++) start[row[i] + 1]++;
  for (let r = 0; r < nRows; r++) start[r + 1] += start[r];
  return start;
}
function eventAt(starts, step, r, t) {
  let lo = starts[r], hi = starts[r + 1] - 1;
  if (hi < lo || step[lo] > t) return -1;
  while (lo < hi) { const m = (lo + hi + 1) >> 1; if (step[m] <= t) lo = m; else hi = m - 1; }
  return lo;
}

const STATE_SERIES = [[SERVED, '#2ca25f'], [DENIED, '#de2d26'], [UNCOVERED, '#9e9e9e']];
// newly denied (served before, denied after), restored (the reverse), other differences
const CHANGE_SERIES = [[0, '#de2d26'], [1, '#2ca25f'], [2, '#9e9e9e']];

function changeCounts(before, after, nRows, nSteps) {
  const c = new Int32Array(nSteps * 4);
  for (let t = 0; t < nSteps; t++) {
    const o = t * nRows;
    for (let r = 0; r < nRows; r++) {
      const a = before[o + r], b = after[o + r];
      if (a !== b) c[t * 4 + (a === SERVED && b === DENIED ? 0 : a === DENIED && b === SERVED ? 1 : 2)]++;
    }
  }
  return c;
}

// stacked areas over time of one or more panels [counts, rows, label]
function stackedChart(panels, nT, series = STATE_SERIES, scaleToMax = false) {
  return (g, w, h) => {
    const ph = h / panels.length;
    panels.forEach(([c, n, label], p) => {
      const top = p * ph;
      if (scaleToMax) {
        n = 1;
        for (let t = 0; t < nT; t++) n = Math.max(n, c[t * 4] + c[t * 4 + 1] + c[t * 4 + 2]);
      }
      // each series one filled outline of steps: its top edge left to right, its base back
      const below = new Float64Array(nT);
      for (const [k, col] of series) {
        const y = (v) => top + ph * (1 - v / n);
        g.beginPath();
        for (let t = 0; t < nT; t++) {
          const v = below[t] + c[t * 4 + k];
          g.lineTo((t / nT) * w, y(v));
          g.lineTo(((t + 1) / nT) * w, y(v));
        }
        for (let t = nT - 1; t >= 0; t--) {
          g.lineTo(((t + 1) / nT) * w, y(below[t]));
          g.lineTo((t / nT) * w, y(below[t]));
          below[t] += c[t * 4 + k];
        }
        g.closePath();
        g.fillStyle = col;
        g.fill();
      }
      g.fillStyle = '#000';
      g.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
      g.fillText(scaleToMax ? `${label} (max ${n})` : label, 4 * devicePixelRatio, top + 12 * devicePixelRatio);
    });
  };
}

export async function runView(meta, hook) {
  const el = $('map');
  const map = makeCanvasMap(el, meta, { tooltip: (info) => tooltip(info), onClick: (info) => select(cellAtInfo(info)) });
  const impact = meta.kind === 'impact';
  const [cells, shapes, cellEv, terms, termEv, tracks, cellEvB, termEvB] = await Promise.all(
    ['cells.arrow', 'cell_shapes.arrow', 'cell_events.arrow', 'terminals.arrow', 'terminal_events.arrow', 'tracks.arrow',
      ...(impact ? ['cell_events_before.arrow', 'terminal_events_before.arrow'] : [])].map(arrow));
  mark('tables');
  const nT = meta.time.steps, nC = cells.numRows, nK = terms.numRows;
  const expanded = { after: [expand(cellEv, nC, nT), expand(termEv, nK, nT)] };
  if (impact) expanded.before = [expand(cellEvB, nC, nT), expand(termEvB, nK, nT)];
  const states = Object.fromEntries(Object.entries(expanded).map(([k, [c, t]]) => [k, [c.states, t.states]]));
  let version = 'after';
  let [cellStates, termStates] = states.after;
  let cellCounts = expanded.after[0].counts, termCounts = expanded.after[1].counts;
  const cellChanges = impact && changeCounts(states.before[0], states.after[0], nC, nT);
  const termChanges = impact && changeCounts(states.before[1], states.after[1], nK, nT);
  // the policies that decided each terminal's request: its events' `reason` at the step in force,
  // an index into meta.deciding (meta.deciding_before for an impact's "before" events)
  const reasons = {};
  for (const [v, ev, labels] of [['after', termEv, meta.deciding], ['before', termEvB, meta.deciding_before]]) {
    const col = ev && ev.getChild('reason');
    if (col && labels) reasons[v] = { of: col.toArray(), starts: rowStarts(ev, nK), step: ev.getChild('step').toArray(), labels };
  }
  const decidedBy = (i, t) => {
    const r = reasons[version];
    const e = r ? eventAt(r.starts, r.step, i, t) : -1;
    if (e < 0) return null;
    const k = r.of[e];
    return k < 0 ? 'no policy in force (everything covered is served)'
      : r.labels[k].length ? r.labels[k].join(', ') : 'no permit applies (Cedar denies by default)';
  };
  mark('states');

  // cells: rings in Web Mercator world coordinates, from their boundaries (cell_shapes.arrow)
  const h3 = cells.getChild('h3').toArray();
  const cellIndex = new Map();
  for (let i = 0; i < nC; i++) cellIndex.set(h3[i], i);
  const shRow = shapes.getChild('row').toArray(), shLon = shapes.getChild('lon_deg').toArray(), shLat = shapes.getChild('lat_deg').toArray();
  const shStart = new Int32Array(nC + 1);
  for (let j = 0; j < shRow.length; j++) shStart[shRow[j] + 1]++;
  for (let i = 0; i < nC; i++) shStart[i + 1] += shStart[i];
  const cellWorld = new Float64Array(shRow.length * 2);
  for (let j = 0; j < shRow.length; j++) { const [x, y] = mercator(shLon[j], shLat[j]); cellWorld[2 * j] = x; cellWorld[2 * j + 1] = y; }
  const cellRing = (i) => cellWorld.subarray(2 * shStart[i], 2 * shStart[i + 1]);
  const resolution = nC ? getResolution(h3[0]) : 0;
  const cellRows = rows(cells);
  mark('cells');
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
  // track segments as world-coordinate polylines, one list per state of the segment's step
  let trackPaths;
  const buildTracks = () => {
    trackPaths = [[], [], [], []];
    for (let j = 0; j + 1 < trRow.length; j++) {
      if (trRow[j + 1] !== trRow[j] || trStep[j + 1] !== trStep[j] + 1) continue;
      const [ax, ay] = mercator(trLon[j], trLat[j]), [bx, by] = mercator(trLon[j + 1], trLat[j + 1]);
      trackPaths[termStates[trStep[j] * nK + trRow[j]]].push(Float64Array.of(ax, ay, bx, by));
    }
  };
  buildTracks();
  const fixed = [], movers = [...moving.keys()];
  for (let i = 0; i < nK; i++) if (!moving.has(i) && !tMoving[i] && Number.isFinite(tLat[i])) fixed.push(i);
  // fixed terminals in world coordinates; the pixels and states of the terminals last drawn
  const fixedWorld = new Float64Array(fixed.length * 2);
  fixed.forEach((i, k) => { const [x, y] = mercator(tLon[i], tLat[i]); fixedWorld[2 * k] = x; fixedWorld[2 * k + 1] = y; });
  const drawnState = new Int8Array(nK).fill(ABSENT);
  const drawnPx = new Float32Array(nK * 2).fill(NaN);

  const view = { selected: -1, show: { cells: true, terminals: true, tracks: true, fences: true } };
  let tl;
  const step = () => (tl ? tl.step : 0);
  const cellState = (i, t = step()) => cellStates[t * nC + i];
  const termState = (i, t = step()) => termStates[t * nK + i];
  const termPos = (i, t = step()) => {
    const a = moving.get(i);
    if (!a) return [tLon[i], tLat[i]];
    const j = a[t];
    return j < 0 ? [NaN, NaN] : [trLon[j], trLat[j]];
  };
  const termRegionsAt = (i, t = step()) => {
    const a = moving.get(i);
    return a ? (a[t] < 0 ? '' : trRegions.get(a[t])) : tRegions[i];
  };
  // terminals on the top 2D canvas: fixed ones as small discs written straight into the canvas's
  // pixels (one putImageData, cheap to composite at any count), moving ones as larger circles
  const termFill = TERM_RGBA.map(hex);
  const packed = TERM_RGBA.map(([r, g, b]) => ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0);
  let pixels = null;
  function drawTerminals(g, bm) {
    drawnState.fill(ABSENT);
    drawnPx.fill(NaN);
    if (!view.show.terminals) return;
    const t = step(), o = t * nK, { k: sc, ox, oy } = bm.tx;
    const W = g.canvas.width, H = g.canvas.height, r = devicePixelRatio || 1;
    if (!pixels || pixels.width !== W || pixels.height !== H) {
      pixels = g.createImageData(W, H);
      const rad = 2.6 * r, n = Math.ceil(rad);
      pixels.stamp = [];
      for (let dy = -n; dy <= n; dy++) for (let dx = -n; dx <= n; dx++) if (dx * dx + dy * dy <= rad * rad) pixels.stamp.push(dx, dy);
    }
    const buf = new Uint32Array(pixels.data.buffer), stamp = pixels.stamp;
    buf.fill(0);
    for (let k = 0; k < fixed.length; k++) {
      const i = fixed[k], st = termStates[o + i];
      if (st === ABSENT) continue;
      const x = fixedWorld[2 * k] * sc + ox, y = fixedWorld[2 * k + 1] * sc + oy;
      drawnState[i] = st;
      drawnPx[2 * i] = x; drawnPx[2 * i + 1] = y;
      const px = Math.round(x * r), py = Math.round(y * r), c = packed[st];
      if (px < -4 || py < -4 || px > W + 4 || py > H + 4) continue;
      for (let j = 0; j < stamp.length; j += 2) {
        const u = px + stamp[j], v = py + stamp[j + 1];
        if (u >= 0 && v >= 0 && u < W && v < H) buf[v * W + u] = c;
      }
    }
    g.putImageData(pixels, 0, 0);
    g.lineWidth = 0.6;
    g.strokeStyle = '#000';
    for (const i of movers) {
      const st = termStates[o + i], [lon, lat] = termPos(i, t);
      if (st === ABSENT || !Number.isFinite(lon)) continue;
      const [x, y] = bm.project(lon, lat);
      drawnState[i] = st;
      drawnPx[2 * i] = x; drawnPx[2 * i + 1] = y;
      g.beginPath();
      g.arc(x, y, 6, 0, 2 * Math.PI);
      g.fillStyle = termFill[st];
      g.fill();
      g.stroke();
    }
    if (impact) drawChanges(g, bm, t);
  }
  // impact: the cells and terminals whose state differs between before and after at step t
  function drawChanges(g, bm, t) {
    const [cb, tb] = states.before, [ca, ta] = states.after, o = t * nC;
    g.lineWidth = 1.6;
    g.strokeStyle = '#111';
    const rings = [];
    for (let i = 0; i < nC; i++) if (cb[o + i] !== ca[o + i]) rings.push(cellRing(i));
    if (rings.length) { bm.path(g, rings, true); g.stroke(); }
    g.lineWidth = 1.4;
    g.strokeStyle = '#7a0177';
    g.beginPath();
    for (let i = 0; i < nK; i++) {
      if (tb[t * nK + i] === ta[t * nK + i] || !Number.isFinite(drawnPx[2 * i])) continue;
      g.moveTo(drawnPx[2 * i] + 5, drawnPx[2 * i + 1]);
      g.arc(drawnPx[2 * i], drawnPx[2 * i + 1], 5, 0, 2 * Math.PI);
    }
    g.stroke();
  }
  // the terminal drawn nearest to pixel x, y (within 7 px), or -1
  function terminalAt(x, y) {
    let best = -1, bd = 49;
    for (let i = 0; i < nK; i++) {
      const dx = drawnPx[2 * i] - x, dy = drawnPx[2 * i + 1] - y, d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }

  // cells on the mid canvas: one path per state, each cell's ring in world coordinates
  const cellFill = CELL_RGBA.map(([r, g, b, a]) => `rgba(${r},${g},${b},${(a / 255).toFixed(3)})`);
  const drawnCell = new Int8Array(nC).fill(-1);
  function drawCells(g, bm) {
    drawnCell.fill(-1);
    if (!view.show.cells) return;
    const o = step() * nC, { k, ox, oy } = bm.tx;
    for (const st of [UNCOVERED, SERVED, DENIED]) {
      g.beginPath();
      for (let i = 0; i < nC; i++) { // each ring left open: fill() closes it (closePath is slow)
        if (cellStates[o + i] !== st) continue;
        drawnCell[i] = st;
        const a = shStart[i], b = shStart[i + 1];
        g.moveTo(cellWorld[2 * a] * k + ox, cellWorld[2 * a + 1] * k + oy);
        for (let j = a + 1; j < b; j++) g.lineTo(cellWorld[2 * j] * k + ox, cellWorld[2 * j + 1] * k + oy);
      }
      g.fillStyle = cellFill[st];
      g.fill();
    }
  }
  // the cell under a pointer event (its coordinate), or -1
  const cellAtInfo = (info) => {
    if (!view.show.cells || !info || !info.coordinate || !nC) return -1;
    const [lon, lat] = info.coordinate;
    const i = cellIndex.get(latLngToCell(lat, lon, resolution));
    return i === undefined ? -1 : i;
  };

  const tooltip = (info) => {
    const i = terminalAt(info.x, info.y);
    if (i >= 0) {
      const t = step(), st = termState(i, t), by = (st === SERVED || st === DENIED) && decidedBy(i, t);
      return { html: `<b>${esc(tId[i])}</b><br>group: ${esc(tGroup[i])}<br>state: <b>${NAMES[st]}</b>` +
        (by ? `<br>decided by: <span class="deciding">${esc(by)}</span>` : '') +
        `<br>regions: ${esc(termRegionsAt(i) || '(none)')}<br>${tl.timeOf(t)}` };
    }
    const c = cellAtInfo(info);
    if (c >= 0) return { html: `${esc(h3[c])}: <b>${NAMES[cellState(c)]}</b>` };
    return null;
  };

  const drawOutlines = outlines(meta);
  const trackColors = TERM_RGBA.map(hex);
  map.basemap.dynamic = drawTerminals;
  map.basemap.dynamicUnder = drawCells;
  map.basemap.overlays.push((g, bm) => {
    drawOutlines(g, bm, view.show);
    if (!view.show.tracks) return;
    g.lineWidth = 2.5;
    g.lineCap = 'round';
    trackPaths.forEach((segs, k) => { if (k === ABSENT || !segs.length) return; g.strokeStyle = trackColors[k]; bm.path(g, segs, false); g.stroke(); });
  });

  const s = meta.summary;
  $('title').textContent = (impact ? 'impact: ' : '') + (s.scenario || 'skyfence run');
  $('description').textContent = s.description || '';
  const tm = s.terminals || {};
  if (impact) {
    const nd = s.newly_denied, rs = s.restored, rowOf = (k, f) => `<tr><td>${k}</td><td class="n">${f(nd[k])}</td><td class="n">${f(rs[k])}</td></tr>`;
    $('description').textContent = `current: ${(s.current_policy || []).map((f) => f.split('/').pop()).join(', ')}; new: ${(s.new_policy || []).map((f) => f.split('/').pop()).join(', ')}`;
    $('summary').innerHTML = '<h2>Impact</h2><table><tr><th></th><th class="n">newly denied</th><th class="n">restored</th></tr>' +
      rowOf('terminals', fmt) + rowOf('cells', fmt) + rowOf('area_km2', (v) => fmt(Math.round(v))) + rowOf('people', (v) => fmt(Math.round(v))) +
      rowOf('first_utc', (v) => esc(v || '')) + rowOf('last_utc', (v) => esc(v || '')) + '</table>';
  } else $('summary').innerHTML = '<h2>Run</h2><table>' + [
    ['period (UTC)', `${s.time.start_utc} &ndash; ${s.time.end_utc}`], ['steps', `${fmt(s.time.steps)} &times; ${s.time.step_s} s`],
    ['satellites', fmt(s.constellation.satellites)], ['H3 cells (res ' + s.h3_resolution + ')', fmt(s.cells)],
    ['area km&sup2;', fmt(Math.round(s.area_km2))], ['covered', pct(s.covered_fraction)], ['served', pct(s.served_fraction)],
    ['denied', pct(s.denied_fraction)], ['terminals', fmt(tm.count)], ['terminals ever denied', fmt(tm.ever_denied)],
    ['policy', esc(((s.policy && s.policy.files) || []).map((f) => f.split('/').pop()).join(', '))],
  ].map(([k, v]) => `<tr><td>${k}</td><td class="n">${v}</td></tr>`).join('') + '</table>';
  $('regions').innerHTML = !impact && (s.regions || []).length ? '<h2>Regions</h2><table><tr><th>region</th><th class="n">cells</th><th class="n">served</th><th class="n">denied</th></tr>' +
    s.regions.map((r) => `<tr><td>${esc(r.region)}</td><td class="n">${fmt(r.cells_in_ground)}</td><td class="n">${pct(r.served_fraction)}</td><td class="n">${pct(r.denied_fraction)}</td></tr>`).join('') + '</table>' : '';

  function select(i) {
    view.selected = i;
    if (i == null || i < 0) return;
    const r = cellRows.get(i);
    $('selection').innerHTML = `<h2>Cell ${esc(h3[i])}</h2><p>state at ${tl.timeOf(step())}: <b>${NAMES[cellState(i)]}</b></p><table>` +
      cellRows.cols.filter((c) => c !== 'h3').map((c) => `<tr><td>${esc(c)}</td><td class="n">${esc(fmt(r[c]))}</td></tr>`).join('') + '</table>';
  }

  function nowPanel(t) {
    const c = (a, k) => a[t * 4 + k];
    $('now').innerHTML = `<h2>At ${tl.timeOf(t)}</h2><table><tr><th></th><th class="n">served</th><th class="n">denied</th><th class="n">uncovered</th></tr>` +
      `<tr><td>cells</td><td class="n">${fmt(c(cellCounts, SERVED))}</td><td class="n">${fmt(c(cellCounts, DENIED))}</td><td class="n">${fmt(c(cellCounts, UNCOVERED))}</td></tr>` +
      (nK ? `<tr><td>terminals</td><td class="n">${fmt(c(termCounts, SERVED))}</td><td class="n">${fmt(c(termCounts, DENIED))}</td><td class="n">${fmt(c(termCounts, UNCOVERED))}</td></tr>` : '') + '</table>';
  }

  const chart = impact
    ? cursorChart($('chart'), nT, stackedChart(nK ? [[cellChanges, nC, 'cells changed'], [termChanges, nK, 'terminals changed']] : [[cellChanges, nC, 'cells changed']], nT, CHANGE_SERIES, true), (t) => tl.set(t))
    : cursorChart($('chart'), nT, stackedChart(nK ? [[cellCounts, nC, 'cells'], [termCounts, nK, 'terminals']] : [[cellCounts, nC, 'cells']], nT), (t) => tl.set(t));
  tl = timeline(meta, (t) => {
    map.update();
    map.basemap.drawDynamic();
    nowPanel(t);
    chart.draw(t);
    if (view.selected >= 0) select(view.selected);
  });
  $('layers').innerHTML = Object.keys(view.show).map((k) => `<label><input type="checkbox" id="show-${k}" checked> ${k}</label>`).join(' ') +
    (impact ? '<p><label><input type="radio" name="version" id="version-before" value="before"> before (as things stand)</label> ' +
      '<label><input type="radio" name="version" id="version-after" value="after" checked> after (the change)</label></p>' +
      '<p class="hint">Outlined: cells and terminals whose state differs. Chart: newly denied (red), restored (green), other changes (grey) per step.</p>' : '');
  const setVersion = (v) => {
    version = v;
    [cellStates, termStates] = states[v];
    [cellCounts, termCounts] = expanded[v].map((e) => e.counts);
    $(`version-${v}`).checked = true;
    buildTracks();
    tl.set(step());
    map.basemap.draw();
  };
  if (impact) for (const v of ['before', 'after']) $(`version-${v}`).addEventListener('change', () => setVersion(v));
  for (const k of Object.keys(view.show)) {
    $(`show-${k}`).addEventListener('change', (e) => { view.show[k] = e.target.checked; map.update(); map.basemap.draw(); });
  }
  mark('panel');
  const first = map.frame();
  tl.set(0);
  map.basemap.draw();
  await first;

  if (impact) {
    Object.assign(hook, {
      version: () => version, setVersion,
      changedCells: (t = step()) => Array.from(h3).filter((_, i) => states.before[0][t * nC + i] !== states.after[0][t * nC + i]),
      changedTerminals: (t = step()) => Array.from(tId).filter((_, i) => states.before[1][t * nK + i] !== states.after[1][t * nK + i]),
    });
  }
  // the colour the cell was last drawn in (null: not drawn)
  const cellColor = (i) => (drawnCell[i] < 0 ? null : hex(CELL_RGBA[drawnCell[i]]));
  Object.assign(hook, {
    steps: nT, cells: nC, terminals: nK,
    step, setStep: tl.set, timeOf: tl.timeOf,
    cellIds: () => Array.from(h3), terminalIds: () => Array.from(tId),
    cellState: (id, t = step()) => NAMES[cellState(cellIndex.get(id), t)],
    terminalState: (id, t = step()) => NAMES[termState(termIndex.get(id), t)],
    cellColor: (id) => cellColor(cellIndex.get(id)),
    // the colour the terminal was last drawn in (null: not drawn, absent at this step)
    terminalColor: (id) => { const st = drawnState[termIndex.get(id)]; return st === ABSENT ? null : termFill[st]; },
    stateColors: { cell: Object.fromEntries(NAMES.map((n, k) => [n, hex(CELL_RGBA[k])])), terminal: Object.fromEntries(NAMES.map((n, k) => [n, hex(TERM_RGBA[k])])) },
    project: (lon, lat) => map.viewport().project([lon, lat]),
    projectBasemap: (lon, lat) => map.basemap.project(lon, lat),
    pagePixel: (lon, lat) => pagePixel(map.viewport(), el, lon, lat),
    cellCentre: (id) => { const i = cellIndex.get(id), a = shStart[i], b = shStart[i + 1]; let x = 0, y = 0; for (let j = a; j < b; j++) { x += shLon[j]; y += shLat[j]; } return [x / (b - a), y / (b - a)]; },
    selected: () => (view.selected >= 0 ? h3[view.selected] : null),
    terminalPosition: (id, t = step()) => termPos(termIndex.get(id), t),
    // the policies that decided the terminal's request at step t (the tooltip's "decided by")
    terminalDecidedBy: (id, t = step()) => decidedBy(termIndex.get(id), t),
    // the tooltip the map shows for the pointer at page pixel x, y (null: none)
    selectCell: (id) => select(cellIndex.get(id)),
    // ms from setting a step to the browser's frame drawn with it (cells and terminals drawn before that)
    timeStep: async (t) => {
      const a = performance.now();
      const drawn = map.frame();
      tl.set(t);
      const js = performance.now() - a;
      await drawn;
      return { js, frame: performance.now() - a };
    },
  });
}
