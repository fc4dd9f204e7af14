// Server settings read from the environment once, at start-up; a bad value stops start-up naming the variable.
// Long because it is the one list of every setting (mirrored by .env.example), not because it does much.
import os from 'node:os';
import { z } from 'zod';
import { DEFAULT_SPEECH_DBFS } from '../audio/vad.js';
import { DECODER_SEARCH, DEFAULT_DECODER_SEARCH, type DecoderSearch } from '../engines/pocketsphinx/decoder.js';

const TRANSCRIBERS = ['auto', 'openai', 'pocketsphinx'] as const;
/** The ops performance test spends a real engine call: this many runs a minute unless PERF_TEST_PER_MINUTE says otherwise. */
export const DEFAULT_PERF_TEST_PER_MINUTE = 3;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const ENGINE_OUTAGE_POLICIES = ['report', 'fail'] as const;
/** pocketsphinx search settings: the decoder's own names, so a setting added there is accepted here. */
const POCKETSPHINX_SEARCHES = Object.keys(DECODER_SEARCH) as [DecoderSearch, ...DecoderSearch[]];

/** A variable parsed by `parse` (undefined = invalid, explained by `expected`), or `def` when unset or empty. */
function setting<T>(def: T, parse: (raw: string) => T | undefined, expected: string) {
  return z
    .string()
    .trim()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw === '') return def;
      const value = parse(raw);
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: `must be ${expected}, got "${raw}"` });
        return z.NEVER;
      }
      return value;
    });
}

function wholeNumber(def: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  const parse = (raw: string) => {
    const value = Number(raw);
    return Number.isInteger(value) && value >= min && value <= max ? value : undefined;
  };
  return setting(def, parse, `a whole number from ${min} to ${max}`);
}

function share(def: number) {
  const parse = (raw: string) => {
    const value = Number(raw);
    return Number.isFinite(value) && value > 0 && value <= 1 ? value : undefined;
  };
  return setting(def, parse, 'a share above 0 and at most 1 (1 = never)');
}

function decibels(def: number) {
  const parse = (raw: string) => {
    const value = Number(raw);
    return Number.isFinite(value) && value <= 0 && value >= -120 ? value : undefined;
  };
  return setting(def, parse, 'a level in dBFS from -120 to 0');
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, def: T[number]) {
  const parse = (raw: string) => ((values as readonly string[]).includes(raw) ? (raw as T[number]) : undefined);
  return setting<T[number]>(def, parse, `one of ${values.join(', ')}`);
}

/** WORKERS: a count, or "auto" for one per core (`cores` is os.availableParallelism()). */
function workerCount(cores: number) {
  const parse = (raw: string) => {
    if (raw === 'auto') return cores;
    const value = Number(raw);
    return Number.isInteger(value) && value >= 1 && value <= 256 ? value : undefined;
  };
  return setting(1, parse, 'a whole number from 1 to 256, or auto (one per core)');
}

/** A comma-separated list; empty entries dropped. */
const textList = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(',').map((item) => item.trim()).filter((item) => item !== ''));

function flag(def: boolean) {
  const parse = (raw: string) => (['true', '1', 'yes'].includes(raw) ? true : ['false', '0', 'no'].includes(raw) ? false : undefined);
  return setting(def, parse, 'true or false');
}

const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined));

