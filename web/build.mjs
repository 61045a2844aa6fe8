// `npm run build`: bundle src/ into ../src/skyfence/viz/web/ (app.js, app.css, index.html, LICENSES.txt).
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const out = '../src/skyfence/viz/web';
mkdirSync(out, { recursive: true });
const js = await build({
  entryPoints: ['src/main.js'], bundle: true, minify: true, format: 'iife', target: 'es2020',
  outfile: join(out, 'app.js'), metafile: true, legalComments: 'none', logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});
await build({ entryPoints: ['src/app.css'], bundle: true, minify: true, outfile: join(out, 'app.css'), logLevel: 'warning' });
copyFileSync('src/index.html', join(out, 'index.html'));

// the licences of every npm package bundled into app.js
const pkgs = new Map();
for (const input of Object.keys(js.metafile.inputs)) {
  const m = input.match(/^(.*node_modules\/(@[^/]+\/[^/]+|[^/]+))\//);
  if (m) pkgs.set(m[2], m[1]);
}
let text = 'Licences of the npm packages bundled into app.js (built from web/ by `make web`).\n';
for (const [name, dir] of [...pkgs].sort()) {
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const lic = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  text += `\n${'='.repeat(72)}\n${name} ${meta.version} (${meta.license || 'see below'})\n${'='.repeat(72)}\n`;
  text += lic ? readFileSync(join(dir, lic), 'utf8') : `No licence file in the package; package.json says: ${meta.license}\n`;
}
writeFileSync(join(out, 'LICENSES.txt'), text);
console.log(`bundled ${pkgs.size} packages: ${[...pkgs.keys()].sort().join(', ')}`);
