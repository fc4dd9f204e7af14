// Readiness: the buffer store and the engine must both answer, each within a deadline, for the server to take traffic.
import type { TranscriptionEngine } from '../engines/engine.js';
import type { BufferStore } from '../store/buffer-store.js';

export interface CheckResult {
  ok: boolean;
  duration_ms: number;
  /** Why it failed, as the component reported it. */
  error?: string;
  /** Set when this is an earlier success remembered: how long ago the component was last checked. */
  checked_ms_ago?: number;
}

export interface Readiness {
  status: 'ready' | 'not_ready';
  /** The components that did not answer, e.g. ["store"]. */
  failed: Array<'store' | 'engine'>;
  checks: { store: CheckResult; engine: CheckResult };
}

async function timed(check: () => Promise<void>, timeoutMs: number, what: string): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, duration_ms: elapsed(started) };
  } catch (error) {
    return { ok: false, duration_ms: elapsed(started), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

export interface ReadinessOptions {
  timeoutMs?: number;
  /**
   * How long an engine that answered counts as answering. Probes come every few seconds, and for the openai
   * engine each check is a request to the provider; the store is local and is pinged on every probe.
   * Failures are never remembered: the next probe checks again.
   */
  engineSuccessTtlMs?: number;
  now?: () => number;
}

/** A readiness probe: pings the store and checks the engine in parallel, the engine at most once per TTL while it answers. */
export function createReadinessProbe(store: BufferStore, engine: TranscriptionEngine, options: ReadinessOptions = {}): () => Promise<Readiness> {
  const { timeoutMs = 3000, engineSuccessTtlMs = 30_000, now = Date.now } = options;
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
    const [storeCheck, engineCheck] = await Promise.all([timed(() => store.ping(), timeoutMs, `the ${store.kind} buffer store`), checkEngine()]);
    const failed: Readiness['failed'] = [];
    if (!storeCheck.ok) failed.push('store');
    if (!engineCheck.ok) failed.push('engine');
    return { status: failed.length === 0 ? 'ready' : 'not_ready', failed, checks: { store: storeCheck, engine: engineCheck } };
  };
}