const envSchema = (cores: number) => z.object({
  HOST: optionalText,
  WORKERS: workerCount(cores),
  SHUTDOWN_GRACE_MS: wholeNumber(25000, 0, 600000),
  SESSION_LEASE_MS: wholeNumber(10000, 1000, 600000),
  ENGINE_OUTAGE_READINESS: oneOf(ENGINE_OUTAGE_POLICIES, 'report'),
  PORT: wholeNumber(3000, 0, 65535),
  OPS_PORT: wholeNumber(3001, 0, 65535),
  OPS_TOKEN: optionalText,
  AUTH_TOKEN: optionalText,
  LOG_LEVEL: oneOf(LOG_LEVELS, 'info'),
  REDIS_URL: optionalText,
  REDIS_KEY_PREFIX: z.string().optional().transform((v) => v || 'transcription:'),
  SESSION_TTL_S: wholeNumber(3600, 1),
  MAX_CHUNK_BYTES: wholeNumber(64000, 2, 16 * 1024 * 1024),
  MAX_BUFFER_MS: wholeNumber(120000, 1000),
  SEGMENT_MAX_MS: wholeNumber(8000, 500),
  SEGMENT_MIN_MS: wholeNumber(1000, 0),
  SILENCE_MS: wholeNumber(600, 20),
  VAD_SPEECH_DBFS: decibels(DEFAULT_SPEECH_DBFS),
  TRANSCRIBER: oneOf(TRANSCRIBERS, 'auto'),
  /** A hard cap on engine requests at once; unset = adaptive between the floor and ENGINE_MAX_CONCURRENCY. */
  ENGINE_CONCURRENCY: wholeNumber(0, 0, 4096),
  /** The old name of ENGINE_CONCURRENCY, still read. */
  TRANSCRIBE_CONCURRENCY: wholeNumber(0, 0, 4096),
  ENGINE_MIN_CONCURRENCY: wholeNumber(4, 1, 4096),
  ENGINE_MAX_CONCURRENCY: wholeNumber(256, 1, 4096),
  MAX_RESULT_DELAY_MS: wholeNumber(10000, 100),
  MAX_EVENT_LOOP_UTILIZATION: share(0.9),
  MAX_SESSIONS_PER_PROCESS: wholeNumber(0, 0),
  INTERIM_INTERVAL_MS: wholeNumber(1500, 250, 60000),
  OPENAI_API_KEY: optionalText,
  OPENAI_BASE_URL: optionalText,
  WHISPER_MODEL: z.string().optional().transform((v) => v || 'whisper-1'),
  /** Models a session may ask for; empty = the engine's own model alone (WHISPER_MODEL, or pocketsphinx's). */
  ALLOWED_MODELS: textList,
  ENGINE_MAX_RETRIES: wholeNumber(3, 0, 10),
  ENGINE_TIMEOUT_MS: wholeNumber(60000, 100),
  POCKETSPHINX_COMMAND: z.string().optional().transform((v) => v || 'pocketsphinx_batch'),
  POCKETSPHINX_DECODERS: wholeNumber(cores, 1, 256),
  POCKETSPHINX_SEARCH: oneOf(POCKETSPHINX_SEARCHES, DEFAULT_DECODER_SEARCH),
  // Access: who may connect, and how much each may do (docs/security.md).
  NODE_ENV: optionalText,
  API_KEYS: textList,
  TOKEN_SECRET: textList,
  TOKEN_MAX_TTL_S: wholeNumber(600, 1, 86_400),
  ALLOWED_ORIGINS: textList,
  TRUST_PROXY: flag(false),
  WS_FAIR_READS: flag(false),
  MAX_CONNECTIONS_PER_IP: wholeNumber(0, 0),
  ALLOW_ANONYMOUS: flag(false),
  TOKEN_REQUESTS_PER_MINUTE: wholeNumber(600, 0),
  HANDSHAKES_PER_MINUTE: wholeNumber(600, 0),
  AUDIO_RATE_LIMIT: wholeNumber(10, 0, 1000),
  AUDIO_BURST_MS: wholeNumber(30_000, 0),
  MAX_SESSIONS_PER_CONNECTION: wholeNumber(10, 1),
  MAX_CHUNKS_IN_FLIGHT: wholeNumber(128, 1),
  FLOOD_PAUSE_MS: wholeNumber(250, 0, 10_000),
  FLOOD_MAX_PAUSES: wholeNumber(10, 0),
  MAX_SESSION_MS: wholeNumber(14_400_000, 0),
  SESSION_IDLE_TIMEOUT_MS: wholeNumber(120_000, 0),
  PERF_TEST_PER_MINUTE: wholeNumber(DEFAULT_PERF_TEST_PER_MINUTE, 1, 600),
});

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
  redisKeyPrefix: string;
  sessionTtlS: number;
  maxChunkBytes: number;
  maxBufferMs: number;
  segmentation: { maxMs: number; minMs: number; silenceMs: number; speechDbfs: number };
  transcriber: Transcriber;
  /** Engine requests at once: a fixed number, or adaptive within bounds. */
  engineConcurrency: { fixed: number | undefined; min: number; max: number };
  /** New sessions are refused with OVERLOADED when a result would take longer than this. */
  maxResultDelayMs: number;
  /** New sessions are refused with OVERLOADED while the event loop was busier than this share of the last window (1 = never). */
  maxEventLoopUtilization: number;
  /** New sessions are refused with OVERLOADED while this process serves this many (0 = no cap). */
  maxSessionsPerProcess: number;
  /** Interim results every this many ms of new speech, for sessions that ask without an interval of their own. */
  interimIntervalMs: number;
  openai: { apiKey: string | undefined; baseUrl: string | undefined; model: string; maxRetries: number; timeoutMs: number };
  pocketsphinxCommand: string;
  /** Long-lived pocketsphinx processes (each ~100 MB with the model loaded). */
  /** Models start_session may name (ALLOWED_MODELS); empty = the engine's own model alone. */
  allowedModels: string[];
  pocketsphinxDecoders: number;
  /** accurate: ~0.75× the decoder CPU of pocketsphinx's defaults, no word lost; fast: ~0.8× that again, a few words lost. */
  pocketsphinxSearch: DecoderSearch;
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
    /**
     * Deliver each connection's WebSocket messages one per event-loop turn, so a client flooding without waiting for
     * acks cannot delay others' reads; costs every connection a turn per message (measured: ack P99 at 300 real-time
     * streams 89 ms → 724 ms on 2 cores), hence off by default.
     */
    fairReads: boolean;
    /** Audio accepted per wall second, as a multiple of real time; 0 = no limit. */
    audioRateLimit: number;
    /** Audio (ms) a session may send above the rate at once, e.g. a reconnect's backlog. */
    audioBurstMs: number;
    maxSessionsPerConnection: number;
    /** audio_chunk events one connection may have awaiting their ack; beyond it they are refused unread. */
    maxChunksInFlight: number;
    /** A connection that keeps sending past RATE_LIMITED is not read for at least this long (ms); 0 = never paused. */
    floodPauseMs: number;
    /** Pauses in a row after which such a connection is closed (server_notice FLOODING); 0 = never closed. */
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

