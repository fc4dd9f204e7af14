// Every setting the server and its scripts read, Sentry's included: name, group, parser (default and range) and the
// line that documents it, each written once. .env.example is rendered from this table (scripts/env-example.ts) and a
// test keeps the two equal. Order is the order a reader meets them: the common ones first, tuning last.
import type { z } from 'zod';
import { DEFAULT_SPEECH_DBFS } from '../audio/vad.js';
import { DECODER_SEARCH, DEFAULT_DECODER_SEARCH, type DecoderSearch } from '../engines/pocketsphinx/decoder.js';
import { decimal, flag, hostList, oneOf, optionalWholeNumber, parseFlag, setting, share, text, textList, textOr, wholeNumber } from './parsers.js';

export const SETTING_GROUPS = {
  server: 'Server',
  transcription: 'Transcription',
  buffering: 'Buffering',
  segmentation: 'Segmentation',
  access: 'Access (docs/security.md)',
  limits: 'Limits (checked before any work)',
  ops: 'Ops server',
  sentry: 'Sentry (docs/monitoring.md)',
  tuning: 'Tuning: measured defaults (BENCHMARKS.md); change them only with a benchmark of your own',
  scripts: 'Scripts (stream-file, load-test)',
} as const;

export type SettingGroup = keyof typeof SETTING_GROUPS;

export interface SettingSpec {
  group: SettingGroup;
  /** What it does, its units and what empty or 0 means: the comment above it in .env.example. */
  doc: string;
  /** The parser, with the default and range; `cores` is os.availableParallelism() for defaults that follow it. */
  schema: (cores: number) => z.ZodType;
  /** What .env.example shows when the parsed default is not it (a default computed at start-up shows as empty). */
  shown?: string;
}

export const TRANSCRIBERS = ['auto', 'openai', 'pocketsphinx'] as const;
export const SPEECH_DETECTORS = ['silero', 'energy'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const ENGINE_OUTAGE_POLICIES = ['report', 'fail'] as const;
export const ENGINE_FALLBACKS = ['none', 'pocketsphinx', 'openai'] as const;
/** pocketsphinx search settings: the decoder's own names, so a setting added there is accepted here. */
const POCKETSPHINX_SEARCHES = Object.keys(DECODER_SEARCH) as [DecoderSearch, ...DecoderSearch[]];

/** WORKERS: a count, or "auto" for one per core. */
function workerCount(cores: number) {
  const parse = (raw: string) => {
    if (raw === 'auto') return cores;
    const value = Number(raw);
    return Number.isInteger(value) && value >= 1 && value <= 256 ? value : undefined;
  };
  return setting(1, parse, 'a whole number from 1 to 256, or auto (one per core)');
}

function isDsn(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username !== '' && /\/\d+\/?$/.test(url.pathname);
  } catch {
    return false;
  }
}

const dsn = () => setting<string | undefined>(undefined, (raw) => (isDsn(raw) ? raw : undefined), 'a DSN like https://<public key>@<host>/<project id> (copy it from the Sentry project settings)');

