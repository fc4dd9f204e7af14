// The primary engine with a fallback behind a circuit breaker (ENGINE_FALLBACK): a segment whose primary request has
// an outage (5xx, time-out, no connection) goes to the fallback at once; after ENGINE_BREAKER_FAILURES outages in a
// row the primary is skipped until a probe after ENGINE_BREAKER_COOLDOWN_MS succeeds. Refusals (4xx) and rate limits
// (429) are the primary's answers, not outages: they go to the scheduler as before.
import type { Logger } from 'pino';
import { EngineError, type EngineResult, type SegmentAudio, type TranscriptionEngine } from './engine.js';
import { CircuitBreaker, type BreakerState, type CircuitBreakerOptions } from './circuit-breaker.js';

export interface FallbackEngine extends TranscriptionEngine {
  breakerState(): BreakerState;
  /** Told of every change of the breaker's state (metrics). */
  watchBreaker(listener: (state: BreakerState) => void): void;
}

/** An outage of the provider, as opposed to an answer: a 5xx, 408, a time-out or no connection. */
export function isOutage(error: unknown): boolean {
  if (!(error instanceof EngineError) || !error.retryable) return false;
  return error.status === undefined || error.status >= 500 || error.status === 408;
}

export function withFallback(
  primary: TranscriptionEngine,
  fallback: TranscriptionEngine,
  breakerOptions: Omit<CircuitBreakerOptions, 'onChange'>,
  logger?: Logger,
): FallbackEngine {
  const listeners: Array<(state: BreakerState) => void> = [];
  const breaker = new CircuitBreaker({
    ...breakerOptions,
    onChange: (state) => {
      logger?.warn({ breaker: state, primary: primary.name, fallback: fallback.name }, `primary engine circuit breaker ${state}`);
      for (const listener of listeners) listener(state);
    },
  });

  async function viaFallback(segment: SegmentAudio): Promise<EngineResult> {
    // The session's model is the primary's; the fallback uses its own.
    const { model: _model, ...rest } = segment;
    const result = await fallback.transcribe(rest);
    return { ...result, engine: result.engine ?? fallback.name };
  }

  async function transcribe(segment: SegmentAudio): Promise<EngineResult> {
    if (!breaker.allow()) return viaFallback(segment);
    try {
      const result = await primary.transcribe(segment);
      breaker.success();
      return result;
    } catch (error) {
      if (!isOutage(error)) {
        breaker.success(); // it answered
        throw error;
      }
      breaker.failure();
      logger?.debug({ err: error }, 'primary engine outage; segment sent to the fallback');
      return viaFallback(segment);
    }
  }

  return {
    name: primary.name,
    model: primary.model,
    // The fallback's runs are not the primary's HTTP spans: the pipeline wraps each run when the primary does not.
    tracesOwnRequests: primary.tracesOwnRequests,
    capacity: primary.capacity,
    transcribe,
    async check() {
      await fallback.check();
      // The primary's outage is the breaker's to report (a readiness warning); a rejected key still fails.
      await primary.check().catch((error: unknown) => {
        if (error instanceof EngineError && !error.retryable) throw error;
      });
    },
    async close() {
      await Promise.all([primary.close?.(), fallback.close?.()]);
    },
    breakerState: () => breaker.state,
    watchBreaker: (listener) => listeners.push(listener),
  };
}
