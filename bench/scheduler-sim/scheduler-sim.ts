// The engine scheduler and admission control against a simulated provider, in virtual time: the same classes the
// server runs (src/scheduler/), fed the cuts of real-time speakers of hello-with-pauses.wav, so their dynamics (the
// concurrency limit, queue wait, 429s, refusals) show without the noise of a shared machine, in a fraction of a second.
// `npx tsx bench/scheduler-sim/scheduler-sim.ts [--sessions 150] [--ramp-s 8] [--audio-s 36] [--delay 700] [--jitter 600] [--quota 48]
//   [--interim-ms 1500] [--quota-change 30:24] [--initial 4] [--retries 0]`
import { parseArgs } from 'node:util';
import pino from 'pino';
import { EngineError } from '../../src/errors/server-errors.js';
import { nearestRank } from '../../src/loadtest/index.js';
import { noopMetrics } from '../../src/metrics/metrics.js';
import { AdmissionControl, priorSessionRate } from '../../src/scheduler/admission.js';
import { AdaptiveLimit, fixedLimit, type ConcurrencyLimit } from '../../src/scheduler/concurrency-limit.js';
import { EngineScheduler } from '../../src/scheduler/engine-scheduler.js';

// ---- virtual time: timers ordered by due time, run one by one with every promise settled in between ----
let now = 0;
interface Timer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}
const timers: Timer[] = [];
let timerSeq = 0;
const realSetImmediate = setImmediate;
function schedule(fn: () => void, ms: number): Timer {
  const timer = { due: now + Math.max(0, ms), seq: timerSeq++, fn, cancelled: false };
  let i = timers.length;
  while (i > 0 && (timers[i - 1]!.due > timer.due || (timers[i - 1]!.due === timer.due && timers[i - 1]!.seq > timer.seq))) i--;
  timers.splice(i, 0, timer);
  return timer;
}
// The scheduler's retry wake-up uses the global timers: they run on the virtual clock too.
globalThis.setTimeout = ((fn: () => void, ms?: number) => {
  const timer = schedule(fn, ms ?? 0);
  return { unref: () => timer, ref: () => timer, [Symbol.toPrimitive]: () => timer.seq, timer } as unknown as NodeJS.Timeout;
}) as typeof setTimeout;
globalThis.clearTimeout = ((handle: { timer?: Timer } | undefined) => {
  if (handle?.timer) handle.timer.cancelled = true;
}) as typeof clearTimeout;
const settle = () => new Promise<void>((resolve) => realSetImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => schedule(resolve, ms));

async function runUntilIdle(limitMs: number): Promise<void> {
  for (;;) {
    await settle();
    const next = timers.shift();
    if (!next || next.due > limitMs) return;
    if (next.cancelled) continue;
    now = next.due;
    next.fn();
  }
}

// ---- the simulation ----
const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '150' },
    'ramp-s': { type: 'string', default: '8' },
    'audio-s': { type: 'string', default: '36' },
    delay: { type: 'string', default: '700' },
    jitter: { type: 'string', default: '600' },
    quota: { type: 'string', default: '48' },
    /** Milliseconds the server adds to each request (upload, event loop), uniform 0..this. */
    overhead: { type: 'string', default: '50' },
    /** Plus an exponential delay of this mean: a busy machine's long tail (measured at load 15: P50 +170 ms, P95 +1.4 s). */
    tail: { type: 'string', default: '0' },
    fixed: { type: 'string' },
    /** Every session asks for interims every this many ms of new audio, as INTERIM_INTERVAL_MS (0: none). */
    'interim-ms': { type: 'string', default: '0' },
    /** `seconds:quota`: the provider's quota changes then (shared with others, or lowered). */
    'quota-change': { type: 'string' },
    'max-delay': { type: 'string', default: '10000' },
    /** The adaptive limit's initial window. */
    initial: { type: 'string', default: '16' },
    /** OVERLOADED answers a session retries after retry_after_ms before it gives up. */
    retries: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    trace: { type: 'boolean' },
  },
});
const N = Number(values.sessions);
const rampMs = Number(values['ramp-s']) * 1000;
const audioMs = Number(values['audio-s']) * 1000;
const delayMs = Number(values.delay);
const jitterMs = Number(values.jitter);
let quota = Number(values.quota) || Infinity;
const interimMs = Number(values['interim-ms']);
const quotaChange = values['quota-change']?.split(':').map(Number);
const overheadMs = Number(values.overhead);
const tailMs = Number(values.tail);

