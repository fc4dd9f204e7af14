// The speech-to-text latency benchmark's tables, as markdown for BENCHMARKS.md.
import type { Percentiles, StepResult } from './step.js';

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
  return `${step.started} / ${step.refused}${step.refusals > step.refused ? ` (${step.refusals} answers)` : ''} / ${step.completed}${failed ? ` (${failed})` : ''}`;
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

/** `overload`: refusals are what the scenario wants to see, not a failure; the admitted sessions are judged. */
export function stepVerdict(step: StepResult, limitMs: number, overload = false): { holds: boolean; text: string } {
  const problems: string[] = [];
  if (step.clientMs.p95 === undefined) problems.push('no finals');
  else if (step.clientMs.p95 > limitMs) problems.push(`P95 ${ms(step.clientMs.p95)} ms > ${ms(limitMs)} ms`);
  if (step.refused > 0 && !overload) problems.push(`${step.refused} refused`);
  if (overload && step.refused === 0) problems.push('nothing refused');
  if (step.completed < step.started) problems.push(`${step.started - step.completed} admitted did not complete`);
  if (step.lostSpeechMs > 0 || step.uncountedMs > 0) problems.push('audio lost');
  return { holds: problems.length === 0, text: problems.length ? problems.join(', ') : 'holds' };
}

export function configurationMarkdown(report: ConfigurationReport, limitMs: number, overload = false): string[] {
  const lines = [`**${report.label}** — target: ${report.target}`, '', ...HEADER];
  if (report.idealMs !== undefined) {
    lines.push(`| ideal | | ${ms(report.idealMs)} (engine alone) | ${ms(report.idealMs)} (engine alone) | | | | | | | | |`);
  }
  for (const step of report.steps) lines.push(stepRow(step, stepVerdict(step, limitMs, overload).text));
  lines.push('', `Verdict: ${report.verdict}`, '');
  return lines;
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
