// The Whisper engine against a real local OpenAI-compatible server: uploads, retries and error reporting.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { EngineError } from '../../src/engines/engine.js';
import { createEngine } from '../../src/engines/index.js';
import { createOpenAIEngine, type OpenAIEngineOptions } from '../../src/engines/openai.js';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { startOpenAIStub, type OpenAIStub, type OpenAIStubOptions } from '../support/openai-stub.js';

const API_KEY = 'sk-test-0123456789abcdefSECRET';
const hello = decodeWavToPcm16(readFileSync(new URL('../fixtures/hello.wav', import.meta.url)));

let stub: OpenAIStub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

async function setup(stubOptions: OpenAIStubOptions = {}, engineOptions: Partial<OpenAIEngineOptions> = {}) {
  stub = await startOpenAIStub(stubOptions);
  const engine = createOpenAIEngine({ apiKey: API_KEY, baseUrl: stub.url, model: 'whisper-1', maxRetries: 2, timeoutMs: 5000, ...engineOptions });
  return { stub, engine };
}

function transcriptionAttempts(s: OpenAIStub): number {
  return s.requests.filter((r) => r.method === 'POST' && r.path === '/v1/audio/transcriptions').length;
}

async function engineError(promise: Promise<unknown>): Promise<EngineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

