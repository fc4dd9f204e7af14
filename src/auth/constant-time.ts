// Compares secrets (AUTH_TOKEN, API keys, OPS_TOKEN) in time that depends on neither their content nor their lengths.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Per-process key: the digests compared are unknown to a caller, so even their timing says nothing about the secret. */
const KEY = randomBytes(32);

function digest(value: string): Buffer {
  return createHmac('sha256', KEY).update(value, 'utf8').digest();
}

/**
 * True when `given` equals `expected`. Both sides are hashed to 32 bytes first, so a length mismatch takes as long as
 * any other mismatch (timingSafeEqual alone throws, and a length check before it returns early).
 */
export function constantTimeEquals(expected: string, given: string): boolean {
  return timingSafeEqual(digest(expected), digest(given));
}
