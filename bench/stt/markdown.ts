// The speech-to-text latency benchmark's tables, as markdown for BENCHMARKS.md.
import type { ServerSeries } from './server-series.js';
import type { Percentiles, StepResult, WindowLatency } from './step.js';

export interface ConfigurationReport {
  id: string;
  label: string;
  /** What the engine alone takes per request (delay plus mean jitter), when known. */
  idealMs: number | undefined;
  /** What this configuration must show, in words. */
  target: string;
  steps: StepResult[];
  /** Why the stepping stopped, or what the verdict is. */
  verdict: string;
  /** With a restart: the final P95 the seconds after it are held to. */
  restartLimitMs?: number;
}

export interface InterimReport {
  engineDelayMs: number;
  intervalMs: number;
  single: { off: StepResult; on: StepResult; identical: boolean; differences: string[] };
  underLoad: { sessions: number; off: StepResult; on: StepResult } | undefined;
}

const dash = '—';
const ms = (v: number | undefined) => (v === undefined ? dash : v.toLocaleString('en-US'));
const triple = (p: Percentiles) => `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)}`;
const codes = (record: Record<string, number>) =>
  Object.keys(record).length === 0 ? '' : Object.entries(record).map(([code, n]) => `${code} ${n}`).join(', ');

export function sessionsCell(step: StepResult): string {
  const failed = codes(step.failures);
  // Older results.json files have no retryAfterMs.
  const r = step.retryAfterMs;
  const w = step.admittedAfterRefusalWaitMs;
  const retry =
    (r && r.count > 0 ? `; retry_after_ms min / P50 / max ${ms(r.min)} / ${ms(r.p50)} / ${ms(r.max)}` : '') +
    (w && w.count > 0 ? `; ${w.count} started after retrying, P50 / max ${ms(w.p50)} / ${ms(w.max)} after their first start_session` : '');
  return `${step.started} / ${step.refused}${step.refusals > step.refused ? ` (${step.refusals} answers)` : ''} / ${step.completed}${failed || retry ? ` (${failed}${retry})` : ''}`;
}

function engineCell(step: StepResult): string {
  if (!step.engine) return 'offline';
  return `${step.engine.answered.toLocaleString('en-US')} / ${step.engine.refused.toLocaleString('en-US')} (max ${step.engine.maxInFlight} in flight)`;
}

function coresCell(step: StepResult): string {
  const c = step.cores;
  return `${c.server.toFixed(2)}${c.decoders > 0.005 ? ` + ${c.decoders.toFixed(2)} decoders` : ''} / ${c.generator.toFixed(2)} / ${c.engine.toFixed(2)} / ${c.other.toFixed(2)}`;
}

export function stepRow(step: StepResult, verdict: string): string {
  const audio = step.lostSpeechMs === 0 && step.uncountedMs === 0 ? 'none lost' : `**${step.lostSpeechMs} ms speech uncovered, ${step.uncountedMs} ms uncounted**`;
  const errors = codes(step.errors);
  return (
    `| ${step.sessions} | ${step.finals.toLocaleString('en-US')} | ${triple(step.serverMs)} | ${triple(step.clientMs)} | ${ms(step.clientMs.max)} | ${sessionsCell(step)} |` +
    ` ${engineCell(step)} | ${audio}${errors ? `; ${errors}` : ''} | ${coresCell(step)} | ${ms(step.generator.loopDelayP99Ms)} / ${ms(step.generator.sendLagP99Ms)} |` +
    ` ${step.loadAverage.map((v) => v.toFixed(2)).join(' / ')}${step.otherCoresBefore === undefined ? '' : ` (${step.otherCoresBefore.toFixed(2)})`} | ${verdict} |`
  );
}

const HEADER = [
  '| N | finals | server latency_ms P50 / P95 / P99 | last chunk sent → result P50 / P95 / P99 | max | sessions started / refused (OVERLOADED) / completed | engine answered / 429 | audio | cores: server / generator / engine stub / other | generator loop delay P99 / send lag P99 (ms) | load avg 1 / 5 / 15 after (cores used by other processes before) | verdict |',
  '| ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- | --- | --- |',
];

/**
 * `overload`: refusals are what the scenario wants to see, not a failure; the admitted sessions are judged.
 * 'allowed': refusals (OVERLOADED) are neither wanted nor a failure; the admitted sessions are judged.
 */
export function stepVerdict(step: StepResult, limitMs: number, overload: boolean | 'allowed' = false): { holds: boolean; text: string } {
  const problems: string[] = [];
  if (step.clientMs.p95 === undefined) problems.push('no finals');
  else if (step.clientMs.p95 > limitMs) problems.push(`P95 ${ms(step.clientMs.p95)} ms > ${ms(limitMs)} ms`);
  if (step.refused > 0 && !overload) problems.push(`${step.refused} refused`);
  const notStarted = step.sessions - step.started - step.refused;
  if (notStarted > 0) problems.push(`${notStarted} failed to start (${codes(step.failures)})`);
  if (overload === true && step.refused === 0) problems.push('nothing refused');
  if (step.completed < step.started) problems.push(`${step.started - step.completed} admitted did not complete`);
  if (step.lostSpeechMs > 0 || step.uncountedMs > 0) problems.push('audio lost');
  return { holds: problems.length === 0, text: problems.length ? problems.join(', ') : 'holds' };
}

