// Sentry settings read from the environment before anything else starts, through the one settings table
// (src/config/settings.ts); a bad value stops start-up naming the variable.
import { readFileSync } from 'node:fs';
import { parseFlag } from '../config/parsers.js';
import { parseSettings, SETTING_NAMES, type SettingName } from '../config/settings.js';

export interface SentrySettings {
  /** SENTRY_DSN; unset means events go nowhere (unless Spotlight is on). */
  dsn: string | undefined;
  /** SENTRY_SPOTLIGHT: true (default sidecar URL), a sidecar URL, or off. Works without a DSN. */
  spotlight: boolean | string;
  environment: string;
  release: string | undefined;
  /** Fraction of sessions (and plain HTTP requests) traced. */
  tracesSampleRate: number;
  /**
   * SENTRY_TRUST_CLIENT_SAMPLING: a client's sentry-trace sampled flag (and baggage sample_rand) decide its tracing.
   * Off by default: a client's headers link its trace, the server's rate decides, so no client can force 100 %.
   */
  trustClientSampling: boolean;
  /** SENTRY_SAMPLING_SECRET: keys the per-session sampling hash, alike in every process that shares it; unset = random per process. */
  samplingSecret: string | undefined;
  /** Fraction of server processes that profile while a sampled transaction runs (profileSessionSampleRate). */
  profilesSampleRate: number;
  debug: boolean;
  /** 'static' sends classic transactions (the default here); 'stream' sends v2 span items. */
  traceLifecycle: 'static' | 'stream';
  /** Envelopes the SDK's transport holds while sending them; one more is dropped (and counted) as queue_overflow. */
  transportBufferSize: number;
  /** Connections the transport keeps open to Sentry, i.e. envelopes sent at once. */
  transportConcurrency: number;
  /** Values of configured keys and tokens: scrubbed wherever they appear in what is sent. */
  secrets: string[];
}

export { DEFAULT_TRANSPORT_BUFFER_SIZE, DEFAULT_TRANSPORT_CONCURRENCY } from '../config/settings.js';

export class SentryConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SentryConfigError';
  }
}

/** Environment variables whose values are secrets the server holds; none may reach Sentry. */
const SECRET_VARIABLES = ['OPENAI_API_KEY', 'AUTH_TOKEN', 'OPS_TOKEN', 'SENTRY_SAMPLING_SECRET', 'REDIS_SENTINEL_PASSWORD', 'ENGINE_FALLBACK_API_KEY'] as const;
/** Comma-separated lists of secrets (several at once, for rotation): each entry is a secret of its own. */
const SECRET_LISTS = ['API_KEYS', 'TOKEN_SECRET'] as const;

/** The Sentry settings, parsed by the one settings table like every other. */
const SENTRY_SETTINGS = SETTING_NAMES.filter((name): name is Extract<SettingName, `SENTRY_${string}`> => name.startsWith('SENTRY_'));

/** True when SENTRY_DEBUG asks for the SDK's own log (a bad value is reported by loadSentrySettings). */
export function sdkDebugWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return parseFlag(env.SENTRY_DEBUG ?? '') === true;
}

/** `<package name>@<version>` of this server, read from its package.json (src/ and dist/ both sit two levels below it). */
export function packageRelease(): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name?: string; version?: string };
    return pkg.name && pkg.version ? `${pkg.name}@${pkg.version}` : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the SENTRY_* variables; throws SentryConfigError naming every bad one. */
export function loadSentrySettings(env: NodeJS.ProcessEnv = process.env): SentrySettings {
  const parsed = parseSettings(env, SENTRY_SETTINGS, 1);
  if (!parsed.ok) throw new SentryConfigError(`Invalid Sentry configuration: ${parsed.problems.join('; ')}`);
  const e = parsed.values;
  const text = (name: string) => env[name]?.trim() || undefined;
  return {
    dsn: e.SENTRY_DSN,
    spotlight: e.SENTRY_SPOTLIGHT,
    // NODE_ENV is the usual deployment marker; without either, a developer's machine is assumed.
    environment: e.SENTRY_ENVIRONMENT ?? text('NODE_ENV') ?? 'development',
    release: e.SENTRY_RELEASE ?? packageRelease(),
    tracesSampleRate: e.SENTRY_TRACES_SAMPLE_RATE,
    profilesSampleRate: e.SENTRY_PROFILES_SAMPLE_RATE,
    trustClientSampling: e.SENTRY_TRUST_CLIENT_SAMPLING,
    samplingSecret: e.SENTRY_SAMPLING_SECRET,
    debug: e.SENTRY_DEBUG,
    traceLifecycle: e.SENTRY_TRACE_LIFECYCLE,
    transportBufferSize: e.SENTRY_TRANSPORT_BUFFER_SIZE,
    transportConcurrency: e.SENTRY_TRANSPORT_CONCURRENCY,
    secrets: [
      ...SECRET_VARIABLES.map((name) => text(name)),
      ...SECRET_LISTS.flatMap((name) => (text(name) ?? '').split(',').map((entry) => entry.trim())),
      urlPassword(text('REDIS_URL')),
    ].filter((value): value is string => value !== undefined && value.length >= 4),
  };
}

/** Sentry runs when it has somewhere to send to: a DSN, or a local Spotlight sidecar. */
export function sentryWanted(settings: SentrySettings): boolean {
  return settings.dsn !== undefined || settings.spotlight !== false;
}

function urlPassword(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const password = new URL(value).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}
