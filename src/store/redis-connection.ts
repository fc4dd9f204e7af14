// The one place a Redis connection is made, for the buffer store and the access parts alike (replay guard, connection
// counter, rate limits): one server (REDIS_URL), a Sentinel-watched primary (REDIS_SENTINELS) or a Redis Cluster
// (REDIS_CLUSTER_NODES). ioredis follows failovers and cluster redirections; callers see one client type.
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export interface HostPort {
  host: string;
  port: number;
}

export type RedisTopology =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string; sentinelPassword?: string }
  | { kind: 'cluster'; nodes: HostPort[] };

export type RedisClient = Redis | Cluster;

export interface RedisConnectOptions {
  /** What the connection is for, in the error message when it cannot connect. */
  purpose?: string;
  /**
   * The buffer store's behaviour: no offline queue, one retry, a command time-out, so a command fails fast (and the
   * client gets the retryable STORE_UNAVAILABLE) while the primary is away instead of piling up in memory.
   */
  failFast?: { commandTimeoutMs: number };
}

/** The setting that names the topology, for messages (never its password). */
export function settingOf(topology: RedisTopology): string {
  switch (topology.kind) {
    case 'single':
      return 'REDIS_URL';
    case 'sentinel':
      return `REDIS_SENTINELS (primary "${topology.name}")`;
    case 'cluster':
      return 'REDIS_CLUSTER_NODES';
  }
}

function commonOptions(options: RedisConnectOptions): RedisOptions {
  const failFast = options.failFast
    ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: options.failFast.commandTimeoutMs }
    : { maxRetriesPerRequest: 2 };
  return { lazyConnect: true, retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000), ...failFast };
}

/** A client for `topology`, not yet connected. */
export function createRedisClient(topology: RedisTopology, options: RedisConnectOptions = {}): RedisClient {
  const common = commonOptions(options);
  switch (topology.kind) {
    case 'single':
      return new Redis(topology.url, common);
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: topology.sentinels,
        name: topology.name,
        ...(topology.sentinelPassword ? { sentinelPassword: topology.sentinelPassword } : {}),
        // Subscribes to the sentinels' +switch-master: the old primary is dropped as soon as one is promoted,
        // not when a command to it times out.
        failoverDetector: true,
        sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 100, 1000),
      });
    case 'cluster': {
      const { lazyConnect, enableOfflineQueue, retryStrategy: _nodeRetry, ...redisOptions } = common;
      return new Cluster(topology.nodes, {
        lazyConnect,
        // Commands wait for the slot map, MOVED/ASK and a failover inside the cluster (retried by ioredis);
        // with failFast they fail once that takes longer than the command time-out.
        enableOfflineQueue: enableOfflineQueue ?? true,
        redisOptions,
        scaleReads: 'master',
        clusterRetryStrategy: (attempt: number) => Math.min(100 + attempt * 100, 2000),
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
      });
    }
  }
}

/** How long a handshake's check in Redis (token replay, per-address limits) may take before it is given up. */
export const REDIS_CHECK_TIMEOUT_MS = 2000;

/** Connects; rejects with a message naming the setting (and the purpose) when it cannot. */
export async function connectRedis(topology: RedisTopology, options: RedisConnectOptions = {}): Promise<RedisClient> {
  const redis = createRedisClient(topology, options);
  // Connection loss is reported here and to each command's caller; the commands' callers decide what it means.
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    const purpose = options.purpose ? ` for ${options.purpose}` : '';
    throw new Error(`Cannot connect to Redis at ${settingOf(topology)}${purpose}: ${(error as Error).message}`);
  }
  return redis;
}

/** The topology the configuration names, or undefined for the memory store. */
export function topologyOf(config: { redis?: RedisTopology | undefined; redisUrl?: string | undefined }): RedisTopology | undefined {
  return config.redis ?? (config.redisUrl ? { kind: 'single', url: config.redisUrl } : undefined);
}
