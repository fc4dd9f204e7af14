// Checks a backend's `Authorization: Bearer <API key>` against API_KEYS in constant time (several keys at once, for rotation).
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** True when `header` is "Bearer <key>" for one of `keys`. Digests make every comparison the same length. */
export function createApiKeyCheck(keys: readonly string[]): (header: string | undefined) => boolean {
  const digests = keys.map(digest);
  return (header) => {
    if (!header?.startsWith('Bearer ')) return false;
    const given = digest(header.slice('Bearer '.length).trim());
    let match = false;
    // No early exit: which key matched (or that none did) takes the same time.
    for (const key of digests) match = timingSafeEqual(key, given) || match;
    return match;
  };
}
