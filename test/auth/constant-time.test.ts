// constantTimeEquals: right for equal, unequal, different lengths, empty and non-ASCII secrets, and never throws on a
// length mismatch (timingSafeEqual alone would); the API key check built on it.
import { describe, expect, it } from 'vitest';
import { createApiKeyCheck } from '../../src/auth/api-keys.js';
import { constantTimeEquals } from '../../src/auth/constant-time.js';

describe('constantTimeEquals', () => {
  const secret = 'a-shared-secret-of-24-ch';

  it('equal strings match', () => {
    expect(constantTimeEquals(secret, `${secret}`)).toBe(true);
    expect(constantTimeEquals('', '')).toBe(true);
  });

  it('one character different, at the start, middle or end, does not', () => {
    for (const i of [0, 12, secret.length - 1]) {
      const other = secret.slice(0, i) + (secret[i] === 'x' ? 'y' : 'x') + secret.slice(i + 1);
      expect(constantTimeEquals(secret, other)).toBe(false);
    }
  });

  it('different lengths give false, not an exception: a prefix, an extension, empty on either side', () => {
    expect(constantTimeEquals(secret, secret.slice(0, -1))).toBe(false);
    expect(constantTimeEquals(secret, `${secret}x`)).toBe(false);
    expect(constantTimeEquals(secret, '')).toBe(false);
    expect(constantTimeEquals('', secret)).toBe(false);
    expect(constantTimeEquals(secret, secret.repeat(100))).toBe(false);
  });

  it('compares characters, not bytes: unicode secrets and look-alikes', () => {
    expect(constantTimeEquals('pässwörd-🔑-ключ', 'pässwörd-🔑-ключ')).toBe(true);
    // Same glyph, another encoding (NFC vs NFD): different strings, so no match.
    expect(constantTimeEquals('é'.normalize('NFC'), 'é'.normalize('NFD'))).toBe(false);
    expect(constantTimeEquals('🔑', '🔒')).toBe(false);
    // Malformed UTF-16 (a lone surrogate) is hashed like any string: no exception reaches the handshake.
    expect(() => constantTimeEquals(secret, '\ud800')).not.toThrow();
  });
});

describe('createApiKeyCheck', () => {
  const check = createApiKeyCheck(['backend-key-one', 'backend-key-two-longer']);

  it('takes any listed key as a Bearer token', () => {
    expect(check('Bearer backend-key-one')).toBe(true);
    expect(check('Bearer backend-key-two-longer')).toBe(true);
  });

  it('refuses a missing header, another scheme, a prefix or an extension of a key', () => {
    expect(check(undefined)).toBe(false);
    expect(check('Basic backend-key-one')).toBe(false);
    expect(check('Bearer backend-key')).toBe(false);
    expect(check('Bearer backend-key-one-and-more')).toBe(false);
    expect(check('Bearer ')).toBe(false);
  });
});
