// TranscriptionClient against a real Socket.IO server that signals: OVERLOADED / RATE_LIMITED with retry_after_ms,
// SERVER_DRAINING (refusals and server_notice), resume tokens, handshake refusal codes, fresh tokens, interim results.
import { afterEach, describe, expect, it } from 'vitest';
import { ClientErrorCode, TranscriptionClient, type TranscriptionClientOptions, type TranscriptionResult } from '../../src/client/index.js';
import type { ProtocolErrorBody, ServerNotice } from '../../src/protocol/index.js';
import { until } from '../support/harness.js';
import { chunk, startFakeServer, type FakeServerOptions } from './fake-server.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fakeServer(options: FakeServerOptions = {}) {
  const server = await startFakeServer(options);
  cleanups.push(() => server.close());
  return server;
}

/** Fast reconnects; one counted retry only, so a test fails if busy or drain answers were counted like faults. */
function newClient(url: string, options: Partial<TranscriptionClientOptions> = {}): { client: TranscriptionClient; errors: string[] } {
  const client = new TranscriptionClient({
    url,
    reconnect: { delayMs: 20, maxDelayMs: 100, attempts: 1 },
    retry: { delayMs: 20, maxDelayMs: 100, attempts: 1 },
    socketOptions: { transports: ['websocket'] },
    ...options,
  });
  cleanups.push(() => client.close());
  const errors: string[] = [];
  client.on('error', (error) => errors.push(error.code));
  return { client, errors };
}

const refusal = (code: string, retryAfterMs?: number): { refuse: ProtocolErrorBody } => ({
  refuse: { code: code as ProtocolErrorBody['code'], message: `${code} in the test`, retryable: true, ...(retryAfterMs === undefined ? {} : { retry_after_ms: retryAfterMs }) },
});

const notice = (retryAfterMs: number): ServerNotice => ({ code: 'SERVER_DRAINING', message: 'draining in the test', retry_after_ms: retryAfterMs });

function sendChunks(client: TranscriptionClient, count: number) {
  return Promise.all(Array.from({ length: count }, () => client.sendChunk(chunk())));
}

