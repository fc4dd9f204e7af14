// Every key the Redis store writes carries its TTL from the command that creates it: no operation leaves a key
// that never expires, whatever point the process dies at. Checked on a real redis-server twice over: by the keys'
// PTTL after each step, and by what MONITOR sees the store send (one script per write, the TTL set inside it).
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { SessionSettings } from '../../src/protocol/index.js';
import type { BufferStore } from '../../src/store/buffer-store.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createRedisStore } from '../../src/store/redis-store.js';

const settings: SessionSettings = { format: 'pcm_s16le', sample_rate: 16000, channels: 1, language: 'en' };
const TTL_S = 600;

/** Commands a client sent, as MONITOR saw them; `fromScript` for those a Lua script ran. */
interface Seen {
  command: string;
  args: string[];
  fromScript: boolean;
}

let admin: Redis;
let monitor: Redis;
const seen: Seen[] = [];

beforeAll(async () => {
  admin = new Redis(inject('redisUrl'));
  // Listeners first, then connect: ioredis counts the connection as monitoring only once MONITOR's reply has been
  // handled, so a line another client's command caused (e.g. a ready check's INFO) can arrive just before that. It
  // reports such a line as an 'error' event, which unheard would end the whole file; `admin.monitor()` gives the
  // connection back too late to listen for it.
  monitor = new Redis(inject('redisUrl'), { monitor: true, lazyConnect: true });
  monitor.on('error', () => {});
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    seen.push({ command: args[0]!.toUpperCase(), args: args.slice(1), fromScript: source === 'lua' });
  });
  const monitoring = new Promise((resolve) => monitor.once('monitoring', resolve));
  await monitor.connect();
  await monitoring;
});
afterAll(async () => {
  monitor?.disconnect();
  await admin?.quit();
});

/** MONITOR lines arrive on their own connection: a PING sent after `work` marks where its commands end. */
async function commandsOf(prefix: string, work: () => Promise<unknown>): Promise<Seen[]> {
  const marker = `marker-${randomUUID()}`;
  const from = seen.length;
  await work();
  await admin.ping(marker);
  await until(() => seen.slice(from).some((s) => s.command === 'PING' && s.args[0] === marker));
  // This store's commands only (its keys carry the prefix), not the marker or other tests'.
  return seen.slice(from).filter((s) => s.args.some((arg) => arg.startsWith(prefix)));
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(done()).toBe(true);
}

/** Every key under `prefix` with its PTTL (-1: no expiry). SCAN, so the check sees whatever the store created. */
async function ttls(prefix: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 100);
    cursor = next;
    for (const key of keys) out[key.slice(prefix.length)] = await admin.pttl(key);
  } while (cursor !== '0');
  return out;
}

function expectAllExpire(keys: Record<string, number>, count: number): void {
  expect(Object.keys(keys)).toHaveLength(count);
  for (const [key, pttl] of Object.entries(keys)) {
    expect(pttl, `${key} has no TTL`).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(TTL_S * 1000);
  }
}

