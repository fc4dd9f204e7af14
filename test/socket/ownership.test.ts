// Sessions belong to whoever opened them: another connection's chunks, end_session and resume attempts get
// UNKNOWN_SESSION (worded like a session that does not exist) and touch nothing; results go to the owner only; the
// resume_token moves a session to a new connection; the store holds only the token's hash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import type { BufferStore } from '../../src/store/buffer-store.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { connect, createStore, STORE_KINDS, startServer, until, type TestClient, type TestServer } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { sendChunks } from '../support/pipeline.js';

/** The real store, counting the appends that reach it. */
function countingStore(store: BufferStore): BufferStore & { appends: string[] } {
  const appends: string[] = [];
  return Object.assign(Object.create(store) as BufferStore, {
    appends,
    append: (id: string, ...rest: [number | undefined, Buffer, number]) => {
      appends.push(id);
      return store.append(id, ...rest);
    },
  });
}

describe.each(STORE_KINDS)('session ownership (%s store)', (kind) => {
  let stub: OpenAIStub;
  let server: TestServer;
  let store: BufferStore & { appends: string[] };
  let owner: TestClient;
  let intruder: TestClient;

  beforeAll(async () => {
    stub = await startOpenAIStub({ respond: (_u, i) => ({ text: `owner text ${i}` }) });
    const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
    store = countingStore(await createStore(kind));
    server = await startServer({ store, engine, env: { SEGMENT_MAX_MS: '1000', SEGMENT_MIN_MS: '500' } });
    owner = await connect(server.url);
    intruder = await connect(server.url);
  });
  afterAll(async () => {
    owner.close();
    intruder.close();
    await server.close();
    await store.close();
    await stub.close();
  });

  it("another connection can do nothing with a session, and cannot tell it exists", async () => {
    const opened = await owner.call('start_session', {});
    expect(opened).toMatchObject({ ok: true, resumed: false, resume_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const id = opened.session_id as string;
    const audio = chunksOf(loudPcm(3000), 100);
    await sendChunks(owner, id, audio.slice(0, 10));
    const appendsBefore = store.appends.length;

    const unknownLike = async (event: 'audio_chunk' | 'end_session', payload: Record<string, unknown>) => {
      const ack = await intruder.call(event, payload);
      const nobody = await intruder.call(event, { ...payload, session_id: 'no-such-session' });
      expect(ack).toMatchObject({ ok: false, error: { code: 'UNKNOWN_SESSION', retryable: false } });
      // Same words as for an id nobody uses, apart from the id itself.
      expect(ack.error.message.replace(id, 'ID')).toBe(nobody.error.message.replace('no-such-session', 'ID'));
    };
    await unknownLike('audio_chunk', { session_id: id, seq: 10, chunk: audio[10] });
    await unknownLike('audio_chunk', { session_id: id, chunk: audio[10] });
    await unknownLike('end_session', { session_id: id });
    // Resuming without the token, or with a wrong one (a start_session naming a free id would create that session, so
    // here the answer cannot look like "no such session": it is UNKNOWN_SESSION, as for any session not yours).
    const tampered = opened.resume_token.slice(0, -1) + (opened.resume_token.endsWith('A') ? 'B' : 'A');
    for (const resume_token of [undefined, 'A'.repeat(43), tampered]) {
      const ack = await intruder.call('start_session', { session_id: id, ...(resume_token ? { resume_token } : {}) });
      expect(ack).toMatchObject({ ok: false, error: { code: 'UNKNOWN_SESSION', retryable: false } });
    }
    expect(store.appends.length).toBe(appendsBefore);

    // The owner's session goes on as if nothing happened, and only the owner hears its results.
    await sendChunks(owner, id, audio.slice(10), 10);
    const end = await owner.call('end_session', { session_id: id });
    expect(end).toMatchObject({ ok: true, session_id: id, duration_ms: 3000 });
    expect(owner.results.filter((r) => r.session_id === id).length).toBe(end.segments);
    expect(end.segments).toBeGreaterThan(0);
    expect(intruder.results).toEqual([]);
    // Even after the end: the intruder learns nothing, the owner may ask again.
    await unknownLike('end_session', { session_id: id });
    expect(await owner.call('end_session', { session_id: id })).toEqual(end);
  });

  it('the resume_token moves the session to a new connection; the old one loses it', async () => {
    const opened = await owner.call('start_session', {});
    const id = opened.session_id as string;
    const audio = chunksOf(loudPcm(3000, 16000, 5), 100);
    await sendChunks(owner, id, audio.slice(0, 15));

    const newcomer = await connect(server.url);
    try {
      const resumed = await newcomer.call('start_session', { session_id: id, resume_token: opened.resume_token });
      expect(resumed).toMatchObject({ ok: true, resumed: true, next_seq: 15 });
      // A resume hands out no new token: the first one stays the proof.
      expect(resumed.resume_token).toBeUndefined();
      const stale = await owner.call('audio_chunk', { session_id: id, seq: 15, chunk: audio[15] });
      expect(stale).toMatchObject({ ok: false, error: { code: 'UNKNOWN_SESSION' } });
      const resultsBefore = owner.results.length;
      await sendChunks(newcomer, id, audio.slice(15), 15);
      const end = await newcomer.call('end_session', { session_id: id });
      expect(end).toMatchObject({ ok: true, duration_ms: 3000 });
      await until(() => newcomer.results.some((r) => r.session_id === id && !r.replayed), 'results on the new connection');
      expect(owner.results.length).toBe(resultsBefore);
    } finally {
      newcomer.close();
    }
  });

  it('the store keeps only the hash of the resume_token', async () => {
    const opened = await owner.call('start_session', {});
    const record = await store.getSession(opened.session_id);
    expect(record?.resumeTokenHash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(record)).not.toContain(opened.resume_token);
    await owner.call('end_session', { session_id: opened.session_id });
  });
});
