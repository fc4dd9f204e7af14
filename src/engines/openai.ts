// The Whisper engine: uploads each segment as a WAV to OpenAI's (or a compatible server's) transcription API.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import type { Logger } from 'pino';
import { EngineError, type EngineResult, type SegmentAudio, type TranscriptionEngine } from './engine.js';
import { pcmProblem, wavHeader } from '../audio/wav.js';
import { multipartBody } from './multipart.js';
import { createNodeHttpFetch } from './node-http-fetch.js';
import { gateVerbose, type VerboseTranscription } from './hallucination-gate.js';

export interface OpenAIEngineOptions {
  apiKey: string;
  /** e.g. "https://api.openai.com/v1" (the default) or a compatible server's /v1 URL. */
  baseUrl?: string;
  /** Default model, e.g. "whisper-1"; a session may ask for another. */
  model: string;
  /** Retries after the first attempt for 408/409/429/5xx, timeouts and connection errors (the SDK backs off). */
  maxRetries: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
  logger?: Logger;
}

const CHECK_TIMEOUT_MS = 5000;
const SERVER_MESSAGE_MAX = 200;

export function createOpenAIEngine(options: OpenAIEngineOptions): TranscriptionEngine {
  const { apiKey, model, maxRetries, timeoutMs, logger } = options;
  const log = logger?.child({ engine: 'openai' });
  const httpFetch = createNodeHttpFetch();
  const client = new OpenAI({
    apiKey,
    fetch: httpFetch,
    // An explicit undefined would make the SDK fall back to OPENAI_BASE_URL, which config has already read.
    ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    maxRetries,
    timeout: timeoutMs,
    // The SDK's own lines (one per attempt, retries included) carry no key or audio; its 'debug'
    // level would dump request details, so it is never enabled.
    logLevel: log ? 'info' : 'off',
    logger: {
      error: (message: string) => log?.error(message),
      warn: (message: string) => log?.warn(message),
      info: (message: string) => log?.debug(message),
      debug: () => {},
    },
  });
  const endpoint = describeEndpoint(client.baseURL);
  const context: ErrorContext = { apiKey, endpoint, maxRetries, timeoutMs };

  async function transcribe(segment: SegmentAudio): Promise<EngineResult> {
    const { pcm, sampleRate } = segment;
    const problem = pcmProblem(pcm, sampleRate);
    if (problem) throw new EngineError(problem, { retryable: false });
    if (pcm.length === 0) return { text: '' };
    const requestedModel = segment.model ?? model;
    const verbose = answersVerboseJson(requestedModel);
    const fields: Record<string, string | string[]> = { model: requestedModel, response_format: verbose ? 'verbose_json' : 'json' };
    if (segment.language) fields.language = toIsoLanguage(segment.language);
    if (segment.prompt) fields.prompt = segment.prompt;
    // Word timings cost the provider latency: asked for only when the session wants them. Naming 'word' alone would
    // drop the segments, which the hallucination gate reads.
    if (verbose && segment.wordTimestamps) fields['timestamp_granularities[]'] = ['word', 'segment'];
    // The body built here, not through the SDK's File and FormData: one copy of the segment instead of three. The SDK
    // still sends it (auth, retries with Retry-After, time-outs, its error classes).
    const upload = multipartBody(fields, { name: 'file', filename: 'segment.wav', contentType: 'audio/wav', parts: [wavHeader(pcm.length, sampleRate), pcm] });
    let result: VerboseTranscription;
    try {
      result = await client.post<VerboseTranscription>('/audio/transcriptions', { body: upload.body, headers: { 'content-type': upload.contentType } });
    } catch (error) {
      if (isAudioTooShort(error)) {
        // Whisper refuses audio under 0.1 s; such a sliver (e.g. the tail of a stream) holds no words.
        log?.debug({ audioBytes: pcm.length, sampleRate }, 'segment too short for the API, transcribed as empty');
        return { text: '' };
      }
      throw toEngineError(error, { ...context, model: requestedModel });
    }
    if (typeof result?.text !== 'string') {
      throw new EngineError(`${endpoint} answered the transcription without a "text" field: is it an OpenAI-compatible API?`, {
        retryable: false,
        reason: 'the transcription provider answered without text',
      });
    }
    return gateVerbose(result);
  }

  /**
   * Readiness: the provider counts as reachable when it answers HTTP at all — a compatible server without
   * GET /models (404), a 5xx or a 429 still answered. A rejected key (401/403) is this node's configuration and is
   * not retryable; no answer (refused, DNS, time-out) is an outage and is retryable.
   */
  async function check(): Promise<void> {
    const checkTimeoutMs = Math.min(CHECK_TIMEOUT_MS, timeoutMs);
    try {
      await client.models.list({ timeout: checkTimeoutMs, maxRetries: 0 });
    } catch (error) {
      if (error instanceof APIError && typeof error.status === 'number') {
        if (error.status === 401 || error.status === 403) {
          const requestId = error.requestID ? ` [request ${error.requestID}]` : '';
          throw new EngineError(
            `OpenAI check failed: OPENAI_API_KEY rejected by ${endpoint} (${error.status}): check the key is valid, not revoked, and allowed to use the API${requestId}`,
            { retryable: false },
          );
        }
        return;
      }
      const cause = toEngineError(error, { ...context, model, maxRetries: 0, timeoutMs: checkTimeoutMs });
      throw new EngineError(`OpenAI check failed: ${cause.message}`, { retryable: true });
    }
  }

  async function close(): Promise<void> {
    httpFetch.close();
  }

  return { name: 'openai', model, tracesOwnRequests: true, transcribe, check, close };
}

