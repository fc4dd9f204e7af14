#!/usr/bin/env node
// Bundles the demo page (src/web) with esbuild into dist/web: index.html, app.js, worklet.js and styles.css, and the
// ops dashboard (src/dashboard, uPlot included) into dist/dashboard: index.html, app.js, app.css. No CDN. Also copies
// src/assets (the ops performance test's sample) to dist/assets, where the compiled server looks for it.
// Usage: node scripts/build-web.mjs [--outdir dist/web] [--dashboard-outdir dist/dashboard]
import { copyFile, cp, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'src/web');
const { values } = parseArgs({
  options: {
    outdir: { type: 'string', default: path.join(root, 'dist/web') },
    'dashboard-outdir': { type: 'string', default: path.join(root, 'dist/dashboard') },
  },
});
const outdir = path.resolve(values.outdir);
const dashboardSource = path.join(root, 'src/dashboard');
const dashboardOutdir = path.resolve(values['dashboard-outdir']);

/** Browsers with AudioWorklet, ES2020 and Socket.IO's transports: anything older cannot run the page anyway. */
const TARGET = ['chrome90', 'edge90', 'firefox90', 'safari15'];

const common = {
  bundle: true,
  platform: 'browser',
  target: TARGET,
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
  // socket.io-client's debug logging reads process.env in some builds; the page has no process.
  define: { 'process.env.NODE_ENV': '"production"' },
};

await mkdir(outdir, { recursive: true });
await mkdir(dashboardOutdir, { recursive: true });
await Promise.all([
  build({ ...common, entryPoints: [path.join(dashboardSource, 'main.ts')], format: 'esm', outfile: path.join(dashboardOutdir, 'app.js') }),
  copyFile(path.join(dashboardSource, 'index.html'), path.join(dashboardOutdir, 'index.html')),
  build({ ...common, entryPoints: [path.join(source, 'main.ts')], format: 'esm', outfile: path.join(outdir, 'app.js') }),
  // AudioWorklet modules cannot import anything at run time: everything goes into one self-contained file.
  build({ ...common, entryPoints: [path.join(source, 'capture-worklet.ts')], format: 'iife', outfile: path.join(outdir, 'worklet.js') }),
  copyFile(path.join(source, 'index.html'), path.join(outdir, 'index.html')),
  copyFile(path.join(source, 'styles.css'), path.join(outdir, 'styles.css')),
  cp(path.join(root, 'src/assets'), path.join(root, 'dist/assets'), { recursive: true }),
]);

const sizes = await Promise.all(
  ['index.html', 'app.js', 'worklet.js', 'styles.css'].map(async (name) => `${name} ${((await stat(path.join(outdir, name))).size / 1024).toFixed(1)} KiB`),
);
const dashboardSizes = await Promise.all(
  ['index.html', 'app.js', 'app.css'].map(async (name) => `${name} ${((await stat(path.join(dashboardOutdir, name))).size / 1024).toFixed(1)} KiB`),
);
console.log(`build-web: ${path.relative(process.cwd(), outdir) || '.'}: ${sizes.join(', ')}`);
console.log(`build-web: ${path.relative(process.cwd(), dashboardOutdir) || '.'}: ${dashboardSizes.join(', ')}`);
