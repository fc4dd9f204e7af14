// Three real nodes behind the shipped HAProxy config, one real Redis and a local OpenAI stub that sees every
// segment: spoken sessions (test/fixtures) stream through the load balancer while one node is SIGKILLed, and while
// every node is restarted in turn with SIGTERM. Every session completes with no gap and every accepted byte
// transcribed; the rolling restart sends no segment to the engine twice.
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { chunksOf } from '../support/audio.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { freePort } from '../support/redis-server.js';
import { ROOT, spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { startHaproxy, type Backend, type LoadBalancer } from './haproxy.js';
import { jsonLines, uploadedAudioMatches } from './processes.js';
import { coverage, runResilientSession, type SessionRun } from './resilient-session.js';

const speech = decodeWavToPcm16(readFileSync(path.join(ROOT, 'test/fixtures/hello-with-pauses.wav'))).pcm;

/**
 * The spoken fixture `loops` times with ±1 LSB of seeded dither: each session's bytes are its own (so an upload
 * names the session and range it came from), and no frame is digital silence.
 */
function sessionAudio(seed: number, loops: number): Buffer {
  const pcm = Buffer.alloc(speech.length * loops);
  let state = seed >>> 0 || 1;
  for (let loop = 0; loop < loops; loop++) {
    for (let i = 0; i < speech.length; i += 2) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      const sample = speech.readInt16LE(i) + ((state >>> 30) % 3) - 1;
      pcm.writeInt16LE(Math.max(-32768, Math.min(32767, sample)), loop * speech.length + i);
    }
  }
  return pcm;
}

interface Node extends Backend {
  server: SpawnedServer | undefined;
}

let stub: OpenAIStub | undefined;
let lb: LoadBalancer | undefined;
let nodes: Node[] = [];

afterEach(async () => {
  await lb?.stop();
  await Promise.all(nodes.map((node) => node.server?.stop()));
  await stub?.close();
  lb = stub = undefined;
  nodes = [];
});

async function startCluster(count: number): Promise<{ env: Record<string, string> }> {
  stub = await startOpenAIStub();
  const env = {
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `cluster:${randomUUID()}:`,
    TRANSCRIBER: 'openai',
    OPENAI_API_KEY: 'sk-test-cluster',
    OPENAI_BASE_URL: stub.url,
    SEGMENT_MAX_MS: '1000',
    SEGMENT_MIN_MS: '500',
    // Every frame of dithered speech counts as speech: every segment reaches the engine and gets a result.
    VAD_SPEECH_DBFS: '-120',
    SHUTDOWN_GRACE_MS: '10000',
  };
  for (let i = 1; i <= count; i++) nodes.push({ name: `node${i}`, port: await freePort(), opsPort: await freePort(), server: undefined });
  await Promise.all(nodes.map(async (node) => (node.server = await startNode(node, env))));
  lb = await startHaproxy(nodes);
  return { env };
}

function startNode(node: Node, env: Record<string, string>): Promise<SpawnedServer> {
  return spawnServer({ ...env, PORT: String(node.port), OPS_PORT: String(node.opsPort) }, 60_000);
}

/** The node serving most sessions now, by its own /metrics. */
async function busiestNode(): Promise<Node & { activeSessions: number }> {
  const counted = await Promise.all(
    nodes.map(async (node) => {
      const metrics = await (await fetch(`http://127.0.0.1:${node.opsPort}/metrics`)).text();
      return { ...node, activeSessions: Number(/^\w*sessions_active (\d+)/m.exec(metrics)?.[1] ?? 0) };
    }),
  );
  return counted.reduce((busiest, node) => (node.activeSessions > busiest.activeSessions ? node : busiest));
}

function expectComplete(runs: SessionRun[], sources: Buffer[]): void {
  runs.forEach((run, i) => {
    const totalMs = sources[i]!.length / 32;
    expect(run.end).toMatchObject({ ok: true, duration_ms: Math.round(totalMs) });
    const { contiguous, endMs, segments } = coverage(run);
    // Results 0..n-1, each starting where the last ended, up to the end: every accepted byte was transcribed.
    expect(contiguous).toBe(true);
    expect(endMs).toBeCloseTo(totalMs, 2);
    // …and what the engine got for each result is exactly the session's audio for that range.
    expect(uploadedAudioMatches(stub!, segments, sources[i]!)).toBe(true);
  });
}

describe('three nodes behind HAProxy on one Redis', () => {
  it('a node SIGKILLed mid-stream: every session completes through the others with no gap', async () => {
    await startCluster(3);
    const sources = [1, 2, 3, 4, 5, 6].map((seed) => sessionAudio(seed, 1));
    let killedAt: number | undefined;
    let killing: Promise<Node & { activeSessions: number }> | undefined;
    const runs = await Promise.all(
      sources.map((pcm, i) =>
        runResilientSession({
          url: lb!.url,
          chunks: chunksOf(pcm, 100),
          paceMs: 40,
          onAck: (seq) => {
            if (i !== 0 || seq !== 30 || killedAt !== undefined) return;
            killedAt = Date.now();
            // A crash, not a shutdown: no drain, no notice. The node with most sessions, not a fixed one: on a busy
            // host the balancer may have sent every session to the other nodes while the first was still warming up.
            killing = busiestNode().then((node) => {
              process.kill(jsonLines(node.server!.stdout)[0]!.pid as number, 'SIGKILL');
              return node;
            });
          },
        }),
      ),
    );
    expect(killedAt).toBeDefined();
    expect((await killing)!.activeSessions).toBeGreaterThan(0);
    expectComplete(runs, sources);
    expect(runs.some((run) => run.connections > 1)).toBe(true);
  }, 240_000);

  it('a rolling SIGTERM restart of every node: sessions go on, nothing is lost, no segment reaches the engine twice', async () => {
    const { env } = await startCluster(3);
    const sources = [11, 12, 13, 14].map((seed) => sessionAudio(seed, 4));
    let restarting = true;
    const restarts = (async () => {
      await new Promise((r) => setTimeout(r, 2000));
      for (const node of nodes) {
        const code = await node.server!.stop();
        expect(code).toBe(0);
        expect(node.server!.stdout.some((line) => line.includes('drain: in-flight segments finished'))).toBe(true);
        node.server = await startNode(node, env);
        // Back in rotation before the next one goes: HAProxy's rise 2 at inter 1s.
        await new Promise((r) => setTimeout(r, 2500));
      }
      restarting = false;
    })();
    const runs = await Promise.all(
      sources.map((pcm) => runResilientSession({ url: lb!.url, chunks: chunksOf(pcm, 100), paceMs: 0, pace: () => (restarting ? 100 : 0), timeoutMs: 200_000 })),
    );
    await restarts;
    expectComplete(runs, sources);
    // Every session moved at least once (three restarts while it streamed), by being told to.
    expect(runs.every((run) => run.connections > 1)).toBe(true);
    expect(runs.reduce((n, run) => n + run.notices.length, 0)).toBeGreaterThan(0);
    const uploads = stub!.uploads.map((upload) => createHash('sha256').update(upload.pcm).digest('hex'));
    expect(new Set(uploads).size).toBe(uploads.length);
  }, 300_000);
});
