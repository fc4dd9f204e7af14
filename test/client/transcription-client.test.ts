// TranscriptionClient against real Socket.IO servers: the real app for end-to-end delivery, and a small
// protocol server whose misbehaviour (silence, refusals, out-of-order results) is chosen per test.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ClientErrorCode,
  SegmentOrder,
  TranscriptionClient,
  TranscriptionClientError,
  describeError,
  type TranscriptionClientOptions,
  type TranscriptionResult,
} from '../../src/client/index.js';
import type { TranscriptionEngine } from '../../src/engines/engine.js';
import { NAMESPACE, type ProtocolErrorBody } from '../../src/protocol/index.js';
import type { AppendOutcome, BufferStore } from '../../src/store/buffer-store.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { startServer, until, type TestServer } from '../support/harness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Fast reconnects and retries so recovery fits in a test; everything else is the client's default. */
function newClient(url: string, options: Partial<TranscriptionClientOptions> = {}): TranscriptionClient {
  const client = new TranscriptionClient({
    url,
    reconnect: { delayMs: 20, maxDelayMs: 100 },
    retry: { delayMs: 20, maxDelayMs: 100 },
    socketOptions: { transports: ['websocket'] },
    ...options,
  });
  cleanups.push(() => client.close());
  return client;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the real server ----

/** Text that names the segment's audio, so a lost or doubled byte changes the transcript. */
const byteEngine: TranscriptionEngine = {
  name: 'bytes',
  model: 'bytes',
  async transcribe({ pcm }) {
    let sum = 0;
    for (const byte of pcm) sum = (sum + byte) % 65_521;
    return { text: `${pcm.length}:${sum}` };
  },
  async check() {},
};

interface AppendRecord {
  seq: number | undefined;
  status: AppendOutcome['status'];
  chunk: Buffer;
}

/** The real memory store, with every append and its outcome recorded: what the server really buffered. */
async function recordingStore(
  onAppend?: (record: AppendRecord, log: AppendRecord[]) => void,
  onEnded?: () => void,
) {
  const inner = await createMemoryStore({ ttlS: 600 });
  const log: AppendRecord[] = [];
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'endSession' && onEnded) {
        return async (...args: Parameters<BufferStore['endSession']>) => {
          const record = await target.endSession(...args);
          onEnded();
          return record;
        };
      }
      if (property === 'append') {
        return async (...args: Parameters<BufferStore['append']>) => {
          const outcome = await target.append(...args);
          const record = { seq: args[1], status: outcome.status, chunk: Buffer.from(args[2]) };
          log.push(record);
          onAppend?.(record, log);
          return outcome;
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, log, appended: () => log.filter((r) => r.status === 'appended') };
}

const SEGMENTS_OF_ONE_SECOND = { SEGMENT_MAX_MS: '1000', SEGMENT_MIN_MS: '500' };

async function realServer(store: BufferStore, port?: number, env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startServer({ store, engine: byteEngine, env: { ...SEGMENTS_OF_ONE_SECOND, ...env }, port });
  cleanups.push(() => server.close());
  return server;
}

function expectExactlyOnceInOrder(appended: AppendRecord[], audio: Buffer, count: number): void {
  expect(appended.map((r) => r.seq)).toEqual([...Array(count).keys()]);
  expect(Buffer.concat(appended.map((r) => r.chunk)).equals(audio)).toBe(true);
}

describe('TranscriptionClient with the real server', () => {
  it('numbers chunks from 0, resolves each with its ack and ends with the whole transcript', async () => {
    const { store, appended } = await recordingStore();
    const server = await realServer(store);
    const client = newClient(server.url);
    const results: TranscriptionResult[] = [];
    const acks: number[] = [];
    client.on('result', (r) => results.push(r));
    client.on('ack', (a) => acks.push(a.seq));

    const started = await client.start({ sampleRate: 16000, language: 'en' });
    expect(started).toMatchObject({ resumed: false, next_seq: 0, sample_rate: 16000 });
    const audio = loudPcm(2500, 16000, 7);
    const chunks = chunksOf(audio, 100);
    const accepted = await Promise.all(chunks.map((chunk) => client.sendChunk(chunk)));
    expect(accepted.map((a) => a.seq)).toEqual([...Array(25).keys()]);
    expect(acks).toEqual([...Array(25).keys()]);

    const ended = await client.end();
    expect(ended.duration_ms).toBe(2500);
    expect(ended.segments).toBe(3);
    expect(results.map((r) => r.segment)).toEqual([0, 1, 2]);
    expect(ended.text).toBe(results.map((r) => r.text).join(' '));
    expectExactlyOnceInOrder(appended(), audio, 25);

    const stats = client.stats();
    expect(stats).toMatchObject({ sent: 25, acked: 25, unacked: 0, resent: 0, failed: 0, results: 3 });
    expect(stats.p50AckMs).toBeGreaterThanOrEqual(0);
    expect(stats.p95AckMs).toBeGreaterThanOrEqual(stats.p50AckMs!);
    await expect(client.sendChunk(chunks[0]!)).rejects.toMatchObject({ code: ClientErrorCode.NO_SESSION });
  });

  it('resumes after the server disconnects it mid-stream, so every seq reaches the store once, in order', async () => {
    let server: TestServer | undefined;
    let kicks = 0;
    // Disconnect right after chunks 10 and 27 are stored, before their acks leave: the client cannot know they arrived.
    const { store, appended, log } = await recordingStore((record) => {
      if (record.status === 'appended' && (record.seq === 10 || record.seq === 27)) {
        kicks += 1;
        server!.app.io.of(NAMESPACE).disconnectSockets();
      }
    });
    server = await realServer(store);
    const client = newClient(server.url);
    const results: TranscriptionResult[] = [];
    const reopened: number[] = [];
    client.on('result', (r) => results.push(r));
    client.on('session', (s) => s.reopened && reopened.push(s.next_seq));

    await client.start();
    const audio = loudPcm(4000, 16000, 3);
    const chunks = chunksOf(audio, 100);
    const sends = [];
    for (const chunk of chunks) {
      // Paced so some chunks are handed over while the client is disconnected: they must be queued, not lost.
      sends.push(client.sendChunk(chunk));
      await sleep(5);
    }
    const accepted = await Promise.all(sends);
    const ended = await client.end();

    expect(kicks).toBe(2);
    expect(reopened).toHaveLength(2);
    expect(accepted.map((a) => a.seq)).toEqual([...Array(40).keys()]);
    expectExactlyOnceInOrder(appended(), audio, 40);
    // Nothing was refused as a gap: the client resent from the server's next_seq each time.
    expect(log.filter((r) => r.status === 'gap')).toEqual([]);
    expect(ended.duration_ms).toBe(4000);
    // The server replays earlier segments to a resumed client; each must reach the listener once.
    expect(results.map((r) => r.segment)).toEqual([...Array(ended.segments).keys()]);
    expect(results.map((r) => r.text).join(' ')).toBe(ended.text);
    expect(client.stats().reconnects).toBe(2);
  });

  it('keeps chunks sent while the server restarts on the same port and resends them to the new one', async () => {
    const { store, appended } = await recordingStore();
    const first = await startServer({ store, engine: byteEngine, env: SEGMENTS_OF_ONE_SECOND });
    cleanups.push(() => first.close().catch(() => undefined));
    const port = Number(new URL(first.url).port);
    const client = newClient(first.url);
    const states: string[] = [];
    client.on('state', (s) => states.push(s));

    await client.start();
    const audio = loudPcm(3000, 16000, 11);
    const chunks = chunksOf(audio, 100);
    const sends = chunks.slice(0, 10).map((chunk) => client.sendChunk(chunk));
    await Promise.all(sends);

    await first.close();
    await until(() => client.state === 'reconnecting', 'the client to notice the restart');
    // Audio keeps coming while there is no server.
    for (const chunk of chunks.slice(10, 20)) sends.push(client.sendChunk(chunk));
    await sleep(300);
    expect(client.stats().unacked).toBe(10);

    await realServer(store, port);
    for (const chunk of chunks.slice(20)) sends.push(client.sendChunk(chunk));
    const accepted = await Promise.all(sends);
    const ended = await client.end();

    expect(accepted.map((a) => a.seq)).toEqual([...Array(30).keys()]);
    expectExactlyOnceInOrder(appended(), audio, 30);
    expect(ended.duration_ms).toBe(3000);
    expect(states).toContain('reconnecting');
    expect(states.at(-1)).toBe('connected');
  });

  it('asks end_session again when its answer is lost with the connection, and gets the same transcript', async () => {
    let server: TestServer | undefined;
    let ends = 0;
    const { store } = await recordingStore(undefined, () => {
      ends += 1;
      // The session is ended in the store; the ack of the first end_session never reaches the client.
      if (ends === 1) server!.app.io.of(NAMESPACE).disconnectSockets();
    });
    server = await realServer(store);
    const client = newClient(server.url);
    const results: TranscriptionResult[] = [];
    client.on('result', (r) => results.push(r));
    await client.start();
    const audio = loudPcm(1500, 16000, 5);
    await Promise.all(chunksOf(audio, 100).map((chunk) => client.sendChunk(chunk)));

    const ended = await client.end();
    expect(ends).toBe(1);
    expect(ended.duration_ms).toBe(1500);
    expect(ended.segments).toBe(2);
    expect(ended.text).toBe(results.map((r) => r.text).join(' '));
    expect(client.session.phase).toBe('ended');
    expect(client.stats().reconnects).toBe(1);
  });

  it('rejects start() with CONNECT_REFUSED when the token is wrong', async () => {
    const { store } = await recordingStore();
    const server = await realServer(store, undefined, { AUTH_TOKEN: 'right-token-16-chars' });
    const client = newClient(server.url, { token: 'wrong' });
    const error = await client.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TranscriptionClientError);
    expect(error).toMatchObject({ code: ClientErrorCode.CONNECT_REFUSED });
    expect((error as TranscriptionClientError).describe()).toMatch(/token/i);
    expect(client.state).toBe('disconnected');

    const allowed = newClient(server.url, { token: 'right-token-16-chars' });
    await expect(allowed.start()).resolves.toMatchObject({ next_seq: 0 });
  });
});

