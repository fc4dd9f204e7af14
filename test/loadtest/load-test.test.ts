// The load-test tool against the real server: its counts match what the server stored, its latency figures
// are the acks the clients measured (a delay injected on the server shows in them), and the command line
// gates on errors with its exit status.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { TranscriptionEngine } from '../../src/engines/engine.js';
import {
  ChunkedLoop,
  DEFAULT_RECORDING,
  formatReport,
  loadSpeechSample,
  loadTestOptions,
  nearestRank,
  parseLoadTestOptions,
  runLoadTest,
  UsageError,
  type LoadTestSummary,
  type SessionOutcome,
} from '../../src/loadtest/index.js';
import type { BufferStore } from '../../src/store/buffer-store.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { startServer, type TestServer } from '../support/harness.js';
import { startFakeServer } from '../client/fake-server.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A memory store that counts the chunks it really appended (not duplicates, gaps or refusals). */
function countingStore(): { store: BufferStore; appended: () => number } {
  const inner = createMemoryStore({ ttlS: 600 });
  let appended = 0;
  const store: BufferStore = {
    ...inner,
    async append(id, seq, chunk, max) {
      const outcome = await inner.append(id, seq, chunk, max);
      if (outcome.status === 'appended') appended += 1;
      return outcome;
    },
  };
  return { store, appended: () => appended };
}

/** An engine that answers at once with numbered text, and counts its calls. */
function countingEngine(): { engine: TranscriptionEngine; calls: () => number } {
  let calls = 0;
  return {
    engine: {
      name: 'counting',
      model: 'counting',
      async transcribe() {
        calls += 1;
        return { text: `words ${calls}` };
      },
      async check() {},
    },
    calls: () => calls,
  };
}

/**
 * Delays the audio_chunk acks of the first socket that connects by `delayMs` (a Socket.IO middleware on the
 * server), and remembers which sessions that socket carried.
 */
function slowFirstSocket(server: TestServer, delayMs: number): Set<string> {
  const slowSessions = new Set<string>();
  let chosen = false;
  server.app.io.of('/transcription').use((socket, next) => {
    if (!chosen) {
      chosen = true;
      socket.use((packet, nextPacket) => {
        const ack = packet[packet.length - 1];
        if (packet[0] === 'audio_chunk' && typeof ack === 'function') {
          slowSessions.add((packet[1] as { session_id: string }).session_id);
          packet[packet.length - 1] = (response: unknown) => setTimeout(() => ack(response), delayMs);
        }
        nextPacket();
      });
    }
    next();
  });
  return slowSessions;
}

