// What finals carry beyond their text, end to end (real server, memory store, the openai engine against the local
// stub answering verbose_json as Whisper does): word timings, language, engine, speech_final, utterance_end, the
// hallucination gate on noise and repetition loops, keyterms in the prompt, and the refusals of bad settings.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { loadSileroSpeechDetector, type SpeechDetector } from '../../src/audio/speech-detector.js';
import { DEFAULT_SPEECH_DBFS } from '../../src/audio/vad.js';
import { pino } from 'pino';
import { TranscriptionClient } from '../../src/client/index.js';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { noopMetrics, type ServerMetrics } from '../../src/metrics/metrics.js';
import type { UtteranceEnd } from '../../src/protocol/index.js';
import { chunksOf, loudPcm, silentPcm } from '../support/audio.js';
import { connect, startServer, until } from '../support/harness.js';
import { startOpenAIStub, STUB_HALLUCINATION, type OpenAIStubOptions } from '../support/openai-stub.js';
import { sendChunks, startSession, streamWhole } from '../support/pipeline.js';

const RATE = 16000;
const hello = decodeWavToPcm16(readFileSync(new URL('../fixtures/hello.wav', import.meta.url)), RATE).pcm;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(stubOptions: OpenAIStubOptions = {}, env: Record<string, string> = {}, model = 'whisper-1', speech?: SpeechDetector) {
  const stub = await startOpenAIStub(stubOptions);
  const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model, maxRetries: 0, timeoutMs: 10_000 });
  const dropped: string[] = [];
  const metrics: ServerMetrics = { ...noopMetrics, transcriptionDropped: (reason) => dropped.push(reason) };
  const server = await startServer({ store: 'memory', engine, metrics, env: { ENGINE_MAX_RETRIES: '0', ...env }, ...(speech ? { speech } : {}) });
  const client = await connect(server.url);
  cleanups.push(() => stub.close(), () => server.close(), () => client.close());
  return { stub, server, client, dropped };
}

/** Broadband noise well above the energy VAD's threshold (what a fan or a bad line sounds like to it). */
function noisePcm(ms: number, seed = 7): Buffer {
  const samples = Math.round((ms * RATE) / 1000);
  const pcm = Buffer.alloc(samples * 2);
  let state = seed;
  for (let i = 0; i < samples; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    pcm.writeInt16LE(((state >>> 16) % 12000) - 6000, i * 2);
  }
  return pcm;
}

/** Where `pcm`'s sound ends (ms): after its last sample above a small level, worked out apart from the server's VAD. */
function soundEndMs(pcm: Buffer): number {
  for (let i = (pcm.length >> 1) - 1; i >= 0; i--) if (Math.abs(pcm.readInt16LE(i * 2)) > 300) return ((i + 1) / RATE) * 1000;
  return 0;
}

describe('word timings, language, engine and speech_final on finals', () => {
  it('whisper-1: every final carries the engine\'s words, in order, inside its segment; pause cuts are speech_final', async () => {
    const { stub, client } = await setup({}, { SEGMENT_MAX_MS: '4000' });
    // Speech, a pause, speech running past the 4 s cap.
    const audio = Buffer.concat([hello.subarray(0, 2 * RATE * 2), silentPcm(1000), loudPcm(5000)]);
    const { end } = await streamWhole(client, audio, { word_timestamps: true });
    expect(end.ok).toBe(true);
    expect(stub.uploads.every((u) => u.responseFormat === 'verbose_json' && u.timestampGranularities.includes('word'))).toBe(true);

    const finals = client.results.filter((r) => r.is_final);
    expect(finals.length).toBeGreaterThanOrEqual(3);
    for (const final of finals) {
      expect(final.words!.length).toBe(final.text.split(/\s+/).length);
      expect(final.words!.map((w) => w.word).join(' ')).toBe(final.text);
      for (const [i, word] of final.words!.entries()) {
        expect(word.start_ms).toBeGreaterThanOrEqual(final.start_ms);
        expect(word.end_ms).toBeLessThanOrEqual(final.end_ms);
        expect(word.end_ms).toBeGreaterThanOrEqual(word.start_ms);
        if (i > 0) expect(word.start_ms).toBeGreaterThanOrEqual(final.words![i - 1]!.end_ms);
      }
      expect(final.words_interpolated).toBeUndefined();
      expect(final).toMatchObject({ language: 'en', engine: 'openai' });
    }
    // The first segment ended at the pause, the next at the 4 s cap, the last with the stream.
    expect(finals.map((f) => f.speech_final)).toEqual([true, ...finals.slice(1, -1).map(() => false), true]);
    expect(finals[1]!.end_ms - finals[1]!.start_ms).toBe(4000);
  });

  it('a client that resumes gets the finals it missed with their words, language, engine and speech_final', async () => {
    const { server } = await setup();
    let client = await connect(server.url);
    const opened = await client.call('start_session', { word_timestamps: true });
    const sessionId = opened.session_id as string;
    // Speech and a pause: the first segment is cut and transcribed while this client is still here.
    await sendChunks(client, sessionId, chunksOf(Buffer.concat([hello.subarray(0, 2 * RATE * 2), silentPcm(1000)]), 100));
    await until(() => client.results.some((r) => r.is_final), 'the first final');
    const live = client.results.find((r) => r.is_final)!;
    expect(live.words!.length).toBeGreaterThan(0);
    client.close();

    client = await connect(server.url);
    cleanups.push(() => client.close());
    expect(await client.call('start_session', { session_id: sessionId, resume_token: opened.resume_token, word_timestamps: true })).toMatchObject({ resumed: true });
    await until(() => client.results.some((r) => r.replayed), 'the replayed final');
    const { replayed, latency_ms: _replayLatency, ...again } = client.results.find((r) => r.replayed)!;
    const { latency_ms: _liveLatency, ...first } = live;
    expect(replayed).toBe(true);
    expect(again).toEqual(first);
    expect(again).toMatchObject({ engine: 'openai', language: 'en', speech_final: true });
  });

  it('without word_timestamps no words are asked for or sent', async () => {
    const { stub, client } = await setup();
    await streamWhole(client, hello);
    expect(stub.uploads[0]!.timestampGranularities).toEqual([]);
    expect(client.results[0]!.words).toBeUndefined();
  });

  it('gpt-4o-transcribe (json only): words are spread over the segment\'s speech and marked interpolated', async () => {
    const { stub, client } = await setup({ respond: () => ({ text: 'hello world again' }) }, { ALLOWED_MODELS: 'gpt-4o-transcribe' }, 'gpt-4o-transcribe');
    const audio = Buffer.concat([silentPcm(500), loudPcm(1500), silentPcm(700)]);
    await streamWhole(client, audio, { word_timestamps: true });
    expect(stub.uploads[0]!.responseFormat).toBe('json');
    const [final] = client.results;
    expect(final!.words_interpolated).toBe(true);
    expect(final!.words!.map((w) => w.word)).toEqual(['hello', 'world', 'again']);
    // Over the speech (0.5 s to 2.0 s), not the silence around it.
    expect(final!.words![0]!.start_ms).toBeCloseTo(500, -1);
    expect(final!.words![2]!.end_ms).toBeCloseTo(2000, -1);
    expect(final!.language).toBeUndefined();
  });
});

