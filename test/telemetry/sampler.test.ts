// The traces sampler's rules, and the per-session sample_rand it relies on.
import { describe, expect, it } from 'vitest';
import { createTracesSampler, isUntracedRequest, sessionSampleRand } from '../../src/telemetry/sampler.js';

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

  it('honours a parent’s decision', () => {
    expect(sample(context({ name: 'audio_chunk_handler', parentSampled: true }))).toBe(true);
    expect(sample(context({ name: 'audio_chunk_handler', parentSampled: false }))).toBe(false);
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

describe('sessionSampleRand', () => {
  it('is fixed per session id and spread evenly over [0, 1)', () => {
    expect(sessionSampleRand('session-a')).toBe(sessionSampleRand('session-a'));
    expect(sessionSampleRand('session-a')).not.toBe(sessionSampleRand('session-b'));
    const values = Array.from({ length: 4000 }, (_, i) => sessionSampleRand(`s-${i}`));
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    const underTenth = values.filter((v) => v < 0.1).length / values.length;
    expect(underTenth).toBeGreaterThan(0.08);
    expect(underTenth).toBeLessThan(0.12);
  });
});
