// Resume tokens: the secret a new session's ack carries, proving ownership when the session is resumed from another
// connection. The store keeps only its SHA-256, so a leaked store snapshot cannot resume anyone's session.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface ResumeToken {
  /** Sent once, in the new session's ack. */
  token: string;
  /** Kept with the session. */
  hash: string;
}

function hashOf(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** 32 random bytes, base64url. */
export function newResumeToken(): ResumeToken {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashOf(token).toString('base64url') };
}

/** Constant-time check of a presented token against the stored hash; false for anything missing or malformed. */
export function resumeTokenMatches(storedHash: string | undefined, presented: unknown): boolean {
  if (typeof storedHash !== 'string' || typeof presented !== 'string') return false;
  const expected = Buffer.from(storedHash, 'base64url');
  const given = hashOf(presented);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
