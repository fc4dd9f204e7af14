// What a client is told when Redis fails: which step failed and that it is retried, never Redis's own words (its
// replies, addresses, client state). Those stay on the error's cause, for the logs and Sentry.
import { afterEach, describe, expect, it } from 'vitest';
import { toWireError } from '../../src/errors/wire-errors.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import type { BufferStore } from '../../src/store/buffer-store.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let redis: RedisServer | undefined;
let store: BufferStore | undefined;
afterEach(async () => {
  await store?.close().catch(() => {});
  await redis?.kill();
  redis = store = undefined;
});

describe('a Redis failure, as the client hears it', () => {
  it('names the failed step and STORE_UNAVAILABLE, and keeps the Redis detail on the cause only', async () => {
    redis = await startRedisServer();
    store = await createRedisStore({ url: redis.url, keyPrefix: 'errors:', ttlS: 60, commandTimeoutMs: 300 });
    const settings = { sample_rate: 16000, format: 'pcm_s16le' as const, language: undefined, model: undefined };
    await store.openSession('s1', settings as never);
    await redis.kill();
    const failure = await store.openSession('s2', settings as never).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure).toBeInstanceOf(Error);
    const wire = toWireError(failure, 'start_session');
    expect(wire).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
    expect(wire.message).toMatch(/^start_session: Buffer store \(Redis\) failed to /);
    for (const internal of ['127.0.0.1', String(new URL(redis.url).port), 'Stream', 'writeable', 'ECONNREFUSED', 'timed out', 'enableOfflineQueue', 'Connection is closed']) {
      expect(wire.message).not.toContain(internal);
    }
    const cause = (failure!.cause as Error | undefined)?.message;
    expect(cause).toBeTruthy();
    expect(wire.message).not.toContain(cause);
  });
});
