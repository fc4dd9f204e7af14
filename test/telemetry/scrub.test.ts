// The scrubber on its own: what is removed from events, spans and breadcrumbs, and what is kept.
import type { Event } from '@sentry/node';
import { describe, expect, it } from 'vitest';
import { createScrubber, FILTERED, isSecretKey, looksBinary } from '../../src/telemetry/scrub.js';
import { loudPcm } from '../support/audio.js';

const scrub = createScrubber(['sk-configured-key-0001', 'ops-token-42']);

describe('scrubber', () => {
  it('drops bodies and cookies, filters Authorization-like headers and keeps the rest', () => {
    const event = scrub.event({
      request: {
        url: 'http://127.0.0.1:3001/ops/test-sentry-performance?token=abc&verbose=1',
        data: '{"auth":{"token":"t"}}',
        cookies: { session: 'x' },
        headers: { authorization: 'Bearer ops-token-42', 'x-api-key': 'k', 'user-agent': 'curl/8' },
      },
    } as Event);
    expect(event.request).toEqual({
      url: `http://127.0.0.1:3001/ops/test-sentry-performance?token=${FILTERED}&verbose=1`,
      headers: { authorization: FILTERED, 'x-api-key': FILTERED, 'user-agent': 'curl/8' },
    });
  });

  it('removes configured secrets, bearer tokens and OpenAI keys from any string', () => {
    const event = scrub.event({
      message: 'failed with sk-configured-key-0001 and sk-proj-abcdefghijkl, header Bearer eyJhbGciOi',
      extra: { note: 'ops-token-42 was used' },
    } as Event);
    expect(event.message).toBe(`failed with ${FILTERED} and ${FILTERED}, header Bearer ${FILTERED}`);
    expect(event.extra).toEqual({ note: `${FILTERED} was used` });
  });

  it('replaces audio: buffers, bytes decoded as text, and long base64 or hex', () => {
    const pcm = loudPcm(100);
    const span = scrub.span({
      data: {
        chunk: pcm,
        'db.statement': `EVALSHA abc 2 meta audio ${pcm.toString('utf8')}`,
        payload: `audio=${pcm.toString('base64')}`,
        hex: pcm.toString('hex'),
        'cache.key': 'transcription:{s1}:audio',
        'cache.item_size': 3200,
      },
      description: 'Buffer audio chunk',
    });
    expect(span.data.chunk).toBe('[binary data, 3200 bytes]');
    expect(span.data['db.statement']).toMatch(/^\[binary data, \d+ chars\]$/);
    expect(span.data.payload).toBe('audio=[Filtered encoded data]');
    expect(span.data.hex).toBe('[Filtered encoded data]');
    expect(span.data['cache.key']).toBe('transcription:{s1}:audio');
    expect(span.data['cache.item_size']).toBe(3200);
    expect(span.description).toBe('Buffer audio chunk');
  });

  it('scrubs server data in contexts and spans of every transaction, the same string each time', () => {
    const transaction = () =>
      ({
        type: 'transaction',
        contexts: { trace: { trace_id: 'ede33296b901423d8cd0e78f87a4ad86', span_id: 'a4a94b4dd9761f8c', data: { note: 'key sk-configured-key-0001' } }, session: { token: 'ops-token-42' } },
        spans: [{ start_timestamp: 1, status: 'ok', span_id: 'aca76970a50bec36', trace_id: 'sk-configured-key-0001-and-more-than-32-chars', data: { header: 'Bearer abcdef' } }],
      }) as Event;
    for (let i = 0; i < 2; i++) {
      const event = scrub.event(transaction());
      expect(event.contexts!.trace!.data).toEqual({ note: `key ${FILTERED}` });
      expect(event.contexts!.trace!.span_id).toBe('a4a94b4dd9761f8c');
      expect(event.contexts!.session).toEqual({ token: FILTERED });
      expect(event.spans![0]!.data).toEqual({ header: `Bearer ${FILTERED}` });
      // An "id" too long to be an id is scrubbed like any other string.
      expect(event.spans![0]!.trace_id).toBe(`${FILTERED}-and-more-than-32-chars`);
    }
  });

  it('scrubs streamed span attributes and breadcrumbs the same way', () => {
    const span = scrub.span({ name: 'POST /v1/audio/transcriptions', attributes: { 'http.request.header.authorization': 'Bearer sk-x', 'url.path': '/v1' } });
    expect(span.attributes).toEqual({ 'http.request.header.authorization': FILTERED, 'url.path': '/v1' });
    const crumb = scrub.breadcrumb({ category: 'http', data: { url: 'https://api.example/v1?api_key=abc', headers: { Authorization: 'x' } } });
    expect(crumb!.data).toEqual({ url: `https://api.example/v1?api_key=${FILTERED}`, headers: { Authorization: FILTERED } });
  });

  it('removes local variables from stack frames', () => {
    const event = scrub.event({
      exception: { values: [{ type: 'Error', stacktrace: { frames: [{ function: 'f', vars: { chunk: '<buffer>' } }] } }] },
    } as Event);
    expect(event.exception!.values![0]!.stacktrace!.frames![0]).toEqual({ function: 'f' });
  });
});

describe('isSecretKey', () => {
  it.each(['authorization', 'Authorization', 'x-api-key', 'apiKey', 'api_key', 'OPENAI_API_KEY', 'auth', 'handshake.auth.token', 'cookie', 'set-cookie', 'password', 'client_secret'])(
    '%s is secret',
    (key) => expect(isSecretKey(key)).toBe(true),
  );
  it.each(['cache.key', 'session.id', 'sentry-trace', 'baggage', 'engine.name', 'gen_ai.usage.input_tokens', 'author'])('%s is not', (key) =>
    expect(isSecretKey(key)).toBe(false),
  );
});

describe('looksBinary', () => {
  it('tells bytes from words in any language', () => {
    expect(looksBinary(loudPcm(20).toString('utf8'))).toBe(true);
    expect(looksBinary(loudPcm(20).toString('latin1'))).toBe(true);
    expect(looksBinary('Guten Tag, wie geht es Ihnen? Ça va très bien, merci. 你好，世界')).toBe(false);
  });
});
