// The limits on a real server: RATE_LIMITED before any store write (a store wrapper counts appends), audio per
// session, sessions per connection, chunks in flight per connection, and idle sessions ended.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import type { BufferStore } from '../../src/store/buffer-store.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { connect, startServer, until, type TestClient, type TestServer } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';

/** The real memory store, counting appends that reach it, optionally slowed down. */
function countingStore(delayMs = 0): BufferStore & { appends: number } {
  const store = createMemoryStore({ ttlS: 60 });
  const counted = Object.assign(Object.create(store) as BufferStore, { appends: 0 }) as BufferStore & { appends: number };
  counted.append = async (...args) => {
    counted.appends += 1;
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    return store.append(...args);
  };
  return counted;
}

let stub: OpenAIStub | undefined;
let server: TestServer | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of clients.splice(0)) c.close();
  await server?.close();
  await stub?.close();
  server = stub = undefined;
});

async function start(env: Record<string, string>, store: BufferStore) {
  stub = await startOpenAIStub({ respond: () => ({ text: 'heard' }) });
  const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
  server = await startServer({ store, engine, env });
  const client = await connect(server.url);
  clients.push(client);
  return client;
}

const send = (client: TestClient, id: string, chunk: Buffer, seq?: number) =>
  client.call('audio_chunk', { session_id: id, chunk, ...(seq === undefined ? {} : { seq }) });

