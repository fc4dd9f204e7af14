// One node serves a session at a time: two servers on one Redis, the session resumed on the second while the first
// is transcribing. The first's late commit is refused by the fencing token, its queued segments are dropped (never
// sent to the engine), and the transcript holds only the second node's work, with no gap.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { connect, startServer, until, type TestClient, type TestServer } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { sendChunks } from '../support/pipeline.js';
import { uploadsOfRange } from './processes.js';

let stub: OpenAIStub | undefined;
const servers: TestServer[] = [];
const clients: TestClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) {
    await server.close();
    await server.store.close();
  }
  await stub?.close();
  stub = undefined;
});

async function node(prefix: string): Promise<TestServer> {
  const store = await createRedisStore({ url: inject('redisUrl'), keyPrefix: prefix, ttlS: 600 });
  const engine = createOpenAIEngine({ apiKey: 'sk-test-lease', baseUrl: stub!.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
  const server = await startServer({ store, engine, env: { SEGMENT_MAX_MS: '1000', SEGMENT_MIN_MS: '500', SESSION_LEASE_MS: '5000' } });
  servers.push(server);
  return server;
}

describe('session lease with a fencing token', () => {
  it('a resume on another node takes the session over: the old node stops at once and its late commit is refused', async () => {
    // The first upload (node A's first segment) is slow, so the takeover lands while it is in flight.
    stub = await startOpenAIStub({ respond: (_upload, index) => ({ delayMs: index === 0 ? 1500 : 0 }) });
    const prefix = `lease:${randomUUID()}:`;
    const [a, b] = [await node(prefix), await node(prefix)];
    const pcm = loudPcm(3000, 16000, 7);
    const chunks = chunksOf(pcm, 100);

    const onA = await connect(a.url);
    clients.push(onA);
    const opened = await onA.call('start_session', { sample_rate: 16000 });
    const id = opened.session_id as string;
    // 2.2 s on A: segment [0, 1 s) goes to the engine, [1 s, 2 s) waits behind it.
    await sendChunks(onA, id, chunks.slice(0, 22));
    await until(() => stub!.uploads.length === 1, 'node A uploading its first segment');

    const onB = await connect(b.url);
    clients.push(onB);
    const resumed = await onB.call('start_session', { session_id: id, resume_token: opened.resume_token, sample_rate: 16000 });
    expect(resumed).toMatchObject({ ok: true, resumed: true, next_seq: 22 });
    await sendChunks(onB, id, chunks.slice(22), 22);
    const end = await onB.call('end_session', { session_id: id });
    expect(end).toMatchObject({ ok: true, duration_ms: 3000 });

    // A's answer came back after the takeover: refused, so it is in no result and A dropped the session.
    await until(() => a.app.registry.find(id) === undefined, 'node A letting go of the session');
    expect(end.text).not.toContain('segment 0');
    expect(onA.results).toHaveLength(0);
    // A never sent its queued segment; B sent each range once (the in-flight one twice in all: A's and B's).
    expect(uploadsOfRange(stub, pcm, 0, 1000)).toBe(2);
    expect(uploadsOfRange(stub, pcm, 1000, 2000)).toBe(1);
    expect(uploadsOfRange(stub, pcm, 2000, 3000)).toBe(1);
    // The transcript is B's, numbered from 0 with no gap.
    const segments = onB.results.filter((r) => r.is_final).map((r) => [r.segment, r.start_ms, r.end_ms]);
    expect(segments).toEqual([
      [0, 0, 1000],
      [1, 1000, 2000],
      [2, 2000, 3000],
    ]);
  }, 60_000);
});
