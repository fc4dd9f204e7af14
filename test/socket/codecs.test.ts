// Every start_session format end to end: a real server (memory and Redis stores), a real socket.io-client, the openai
// engine against the local stub, which records the PCM each segment uploads. Fixtures made by opusenc/ffmpeg/sox.
// One segment per session (long SEGMENT_MAX_MS and SILENCE_MS): the upload is all the audio the server decoded.
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createStreamDecoder, type StreamFormat } from '../../src/audio/codecs/index.js';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { correlation, cutAt, decodeAll, samples } from '../audio/codecs/helpers.js';
import { codecFixtures } from '../audio/codecs/fixtures.js';
import { connect, createStore, STORE_KINDS, startServer, type StoreKind, type TestClient } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { sendChunks, startSession } from '../support/pipeline.js';
import type { BufferStore } from '../../src/store/buffer-store.js';

const ONE_SEGMENT = { SEGMENT_MAX_MS: '60000', SEGMENT_MIN_MS: '500', SILENCE_MS: '20000', MAX_BUFFER_MS: '120000', AUDIO_RATE_LIMIT: '0' };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(store: StoreKind | BufferStore, stub?: OpenAIStub) {
  const engineStub = stub ?? (await startOpenAIStub());
  if (!stub) cleanups.push(() => engineStub.close());
  const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: engineStub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
  const server = await startServer({ store, engine, env: ONE_SEGMENT });
  cleanups.push(() => server.close());
  return { stub: engineStub, server };
}

async function client(url: string): Promise<TestClient> {
  const c = await connect(url);
  cleanups.push(() => c.close());
  return c;
}

/** The file's bytes, the session's rate and the PCM the server should get (an uninterrupted decode, flushed). */
async function streamOf(format: StreamFormat) {
  const f = codecFixtures();
  const bytes = { pcm_s16le: f.pcm16k, mulaw: f.mulaw, alaw: f.alaw, ogg_opus: f.ogg, webm_opus: f.webmLive }[format];
  const sampleRate = format === 'mulaw' || format === 'alaw' ? 8000 : 16000;
  const decoder = await createStreamDecoder(format, { sampleRate });
  const expected = decodeAll(decoder, [bytes]);
  decoder.close();
  return { bytes, sampleRate, expected };
}

/** Byte chunks of about `size` each. */
function evenly(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, Math.min(bytes.length, at + size)));
  return out;
}

const ms = (pcm: Buffer, rate: number) => (pcm.length / 2 / rate) * 1000;

