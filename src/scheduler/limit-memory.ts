// Keeps what the adaptive engine limit has learnt about its provider (the level where it pushed back, the limit, the
// no-load latency) in Redis, so a fresh, restarted or new process starts where the others are instead of at the
// initial window, and shares the provider's quota among the processes that use it: the quota is one, however many
// nodes and workers draw on it. Redis is a help, never a dependency: when it fails the limit runs on what it knows.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { RedisClient } from '../store/redis-connection.js';
import type { AdaptiveLimit, LearntLimit } from './concurrency-limit.js';

/**
 * How old a learnt state may be and still be started from. A provider's quota changes on a scale of hours (a plan, a
 * tier); a crash-restart or a rolling deploy takes seconds to minutes. A stale-high estimate costs one round of 429s
 * (what the initial window risks anyway), a stale-low one a slow climb; ten minutes covers a deploy and stays well
 * within how long a quota holds. The Redis key expires after as long without a write.
 */
export const LEARNT_FRESH_MS = 10 * 60_000;
/** Every process publishes its limit and use this often. */
const HEARTBEAT_MS = 2000;
/** A process not heard from for three heartbeats no longer takes a share of the quota. */
const LIVE_HEARTBEATS = 3;
/** Start-up waits at most this long for the learnt state; Redis answers in a millisecond when it is there at all. */
const START_READ_TIMEOUT_MS = 500;
/** A stored value longer than this is not ours: skipped unread, and deleted. */
const MAX_RECORD_CHARS = 1024;
/** Two fields per process and the quota's two: a hash with more is not ours (and reading it every heartbeat would cost). */
const MAX_FIELDS = 4096;
/** The most we believe of anything stored: far above any limit (ENGINE_CONCURRENCY allows 4096). */
const MAX_LEVEL = 100_000;

// KEYS: the provider's hash. ARGV: field ('' = read only), JSON value, fresh ms, most fields, longest value. Each
// field's Redis time goes in "t|<field>" (Redis's clock, so the nodes' clocks need not agree); fields older than
// fresh, with no time, a time that is not a number or lies in the future, or a value too long to be ours, are deleted;
// a hash with more fields than any deployment writes is not ours either, and starts afresh. Returns {now, HGETALL}.
const SYNC = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('HLEN', KEYS[1]) > tonumber(ARGV[4]) then redis.call('DEL', KEYS[1]) end
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], 't|' .. ARGV[1], now)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
local fields = redis.call('HGETALL', KEYS[1])
local times = {}
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 't|' then times[string.sub(fields[i], 3)] = tonumber(fields[i + 1]) or false end
end
for i = 1, #fields, 2 do
  local name = fields[i]
  if string.sub(name, 1, 2) == 't|' then
    local at = tonumber(fields[i + 1])
    if not at or at < now - tonumber(ARGV[3]) or at > now + 60000 then redis.call('HDEL', KEYS[1], name, string.sub(name, 3)) end
  elseif not times[name] or string.len(fields[i + 1]) > tonumber(ARGV[5]) then
    redis.call('HDEL', KEYS[1], name, 't|' .. name)
  end