describe('TranscriptionClient connection', () => {
  it('gives up with DISCONNECTED when no server answers, and connects again on the next start()', async () => {
    const probe = createServer();
    const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port)));
    await new Promise((resolve) => probe.close(resolve));
    const client = newClient(`http://127.0.0.1:${port}`, { reconnect: { delayMs: 10, maxDelayMs: 20, attempts: 2 } });

    await expect(client.start()).rejects.toMatchObject({ code: ClientErrorCode.DISCONNECTED });
    expect(client.state).toBe('disconnected');

    const { store } = await recordingStore();
    await realServer(store, port);
    await expect(client.start()).resolves.toMatchObject({ next_seq: 0, resumed: false });
    expect(client.state).toBe('connected');
  });
});

// ---- a small protocol server with chosen misbehaviour ----

type ChunkDecision = 'accept' | 'ignore' | { refuse: ProtocolErrorBody };

interface ProtocolServerOptions {
  /** Called for each audio_chunk the expected seq would accept; default 'accept'. */
  decide?: (seq: number, chunk: Buffer, transmission: number) => ChunkDecision;
  onStart?: (socket: ServerSocket, payload: { session_id?: string }) => void;
}

/** Speaks /transcription like the real server (seq rules, resume by session_id) with no store or engine. */
async function protocolServer(options: ProtocolServerOptions = {}) {
  const httpServer = createServer();
  const io = new Server(httpServer);
  const state = {
    expected: 0,
    accepted: [] as { seq: number; chunk: Buffer }[],
    transmissions: new Map<number, number>(),
    starts: [] as { session_id?: string }[],
  };
  io.of(NAMESPACE).on('connection', (socket) => {
    socket.on('start_session', (payload: { session_id?: string }, ack: (r: unknown) => void) => {
      state.starts.push(payload);
      const resumed = payload.session_id === 'S1';
      ack({ ok: true, session_id: 'S1', resumed, next_seq: state.expected, sample_rate: 16000 });
      options.onStart?.(socket, payload);
    });
    socket.on('audio_chunk', (payload: { seq: number; chunk: Buffer }, ack: (r: unknown) => void) => {
      const transmission = (state.transmissions.get(payload.seq) ?? 0) + 1;
      state.transmissions.set(payload.seq, transmission);
      if (payload.seq < state.expected) return ack({ ok: true, seq: payload.seq, buffered_ms: 0, duplicate: true });
      if (payload.seq > state.expected) {
        return ack({
          ok: false,
          error: { code: 'SEQ_GAP', message: `expected ${state.expected}`, retryable: false, expected_seq: state.expected },
        });
      }
      const decision = options.decide?.(payload.seq, payload.chunk, transmission) ?? 'accept';
      if (decision === 'ignore') return;
      if (decision !== 'accept') return ack({ ok: false, error: decision.refuse });
      state.accepted.push({ seq: payload.seq, chunk: payload.chunk });
      state.expected += 1;
      ack({ ok: true, seq: payload.seq, buffered_ms: 100 * state.expected });
    });
    socket.on('end_session', (_payload: unknown, ack: (r: unknown) => void) =>
      ack({ ok: true, session_id: 'S1', text: '', segments: 0, duration_ms: 0 }),
    );
  });
  const port = await new Promise<number>((resolve) =>
    httpServer.listen(0, '127.0.0.1', () => resolve((httpServer.address() as AddressInfo).port)),
  );
  cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
  return { url: `http://127.0.0.1:${port}`, io, state };
}