interface ErrorContext {
  apiKey: string;
  endpoint: string;
  model?: string;
  maxRetries: number;
  timeoutMs: number;
}

/**
 * Turns an SDK failure into an EngineError whose message says what happened and what to check.
 * The SDK error is not kept as `cause`: OpenAI's 401 body quotes part of the key, and loggers print causes.
 */
function toEngineError(error: unknown, context: ErrorContext): EngineError {
  const attempts = `${context.maxRetries + 1} attempt${context.maxRetries === 0 ? '' : 's'}`;
  if (error instanceof APIConnectionTimeoutError) {
    return new EngineError(
      `OpenAI did not answer within ${context.timeoutMs} ms (ENGINE_TIMEOUT_MS) at ${context.endpoint}, ${attempts}`,
      { retryable: true, overload: true, reason: `the transcription provider did not answer within ${context.timeoutMs} ms` },
    );
  }
  if (error instanceof APIConnectionError) {
    return new EngineError(
      `cannot reach OpenAI at ${context.endpoint} (${redact(connectionCode(error), context.apiKey)}) after ${attempts}: check OPENAI_BASE_URL and the network`,
      { retryable: true, reason: 'the transcription provider cannot be reached' },
    );
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    const status = error.status;
    const server = serverMessage(error, context.apiKey);
    const requestId = error.requestID ? ` [request ${error.requestID}]` : '';
    const model = context.model ? ` "${context.model}"` : '';
    // The client's reason: the status and the provider's words, never the endpoint or the request id.
    const reason = `provider answered ${status}${withoutInternals(server, error.requestID)}`;
    switch (true) {
      case status === 401:
        // The server's text is left out on purpose: it echoes part of the key.
        return new EngineError(`OPENAI_API_KEY rejected (401): check the key is valid and not revoked${requestId}`, {
          retryable: false,
          reason: 'provider answered 401: the server\'s API key was rejected',
        });
      case status === 403:
        return new EngineError(
          `OpenAI refused access (403): check the key's project may use model${model} and the country is supported${server}${requestId}`,
          { retryable: false, reason },
        );
      case status === 404:
        return new EngineError(
          `OpenAI answered 404 at ${context.endpoint}: check WHISPER_MODEL${model} and OPENAI_BASE_URL${server}${requestId}`,
          { retryable: false, reason },
        );
      case status === 429 && error.code === 'insufficient_quota':
        // Retrying cannot help until someone adds credit.
        return new EngineError(`OpenAI quota exhausted (429 insufficient_quota): check the account's billing${requestId}`, {
          retryable: false,
          reason: 'provider answered 429: the server\'s quota is exhausted',
        });
      case status === 429:
        return new EngineError(`OpenAI rate limit hit (429) after ${attempts}: set ENGINE_CONCURRENCY to the account's limit, or raise it${server}${requestId}`, {
          retryable: true,
          status,
          overload: true,
          retryAfterMs: retryAfterMs(error),
          reason,
        });
      case status >= 500 || status === 408 || status === 409:
        return new EngineError(`OpenAI server error (${status}) after ${attempts}${server}${requestId}`, {
          retryable: true,
          status,
          // 502/503/504 and 408 say "too busy"; a 500 is a failure of the request itself.
          overload: status !== 500 && status !== 409,
          retryAfterMs: retryAfterMs(error),
          reason,
        });
      default:
        return new EngineError(`OpenAI rejected the request (${status})${server}${requestId}`, { retryable: false, status, reason });
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return new EngineError(`OpenAI request failed: ${redact(message, context.apiKey)}`, { retryable: true, reason: 'the request to the transcription provider failed' });
}

/** The provider's Retry-After (seconds or an HTTP date; OpenAI also sends retry-after-ms), in ms. */
function retryAfterMs(error: APIError): number | undefined {
  const headers = error.headers as Headers | Record<string, string> | undefined;
  const read = (name: string) => (headers instanceof Headers ? headers.get(name) : headers?.[name]) ?? undefined;
  const ms = Number(read('retry-after-ms'));
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = read('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function isAudioTooShort(error: unknown): boolean {
  return (
    error instanceof APIError &&
    error.status === 400 &&
    (error.code === 'audio_too_short' || /audio (file )?is too short/i.test(String(errorBody(error)?.message ?? '')))
  );
}

function errorBody(error: APIError): { message?: unknown } | undefined {
  return typeof error.error === 'object' && error.error !== null ? (error.error as { message?: unknown }) : undefined;
}

/** `: <the server's explanation>`, shortened and with anything key-like removed; empty when there is none. */
function serverMessage(error: APIError, apiKey: string): string {
  const message = errorBody(error)?.message;
  if (typeof message !== 'string' || message.trim() === '') return '';
  const clean = redact(message.trim(), apiKey);
  return `: ${clean.length > SERVER_MESSAGE_MAX ? `${clean.slice(0, SERVER_MESSAGE_MAX)}…` : clean}`;
}

/** Longest provider reason passed to a client: enough for "model x does not exist", not for a pasted page. */
const MAX_CLIENT_REASON = 200;

/**
 * The provider's words for a client, with everything that could name the inside of a deployment taken out: URLs,
 * host names and host:port, IP addresses, request ids and other long opaque tokens (ids, keys, hashes).
 */
function withoutInternals(text: string, requestId: string | null | undefined): string {
  let out = requestId ? text.split(requestId).join('[request id]') : text;
  out = out.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>)]+/gi, '[url]');
  out = out.replace(/\b(?:req|request|reqid|request_id|request-id|x-request-id|trace|traceid)[\s:=#_-]*[A-Za-z0-9][A-Za-z0-9_-]{3,}/gi, '[request id]');
  out = out.replace(/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, '[address]');
  out = out.replace(/\b(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}\b/gi, '[address]');
  out = out.replace(/\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*(?::\d+)?\b/gi, (host) => (/\.(?:wav|mp3|webm|ogg|json)$/i.test(host) ? host : '[host]'));
  out = out.replace(/\b[a-z0-9-]+:\d{2,5}\b/gi, '[host]');
  out = out.replace(/\b[A-Za-z0-9+/_-]{24,}={0,2}/g, '[id]');
  return out.length > MAX_CLIENT_REASON ? `${out.slice(0, MAX_CLIENT_REASON)}…` : out;
}

function redact(text: string, apiKey: string): string {
  let out = apiKey ? text.split(apiKey).join('[key]') : text;
  out = out.replace(/\bsk-[A-Za-z0-9_*.-]{3,}/g, '[key]');
  return out.replace(/\/\/[^/@\s]+@/g, '//'); // credentials inside URLs
}

/** The system error code under a fetch failure (ECONNREFUSED, ENOTFOUND, …), else the innermost message. */
function connectionCode(error: unknown): string {
  let current: unknown = error;
  let innermost = 'connection failed';
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
    if (depth > 0 && current.message) innermost = current.message;
    current = current.cause;
  }
  return innermost;
}

/** The base URL without credentials or query, safe for messages. */
function describeEndpoint(baseURL: string): string {
  try {
    const url = new URL(baseURL);
    return `${url.origin}${url.pathname.replace(/\/$/, '')}`;
  } catch {
    return 'the configured OPENAI_BASE_URL';
  }
}

/**
 * Whether `model` answers verbose_json (segments with no_speech_prob, words): whisper-1 and the open Whisper servers
 * do; OpenAI's gpt-4o transcription models answer json or text only (their results' words are interpolated).
 */
export function answersVerboseJson(model: string): boolean {
  return !/^gpt-4o/i.test(model);
}

/** Whisper takes ISO-639-1 codes: a session's "en-US" becomes "en". */
function toIsoLanguage(language: string): string {
  return language.split(/[-_]/)[0]!.toLowerCase();
}