describe.each(STORE_KINDS)('audio formats end to end, %s store', (storeKind) => {
  it.each(['mulaw', 'alaw', 'ogg_opus', 'webm_opus'] as const)('%s: the engine gets PCM of the stream, results come back', async (format) => {
    const f = codecFixtures();
    const { stub, server } = await setup(storeKind);
    const c = await client(server.url);
    const { bytes, sampleRate, expected } = await streamOf(format);
    const start = await c.call('start_session', { format });
    expect(start).toMatchObject({ ok: true, sample_rate: sampleRate });
    // 100 ms of G.711 is 800 bytes; Opus chunks of 700 bytes (≈ 230 ms at 24 kbit/s) cut pages and clusters anywhere.
    const acks = await sendChunks(c, start.session_id, evenly(bytes, format === 'mulaw' || format === 'alaw' ? 800 : 700));
    expect(acks.every((a) => a.ok)).toBe(true);
    // buffered_ms counts decoded audio: at the end, all of it (no segment was cut yet).
    expect(acks.at(-1)!.buffered_ms).toBeGreaterThan(ms(f.pcm16k, 16000) - 100);
    const end = await c.call('end_session', { session_id: start.session_id });
    expect(end).toMatchObject({ ok: true, segments: 1, text: 'segment 0' });
    expect(c.results.map((r) => r.text)).toEqual(['segment 0']);

    expect(stub.uploads).toHaveLength(1);
    const upload = stub.uploads[0]!;
    expect(upload.sampleRate).toBe(sampleRate);
    // Byte for byte what the stream decodes to, however it was cut into chunks.
    expect(upload.pcm.equals(expected)).toBe(true);
    expect(Math.abs(end.duration_ms - ms(expected, sampleRate))).toBeLessThanOrEqual(1);
    // And it is the source speech: G.711 as sox decodes it; Opus close to the 16 kHz source, about as long.
    if (format === 'mulaw') expect(upload.pcm.equals(f.mulawRef)).toBe(true);
    else if (format === 'alaw') expect(upload.pcm.equals(f.alawRef)).toBe(true);
    else {
      expect(Math.abs(ms(upload.pcm, 16000) - ms(f.pcm16k, 16000))).toBeLessThan(30);
      expect(correlation(samples(upload.pcm), samples(f.pcm16k), 480)).toBeGreaterThan(0.9);
    }
  });

  it('chunks cut at random byte offsets give the same uploaded PCM', async () => {
    const { stub, server } = await setup(storeKind);
    const c = await client(server.url);
    const streams = { mulaw: await streamOf('mulaw'), ogg_opus: await streamOf('ogg_opus'), webm_opus: await streamOf('webm_opus') };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('mulaw', 'ogg_opus', 'webm_opus' as const),
        fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 40 }),
        async (format, offsets) => {
          const { bytes, expected } = streams[format];
          const chunks = cutAt(bytes, offsets).filter((chunk) => chunk.length > 0).map((chunk) => Buffer.from(chunk));
          const id = await startSession(c, { format });
          const acks = await sendChunks(c, id, chunks);
          expect(acks.filter((a) => !a.ok)).toEqual([]);
          const uploads = stub.uploads.length;
          const end = await c.call('end_session', { session_id: id });
          expect(end.ok).toBe(true);
          expect(stub.uploads.slice(uploads).map((u) => u.pcm.equals(expected))).toEqual([true]);
        },
      ),
      { numRuns: 4 },
    );
  });

  it('a resend of an acknowledged chunk is a duplicate, not decoded again', async () => {
    const { stub, server } = await setup(storeKind);
    const c = await client(server.url);
    const { bytes, expected } = await streamOf('ogg_opus');
    const chunks = evenly(bytes, 500);
    const id = await startSession(c, { format: 'ogg_opus' });
    await sendChunks(c, id, chunks.slice(0, 5));
    const again = await c.call('audio_chunk', { session_id: id, seq: 3, chunk: chunks[3] });
    expect(again).toMatchObject({ ok: true, seq: 3, duplicate: true });
    await sendChunks(c, id, chunks.slice(5), 5);
    await c.call('end_session', { session_id: id });
    expect(stub.uploads[0]!.pcm.equals(expected)).toBe(true);
  });

  it('AUDIO_DECODE_FAILED: garbage in an ogg_opus session changes nothing; the session goes on and ends with what it decoded', async () => {
    const { stub, server } = await setup(storeKind);
    const c = await client(server.url);
    const { bytes } = await streamOf('ogg_opus');
    const pages = oggPages(bytes);
    expect(pages.length).toBeGreaterThan(4);
    const id = await startSession(c, { format: 'ogg_opus' });
    const good = pages.slice(0, 3);
    expect((await sendChunks(c, id, good)).every((a) => a.ok)).toBe(true);
    const before = await server.store.getSession(id);

    const garbage = Buffer.from('this is not an Ogg page, nor audio of any kind'.repeat(4));
    const refused = await c.call('audio_chunk', { session_id: id, seq: 3, chunk: garbage });
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatchObject({ code: 'AUDIO_DECODE_FAILED', retryable: false });
    expect(refused.error.message).toMatch(/Ogg Opus/);
    // Nothing appended for it: same bytes, same next seq.
    expect(await server.store.getSession(id)).toEqual(before);

    // The stream goes on at the next good bytes, under the seq the refused chunk had.
    expect(await c.call('audio_chunk', { session_id: id, seq: 3, chunk: pages[3] })).toMatchObject({ ok: true, seq: 3 });
    const end = await c.call('end_session', { session_id: id });
    expect(end.ok).toBe(true);
    const decoder = await createStreamDecoder('ogg_opus', { sampleRate: 16000 });
    const decodedBefore = decodeAll(decoder, pages.slice(0, 4));
    decoder.close();
    expect(stub.uploads[0]!.pcm.equals(decodedBefore)).toBe(true);
    expect(Math.abs(end.duration_ms - ms(decodedBefore, 16000))).toBeLessThanOrEqual(1);
  });
});