export function configurationMarkdown(report: ConfigurationReport, limitMs: number, overload: boolean | 'allowed' = false): string[] {
  const lines = [`**${report.label}** — target: ${report.target}`, '', ...HEADER];
  if (report.idealMs !== undefined) {
    lines.push(`| ideal | | ${ms(report.idealMs)} (engine alone) | ${ms(report.idealMs)} (engine alone) | | | | | | | | |`);
  }
  for (const step of report.steps) lines.push(stepRow(step, stepVerdict(step, limitMs, overload).text));
  lines.push('', `Verdict: ${report.verdict}`, '');
  for (const step of report.steps) {
    if (!step.restart && !step.series) continue;
    if (report.steps.length > 1) lines.push(`N = ${step.sessions}:`, '');
    lines.push(...restartMarkdown(step, report.restartLimitMs ?? limitMs));
    if (step.series) lines.push(...seriesMarkdown(step.series));
  }
  return lines;
}

/** Per-second rows under a table: how the server got to its outcome. `·` is a second the server could not be read. */
export function seriesMarkdown(series: ServerSeries): string[] {
  const row = (label: string, values: (number | null)[], digits = 0) =>
    `${label.padEnd(14)} ${values.map((v) => (v === null ? '·' : v.toFixed(digits))).join(' ')}`;
  return [
    'The server each second from the first speaker\'s start (its /metrics; `·`: not readable, e.g. while restarting):',
    '',
    '```',
    row('limit:', series.limit),
    row('in flight:', series.inFlight),
    row('queued:', series.queued),
    row('ELU (3 s):', series.elu, 2),
    row('server cores:', series.cores, 1),
    row('sessions:', series.sessions),
    row('admitted/s:', series.admitted),
    row('refused/s:', series.refused),
    row('resumed/s:', series.resumed),
    row('engine 429/s:', series.engine429),
    '```',
    '',
  ];
}

/** The restart's own table: latency before the kill and in the seconds after the server was back, and the resumes. */
export function restartMarkdown(step: StepResult, limitMs: number): string[] {
  const r = step.restart;
  if (!r) return [];
  const row = (label: string, w: WindowLatency, verdict: string) =>
    `| ${label} | ${w.finals.toLocaleString('en-US')} | ${triple(w.serverMs)} | ${triple(w.clientMs)} | ${ms(w.clientMs.max)} | ${verdict} |`;
  const afterP95 = r.after.clientMs.p95;
  return [
    `SIGKILL ${r.killedAtS} s after the first speaker started; the new process accepted connections ${ms(r.downMs)} ms later, on the same port. ` +
      `${r.resumed} sessions resumed, ${ms(r.resumeMs.p50)} / ${ms(r.resumeMs.p95)} / ${ms(r.resumeMs.max)} ms (P50 / P95 / max) from the lost connection to the resumed ack; ` +
      `${r.resent.toLocaleString('en-US')} chunks sent after the resumes (next_seq on: not acknowledged before the kill, or due while the server was away).`,
    '',
    '| window | finals | server latency_ms P50 / P95 / P99 | last chunk sent (or resumed) → result P50 / P95 / P99 | max | verdict |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    row('before the kill', r.before, ''),
    row(`${r.afterS} s after the server is back`, r.after, afterP95 === undefined ? 'no finals' : afterP95 <= limitMs ? `P95 ≤ ${ms(limitMs)} ms: holds` : `P95 > ${ms(limitMs)} ms`),
    '',
  ];
}

export function interimMarkdown(report: InterimReport): string[] {
  const { off, on } = report.single;
  const row = (label: string, step: StepResult) =>
    `| ${label} | ${step.finals} | ${step.interims} | ${triple(step.firstTextMs)} | ${triple(step.clientMs)} | ${step.engine ? `${step.engine.answered} / ${step.engine.refused}` : dash} | ${step.loadAverage.map((v) => v.toFixed(2)).join(' / ')} |`;
  const lines = [
    `**One real-time speaker, engine stub ${report.engineDelayMs} ms, interim_interval_ms ${report.intervalMs}** — first text of a segment (its first interim, or its final when it had none) measured from the moment its first 2 s of audio had been sent (a negative figure: the text came before the segment was 2 s long).`,
    '',
    '| interims | finals | interims received | first text after 2 s of the segment P50 / P95 / P99 (ms) | final: last chunk sent → result P50 / P95 / P99 (ms) | engine requests / 429 | load avg |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    row('off', off),
    row('on', on),
    '',
    report.single.identical
      ? `Finals (segment, start_ms, end_ms, text) and end_session's text identical with and without interims (${on.finals} finals; the stub's text is a digest of each upload's audio).`
      : `**Finals differ with and without interims:** ${report.single.differences.slice(0, 5).join('; ')}`,
    '',
  ];
  const load = report.underLoad;
  if (load) {
    lines.push(
      `**${load.sessions} speakers against the quota (the largest N whose finals held P95 ≤ 3 s without interims), every session with interims on:**`,
      '',
      ...HEADER,
      stepRow(load.off, `interims off: ${stepVerdict(load.off, 3000).text}`),
      stepRow(load.on, `interims on (${load.on.interims.toLocaleString('en-US')} interims): ${stepVerdict(load.on, 3000).text}`),
      '',
    );
  }
  return lines;
}