describe('redis buffer store: TTLs', () => {
  let prefix: string;
  let store: BufferStore;
  beforeEach(async () => {
    prefix = `ttl-test:${randomUUID()}:`;
    store = await createRedisStore({ url: inject('redisUrl'), keyPrefix: prefix, ttlS: TTL_S });
  });
  afterEach(async () => {
    await store.close();
  });

  it('every key a session creates has a TTL after each step of its life', async () => {
    await store.openSession('s', settings, 'resume-hash');
    expectAllExpire(await ttls(prefix), 1);
    await store.append('s', 0, Buffer.from([1, 2, 3, 4]), 100);
    expectAllExpire(await ttls(prefix), 2);
    await store.commitSegment('s', 0, 2, 'hello');
    await store.claimSession('s', 5000);
    expect(Object.keys(await ttls(prefix)).sort()).toEqual(['{s}:audio', '{s}:lease', '{s}:meta', '{s}:segments']);
    expectAllExpire(await ttls(prefix), 4);
    // A segment the engine refused for good: its audio is kept aside, under a key of its own.
    await store.commitSegment('s', 2, 4, '', undefined, { code: 'ENGINE_REJECTED', reason: 'unknown model' });
    expect(Object.keys(await ttls(prefix))).toContain('{s}:kept');
    expectAllExpire(await ttls(prefix), 5);
    await store.endSession('s');
    expect(Object.keys(await ttls(prefix)).sort()).toEqual(['{s}:lease', '{s}:meta', '{s}:segments']);
    expectAllExpire(await ttls(prefix), 3);
  });

  it('a resume refreshes the TTL of every key of the session', async () => {
    await store.openSession('s', settings);
    await store.append('s', 0, Buffer.from([1, 2]), 100);
    await store.commitSegment('s', 0, 1, 'hi');
    for (const key of ['{s}:meta', '{s}:audio', '{s}:segments']) await admin.expire(`${prefix}${key}`, 5);
    const resumed = await store.openSession('s', settings);
    expect(resumed.created).toBe(false);
    const keys = await ttls(prefix);
    for (const key of ['{s}:meta', '{s}:audio', '{s}:segments']) expect(keys[key]).toBeGreaterThan(5000);
  });

  it('opening a session is one script: the key and its TTL are written by the same atomic command', async () => {
    const commands = await commandsOf(prefix, () => store.openSession('s', settings, 'resume-hash'));
    // What the store sent itself: a script call (EVALSHA, and EVAL when the script was not cached yet), nothing else.
    const sent = commands.filter((c) => !c.fromScript);
    expect(sent.length).toBeGreaterThan(0);
    for (const c of sent) expect(['EVALSHA', 'EVAL']).toContain(c.command);
    // The writes, and the EXPIRE on the key they create, ran inside it.
    const writes = commands.filter((c) => c.fromScript && ['HSETNX', 'HSET', 'EXPIRE'].includes(c.command)).map((c) => c.command);
    expect(writes).toEqual(['HSETNX', 'HSET', 'HSET', 'EXPIRE']);
  });

  it('no write outside a script creates a key: every command the store sends that names a key writes with its TTL', async () => {
    const WRITES = new Set(['SET', 'HSET', 'HSETNX', 'APPEND', 'RPUSH', 'HINCRBY', 'EXPIRE', 'DEL', 'MULTI', 'EXEC']);
    const commands = await commandsOf(prefix, async () => {
      await store.openSession('s', settings);
      await store.append('s', 0, Buffer.from([1, 2, 3, 4]), 100);
      await store.readAudio('s', 0, 4);
      await store.commitSegment('s', 0, 1, '', undefined, { code: 'ENGINE_REJECTED', reason: 'unknown model' });
      await store.commitSegment('s', 1, 2, 'hello');
      await store.claimSession('s', 5000);
      await store.renewLease('s', 1, 5000);
      await store.segmentsFrom('s', 0);
      await store.getSession('s');
      await store.endSession('s');
      await store.openSession('s', settings);
    });
    const sentWrites = commands.filter((c) => !c.fromScript && WRITES.has(c.command));
    expect(sentWrites).toEqual([]);
    // A SET inside a script always carries its expiry (EX or PX).
    for (const c of commands.filter((c) => c.fromScript && c.command === 'SET')) expect(c.args.map((a) => a.toUpperCase())).toEqual(expect.arrayContaining([expect.stringMatching(/^(EX|PX)$/)]));
  });

  it('ending a session whose keys already expired re-creates nothing (the check and the write are one script)', async () => {
    await store.openSession('s', settings);
    await store.append('s', 0, Buffer.from([1, 2]), 100);
    // The TTL ran out between the client's last chunk and its end_session.
    await admin.del(`${prefix}{s}:meta`, `${prefix}{s}:audio`);
    expect(await store.endSession('s')).toBeUndefined();
    expect(await ttls(prefix)).toEqual({});
  });
});

describe('memory buffer store: TTLs', () => {
  it('a session and its audio are gone once its TTL passes without use, and each use extends it', async () => {
    let now = 1_000_000;
    const store = createMemoryStore({ ttlS: 10, now: () => now });
    try {
      await store.openSession('s', settings);
      await store.append('s', 0, Buffer.from([1, 2]), 100);
      now += 9_000;
      expect(await store.getSession('s')).toMatchObject({ receivedBytes: 2 });
      now += 9_000;
      expect(await store.getSession('s')).toMatchObject({ receivedBytes: 2 });
      now += 10_000;
      expect(await store.getSession('s')).toBeUndefined();
      expect(await store.readAudio('s', 0, 2)).toEqual(Buffer.alloc(0));
    } finally {
      await store.close();
    }
  });
});