describe('openai engine', () => {
  it('names itself and its model', async () => {
    const { engine } = await setup();
    expect(engine.name).toBe('openai');
    expect(engine.model).toBe('whisper-1');
  });

  it('uploads the segment as a mono 16-bit WAV whose samples are byte-for-byte the segment', async () => {
    const { stub, engine } = await setup();
    // An odd byte offset into a larger buffer, as a slice of a socket message would be.
    const backing = Buffer.alloc(hello.pcm.length + 3);
    hello.pcm.copy(backing, 1);
    const pcm = backing.subarray(1, 1 + hello.pcm.length);

    const result = await engine.transcribe({ pcm, sampleRate: 16000 });

    expect(result.text).toBe('segment 0');
    expect(stub.uploads).toHaveLength(1);
    const upload = stub.uploads[0]!;
    expect(upload.sampleRate).toBe(16000);
    expect(upload.pcm.equals(hello.pcm)).toBe(true);
    // whisper-1 answers verbose_json: the hallucination gate reads its segments.
    expect(upload.responseFormat).toBe('verbose_json');
    expect(upload.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('keeps the session sample rate instead of resampling (Whisper takes any rate)', async () => {
    const { stub, engine } = await setup();
    const pcm = Buffer.from(Int16Array.from([1, -1, 300, -300, 32767, -32768]).buffer);
    await engine.transcribe({ pcm, sampleRate: 8000 });
    expect(stub.uploads[0]!.sampleRate).toBe(8000);
    expect(stub.uploads[0]!.pcm.equals(pcm)).toBe(true);
  });

  it('passes the default model, or the segment model, language and prompt', async () => {
    const { stub, engine } = await setup();
    const pcm = hello.pcm.subarray(0, 3200);
    // A prompt is the session's previous text: quotes, line breaks, a line that looks like a boundary, any script.
    const prompt = 'She said "stop".\r\n--segment0123\r\nnaïve café, 東京';
    await engine.transcribe({ pcm, sampleRate: 16000 });
    await engine.transcribe({ pcm, sampleRate: 16000, model: 'gpt-4o-transcribe', language: 'en-US', prompt });

    expect(stub.uploads.map((u) => [u.model, u.language, u.prompt, u.responseFormat])).toEqual([
      ['whisper-1', undefined, undefined, 'verbose_json'],
      ['gpt-4o-transcribe', 'en', prompt, 'json'],
    ]);
    expect(stub.uploads[1]!.pcm.equals(pcm)).toBe(true);
  });

  it('answers an empty segment with empty text without calling the API', async () => {
    const { stub, engine } = await setup();
    await expect(engine.transcribe({ pcm: Buffer.alloc(0), sampleRate: 16000 })).resolves.toEqual({ text: '' });
    expect(stub.requests).toHaveLength(0);
  });

  it('retries a 500 and returns the next successful answer', async () => {
    const { stub, engine } = await setup({
      respond: (_upload, index) => (index === 0 ? { status: 500, text: 'boom' } : { text: 'second try' }),
    });
    await expect(engine.transcribe({ pcm: hello.pcm, sampleRate: 16000 })).resolves.toEqual({ text: 'second try', language: 'en' });
    expect(transcriptionAttempts(stub)).toBe(2);
    // The retry re-sends the same audio.
    expect(stub.uploads[1]!.pcm.equals(stub.uploads[0]!.pcm)).toBe(true);
  });

  it('gives up on a persistent 503 after maxRetries + 1 attempts with a retryable EngineError', async () => {
    const { stub, engine } = await setup({ respond: () => ({ status: 503, text: 'overloaded' }) }, { maxRetries: 3 });
    const error = await engineError(engine.transcribe({ pcm: hello.pcm, sampleRate: 16000 }));
    expect(transcriptionAttempts(stub)).toBe(4);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/503/);
    expect(error.message).toMatch(/4 attempts/);
  });

  it('retries a 429 rate limit', async () => {
    const { stub, engine } = await setup({
      respond: (_u, index) => (index === 0 ? { status: 429, text: 'slow down' } : { text: 'after the limit' }),
    });
    await expect(engine.transcribe({ pcm: hello.pcm, sampleRate: 16000 })).resolves.toEqual({ text: 'after the limit', language: 'en' });
    expect(transcriptionAttempts(stub)).toBe(2);
  });

  it('reports an exhausted quota (429 insufficient_quota) as not retryable by the client', async () => {
    const { engine } = await setup({ respond: () => ({ status: 429, code: 'insufficient_quota', text: 'no credit' }) });
    const error = await engineError(engine.transcribe({ pcm: hello.pcm, sampleRate: 16000 }));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/insufficient_quota/);
  });

  it('reports a 401 as a non-retryable EngineError that names the variable but never contains the key', async () => {
    const { stub, engine } = await setup({
      // OpenAI's real 401 quotes part of the key; the engine must not pass that on.
      respond: () => ({ status: 401, text: `Incorrect API key provided: ${API_KEY}. You can find your API key at ...`, code: 'invalid_api_key' }),
    });
    const error = await engineError(engine.transcribe({ pcm: hello.pcm, sampleRate: 16000 }));
    expect(transcriptionAttempts(stub)).toBe(1);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/OPENAI_API_KEY/);
    expect(error.message).toMatch(/401/);
    const everything = `${error.message} ${String(error.stack)} ${JSON.stringify(error)} ${String(error.cause)}`;
    expect(everything).not.toContain(API_KEY);
    expect(everything).not.toContain('SECRET');
  });

  it('reports a 400 as non-retryable with the server explanation, key-like text removed', async () => {
    const { engine } = await setup({ respond: () => ({ status: 400, text: `Invalid file format for key ${API_KEY}` }) });
    const error = await engineError(engine.transcribe({ pcm: hello.pcm, sampleRate: 16000 }));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/400.*Invalid file format/);
    expect(error.message).not.toContain('SECRET');
  });

  it('keeps the endpoint and request id for the logs, and gives clients a reason without them', async () => {
    const words = 'The model `bad-model` does not exist; see https://internal.example/docs (request ID req_inner42)';
    const { stub, engine } = await setup({ respond: () => ({ status: 404, text: words, code: 'model_not_found' }) });
    const error = await engineError(engine.transcribe({ pcm: hello.pcm, sampleRate: 16000, model: 'bad-model' }));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(new URL(stub.url).origin);
    expect(error.message).toMatch(/\[request req_stub_\d+\]/);
    expect(error.reason).toMatch(/^provider answered 404: The model `bad-model` does not exist/);
    for (const internal of [new URL(stub.url).host, 'req_stub_', 'req_inner42', 'internal.example']) expect(error.reason).not.toContain(internal);
  });

  it('gives clients no host, address or id however the provider spells them, and a bounded reason', async () => {
    const words =
      'model `bad-model` is not available: upstream whisper-gpu-3.internal.corp:8000 (10.20.30.40) failed at ' +
      'openai.azure.com/openai/deployments/prod-whisper ReqId=AZ-77aa trace: 4bf92f3577b34da6a3ce929d0e0e4736 via [fd00::1:2] ' +
      'or gpu-node:9000 ' +
      'x'.repeat(400);
    const { engine } = await setup({ respond: () => ({ status: 400, text: words }) });
    const error = await engineError(engine.transcribe({ pcm: hello.pcm, sampleRate: 16000 }));
    expect(error.message).toContain('whisper-gpu-3.internal.corp:8000');
    for (const internal of ['whisper-gpu-3', 'internal.corp', '8000', '10.20.30.40', 'azure.com', 'AZ-77aa', '4bf92f3577b34da6', 'fd00::1', 'gpu-node']) {
      expect(error.reason).not.toContain(internal);
    }
    expect(error.reason).toMatch(/^provider answered 400: model `bad-model` is not available: upstream \[host\] \(\[address\]\)/);
    expect(error.reason.length).toBeLessThanOrEqual(260);
  });

  it('transcribes a sliver the API calls too short as empty text instead of failing the segment', async () => {
    const { engine } = await setup({
      respond: () => ({ status: 400, code: 'audio_too_short', text: 'Audio file is too short. Minimum audio length is 0.1 seconds.' }),
    });
    await expect(engine.transcribe({ pcm: hello.pcm.subarray(0, 320), sampleRate: 16000 })).resolves.toEqual({ text: '' });
  });

  it('times out a slow answer and reports it as retryable', async () => {
    const { stub, engine } = await setup({ respond: () => ({ delayMs: 2000 }) }, { maxRetries: 1, timeoutMs: 200 });
    const error = await engineError(engine.transcribe({ pcm: hello.pcm, sampleRate: 16000 }));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/200 ms/);
    expect(transcriptionAttempts(stub)).toBe(2);
  });

  it('createEngine builds it from the configuration (key, base URL, model)', async () => {
    stub = await startOpenAIStub();
    const engine = await createEngine(loadConfig({ OPENAI_API_KEY: API_KEY, OPENAI_BASE_URL: stub.url, WHISPER_MODEL: 'whisper-large' }));
    expect([engine.name, engine.model]).toEqual(['openai', 'whisper-large']);
    await engine.transcribe({ pcm: hello.pcm.subarray(0, 3200), sampleRate: 16000 });
    expect(stub.uploads[0]!.model).toBe('whisper-large');
    expect(stub.uploads[0]!.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('check() passes against a reachable server with a valid key', async () => {
    const { stub, engine } = await setup();
    await expect(engine.check()).resolves.toBeUndefined();
    expect(stub.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/models']);
  });

  it('check() fails clearly, once and quickly, when nothing listens at the base URL', async () => {
    const port = await closedPort();
    const engine = createOpenAIEngine({ apiKey: API_KEY, baseUrl: `http://127.0.0.1:${port}/v1`, model: 'whisper-1', maxRetries: 3, timeoutMs: 5000 });
    const started = Date.now();
    const error = await engineError(engine.check());
    // No retries: with maxRetries 3 the SDK's backoff alone would take at least 2.6 s.
    expect(Date.now() - started).toBeLessThan(1500);
    expect(error.message).toMatch(/cannot reach OpenAI/);
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('transcribe() reports an unreachable server as retryable after its retries', async () => {
    const port = await closedPort();
    const engine = createOpenAIEngine({ apiKey: API_KEY, baseUrl: `http://127.0.0.1:${port}/v1`, model: 'whisper-1', maxRetries: 0, timeoutMs: 5000 });
    const error = await engineError(engine.transcribe({ pcm: hello.pcm, sampleRate: 16000 }));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/OPENAI_BASE_URL/);
  });
});

/** A port that was free a moment ago and now has no listener. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
