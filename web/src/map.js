// The deck.gl map of every view: fitted to the data's extent, 2D (no pitch, no bearing), with the
// Basemap canvases redrawn whenever deck.gl's viewport moves.
import { Deck, MapView, WebMercatorViewport } from '@deck.gl/core';
import { Basemap, featureRings } from './basemap.js';
import { mark } from './common.js';

export function makeMap(el, meta, { layers, tooltip, onClick = null }) {
  const basemap = new Basemap(el);
  basemap.land = featureRings(meta.countries);
  const [x0, y0, x1, y1] = meta.extent;
  const fit = new WebMercatorViewport({ width: el.clientWidth || 800, height: el.clientHeight || 600 })
    .fitBounds([[x0, y0], [x1, y1]], { padding: 20 });
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

// the pixel the map shows a longitude, latitude at, relative to the page
export function pagePixel(deck, el, lon, lat) {
  const [x, y] = deck.getViewports()[0].project([lon, lat]);
  const r = el.getBoundingClientRect();
  return [r.left + x, r.top + y];
}
