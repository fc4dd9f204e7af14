// Client tokens on their own: issue, redeem once, expiry, tampering, a foreign or retired secret, rotation.
import { describe, expect, it } from 'vitest';
import { createClientTokens } from '../../src/auth/client-tokens.js';
import { createMemoryReplayGuard } from '../../src/auth/replay-guard.js';

const SECRET = 'a'.repeat(32) + '-first-secret';
const OLD_SECRET = 'b'.repeat(32) + '-older-secret';

function tokens(secrets = [SECRET], now = () => Date.now()) {
  return createClientTokens({ secrets, replayGuard: createMemoryReplayGuard(now), now });
}

describe('client tokens', () => {
  it('redeem returns the limits the token was issued with, and expires_at is expires_in_s ahead', async () => {
    const t = tokens();
    const before = Date.now();
    const { token, expires_at } = await t.issue({ expiresInS: 60, maxSessionMs: 90_000, maxSessions: 2, language: 'en', model: 'whisper-1' });
    const expiresAt = Date.parse(expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 60_000);
    expect(expiresAt).toBeLessThanOrEqual(before + 61_000);
    const grant = await t.redeem(token);
    expect(grant).toMatchObject({ maxSessionMs: 90_000, maxSessions: 2, language: 'en', model: 'whisper-1' });
    expect(grant.tokenId).toMatch(/^[\w-]{20,}$/);
    // The token carries no secret: its payload is readable and holds only ids, times and limits.
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(Object.keys(payload).sort()).toEqual(['aud', 'exp', 'iat', 'jti', 'language', 'max_session_ms', 'max_sessions', 'model']);
  });

  it('a second redeem of the same token is TOKEN_REPLAYED', async () => {
    const t = tokens();
    const { token } = await t.issue({ expiresInS: 60 });
    await t.redeem(token);
    await expect(t.redeem(token)).rejects.toMatchObject({ code: 'TOKEN_REPLAYED', message: expect.stringMatching(/fresh token/) });
  });

  it('an expired token is TOKEN_EXPIRED', async () => {
    let clock = Date.now();
    const t = tokens([SECRET], () => clock);
    const { token } = await t.issue({ expiresInS: 5 });
    clock += 6_000;
    await expect(t.redeem(token)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED', message: expect.stringMatching(/POST \/v1\/tokens/) });
  });

  it('a tampered payload, a tampered signature and a token signed elsewhere are TOKEN_INVALID', async () => {
    const t = tokens();
    const { token } = await t.issue({ expiresInS: 60, maxSessions: 1 });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const raised = Buffer.from(JSON.stringify({ ...claims, max_sessions: 100 })).toString('base64url');
    await expect(t.redeem(`${header}.${raised}.${signature}`)).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
    const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
    await expect(t.redeem(`${header}.${payload}.${flipped}`)).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
    const foreign = await tokens(['c'.repeat(40)]).issue({ expiresInS: 60 });
    await expect(t.redeem(foreign.token)).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    await expect(t.redeem(unsigned)).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
    // The untouched token still works: the failures above did not claim it.
    await expect(t.redeem(token)).resolves.toMatchObject({ maxSessions: 1 });
  });

  it('rotation: tokens signed with the old secret verify while it is listed second, and stop when it is removed', async () => {
    const old = await tokens([OLD_SECRET]).issue({ expiresInS: 60 });
    const rotated = tokens([SECRET, OLD_SECRET]);
    await expect(rotated.redeem(old.token)).resolves.toBeTruthy();
    const fresh = await rotated.issue({ expiresInS: 60 });
    await expect(tokens([SECRET]).redeem(fresh.token)).resolves.toBeTruthy();
    const again = await tokens([OLD_SECRET]).issue({ expiresInS: 60 });
    await expect(tokens([SECRET]).redeem(again.token)).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
  });
});
