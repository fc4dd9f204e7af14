// Readiness: the buffer store and the engine must both answer, each within a deadline, for the server to take traffic.
import type { TranscriptionEngine } from '../engines/engine.js';
import type { BufferStore } from '../store/buffer-store.js';

export interface CheckResult {
  ok: boolean;
  duration_ms: number;
  /** Why it failed, as the component reported it. */
  error?: string;
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

/** Pings the store and checks the engine in parallel. */
export async function checkReadiness(store: BufferStore, engine: TranscriptionEngine, timeoutMs = 3000): Promise<Readiness> {
  const [storeCheck, engineCheck] = await Promise.all([
    timed(() => store.ping(), timeoutMs, `the ${store.kind} buffer store`),
    timed(() => engine.check(), timeoutMs, `the ${engine.name} engine`),
  ]);
  const failed: Readiness['failed'] = [];
  if (!storeCheck.ok) failed.push('store');
  if (!engineCheck.ok) failed.push('engine');
  return { status: failed.length === 0 ? 'ready' : 'not_ready', failed, checks: { store: storeCheck, engine: engineCheck } };
}