end
return {now, redis.call('HGETALL', KEYS[1])}`;

interface SyncCommand {
  engineLimitSync(key: string, field: string, value: string, freshMs: number, maxFields: number, maxValueChars: number): Promise<[number, string[]]>;
}

const level = z.number().finite().min(1).max(MAX_LEVEL);
/** What each process publishes: its limit, the most it had in flight lately, and what it learnt. */
const processRecord = z.object({
  limit: level,
  inUse: z.number().finite().min(0).max(MAX_LEVEL),
  pushedBackAt: level.optional(),
  baselineMs: z.number().finite().positive().max(600_000).optional(),
  closed: z.literal(true).optional(),
});
/** The provider's quota as last seen by any process: the requests in flight, all processes together, when it pushed back. */
const quotaRecord = z.object({ level });
type ProcessRecord = z.infer<typeof processRecord>;

const QUOTA_FIELD = 'quota';
const processField = (id: string) => `p:${id}`;

/** The Redis key of one provider's learnt state: its base URL and a digest of its key (never the key itself). */
export function providerKey(keyPrefix: string, provider: { baseUrl: string; apiKey: string }): string {
  // Credentials or a query in the URL stay out of the key (a URL that does not parse is kept as a digest).
  const url = URL.canParse(provider.baseUrl) ? new URL(provider.baseUrl) : undefined;
  const where = url ? `${url.host}${url.pathname.replace(/\/+$/, '')}` : createHash('sha256').update(provider.baseUrl).digest('hex').slice(0, 16);
  const keyDigest = createHash('sha256').update(provider.apiKey).digest('hex').slice(0, 16);
  // One hash tag for every provider: a single-key script, so any slot will do; the tag keeps the store's convention.
  return `${keyPrefix}{engine-limit}:${where}:${keyDigest}`;
}

/** What the stored state says, as read at `now` (Redis time). */
interface Shared {
  now: number;
  self: ProcessRecord | undefined;
  /** Other processes heard from lately (liveMs) and not closed. */
  peers: ProcessRecord[];
  /** Every process record within the freshness bound, this one's included. */
  all: ProcessRecord[];
  quota: { level: number; at: number } | undefined;
}

export interface LimitMemoryOptions {
  redis: RedisClient;
  /** providerKey(...) */
  key: string;
  /** This process, stable across its restarts where possible (host, port, worker): a restart finds its own record. */
  processId: string;
  logger?: Logger;
  /** How often this process publishes (tests: 0 = no timer, they call sync()). */
  heartbeatMs?: number;
  /** A process not heard from for this long takes no share of the quota (default three heartbeats). */
  liveMs?: number;
  freshMs?: number;
}

export interface LimitMemory {
  /** Where a new limit starts, from what is stored; undefined when nothing fresh is known (the initial window). */
  readonly start: LearntLimit | undefined;
  /** Publishes `limit`'s state every heartbeat and hands it its share when another process learns the quota. */
  attach(limit: AdaptiveLimit): void;
  /** One heartbeat now (the timer calls it). Never rejects. */
  sync(): Promise<void>;
  /** Stops the heartbeat and marks this process closed, so its share goes to the others at once. */
  close(): Promise<void>;
}

/** What a process may have in flight from now on: the most it had lately, but no more than its limit now. */
const inUseNow = (record: ProcessRecord) => Math.min(record.inUse, record.limit);

/** This process's share of a quota `quota` that `peers` also use: what they leave, and at least an equal part. */
export function shareOf(quota: number, peers: readonly ProcessRecord[]): number {
  const used = peers.reduce((sum, peer) => sum + inUseNow(peer), 0);
  return Math.max(Math.ceil(quota / (peers.length + 1)), Math.floor(quota - used));
}

/** Where a new limit starts, from the stored state. */
export function startFrom(shared: Shared): LearntLimit | undefined {
  const baselines = shared.all.flatMap((record) => (record.baselineMs === undefined ? [] : [record.baselineMs]));
  const baseline = baselines.length > 0 ? { baselineMs: Math.min(...baselines) } : {};
  if (shared.quota) {
    const share = shareOf(shared.quota.level, shared.peers);
    // A restarted process resumes its own limit, within its share; a new one starts at its share.
    return { limit: Math.min(shared.self?.limit ?? share, share), pushedBackAt: share, ...baseline };
  }
  if (shared.self) return { limit: shared.self.limit, ...(shared.self.pushedBackAt ? { pushedBackAt: shared.self.pushedBackAt } : {}), ...baseline };
  // The provider never pushed back: start in slow start at the highest limit a process reached.
  if (shared.all.length > 0) return { limit: Math.max(...shared.all.map((record) => record.limit)), ...baseline };
  return undefined;
}

export async function openLimitMemory(options: LimitMemoryOptions): Promise<LimitMemory> {
  const { redis, key, processId, logger, heartbeatMs = HEARTBEAT_MS, freshMs = LEARNT_FRESH_MS } = options;
  const liveMs = options.liveMs ?? LIVE_HEARTBEATS * (heartbeatMs || HEARTBEAT_MS);
  redis.defineCommand('engineLimitSync', { numberOfKeys: 1, lua: SYNC });
  const command = redis as unknown as SyncCommand;
  const self = processField(processId);

  let failing = false;
  const failed = (error: unknown) => {
    if (failing) return;
    failing = true;
    logger?.warn({ err: error }, 'engine limit: Redis did not answer; the limit goes on from what this process knows, and shares it again once Redis answers');
  };
  const succeeded = () => {
    if (!failing) return;
    failing = false;
    logger?.info('engine limit: Redis answers again; the limit is shared again');
  };

  const read = async (field = '', value = ''): Promise<Shared> => {
    const [now, flat] = await command.engineLimitSync(key, field, value, freshMs, MAX_FIELDS, MAX_RECORD_CHARS);
    return parse(Number(now), flat, { self, freshMs, liveMs });
  };

  let found: Shared | undefined;
  try {
    found = await withTimeout(read(), START_READ_TIMEOUT_MS);
  } catch (error) {
    failed(error);
  }

  let limit: AdaptiveLimit | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let pushBacksShared = 0;
  /** The quota and the number of peers this process last took its share of. */
  let appliedQuotaAt = found?.quota?.at;
  let appliedPeers = found?.peers.length ?? 0;

  const heartbeat = async (): Promise<void> => {
    if (!limit) return;
    try {
      // The others' latest records first: a push-back here is measured against what they have in flight now.
      let shared = await read();
      const learnt = limit.learnt();
      if (learnt.pushBacks > pushBacksShared && learnt.pushedBackAt !== undefined) {
        // Pushed back here: the provider's quota is this process's level plus what the others had in flight.
        const others = shared.peers.reduce((sum, peer) => sum + inUseNow(peer), 0);
        shared = await read(QUOTA_FIELD, JSON.stringify({ level: learnt.pushedBackAt + others }));
        pushBacksShared = learnt.pushBacks;
      }
      // A process came or went: this process's share changed. A push-back seen elsewhere only ever lowers it: the
      // others' use is a heartbeat old, and a share raised on it would send this process into the same 429s.
      const { quota, peers } = shared;
      if (quota && peers.length !== appliedPeers) limit.shareQuota(shareOf(quota.level, peers));
      else if (quota && quota.at !== appliedQuotaAt) limit.shareQuota(Math.min(shareOf(quota.level, peers), limit.ceiling));
      appliedQuotaAt = quota?.at;
      appliedPeers = peers.length;
      await read(self, JSON.stringify(recordOf(limit, limit.takeUsage())));
      succeeded();
    } catch (error) {
      failed(error);
    }
  };

  const sync = (): Promise<void> => {
    // One at a time: a slow Redis must not pile heartbeats up.
    running ??= heartbeat().finally(() => (running = undefined));
    return running;
  };

  const start = found && startFrom(found);
  if (start) logger?.info({ limit: start.limit, pushed_back_at: start.pushedBackAt, peers: found?.peers.length }, 'engine limit: starting from what Redis remembers of the provider');
  return {
    start,
    attach(attached) {
      limit = attached;
      pushBacksShared = attached.learnt().pushBacks;
      if (heartbeatMs > 0) {
        timer = setInterval(() => void sync(), heartbeatMs);
        timer.unref();
      }
    },
    sync,
    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
      if (!limit) return;
      await withTimeout(read(self, JSON.stringify({ ...recordOf(limit, 0), closed: true })), START_READ_TIMEOUT_MS).catch(() => {});
    },
  };
}

/** What this process publishes: its limit, what it learnt, and `inUse`, the most it had in flight lately. */
function recordOf(limit: AdaptiveLimit, inUse: number): ProcessRecord {
  const learnt = limit.learnt();
  return {
    limit: learnt.limit,
    inUse,
    ...(learnt.pushedBackAt === undefined ? {} : { pushedBackAt: learnt.pushedBackAt }),
    ...(learnt.baselineMs === undefined ? {} : { baselineMs: learnt.baselineMs }),
  };
}

/** The stored fields, each checked: anything malformed, oversized or of the wrong type is ignored. */
function parse(now: number, flat: unknown, { self, freshMs, liveMs }: { self: string; freshMs: number; liveMs: number }): Shared {
  const values = new Map<string, string>();
  if (Array.isArray(flat)) {
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const [name, value] = [flat[i], flat[i + 1]];
      if (typeof name === 'string' && typeof value === 'string' && value.length <= MAX_RECORD_CHARS) values.set(name, value);
    }
  }
  const ageOf = (field: string): number | undefined => {
    const at = Number(values.get(`t|${field}`));
    // Written by Redis's own clock: a time ahead of it is not ours.
    return Number.isFinite(at) && at <= now && now - at <= freshMs ? now - at : undefined;
  };
  const shared: Shared = { now, self: undefined, peers: [], all: [], quota: undefined };
  for (const [name, value] of values) {
    const age = ageOf(name);
    if (age === undefined) continue;
    if (name === QUOTA_FIELD) {
      const quota = quotaRecord.safeParse(parseJson(value));
      if (quota.success) shared.quota = { level: quota.data.level, at: now - age };
    } else if (name.startsWith('p:')) {
      const record = processRecord.safeParse(parseJson(value));
      if (!record.success) continue;
      shared.all.push(record.data);
      if (name === self) shared.self = record.data;
      else if (age <= liveMs && !record.data.closed) shared.peers.push(record.data);
    }
  }
  return shared;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