describe('utterance_end', () => {
  it('speech followed by 1.5 s pauses: one utterance_end per pause, end_ms within 700 ms of where the speech ended', async () => {
    const { client } = await setup();
    const events: UtteranceEnd[] = [];
    client.socket.on('utterance_end', (event) => events.push(event));
    const pause = silentPcm(1500);
    const audio = Buffer.concat([hello, pause, hello, pause, hello, pause]);
    const sessionId = await startSession(client, { utterance_end_ms: 1000 });
    await sendChunks(client, sessionId, chunksOf(audio, 100));
    await until(() => events.length === 3, 'three utterance_end events');
    const helloMs = (hello.length / 2 / RATE) * 1000;
    const spoken = soundEndMs(hello);
    events.forEach((event, i) => {
      expect(event.session_id).toBe(sessionId);
      expect(Math.abs(event.end_ms - (i * (helloMs + 1500) + spoken))).toBeLessThanOrEqual(700);
    });
    await client.call('end_session', { session_id: sessionId });
    expect(events).toHaveLength(3);
  });

  it('the client library emits utteranceEnd, and passes word_timestamps and keyterms', async () => {
    const { server, stub } = await setup();
    const client = new TranscriptionClient({ url: server.url, socketOptions: { transports: ['websocket'] }, reconnect: { attempts: 0 } });
    cleanups.push(() => client.close());
    const ends: UtteranceEnd[] = [];
    client.on('utteranceEnd', (event) => ends.push(event));
    await client.start({ utteranceEndMs: 800, wordTimestamps: true, keyterms: ['Zanzibar'] });
    for (const chunk of chunksOf(Buffer.concat([hello, silentPcm(1200)]), 100)) await client.sendChunk(chunk);
    await until(() => ends.length === 1, 'utteranceEnd');
    await client.end();
    expect(Math.abs(ends[0]!.end_ms - soundEndMs(hello))).toBeLessThanOrEqual(700);
    expect(stub.uploads[0]!.prompt).toBe('Zanzibar.');
    expect(stub.uploads[0]!.timestampGranularities).toContain('word');
  });

  it('a pause shorter than utterance_end_ms sends none', async () => {
    const { client } = await setup();
    const events: UtteranceEnd[] = [];
    client.socket.on('utterance_end', (event) => events.push(event));
    const { end } = await streamWhole(client, Buffer.concat([loudPcm(800), silentPcm(900), loudPcm(800)]), { utterance_end_ms: 1000 });
    expect(end.ok).toBe(true);
    expect(events).toEqual([]);
  });
});

