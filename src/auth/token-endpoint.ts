// POST /v1/tokens on the main port: a backend trades its API key for a short-lived client token to hand to one
// browser or app, so the API key itself never leaves the backend.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { startSessionSchema } from '../protocol/index.js';
import type { AddressRateLimit } from './address-rate-limit.js';
import { createApiKeyCheck } from './api-keys.js';
import { clientAddress } from './client-address.js';
import { sendJson } from '../web-server/json-response.js';
import type { RequestHandler } from '../web-server/request-router.js';
import type { ClientTokens } from './client-tokens.js';

export const TOKEN_PATH = '/v1/tokens';
export const DEFAULT_TOKEN_TTL_S = 60;
/** A token request is a few small fields: anything bigger is not one. */
const MAX_BODY_BYTES = 4096;

function requestSchema(maxTtlS: number) {
  return z.strictObject({
    expires_in_s: z.number().int('expires_in_s must be a whole number').min(1).max(maxTtlS, `expires_in_s may be at most TOKEN_MAX_TTL_S=${maxTtlS}`).optional(),
    max_session_ms: z.number().int('max_session_ms must be a whole number').min(1000, 'max_session_ms must be at least 1000').optional(),
    max_sessions: z.number().int('max_sessions must be a whole number').min(1).max(1000).optional(),
    language: startSessionSchema.shape.language,
    model: startSessionSchema.shape.model,
    /** Narrows the server's ALLOWED_MODELS for this token's sessions. */
    models: z.array(startSessionSchema.shape.model.unwrap()).min(1).max(20).optional(),
    /** Keyterms every session of the connection gets (start_session's bounds). */
    keyterms: startSessionSchema.shape.keyterms,
  });
}


export function createTokenEndpoint(options: { apiKeys: readonly string[]; tokens: ClientTokens; maxTtlS: number; logger?: Logger }): RequestHandler {
  const keyMatches = createApiKeyCheck(options.apiKeys);
  const schema = requestSchema(options.maxTtlS);
  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.logger?.error({ err: error }, 'token endpoint failed');
      if (!response.headersSent) send(response, 500, { error: 'internal_error', message: 'Could not issue a token; try again.' });
      else response.destroy();
    });
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      send(response, 405, { error: 'method_not_allowed', message: `${request.method} is not allowed: POST ${TOKEN_PATH} with "Authorization: Bearer <API key>"` });
      return;
    }
    if (!keyMatches(request.headers.authorization)) {
      request.resume();
      response.setHeader('www-authenticate', 'Bearer');
      send(response, 401, { error: 'unauthorized', message: 'Pass one of the server API_KEYS as "Authorization: Bearer <API key>"; call this from your backend, never from a browser' });
      return;
    }
    const body = await readJson(request);
    if (body instanceof Error) {
      send(response, body.message.startsWith('413') ? 413 : 400, { error: 'invalid_request', message: body.message.slice(4) });
      return;
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
      send(response, 400, { error: 'invalid_request', message: `Invalid token request: ${problems.join('; ')}` });
      return;
    }
    const p = parsed.data;
    const issued = await options.tokens.issue({
      expiresInS: p.expires_in_s ?? Math.min(DEFAULT_TOKEN_TTL_S, options.maxTtlS),
      maxSessionMs: p.max_session_ms,
      maxSessions: p.max_sessions,
      language: p.language,
      model: p.model,
      models: p.models,
      keyterms: p.keyterms,
    });
    send(response, 200, issued);
  }
}

/** Answers 429 past the address's TOKEN_REQUESTS_PER_MINUTE, before the API key is checked (so guessing keys is limited too). */
export function rateLimitedTokens(handler: RequestHandler, limit: AddressRateLimit, options: { trustProxy: boolean; logger?: Logger }): RequestHandler {
  return (request, response) => {
    const address = clientAddress(request.socket.remoteAddress, request.headers, options.trustProxy);
    limit.take(address).then(
      (waitMs) => {
        if (waitMs === undefined) return handler(request, response);
        request.resume();
        response.setHeader('retry-after', String(Math.ceil(waitMs / 1000)));
        send(response, 429, {
          error: 'rate_limited',
          message: `More than ${limit.perMinute} token requests a minute from this address (${limit.setting}); retry after ${Math.ceil(waitMs / 1000)} s`,
          limit: limit.setting,
          per_minute: limit.perMinute,
          retry_after_ms: waitMs,
        });
      },
      (error: unknown) => {
        // The limiter failed, not the request: serve it rather than refuse every backend.
        options.logger?.warn({ err: error }, `${limit.setting}: the rate limiter failed; request let through`);
        handler(request, response);
      },
    );
  };
}

/** The parsed JSON body ({} when empty), or an Error whose message starts with the status to answer. */
async function readJson(request: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of request as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > MAX_BODY_BYTES) return new Error(`413 The body is over ${MAX_BODY_BYTES} bytes; a token request is a small JSON object`);
    parts.push(part);
  }
  const text = Buffer.concat(parts).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return new Error('400 The body is not JSON; send e.g. {"expires_in_s": 60}');
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  // A token is a credential: no cache may keep it.
  sendJson(response, status, body, { 'cache-control': 'no-store' });
}
