// The maps of the views, fitted to the data's extent, 2D (no pitch, no bearing): the deck.gl map
// (makeMap: deck.gl's WebGL layers, the Basemap canvases redrawn whenever deck.gl's viewport moves)
// and the canvas map (makeCanvasMap: only the Basemap's 2D canvases, panned and zoomed here; no
// WebGL context to create, so it is interactive as soon as its first frame is drawn).
import { Deck, MapView, WebMercatorViewport } from '@deck.gl/core';
import { Basemap, featureRings, mercator, unmercator } from './basemap.js';
import { mark } from './common.js';

const fitted = (el, meta) => {
  const [x0, y0, x1, y1] = meta.extent;
  return new WebMercatorViewport({ width: el.clientWidth || 800, height: el.clientHeight || 600 })
    .fitBounds([[x0, y0], [x1, y1]], { padding: 20 });
};

// The canvas map: drag to pan, wheel or double click to zoom (about the pointer), hover for
// tooltip(info) (HTML in .map-tooltip), click for onClick(info); info = { x, y, coordinate:
// [lon, lat] } in the map element's pixels. viewport(): deck.gl's WebMercatorViewport of the view
// (math only, for the page's hooks); frame(): resolves once the browser has drawn the current frame.
export function makeCanvasMap(el, meta, { tooltip, onClick }) {
  const basemap = new Basemap(el);
  basemap.land = featureRings(meta.countries);
  const fit = fitted(el, meta);
  const vs = { longitude: fit.longitude, latitude: fit.latitude, zoom: fit.zoom };
  const size = () => [el.clientWidth || 800, el.clientHeight || 600];
  const viewport = () => { const [width, height] = size(); return new WebMercatorViewport({ width, height, ...vs, pitch: 0, bearing: 0 }); };
  const tip = document.createElement('div');
  tip.className = 'map-tooltip';
  el.appendChild(tip);
  const local = (e) => { const r = el.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  const info = (x, y) => {
    const [w, h] = size(), [cx, cy] = mercator(vs.longitude, vs.latitude), k = 2 ** vs.zoom;
    return { x, y, coordinate: unmercator(cx + (x - w / 2) / k, cy + (y - h / 2) / k) };
  };
  // one redraw per animation frame however many pointer events move the view meanwhile
  let pending = 0;
  const redraw = () => { if (!pending) pending = requestAnimationFrame(() => { pending = 0; basemap.draw(vs); }); };
  // the view centred so that world point (wx, wy) stays at pixel (x, y) at zoom z
  const keep = (wx, wy, x, y, z) => {
    const [w, h] = size(), k = 2 ** z;
    [vs.longitude, vs.latitude] = unmercator(wx - (x - w / 2) / k, wy - (y - h / 2) / k);
    vs.zoom = z;
    redraw();
  };
  const zoomAbout = (x, y, dz) => {
    const { coordinate: [lon, lat] } = info(x, y), [wx, wy] = mercator(lon, lat);
    keep(wx, wy, x, y, Math.max(1, Math.min(14, vs.zoom + dz)));
  };
  let drag = null;
  el.addEventListener('pointerdown', (e) => {
    const [x, y] = local(e), { coordinate: [lon, lat] } = info(x, y);
    drag = { x, y, world: mercator(lon, lat), moved: false };
    el.setPointerCapture(e.pointerId);
  });
  el.addEventListener('pointermove', (e) => {
    const [x, y] = local(e);
    if (drag) {
      if (Math.abs(x - drag.x) + Math.abs(y - drag.y) > 3) drag.moved = true;
      if (drag.moved) { tip.style.display = 'none'; keep(drag.world[0], drag.world[1], x, y, vs.zoom); }
      return;
    }
    const t = tooltip(info(x, y));
    if (!t) { tip.style.display = 'none'; return; }
    tip.innerHTML = t.html;
    tip.style.display = 'block';
    tip.style.left = `${x + 10}px`;
    tip.style.top = `${y + 10}px`;
  });
  el.addEventListener('pointerup', (e) => {
    const d = drag;
    drag = null;
    if (d && !d.moved) onClick(info(...local(e)));
  });
  el.addEventListener('pointerleave', () => { tip.style.display = 'none'; });
  el.addEventListener('wheel', (e) => { e.preventDefault(); zoomAbout(...local(e), -e.deltaY / 300); }, { passive: false });
  el.addEventListener('dblclick', (e) => zoomAbout(...local(e), 1));
  window.addEventListener('resize', redraw);
  basemap.draw(vs);
  mark('device');
  // the next animation frame: what was drawn before the call is in the frame it produces
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return { basemap, viewport, update: () => {}, frame };
}

export function makeMap(el, meta, { layers, tooltip, onClick = null }) {
  const basemap = new Basemap(el);
  basemap.land = featureRings(meta.countries);
  const fit = fitted(el, meta);
  let last = '';
  let waiting = [];
  let live = false; // layers() is called only once the view says its data is ready
  const deck = new Deck({
    parent: el, views: new MapView({ repeat: false }),
    initialViewState: { longitude: fit.longitude, latitude: fit.latitude, zoom: fit.zoom, pitch: 0, bearing: 0 },
    controller: { dragRotate: false, touchRotate: false, doubleClickZoom: true },
    layers: [], getTooltip: tooltip, onClick,
    style: { zIndex: 1 },
    onDeviceInitialized: () => mark('device'),
    onAfterRender: () => {
      const vp = deck.getViewports()[0];
      if (vp) {
        const key = `${vp.longitude},${vp.latitude},${vp.zoom},${vp.width},${vp.height}`;
        if (key !== last) { last = key; basemap.draw(vp); }
      }
      if (live) { const w = waiting; waiting = []; w.forEach((f) => f()); }
    },
  });
  basemap.draw({ longitude: fit.longitude, latitude: fit.latitude, zoom: fit.zoom });
  const update = () => { live = true; deck.setProps({ layers: layers() }); };
  // resolves once deck.gl has drawn a frame with the layers as they are now
  const frame = () => new Promise((resolve) => { waiting.push(resolve); });
  return { deck, basemap, update, frame };
}

// outlines of countries and geofences, drawn over cells and terminals
export const FENCE_COLORS = ['#08306b', '#6a3d9a', '#b15928', '#1f78b4', '#e31a1c', '#33a02c'];

export function outlines(meta) {
  const countries = featureRings(meta.countries).flat();
  const fences = meta.geofences ? featureRings(meta.geofences) : [];
  return (g, map, show = { fences: true }) => {
    g.lineJoin = 'round';
    g.strokeStyle = '#555';
    g.lineWidth = 0.8;
    map.path(g, countries, true);
    g.stroke();
    if (!show.fences) return;
    g.lineWidth = 2.2;
    fences.forEach((f, k) => { g.strokeStyle = FENCE_COLORS[k % FENCE_COLORS.length]; map.path(g, f, true); g.stroke(); });
  };
}

// the pixel the map shows a longitude, latitude at, relative to the page (viewport: deck.gl's)
export function pagePixel(viewport, el, lon, lat) {
  const [x, y] = viewport.project([lon, lat]);
  const r = el.getBoundingClientRect();
  return [r.left + x, r.top + y];
}
