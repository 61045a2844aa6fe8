// The revisit view: H3 cells coloured by a revisit statistic (mean or max revisit, longest
// unobserved, observed fraction, passes), the named targets, and their accesses over time.
import { SolidPolygonLayer } from '@deck.gl/layers';
import { cellToBoundary } from 'h3-js';
import { $, arrow, cursorChart, esc, fmt, hex, mark, rows, timeline } from './common.js';
import { makeMap, outlines } from './map.js';

// a sequential ramp (dark blue -> yellow), and light grey for no value
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const NONE = [210, 210, 210, 160];
const ramp = (f) => {
  const x = Math.max(0, Math.min(1, f)) * (RAMP.length - 1), i = Math.min(RAMP.length - 2, Math.floor(x)), u = x - i;
  return [...RAMP[i].map((c, k) => Math.round(c + (RAMP[i + 1][k] - c) * u)), 200];
};
const human = (k, v) => (v == null || !Number.isFinite(v) ? '&ndash;' : k.endsWith('_s') ? `${(v / 3600).toFixed(2)} h` : k === 'observed_fraction' ? `${(100 * v).toFixed(1)}%` : fmt(v));

export async function revisitView(meta, hook) {
  const el = $('map');
  let layersFn = () => [];
  const map = makeMap(el, meta, { layers: () => layersFn(), tooltip: (info) => tip(info) });
  const [cells, targets, acc] = await Promise.all(['cells.arrow', 'targets.arrow', 'accesses.arrow'].map(arrow));
  mark('tables');
  const nT = meta.time.steps, stepS = meta.time.step_s, nC = cells.numRows, nG = targets.numRows;
  const h3 = cells.getChild('h3').toArray();
  const cellIndex = new Map(Array.from(h3, (h, i) => [h, i]));
  const polys = Array.from(h3, (h) => cellToBoundary(h, true));
  const cellRows = rows(cells), targetRows = rows(targets);
  const tName = targets.getChild('target').toArray(), tLat = targets.getChild('lat_deg').toArray(), tLon = targets.getChild('lon_deg').toArray();
  const aT = acc.getChild('target').toArray(), aS = acc.getChild('start_s').toArray(), aE = acc.getChild('end_s').toArray();
  const aName = acc.getChild('name');
  let metric = meta.metrics[0], values, lo, hi, selected = -1, tl;
  const step = () => (tl ? tl.step : 0);
  const setMetric = (m) => {
    metric = m;
    values = Float64Array.from(cells.getChild(m).toArray(), Number);
    const fin = Array.from(values).filter(Number.isFinite);
    lo = fin.length ? Math.min(...fin) : 0; hi = fin.length ? Math.max(...fin) : 1;
    $('legend-range').innerHTML = `${human(m, lo)} &ndash; ${human(m, hi)}`;
    map.update();
  };
  const colorOf = (i) => (Number.isFinite(values[i]) ? ramp(hi > lo ? (values[i] - lo) / (hi - lo) : 0.5) : NONE);
  // accesses of target row g covering step t
  const observing = (g, t = step()) => {
    const s = t * stepS, out = [];
    for (let j = 0; j < aT.length; j++) if (aT[j] === g && aS[j] <= s && s < aE[j]) out.push(aName.get(j));
    return out;
  };
  layersFn = () => [new SolidPolygonLayer({
    id: 'cells', data: polys, pickable: true, getPolygon: (d) => d, getFillColor: (_, { index }) => colorOf(index),
    updateTriggers: { getFillColor: metric }, onClick: ({ index }) => select(index), autoHighlight: true, highlightColor: [255, 0, 0, 120],
  })];
  const tip = ({ layer, index }) => (layer && index >= 0 ? { html: `${esc(h3[index])}: ${esc(metric)} <b>${human(metric, values[index])}</b>` } : null);
  const drawOutlines = outlines(meta);
  map.basemap.overlays.push((g, bm) => {
    drawOutlines(g, bm, { fences: true });
    g.font = '12px system-ui, sans-serif';
    for (let k = 0; k < nG; k++) {
      const [x, y] = bm.project(tLon[k], tLat[k]), now = observing(k).length > 0;
      g.beginPath(); g.arc(x, y, 6, 0, 2 * Math.PI);
      g.fillStyle = now ? '#e31a1c' : '#fff'; g.fill();
      g.lineWidth = 2; g.strokeStyle = '#000'; g.stroke();
      g.fillStyle = '#000'; g.fillText(tName[k], x + 9, y + 4);
    }
  });
  const gantt = (g, w, h) => {
    const n = Math.max(1, nG), rh = h / n, r = devicePixelRatio;
    g.font = `${10 * r}px system-ui, sans-serif`;
    for (let k = 0; k < nG; k++) {
      g.fillStyle = k % 2 ? '#f4f4f4' : '#fff'; g.fillRect(0, k * rh, w, rh);
      g.fillStyle = '#3b528b';
      for (let j = 0; j < aT.length; j++) if (aT[j] === k) {
        const x0 = (aS[j] / (nT * stepS)) * w, x1 = (aE[j] / (nT * stepS)) * w;
        g.fillRect(x0, k * rh + 2 * r, Math.max(r, x1 - x0), rh - 4 * r);
      }
      g.fillStyle = '#000'; g.fillText(tName[k], 4 * r, k * rh + Math.min(rh - 2 * r, 12 * r));
    }
  };
  const chart = cursorChart($('chart'), nT, gantt, (t) => tl.set(t));
  const s = meta.summary;
  $('title').textContent = `revisit: ${s.name || ''}`;
  $('description').textContent = `${fmt(s.satellites)} satellites, ${fmt(s.accesses)} accesses, ${human('x_s', s.duration_s)} from ${s.start_utc}`;
  $('summary').innerHTML = '<h2>Targets</h2><table><tr><th>target</th><th class="n">passes</th><th class="n">mean revisit</th><th class="n">max revisit</th><th class="n">observed</th></tr>' +
    Array.from(tName, (n, k) => { const r = targetRows.get(k); return `<tr><td>${esc(n)}</td><td class="n">${fmt(r.n_passes)}</td><td class="n">${human('revisit_mean_s', r.revisit_mean_s)}</td><td class="n">${human('revisit_max_s', r.revisit_max_s)}</td><td class="n">${human('observed_fraction', r.observed_fraction)}</td></tr>`; }).join('') + '</table>';
  $('layers').innerHTML = '<h2>Cells coloured by</h2>' + meta.metrics.map((m) => `<label><input type="radio" name="metric" id="metric-${m}" value="${m}"${m === metric ? ' checked' : ''}> ${m}</label><br>`).join('') +
    `<p class="ramp">low <span class="bar"></span> high: <span id="legend-range"></span> (grey: no value)</p>`;
  for (const m of meta.metrics) $(`metric-${m}`).addEventListener('change', () => setMetric(m));
  document.querySelector('.legend').style.display = 'none';
  $('selection').innerHTML = '<p class="hint">Click a cell for its revisit statistics; the red targets are being observed at the chosen time.</p>';
  function select(i) {
    selected = i;
    if (i == null || i < 0) return;
    const r = cellRows.get(i);
    $('selection').innerHTML = `<h2>Cell ${esc(h3[i])}</h2><table>` + cellRows.cols.filter((c) => c !== 'h3').map((c) => `<tr><td>${esc(c)}</td><td class="n">${human(c, typeof r[c] === 'bigint' ? Number(r[c]) : r[c])}</td></tr>`).join('') + '</table>';
  }
  function nowPanel(t) {
    $('now').innerHTML = `<h2>At ${tl.timeOf(t)}</h2><table>` + Array.from(tName, (n, k) => { const o = observing(k, t); return `<tr><td>${esc(n)}</td><td>${o.length ? esc(o.slice(0, 4).join(', ')) + (o.length > 4 ? ` +${o.length - 4}` : '') : '<span class="hint">not observed</span>'}</td></tr>`; }).join('') + '</table>';
  }
  const firstFrame = map.frame();
  setMetric(metric);
  tl = timeline(meta, (t) => { nowPanel(t); chart.draw(t); map.basemap.draw(); });
  tl.set(0);
  await firstFrame;
  Object.assign(hook, {
    steps: nT, step, setStep: tl.set, timeOf: tl.timeOf, metric: () => metric, setMetric,
    cellIds: () => Array.from(h3), cellColor: (id) => hex(colorOf(cellIndex.get(id))),
    colorFor: (v) => hex(Number.isFinite(v) ? ramp(hi > lo ? (v - lo) / (hi - lo) : 0.5) : NONE),
    observing: (name, t = step()) => observing(Array.from(tName).indexOf(name), t),
    selected: () => (selected >= 0 ? h3[selected] : null), selectCell: (id) => select(cellIndex.get(id)),
    cellCentre: (id) => { const p = polys[cellIndex.get(id)]; let x = 0, y = 0; for (let k = 0; k < p.length - 1; k++) { x += p[k][0]; y += p[k][1]; } return [x / (p.length - 1), y / (p.length - 1)]; },
    pagePixel: (lon, lat) => { const [x, y] = map.deck.getViewports()[0].project([lon, lat]); const r = el.getBoundingClientRect(); return [r.left + x, r.top + y]; },
  });
}
