// The end-of-run report: a table for people, or the summary as one JSON object for scripts and release gates.
import { basename } from 'node:path';
import type { Percentiles } from './stats.js';
import type { LoadTestSummary } from './summary.js';

const count = (n: number) => n.toLocaleString('en-US');
const ms = (v: number | undefined) => (v === undefined ? '—' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US'));

function stopText(summary: LoadTestSummary): string {
  const stop = summary.settings.stop;
  if (stop.kind === 'loops') return stop.loops === 1 ? 'played once' : `looped ${stop.loops}×`;
  if (stop.kind === 'duration') return `looped for ${stop.ms / 1000} s after the ramp-up`;
  return `looped to ${stop.ms / 1000} s of audio`;
}

function latencyRow(label: string, p: Percentiles, columns: (keyof Percentiles)[]): string {
  const cells = (['p50', 'p75', 'p95', 'p99', 'max'] as const).map((key) => (columns.includes(key) ? ms(p[key]) : ''));
  return [label.padEnd(34), count(p.count).padStart(9), ...cells.map((c) => c.padStart(9))].join('').trimEnd();
}

export function formatReport(summary: LoadTestSummary): string {
  const s = summary;
  const pace = s.settings.pace === 'max' ? `max pace (window ${s.settings.window})` : 'realtime';
  const lines = [
    `Load test: ${count(s.settings.sessions)} session${s.settings.sessions === 1 ? '' : 's'} → ${s.target} · ${pace}, ${s.settings.chunkMs} ms chunks` +
      ` · ${basename(s.recording.file)} (${s.recording.seconds} s, ${s.recording.sampleRate} Hz) ${stopText(s)}` +
      `${s.settings.rampUpS ? ` · ramp-up ${s.settings.rampUpS} s` : ''} · ${s.wallSeconds} s wall`,
    '',
    `Sessions      ${count(s.sessions.started)} started, ${count(s.sessions.completed)} completed, ${count(s.sessions.failed)} failed (of ${count(s.sessions.planned)})`,
    `Chunks        ${count(s.chunks.sent)} sent, ${count(s.chunks.acked)} acked, ${count(s.chunks.failed)} failed, ${count(s.chunks.resent)} resent`,
    `Audio         ${s.audio.sentSeconds.toFixed(1)} s sent, ${s.audio.ackedSeconds.toFixed(1)} s acked` +
      (s.audio.ingestPerWallSecond === undefined ? '' : ` (${s.audio.ingestPerWallSecond} audio s per wall s)`) +
      ` · ${s.audio.format}, ${count(Math.round(s.audio.bytesPerSecond))} B/s per session`,
    `Results       ${count(s.results.received)} received` +
      (s.settings.interim ? `, ${count(s.results.interims)} interim${s.settings.interimIntervalMs ? ` (asked every ${s.settings.interimIntervalMs} ms)` : ''}` : ''),
    '',
    ['Latency (ms)'.padEnd(34), 'count'.padStart(9), ...['P50', 'P75', 'P95', 'P99', 'max'].map((h) => h.padStart(9))].join(''),
    latencyRow('chunk ack', s.ackLatencyMs, ['p50', 'p75', 'p95', 'p99', 'max']),
    latencyRow('result after its last chunk', s.resultLatencyMs, ['p50', 'p95', 'max']),
    latencyRow('result, server latency_ms', s.serverResultLatencyMs, ['p50', 'p95', 'max']),
    latencyRow('first text after its first chunk', s.firstTextLatencyMs, ['p50', 'p95', 'max']),
    '',
    `Errors        ${s.errors.total === 0 ? 'none' : Object.entries(s.errors.byCode).map(([code, n]) => `${code} ${count(n)}`).join(', ')}`,
    `Disconnects   ${count(s.disconnects)} (${count(s.reconnects)} reconnected)`,
    `Generator     event-loop delay P99 ${ms(s.generator.eventLoopDelayP99Ms)} ms, max ${ms(s.generator.eventLoopDelayMaxMs)} ms` +
      (s.generator.sendLagP99Ms === undefined ? '' : ` · realtime send lag P99 ${ms(s.generator.sendLagP99Ms)} ms`),
  ];
  if (s.settings.warmUpS) lines.push(`              (latencies leave out the first ${s.settings.warmUpS} s)`);
  if (s.interrupted) lines.push('', 'Interrupted: sessions were ended early.');
  lines.push('', s.passed ? 'PASS' : `FAIL: ${s.failures.join('; ')}`);
  return lines.join('\n');
}

export function formatJson(summary: LoadTestSummary): string {
  return JSON.stringify(summary);
}
