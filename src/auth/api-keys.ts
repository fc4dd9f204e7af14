// Checks a backend's `Authorization: Bearer <API key>` against API_KEYS in constant time (several keys at once, for rotation).
import { constantTimeEquals } from './constant-time.js';

/** True when `header` is "Bearer <key>" for one of `keys`. */
export function createApiKeyCheck(keys: readonly string[]): (header: string | undefined) => boolean {
  return (header) => {
    if (!header?.startsWith('Bearer ')) return false;
    const given = header.slice('Bearer '.length).trim();
    let match = false;
    // No early exit: which key matched (or that none did) takes the same time.
    for (const key of keys) match = constantTimeEquals(key, given) || match;
    return match;
  };
}
