// The fallback engine: the circuit breaker's states on an injected clock, the primary (the OpenAI stub) failing then
// recovering, and a whole session against a provider answering 503 for good with real pocketsphinx behind it.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { CircuitBreaker, type BreakerState } from '../../src/engines/circuit-breaker.js';
import { withFallback } from '../../src/engines/fallback.js';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createPocketsphinxEngine } from '../../src/engines/pocketsphinx/engine.js';
import type { TranscriptionEngine } from '../../src/engines/engine.js';
import { createReadinessProbe } from '../../src/ops/readiness.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { connect, startServer } from '../support/harness.js';
import { startOpenAIStub } from '../support/openai-stub.js';
import { streamWhole } from '../support/pipeline.js';

const hello = decodeWavToPcm16(readFileSync(new URL('../fixtures/hello.wav', import.meta.url)), 16000).pcm;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fallback that answers at once and says so. */
const standIn: TranscriptionEngine = { name: 'standin', model: 'standin', transcribe: async () => ({ text: 'from the fallback' }), check: async () => {} };

describe('CircuitBreaker', () => {
  it('opens after N outages in a row, half-opens after the cool-down for one probe, closes on its success', () => {
    let now = 0;
    const changes: BreakerState[] = [];
    const breaker = new CircuitBreaker({ failures: 3, coolDownMs: 1000, now: () => now, onChange: (s) => changes.push(s) });
    breaker.failure();
    breaker.success(); // an answer in between resets the count
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.allow()).toBe(false);
    now = 999;
    expect(breaker.allow()).toBe(false);
    now = 1000;
    expect(breaker.state).toBe('half_open');
    expect(breaker.allow()).toBe(true); // the probe
    expect(breaker.allow()).toBe(false); // one at a time
    breaker.failure(); // the probe failed: open for another cool-down
    expect(breaker.state).toBe('open');
    now = 2000;
    expect(breaker.allow()).toBe(true);
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
  });
});

describe('withFallback over the OpenAI stub', () => {
  it('a failing then recovering provider: closed -> open -> half-open -> closed; segments go to the fallback while open', async () => {
    let down = true;
    const stub = await startOpenAIStub({ respond: () => (down ? { status: 503, text: 'overloaded' } : { text: 'from the provider' }) });
    cleanups.push(() => stub.close());
    const primary = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 5000 });
    let now = 0;
    const states: BreakerState[] = [];
    const engine = withFallback(primary, standIn, { failures: 2, coolDownMs: 10_000, now: () => now });
    engine.watchBreaker((s) => states.push(s));
    const segment = { pcm: hello, sampleRate: 16000 };

    // Two outages: each segment is still transcribed, by the fallback; then the breaker opens.
    expect(await engine.transcribe(segment)).toMatchObject({ text: 'from the fallback', engine: 'standin' });
    expect(await engine.transcribe(segment)).toMatchObject({ text: 'from the fallback', engine: 'standin' });
    expect(engine.breakerState()).toBe('open');
    expect(stub.uploads).toHaveLength(2);
    // Open: the provider is not asked at all.
    await engine.transcribe(segment);
    expect(stub.uploads).toHaveLength(2);
    const readiness = createReadinessProbe(createMemoryStore({ ttlS: 60 }), engine);
    expect(await readiness()).toMatchObject({ status: 'ready', warnings: ['engine_breaker'] });

    // The provider recovers; after the cool-down one probe goes to it and closes the breaker.
    down = false;
    now = 10_000;
    expect(engine.breakerState()).toBe('half_open');
    const probe = await engine.transcribe(segment);
    expect(probe.text).toBe('from the provider');
    expect(probe.engine).toBeUndefined();
    expect(engine.breakerState()).toBe('closed');
    expect(stub.uploads).toHaveLength(3);
    expect(states).toEqual(['open', 'half_open', 'closed']);
    expect((await readiness()).warnings).toEqual([]);
  });

  it('a 4xx is the provider\'s answer, not an outage: it is thrown and the breaker stays closed', async () => {
    const stub = await startOpenAIStub({ respond: () => ({ status: 400, text: 'bad file' }) });
    cleanups.push(() => stub.close());
    const primary = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 5000 });
    const engine = withFallback(primary, standIn, { failures: 1, coolDownMs: 1000 });
    await expect(engine.transcribe({ pcm: hello, sampleRate: 16000 })).rejects.toMatchObject({ retryable: false });
    expect(engine.breakerState()).toBe('closed');
  });
});

describe('a session while the provider answers 503 for good, pocketsphinx behind it', { timeout: 120_000 }, () => {
  it('finals have text and name pocketsphinx; end_session succeeds', async () => {
    const stub = await startOpenAIStub({ respond: () => ({ status: 503, text: 'Service Unavailable' }) });
    const primary = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 5000 });
    const pocketsphinx = createPocketsphinxEngine({ command: 'pocketsphinx_batch', decoders: 1 });
    const engine = withFallback(primary, pocketsphinx, { failures: 2, coolDownMs: 60_000 });
    const server = await startServer({ store: 'memory', engine, env: { ENGINE_MAX_RETRIES: '0', SEGMENT_MAX_MS: '4000' } });
    const client = await connect(server.url);
    cleanups.push(() => stub.close(), () => server.close(), () => pocketsphinx.close(), () => client.close());

    const { end } = await streamWhole(client, Buffer.concat([hello, hello]), { word_timestamps: true });
    expect(end.ok).toBe(true);
    expect(end.text).toMatch(/tomorrow morning/);
    expect(client.errors).toEqual([]);
    expect(client.results.length).toBeGreaterThanOrEqual(2);
    for (const result of client.results) {
      expect(result.engine).toBe('pocketsphinx');
      expect(result.text).not.toBe('');
      expect(result.words!.map((w) => w.word).join(' ')).toBe(result.text);
    }
    // The provider was tried until the breaker opened, then left alone.
    expect(stub.uploads.length).toBe(2);
    expect(engine.breakerState()).toBe('open');
  });
});
