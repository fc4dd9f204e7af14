// Removes what must never reach Sentry from events, transactions, spans and breadcrumbs: audio bytes, keys,
// tokens, Authorization headers, handshake secrets and request bodies.
import type { Breadcrumb, Event } from '@sentry/node';

export const FILTERED = '[Filtered]';

/** Key words that mark a value as a secret, wherever the key appears (headers, data, contexts, extra). */
const SECRET_WORDS = new Set(['authorization', 'cookie', 'cookies', 'password', 'passwd', 'secret', 'token', 'auth', 'credentials', 'apikey', 'dsn']);
/** Two-word keys: "api key", "access key", "private key" (a bare "key", like cache.key, is not secret). */
const SECRET_PAIRS = new Set(['api key', 'access key', 'private key', 'secret key']);
/** Strings of audio or other bytes encoded as text: long unbroken base64 or hex runs. */
const BASE64_RUN = /[A-Za-z0-9+/]{200,}={0,2}/g;
const HEX_RUN = /\b[0-9a-fA-F]{128,}\b/g;
const BEARER = /\b(Bearer|Basic)\s+[^\s,;"']+/gi;
const OPENAI_KEY = /\bsk-[A-Za-z0-9_*.-]{8,}/g;
const SECRET_QUERY = /([?&](?:token|auth|access_token|api_key|apikey|key|secret|password)=)[^&#\s]*/gi;
const MAX_DEPTH = 16;
/**
 * Fields the SDK fills from its own state, never from the server's data: the SDK's name and integrations, the
 * installed packages, ids, and the process's static contexts. Every transaction carries them, so walking them
 * was most of the scrubbing work; nothing of the server's (audio, keys, tokens) can be in them.
 */
const SDK_FIELDS = new Set(['sdk', 'modules', 'debug_meta']);
/** Id fields at any depth (every span has them): skipped when they hold an id, too short for any secret. */
const ID_FIELDS = new Set(['event_id', 'span_id', 'trace_id', 'parent_span_id', 'profile_id']);
const MAX_ID_LENGTH = 32;
const SDK_CONTEXTS = new Set(['runtime', 'os', 'device', 'culture', 'cloud_resource']);
/** Strings repeat across a session's transactions (its ids, span names, keys): each distinct one is scrubbed once. */
const MAX_REMEMBERED_TEXTS = 20_000;

export interface Scrubber {
  /** Error and transaction events (beforeSend, beforeSendTransaction). */
  event<T extends Event>(event: T): T;
  /** A span in either format (static SpanJSON: data; streamed: attributes). */
  span<T extends object>(span: T): T;
  breadcrumb(breadcrumb: Breadcrumb): Breadcrumb | null;
}

/** `secrets` are the configured key and token values: removed from every string sent. */
export function createScrubber(secrets: readonly string[] = []): Scrubber {
  const known = [...new Set(secrets)].filter((secret) => secret.length >= 4).sort((a, b) => b.length - a.length);

  const scrubbedTexts = new Map<string, string>();

  function text(value: string): string {
    let out = scrubbedTexts.get(value);
    if (out === undefined) {
      out = scrubText(value);
      if (scrubbedTexts.size >= MAX_REMEMBERED_TEXTS) scrubbedTexts.clear();
      scrubbedTexts.set(value, out);
    }
    return out;
  }

  // Each pattern runs only where it could match.
  function scrubText(value: string): string {
    let out = value;
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(FILTERED);
    if (looksBinary(out)) return `[binary data, ${out.length} chars]`;
    out = out.replace(BEARER, `$1 ${FILTERED}`);
    if (out.includes('sk-')) out = out.replace(OPENAI_KEY, FILTERED);
    if (out.includes('=')) out = out.replace(SECRET_QUERY, `$1${FILTERED}`);
    if (out.length >= 128) out = out.replace(BASE64_RUN, '[Filtered encoded data]').replace(HEX_RUN, '[Filtered encoded data]');
    return out;
  }

  function value(input: unknown, depth: number, skip?: ReadonlySet<string>): unknown {
    if (typeof input === 'string') return text(input);
    if (input === null || typeof input !== 'object') return input;
    if (ArrayBuffer.isView(input) || input instanceof ArrayBuffer) return `[binary data, ${input.byteLength} bytes]`;
    if (depth >= MAX_DEPTH) return input;
    if (Array.isArray(input)) {
      for (let i = 0; i < input.length; i++) input[i] = value(input[i], depth + 1);
      return input;
    }
    const record = input as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (skip?.has(key)) continue;
      const field = record[key];
      if (ID_FIELDS.has(key) && typeof field === 'string' && field.length <= MAX_ID_LENGTH) continue;
      record[key] = isSecretKey(key) ? FILTERED : value(field, depth + 1);
    }
    return record;
  }

  return {
    event(event) {
      // Bodies may hold audio (Socket.IO long-poll POSTs) or a handshake token: never sent.
      if (event.request) {
        delete event.request.data;
        delete event.request.cookies;
      }
      for (const exception of event.exception?.values ?? []) {
        for (const frame of exception.stacktrace?.frames ?? []) delete frame.vars;
      }
      const { sdkProcessingMetadata, contexts, ...rest } = event;
      value(rest, 0, SDK_FIELDS);
      if (contexts) value(contexts, 1, SDK_CONTEXTS);
      return Object.assign(event, rest, sdkProcessingMetadata === undefined ? {} : { sdkProcessingMetadata });
    },
    span(span) {
      return value(span, 0) as typeof span;
    },
    breadcrumb(breadcrumb) {
      return value(breadcrumb, 0) as Breadcrumb;
    },
  };
}

/** Keys seen so far: transactions repeat the same few keys, so each is judged once. */
const secretKeyVerdicts = new Map<string, boolean>();
const MAX_REMEMBERED_KEYS = 4096;

/** True for keys like "authorization", "x-api-key", "handshake.auth.token" or "apiKey"; false for "cache.key". */
export function isSecretKey(key: string): boolean {
  let verdict = secretKeyVerdicts.get(key);
  if (verdict === undefined) {
    verdict = judgeKey(key);
    if (secretKeyVerdicts.size < MAX_REMEMBERED_KEYS) secretKeyVerdicts.set(key, verdict);
  }
  return verdict;
}

function judgeKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    if (SECRET_WORDS.has(words[i]!)) return true;
    if (i > 0 && SECRET_PAIRS.has(`${words[i - 1]} ${words[i]}`)) return true;
  }
  return false;
}

/**
 * True for text that is really bytes (e.g. PCM decoded as UTF-8 in a Redis statement): many control
 * characters or replacement characters, which words in any language do not have.
 */
export function looksBinary(value: string): boolean {
  if (value.length < 16) return false;
  let odd = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || (code >= 0x7f && code <= 0x9f) || code === 0xfffd) odd++;
  }
  return odd / value.length > 0.05;
}
