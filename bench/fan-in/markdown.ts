// Turns one run of the side-by-side benchmark into markdown (bench/results/fan-in/results.md, summarised in
// bench/fan-in/latest.md and BENCHMARKS.md): the machine, the side-by-side table with the bare
// server in it, the targets as ratios to bare, and every fan-in step.
import type { Machine } from '../shared/machine.js';
import type { ConfigurationResult, FanInStep } from './scenarios.js';

export interface RunDescription {
  startedAt: string;
  wallMinutes: number;
  quick: boolean;
  machine: Machine;
  /** 1, 5 and 15 minute load averages when the run started and ended: anything else busy on the machine shows here. */
  loadAverage: { before: number[]; after: number[] };
  /** One line per scenario saying how it was run. */
  method: string[];
}

export interface Target {
  what: string;
  required: string;
  measured: string;
  holds: boolean | undefined;
}

const dash = '—';
const fixed = (v: number | undefined, places = 1) => (v === undefined ? dash : v.toFixed(places));
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

function ratio(result: ConfigurationResult, bare: ConfigurationResult | undefined): { value: number | undefined; text: string } {
  if (!bare || bare.fanIn.largestHolding === 0) return { value: undefined, text: dash };
  const value = result.fanIn.largestHolding / bare.fanIn.largestHolding;
  // When bare held at the last step tried, its real limit is higher: the ratio is an upper bound.
  const bareCapped = bare.fanIn.steps.at(-1)?.holds === true;
  return { value, text: `${bareCapped ? '≤ ' : ''}${value.toFixed(2)}` };
}

function largest(result: ConfigurationResult): string {
  const last = result.fanIn.steps.at(-1);
  const capped = last?.holds === true;
  return `${capped ? '≥ ' : ''}${result.fanIn.largestHolding.toLocaleString('en-US')}`;
}

export function targets(results: ConfigurationResult[]): Target[] {
  const bare = results.find((r) => r.configuration.kind === 'bare');
  const byId = (id: string) => results.find((r) => r.configuration.id === id);
  const list: Target[] = [];
  for (const [id, min] of [
    ['memory-0.1', 0.8],
    ['redis-0.1', 0.7],
    ['memory-1.0', 0.5],
  ] as const) {
    const result = byId(id);
    if (!result) continue;
    const r = ratio(result, bare);
    list.push({
      what: `largest N holding, ${result.configuration.label}`,
      required: `≥ ${min} × bare`,
      measured: `${result.fanIn.largestHolding} / ${bare?.fanIn.largestHolding ?? dash} = ${r.text}`,
      holds: r.value === undefined ? undefined : r.value >= min,
    });
  }
  const bareP50 = bare?.fanIn.at200?.ackP50Ms;
  for (const result of results) {
    if (result.configuration.kind === 'bare') continue;
    const p50 = result.fanIn.at200?.ackP50Ms;
    const delta = p50 !== undefined && bareP50 !== undefined ? p50 - bareP50 : undefined;
    list.push({
      what: `P50 ack at N = 200, ${result.configuration.label}`,
      required: 'within 1 ms of bare',
      measured: delta === undefined ? dash : `${fixed(p50, 2)} vs ${fixed(bareP50, 2)} ms (${delta >= 0 ? '+' : ''}${delta.toFixed(2)})`,
      holds: delta === undefined ? undefined : delta <= 1,
    });
  }
  for (const result of results) {
    const f = result.finalization;
    if (!f) continue;
    list.push({
      what: `finalization overhead P95, ${result.configuration.label}`,
      required: '≤ 15 ms',
      measured: `${fixed(f.overheadP95Ms)} ms (server-measured ${fixed(f.serverOverheadP95Ms)} ms)`,
      holds: f.overheadP95Ms === undefined ? undefined : f.overheadP95Ms <= 15,
    });
  }
  for (const result of results) {
    if (result.configuration.kind === 'bare') continue;
    list.push({
      what: `RSS per idle session, ${result.configuration.label}`,
      required: '≤ 64 KiB',
      measured: `${kib(result.memory.perSessionBytes)} (the next ${result.memory.sessions.toLocaleString('en-US')}: ${kib(result.memory.marginalPerSessionBytes)})`,
      // Both must hold: the first batch may ride on heap left free at start-up.
      holds: Math.max(result.memory.perSessionBytes, result.memory.marginalPerSessionBytes) <= 64 * 1024,
    });
  }
  return list;
}