describe('load test against the real server', () => {
  it('replays the sample as Ogg Opus (--format ogg_opus): the server stores ogg_opus sessions, at most 1/8 of PCM\'s bytes, and results come back', async () => {
    const inner = createMemoryStore({ ttlS: 600 });
    const formats: string[] = [];
    const store: BufferStore = {
      ...inner,
      async openSession(id, settings, resumeTokenHash) {
        formats.push(String((settings as { format?: string }).format));
        return inner.openSession(id, settings, resumeTokenHash);
      },
    };
    const { engine } = countingEngine();
    const server = await startServer({ store, engine });
    cleanups.push(() => server.close());

    const options = parseLoadTestOptions(['--url', server.url, '--sessions', '2', '--format', 'ogg_opus', '--quiet']);
    if (options === 'help') throw new Error('unexpected help');
    expect(options.format).toBe('ogg_opus');
    const outcomes: SessionOutcome[] = [];
    const summary = await runLoadTest(options, { onSession: (o) => outcomes.push(o) });
    const pcm = await runLoadTest(loadTestOptions({ url: server.url, sessions: 1 }));

    expect(formats.filter((f) => f === 'ogg_opus')).toHaveLength(2);
    expect(summary.audio.format).toBe('ogg_opus');
    expect(pcm.audio.format).toBe('pcm_s16le');
    expect(pcm.audio.bytesPerSecond).toBe(32000);
    expect(summary.audio.bytesPerSecond).toBeGreaterThan(0);
    expect(summary.audio.bytesPerSecond).toBeLessThanOrEqual(pcm.audio.bytesPerSecond / 8);
    expect(summary.sessions).toEqual({ planned: 2, started: 2, completed: 2, failed: 0 });
    expect(summary.errors).toEqual({ total: 0, byCode: {} });
    expect(summary.chunks.acked).toBe(summary.chunks.sent);
    // The server decoded about the sample's length (hello.wav, 3.73 s) for each session, and transcribed it.
    for (const o of outcomes) expect(o.ended!.duration_ms / 1000).toBeCloseTo(3.73, 0);
    expect(summary.results.received).toBeGreaterThanOrEqual(2);
    expect(outcomes.every((o) => o.results.length > 0)).toBe(true);
    expect(formatReport(summary)).toMatch(/ogg_opus, [\d,]+ B\/s per session/);
  }, 60_000);

  it('counts what the server stored and reports the ack latencies the clients measured', async () => {
    const { store, appended } = countingStore();
    const { engine, calls } = countingEngine();
    const server = await startServer({ store, engine });
    cleanups.push(() => server.close());
    const delayMs = 100;
    const slowSessions = slowFirstSocket(server, delayMs);

    const sample = await loadSpeechSample(DEFAULT_RECORDING);
    const sessions = 4;
    const loops = 3;
    const outcomes: SessionOutcome[] = [];
    const summary: LoadTestSummary = await runLoadTest(
      loadTestOptions({ url: server.url, sessions, stop: { kind: 'loops', loops }, pace: 'max', window: 8, chunkMs: 100 }),
      { sample, onSession: (outcome) => outcomes.push(outcome) },
    );

    const chunksPerSession = Math.ceil((loops * sample.pcm.length) / new ChunkedLoop(sample, 100).chunkBytes);
    expect(summary.sessions).toEqual({ planned: sessions, started: sessions, completed: sessions, failed: 0 });
    expect(summary.chunks.sent).toBe(sessions * chunksPerSession);
    expect(summary.chunks.acked).toBe(summary.chunks.sent);
    expect(appended()).toBe(summary.chunks.sent);
    expect(summary.chunks.failed).toBe(0);
    expect(summary.errors).toEqual({ total: 0, byCode: {} });
    expect(summary.audio.ackedSeconds).toBeCloseTo((sessions * loops * sample.pcm.length) / 2 / sample.sampleRate, 2);
    // The server's own end_session totals agree with what the tool counted.
    const serverMs = outcomes.reduce((sum, o) => sum + (o.ended?.duration_ms ?? 0), 0);
    expect(serverMs / 1000).toBeCloseTo(summary.audio.ackedSeconds, 1);

    // 11.2 s per session: one segment cut at SEGMENT_MAX_MS (8 s), the rest at end_session.
    const segments = outcomes.reduce((sum, o) => sum + (o.ended?.segments ?? 0), 0);
    expect(segments).toBe(sessions * 2);
    expect(summary.results.received).toBe(segments);
    expect(calls()).toBe(segments);
    expect(summary.resultLatencyMs.count).toBe(segments);
    expect(summary.results.untimed).toBe(0);
    // Without interims a segment's first text is its final, which comes after its last chunk and so after its first.
    expect(summary.firstTextLatencyMs.count).toBe(segments);
    expect(summary.firstTextLatencyMs.p50!).toBeGreaterThanOrEqual(summary.resultLatencyMs.p50!);
    expect(summary.firstTextLatencyMs.max!).toBeGreaterThanOrEqual(summary.resultLatencyMs.max!);

    // Every ack was measured, and the injected delay is in the figures.
    expect(summary.ackLatencyMs.count).toBe(summary.chunks.acked);
    expect(slowSessions.size).toBe(1);
    const slow = outcomes.find((o) => slowSessions.has(o.sessionId!))!;
    const fast = outcomes.filter((o) => o !== slow);
    expect(slow.stats.p50AckMs!).toBeGreaterThanOrEqual(delayMs);
    // A quarter of all acks waited ≥ delayMs, so P95, P99 and max must show it …
    expect(summary.ackLatencyMs.p95!).toBeGreaterThanOrEqual(delayMs);
    expect(summary.ackLatencyMs.p99!).toBeGreaterThanOrEqual(delayMs);
    // … while the median is one of the three undelayed sessions' acks.
    expect(summary.ackLatencyMs.p50!).toBeLessThanOrEqual(Math.max(...fast.map((o) => o.stats.maxAckMs!)) + 0.001);
    // The worst ack is the one the clients themselves recorded as worst.
    expect(summary.ackLatencyMs.max!).toBeCloseTo(Math.max(...outcomes.map((o) => o.stats.maxAckMs!)), 2);
  });

  it('exits 1 with the errors by code when the server refuses the handshake, and 0 when the run is clean', async () => {
    const { engine } = countingEngine();
    const server = await startServer({ store: 'memory', engine, env: { AUTH_TOKEN: 'bench-token-16-chars' } });
    cleanups.push(() => server.close());
    const cli = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'scripts/load-test.ts', '--url', server.url, '--json', '--quiet', ...args], {
        cwd: ROOT,
        timeout: 60_000,
      }).then(
        (done) => ({ status: 0, stdout: done.stdout }),
        (failed: { code?: number; stdout?: string; stderr?: string }) => ({ status: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr }),
      );

    const refused = await cli('--sessions', '2', '--token', 'wrong');
    expect(refused.status).toBe(1);
    const bad = JSON.parse(refused.stdout) as LoadTestSummary;
    expect(bad.errors.byCode).toEqual({ CONNECT_REFUSED: 2 });
    expect(bad.sessions).toMatchObject({ planned: 2, started: 0, failed: 2 });
    expect(bad.passed).toBe(false);

    const tolerated = await cli('--sessions', '2', '--token', 'wrong', '--max-errors', '2');
    expect(tolerated.status).toBe(0);

    const clean = await cli('--sessions', '2', '--token', 'bench-token-16-chars', '--pace', 'max', '--audio', '1');
    expect(clean.status).toBe(0);
    const good = JSON.parse(clean.stdout) as LoadTestSummary;
    expect(good.chunks).toMatchObject({ sent: 20, acked: 20, failed: 0 });
    expect(good.sessions.completed).toBe(2);
    expect(good.firstTextLatencyMs.count).toBe(good.results.received);
    expect(good.passed).toBe(true);
  });

  it('times the first text of each segment from its first chunk, interims included', async () => {
    // One session (the fake server keeps one seq count): 1 s segments of 100 ms chunks, an interim when the
    // segment's 3rd chunk arrives, the final at its 10th.
    const result = (seq: number, isFinal: boolean) => {
      const segment = Math.floor(seq / 10);
      return { session_id: 'S1', segment, text: `s${segment}`, is_final: isFinal, start_ms: segment * 1000, end_ms: (seq + 1) * 100, latency_ms: 1 };
    };
    const server = await startFakeServer({
      chunk(seq, _transmission, socket) {
        if (seq % 10 === 2) socket.emit('transcription_result', result(seq, false));
        if (seq % 10 === 9) socket.emit('transcription_result', result(seq, true));
        return 'accept';
      },
    });
    cleanups.push(() => server.close());
    const summary = await runLoadTest(
      loadTestOptions({ url: server.url, sessions: 1, stop: { kind: 'audio', ms: 2000 }, pace: 'realtime', chunkMs: 100, interim: true, interimIntervalMs: 300 }),
      { sample: await loadSpeechSample(DEFAULT_RECORDING) },
    );

    expect(server.state.starts.map((s) => s.payload)).toEqual([{ sample_rate: 16000, interim_results: true, interim_interval_ms: 300 }]);
    expect(summary.results).toMatchObject({ received: 2, interims: 2 });
    expect(summary.firstTextLatencyMs.count).toBe(2);
    // The interim answers the 3rd chunk, due 200 ms after the 1st at real-time pace (less however late the 1st left);
    // the final only the 10th, due at 900 ms.
    expect(summary.firstTextLatencyMs.p50!).toBeGreaterThanOrEqual(195 - (summary.generator.sendLagP99Ms ?? 0));
    expect(summary.firstTextLatencyMs.max!).toBeLessThan(900);
    expect(summary.settings).toMatchObject({ interim: true, interimIntervalMs: 300 });
  });
});

