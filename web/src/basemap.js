// The map's layers on plain 2D canvases around the deck.gl canvas: land (under), the layer a view
// redraws at every step under deck.gl's (mid: the run view's cells), country outlines, geofences,
// tracks and paths (over), and what moves at every step on top (terminals). Web Mercator, in step
// with deck.gl's viewport (no pitch, no bearing); no WebGL, so nothing to compile.
const TILE = 512;

// Web Mercator "world" coordinates of deck.gl at zoom 0 (x east, y south), 512 units round
export function mercator(lon, lat) {
  const s = Math.sin((Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180);
  return [((lon + 180) / 360) * TILE, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * TILE];
}

// the longitude, latitude of Web Mercator world coordinates (the inverse of mercator)
export function unmercator(x, y) {
  const lat = (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / TILE))) * 180) / Math.PI;
  return [(x / TILE) * 360 - 180, lat];
}

// a GeoJSON geometry's rings as flat Float64Arrays of world coordinates
function rings(geom) {
  const out = [];
  const add = (ring) => {
    const a = new Float64Array(ring.length * 2);
    ring.forEach(([x, y], i) => { const [mx, my] = mercator(x, y); a[2 * i] = mx; a[2 * i + 1] = my; });
    out.push(a);
  };
  if (!geom) return out;
  if (geom.type === 'Polygon') geom.coordinates.forEach(add);
  else if (geom.type === 'MultiPolygon') geom.coordinates.forEach((p) => p.forEach(add));
  else if (geom.type === 'LineString') add(geom.coordinates);
  else if (geom.type === 'MultiLineString') geom.coordinates.forEach(add);
  else if (geom.type === 'GeometryCollection') geom.geometries.forEach((g) => out.push(...rings(g)));
  return out;
}

export const featureRings = (fc) => fc.features.map((f) => rings(f.geometry));

export class Basemap {
  constructor(parent) {
    this.parent = parent;
    this.under = this._canvas(0);
    this.mid = this._canvas(1); // before deck.gl's canvas (z-index 1 too), so under it
    this.over = this._canvas(2);
    this.top = this._canvas(2); // z-index 2 as deck.gl's widgets (the tooltip), which come later: over it
    this.land = [];
    this.overlays = []; // functions (g, basemap) drawing over the deck canvas when the view moves
    this.dynamic = null; // a function (g, basemap) drawing on the top canvas at every step too
    this.dynamicUnder = null; // a function (g, basemap) drawing on the mid canvas at every step too
    this.vs = null;
  }

  _canvas(z) {
    const c = document.createElement('canvas');
    c.style.cssText = `position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none;z-index:${z}`;
    this.parent.appendChild(c);
    return c;
  }

  // x, y world -> pixels, and the canvas contexts sized to the element, for view state vs
  _setup(vs) {
    const w = this.parent.clientWidth, h = this.parent.clientHeight, r = devicePixelRatio || 1;
    const [cx, cy] = mercator(vs.longitude, vs.latitude);
    const k = 2 ** vs.zoom;
    this.tx = { k, ox: w / 2 - cx * k, oy: h / 2 - cy * k };
    for (const c of [this.under, this.mid, this.over, this.top]) {
      if (c.width !== Math.round(w * r) || c.height !== Math.round(h * r)) { c.width = Math.round(w * r); c.height = Math.round(h * r); }
      const g = c.getContext('2d');
      g.setTransform(r, 0, 0, r, 0, 0);
      g.clearRect(0, 0, w, h);
    }
  }

  // pixel position of a longitude, latitude under the current view
  project(lon, lat) {
    const [x, y] = mercator(lon, lat);
    return [x * this.tx.k + this.tx.ox, y * this.tx.k + this.tx.oy];
  }

  // one canvas path of many rings (world coordinates), in pixels
  path(g, list, close) {
    const { k, ox, oy } = this.tx;
    g.beginPath();
    for (const a of list) {
      g.moveTo(a[0] * k + ox, a[1] * k + oy);
      for (let i = 2; i < a.length; i += 2) g.lineTo(a[i] * k + ox, a[i + 1] * k + oy);
      if (close) g.lineTo(a[0] * k + ox, a[1] * k + oy); // not closePath: Chromium's is linear in the path's length
    }
  }

  draw(vs = this.vs) {
    if (!vs) return;
    this.vs = vs;
    this._setup(vs);
    const u = this.under.getContext('2d');
    u.fillStyle = '#f4f1ea';
    for (const f of this.land) { this.path(u, f, true); u.fill('evenodd'); }
    const o = this.over.getContext('2d');
    for (const fn of this.overlays) fn(o, this);
    this.drawDynamic(false);
  }

  // redraw the mid and top canvases only (a new step: cells and terminals change colour, move)
  drawDynamic(clear = true) {
    if (!this.vs) return;
    for (const [c, fn] of [[this.mid, this.dynamicUnder], [this.top, this.dynamic]]) {
      if (!fn) continue;
      const g = c.getContext('2d');
      if (clear) {
        const r = devicePixelRatio || 1;
        g.setTransform(r, 0, 0, r, 0, 0);
        g.clearRect(0, 0, this.parent.clientWidth, this.parent.clientHeight);
      }
      fn(g, this);
    }
  }
}