describe('no invented text on noise', () => {
  it('noise before speech: the stub\'s hallucination for the noise is dropped and counted, the speech is delivered', async () => {
    const { stub, client, dropped } = await setup({ respond: () => ({ text: 'hello world' }) }, { SEGMENT_MAX_MS: '8000' });
    const { end } = await streamWhole(client, Buffer.concat([noisePcm(2500), hello]));
    // The noise went to the engine inside the segment, and the engine answered the hallucination for it.
    expect(stub.uploads).toHaveLength(1);
    expect(end.text).toBe('hello world');
    expect(client.results.map((r) => r.text)).toEqual(['hello world']);
    expect(client.results.some((r) => r.text.includes(STUB_HALLUCINATION))).toBe(false);
    expect(dropped).toEqual(['no_speech']);
  });

  it('noise alone gives no result at all', async () => {
    const { client, dropped } = await setup();
    const { end } = await streamWhole(client, noisePcm(2500));
    expect(end).toMatchObject({ ok: true, text: '' });
    expect(client.results).toEqual([]);
    expect(dropped).toEqual(['no_speech']);
  });

  it('with Silero VAD, noise alone never reaches the engine (the energy VAD alone sends it), and is counted', async () => {
    const silero = await loadSileroSpeechDetector(DEFAULT_SPEECH_DBFS, pino({ level: 'silent' }));
    const noise = Buffer.concat([noisePcm(2500), silentPcm(1000), noisePcm(2000, 11)]);
    const withSilero = await setup({}, { SEGMENT_MIN_MS: '1000' }, 'whisper-1', silero);
    const end = (await streamWhole(withSilero.client, noise)).end;
    expect(end).toMatchObject({ ok: true, text: '' });
    expect(withSilero.stub.uploads).toHaveLength(0);
    expect(withSilero.dropped).toEqual(['not_speech', 'not_speech']);
    // The same audio with the energy VAD alone: both bursts went to the engine (and only its own gate saved the text).
    const energyOnly = await setup({}, { SEGMENT_MIN_MS: '1000' });
    await streamWhole(energyOnly.client, noise);
    expect(energyOnly.stub.uploads).toHaveLength(2);
  });

  it('with Silero VAD, speech after noise is still transcribed', async () => {
    const silero = await loadSileroSpeechDetector(DEFAULT_SPEECH_DBFS, pino({ level: 'silent' }));
    const { stub, client } = await setup({ respond: () => ({ text: 'hello world' }) }, {}, 'whisper-1', silero);
    const { end } = await streamWhole(client, Buffer.concat([noisePcm(2500), hello]));
    expect(stub.uploads).toHaveLength(1);
    expect(end.text).toBe('hello world');
  });

  it('a repetition loop (compression_ratio 3) is dropped', async () => {
    const { client, dropped } = await setup({ respond: () => ({ text: 'the the the the the the the the', compressionRatio: 3 }) });
    const { end } = await streamWhole(client, hello);
    expect(end.text).toBe('');
    expect(client.results).toEqual([]);
    expect(dropped).toEqual(['repetition']);
  });
});

describe('keyterms', () => {
  it('go ahead of the previous segment\'s text in the prompt', async () => {
    const { stub, client } = await setup({}, { SEGMENT_MAX_MS: '1000', SEGMENT_MIN_MS: '500' });
    await streamWhole(client, loudPcm(2000), { keyterms: ['Kubernetes', 'Anthropic'] });
    expect(stub.uploads.map((u) => u.prompt)).toEqual(['Kubernetes, Anthropic.', 'Kubernetes, Anthropic. segment 0']);
  });

  it('a long previous text is shortened from its start; the keyterms stay whole', async () => {
    const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
    const terms = Array.from({ length: 20 }, (_, i) => `Term${i}`);
    const { stub, client } = await setup({ respond: () => ({ text: long }) }, { SEGMENT_MAX_MS: '1000', SEGMENT_MIN_MS: '500' });
    await streamWhole(client, loudPcm(2000), { keyterms: terms });
    const prompt = stub.uploads[1]!.prompt!;
    expect(prompt.startsWith(`${terms.join(', ')}.`)).toBe(true);
    expect(prompt.endsWith('word399')).toBe(true);
    expect(prompt.length).toBeLessThanOrEqual(224 * 3);
    expect(prompt).not.toContain('word0 ');
  });
});

describe('bad settings are refused with INVALID_PAYLOAD naming the field', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['too many keyterms', { keyterms: Array.from({ length: 51 }, (_, i) => `t${i}`) }, 'keyterms'],
    ['a keyterm too long', { keyterms: ['ok', 'x'.repeat(51)] }, 'keyterms'],
    ['a keyterm not a string', { keyterms: [3] }, 'keyterms'],
    ['utterance_end_ms under 500', { utterance_end_ms: 499 }, 'utterance_end_ms'],
    ['utterance_end_ms not whole', { utterance_end_ms: 700.5 }, 'utterance_end_ms'],
    ['word_timestamps not a boolean', { word_timestamps: 'yes' }, 'word_timestamps'],
  ];
  it.each(cases)('%s', async (_name, payload, field) => {
    const { client } = await setup();
    const ack = await client.call('start_session', payload);
    expect(ack.ok).toBe(false);
    expect(ack.error.code).toBe('INVALID_PAYLOAD');
    expect(ack.error.message).toContain(field);
  });
});