describe('load-test options and arithmetic', () => {
  it('reads the stop rule, pace and thresholds, and refuses contradictions', () => {
    const options = parseLoadTestOptions(['--sessions', '50', '--duration', '30', '--pace', 'max', '--max-errors', '3', '--ramp-up', '5'], {});
    expect(options).toMatchObject({ sessions: 50, stop: { kind: 'duration', ms: 30_000 }, pace: 'max', maxErrors: 3, rampUpMs: 5000 });
    expect(() => parseLoadTestOptions(['--loops', '2', '--duration', '3'], {})).toThrow(UsageError);
    expect(() => parseLoadTestOptions(['--pace', 'fast'], {})).toThrow(/realtime or max/);
    expect(() => parseLoadTestOptions(['--sessions', '0'], {})).toThrow(/--sessions/);
    expect(parseLoadTestOptions(['--interim-interval-ms', '500'], {})).toMatchObject({ interim: true, interimIntervalMs: 500 });
    expect(parseLoadTestOptions(['--interim'], {})).toMatchObject({ interim: true, interimIntervalMs: undefined });
    expect(parseLoadTestOptions([], {})).toMatchObject({ interim: false });
    expect(() => parseLoadTestOptions(['--interim-interval-ms', '0.5'], {})).toThrow(/--interim-interval-ms/);
    expect(parseLoadTestOptions([], { TRANSCRIPTION_URL: 'http://10.0.0.1:3000', AUTH_TOKEN: 't' })).toMatchObject({
      url: 'http://10.0.0.1:3000',
      token: 't',
      stop: { kind: 'loops', loops: 1 },
    });
  });

  it('takes nearest-rank percentiles and finds the chunk that completed a segment', async () => {
    expect(nearestRank([1, 2, 3, 4], 50)).toBe(2);
    expect(nearestRank([1, 2, 3, 4], 75)).toBe(3);
    expect(nearestRank([1, 2, 3, 4], 99)).toBe(4);
    expect(nearestRank([], 50)).toBeUndefined();

    const loop = new ChunkedLoop(await loadSpeechSample(DEFAULT_RECORDING), 100);
    expect(loop.chunkBytes).toBe(3200);
    expect(loop.chunkEnding(3200)).toBe(0);
    expect(loop.chunkEnding(3202)).toBe(1);
    // A segment cut at SEGMENT_MAX_MS (8 s) ends inside chunk 79's last byte.
    expect(loop.chunkEnding(loop.bytesOf(8000))).toBe(79);
    // Chunks run on past the end of the file, continuing from its start.
    const pass = loop.sample.pcm.length;
    const across = loop.chunk(Math.floor(pass / 3200))!;
    expect(across.length).toBe(3200);
    expect(Buffer.from(across.subarray(3200 - ((Math.floor(pass / 3200) + 1) * 3200 - pass)))).toEqual(
      loop.sample.pcm.subarray(0, (Math.floor(pass / 3200) + 1) * 3200 - pass),
    );
    expect(loop.chunk(2, 2 * 3200 + 100)!.length).toBe(100);
    expect(loop.chunk(3, 3 * 3200)).toBeUndefined();
  });
});