function stepRow(step: FanInStep): string {
  const cores = `${step.serverCores.toFixed(2)} / ${step.generatorCores.toFixed(2)}${step.redisCores === undefined ? '' : ` / ${step.redisCores.toFixed(2)}`}`;
  return (
    `| ${step.sessions} | ${fixed(step.ackP50Ms, 2)} | ${fixed(step.ackP99Ms, 1)} | ${fixed(step.ackMaxMs, 0)} | ${step.serverCpuUsPerChunk ?? dash} | ${cores} |` +
    ` ${fixed(step.generatorDelayP99Ms, 1)} | ${step.otherCores.toFixed(2)}${step.attempts > 1 ? ` (${step.attempts} runs)` : ''} | ${step.envelopes ?? dash} |` +
    ` ${step.holds ? 'holds' : `no: ${step.reason}`} |`
  );
}

export function formatMarkdown(run: RunDescription, results: ConfigurationResult[]): string {
  const bare = results.find((r) => r.configuration.kind === 'bare');
  const m = run.machine;
  const replayCounts = results[0]?.replay.map((r) => r.sessions) ?? [1, 16];
  const lines: string[] = [
    `Run of ${run.startedAt}${run.quick ? ' (--quick: tiny N, figures meaningless)' : ''}, ${run.wallMinutes.toFixed(1)} min.`,
    '',
    `**Machine:** ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}. The load generator (the benchmark` +
      ' process: every simulated client is a TranscriptionClient on socket.io-client), the server under test, the engine stub,' +
      ' the envelope counter and redis-server all run on these same cores, so the bare server\'s row is the ceiling of this machine' +
      ' with this generator, and the ratios compare like with like.' +
      ` Load average (1/5/15 min) ${run.loadAverage.before.map((v) => v.toFixed(2)).join(' / ')} at the start,` +
      ` ${run.loadAverage.after.map((v) => v.toFixed(2)).join(' / ')} at the end.`,
    '',
    '**How each scenario ran:**',
    '',
    ...run.method.map((line) => `- ${line}`),
    '',
    '### Side by side',
    '',
    `| configuration | fan-in: largest N holding | × bare | ack P50 / P99 at N = 200 (ms) | server CPU per chunk at N = 200 (µs) | replay ${replayCounts[0]} session (audio s per s) | replay ${replayCounts[1]} sessions (audio s per s) | finalization overhead P50 / P95 (ms) | RSS per idle session |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const result of results) {
    const at200 = result.fanIn.at200;
    const replay = (n: number | undefined) => fixed(result.replay.find((r) => r.sessions === n)?.ingestPerWallSecond, 0);
    const f = result.finalization;
    lines.push(
      `| ${result.configuration.label} | ${largest(result)} | ${result === bare ? '1' : ratio(result, bare).text} | ` +
        `${at200 ? `${fixed(at200.ackP50Ms, 2)} / ${fixed(at200.ackP99Ms, 1)}` : dash} | ${at200?.serverCpuUsPerChunk ?? dash} | ${replay(replayCounts[0])} | ${replay(replayCounts[1])} | ` +
        `${f ? `${fixed(f.overheadP50Ms)} / ${fixed(f.overheadP95Ms)}` : 'n/a (no transcription)'} | ` +
        `${kib(result.memory.perSessionBytes)} (next ${result.memory.sessions.toLocaleString('en-US')}: ${kib(result.memory.marginalPerSessionBytes)})` +
        `${result.memory.redisPerSessionBytes === undefined ? '' : ` + ${kib(result.memory.redisPerSessionBytes)} in redis-server`} |`,
    );
  }
  lines.push('', '### Targets (ratios to the bare server of the same run)', '', '| target | required | measured | holds |', '| --- | --- | --- | --- |');
  for (const t of targets(results)) {
    lines.push(`| ${t.what} | ${t.required} | ${t.measured} | ${t.holds === undefined ? dash : t.holds ? 'yes' : '**no**'} |`);
  }
  lines.push('', '### Fan-in steps', '');
  for (const result of results) {
    lines.push(
      `**${result.configuration.label}**`,
      '',
      '| N | ack P50 (ms) | ack P99 (ms) | ack max (ms) | server CPU per chunk (µs) | cores busy: server / generator (/ redis) | generator event-loop delay P99 (ms) | cores used by other processes | Sentry envelopes | verdict |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...result.fanIn.steps.map(stepRow),
      '',
    );
  }
  return lines.join('\n');
}
