// The server's configuration, read from the environment once at start-up through the one settings table
// (settings.ts); a bad value stops start-up naming the variable. This module groups the values for the code that
// uses them and checks the rules between settings.
import os from 'node:os';
import type { DecoderSearch } from '../engines/pocketsphinx/decoder.js';
import type { RedisTopology } from '../store/redis-connection.js';
import { ENGINE_OUTAGE_POLICIES, LOG_LEVELS, parseSettings, retiredSettingsIn, SETTING_NAMES, type SettingGroup, SETTINGS } from './settings.js';

export { DEFAULT_PERF_TEST_PER_MINUTE } from './settings.js';

/**
 * The adaptive engine limit (ENGINE_CONCURRENCY empty): where it starts when nothing is known about the provider (the
 * initial window, as TCP's IW10: a 429 round against a smaller quota costs little, since the provider's Retry-After
 * is about when a slot frees, while each round trip of a slow ramp keeps a surge waiting; see concurrency-limit.ts),
 * its floor and how far it may grow.
 */
const ADAPTIVE_CONCURRENCY = { initial: 16, min: 4, max: 256 } as const;
/** A flooding connection is closed after this many transport pauses without calm in between. */
const FLOOD_MAX_PAUSES = 10;

/** Groups the server reads (Sentry's are read by telemetry/instrument.ts before anything else; scripts' by the scripts). */
const SERVER_GROUPS: readonly SettingGroup[] = ['server', 'transcription', 'buffering', 'segmentation', 'access', 'limits', 'ops', 'tuning'];
const SERVER_SETTINGS = SETTING_NAMES.filter((name) => SERVER_GROUPS.includes(SETTINGS[name].group) && !name.startsWith('SENTRY_'));

export type Transcriber = 'openai' | 'pocketsphinx';

