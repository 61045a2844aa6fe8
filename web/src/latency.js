// The latency view: RTT over time of the chosen pairs against their fibre RTT, and their paths
// (stations and the sub-satellite points of the satellites they cross) on the map at the chosen step.
import { ScatterplotLayer } from '@deck.gl/layers';
import { $, arrow, cursorChart, esc, mark, timeline } from './common.js';
import { makeMap, outlines } from './map.js';

const PAIR_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
const ms = (v) => (Number.isFinite(v) ? v.toFixed(2) : '&ndash;');

export async function latencyView(meta, hook) {
  const [routes, nodes] = await Promise.all(['routes.arrow', 'nodes.arrow'].map(arrow));
  mark('tables');
  const nT = meta.time.steps, pairs = meta.pairs, nP = pairs.length, nSat = meta.n_sat;
  const rtt = routes.getChild('rtt_ms').toArray(), hops = routes.getChild('hops').toArray();
  const first = routes.getChild('first').toArray(), count = routes.getChild('count').toArray();
  const nodeId = nodes.getChild('node').toArray(), nodeLat = nodes.getChild('lat_deg').toArray(), nodeLon = nodes.getChild('lon_deg').toArray();
  const stations = meta.stations;
  const chosen = new Set(pairs.map((_, p) => p).slice(0, Math.min(nP, 4)));
  let selected = 0;
  let tl;
  const step = () => (tl ? tl.step : 0);

  // the path of pair p at step t: [{node, name, lon, lat}], longitudes unwrapped along the path
  const path = (p, t = step()) => {
    const k = t * nP + p, out = [];
    let prev = null;
    for (let j = first[k]; j < first[k] + count[k]; j++) {
      let lon = nodeLon[j];
      if (prev != null) lon += 360 * Math.round((prev - lon) / 360);
      prev = lon;
      const n = nodeId[j];
      out.push({ node: n, name: n >= nSat ? stations[n - nSat].name : `satellite ${n}`, lon, lat: nodeLat[j] });
    }
    return out;
  };

  const layers = () => [
    new ScatterplotLayer({
      id: 'stations', data: stations, pickable: true, getPosition: (s) => [s.lon_deg, s.lat_deg],
      getFillColor: [20, 20, 20, 255], getRadius: 5, radiusUnits: 'pixels', stroked: true,
      getLineColor: [255, 255, 255, 255], lineWidthUnits: 'pixels', getLineWidth: 1.5,
    }),
  ];
  const tooltip = ({ object, layer }) => (object && layer && layer.id === 'stations' ? { html: `<b>${esc(object.name)}</b><br>${object.lat_deg.toFixed(3)}, ${object.lon_deg.toFixed(3)}` } : null);
  const el = $('map');
  const map = makeMap(el, meta, { layers, tooltip });
  const firstFrame = map.frame();
  map.update();
  const drawOutlines = outlines(meta);
  let drawn = [];
  map.basemap.overlays.push((g, bm) => {
    drawOutlines(g, bm, { fences: false });
    drawn = [];
    for (const p of [...chosen].sort((a, b) => (a === selected) - (b === selected))) {
      const pts = path(p).map((n) => ({ ...n, px: bm.project(n.lon, n.lat) }));
      if (p === selected) drawn = pts;
      const col = PAIR_COLORS[p % PAIR_COLORS.length];
      g.strokeStyle = col;
      g.lineWidth = p === selected ? 3 : 1.5;
      g.globalAlpha = p === selected ? 1 : 0.6;
      g.beginPath();
      pts.forEach(({ px: [x, y] }, i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
      g.stroke();
      g.fillStyle = col;
      for (const { node, px: [x, y] } of pts) if (node < nSat) g.fillRect(x - 3, y - 3, 6, 6);
      g.globalAlpha = 1;
    }
  });

  // RTT over time of the chosen pairs (solid) against their fibre RTT (dashed)
  const drawBase = (g, w, h) => {
    let top = 0;
    for (const p of chosen) {
      top = Math.max(top, pairs[p].fibre_rtt_ms || 0);
      for (let t = 0; t < nT; t++) if (Number.isFinite(rtt[t * nP + p])) top = Math.max(top, rtt[t * nP + p]);
    }
    top = top > 0 ? top * 1.08 : 1;
    const r = devicePixelRatio, y = (v) => h - (v / top) * (h - 14 * r);
    g.font = `${10 * r}px system-ui, sans-serif`;
    g.fillStyle = '#777';
    g.fillText(`${top.toFixed(0)} ms`, 3 * r, 11 * r);
    g.fillText('0', 3 * r, h - 2 * r);
    for (const p of chosen) {
      const col = PAIR_COLORS[p % PAIR_COLORS.length];
      g.strokeStyle = col;
      g.lineWidth = (p === selected ? 2 : 1.2) * r;
      g.setLineDash([]);
      g.beginPath();
      let pen = false;
      for (let t = 0; t < nT; t++) {
        const v = rtt[t * nP + p], x = ((t + 0.5) / nT) * w;
        if (!Number.isFinite(v)) { pen = false; continue; }
        if (pen) g.lineTo(x, y(v)); else g.moveTo(x, y(v));
        pen = true;
      }
      g.stroke();
      g.setLineDash([5 * r, 4 * r]);
      g.lineWidth = r;
      g.beginPath();
      g.moveTo(0, y(pairs[p].fibre_rtt_ms));
      g.lineTo(w, y(pairs[p].fibre_rtt_ms));
      g.stroke();
    }
    g.setLineDash([]);
  };
  const chart = cursorChart($('chart'), nT, drawBase, (t) => tl.set(t));

  $('title').textContent = meta.summary.title || 'skyfence latency';
  $('description').textContent = meta.summary.description || '';
  function pairsPanel() {
    $('regions').innerHTML = '<h2>Pairs</h2><table><tr><th></th><th>pair</th><th class="n">median</th><th class="n">fibre</th><th class="n">changes</th></tr>' +
      pairs.map((q, p) => `<tr class="pair${p === selected ? ' sel' : ''}" data-p="${p}"><td><input type="checkbox" data-p="${p}"${chosen.has(p) ? ' checked' : ''}></td>` +
        `<td><span class="sw" style="background:${PAIR_COLORS[p % PAIR_COLORS.length]}"></span>${esc(q.src)} &ndash; ${esc(q.dst)}</td>` +
        `<td class="n">${ms(q.median_rtt_ms)}</td><td class="n">${ms(q.fibre_rtt_ms)}</td><td class="n">${q.path_changes}</td></tr>`).join('') + '</table>' +
      '<p class="hint">Tick pairs to chart them; click a pair to show its path.</p>';
    for (const box of $('regions').querySelectorAll('input')) box.addEventListener('change', (e) => {
      const p = Number(e.target.dataset.p);
      if (e.target.checked) chosen.add(p); else chosen.delete(p);
      refresh();
    });
    for (const tr of $('regions').querySelectorAll('tr.pair')) tr.addEventListener('click', (e) => {
      if (e.target.tagName === 'INPUT') return;
      selectPair(Number(tr.dataset.p));
    });
  }
  function nowPanel(t) {
    const k = t * nP + selected, q = pairs[selected];
    const pts = path(selected, t);
    $('now').innerHTML = `<h2>At ${tl.timeOf(t)}</h2><table><tr><th>pair</th><th class="n">RTT ms</th><th class="n">hops</th></tr>` +
      [...chosen].map((p) => `<tr><td>${esc(pairs[p].src)} &ndash; ${esc(pairs[p].dst)}</td><td class="n">${ms(rtt[t * nP + p])}</td><td class="n">${hops[t * nP + p] < 0 ? 'none' : hops[t * nP + p]}</td></tr>`).join('') + '</table>';
    $('selection').innerHTML = `<h2>Path ${esc(q.src)} &ndash; ${esc(q.dst)}</h2><p>RTT <b>${ms(rtt[k])} ms</b> (fibre ${ms(q.fibre_rtt_ms)} ms), ` +
      (hops[k] < 0 ? 'disconnected' : `${hops[k]} hops`) + '</p>' +
      (pts.length ? '<ol class="path">' + pts.map((n) => `<li>${esc(n.name)} <span class="hint">${n.lat.toFixed(2)}, ${(((n.lon + 540) % 360) - 180).toFixed(2)}</span></li>`).join('') + '</ol>' : '');
  }
  function refresh() { chart.redo(); map.basemap.draw(); nowPanel(step()); }
  function selectPair(p) { selected = p; pairsPanel(); refresh(); }

  tl = timeline(meta, (t) => { nowPanel(t); chart.draw(t); map.basemap.draw(); });
  pairsPanel();
  mark('panel');
  tl.set(0);
  await firstFrame;
  Object.assign(hook, {
    steps: nT, pairs: nP, step, setStep: tl.set, timeOf: tl.timeOf,
    selectPair, selectedPair: () => selected,
    rtt: (p, t = step()) => rtt[t * nP + p],
    path: (p, t = step()) => path(p, t).map((n) => n.node),
    drawnPath: () => drawn.map((n) => ({ node: n.node, lon: n.lon, lat: n.lat, px: n.px })),
    project: (lon, lat) => map.deck.getViewports()[0].project([lon, lat]),
  });
}