describe('limits', () => {
  it('RATE_LIMITED with retry_after_ms above AUDIO_RATE_LIMIT × real time after the burst, before any store write', async () => {
    const store = countingStore();
    const client = await start({ AUDIO_RATE_LIMIT: '1', AUDIO_BURST_MS: '1000' }, store);
    const { session_id: id } = await client.call('start_session', {});
    const chunks = chunksOf(loudPcm(6000), 100);
    // The burst (1 s of audio) goes at once; then, sent as fast as acks come, the rate catches up with the sender.
    let seq = 0;
    let limited: any;
    while (seq < chunks.length) {
      const ack = await send(client, id, chunks[seq]!, seq);
      if (!ack.ok) {
        limited = ack;
        break;
      }
      seq += 1;
    }
    expect(seq).toBeGreaterThanOrEqual(10);
    expect(store.appends).toBe(seq);
    expect(limited).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED', retryable: true } });
    expect(limited.error.retry_after_ms).toBeGreaterThan(0);
    expect(limited.error.retry_after_ms).toBeLessThanOrEqual(100);
    expect(limited.error.message).toMatch(/AUDIO_RATE_LIMIT/);
    // After the wait it names, the same chunk is taken.
    await new Promise((r) => setTimeout(r, limited.error.retry_after_ms + 5));
    expect(await send(client, id, chunks[seq]!, seq)).toMatchObject({ ok: true, seq });
    const end = await client.call('end_session', { session_id: id });
    expect(end).toMatchObject({ ok: true, duration_ms: (seq + 1) * 100 });
  });

  it('a resent duplicate does not spend the rate', async () => {
    const client = await start({ AUDIO_RATE_LIMIT: '1', AUDIO_BURST_MS: '500' }, countingStore());
    const { session_id: id } = await client.call('start_session', {});
    const chunk = loudPcm(100);
    for (let seq = 0; seq < 4; seq++) expect((await send(client, id, chunk, seq)).ok).toBe(true);
    for (let i = 0; i < 10; i++) expect(await send(client, id, chunk, 0)).toMatchObject({ ok: true, duplicate: true });
    expect((await send(client, id, chunk, 4)).ok).toBe(true);
  });

  it('SESSION_TIME_LIMIT once a session holds MAX_SESSION_MS of audio; nothing beyond reaches the store; end_session still answers', async () => {
    const store = countingStore();
    const client = await start({ MAX_SESSION_MS: '500', AUDIO_RATE_LIMIT: '0' }, store);
    const { session_id: id } = await client.call('start_session', {});
    const chunk = loudPcm(100);
    for (let seq = 0; seq < 5; seq++) expect((await send(client, id, chunk, seq)).ok).toBe(true);
    const appends = store.appends;
    const over = await send(client, id, chunk, 5);
    expect(over).toMatchObject({ ok: false, error: { code: 'SESSION_TIME_LIMIT', retryable: false } });
    expect(over.error.message).toMatch(/MAX_SESSION_MS.*start a new session/);
    expect(store.appends).toBe(appends);
    expect(await client.call('end_session', { session_id: id })).toMatchObject({ ok: true, duration_ms: 500 });
  });

  it('TOO_MANY_SESSIONS beyond MAX_SESSIONS_PER_CONNECTION; ending one frees a place; other connections are not affected', async () => {
    const client = await start({ MAX_SESSIONS_PER_CONNECTION: '2' }, countingStore());
    const a = await client.call('start_session', {});
    await client.call('start_session', {});
    const third = await client.call('start_session', {});
    expect(third).toMatchObject({ ok: false, error: { code: 'TOO_MANY_SESSIONS', retryable: false } });
    expect(third.error.message).toMatch(/\(MAX_SESSIONS_PER_CONNECTION=2\); end one first/);
    // Resuming one it holds is not a new one.
    expect(await client.call('start_session', { session_id: a.session_id })).toMatchObject({ ok: true, resumed: true });
    const other = await connect(server!.url);
    clients.push(other);
    expect((await other.call('start_session', {})).ok).toBe(true);
    await client.call('end_session', { session_id: a.session_id });
    expect((await client.call('start_session', {})).ok).toBe(true);
  });

  it('chunks beyond MAX_CHUNKS_IN_FLIGHT on one connection are refused unread, and only acked audio is held', async () => {
    const store = countingStore(30);
    const client = await start({ MAX_CHUNKS_IN_FLIGHT: '4', AUDIO_RATE_LIMIT: '0' }, store);
    const { session_id: id } = await client.call('start_session', {});
    const chunk = loudPcm(100);
    const acks = await Promise.all(Array.from({ length: 20 }, () => send(client, id, chunk)));
    const ok = acks.filter((a) => a.ok);
    const refused = acks.filter((a) => !a.ok);
    expect(ok.length).toBeGreaterThanOrEqual(4);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect(r.error).toMatchObject({ code: 'RATE_LIMITED', retry_after_ms: 100, message: expect.stringMatching(/MAX_CHUNKS_IN_FLIGHT/) });
    expect(store.appends).toBe(ok.length);
    expect(await client.call('end_session', { session_id: id })).toMatchObject({ ok: true, duration_ms: ok.length * 100 });
  });

  it('a session without a chunk for SESSION_IDLE_TIMEOUT_MS is ended: its audio transcribed, its owner told, its summary kept', async () => {
    // The idle clock and its sweep are the test's (Socket.IO's own timers are setTimeouts, left real): the wall time
    // a busy machine takes between two chunks cannot count as idleness.
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const client = await start({ SESSION_IDLE_TIMEOUT_MS: '800' }, countingStore());
    const endIdle = vi.spyOn(server!.app.sessions, 'endIdle');
    const { session_id: id } = await client.call('start_session', {});
    const acks = await Promise.all(chunksOf(loudPcm(1500), 100).map((chunk, seq) => send(client, id, chunk, seq)));
    expect(acks.every((a) => a.ok)).toBe(true);
    // Not a moment before the time-out (the sweep runs every 200 ms), then at once.
    vi.advanceTimersByTime(799);
    expect(endIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(endIdle).toHaveBeenCalledWith(id, 800);
    await until(() => client.errors.some((e) => e.session_id === id), 'the idle notice', 10_000);
    const notice = client.errors.find((e) => e.session_id === id)!;
    expect(notice).toMatchObject({ code: 'SESSION_ENDED', retryable: false, message: expect.stringMatching(/SESSION_IDLE_TIMEOUT_MS/) });
    expect(client.results.filter((r) => r.session_id === id).map((r) => r.text)).toEqual(['heard']);
    expect(await send(client, id, loudPcm(100), 15)).toMatchObject({ ok: false, error: { code: 'SESSION_ENDED' } });
    expect(await client.call('end_session', { session_id: id })).toMatchObject({ ok: true, text: 'heard', duration_ms: 1500 });
  });

  it('a session that keeps streaming is not idle', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const client = await start({ SESSION_IDLE_TIMEOUT_MS: '1000' }, countingStore());
    const endIdle = vi.spyOn(server!.app.sessions, 'endIdle');
    const { session_id: id } = await client.call('start_session', {});
    // A chunk 999 ms after the last, ten times: ten times the time-out in all, never the time-out between two chunks,
    // with the sweep (every 250 ms) looking in between.
    for (let seq = 0; seq < 10; seq++) {
      expect((await send(client, id, loudPcm(100), seq)).ok).toBe(true);
      vi.advanceTimersByTime(999);
    }
    expect(endIdle).not.toHaveBeenCalled();
    expect(client.errors).toEqual([]);
    expect(await client.call('end_session', { session_id: id })).toMatchObject({ ok: true, duration_ms: 1000 });
  });
});