/** Reads settings from `env`; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cores = os.availableParallelism()): Config {
  const parsed = envSchema(cores).safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  if (e.SEGMENT_MIN_MS >= e.SEGMENT_MAX_MS) {
    throw new ConfigError(
      `Invalid configuration: SEGMENT_MIN_MS (${e.SEGMENT_MIN_MS}) must be below SEGMENT_MAX_MS (${e.SEGMENT_MAX_MS})`,
    );
  }
  if (e.ENGINE_MIN_CONCURRENCY > e.ENGINE_MAX_CONCURRENCY) {
    throw new ConfigError(
      `Invalid configuration: ENGINE_MIN_CONCURRENCY (${e.ENGINE_MIN_CONCURRENCY}) must not exceed ENGINE_MAX_CONCURRENCY (${e.ENGINE_MAX_CONCURRENCY})`,
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
  if (e.NODE_ENV === 'production' && !e.AUTH_TOKEN && e.TOKEN_SECRET.length === 0 && e.API_KEYS.length === 0 && !e.ALLOW_ANONYMOUS) {
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
  if (e.WORKERS > 1 && !e.REDIS_URL) {
    throw new ConfigError(
      `Invalid configuration: WORKERS=${e.WORKERS} needs REDIS_URL: worker processes share sessions through Redis (or set WORKERS=1)`,
    );
  }
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
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    sessionTtlS: e.SESSION_TTL_S,
    maxChunkBytes: e.MAX_CHUNK_BYTES,
    maxBufferMs: e.MAX_BUFFER_MS,
    segmentation: { maxMs: e.SEGMENT_MAX_MS, minMs: e.SEGMENT_MIN_MS, silenceMs: e.SILENCE_MS, speechDbfs: e.VAD_SPEECH_DBFS },
    transcriber,
    engineConcurrency: {
      fixed: e.ENGINE_CONCURRENCY || e.TRANSCRIBE_CONCURRENCY || undefined,
      min: e.ENGINE_MIN_CONCURRENCY,
      max: e.ENGINE_MAX_CONCURRENCY,
    },
    maxResultDelayMs: e.MAX_RESULT_DELAY_MS,
    maxEventLoopUtilization: e.MAX_EVENT_LOOP_UTILIZATION,
    maxSessionsPerProcess: e.MAX_SESSIONS_PER_PROCESS,
    interimIntervalMs: e.INTERIM_INTERVAL_MS,
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseUrl: e.OPENAI_BASE_URL,
      model: e.WHISPER_MODEL,
      maxRetries: e.ENGINE_MAX_RETRIES,
      timeoutMs: e.ENGINE_TIMEOUT_MS,
    },
    pocketsphinxCommand: e.POCKETSPHINX_COMMAND,
    // Unset: the cores shared among the worker processes, not one full set per worker.
    pocketsphinxDecoders: env.POCKETSPHINX_DECODERS?.trim() ? e.POCKETSPHINX_DECODERS : Math.max(1, Math.floor(cores / e.WORKERS)),
    pocketsphinxSearch: e.POCKETSPHINX_SEARCH,
    production: e.NODE_ENV === 'production',
    auth: {
    allowedModels: e.ALLOWED_MODELS,
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
      fairReads: e.WS_FAIR_READS,
      audioRateLimit: e.AUDIO_RATE_LIMIT,
      audioBurstMs: e.AUDIO_BURST_MS,
      maxSessionsPerConnection: e.MAX_SESSIONS_PER_CONNECTION,
      maxChunksInFlight: e.MAX_CHUNKS_IN_FLIGHT,
      floodPauseMs: e.FLOOD_PAUSE_MS,
      floodMaxPauses: e.FLOOD_MAX_PAUSES,
      maxSessionMs: e.MAX_SESSION_MS,
      sessionIdleTimeoutMs: e.SESSION_IDLE_TIMEOUT_MS,
      perfTestPerMinute: e.PERF_TEST_PER_MINUTE,
    },
  };
}
