// A stalled store must not cost a second transcription. A real redis-server is frozen (SIGSTOP) while a segment's
// answer is on its way back, so that segment's commit times out; once Redis thaws, the session goes on through the
// resume-aware client. The engine stub records every upload: no stretch of audio may be uploaded twice.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { runResilientSession } from '../deploy/resilient-session.js';
import { startServer, type TestServer } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { ROOT } from '../support/spawn-server.js';

let redis: RedisServer | undefined;
let stub: OpenAIStub | undefined;
let server: TestServer | undefined;
afterEach(async () => {
  if (redis?.process.signalCode === null) redis.process.kill('SIGCONT');
  await server?.close();
  await server?.store.close();
  await stub?.close();
  await redis?.kill();
  redis = stub = server = undefined;
});

/** Where each upload sits in the audio sent, as [start, end) byte ranges of the whole stream. */
function uploadRanges(uploads: Buffer[], whole: Buffer): Array<[number, number]> {
  return uploads.map((pcm) => {
    const at = whole.indexOf(pcm);
    expect(at, 'every upload is an exact slice of the audio sent').toBeGreaterThanOrEqual(0);
    return [at, at + pcm.length];
  });
}

/** hello-with-pauses twice (about 19 s of speech with pauses) in 100 ms chunks, each stretch findable by content. */
function speechChunks(): { whole: Buffer; chunks: Buffer[] } {
  const speech = decodeWavToPcm16(readFileSync(path.join(ROOT, 'test/fixtures/hello-with-pauses.wav')), 16000).pcm;
  const whole = Buffer.concat([speech, speech]);
  // A ±1 dither of its own at every sample (far below the VAD's level) makes each stretch findable by its content.
  let seed = 0x2545f491;
  for (let at = 0; at < whole.length; at += 2) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    whole.writeInt16LE(Math.max(-32768, Math.min(32767, whole.readInt16LE(at) + (seed & 1 ? 1 : -1))), at);
  }
  const chunks: Buffer[] = [];
  for (let at = 0; at < whole.length; at += 3200) chunks.push(whole.subarray(at, at + 3200));
  return { whole, chunks };
}

/** Every upload covered audio no other upload covered. */
function expectNoAudioUploadedTwice(uploads: Buffer[], whole: Buffer): void {
  const ranges = uploadRanges(uploads, whole).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    expect(ranges[i]![0], `upload ${i} starts after the one before ends`).toBeGreaterThanOrEqual(ranges[i - 1]![1]);
  }
}

describe('a Redis stall while a segment is being transcribed', () => {
  it('commits the answer in hand once Redis is back, and never uploads the same audio twice', async () => {
    redis = await startRedisServer();
    const frozen = redis.process;
    let thawed: Promise<void> | undefined;
    // The second upload freezes Redis before its answer leaves: the commit that follows meets the frozen store.
    stub = await startOpenAIStub({
      respond: (_upload, index) => {
        if (index === 1) {
          frozen.kill('SIGSTOP');
          thawed = new Promise((resolve) => setTimeout(() => resolve(void frozen.kill('SIGCONT')), 3000));
        }
        return { text: `segment ${index}`, delayMs: 200 };
      },
    });
    // Commands give up after 500 ms, as they would against a stalled primary.
    const store = await createRedisStore({ url: redis.url, keyPrefix: 'stall:', ttlS: 600, commandTimeoutMs: 500 });
    let commitFailures = 0;
    const commit = store.commitSegment.bind(store);
    store.commitSegment = async (...args) => {
      try {
        return await commit(...args);
      } catch (error) {
        commitFailures++;
        throw error;
      }
    };
    const engine = createOpenAIEngine({ apiKey: 'sk-test-stall', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
    server = await startServer({ store, engine, env: { SEGMENT_MAX_MS: '2000', SEGMENT_MIN_MS: '500' } });

    const { whole, chunks } = speechChunks();
    const run = await runResilientSession({ url: server.url, chunks, paceMs: 20, timeoutMs: 50_000 });
    await thawed;

    expect(run.end).toMatchObject({ ok: true });
    expect(commitFailures, 'the stall made a commit fail: the case under test happened').toBeGreaterThan(0);
    const numbers = [...run.results.keys()].sort((a, b) => a - b);
    expect(numbers).toEqual(numbers.map((_, i) => i));

    expectNoAudioUploadedTwice(stub.uploads.map((u) => u.pcm), whole);
    expect(stub.uploads.length).toBe(run.results.size);
  }, 90_000);

  // The segment's answer comes back while Redis is still frozen (its commit times out too), or just after it thaws
  // (its commit runs behind the late claim, and finds the session fenced by this node's own claim).
  it.each([
    ['times out', 3000],
    ['is fenced by the late claim', 4200],
  ])('a resume whose claim timed out but landed late is this node\'s own: the segment in flight, whose commit %s, is committed, not re-sent', async (_case, answerMs) => {
    redis = await startRedisServer();
    const frozen = redis.process;
    const freeze = (ms: number) => {
      frozen.kill('SIGSTOP');
      return new Promise<void>((resolve) => setTimeout(() => resolve(void frozen.kill('SIGCONT')), ms));
    };
    const thaws: Promise<void>[] = [];
    // Upload 1 takes 2 s; meanwhile a short stall refuses a chunk, so the client resumes on this same node.
    stub = await startOpenAIStub({
      respond: (_upload, index) => {
        if (index === 1) thaws.push(freeze(1800));
        return { text: `segment ${index}`, delayMs: index === 1 ? answerMs : 200 };
      },
    });
    const store = await createRedisStore({ url: redis.url, keyPrefix: 'stall-claim:', ttlS: 600, commandTimeoutMs: 500 });
    // The resume's claim meets a second, longer stall: it times out here, and Redis runs it when it thaws.
    let claims = 0;
    let lateClaims = 0;
    const claim = store.claimSession.bind(store);
    store.claimSession = async (...args) => {
      claims++;
      if (claims === 2) thaws.push(freeze(3000));
      try {
        return await claim(...args);
      } catch (error) {
        if (claims === 2) lateClaims++;
        throw error;
      }
    };
    const engine = createOpenAIEngine({ apiKey: 'sk-test-stall', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
    server = await startServer({ store, engine, env: { SEGMENT_MAX_MS: '2000', SEGMENT_MIN_MS: '500' } });

    const { whole, chunks } = speechChunks();
    const run = await runResilientSession({ url: server.url, chunks, paceMs: 20, timeoutMs: 60_000 });
    await Promise.all(thaws);

    expect(run.end).toMatchObject({ ok: true });
    expect(lateClaims, 'a resume\'s claim timed out during the stall: the case under test happened').toBe(1);
    const numbers = [...run.results.keys()].sort((a, b) => a - b);
    expect(numbers).toEqual(numbers.map((_, i) => i));
    expectNoAudioUploadedTwice(stub.uploads.map((u) => u.pcm), whole);
  }, 90_000);
});