let rng = Number(values.seed) >>> 0;
function random(): number {
  rng = (rng + 0x6d2b79f5) >>> 0;
  let t = rng;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Where the server cuts hello-with-pauses.wav (ms into each 9,454 ms pass), measured with the real segmenter. */
const PASS_MS = 9454;
const CUT_PHASES = [3900, 7100];

// The scheduler's classes as the server builds them (the three fixes this simulation found are in them now).
const limit: ConcurrencyLimit = values.fixed ? fixedLimit(Number(values.fixed)) : new AdaptiveLimit({ initial: Number(values.initial), min: 4, max: 256, now: () => now });
const logger = pino({ level: 'silent' });
const scheduler = new EngineScheduler({ limit, maxRetries: 3, metrics: noopMetrics, logger, now: () => now });
const admission = new AdmissionControl(scheduler, { maxResultDelayMs: Number(values['max-delay']), priorSessionRate: priorSessionRate(8000), now: () => now, random });
const segmentCut = (sessionId: string) => admission.segmentCut(sessionId);

let inFlight = 0;
const answered = { final: 0, interim: 0 };
const refused429 = { final: 0, interim: 0 };
const dueTimes = new Set<number>();
if (quotaChange) schedule(() => (quota = quotaChange[1] || Infinity), quotaChange[0]! * 1000);
function provider(kind: 'final' | 'interim'): Promise<string> {
  const upload = random() * overheadMs + (tailMs > 0 ? -Math.log(1 - random()) * tailMs : 0);
  return new Promise((resolve, reject) => {
    schedule(() => {
      if (inFlight >= quota) {
        refused429[kind]++;
        const retryAfterMs = Math.max(1, Math.ceil(Math.min(...dueTimes) - now));
        reject(new EngineError('429', { retryable: true, status: 429, overload: true, retryAfterMs }));
        return;
      }
      inFlight++;
      const due = now + delayMs + random() * jitterMs;
      dueTimes.add(due);
      schedule(() => {
        inFlight--;
        dueTimes.delete(due);
        answered[kind]++;
        resolve('text');
      }, due - now);
    }, upload);
  });
}

let active = 0;
let refusedSessions = 0;
/** retry_after_ms of every OVERLOADED answer; and how long each admitted session waited to be admitted. */
const refusals: number[] = [];
const startDelays: number[] = [];
let failedSegments = 0;
const latencies: number[] = [];
const interims = { asked: 0, delivered: 0, stale: 0, failed: 0 };
let interimsInFlight = 0;

/** As SessionRuntime.maybeInterim: each 100 ms chunk, once `interimMs` of audio is new, if nothing of the session is at the engine. */
async function askInterims(id: string, state: { pendingFinals: number; cuts: number; interimFrom: number; start: number }): Promise<void> {
  let running = false;
  for (let t = 100; t <= audioMs; t += 100) {
    await sleep(state.start + t - now);
    if (running || state.pendingFinals > 0 || t - state.interimFrom < interimMs) continue;
    if (!scheduler.askInterimRoom()) continue;
    state.interimFrom = t;
    const request = scheduler.tryInterim(id, () => provider('interim'));
    if (!request) continue;
    interims.asked++;
    running = true;
    interimsInFlight++;
    const generation = state.cuts;
    void request
      .then(
        () => void (generation === state.cuts ? interims.delivered++ : interims.stale++),
        () => void interims.failed++,
      )
      .finally(() => {
        running = false;
        interimsInFlight--;
      });
  }
}

async function session(index: number): Promise<void> {
  await sleep((index * rampMs) / N);
  for (let attempt = 0; ; attempt++) {
    const overload = admission.refusal(active);
    if (!overload) break;
    refusals.push(overload.retryAfterMs ?? 0);
    if (values.trace) trace.push(`${(now / 1000).toFixed(1)}s refused: ${overload.message}`);
    if (attempt >= Number(values.retries)) {
      refusedSessions++;
      return;
    }
    await sleep(overload.retryAfterMs ?? 1000);
  }
  startDelays.push(now - (index * rampMs) / N);
  active++;
  const offset = ((index * 0.6180339887) % 1) * PASS_MS;
  const start = now;
  // Cut times in this session's audio, then the end's cut.
  const cuts: number[] = [];
  for (let pass = 0; pass * PASS_MS < audioMs + PASS_MS; pass++) {
    for (const phase of CUT_PHASES) {
      const t = pass * PASS_MS + phase - offset;
      if (t > 0 && t < audioMs) cuts.push(t);
    }
  }
  cuts.sort((a, b) => a - b);
  cuts.push(audioMs);
  const state = { pendingFinals: 0, cuts: 0, interimFrom: 0, start };
  const asking = interimMs > 0 ? askInterims(String(index), state) : Promise.resolve();
  // One segment at a time at the engine, as the session runtime does; later cuts wait in the session's queue.
  let chain = Promise.resolve();
  for (const at of cuts) {
    await sleep(start + at - now);
    const cutAt = now;
    state.cuts++;
    state.interimFrom = at;
    state.pendingFinals++;
    segmentCut(String(index));
    chain = chain.then(() =>
      scheduler.runFinal(String(index), cutAt, () => provider('final')).then(
        () => void latencies.push(now - cutAt),
        () => void failedSegments++,
      ).finally(() => void state.pendingFinals--),
    );
  }
  await Promise.all([chain, asking]);
  active--;
}

const trace: string[] = [];
async function sample(): Promise<void> {
  for (let second = 1; second <= (rampMs + audioMs) / 1000 + 30; second++) {
    await sleep(1000);
    const s = scheduler.state;
    trace.push(`${second}s limit ${s.limit} inFlight ${s.inFlight}${interimMs > 0 ? ` (interims ${interimsInFlight})` : ''} queued ${s.queued} active ${active} rate ${admission.segmentRate().toFixed(1)}/s capacity shown ${scheduler.provenCapacityPerSecond.toFixed(1)} delay ${Math.round(scheduler.expectedResultDelayMs())}`);
  }
}

const sessions = Promise.all(Array.from({ length: N }, (_, i) => session(i)));
void sample();
await runUntilIdle(rampMs + audioMs + 120_000);
await sessions;
const sorted = Float64Array.from(latencies).sort();
const p = (q: number) => Math.round(nearestRank(sorted, q) ?? NaN);
if (values.trace) console.log(trace.join('\n'));
console.log(
  `N=${N} ramp ${rampMs / 1000}s: admitted ${N - refusedSessions}, refused ${refusedSessions}; finals ${latencies.length}, failed ${failedSegments};` +
    ` latency P50 ${p(50)} P95 ${p(95)} P99 ${p(99)} ms; provider answered ${answered.final}, 429 ${refused429.final}; final limit ${limit.current}` +
    (interimMs > 0
      ? `; interims asked ${interims.asked}, delivered ${interims.delivered}, stale ${interims.stale}, failed ${interims.failed}, provider answered ${answered.interim}, 429 ${refused429.interim}`
      : '') +
    (refusals.length ? `; OVERLOADED answers ${refusals.length}, retry_after_ms min ${Math.min(...refusals)} max ${Math.max(...refusals)}` : '') +
    `; admitted after a wait of P95 ${Math.round(nearestRank(Float64Array.from(startDelays).sort(), 95) ?? 0)} ms (max ${Math.round(Math.max(0, ...startDelays))})`,
);
process.exit(0);
