// Readiness: whether this node can serve a new session now — the store answers, the engine is usable, the node is
// not draining — each check within a deadline; what the load balancer takes nodes in and out of rotation by.
import { EngineError, type TranscriptionEngine } from '../engines/engine.js';
import type { BufferStore } from '../store/buffer-store.js';

export interface CheckResult {
  ok: boolean;
  duration_ms: number;
  /** Why it failed, as the component reported it. */
  error?: string;
  /** Set when this is an earlier success remembered: how long ago the component was last checked. */
  checked_ms_ago?: number;
  /**
   * Set on an engine failure that may pass by itself and that every node sees alike (the provider does not answer):
   * with ENGINE_OUTAGE_READINESS=report it is reported here but keeps the node ready.
   */
  outage?: boolean;
}

export interface Readiness {
  status: 'ready' | 'not_ready';
  /** The checks that take the node out of rotation, e.g. ["store"], or ["draining"] during a shutdown. */
  failed: string[];
  /** Checks that failed without taking the node out (an engine outage under ENGINE_OUTAGE_READINESS=report). */
  warnings: string[];
  checks: Record<string, CheckResult>;
}

/**
 * What an engine outage does to readiness. `report` (the default): the node stays ready and /readyz names the
 * engine under `warnings` — a shared provider failing would otherwise take every node out at once, and clients
 * could not even buffer audio for the retry. `fail`: the node goes out, for engines that are per node (a Whisper
 * server beside each node). A rejected key (401/403) takes the node out either way: it is this node's setting.
 */
export type EngineOutagePolicy = 'report' | 'fail';

export interface ReadinessOptions {
  timeoutMs?: number;
  /**
   * How long an engine that answered counts as answering. Probes come every few seconds, and for the openai
   * engine each check is a request to the provider; the store is local and is pinged on every probe.
   * Failures are never remembered: the next probe checks again.
   */
  engineSuccessTtlMs?: number;
  engineOutage?: EngineOutagePolicy;
  /** True once the node has started draining: readiness fails at once, without asking anything. */
  draining?: () => boolean;
  /** Further checks that must pass, by name (e.g. "workers" on a cluster primary). */
  extraChecks?: Record<string, () => Promise<void>>;
  now?: () => number;
}

async function timed(check: () => Promise<void>, timeoutMs: number, what: string): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new EngineError(`${what} did not answer within ${timeoutMs} ms`, { retryable: true })), timeoutMs);
      }),
    ]);
    return { ok: true, duration_ms: elapsed(started) };
  } catch (error) {
    // A retryable EngineError is "no answer" (refused, time-out): an outage, not this node's configuration.
    const outage = error instanceof EngineError && error.retryable;
    // Only callers with OPS_TOKEN see this (routes/readiness.ts): the cause's words help the operator.
    const cause = (error as Error).cause instanceof Error ? ` (${((error as Error).cause as Error).message})` : '';
    return { ok: false, duration_ms: elapsed(started), error: `${(error as Error).message}${cause}`, ...(outage ? { outage } : {}) };
  } finally {
    clearTimeout(timer);
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

const DRAINING: CheckResult = { ok: false, duration_ms: 0, error: 'the node is shutting down: new sessions go to other nodes' };

/** A readiness probe: pings the store and checks the engine in parallel, the engine at most once per TTL while it answers. */
export function createReadinessProbe(store: BufferStore, engine: TranscriptionEngine, options: ReadinessOptions = {}): () => Promise<Readiness> {
  const { timeoutMs = 3000, engineSuccessTtlMs = 30_000, engineOutage = 'report', draining, extraChecks = {}, now = Date.now } = options;
  let lastEngineSuccess: { at: number; result: CheckResult } | undefined;

  async function checkEngine(): Promise<CheckResult> {
    if (lastEngineSuccess) {
      const age = now() - lastEngineSuccess.at;
      if (age < engineSuccessTtlMs) return { ...lastEngineSuccess.result, checked_ms_ago: age };
    }
    const result = await timed(() => engine.check(), timeoutMs, `the ${engine.name} engine`);
    lastEngineSuccess = result.ok ? { at: now(), result } : undefined;
    return result;
  }

  return async () => {
    if (draining?.()) return { status: 'not_ready', failed: ['draining'], warnings: [], checks: { draining: DRAINING } };
    const named: Array<[string, Promise<CheckResult>]> = [
      ['store', timed(() => store.ping(), timeoutMs, `the ${store.kind} buffer store`)],
      ['engine', checkEngine()],
      ...Object.entries(extraChecks).map(([name, run]): [string, Promise<CheckResult>] => [name, timed(run, timeoutMs, name)]),
    ];
    const results = await Promise.all(named.map(([, result]) => result));
    const checks: Record<string, CheckResult> = {};
    const failed: string[] = [];
    const warnings: string[] = [];
    named.forEach(([name], i) => {
      const result = results[i]!;
      checks[name] = result;
      if (result.ok) return;
      if (name === 'engine' && result.outage && engineOutage === 'report') warnings.push(name);
      else failed.push(name);
    });
    // Segments go to the fallback engine meanwhile: worth a look, not a reason to leave rotation.
    const breaker = engine.breakerState?.();
    if (breaker && breaker !== 'closed') {
      warnings.push('engine_breaker');
      checks.engine_breaker = { ok: false, duration_ms: 0, error: `the primary engine's circuit breaker is ${breaker.replace('_', '-')}: segments go to the fallback engine`, outage: true };
    }
    return { status: failed.length === 0 ? 'ready' : 'not_ready', failed, warnings, checks };
  };
}

const checkSchema = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    duration_ms: { type: 'number' },
    error: { type: 'string' },
    checked_ms_ago: { type: 'number' },
    outage: { type: 'boolean' },
  },
  required: ['ok', 'duration_ms'],
} as const;

/** The /readyz response body (200 and 503 alike), for the ops server's route schema. */
export const readinessSchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ready', 'not_ready'] },
    failed: { type: 'array', items: { type: 'string' } },
    warnings: { type: 'array', items: { type: 'string' } },
    checks: { type: 'object', additionalProperties: checkSchema },
  },
  // `checks` holds the components' own errors: only callers with OPS_TOKEN get it (routes/readiness.ts).
  required: ['status', 'failed', 'warnings'],
} as const;
