// Redis Cluster under the real server: three masters (redis-server --cluster-enabled, joined by redis-cli --cluster
// create), two nodes behind HAProxy on REDIS_CLUSTER_NODES. Sessions land on every master (each session's keys in
// its own slot), and a node SIGKILLed mid-stream hands its sessions to the other with nothing lost. The keys that are
// not per-session (client-token claims, per-address connection counts, rate limits) work on the cluster too.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createAddressRateLimit } from '../../src/auth/address-rate-limit.js';
import { createRedisConnectionCounter } from '../../src/auth/redis-connection-counter.js';
import { createRedisReplayGuard } from '../../src/auth/replay-guard.js';
import { connectRedis, type RedisTopology } from '../../src/store/redis-connection.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { chunksOf } from '../support/audio.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { freePort } from '../support/redis-server.js';
import { redisCli, startRedisCluster, type RedisClusterSet } from '../support/redis-topologies.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { startHaproxy, type Backend, type LoadBalancer } from './haproxy.js';
import { jsonLines, uploadedAudioMatches } from './processes.js';
import { coverage, runResilientSession } from './resilient-session.js';
import { sessionAudio } from './spoken-audio.js';

let cluster: RedisClusterSet | undefined;
let stub: OpenAIStub | undefined;
let lb: LoadBalancer | undefined;
let nodes: (Backend & { server: SpawnedServer })[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await lb?.stop();
  await Promise.all(nodes.map((node) => node.server.stop()));
  await stub?.close();
  await cluster?.stop();
  nodes = [];
  cluster = stub = lb = undefined;
});

/** Masters holding at least one key under `prefix`. */
async function mastersWithKeys(prefix: string): Promise<number> {
  let count = 0;
  for (const master of cluster!.masters) if ((await redisCli(master.port, '--scan', '--pattern', `${prefix}*`)) !== '') count += 1;
  return count;
}