describe('cross-node resume mid-stream (two servers, one Redis)', () => {
  it.each(['ogg_opus', 'webm_opus'] as const)('%s: the second node continues the stream after the last acknowledged chunk', async (format) => {
    const prefix = `test:${randomUUID()}:`;
    const stub = await startOpenAIStub();
    cleanups.push(() => stub.close());
    const storeA = await createStore('redis', prefix);
    const storeB = await createStore('redis', prefix);
    cleanups.push(() => storeA.close(), () => storeB.close());
    const a = await setup(storeA, stub);
    const b = await setup(storeB, stub);
    const { bytes, expected } = await streamOf(format);
    const chunks = evenly(bytes, 600);
    const half = Math.floor(chunks.length / 2);

    const first = await client(a.server.url);
    const start = await first.call('start_session', { format });
    expect((await sendChunks(first, start.session_id, chunks.slice(0, half))).every((ack) => ack.ok)).toBe(true);
    first.close();

    const second = await client(b.server.url);
    const resumed = await second.call('start_session', { session_id: start.session_id, resume_token: start.resume_token, format });
    expect(resumed).toMatchObject({ ok: true, resumed: true, next_seq: half });
    const acks = await sendChunks(second, start.session_id, chunks.slice(half), half);
    expect(acks.filter((ack) => !ack.ok)).toEqual([]);
    const end = await second.call('end_session', { session_id: start.session_id });
    expect(end.ok).toBe(true);

    // Node B decoded from node A's stored state: the same number of samples as one uninterrupted decode, and the
    // audio after the move close to it (a restored libopus converges within its pre-roll).
    expect(stub.uploads).toHaveLength(1);
    const got = samples(stub.uploads[0]!.pcm);
    const want = samples(expected);
    expect(got.length).toBe(want.length);
    expect(Math.abs(end.duration_ms - ms(expected, 16000))).toBeLessThanOrEqual(1);
    let signal = 0;
    let noise = 0;
    for (let i = 0; i < want.length; i++) {
      signal += want[i]! ** 2;
      noise += (want[i]! - got[i]!) ** 2;
    }
    expect(10 * Math.log10(signal / Math.max(1, noise))).toBeGreaterThan(30);
  });
});

describe.each(STORE_KINDS)('decoded appends are fenced, %s store', (storeKind) => {
  it('an append carrying an older claim writes neither audio nor decoder state', async () => {
    const store = await createStore(storeKind);
    cleanups.push(() => store.close());
    const id = randomUUID();
    await store.openSession(id, { format: 'ogg_opus', sample_rate: 16000, channels: 1 });
    const old = await store.claimSession(id, 10_000);
    const write = { continuation: new Uint8Array([1, 2, 3]), fence: old };
    expect(await store.append(id, 0, Buffer.alloc(320), 1e9, write)).toMatchObject({ status: 'appended' });
    expect((await store.readDecoder(id))!.continuation).toEqual(Buffer.from([1, 2, 3]));
    await store.claimSession(id, 10_000);
    expect(await store.append(id, 1, Buffer.alloc(320), 1e9, { continuation: new Uint8Array([9]), fence: old })).toEqual({ status: 'fenced' });
    expect(await store.readDecoder(id)).toEqual({ nextSeq: 1, continuation: Buffer.from([1, 2, 3]) });
    expect((await store.getSession(id))!.receivedBytes).toBe(320);
    await store.endSession(id);
    expect((await store.readDecoder(id))!.continuation).toBeUndefined();
  });
});

/** The Ogg pages of a stream, each a whole page (cut where the next "OggS" capture pattern starts). */
function oggPages(bytes: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let at = bytes.indexOf('OggS'); at >= 0; at = bytes.indexOf('OggS', at + 4)) starts.push(at);
  return starts.map((s, i) => bytes.subarray(s, starts[i + 1] ?? bytes.length));
}