export interface Config {
  host: string | undefined;
  /** Worker processes sharing PORT (node:cluster); 1 = this process serves alone. */
  workers: number;
  /** How long a SIGTERM drain waits for in-flight segments before disconnecting clients anyway. */
  shutdownGraceMs: number;
  /** How long a node's claim on a session lasts without renewal (Redis lease with a fencing token). */
  sessionLeaseMs: number;
  /** Whether an engine outage (no answer) takes the node out of rotation (fail) or is only reported (report). */
  engineOutageReadiness: (typeof ENGINE_OUTAGE_POLICIES)[number];
  port: number;
  opsPort: number;
  opsToken: string | undefined;
  authToken: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  redisUrl: string | undefined;
  /** Where the Redis store lives (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES); undefined = process memory. */
  redis: RedisTopology | undefined;
  /** Acknowledged means replicated: WAIT for this many replicas (0 = no WAIT), at most timeoutMs. */
  redisWait: { replicas: number; timeoutMs: number };
  redisKeyPrefix: string;
  /** What decides a cut segment holds speech (src/audio/speech-detector.ts). */
  speechDetector: 'silero' | 'energy';
  sessionTtlS: number;
  maxChunkBytes: number;
  maxBufferMs: number;
  segmentation: { maxMs: number; minMs: number; silenceMs: number; speechDbfs: number };
  /** What transcribes, and how it is driven. */
  engine: {
    transcriber: Transcriber;
    /** The default model (WHISPER_MODEL); sessions may name others among allowedModels. */
    model: string;
    /** Models start_session may name (ALLOWED_MODELS); empty = the engine's own model alone. */
    allowedModels: string[];
    /** Engine requests at once: a fixed number, or adaptive within bounds. */
    concurrency: { fixed: number | undefined; initial: number; min: number; max: number };
    maxRetries: number;
    timeoutMs: number;
    /** A second engine behind a circuit breaker on the first (ENGINE_FALLBACK); absent = none. */
    fallback?: { kind: 'pocketsphinx' } | { kind: 'openai'; baseUrl: string; apiKey: string; model: string };
    breaker: { failures: number; coolDownMs: number };
    /** The OpenAI-compatible endpoint (TRANSCRIBER=openai). */
    openai: { apiKey: string | undefined; baseUrl: string | undefined };
    pocketsphinx: {
      command: string;
      /** Long-lived pocketsphinx processes (each ~100 MB with the model loaded). */
      decoders: number;
      /** accurate: ~0.75× the decoder CPU of pocketsphinx's defaults, no word lost; fast: ~0.8× that again, a few words lost. */
      search: DecoderSearch;
    };
  };
  /** New sessions are refused with OVERLOADED when a result would take longer than this. */
  maxResultDelayMs: number;
  /** New sessions are refused with OVERLOADED while the event loop was busier than this share of the last window (1 = never). */
  maxEventLoopUtilization: number;
  /** New sessions are refused with OVERLOADED while this process serves this many (0 = no cap). */
  maxSessionsPerProcess: number;
  /** Interim results every this many ms of new speech, for sessions that ask without an interval of their own. */
  interimIntervalMs: number;
  /** NODE_ENV=production: safe defaults (same-origin only, /ops/* off without OPS_TOKEN). */
  production: boolean;
  auth: {
    /** Backends mint client tokens with one of these (several at once for rotation). */
    apiKeys: string[];
    /** HS256 secrets: the first signs client tokens, every one verifies (rotation). */
    tokenSecrets: string[];
    tokenMaxTtlS: number;
    /** Origins allowed to connect; empty = any in development, same-origin only in production. */
    allowedOrigins: string[];
    /** Read the client address from X-Forwarded-For (only behind a proxy that sets it). */
    trustProxy: boolean;
    /** 0 = no limit. Counted in Redis (every worker and node) with REDIS_URL, else per process. */
    maxConnectionsPerIp: number;
    /** NODE_ENV=production without credentials settings starts only with this (ALLOW_ANONYMOUS=true). */
    allowAnonymous: boolean;
    /** POST /v1/tokens requests per minute per client address; 0 = no limit. */
    tokenRequestsPerMinute: number;
    /** Socket.IO handshakes (connection attempts) per minute per client address; 0 = no limit. */
    handshakesPerMinute: number;
  };
  limits: {
    /** Audio accepted per wall second, as a multiple of real time; 0 = no limit. */
    audioRateLimit: number;
    /** Audio (ms) a session may send above the rate at once, e.g. a reconnect's backlog. */
    audioBurstMs: number;
    maxSessionsPerConnection: number;
    /** audio_chunk events one connection may have awaiting their ack; beyond it they are refused unread. */
    maxChunksInFlight: number;
    /** A connection that keeps sending past RATE_LIMITED is not read for at least this long (ms); 0 = never paused. */
    floodPauseMs: number;
    /** Pauses in a row after which such a connection is closed (server_notice FLOODING); 0 = never closed. Fixed at 10. */
    floodMaxPauses: number;
    /** Most audio one session may hold, in ms; 0 = no limit. */
    maxSessionMs: number;
    /** A session without a chunk for this long is ended; 0 = never. */
    sessionIdleTimeoutMs: number;
    /** Performance-test runs allowed per minute, whatever the token. */
    perfTestPerMinute: number;
  };
}

/** HS256 wants a key at least as long as its 256-bit output. */
const MIN_TOKEN_SECRET_LENGTH = 32;
/** AUTH_TOKEN and OPS_TOKEN: long enough that guessing one (at HANDSHAKES_PER_MINUTE) is hopeless. */
const MIN_SHARED_TOKEN_LENGTH = 16;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Settings in `env` that are no longer read, each with what to use instead (main.ts logs them as warnings). */
export function configWarnings(env: NodeJS.ProcessEnv = process.env): string[] {
  return retiredSettingsIn(env);
}

