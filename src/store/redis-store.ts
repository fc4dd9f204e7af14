// Buffer store in Redis: session state in a hash, audio in a string, segments in a list, all under one prefix
// with a TTL; every write is one Lua script (or one command carrying its own expiry), so a key is never created
// without its TTL, even if this process dies mid-operation.
import type { Writable } from 'node:stream';
import { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors/server-errors.js';
import type { SessionSettings } from '../protocol/index.js';
import type { AppendOutcome, BufferStore, CommitOutcome, SegmentDetails, SegmentFailure, SessionRecord, StoredSegment } from './buffer-store.js';
import { createRedisClient, settingOf, type RedisClient, type RedisTopology } from './redis-connection.js';

// KEYS: meta, audio, segments, kept, decoder. ARGV: ttl, settings JSON, resume token hash ('' = none).
// Creates the session with its TTL, or refreshes the TTL of every key of an existing one (resume).
const OPEN = `
if redis.call('HSETNX', KEYS[1], 'settings', ARGV[2]) == 1 then
  redis.call('HSET', KEYS[1], 'next_seq', 0, 'received', 0, 'committed', 0, 'segments', 0, 'ended', 0)
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'resume_hash', ARGV[3]) end
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  return {1, redis.call('HGETALL', KEYS[1])}
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[1])
redis.call('EXPIRE', KEYS[5], ARGV[1])
return {0, redis.call('HGETALL', KEYS[1])}
`;

// KEYS: meta, audio, kept, decoder. Checked and written in one step: a meta key that expired meanwhile is not re-created
// without a TTL. The kept audio of failed segments and the decoder state go with the session's end.
const END = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'ended', 1)
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return redis.call('HGETALL', KEYS[1])
`;

// KEYS: meta, audio, decoder. ARGV: seq ('' = next), chunk, max buffered bytes, ttl, fence ('' = unfenced),
// decoder continuation ('' = none: pcm_s16le). A decoded append is fenced like a commit, and its continuation is
// written with the audio, so the stored decoder state always continues at next_seq.
const APPEND = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown'} end
local m = redis.call('HMGET', KEYS[1], 'ended', 'next_seq', 'received', 'committed', 'fence')
if m[1] == '1' then return {'ended'} end
if ARGV[5] ~= '' and m[5] ~= ARGV[5] then return {'fenced'} end
local nextSeq = tonumber(m[2])
local buffered = tonumber(m[3]) - tonumber(m[4])
local seq = nextSeq
if ARGV[1] ~= '' then seq = tonumber(ARGV[1]) end
if seq < nextSeq then return {'duplicate', seq, nextSeq, buffered} end
if seq > nextSeq then return {'gap', nextSeq} end
local size = string.len(ARGV[2])
if buffered + size > tonumber(ARGV[3]) then return {'full', nextSeq, buffered} end
redis.call('APPEND', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'next_seq', nextSeq + 1)
local received = redis.call('HINCRBY', KEYS[1], 'received', size)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
if ARGV[6] ~= '' then redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[4]) end
return {'appended', seq, nextSeq + 1, buffered + size, received}
`;

// KEYS: meta, audio, segments, kept, decoder. ARGV: start byte, end byte, text, ttl, fence ('' = unfenced), failure JSON ('' = none),
// details JSON ('' = none).
// A fence that is not the session's newest token writes nothing: the node that sent it lost the session.
// A failed segment takes a number like a transcribed one, and its audio moves to the kept key until the session ends.
const COMMIT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown'} end
if ARGV[5] ~= '' and redis.call('HGET', KEYS[1], 'fence') ~= ARGV[5] then return {'fenced'} end
local m = redis.call('HMGET', KEYS[1], 'committed', 'received', 'segments')
local committed = tonumber(m[1])
if committed ~= tonumber(ARGV[1]) then return {'stale', redis.call('HGETALL', KEYS[1])} end
local e = math.min(tonumber(ARGV[2]), tonumber(m[2]))
local failed = ARGV[6] ~= ''
if failed and e > committed then
  redis.call('APPEND', KEYS[4], redis.call('GETRANGE', KEYS[2], 0, e - committed - 1))
end
if e > committed then
  local rest = redis.call('GETRANGE', KEYS[2], e - committed, -1)
  redis.call('SET', KEYS[2], rest, 'EX', ARGV[4])