/** SENTRY_SPOTLIGHT: true (the default sidecar), false, or a sidecar URL. */
const spotlight = () =>
  setting<boolean | string>(false, (raw) => parseFlag(raw) ?? (/^https?:\/\//.test(raw) ? raw : undefined), 'true, false or the sidecar URL (http://localhost:8969/stream)');

const rate = (def: number) => decimal(def, 0, 1, 'a number from 0 to 1');

/** See docs/monitoring.md (Delivery): measured need at tracing 1.0 is events/s × request time, with headroom. */
export const DEFAULT_TRANSPORT_BUFFER_SIZE = 2000;
export const DEFAULT_TRANSPORT_CONCURRENCY = 200;
/** The ops performance test spends a real engine call: this many runs a minute unless PERF_TEST_PER_MINUTE says otherwise. */
export const DEFAULT_PERF_TEST_PER_MINUTE = 3;

export const SETTINGS = {
  // --- Server ---
  PORT: { group: 'server', doc: 'Socket.IO (namespace /transcription) and the demo page listen here.', schema: () => wholeNumber(3000, 0, 65535) },
  HOST: { group: 'server', doc: 'Interface to bind; empty = all interfaces.', schema: () => text() },
  LOG_LEVEL: { group: 'server', doc: `pino log level: ${LOG_LEVELS.join(', ')}.`, schema: () => oneOf(LOG_LEVELS, 'info') },
  NODE_ENV: {
    group: 'server',
    doc: 'production = safe defaults: same-origin connections only unless ALLOWED_ORIGINS is set, /ops/* off without OPS_TOKEN,\nand start-up refused without AUTH_TOKEN, TOKEN_SECRET or API_KEYS unless ALLOW_ANONYMOUS=true.',
    schema: () => text(),
  },
  WORKERS: {
    group: 'server',
    doc: 'Worker processes sharing PORT (node:cluster, sticky sessions for HTTP long-polling); auto = one per core.\nMore than 1 needs Redis (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES). See docs/deploy.md.',
    schema: (cores) => workerCount(cores),
  },
  SHUTDOWN_GRACE_MS: { group: 'server', doc: 'On SIGTERM: how long in-flight segments may take before clients are told to reconnect elsewhere anyway (ms).', schema: () => wholeNumber(25000, 0, 600000) },

  // --- Transcription ---
  TRANSCRIBER: { group: 'transcription', doc: 'auto = openai when OPENAI_API_KEY is set, else pocketsphinx (offline) | openai | pocketsphinx', schema: () => oneOf(TRANSCRIBERS, 'auto') },
  OPENAI_API_KEY: { group: 'transcription', doc: 'Key for OpenAI Whisper (or any OpenAI-compatible server).', schema: () => text() },
  OPENAI_BASE_URL: { group: 'transcription', doc: 'Base URL of an OpenAI-compatible server, e.g. http://localhost:8000/v1; empty = OpenAI.', schema: () => text() },
  WHISPER_MODEL: { group: 'transcription', doc: 'Default transcription model; a session may ask for another among ALLOWED_MODELS.', schema: () => textOr('whisper-1') },
  ALLOWED_MODELS: {
    group: 'transcription',
    doc: 'Models a session may name in start_session, comma-separated (others get INVALID_MODEL); empty = WHISPER_MODEL alone\n(with pocketsphinx, its own model). A client token\'s "models" narrows it further.',
    schema: () => textList(),
  },
  ENGINE_CONCURRENCY: {
    group: 'transcription',
    doc: 'Engine requests at once: empty = adaptive (from 16, or from what Redis remembers of the provider; grows while\nlatency is flat up to 256, shrinks on 429/5xx/time-outs); a number = a hard cap (e.g. a provider\'s quota).\nThe offline engine uses its decoder count.',
    schema: () => wholeNumber(0, 0, 4096),
    shown: '',
  },
  POCKETSPHINX_DECODERS: {
    group: 'transcription',
    doc: 'How many pocketsphinx decoders run per process (each ~100 MB, one segment at a time); empty = the cores / WORKERS.',
    schema: (cores) => wholeNumber(cores, 1, 256),
    shown: '',
  },
  INTERIM_INTERVAL_MS: { group: 'transcription', doc: 'Interim results (sessions that ask with interim_results: true): one every this many ms of new speech.', schema: () => wholeNumber(1500, 250, 60000) },

  // --- Buffering ---
  REDIS_URL: {
    group: 'buffering',
    doc: 'One Redis for session state and audio (survives reconnects and restarts); empty = process memory, unless one of\nthe two below is set (only one of the three may be). See docs/deploy.md for which to pick.',
    schema: () => text(),
  },
  REDIS_SENTINELS: {
    group: 'buffering',
    doc: 'Redis Sentinel: its sentinels as host:port,host:port,...; the server follows the primary they name through failovers\n(REDIS_SENTINEL_NAME, REDIS_WAIT_REPLICAS).',
    schema: () => hostList(),
  },
  REDIS_CLUSTER_NODES: { group: 'buffering', doc: 'Redis Cluster: some of its nodes as host:port,host:port,... (sessions are spread over its masters).', schema: () => hostList() },
  MAX_BUFFER_MS: { group: 'buffering', doc: 'Most untranscribed audio one session may buffer, in ms; beyond it chunks get BUFFER_FULL.', schema: () => wholeNumber(120000, 1000) },
  MAX_CHUNK_BYTES: { group: 'buffering', doc: 'Largest audio_chunk accepted, in bytes; bigger ones get CHUNK_TOO_LARGE.', schema: () => wholeNumber(64000, 2, 16 * 1024 * 1024) },

  // --- Segmentation ---
  SEGMENT_MAX_MS: { group: 'segmentation', doc: 'A segment is cut when it reaches this length (ms).', schema: () => wholeNumber(8000, 500) },
  SEGMENT_MIN_MS: { group: 'segmentation', doc: '...or at a pause, once it holds at least this much audio (ms).', schema: () => wholeNumber(1000, 0) },
  SILENCE_MS: { group: 'segmentation', doc: 'Length of quiet that counts as a pause (ms).', schema: () => wholeNumber(600, 20) },
  VAD_SPEECH_DBFS: {
    group: 'segmentation',
    doc: 'Frames louder than this RMS level (dBFS) count as speech; segments without speech are never transcribed.',
    schema: () => decimal(DEFAULT_SPEECH_DBFS, -120, 0, 'a level in dBFS from -120 to 0'),
  },
  SPEECH_DETECTOR: {
    group: 'tuning',
    doc: 'What decides that a cut segment holds speech before it goes to the engine: silero (a neural VAD, shipped in the\npackage, on the segments the energy VAD hears; noise, music and breathing stay away from the engine) or energy (the\nlevel alone). When Silero cannot load, the energy VAD decides and start-up logs why; a segment it fails on goes\nto the engine (logged at most once a minute).',
    schema: () => oneOf(SPEECH_DETECTORS, 'silero'),
  },

  // --- Access ---
  AUTH_TOKEN: { group: 'access', doc: 'When set (16+ characters), clients must pass this as `auth.token` in the Socket.IO handshake.', schema: () => text() },
  API_KEYS: {
    group: 'access',
    doc: 'Keys backends use to mint client tokens at POST /v1/tokens ("Authorization: Bearer <key>"); comma-separated, several at once for rotation.',
    schema: () => textList(),
  },
  TOKEN_SECRET: { group: 'access', doc: 'Secrets (32+ characters each) that sign client tokens: the first signs, every one verifies; required with API_KEYS.', schema: () => textList() },
  ALLOW_ANONYMOUS: {
    group: 'access',
    doc: 'true = with NODE_ENV=production and no credentials settings, start anyway and let anyone who reaches PORT connect\n(logged as a warning at start). Only for a closed network.',
    schema: () => flag(false),
  },
  ALLOWED_ORIGINS: { group: 'access', doc: 'Web origins allowed to connect, comma-separated (* = any); empty = any in development, same-origin only in production.', schema: () => textList() },
  TRUST_PROXY: { group: 'access', doc: 'true = a proxy in front sets X-Forwarded-For / X-Forwarded-Host; its last X-Forwarded-For entry is the client address.', schema: () => flag(false) },
  MAX_CONNECTIONS_PER_IP: {
    group: 'access',
    doc: 'Most connections open at once from one client address; 0 = no limit. Counted across every worker and node with\nREDIS_URL, else per process.',
    schema: () => wholeNumber(0, 0),
  },

  // --- Limits ---
  AUDIO_RATE_LIMIT: { group: 'limits', doc: 'Audio a session may send per wall second, as a multiple of real time (RATE_LIMITED beyond it); 0 = no limit.', schema: () => wholeNumber(10, 0, 1000) },
  MAX_SESSIONS_PER_CONNECTION: {
    group: 'limits',
    doc: 'Sessions open at once on one connection (a client token\'s max_sessions may lower it); beyond it TOO_MANY_SESSIONS.',
    schema: () => wholeNumber(10, 1),
  },
  MAX_SESSION_MS: {
    group: 'limits',
    doc: 'Most audio one session may take, in ms (a client token\'s max_session_ms may lower it); beyond it SESSION_TIME_LIMIT. 0 = no limit.',
    schema: () => wholeNumber(14_400_000, 0),
  },
  SESSION_IDLE_TIMEOUT_MS: { group: 'limits', doc: 'A session that receives no chunk for this long is ended (its audio transcribed, its owner told); 0 = never.', schema: () => wholeNumber(120_000, 0) },
  MAX_SESSIONS_PER_PROCESS: {
    group: 'limits',
    doc: 'A hard cap on the sessions one process serves (each worker with WORKERS > 1); beyond it new sessions get OVERLOADED\n(retry_after_ms 5000) and /readyz says 503. Size it from a benchmark on your own hardware (BENCHMARKS.md). 0 = no cap.',
    schema: () => wholeNumber(0, 0),
  },
  MAX_RESULT_DELAY_MS: {
    group: 'limits',
    doc: 'New sessions are refused with OVERLOADED (and /readyz says 503) when a result would take longer than this (ms).',
    schema: () => wholeNumber(10000, 100),
  },

  // --- Ops server ---
  OPS_PORT: { group: 'ops', doc: 'Fastify side server: GET /healthz, /readyz, /metrics, /dashboard, /ops/test-sentry-performance. Keep it on a private network.', schema: () => wholeNumber(3001, 0, 65535) },
  OPS_TOKEN: {
    group: 'ops',
    doc: 'When set (16+ characters), /ops/*, /metrics, /dashboard/data and /readyz\'s details need "Authorization: Bearer <OPS_TOKEN>";\n/healthz and /readyz\'s status stay open. With NODE_ENV=production and no OPS_TOKEN, /ops/* is off.',
    schema: () => text(),
  },
  ENGINE_OUTAGE_READINESS: {
    group: 'ops',
    doc: 'An engine that does not answer (time-out, refused): report = /readyz stays 200 and lists it under warnings\n(a shared provider\'s outage would take every node out at once); fail = /readyz 503. A rejected key is 503 either way.',
    schema: () => oneOf(ENGINE_OUTAGE_POLICIES, 'report'),
  },

  // --- Sentry ---
  SENTRY_DSN: { group: 'sentry', doc: 'Project DSN; empty = Sentry off (the server runs exactly as without it). Loaded by `npm start` (dist/telemetry/instrument.js).', schema: () => dsn() },
  SENTRY_ENVIRONMENT: { group: 'sentry', doc: 'Environment name on every event; empty = NODE_ENV, else "development".', schema: () => text() },
  SENTRY_RELEASE: { group: 'sentry', doc: 'Release on every event; empty = <package name>@<version>, e.g. transcription-server@0.1.0.', schema: () => text() },
  SENTRY_TRACES_SAMPLE_RATE: { group: 'sentry', doc: 'Fraction (0..1) of sessions traced, each with all its events; probes are never traced, the perf test always.', schema: () => rate(0.1) },
  SENTRY_PROFILES_SAMPLE_RATE: { group: 'sentry', doc: 'Fraction (0..1) of server processes that profile while sampled transactions run.', schema: () => rate(0.1) },
  SENTRY_SAMPLING_SECRET: {
    group: 'sentry',
    doc: 'Keys the per-session sampling hash, so clients cannot pick session ids that are always traced. Set the same value\non every node (and WORKERS process) so a resumed session keeps its decision; empty = a random key per process.',
    schema: () => text(),
  },

  // --- Tuning ---
  ENGINE_TIMEOUT_MS: { group: 'tuning', doc: 'Time one engine request may take (ms).', schema: () => wholeNumber(60000, 100) },
  ENGINE_MAX_RETRIES: { group: 'tuning', doc: 'Retries of a 429/5xx/timeout answer (after its Retry-After, else with backoff) before a segment fails with ENGINE_ERROR.', schema: () => wholeNumber(3, 0, 10) },
  ENGINE_FALLBACK: {
    group: 'tuning',
    doc: 'A second engine for when the first keeps failing (5xx, time-outs): none | pocketsphinx | openai (ENGINE_FALLBACK_URL).\nA segment whose request fails so goes to it; after ENGINE_BREAKER_FAILURES in a row the first is skipped until a probe succeeds.',
    schema: () => oneOf(ENGINE_FALLBACKS, 'none'),
  },
  ENGINE_FALLBACK_URL: { group: 'tuning', doc: 'ENGINE_FALLBACK=openai: base URL of the second OpenAI-compatible server (e.g. http://whisper.internal:8000/v1).', schema: () => text() },
  ENGINE_FALLBACK_API_KEY: { group: 'tuning', doc: 'ENGINE_FALLBACK=openai: its key.', schema: () => text() },
  ENGINE_FALLBACK_MODEL: { group: 'tuning', doc: 'ENGINE_FALLBACK=openai: the model it transcribes with.', schema: () => textOr('whisper-1') },
  ENGINE_BREAKER_FAILURES: { group: 'tuning', doc: 'With ENGINE_FALLBACK: outages of the first engine in a row that open its circuit breaker.', schema: () => wholeNumber(3, 1, 1000) },
  ENGINE_BREAKER_COOLDOWN_MS: { group: 'tuning', doc: 'With ENGINE_FALLBACK: how long an open breaker sends every segment to the fallback before one probes the first (ms).', schema: () => wholeNumber(30_000, 100, 3_600_000) },
  POCKETSPHINX_SEARCH: {
    group: 'tuning',
    doc: 'pocketsphinx search: accurate (~0.75× the CPU of its defaults, no word lost) | fast (~0.8× that, a few words in 100 lost).',
    schema: () => oneOf(POCKETSPHINX_SEARCHES, DEFAULT_DECODER_SEARCH),
  },
  POCKETSPHINX_COMMAND: { group: 'tuning', doc: 'The pocketsphinx program (Debian\'s pocketsphinx package); each decoder is one long-lived process of it.', schema: () => textOr('pocketsphinx_batch') },
  MAX_EVENT_LOOP_UTILIZATION: {
    group: 'tuning',
    doc: 'New sessions are refused with OVERLOADED (and /readyz says 503) while this process\'s event loop was busy more\nthan this share of the last 3 s: past it acks wait, clients resend and every session on the process fails together. 1 = never.',
    schema: () => share(0.9),
  },
  REDIS_KEY_PREFIX: { group: 'tuning', doc: 'Prefix of every Redis key the server writes.', schema: () => textOr('transcription:') },
  SESSION_TTL_S: { group: 'tuning', doc: 'Seconds an idle session (and its audio and transcript) is kept.', schema: () => wholeNumber(3600, 1) },
  REDIS_SENTINEL_NAME: { group: 'tuning', doc: 'With REDIS_SENTINELS: the name the sentinels monitor the primary under.', schema: () => textOr('mymaster') },
  REDIS_SENTINEL_PASSWORD: { group: 'tuning', doc: 'With REDIS_SENTINELS: the sentinels\' own password (requirepass in sentinel.conf); empty = none.', schema: () => text() },
  REDIS_WAIT_REPLICAS: {
    group: 'tuning',
    doc: 'A chunk is acknowledged only once Redis WAIT saw its append on this many replicas (one WAIT per event-loop turn\ncovers every append of it); empty = 1 with REDIS_SENTINELS, else 0 (no WAIT).',
    schema: () => optionalWholeNumber(0, 16),
    shown: '',
  },
  REDIS_WAIT_TIMEOUT_MS: {
    group: 'tuning',
    doc: 'How long that WAIT may take (ms); past it the turn\'s chunks are refused with STORE_UNAVAILABLE and clients resend them.',
    schema: () => wholeNumber(500, 1, 10_000),
  },
  SESSION_LEASE_MS: {
    group: 'tuning',
    doc: 'How long a node\'s claim on a session lasts unless renewed (ms); a resume on another node takes it over at once.',
    schema: () => wholeNumber(10000, 1000, 600000),
  },
  AUDIO_BURST_MS: { group: 'tuning', doc: 'Audio (ms) a session may send at once above AUDIO_RATE_LIMIT, e.g. a reconnect\'s unacknowledged backlog.', schema: () => wholeNumber(30_000, 0) },
  MAX_CHUNKS_IN_FLIGHT: { group: 'tuning', doc: 'audio_chunk events one connection may have awaiting their ack; beyond it they get RATE_LIMITED before any work.', schema: () => wholeNumber(128, 1) },
  FLOOD_PAUSE_MS: {
    group: 'tuning',
    doc: 'A connection refused more than 32 times (RATE_LIMITED or any refusal) while it floods is not read for this long\n(ms; TCP backpressure); after 10 such pauses without 10 s of calm it gets server_notice FLOODING and is closed. 0 = off.',
    schema: () => wholeNumber(250, 0, 10_000),
  },
  TOKEN_MAX_TTL_S: { group: 'tuning', doc: 'Longest lifetime a backend may ask for a client token (expires_in_s; default 60), in seconds.', schema: () => wholeNumber(600, 1, 86_400) },
  TOKEN_REQUESTS_PER_MINUTE: {
    group: 'tuning',
    doc: 'POST /v1/tokens requests per minute from one address (429 + Retry-After beyond it); 0 = no limit. Shared through\nRedis with REDIS_URL. A backend minting a token per user connection may need more.',
    schema: () => wholeNumber(600, 0),
  },
  HANDSHAKES_PER_MINUTE: {
    group: 'tuning',
    doc: 'Socket.IO handshakes (connection attempts) per minute from one address (connect_error RATE_LIMITED beyond it);\n0 = no limit. Shared through Redis with REDIS_URL.',
    schema: () => wholeNumber(600, 0),
  },
  PERF_TEST_PER_MINUTE: { group: 'tuning', doc: 'Performance-test runs allowed per minute, whatever the token (429 beyond it).', schema: () => wholeNumber(DEFAULT_PERF_TEST_PER_MINUTE, 1, 600) },
  SENTRY_DEBUG: { group: 'tuning', doc: 'true = the Sentry SDK logs what it does (to stderr); false also switches its debug-log code off (cheaper spans).', schema: () => flag(false) },
  SENTRY_SPOTLIGHT: { group: 'tuning', doc: 'Local viewing without an account: true (or a sidecar URL) sends everything to `npx @spotlightjs/spotlight`.', schema: () => spotlight(), shown: '' },
  SENTRY_TRUST_CLIENT_SAMPLING: {
    group: 'tuning',
    doc: 'true = a client\'s sentry-trace/baggage decide whether its sessions are traced; false = they only link the client\'s\ntrace, and SENTRY_TRACES_SAMPLE_RATE decides (a client cannot force 100 % of its events into Sentry).',
    schema: () => flag(false),
  },
  SENTRY_TRACE_LIFECYCLE: { group: 'tuning', doc: 'static = classic transactions; stream = v2 span items.', schema: () => oneOf(['static', 'stream'] as const, 'static') },
  SENTRY_TRANSPORT_BUFFER_SIZE: {
    group: 'tuning',
    doc: 'Envelopes the Sentry SDK holds while sending (one transaction = one envelope); one more is dropped, logged and counted.',
    schema: () => wholeNumber(DEFAULT_TRANSPORT_BUFFER_SIZE, 1, 100_000),
  },
  SENTRY_TRANSPORT_CONCURRENCY: {
    group: 'tuning',
    doc: 'Keep-alive connections to Sentry (envelopes sent at once); ignored behind https_proxy/http_proxy.',
    schema: () => wholeNumber(DEFAULT_TRANSPORT_CONCURRENCY, 1, 1000),
  },

  // --- Scripts ---
  TRANSCRIPTION_URL: {
    group: 'scripts',
    doc: 'Server the scripts connect to when --url is not given; they also send AUTH_TOKEN (above) as the handshake token.',
    schema: () => textOr('http://localhost:3000'),
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
type ValueOf<N extends SettingName> = z.output<ReturnType<(typeof SETTINGS)[N]['schema']>>;
export type SettingValues<N extends SettingName> = { [K in N]: ValueOf<K> };

/**
 * Settings read no more, with what replaces them: set, they are reported at start-up rather than ignored in silence.
 */
export const RETIRED_SETTINGS: Record<string, string> = {
  TRANSCRIBE_CONCURRENCY: 'use ENGINE_CONCURRENCY',
  WS_FAIR_READS: 'a flooding connection is now throttled at the transport for everyone (FLOOD_PAUSE_MS)',
  ENGINE_MIN_CONCURRENCY: 'the adaptive limit starts at 16 (or where Redis remembers it), stays between 4 and 256; ENGINE_CONCURRENCY sets a hard cap',
  ENGINE_MAX_CONCURRENCY: 'the adaptive limit starts at 16 (or where Redis remembers it), stays between 4 and 256; ENGINE_CONCURRENCY sets a hard cap',
  FLOOD_MAX_PAUSES: 'a flooding connection is closed after 10 pauses; FLOOD_PAUSE_MS=0 turns the throttle off',
};

/** Parses `names` from `env`: their values, or every problem found, each naming its variable. */
export function parseSettings<N extends SettingName>(
  env: NodeJS.ProcessEnv,
  names: readonly N[],
  cores: number,
): { ok: true; values: SettingValues<N> } | { ok: false; problems: string[] } {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of names) {
    const parsed = SETTINGS[name].schema(cores).safeParse(env[name]);
    if (parsed.success) values[name] = parsed.data;
    else problems.push(...parsed.error.issues.map((issue) => `${name} ${issue.message}`));
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, values: values as SettingValues<N> };
}

/** Retired settings present in `env`, each with what to do instead. */
export function retiredSettingsIn(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(RETIRED_SETTINGS)
    .filter(([name]) => env[name]?.trim())
    .map(([name, instead]) => `${name} is no longer read: ${instead}`);
}

export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];
