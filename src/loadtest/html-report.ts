// The load test's HTML report (--report FILE): one self-contained file with uPlot, its styles, the run's data and
// the script that draws it inlined, so it opens from disk or a CI artifact with no network.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import type { LoadTestSummary } from './summary.js';
import type { Timeline } from './timeline.js';

const require = createRequire(import.meta.url);
const asset = (file: string) => readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON inside a <script> element: nothing in it may close the element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
/** An inlined script must not contain "</script": uPlot's source does not, but say so rather than trust it. */
const inlineScript = (code: string) => code.replace(/<\/script/gi, '<\\/script');

const ms = (v: number | undefined) => (v === undefined ? '—' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US'));

function stopText(summary: LoadTestSummary): string {
  const stop = summary.settings.stop;
  if (stop.kind === 'loops') return `${stop.loops} loop${stop.loops === 1 ? '' : 's'} of the file`;
  if (stop.kind === 'duration') return `${stop.ms / 1000} s after the ramp-up`;
  return `${stop.ms / 1000} s of audio per session`;
}

function settingsRows(s: LoadTestSummary): [string, string][] {
  return [
    ['Server', s.target],
    ['Recording', `${basename(s.recording.file)} (${s.recording.seconds} s, ${s.recording.sampleRate} Hz)`],
    ['Sessions', String(s.settings.sessions)],
    ['Stop', stopText(s)],
    ['Pace', s.settings.pace === 'max' ? `max (window ${s.settings.window})` : 'realtime'],
    ['Chunk', `${s.settings.chunkMs} ms`],
    ['Ramp-up / warm-up', `${s.settings.rampUpS} s / ${s.settings.warmUpS} s`],
    ['Transport', s.settings.transport],
    ['Wall time', `${s.wallSeconds} s`],
    ['Result', s.passed ? 'PASS' : `FAIL: ${s.failures.join('; ')}`],
  ];
}

function countsRows(s: LoadTestSummary): [string, string][] {
  const errors = Object.entries(s.errors.byCode).map(([code, n]) => `${code} ${n}`).join(', ');
  return [
    ['Sessions', `${s.sessions.started} started, ${s.sessions.completed} completed, ${s.sessions.failed} failed (of ${s.sessions.planned})`],
    ['Chunks', `${s.chunks.sent} sent, ${s.chunks.acked} acked, ${s.chunks.failed} failed, ${s.chunks.resent} resent`],
    ['Audio', `${s.audio.sentSeconds} s sent, ${s.audio.ackedSeconds} s acked${s.audio.ingestPerWallSecond === undefined ? '' : ` (${s.audio.ingestPerWallSecond} audio s per wall s)`}`],
    ['Results', `${s.results.received} received`],
    ['Errors', s.errors.total === 0 ? 'none' : errors],
    ['Disconnects', `${s.disconnects} (${s.reconnects} reconnected)`],
    ['Generator', `event-loop delay P99 ${ms(s.generator.eventLoopDelayP99Ms)} ms, send lag P99 ${ms(s.generator.sendLagP99Ms)} ms`],
  ];
}

const table = (rows: [string, string][]) =>
  `<table class="kv">${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;

function percentileTable(s: LoadTestSummary): string {
  const rows: [string, LoadTestSummary['ackLatencyMs']][] = [
    ['Chunk ack', s.ackLatencyMs],
    ['Result after its last chunk', s.resultLatencyMs],
    ['Result, server latency_ms', s.serverResultLatencyMs],
  ];
  const head = ['Latency (ms)', 'count', 'P50', 'P75', 'P95', 'P99', 'max'].map((h) => `<th>${h}</th>`).join('');
  const body = rows
    .map(([label, p]) => `<tr><th>${label}</th><td>${p.count}</td>${[p.p50, p.p75, p.p95, p.p99, p.max].map((v) => `<td>${ms(v)}</td>`).join('')}</tr>`)
    .join('');
  return `<table class="percentiles" id="percentiles"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Draws the charts from the embedded data; runs in the browser, so it is plain JavaScript. */
const DRAW = `
const data = JSON.parse(document.getElementById('run-data').textContent);
const P = data.timeline.points;
const xs = P.map((p) => p.s);
const COLOURS = ['#2456d6', '#1f9d6b', '#d98a00', '#b42323', '#7a3fc2', '#0f8aa6'];
const v = (x) => (x === undefined ? null : x);
function chart(id, series, values, extra = {}) {
  const box = document.getElementById(id);
  const points = values.slice(1).reduce((n, s) => n + s.filter((x) => x !== null && x !== undefined).length, 0);
  box.dataset.points = String(points);
  new uPlot({
    width: Math.max(320, box.clientWidth - 20), height: 240,
    scales: { x: { time: false } },
    axes: [{ label: extra.xLabel || 'seconds into the run' }, { size: 60 }],
    series: [{}, ...series.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: extra.spanGaps === true, ...(extra.series || {}) }))],
    ...(extra.options || {}),
  }, values, box);
}
chart('ack-over-time', ['P50', 'P95', 'P99', 'max'], [xs, P.map((p) => v(p.ackP50)), P.map((p) => v(p.ackP95)), P.map((p) => v(p.ackP99)), P.map((p) => v(p.ackMax))]);
chart('result-over-time', ['P50', 'max'], [xs, P.map((p) => v(p.resultP50)), P.map((p) => v(p.resultMax))], { spanGaps: true, series: { points: { show: true, size: 5 } } });
chart('throughput-over-time', ['acks/s', 'results/s'], [xs, P.map((p) => p.acks), P.map((p) => p.results)]);
chart('sessions-over-time', ['connected', 'finished'], [xs, P.map((p) => p.sessionsConnected), P.map((p) => p.sessionsFinished)]);
const codes = [...new Set(P.flatMap((p) => Object.keys(p.errors)))].sort();
chart('errors-over-time', codes.length ? codes : ['errors'], [xs, ...(codes.length ? codes.map((c) => P.map((p) => p.errors[c] || 0)) : [P.map(() => 0)])]);
function histogram(id, h) {
  const last = h.boundsMs.length - 1;
  const label = (i) => (i >= last ? '> ' + h.boundsMs[last - 1] : '≤ ' + h.boundsMs[i]);
  // Only the buckets around the observations: the rest would squeeze them into a corner.
  const used = h.counts.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0);
  const from = Math.max(0, (used[0] ?? 0) - 1);
  const to = Math.min(last, (used[used.length - 1] ?? last) + 1);
  const idx = [];
  for (let i = from; i <= to; i++) idx.push(i);
  chart(id, ['count'], [idx, idx.map((i) => h.counts[i])], {
    series: { fill: '#2456d633', paths: uPlot.paths.bars({ size: [0.9, 40] }), points: { show: false } },
    options: { axes: [{ label: 'latency bucket (ms)', splits: () => idx, values: (u, ticks) => ticks.map(label), rotate: -45, size: 70 }, { size: 60 }] },
  });
}
histogram('ack-histogram', data.timeline.ackHistogram);
histogram('result-histogram', data.timeline.resultHistogram);
document.body.dataset.drawn = 'true';
`;

const STYLE = `
:root { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; color: #1d2433; background: #f4f6f9; line-height: 1.4; }
body { margin: 0; } main { max-width: 1320px; margin: 0 auto; padding: 20px; }
h1 { font-size: 1.4rem; margin: 0 0 4px; } h2 { font-size: 1rem; margin: 18px 0 8px; }
.verdict { font-weight: 700; } .verdict.pass { color: #1f7a4d; } .verdict.fail { color: #b42323; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 14px; }
figure { margin: 0; background: #fff; border: 1px solid #dfe3ea; border-radius: 8px; padding: 10px; }
figcaption { font-weight: 600; font-size: 0.85rem; margin-bottom: 6px; }
table { border-collapse: collapse; background: #fff; border: 1px solid #dfe3ea; font-size: 0.9rem; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eef0f4; text-align: left; }
.percentiles td { text-align: right; font-variant-numeric: tabular-nums; }
.tables { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
`;

/** The whole report as one HTML document. */
export function renderHtmlReport(summary: LoadTestSummary, timeline: Timeline): string {
  const title = `Load test: ${summary.settings.sessions} sessions → ${summary.target}`;
  const figures: [string, string][] = [
    ['ack-over-time', 'Chunk ack latency per second (ms)'],
    ['result-over-time', 'Result latency per second (ms, after the last chunk)'],
    ['ack-histogram', 'Chunk ack latency histogram'],
    ['result-histogram', 'Result latency histogram'],
    ['sessions-over-time', 'Sessions over time'],
    ['throughput-over-time', 'Acks and results per second'],
    ['errors-over-time', 'Errors per second by code'],
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${asset('uPlot.min.css')}</style>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<p class="verdict ${summary.passed ? 'pass' : 'fail'}">${summary.passed ? 'PASS' : `FAIL: ${escapeHtml(summary.failures.join('; '))}`}</p>
<h2>Latency percentiles</h2>
${percentileTable(summary)}
<div class="tables">
<section><h2>Settings</h2>${table(settingsRows(summary))}</section>
<section><h2>Counts</h2>${table(countsRows(summary))}</section>
</div>
<h2>Charts</h2>
<div class="grid">
${figures.map(([id, caption]) => `<figure id="${id}"><figcaption>${caption}</figcaption></figure>`).join('\n')}
</div>
</main>
<script type="application/json" id="run-data">${scriptJson({ summary, timeline })}</script>
<script>${inlineScript(asset('uPlot.iife.min.js'))}</script>
<script>${DRAW}</script>
</body>
</html>
`;
}

export async function writeHtmlReport(file: string, summary: LoadTestSummary, timeline: Timeline): Promise<void> {
  await writeFile(file, renderHtmlReport(summary, timeline));
}