end
redis.call('HSET', KEYS[1], 'committed', e)
local segment = -1
if ARGV[3] ~= '' or failed then
  segment = tonumber(m[3])
  local entry = {segment = segment, text = ARGV[3], startByte = committed, endByte = e}
  if failed then
    entry.text = ''
    entry.failed = cjson.decode(ARGV[6])
  elseif ARGV[7] ~= '' then
    -- Kept as the JSON text it came as: cjson would turn an empty array into an object.
    entry.details = ARGV[7]
  end
  redis.call('RPUSH', KEYS[3], cjson.encode(entry))
  redis.call('HINCRBY', KEYS[1], 'segments', 1)
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[4], ARGV[4])
redis.call('EXPIRE', KEYS[5], ARGV[4])
return {'committed', redis.call('HGETALL', KEYS[1]), segment, e}
`;

// KEYS: meta, lease. ARGV: lease ms. The token only grows (HINCRBY), so an older owner's token never matches again.
const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local token = redis.call('HINCRBY', KEYS[1], 'fence', 1)
redis.call('SET', KEYS[2], token, 'PX', ARGV[1])
return token
`;

// KEYS: meta, lease. ARGV: fence, lease ms.
const RENEW = `
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
`;

interface StoreScripts {
  openSession(meta: string, audio: string, segs: string, kept: string, decoder: string, ttl: number, settings: string, resumeHash: string): Promise<[number, unknown[]]>;
  endSession(meta: string, audio: string, kept: string, decoder: string): Promise<unknown[] | null>;
  claimSession(meta: string, lease: string, leaseMs: number): Promise<number>;
  renewLease(meta: string, lease: string, fence: string, leaseMs: number): Promise<number>;
  appendChunk(meta: string, audio: string, decoder: string, seq: string, chunk: Buffer, max: number, ttl: number, fence: string, continuation: Uint8Array | string): Promise<unknown[]>;
  commitSegment(meta: string, audio: string, segs: string, kept: string, decoder: string, start: number, end: number, text: string, ttl: number, fence: string, failure: string, details: string): Promise<unknown[]>;
}
type ScriptedRedis = RedisClient & StoreScripts;

/** What the store reports about its Redis, for metrics. */
export interface RedisStoreEvents {
  /** The primary changed (Sentinel promoted a replica; a cluster's masters changed). */
  failover?(): void;
  /** A WAIT returned fewer replicas than REDIS_WAIT_REPLICAS: the turn's appends were refused. */
  waitTimeout?(): void;
}

export interface RedisStoreOptions {
  /** One Redis server (the tests' and benchmarks' form); or `topology`. */
  url?: string;
  topology?: RedisTopology;
  keyPrefix: string;
  ttlS: number;
  /** Milliseconds a command may take before it fails with STORE_UNAVAILABLE. */
  commandTimeoutMs?: number;
  /** Acknowledged means replicated: a write counts only once WAIT saw it on this many replicas (0 = no WAIT). */
  waitReplicas?: number;
  /** How long that WAIT may take before the writes are refused (retryable). */
  waitTimeoutMs?: number;
  events?: RedisStoreEvents;
}

/** A segment list entry; its details are JSON text inside it (see COMMIT), and a replay goes on without unreadable ones. */
function parseStoredSegment(item: string): StoredSegment {
  const { details, ...segment } = JSON.parse(item) as Omit<StoredSegment, 'details'> & { details?: string };
  if (details === undefined) return segment;
  try {
    return { ...segment, details: JSON.parse(details) as SegmentDetails };
  } catch {
    return segment;
  }
}

function toRecord(id: string, flat: unknown[]): SessionRecord {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[String(flat[i])] = String(flat[i + 1]);
  return {
    id,
    settings: JSON.parse(h.settings ?? '{}') as SessionSettings,
    nextSeq: Number(h.next_seq ?? 0),
    receivedBytes: Number(h.received ?? 0),
    committedBytes: Number(h.committed ?? 0),
    segments: Number(h.segments ?? 0),
    ended: h.ended === '1',
    ...(h.resume_hash ? { resumeTokenHash: h.resume_hash } : {}),
  };
}

/**
 * The end of this event-loop turn, for the writes made in it. Corks the connection's socket until then, so the appends
 * of every socket read in one poll phase leave in one write instead of one system call each (measured: BENCHMARKS.md,
 * "Redis: one write a turn"); with `wait`, ends the turn with ONE WAIT behind them on the same connection, which covers
 * every write of the turn (WAIT counts the replicas that reached this connection's last write). Resolves with the
 * replicas that confirmed (Infinity without WAIT).
 */
function turnBoundary(redis: RedisClient, wait: { replicas: number; timeoutMs: number } | undefined): () => Promise<number> {
  let turn: Promise<number> | undefined;
  return () => {
    if (turn) return turn;
    // A Cluster writes to several nodes' sockets: not corked, and its WAIT goes to every master.
    const stream = redis instanceof Redis && redis.status === 'ready' ? (redis as unknown as { stream?: Writable }).stream : undefined;
    stream?.cork();
    turn = new Promise<number>((resolve) => {
      setImmediate(() => {
        turn = undefined;
        let replicated: Promise<number> = Promise.resolve(Infinity);
        if (wait) {
          const targets = redis instanceof Cluster ? redis.nodes('master') : [redis];
          replicated = Promise.all(targets.map((node) => node.wait(wait.replicas, wait.timeoutMs))).then((counts) => Math.min(...counts));
        }
        stream?.uncork();
        resolve(replicated);
      });
    });
    return turn;
  };
}