/** Reads settings from `env`; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cores = os.availableParallelism()): Config {
  const parsed = parseSettings(env, SERVER_SETTINGS, cores);
  if (!parsed.ok) throw new ConfigError(`Invalid configuration: ${parsed.problems.join('; ')}`);
  const e = parsed.values;
  if (e.SEGMENT_MIN_MS >= e.SEGMENT_MAX_MS) {
    throw new ConfigError(
      `Invalid configuration: SEGMENT_MIN_MS (${e.SEGMENT_MIN_MS}) must be below SEGMENT_MAX_MS (${e.SEGMENT_MAX_MS})`,
    );
  }
  if (e.MAX_BUFFER_MS < e.SEGMENT_MAX_MS) {
    throw new ConfigError(
      `Invalid configuration: MAX_BUFFER_MS (${e.MAX_BUFFER_MS}) must be at least SEGMENT_MAX_MS (${e.SEGMENT_MAX_MS})`,
    );
  }
  if (e.API_KEYS.length > 0 && e.TOKEN_SECRET.length === 0) {
    throw new ConfigError(
      'Invalid configuration: API_KEYS is set but TOKEN_SECRET is not; set TOKEN_SECRET to a random string of 32+ characters (e.g. `openssl rand -base64 48`) to sign client tokens',
    );
  }
  if (e.TOKEN_SECRET.some((secret) => secret.length < MIN_TOKEN_SECRET_LENGTH)) {
    throw new ConfigError(`Invalid configuration: TOKEN_SECRET entries must be at least ${MIN_TOKEN_SECRET_LENGTH} characters each (e.g. \`openssl rand -base64 48\`)`);
  }
  for (const [name, value] of [['AUTH_TOKEN', e.AUTH_TOKEN], ['OPS_TOKEN', e.OPS_TOKEN]] as const) {
    if (value !== undefined && value.length < MIN_SHARED_TOKEN_LENGTH) {
      throw new ConfigError(
        `Invalid configuration: ${name} must be at least ${MIN_SHARED_TOKEN_LENGTH} characters (it is ${value.length}); generate one with \`openssl rand -base64 24\``,
      );
    }
  }
  // Production must decide who may connect: credentials, or an explicit ALLOW_ANONYMOUS=true.
  // Any spelling of production is production: NODE_ENV=Production must not start an open development server.
  const production = e.NODE_ENV?.toLowerCase() === 'production';
  if (production && !e.AUTH_TOKEN && e.TOKEN_SECRET.length === 0 && e.API_KEYS.length === 0 && !e.ALLOW_ANONYMOUS) {
    throw new ConfigError(
      'Invalid configuration: NODE_ENV=production needs credentials for clients: set AUTH_TOKEN (a shared secret, e.g. `openssl rand -base64 24`), ' +
        'or TOKEN_SECRET + API_KEYS (client tokens from POST /v1/tokens); or set ALLOW_ANONYMOUS=true to let anyone who reaches PORT transcribe on this server (docs/security.md)',
    );
  }
  const transcriber: Transcriber =
    e.TRANSCRIBER === 'auto' ? (e.OPENAI_API_KEY ? 'openai' : 'pocketsphinx') : e.TRANSCRIBER;
  if (transcriber === 'openai' && !e.OPENAI_API_KEY) {
    throw new ConfigError('Invalid configuration: TRANSCRIBER=openai needs OPENAI_API_KEY (or set TRANSCRIBER=pocketsphinx)');
  }
  const redisChoices = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter((name) => e[name] !== undefined);
  if (redisChoices.length > 1) {
    throw new ConfigError(
      `Invalid configuration: ${redisChoices.join(' and ')} are both set; set only one: REDIS_URL (one Redis), REDIS_SENTINELS (a Sentinel-watched primary) or REDIS_CLUSTER_NODES (Redis Cluster)`,
    );
  }
  const redis: RedisTopology | undefined = e.REDIS_URL
    ? { kind: 'single', url: e.REDIS_URL }
    : e.REDIS_SENTINELS
      ? { kind: 'sentinel', sentinels: e.REDIS_SENTINELS, name: e.REDIS_SENTINEL_NAME, ...(e.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: e.REDIS_SENTINEL_PASSWORD } : {}) }
      : e.REDIS_CLUSTER_NODES
        ? { kind: 'cluster', nodes: e.REDIS_CLUSTER_NODES }
        : undefined;
  if (e.WORKERS > 1 && !redis) {
    throw new ConfigError(
      `Invalid configuration: WORKERS=${e.WORKERS} needs REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES): worker processes share sessions through Redis (or set WORKERS=1)`,
    );
  }
  if (e.ENGINE_FALLBACK === 'openai' && !e.ENGINE_FALLBACK_URL) {
    throw new ConfigError('Invalid configuration: ENGINE_FALLBACK=openai needs ENGINE_FALLBACK_URL (and ENGINE_FALLBACK_API_KEY)');
  }
  const fallback: Config['engine']['fallback'] =
    e.ENGINE_FALLBACK === 'pocketsphinx'
      ? { kind: 'pocketsphinx' }
      : e.ENGINE_FALLBACK === 'openai'
        ? { kind: 'openai', baseUrl: e.ENGINE_FALLBACK_URL!, apiKey: e.ENGINE_FALLBACK_API_KEY ?? '', model: e.ENGINE_FALLBACK_MODEL }
        : undefined;
  return {
    host: e.HOST,
    workers: e.WORKERS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    sessionLeaseMs: e.SESSION_LEASE_MS,
    engineOutageReadiness: e.ENGINE_OUTAGE_READINESS,
    port: e.PORT,
    opsPort: e.OPS_PORT,
    opsToken: e.OPS_TOKEN,
    authToken: e.AUTH_TOKEN,
    logLevel: e.LOG_LEVEL,
    redisUrl: e.REDIS_URL,
    redis,
    // Sentinel promotes a replica when the primary dies: only what reached one is safe to acknowledge.
    redisWait: { replicas: e.REDIS_WAIT_REPLICAS ?? (redis?.kind === 'sentinel' ? 1 : 0), timeoutMs: e.REDIS_WAIT_TIMEOUT_MS },
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    speechDetector: e.SPEECH_DETECTOR,
    sessionTtlS: e.SESSION_TTL_S,
    maxChunkBytes: e.MAX_CHUNK_BYTES,
    maxBufferMs: e.MAX_BUFFER_MS,
    segmentation: { maxMs: e.SEGMENT_MAX_MS, minMs: e.SEGMENT_MIN_MS, silenceMs: e.SILENCE_MS, speechDbfs: e.VAD_SPEECH_DBFS },
    engine: {
      transcriber,
      model: e.WHISPER_MODEL,
      allowedModels: e.ALLOWED_MODELS,
      concurrency: { fixed: e.ENGINE_CONCURRENCY || undefined, ...ADAPTIVE_CONCURRENCY },
      maxRetries: e.ENGINE_MAX_RETRIES,
      timeoutMs: e.ENGINE_TIMEOUT_MS,
      openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL },
      ...(fallback ? { fallback } : {}),
      breaker: { failures: e.ENGINE_BREAKER_FAILURES, coolDownMs: e.ENGINE_BREAKER_COOLDOWN_MS },
      pocketsphinx: {
        command: e.POCKETSPHINX_COMMAND,
        // Unset: the cores shared among the worker processes, not one full set per worker.
        decoders: env.POCKETSPHINX_DECODERS?.trim() ? e.POCKETSPHINX_DECODERS : Math.max(1, Math.floor(cores / e.WORKERS)),
        search: e.POCKETSPHINX_SEARCH,
      },
    },
    maxResultDelayMs: e.MAX_RESULT_DELAY_MS,
    maxEventLoopUtilization: e.MAX_EVENT_LOOP_UTILIZATION,
    maxSessionsPerProcess: e.MAX_SESSIONS_PER_PROCESS,
    interimIntervalMs: e.INTERIM_INTERVAL_MS,
    production,
    auth: {
      apiKeys: e.API_KEYS,
      tokenSecrets: e.TOKEN_SECRET,
      tokenMaxTtlS: e.TOKEN_MAX_TTL_S,
      allowedOrigins: e.ALLOWED_ORIGINS,
      trustProxy: e.TRUST_PROXY,
      maxConnectionsPerIp: e.MAX_CONNECTIONS_PER_IP,
      allowAnonymous: e.ALLOW_ANONYMOUS,
      tokenRequestsPerMinute: e.TOKEN_REQUESTS_PER_MINUTE,
      handshakesPerMinute: e.HANDSHAKES_PER_MINUTE,
    },
    limits: {
      audioRateLimit: e.AUDIO_RATE_LIMIT,
      audioBurstMs: e.AUDIO_BURST_MS,
      maxSessionsPerConnection: e.MAX_SESSIONS_PER_CONNECTION,
      maxChunksInFlight: e.MAX_CHUNKS_IN_FLIGHT,
      floodPauseMs: e.FLOOD_PAUSE_MS,
      floodMaxPauses: FLOOD_MAX_PAUSES,
      maxSessionMs: e.MAX_SESSION_MS,
      sessionIdleTimeoutMs: e.SESSION_IDLE_TIMEOUT_MS,
      perfTestPerMinute: e.PERF_TEST_PER_MINUTE,
    },
  };
}
