// Sentry settings read from the environment before anything else starts; a bad value stops start-up naming the variable.
import { readFileSync } from 'node:fs';

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

/** See docs/monitoring.md (Delivery): measured need at tracing 1.0 is events/s × request time, with headroom. */
export const DEFAULT_TRANSPORT_BUFFER_SIZE = 2000;
export const DEFAULT_TRANSPORT_CONCURRENCY = 200;

export class SentryConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SentryConfigError';
  }
}

/** Environment variables whose values are secrets the server holds; none may reach Sentry. */
const SECRET_VARIABLES = ['OPENAI_API_KEY', 'AUTH_TOKEN', 'OPS_TOKEN', 'SENTRY_SAMPLING_SECRET'] as const;
/** Comma-separated lists of secrets (several at once, for rotation): each entry is a secret of its own. */
const SECRET_LISTS = ['API_KEYS', 'TOKEN_SECRET'] as const;

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

/** True when SENTRY_DEBUG asks for the SDK's own log (a bad value is reported by loadSentrySettings). */
export function sdkDebugWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return TRUE_WORDS.has(env.SENTRY_DEBUG?.trim().toLowerCase() ?? '');
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
  const problems: string[] = [];
  const text = (name: string) => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };

  const rate = (name: string, fallback: number) => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      problems.push(`${name} must be a number from 0 to 1, got "${raw}"`);
      return fallback;
    }
    return value;
  };

  const flag = (name: string) => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined || FALSE_WORDS.has(raw)) return false;
    if (TRUE_WORDS.has(raw)) return true;
    problems.push(`${name} must be true or false, got "${text(name)}"`);
    return false;
  };

  const dsn = text('SENTRY_DSN');
  if (dsn !== undefined && !isDsn(dsn)) {
    problems.push('SENTRY_DSN must look like https://<public key>@<host>/<project id> (copy it from the Sentry project settings)');
  }

  let spotlight: boolean | string = false;
  const spotlightRaw = text('SENTRY_SPOTLIGHT');
  if (spotlightRaw !== undefined) {
    const word = spotlightRaw.toLowerCase();
    if (TRUE_WORDS.has(word)) spotlight = true;
    else if (!FALSE_WORDS.has(word)) {
      if (/^https?:\/\//.test(spotlightRaw)) spotlight = spotlightRaw;
      else problems.push(`SENTRY_SPOTLIGHT must be true, false or the sidecar URL (http://localhost:8969/stream), got "${spotlightRaw}"`);
    }
  }

  const count = (name: string, fallback: number, max: number) => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (Number.isInteger(value) && value >= 1 && value <= max) return value;
    problems.push(`${name} must be a whole number from 1 to ${max}, got "${raw}"`);
    return fallback;
  };

  const lifecycle = text('SENTRY_TRACE_LIFECYCLE') ?? 'static';
  if (lifecycle !== 'static' && lifecycle !== 'stream') {
    problems.push(`SENTRY_TRACE_LIFECYCLE must be static or stream, got "${lifecycle}"`);
  }

  const settings: SentrySettings = {
    dsn,
    spotlight,
    // NODE_ENV is the usual deployment marker; without either, a developer's machine is assumed.
    environment: text('SENTRY_ENVIRONMENT') ?? text('NODE_ENV') ?? 'development',
    release: text('SENTRY_RELEASE') ?? packageRelease(),
    tracesSampleRate: rate('SENTRY_TRACES_SAMPLE_RATE', 0.1),
    profilesSampleRate: rate('SENTRY_PROFILES_SAMPLE_RATE', 0.1),
    trustClientSampling: flag('SENTRY_TRUST_CLIENT_SAMPLING'),
    samplingSecret: text('SENTRY_SAMPLING_SECRET'),
    debug: flag('SENTRY_DEBUG'),
    traceLifecycle: lifecycle === 'stream' ? 'stream' : 'static',
    transportBufferSize: count('SENTRY_TRANSPORT_BUFFER_SIZE', DEFAULT_TRANSPORT_BUFFER_SIZE, 100_000),
    transportConcurrency: count('SENTRY_TRANSPORT_CONCURRENCY', DEFAULT_TRANSPORT_CONCURRENCY, 1000),
    secrets: [
      ...SECRET_VARIABLES.map((name) => text(name)),
      ...SECRET_LISTS.flatMap((name) => (text(name) ?? '').split(',').map((entry) => entry.trim())),
      urlPassword(text('REDIS_URL')),
    ].filter(
      (value): value is string => value !== undefined && value.length >= 4,
    ),
  };
  if (problems.length > 0) throw new SentryConfigError(`Invalid Sentry configuration: ${problems.join('; ')}`);
  return settings;
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

function isDsn(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username !== '' && /\/\d+\/?$/.test(url.pathname);
  } catch {
    return false;
  }
}