/** Counts a changed primary: the Sentinel-chosen address on each (re)connect, a cluster's masters on each slot refresh. */
function watchFailovers(redis: RedisClient, failover: () => void): void {
  let known: string | undefined;
  const seen = (now: string | undefined) => {
    if (!now) return;
    if (known !== undefined && now !== known) failover();
    known = now;
  };
  if (redis instanceof Cluster) {
    redis.on('refresh', () => seen(redis.nodes('master').map((node) => `${node.options.host}:${node.options.port}`).sort().join(',')));
  } else {
    redis.on('ready', () => {
      const stream = (redis as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
      seen(stream?.remoteAddress ? `${stream.remoteAddress}:${stream.remotePort}` : undefined);
    });
  }
}

/** Connects to Redis; rejects with a message naming the setting (REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES) when it cannot. */
export async function createRedisStore(options: RedisStoreOptions): Promise<BufferStore> {
  const { keyPrefix, ttlS, waitReplicas = 0, waitTimeoutMs = 500 } = options;
  const topology = options.topology ?? (options.url ? { kind: 'single' as const, url: options.url } : undefined);
  if (!topology) throw new Error('createRedisStore needs a url or a topology');
  const wait = waitReplicas > 0 ? { replicas: waitReplicas, timeoutMs: waitTimeoutMs } : undefined;
  // Not enableAutoPipelining: measured, it cost more than it saved (each socket's chunk arrives in its own tick, so
  // there is rarely a second command to batch with); see BENCHMARKS.md. A WAIT blocks the connection up to its own
  // time-out, so commands get that much longer.
  const redis = createRedisClient(topology, { failFast: { commandTimeoutMs: Math.max(options.commandTimeoutMs ?? 2000, waitTimeoutMs + 1000) } }) as ScriptedRedis;
  redis.defineCommand('openSession', { numberOfKeys: 5, lua: OPEN });
  redis.defineCommand('endSession', { numberOfKeys: 4, lua: END });
  redis.defineCommand('appendChunk', { numberOfKeys: 3, lua: APPEND });
  redis.defineCommand('commitSegment', { numberOfKeys: 5, lua: COMMIT });
  redis.defineCommand('claimSession', { numberOfKeys: 2, lua: CLAIM });
  redis.defineCommand('renewLease', { numberOfKeys: 2, lua: RENEW });
  // ioredis reports connection loss through this event; commands report it to their callers.
  redis.on('error', () => {});
  if (options.events?.failover) watchFailovers(redis, options.events.failover);
  const endOfTurn = turnBoundary(redis, wait);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(`Cannot connect to Redis at ${settingOf(topology)}: ${(error as Error).message}`);
  }

  /** With WAIT on: `write`'s result once the turn's WAIT confirmed it on enough replicas; else refused, retryable. */
  async function replicated<T>(write: () => Promise<T>): Promise<T> {
    // The turn first: the socket is corked before this write goes out.
    const turn = endOfTurn();
    if (!wait) return write();
    const [result, replicas] = await Promise.all([write(), turn]);
    if (replicas < wait.replicas) {
      options.events?.waitTimeout?.();
      throw new Error(`WAIT saw ${replicas} of ${wait.replicas} replicas within ${wait.timeoutMs} ms (not acknowledged: it might not survive a failover)`);
    }
    return result;
  }

  const keys = (id: string) => {
    // The hash tag keeps one session's keys in one Redis Cluster slot, so the scripts may touch them together.
    const base = `${keyPrefix}{${id}}`;
    return { meta: `${base}:meta`, audio: `${base}:audio`, segs: `${base}:segments`, lease: `${base}:lease`, kept: `${base}:kept`, decoder: `${base}:decoder` };
  };

  async function guarded<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      // The client is told which step failed, never Redis's own words (addresses, replies): those stay in the cause,
      // for the logs and Sentry.
      throw new StoreUnavailableError(`Buffer store (Redis) failed to ${what}; it is retried shortly`, { cause: error });
    }
  }

  return {
    kind: 'redis',
    keyOf: (id) => keys(id).audio,

    openSession(id, settings, resumeTokenHash) {
      return guarded('open the session', async () => {
        const k = keys(id);
        const [created, flat] = await replicated(() => redis.openSession(k.meta, k.audio, k.segs, k.kept, k.decoder, ttlS, JSON.stringify(settings), resumeTokenHash ?? ''));
        return { record: toRecord(id, flat), created: Number(created) === 1 };
      });
    },

    getSession(id) {
      return guarded('read the session', async () => {
        const flat = flatten(await redis.hgetall(keys(id).meta));
        return flat.length ? toRecord(id, flat) : undefined;
      });
    },

    append(id, seq, chunk, maxBufferedBytes, decoder) {
      return guarded('buffer the chunk', async (): Promise<AppendOutcome> => {
        const k = keys(id);
        const fence = decoder?.fence === undefined ? '' : String(decoder.fence);
        const continuation = decoder ? Buffer.from(decoder.continuation.buffer, decoder.continuation.byteOffset, decoder.continuation.byteLength) : '';
        // A duplicate is acknowledged too: it waits for the same WAIT (this connection's later writes cover the first copy's).
        const r = await replicated(() => redis.appendChunk(k.meta, k.audio, k.decoder, seq === undefined ? '' : String(seq), chunk, maxBufferedBytes, ttlS, fence, continuation));
        const n = (i: number) => Number(r[i]);
        switch (String(r[0])) {
          case 'appended':
            return { status: 'appended', seq: n(1), nextSeq: n(2), bufferedBytes: n(3), receivedBytes: n(4) };
          case 'duplicate':
            return { status: 'duplicate', seq: n(1), nextSeq: n(2), bufferedBytes: n(3) };
          case 'gap':
            return { status: 'gap', nextSeq: n(1) };
          case 'full':
            return { status: 'full', nextSeq: n(1), bufferedBytes: n(2) };
          case 'ended':
            return { status: 'ended' };
          case 'fenced':
            return { status: 'fenced' };
          default:
            return { status: 'unknown' };
        }
      });
    },

    readDecoder(id) {
      return guarded('read the decoder state', async () => {
        const k = keys(id);
        // One MULTI: the continuation and next_seq are read at the same point of the session's history.
        const replies = await redis.multi().hget(k.meta, 'next_seq').getBuffer(k.decoder).exec();
        if (!replies) throw new Error('transaction aborted');
        const [[seqError, nextSeq], [decoderError, continuation]] = replies as [[Error | null, string | null], [Error | null, Buffer | null]];
        if (seqError || decoderError) throw seqError ?? decoderError;
        if (nextSeq === null) return undefined;
        return { nextSeq: Number(nextSeq), continuation: continuation ?? undefined };
      });
    },

    readAudio(id, from, to) {
      return guarded('read buffered audio', async () => {
        const k = keys(id);
        const committed = Number(await redis.hget(k.meta, 'committed'));
        if (to <= from) return Buffer.alloc(0);
        return redis.getrangeBuffer(k.audio, from - committed, to - committed - 1);
      });
    },

    commitSegment(id, startByte, endByte, text, fence, failure, details) {
      return guarded('commit the segment', async (): Promise<CommitOutcome> => {
        const k = keys(id);
        const failed = failure ? JSON.stringify(failure) : '';
        const kept = details ? JSON.stringify(details) : '';
        // Replicated before its result is sent: a result the client saw is never renumbered by a failover.
        const r = await replicated(() => redis.commitSegment(k.meta, k.audio, k.segs, k.kept, k.decoder, startByte, endByte, text, ttlS, fence === undefined ? '' : String(fence), failed, kept));
        const status = String(r[0]);
        if (status === 'unknown') return { status: 'unknown' };
        if (status === 'fenced') return { status: 'fenced' };
        const record = toRecord(id, r[1] as unknown[]);
        if (status === 'stale') return { status: 'stale', record };
        const number = Number(r[2]);
        const segment: StoredSegment | undefined =
          number < 0 ? undefined : { segment: number, text: failure ? '' : text, startByte, endByte: Number(r[3]), ...(failure ? { failed: failure as SegmentFailure } : details ? { details } : {}) };
        return { status: 'committed', record, segment };
      });
    },

    claimSession(id, leaseMs) {
      return guarded('claim the session', async () => {
        const k = keys(id);
        const token = Number(await redis.claimSession(k.meta, k.lease, leaseMs));
        return token < 0 ? undefined : token;
      });
    },

    renewLease(id, fence, leaseMs) {
      return guarded('renew the session lease', async () => {
        const k = keys(id);
        return (await redis.renewLease(k.meta, k.lease, String(fence), leaseMs)) === 1;
      });
    },

    segmentsFrom(id, from) {
      return guarded('read the segments', async () => {
        const items = await redis.lrange(keys(id).segs, from, -1);
        return items.map(parseStoredSegment);
      });
    },

    endSession(id) {
      return guarded('end the session', async () => {
        const k = keys(id);
        const flat = await replicated(() => redis.endSession(k.meta, k.audio, k.kept, k.decoder));
        return flat?.length ? toRecord(id, flat) : undefined;
      });
    },

    async ping() {
      await guarded('answer PING', () => redis.ping());
    },

    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

function flatten(hash: Record<string, string>): string[] {
  return Object.entries(hash).flat();
}