/** A 100 ms chunk whose first sample carries `marker`, so the server can tell chunks apart. */
function markedChunk(marker: number): Uint8Array {
  const chunk = new Uint8Array(3200);
  chunk[0] = marker;
  return chunk;
}

function result(segment: number, sessionId = 'S1'): TranscriptionResult {
  return { session_id: sessionId, segment, text: `segment ${segment}`, is_final: true, start_ms: segment * 1000, end_ms: segment * 1000 + 1000, latency_ms: 5 };
}

describe('TranscriptionClient reliability rules', () => {
  it('delivers results in segment order, once each, and skips a gap that never fills', async () => {
    const server = await protocolServer({
      onStart(socket) {
        for (const segment of [2, 0, 0, 1, 2, 4]) socket.emit('transcription_result', result(segment));
        socket.emit('transcription_result', result(3, 'another-session'));
        setTimeout(() => socket.emit('transcription_result', result(6)), 50);
      },
    });
    const client = newClient(server.url, { segmentGapTimeoutMs: 1000 });
    const delivered: number[] = [];
    client.on('result', (r) => delivered.push(r.segment));
    // What reached the client's SegmentOrder, delivered or held.
    const pushed = vi.spyOn(SegmentOrder.prototype, 'push');
    const arrived = (segment: number) => pushed.mock.calls.some(([r]) => r.segment === segment);
    // The gap timer and the server's late send run on the test's clock; the sockets' I/O stays real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      await client.start();
      await until(() => delivered.length >= 3 && arrived(4), 'segments 0 to 2, and 4');
      vi.advanceTimersByTime(50);
      await until(() => arrived(6), 'segment 6, sent 50 ms later');
      // 3 is missing: 4 and 6 wait for it rather than being delivered early, until the gap time-out from 4's arrival;
      // then 5 is missing, and 6 waits one more time-out.
      expect(delivered).toEqual([0, 1, 2]);
      vi.advanceTimersByTime(949);
      expect(delivered).toEqual([0, 1, 2]);
      vi.advanceTimersByTime(1);
      expect(delivered).toEqual([0, 1, 2, 4]);
      vi.advanceTimersByTime(999);
      expect(delivered).toEqual([0, 1, 2, 4]);
      vi.advanceTimersByTime(1);
      expect(delivered).toEqual([0, 1, 2, 4, 6]);
    } finally {
      vi.useRealTimers();
      pushed.mockRestore();
    }
  });

  it('resends a chunk whose ack never came once the ack timeout passes', async () => {
    const server = await protocolServer({ decide: (seq, _chunk, transmission) => (seq === 2 && transmission === 1 ? 'ignore' : 'accept') });
    const client = newClient(server.url, { ackTimeoutMs: 200 });
    await client.start();
    const startedAt = performance.now();
    const acks = await Promise.all([0, 1, 2].map((i) => client.sendChunk(markedChunk(i))));
    const elapsed = performance.now() - startedAt;

    expect(acks.map((a) => a.seq)).toEqual([0, 1, 2]);
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(server.state.transmissions.get(2)).toBe(2);
    expect(server.state.accepted.map((c) => c.chunk[0])).toEqual([0, 1, 2]);
    expect(client.stats()).toMatchObject({ acked: 3, resent: 1, unacked: 0 });
  });

  it('answers a SEQ_GAP refusal by resending from expected_seq without waiting for the timeout', async () => {
    const server = await protocolServer({ decide: (seq, _chunk, transmission) => (seq === 2 && transmission === 1 ? 'ignore' : 'accept') });
    const client = newClient(server.url, { ackTimeoutMs: 10_000 });
    await client.start();
    const startedAt = performance.now();
    const acks = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => client.sendChunk(markedChunk(i))));

    expect(performance.now() - startedAt).toBeLessThan(2000);
    expect(acks.map((a) => a.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(server.state.accepted.map((c) => c.chunk[0])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(server.state.transmissions.get(2)).toBe(2);
  });

  it('fails the session with ACK_TIMEOUT after a bounded number of resends to a silent server', async () => {
    const server = await protocolServer({ decide: () => 'ignore' });
    const client = newClient(server.url, { ackTimeoutMs: 100, retry: { attempts: 2, delayMs: 10 } });
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    await client.start();

    const error = await client.sendChunk(markedChunk(0)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: ClientErrorCode.ACK_TIMEOUT, retryable: false, seq: 0 });
    expect(server.state.transmissions.get(0)).toBe(3);
    expect(errors).toEqual([ClientErrorCode.ACK_TIMEOUT]);
    // The session is over: later calls fail at once with the same reason.
    await expect(client.sendChunk(markedChunk(1))).rejects.toBe(error);
    await expect(client.end()).rejects.toBe(error);
  });

  it('retries BUFFER_FULL with backoff and rejects only the chunk refused for good, keeping seqs contiguous', async () => {
    const server = await protocolServer({
      decide(_seq, chunk, transmission) {
        if (chunk[0] === 1 && transmission <= 2) {
          return { refuse: { code: 'BUFFER_FULL', message: 'busy', retryable: true } };
        }
        if (chunk[0] === 3) return { refuse: { code: 'INVALID_AUDIO', message: 'not audio', retryable: false } };
        return 'accept';
      },
    });
    const client = newClient(server.url);
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    await client.start();
    const outcomes = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => client.sendChunk(markedChunk(i))));

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'INVALID_AUDIO', retryable: false });
    // The refused chunk left no hole: the chunk after it took its seq.
    expect((outcomes[4] as PromiseFulfilledResult<{ seq: number }>).value.seq).toBe(3);
    expect(server.state.accepted.map((c) => [c.seq, c.chunk[0]])).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 4],
    ]);
    expect(server.state.transmissions.get(1)).toBe(3);
    // The dropped chunk is reported once; no audio was lost around it.
    expect(errors).toEqual(['INVALID_AUDIO']);
    await expect(client.end()).resolves.toMatchObject({ session_id: 'S1' });
  });

  it('fails the session with BUFFER_FULL when the server stays full past the time limit', async () => {
    const server = await protocolServer({ decide: () => ({ refuse: { code: 'BUFFER_FULL', message: 'busy', retryable: true } }) });
    const client = newClient(server.url, { retry: { delayMs: 20, maxDelayMs: 50, bufferFullLimitMs: 500 } });
    await client.start();
    const startedAt = performance.now();
    const outcomes = await Promise.allSettled([client.sendChunk(markedChunk(0)), client.sendChunk(markedChunk(1))]);

    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(490);
    for (const outcome of outcomes) expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'BUFFER_FULL', retryable: false } });
    // Well past the count limit for other retryable refusals: backpressure is waited out by time, not count.
    expect(server.state.transmissions.get(0)).toBeGreaterThan(5);
    expect(server.state.accepted).toEqual([]);
  });

  it('after a reconnect, settles chunks the server already has and resends the rest from next_seq', async () => {
    let kicked = false;
    const server = await protocolServer({
      decide(seq) {
        // Store chunk 3, then drop the connection before its ack: the client learns of it only from next_seq.
        if (seq === 3 && !kicked) {
          kicked = true;
          server.state.accepted.push({ seq: 3, chunk: Buffer.alloc(0) });
          server.state.expected = 4;
          server.io.of(NAMESPACE).disconnectSockets();
          return 'ignore';
        }
        return 'accept';
      },
    });
    const client = newClient(server.url);
    await client.start();
    // Chunk 3 is the last one sent: only the resumed session's next_seq can settle it.
    const acks = await Promise.all([0, 1, 2, 3].map((i) => client.sendChunk(markedChunk(i))));
    acks.push(...(await Promise.all([4, 5, 6].map((i) => client.sendChunk(markedChunk(i))))));

    expect(acks.map((a) => a.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(acks[3]!.duplicate).toBe(true);
    expect(server.state.starts).toEqual([{}, { session_id: 'S1' }]);
    expect(server.state.accepted.map((c) => c.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(server.state.transmissions.get(3)).toBe(1);
  });

  it('rejects audio that is not whole 16-bit samples without sending it', async () => {
    const server = await protocolServer();
    const client = newClient(server.url);
    await client.start();
    await expect(client.sendChunk(new Uint8Array(3))).rejects.toMatchObject({ code: 'INVALID_AUDIO' });
    await expect(client.sendChunk(new Uint8Array(0))).rejects.toMatchObject({ code: 'INVALID_AUDIO' });
    await expect(client.sendChunk(markedChunk(9))).resolves.toMatchObject({ seq: 0 });
    expect(server.state.transmissions.size).toBe(1);
  });
});

describe('describeError', () => {
  it('puts protocol and client codes into words and keeps the server message as detail', () => {
    expect(describeError('BUFFER_FULL', 'audio_chunk: buffer full')).toMatch(/^The server is behind.*\(audio_chunk: buffer full\)$/);
    expect(describeError(ClientErrorCode.DISCONNECTED)).toMatch(/connection/i);
    expect(describeError('SOMETHING_NEW', 'a new failure')).toBe('a new failure');
  });
});
