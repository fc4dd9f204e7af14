// Short-lived client tokens: signed JWTs (HS256) a backend mints with its API key and hands to one browser or app,
// carrying that client's limits; verified at the Socket.IO handshake, each usable for one connection only.
import { createHash, randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { ConnectErrorCode } from '../protocol/index.js';
import type { ReplayGuard } from './replay-guard.js';

/** What a client token lets its connection do; absent fields mean "the server's own limit". */
export interface TokenGrant {
  /** The token's id (jti): logged instead of the token, never reused. */
  tokenId: string;
  /** Most audio one session may hold, in ms. */
  maxSessionMs?: number;
  /** Most sessions open at once on the connection. */
  maxSessions?: number;
  /** Sessions must use this language (and get it by default). */
  language?: string;
  /** Sessions must use this model (and get it by default). */
  model?: string;
  /** Sessions may use only these of the server's ALLOWED_MODELS. */
  models?: string[];
  /** Keyterms every session of the connection gets ahead of its own. */
  keyterms?: string[];
}

export interface IssueOptions {
  expiresInS: number;
  maxSessionMs?: number;
  maxSessions?: number;
  language?: string;
  model?: string;
  models?: string[];
  keyterms?: string[];
}

export interface IssuedToken {
  token: string;
  /** When the token stops being accepted for a new connection (ISO 8601). */
  expires_at: string;
}

/** A refused token: `code` goes to connect_error's data.code, the message says what to do. */
export class TokenError extends Error {
  constructor(
    readonly code: ConnectErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

const AUDIENCE = 'transcription';
const ALGORITHM = 'HS256';

/** A short public name for a secret (the `kid` header), so verification picks the right one during rotation. */
function keyId(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url').slice(0, 8);
}

/** True when `value` has the shape of a JWT (three base64url parts), i.e. it is a client token, not AUTH_TOKEN. */
export function looksLikeClientToken(value: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(value);
}

export interface ClientTokens {
  issue(options: IssueOptions): Promise<IssuedToken>;
  /** Verifies signature and expiry, then claims the token's id so it cannot connect twice; throws TokenError. */
  redeem(token: string): Promise<TokenGrant>;
}

/** `secrets[0]` signs; every secret verifies, so a new secret can be put first while tokens signed by the old one expire. */
export function createClientTokens(options: { secrets: string[]; replayGuard: ReplayGuard; now?: () => number }): ClientTokens {
  const { replayGuard } = options;
  const now = options.now ?? Date.now;
  if (options.secrets.length === 0) throw new Error('createClientTokens needs at least one secret (TOKEN_SECRET)');
  const keys = new Map(options.secrets.map((secret) => [keyId(secret), new TextEncoder().encode(secret)]));
  const signingKid = keyId(options.secrets[0]!);
  const signingKey = keys.get(signingKid)!;

  return {
    async issue(issue) {
      const issuedAtS = Math.floor(now() / 1000);
      const expiresAtS = issuedAtS + issue.expiresInS;
      const claims: JWTPayload = {};
      if (issue.maxSessionMs !== undefined) claims.max_session_ms = issue.maxSessionMs;
      if (issue.maxSessions !== undefined) claims.max_sessions = issue.maxSessions;
      if (issue.language !== undefined) claims.language = issue.language;
      if (issue.model !== undefined) claims.model = issue.model;
      if (issue.models !== undefined) claims.models = issue.models;
      if (issue.keyterms !== undefined) claims.keyterms = issue.keyterms;
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: ALGORITHM, kid: signingKid })
        .setJti(randomBytes(16).toString('base64url'))
        .setAudience(AUDIENCE)
        .setIssuedAt(issuedAtS)
        .setExpirationTime(expiresAtS)
        .sign(signingKey);
      return { token, expires_at: new Date(expiresAtS * 1000).toISOString() };
    },

    async redeem(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(
          token,
          (header) => {
            const key = header.kid === undefined ? undefined : keys.get(header.kid);
            // Signed with a secret this server does not hold (retired, or another deployment's): same as forged.
            if (!key) throw new joseErrors.JWSSignatureVerificationFailed();
            return key;
          },
          { algorithms: [ALGORITHM], audience: AUDIENCE, requiredClaims: ['jti', 'exp'], currentDate: new Date(now()) },
        ));
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) {
          throw new TokenError(ConnectErrorCode.TOKEN_EXPIRED, 'TOKEN_EXPIRED: the client token has expired; ask your backend for a fresh one (POST /v1/tokens) and reconnect with it');
        }
        throw new TokenError(ConnectErrorCode.TOKEN_INVALID, 'TOKEN_INVALID: the client token is not one this server signed (forged, altered or signed with a retired TOKEN_SECRET); ask your backend for a fresh one (POST /v1/tokens)');
      }
      const tokenId = payload.jti!;
      const fresh = await replayGuard.claim(tokenId, payload.exp! * 1000);
      if (!fresh) {
        throw new TokenError(ConnectErrorCode.TOKEN_REPLAYED, 'TOKEN_REPLAYED: this client token was already used for a connection; each connection (and each reconnect) needs a fresh token from your backend (POST /v1/tokens)');
      }
      return grantFrom(tokenId, payload);
    },
  };
}

function grantFrom(tokenId: string, payload: JWTPayload): TokenGrant {
  const grant: TokenGrant = { tokenId };
  if (typeof payload.max_session_ms === 'number') grant.maxSessionMs = payload.max_session_ms;
  if (typeof payload.max_sessions === 'number') grant.maxSessions = payload.max_sessions;
  if (typeof payload.language === 'string') grant.language = payload.language;
  if (typeof payload.model === 'string') grant.model = payload.model;
  if (Array.isArray(payload.models)) grant.models = payload.models.filter((model): model is string => typeof model === 'string');
  // Signed by this server from a checked request: bounded already.
  if (Array.isArray(payload.keyterms)) grant.keyterms = payload.keyterms.filter((term): term is string => typeof term === 'string');
  return grant;
}
