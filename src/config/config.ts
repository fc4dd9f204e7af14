// Server settings read from the environment once, at start-up; a bad value stops start-up naming the variable.
import os from 'node:os';
import { z } from 'zod';
import { DEFAULT_SPEECH_DBFS } from '../sessions/vad.js';

const TRANSCRIBERS = ['auto', 'openai', 'pocketsphinx'] as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

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

const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined));

const envSchema = z.object({
  HOST: optionalText,
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
  INTERIM_INTERVAL_MS: wholeNumber(1500, 250, 60000),
  OPENAI_API_KEY: optionalText,
  OPENAI_BASE_URL: optionalText,
  WHISPER_MODEL: z.string().optional().transform((v) => v || 'whisper-1'),
  ENGINE_MAX_RETRIES: wholeNumber(3, 0, 10),
  ENGINE_TIMEOUT_MS: wholeNumber(60000, 100),
  POCKETSPHINX_COMMAND: z.string().optional().transform((v) => v || 'pocketsphinx_batch'),
  POCKETSPHINX_DECODERS: wholeNumber(os.availableParallelism(), 1, 256),
});

export type Transcriber = 'openai' | 'pocketsphinx';

export interface Config {
  host: string | undefined;
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
  /** Interim results every this many ms of new speech, for sessions that ask without an interval of their own. */
  interimIntervalMs: number;
  openai: { apiKey: string | undefined; baseUrl: string | undefined; model: string; maxRetries: number; timeoutMs: number };
  pocketsphinxCommand: string;
  /** Long-lived pocketsphinx processes (each ~100 MB with the model loaded). */
  pocketsphinxDecoders: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Reads settings from `env`; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
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
  const transcriber: Transcriber =
    e.TRANSCRIBER === 'auto' ? (e.OPENAI_API_KEY ? 'openai' : 'pocketsphinx') : e.TRANSCRIBER;
  if (transcriber === 'openai' && !e.OPENAI_API_KEY) {
    throw new ConfigError('Invalid configuration: TRANSCRIBER=openai needs OPENAI_API_KEY (or set TRANSCRIBER=pocketsphinx)');
  }
  return {
    host: e.HOST,
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
    interimIntervalMs: e.INTERIM_INTERVAL_MS,
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseUrl: e.OPENAI_BASE_URL,
      model: e.WHISPER_MODEL,
      maxRetries: e.ENGINE_MAX_RETRIES,
      timeoutMs: e.ENGINE_TIMEOUT_MS,
    },
    pocketsphinxCommand: e.POCKETSPHINX_COMMAND,
    pocketsphinxDecoders: e.POCKETSPHINX_DECODERS,
  };
}