describe('busy refusals with retry_after_ms', () => {
  it('asks start_session again after each OVERLOADED delay, without counting it as a failed attempt', async () => {
    const server = await fakeServer({ start: (_payload, n) => (n <= 3 ? refusal('OVERLOADED', 150) : 'accept') });
    const { client, errors } = newClient(server.url);
    await expect(client.start()).resolves.toMatchObject({ session_id: 'S1' });

    const times = server.state.starts.map((s) => s.at);
    expect(times).toHaveLength(4);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(148);
    expect(errors).toEqual([]);
  });

  it('holds the audio on RATE_LIMITED for the delay asked and sends every chunk once, in order', async () => {
    const server = await fakeServer({ chunk: (seq, transmission) => (seq === 2 && transmission <= 3 ? refusal('RATE_LIMITED', 100) : 'accept') });
    const { client, errors } = newClient(server.url);
    await client.start();
    const startedAt = performance.now();
    const acks = await sendChunks(client, 6);

    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(295);
    expect(acks.map((a) => a.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(server.state.accepted).toEqual([0, 1, 2, 3, 4, 5]);
    expect(server.state.transmissions.get(2)).toBe(4);
    expect(errors).toEqual([]);
    expect(client.stats()).toMatchObject({ acked: 6, failed: 0 });
  });

  it('gives up with the busy code once the refusals last longer than busyLimitMs', async () => {
    const server = await fakeServer({ start: () => refusal('OVERLOADED', 50) });
    const { client } = newClient(server.url, { retry: { attempts: 1, delayMs: 20, busyLimitMs: 300 } });
    const error = await client.start().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OVERLOADED', retryable: false });
    expect((error as Error).message).toMatch(/still refused after 300 ms/i);
    expect(server.state.starts.length).toBeGreaterThan(3);
  });
});

describe('draining servers', () => {
  it('reconnects after server_notice and the server-side disconnect, and resumes with the resume token', async () => {
    let noticeAt = 0;
    const server = await fakeServer({
      resumeToken: 'T1',
      chunk(seq, transmission, socket) {
        if (seq !== 3 || transmission > 1 || noticeAt) return 'accept';
        noticeAt = performance.now();
        socket.emit('server_notice', notice(300));
        // "io server disconnect": socket.io would not reconnect by itself.
        socket.disconnect();
        return 'ignore';
      },
    });
    const { client, errors } = newClient(server.url);
    const notices: ServerNotice[] = [];
    client.on('notice', (n) => notices.push(n));
    await client.start();
    expect(client.session.resumeToken).toBe('T1');
    const acks = await sendChunks(client, 8);

    expect(acks.map((a) => a.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(server.state.accepted).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(notices).toEqual([notice(300)]);
    expect(server.state.connections).toHaveLength(2);
    expect(server.state.connections[1]!.at - noticeAt).toBeGreaterThanOrEqual(295);
    expect(server.state.starts.map((s) => s.payload)).toEqual([{}, { session_id: 'S1', resume_token: 'T1' }]);
    expect(errors).toEqual([]);
    await expect(client.end()).resolves.toMatchObject({ session_id: 'S1' });
  });

  it('waits out the notice when the transport closes too, instead of socket.io reconnecting at once', async () => {
    let noticeAt = 0;
    const server = await fakeServer({
      onStarted(socket, payload) {
        if (payload.session_id) return;
        noticeAt = performance.now();
        socket.emit('server_notice', notice(250));
        setTimeout(() => socket.conn.close(), 20);
      },
    });
    const { client, errors } = newClient(server.url);
    await client.start();
    await until(() => server.state.starts.length === 2 && client.state === 'connected', 'the resumed session');
    expect(server.state.connections[1]!.at - noticeAt).toBeGreaterThanOrEqual(245);
    await expect(sendChunks(client, 3)).resolves.toHaveLength(3);
    expect(errors).toEqual([]);
  });

  it('moves by itself when the draining server has not closed the connection by the time it named', async () => {
    let noticeAt = 0;
    const server = await fakeServer({
      onStarted(socket, payload) {
        if (payload.session_id) return;
        noticeAt = performance.now();
        socket.emit('server_notice', notice(200));
      },
    });
    const { client } = newClient(server.url);
    await client.start();
    await until(() => server.state.starts.length === 2 && client.state === 'connected', 'the client to move');
    expect(server.state.connections[1]!.at - noticeAt).toBeGreaterThanOrEqual(195);
    expect(server.state.starts[1]!.payload).toEqual({ session_id: 'S1' });
  });

  it('reconnects after the delay of a SERVER_DRAINING refusal and sends the refused chunk again there', async () => {
    const server = await fakeServer({ chunk: (seq, transmission) => (seq === 1 && transmission === 1 ? refusal('SERVER_DRAINING', 200) : 'accept') });
    const { client, errors } = newClient(server.url);
    await client.start();
    const startedAt = performance.now();
    const acks = await sendChunks(client, 4);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(195);
    expect(acks.map((a) => a.seq)).toEqual([0, 1, 2, 3]);
    expect(server.state.accepted).toEqual([0, 1, 2, 3]);
    expect(server.state.connections).toHaveLength(2);
    expect(client.stats().reconnects).toBe(1);
    expect(errors).toEqual([]);
  });
});

describe('resume tokens', () => {
  it('sends a kept session id with its resume token, and resumes without one from servers that issue none', async () => {
    const older = await fakeServer({ onStarted: (socket, payload) => payload.session_id === undefined && socket.disconnect() });
    const { client } = newClient(older.url);
    await client.start();
    await until(() => older.state.starts.length === 2, 'the resume');
    expect(client.session.resumeToken).toBeUndefined();
    expect(older.state.starts[1]!.payload).toEqual({ session_id: 'S1' });

    const server = await fakeServer({ resumeToken: 'T-new' });
    const { client: reloaded } = newClient(server.url);
    // A page that kept id and token (e.g. across a reload) resumes with both.
    await reloaded.start({ sessionId: 'S1', resumeToken: 'T-kept' });
    expect(server.state.starts[0]!.payload).toEqual({ session_id: 'S1', resume_token: 'T-kept' });
    expect(reloaded.session).toMatchObject({ id: 'S1', resumeToken: 'T-kept' });
  });
});

describe('handshake tokens and refusals', () => {
  it('names the server code of a refused handshake in CONNECT_REFUSED', async () => {
    const server = await fakeServer({
      handshake: (_socket, next) => next(Object.assign(new Error('the token has expired'), { data: { code: 'TOKEN_EXPIRED' } })),
    });
    const { client } = newClient(server.url, { token: 'old' });
    const error = await client.start().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ClientErrorCode.CONNECT_REFUSED, detail: 'TOKEN_EXPIRED', retryable: false });
    expect((error as Error).message).toMatch(/TOKEN_EXPIRED/);
    expect((error as { describe(): string }).describe()).toMatch(/expired/i);
  });

  it('asks a token function before every connection, and once more when the token expired on the way', async () => {
    const seen = new Set<string>();
    let n = 0;
    const server = await fakeServer({
      handshake(socket, next) {
        const token = String(socket.handshake.auth.token);
        if (token === 'tok-1') return next(Object.assign(new Error('expired'), { data: { code: 'TOKEN_EXPIRED' } }));
        if (seen.has(token)) return next(Object.assign(new Error('used before'), { data: { code: 'TOKEN_REPLAYED' } }));
        seen.add(token);
        next();
      },
      onStarted: (socket, payload) => payload.session_id === undefined && socket.disconnect(),
    });
    const { client, errors } = newClient(server.url, { token: async () => `tok-${++n}` });
    await client.start();
    await until(() => server.state.starts.length === 2 && client.state === 'connected', 'the resume on a fresh token');
    await expect(sendChunks(client, 2)).resolves.toHaveLength(2);
    expect(server.state.connections.map((c) => c.auth.token)).toEqual(['tok-2', 'tok-3']);
    expect(errors).toEqual([]);
  });
});

describe('interim results', () => {
  it('asks for them and emits the current segment’s interims apart from its final, dropping one that comes late', async () => {
    const result = (segment: number, isFinal: boolean, text: string): TranscriptionResult => ({
      session_id: 'S1', segment, text, is_final: isFinal, start_ms: 0, end_ms: 500, latency_ms: 1,
    });
    const server = await fakeServer({
      onStarted(socket) {
        socket.emit('transcription_result', result(0, false, 'hel'));
        socket.emit('transcription_result', result(0, false, 'hello'));
        socket.emit('transcription_result', result(0, true, 'hello there'));
        socket.emit('transcription_result', result(0, false, 'late'));
        socket.emit('transcription_result', result(1, false, 'and'));
      },
    });
    const { client } = newClient(server.url);
    const seen: string[] = [];
    client.on('interim', (r) => seen.push(`interim ${r.segment} ${r.text}`));
    client.on('result', (r) => seen.push(`final ${r.segment} ${r.text}`));
    await expect(client.start({ interimResults: true, interimIntervalMs: 500 })).resolves.toMatchObject({ interim_interval_ms: 500 });
    await until(() => seen.length === 4, 'the results');

    expect(server.state.starts[0]!.payload).toEqual({ interim_results: true, interim_interval_ms: 500 });
    expect(seen).toEqual(['interim 0 hel', 'interim 0 hello', 'final 0 hello there', 'interim 1 and']);
    expect(client.stats()).toMatchObject({ results: 1, interims: 3 });
  });
});
