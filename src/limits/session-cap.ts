// A hard bound on the sessions one process serves (MAX_SESSIONS_PER_PROCESS), for deployments that size their nodes
// from a benchmark of their own (BENCHMARKS.md, "Per-core capacity in the steady state") rather than trusting the
// event-loop guard alone, which brakes a collapse but lets a slow overload in.
import { OverloadedError } from '../errors/server-errors.js';

/** Sessions end over minutes, not milliseconds: a retry sooner than this would only be refused again. */
const RETRY_AFTER_MS = 5000;

/** Why a new session must wait when `activeSessions` already fill the cap; undefined when there is room or no cap (0). */
export function sessionCapRefusal(activeSessions: number, maxSessions: number): OverloadedError | undefined {
  if (maxSessions === 0 || activeSessions < maxSessions) return undefined;
  return new OverloadedError(
    `this server already serves ${activeSessions} sessions, the most it takes (MAX_SESSIONS_PER_PROCESS=${maxSessions}); retry later or on another node`,
    { retryAfterMs: RETRY_AFTER_MS },
  );
}
