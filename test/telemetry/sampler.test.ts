// The traces sampler's rules, and the per-session sample_rand it relies on: the server's decision, which a client
// can neither force with its trace headers nor game with the session ids it picks.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTracesSampler, isUntracedRequest, sessionSampler } from '../../src/telemetry/sampler.js';

type Context = Parameters<ReturnType<typeof createTracesSampler>>[0];

function context(partial: Partial<Context>): Context {
  return { name: 'x', attributes: {}, inheritOrSampleWith: (rate: number) => rate, ...partial };
}

describe('tracesSampler', () => {
  const sample = createTracesSampler(0.25);

  it('never samples the probes, however the request is described', () => {
    expect(sample(context({ name: 'GET /healthz' }))).toBe(0);
    expect(sample(context({ name: 'GET /readyz', parentSampled: true }))).toBe(0);
    expect(sample(context({ name: 'request', attributes: { 'url.path': '/healthz' } }))).toBe(0);
    expect(sample(context({ name: 'x', normalizedRequest: { url: 'http://127.0.0.1:3001/readyz?verbose=1' } }))).toBe(0);
  });

  it('always samples the performance test, even under an unsampled parent', () => {
    expect(sample(context({ name: 'GET /ops/test-sentry-performance' }))).toBe(1);
    expect(sample(context({ name: 'GET /ops/test-sentry-performance', parentSampled: false }))).toBe(1);
  });

  it('leaves Socket.IO transport requests out: their events have their own transactions', () => {
    expect(sample(context({ name: 'POST /socket.io/', attributes: { 'url.path': '/socket.io/' } }))).toBe(0);
  });

  it('honours the session’s own decision on websocket events (telemetry passes it as the parent’s)', () => {
    expect(sample(context({ name: 'audio_chunk_handler', parentSampled: true }))).toBe(true);
    expect(sample(context({ name: 'audio_chunk_handler', parentSampled: false }))).toBe(false);
  });

  it('draws for itself on an HTTP request that carries a client’s decision, unless told to trust it', () => {
    const draws = [0.1, 0.9];
    const untrusting = createTracesSampler(0.25, { random: () => draws.shift()! });
    const fromClient = (parentSampled?: boolean) =>
      context({ name: 'POST /v1/tokens', parentSampled, normalizedRequest: { url: '/v1/tokens', headers: { 'sentry-trace': 'a-b-1', baggage: 'sentry-sample_rand=0.000001' } } });
    // The client said "sampled" both times; the server's draws (0.1, then 0.9) against 0.25 decide.
    expect(untrusting(fromClient(true))).toBe(true);
    expect(untrusting(fromClient(true))).toBe(false);
    // No sampled flag, only a chosen sample_rand in the baggage: still the server's draw.
    expect(createTracesSampler(0.25, { random: () => 0.5 })(fromClient(undefined))).toBe(false);
    const trusting = createTracesSampler(0.25, { trustClientSampling: true, random: () => 0.9 });
    expect(trusting(fromClient(true))).toBe(true);
    expect(trusting(fromClient(false))).toBe(false);
  });

  it('samples new sessions and other requests at the rate', () => {
    expect(sample(context({ name: 'start_session_handler' }))).toBe(0.25);
    expect(sample(context({ name: 'GET /' }))).toBe(0.25);
  });
});

describe('isUntracedRequest', () => {
  it('matches the probes and Socket.IO paths only', () => {
    expect(isUntracedRequest('/healthz')).toBe(true);
    expect(isUntracedRequest('/readyz?x=1')).toBe(true);
    expect(isUntracedRequest('/socket.io/?EIO=4&transport=polling')).toBe(true);
    expect(isUntracedRequest('/ops/test-sentry-performance')).toBe(false);
    expect(isUntracedRequest('/healthzz')).toBe(false);
  });
});

/** The unkeyed hash this server once used: anyone could compute it, and so choose always-sampled session ids. */
function publicSampleRand(sessionId: string): number {
  return createHash('sha256').update(`sentry-sample:${sessionId}`).digest().readUIntBE(0, 6) / 2 ** 48;
}

/** `count` ids, built from `prefix`, that the public hash would sample at `rate`: an attacker's best guesses. */
function chosenIds(prefix: string, rate: number, count: number): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < count; i++) if (publicSampleRand(`${prefix}${i}`) < rate) ids.push(`${prefix}${i}`);
  return ids;
}

describe('sessionSampler', () => {
  it('is fixed per session id and spread evenly over [0, 1)', () => {
    const sampleRand = sessionSampler('deployment-secret');
    expect(sampleRand('session-a')).toBe(sampleRand('session-a'));
    expect(sampleRand('session-a')).not.toBe(sampleRand('session-b'));
    const values = Array.from({ length: 4000 }, (_, i) => sampleRand(`s-${i}`));
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    const underTenth = values.filter((v) => v < 0.1).length / values.length;
    expect(underTenth).toBeGreaterThan(0.08);
    expect(underTenth).toBeLessThan(0.12);
  });

  it('agrees across processes sharing SENTRY_SAMPLING_SECRET; without one, each process has its own key', () => {
    expect(sessionSampler('shared')('session-a')).toBe(sessionSampler('shared')('session-a'));
    expect(sessionSampler('shared')('session-a')).not.toBe(sessionSampler('other')('session-a'));
    expect(sessionSampler(undefined)('session-a')).not.toBe(sessionSampler(undefined)('session-a'));
  });

  it('ids a client chooses cannot raise the share of sessions sampled', () => {
    // 1000 ids per attempt; at rate 0.1 the sampled count is ~100 ± 9.5 (binomial), so 50–150 is > 5 sigma either way.
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom(undefined, 'deployment-secret'), (prefix, secret) => {
        const sampleRand = sessionSampler(secret);
        const ids = chosenIds(prefix, 0.1, 1000);
        // Every one of them would be sampled by the public hash…
        expect(ids.every((id) => publicSampleRand(id) < 0.1)).toBe(true);
        // …and the keyed one samples them at the rate like any others.
        const sampled = ids.filter((id) => sampleRand(id) < 0.1).length;
        expect(sampled).toBeGreaterThan(50);
        expect(sampled).toBeLessThan(150);
      }),
      { numRuns: 20 },
    );
  });
});
