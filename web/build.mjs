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

// the governance page at / of `skyfence serve`: one self-contained HTML file (script and style
// inline, no npm package bundled) in ../src/skyfence/api/static/landing.html
const gov = await build({
  entryPoints: ['src/governance.js'], bundle: true, minify: true, format: 'iife', target: 'es2020',
  write: false, metafile: true, legalComments: 'none', logLevel: 'warning',
});
const govCss = await build({ entryPoints: ['src/governance.css'], bundle: true, minify: true, write: false, logLevel: 'warning' });
const govPkgs = Object.keys(gov.metafile.inputs).filter((i) => i.includes('node_modules/'));
if (govPkgs.length) throw new Error(`the governance page bundles npm packages (add their licences): ${govPkgs}`);
const govJs = gov.outputFiles[0].text;
if (/<\/script/i.test(govJs)) throw new Error('the governance script contains </script');
const govHtml = readFileSync('src/governance.html', 'utf8')
  .replace('<!--STYLE-->', () => `<style>${govCss.outputFiles[0].text.trim()}</style>`)
  .replace('<!--SCRIPT-->', () => `<script>${govJs.trim()}</script>`);
writeFileSync('../src/skyfence/api/static/landing.html', govHtml);
console.log(`governance page: ${govHtml.length} bytes`);
