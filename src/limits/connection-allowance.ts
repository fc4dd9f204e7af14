// What one connection may do, from the server's limits and its client token's: sessions open at once, audio per
// session, the language and model its sessions must use, and chunks awaiting their ack at once.
import type { ConnectionGrant } from '../auth/handshake-auth.js';

export interface ConnectionAllowance {
  /** Sessions open at once on this connection. */
  maxSessions: number;
  /** The setting that set maxSessions, named in the refusal. */
  maxSessionsSource: string;
  /** The token's max_session_ms (lowers MAX_SESSION_MS), if any. */
  maxSessionMs?: number;
  /** The token pins the sessions' language / model. */
  language?: string;
  model?: string;
  /** The token narrows the models its sessions may name (within ALLOWED_MODELS). */
  models?: readonly string[];
  /** The token's keyterms, ahead of each session's own. */
  keyterms?: readonly string[];
  /** audio_chunk events received and not yet answered by the store; above maxInFlight they are refused unread. */
  inFlight: number;
  maxInFlight: number;
}

export function allowanceFor(grant: ConnectionGrant, server: { maxSessionsPerConnection: number; maxChunksInFlight: number }): ConnectionAllowance {
  const token = grant.token;
  const tokenLower = token?.maxSessions !== undefined && token.maxSessions < server.maxSessionsPerConnection;
  const allowance: ConnectionAllowance = {
    maxSessions: tokenLower ? token!.maxSessions! : server.maxSessionsPerConnection,
    maxSessionsSource: tokenLower ? "the token's max_sessions" : 'MAX_SESSIONS_PER_CONNECTION',
    inFlight: 0,
    maxInFlight: server.maxChunksInFlight,
  };
  if (token?.maxSessionMs !== undefined) allowance.maxSessionMs = token.maxSessionMs;
  if (token?.language !== undefined) allowance.language = token.language;
  if (token?.model !== undefined) allowance.model = token.model;
  if (token?.models !== undefined) allowance.models = token.models;
  if (token?.keyterms !== undefined) allowance.keyterms = token.keyterms;
  return allowance;
}
