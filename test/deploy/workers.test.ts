// WORKERS=2 as a real process tree (primary + two workers) on real Redis and a local OpenAI stub: sessions land on
// both workers, one worker is SIGKILLed mid-stream, the primary starts another, and every session completes with
// every accepted byte transcribed exactly as sent.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chunksOf, loudPcm } from '../support/audio.js';
import { until } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { coverage, runResilientSession } from './resilient-session.js';
import { jsonLines, uploadedAudioMatches } from './processes.js';

let stub: OpenAIStub;
let server: SpawnedServer;

beforeAll(async () => {
  stub = await startOpenAIStub();
  server = await spawnServer(
    {
      WORKERS: '2',
      REDIS_URL: inject('redisUrl'),
      REDIS_KEY_PREFIX: `workers:${randomUUID()}:`,
      TRANSCRIBER: 'openai',
      OPENAI_API_KEY: 'sk-test-workers',
      OPENAI_BASE_URL: stub.url,
      SEGMENT_MAX_MS: '1000',
      SEGMENT_MIN_MS: '500',
      LOG_LEVEL: 'debug',
    },
    60_000,
  );
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await stub?.close();
});

describe('WORKERS=2', () => {
  it('serves sessions on both workers and survives one being killed mid-stream', async () => {
    const readyWorkers = () => jsonLines(server.stdout).filter((l) => l.msg?.startsWith('worker ') && l.msg.endsWith(' ready'));
    expect(readyWorkers()).toHaveLength(2);
    const sources = [1, 2, 3, 4].map((seed) => loudPcm(3000, 16000, seed));
    let killed: number | undefined;
    const killOneWorker = () => {
      if (killed !== undefined) return;
      const pids = new Set(jsonLines(server.stdout).filter((l) => l.msg === 'client connected').map((l) => l.pid as number));
      // Both workers hold clients before one is killed.
      if (pids.size < 2) return;
      killed = [...pids][0]!;
      process.kill(killed, 'SIGKILL');
    };
    const runs = await Promise.all(
      sources.map((pcm, i) =>
        runResilientSession({ url: server.url, chunks: chunksOf(pcm, 100), paceMs: 40, onAck: (seq) => i === 0 && seq === 12 && killOneWorker() }),
      ),
    );

    expect(killed).toBeDefined();
    runs.forEach((run, i) => {
      expect(run.end).toMatchObject({ ok: true, duration_ms: 3000 });
      const { contiguous, endMs, segments } = coverage(run);
      expect(contiguous).toBe(true);
      expect(endMs).toBe(3000);
      expect(uploadedAudioMatches(stub, segments, sources[i]!)).toBe(true);
    });
    // The clients of the killed worker reconnected and resumed.
    expect(runs.some((run) => run.connections > 1)).toBe(true);
    const died = jsonLines(server.stdout).find((l) => typeof l.msg === 'string' && l.msg.includes('died'));
    expect(died).toMatchObject({ worker_pid: killed, signal: 'SIGKILL' });
    // The primary started a third worker in its place.
    await until(() => readyWorkers().length === 3, 'a replacement worker', 30_000);
    expect((await fetch(`${server.opsUrl}/readyz`)).status).toBe(200);
    // The primary's /metrics sums the workers alive now: the replacement and the survivor, whose chunks count.
    const metrics = await (await fetch(`${server.opsUrl}/metrics`)).text();
    const chunks = Number(/^transcription_chunks_total (\d+)/m.exec(metrics)?.[1]);
    expect(chunks).toBeGreaterThan(0);
  }, 180_000);

  it('SIGTERM to the primary drains every worker and exits 0', async () => {
    const code = await server.stop();
    expect(code).toBe(0);
    const lines = jsonLines(server.stdout);
    const drained = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('drain:'));
    const stopped = lines.filter((l) => typeof l.msg === 'string' && / stopped$/.test(l.msg));
    // The two workers alive at the time (one of them the replacement), each drained and stopped.
    expect(drained).toHaveLength(2);
    expect(stopped).toHaveLength(2);
    expect(lines.some((l) => l.worker === 'primary' && l.msg?.startsWith('stopped:'))).toBe(true);
  }, 90_000);
});