describe('Redis Cluster, three masters', () => {
  it('sessions spread over every master; a node SIGKILLed mid-stream hands its sessions to the other with nothing lost', async () => {
    cluster = await startRedisCluster();
    stub = await startOpenAIStub();
    const prefix = `rc:${randomUUID()}:`;
    const env = {
      REDIS_CLUSTER_NODES: cluster.nodeList,
      REDIS_KEY_PREFIX: prefix,
      // Both limits counted in the cluster (the connection counter's script and the rate limiter's keys).
      MAX_CONNECTIONS_PER_IP: '1000',
      HANDSHAKES_PER_MINUTE: '6000',
      TRANSCRIBER: 'openai',
      OPENAI_API_KEY: 'sk-test-redis-cluster',
      OPENAI_BASE_URL: stub.url,
      SEGMENT_MAX_MS: '1000',
      SEGMENT_MIN_MS: '500',
      VAD_SPEECH_DBFS: '-120',
    };
    const backends = [{ name: 'node1', port: await freePort(), opsPort: await freePort() }, { name: 'node2', port: await freePort(), opsPort: await freePort() }];
    nodes = await Promise.all(backends.map(async (b) => ({ ...b, server: await spawnServer({ ...env, PORT: String(b.port), OPS_PORT: String(b.opsPort) }, 30_000) })));
    lb = await startHaproxy(nodes);

    // 18 sessions: with three masters, all landing on two of them has odds 3 × (2/3)^18 ≈ 0.3 %.
    const sources = Array.from({ length: 18 }, (_, i) => sessionAudio(100 + i));
    let killed: Promise<{ active: number }> | undefined;
    const runs = await Promise.all(
      sources.map((pcm, i) =>
        runResilientSession({
          url: lb!.url,
          chunks: chunksOf(pcm, 100),
          paceMs: 40,
          timeoutMs: 50_000,
          onAck: (seq) => {
            if (i !== 0 || seq !== 30 || killed) return;
            // A crash: the node serving more sessions, so sessions certainly move.
            killed = (async () => {
              const counts = await Promise.all(nodes.map(async (node) => Number(/^\w*sessions_active (\d+)/m.exec(await (await fetch(`http://127.0.0.1:${node.opsPort}/metrics`)).text())?.[1] ?? 0)));
              const victim = counts[0]! >= counts[1]! ? 0 : 1;
              process.kill(jsonLines(nodes[victim]!.server.stdout)[0]!.pid as number, 'SIGKILL');
              return { active: counts[victim]! };
            })();
          },
        }),
      ),
    );
    expect((await killed)!.active).toBeGreaterThan(0);
    expect(await mastersWithKeys(prefix)).toBe(3);
    runs.forEach((run, i) => {
      const totalMs = sources[i]!.length / 32;
      expect(run.end).toMatchObject({ ok: true, duration_ms: Math.round(totalMs) });
      for (const open of run.opens) expect(open.nextSeq).toBeGreaterThanOrEqual(open.acknowledged);
      const { contiguous, endMs, segments } = coverage(run);
      expect(contiguous).toBe(true);
      expect(segments.length).toBe(run.end!.segments);
      expect(endMs).toBeCloseTo(totalMs, 2);
      expect(uploadedAudioMatches(stub!, segments, sources[i]!)).toBe(true);
    });
    expect(runs.some((run) => run.connections > 1)).toBe(true);
  }, 60_000);

  it('keeps the keys that are not per-session working: token claims, connection counts, rate limits, the store', async () => {
    cluster = await startRedisCluster();
    const topology: RedisTopology = { kind: 'cluster', nodes: cluster.masters.map((m) => ({ host: '127.0.0.1', port: m.port })) };
    const keyPrefix = `rc:${randomUUID()}:`;
    const guard = await createRedisReplayGuard({ topology, keyPrefix });
    const redis = await connectRedis(topology);
    const store = await createRedisStore({ topology, keyPrefix, ttlS: 60 });
    const counter = createRedisConnectionCounter({ redis, keyPrefix, maxPerAddress: 2 });
    cleanups.push(() => guard.close(), () => counter.close().then(() => redis.quit()), () => store.close());

    // Token ids hash to different slots: each claim is one key, so each wins once.
    for (const id of ['token-a', 'token-b', 'token-c']) {
      expect(await guard.claim(id, Date.now() + 60_000)).toBe(true);
      expect(await guard.claim(id, Date.now() + 60_000)).toBe(false);
    }
    const releases = [await counter.acquire('203.0.113.7'), await counter.acquire('203.0.113.7')];
    expect(releases.every((release) => release !== undefined)).toBe(true);
    expect(await counter.acquire('203.0.113.7')).toBeUndefined();
    expect(await counter.count('203.0.113.7')).toBe(2);
    const limit = createAddressRateLimit({ name: 'handshakes', setting: 'HANDSHAKES_PER_MINUTE', perMinute: 2, redis, keyPrefix });
    expect([await limit.take('198.51.100.1'), await limit.take('198.51.100.1')]).toEqual([undefined, undefined]);
    expect(await limit.take('198.51.100.1')).toBeGreaterThan(0);
    // The store's multi-key scripts and its MULTI read run in each session's slot, wherever it is.
    for (const id of ['s-1', 's-2', 's-3', 's-4', 's-5', 's-6']) {
      await store.openSession(id, { format: 'pcm_s16le', sample_rate: 16000, channels: 1 } as never);
      expect(await store.claimSession(id, 10_000)).toBe(1);
      expect(await store.append(id, 0, Buffer.alloc(320, 1), 1 << 20)).toMatchObject({ status: 'appended', nextSeq: 1 });
      expect(await store.readDecoder(id)).toMatchObject({ nextSeq: 1 });
      expect(await store.commitSegment(id, 0, 320, 'hello', 1)).toMatchObject({ status: 'committed' });
      expect(await store.endSession(id)).toMatchObject({ ended: true });
    }
    expect(await mastersWithKeys(keyPrefix)).toBe(3);
  }, 30_000);
});
