// ALLOWED_MODELS at start_session: a model the server does not allow is INVALID_MODEL before any audio, a client
// token's `models` narrows the list further, and no model string a client can make up ever reaches the provider.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server/compose.js';
import { createAccess } from '../../src/auth/access.js';
import { TOKEN_PATH } from '../../src/auth/token-endpoint.js';
import { loadConfig } from '../../src/config/config.js';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { chooseModel, modelPolicy } from '../../src/sessions/allowed-models.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createRequestRouter } from '../../src/web-server/request-router.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { connect } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { sendChunks } from '../support/pipeline.js';

const API_KEY = 'backend-key-1';
const ALLOWED = ['whisper-1', 'gpt-4o-transcribe', 'gpt-4o-mini-transcribe'];
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The real app with ALLOWED_MODELS, client tokens and the token endpoint on one port; the stub serves every model. */
async function startNode(): Promise<{ url: string; stub: OpenAIStub }> {
  const stub = await startOpenAIStub();
  const config = loadConfig({
    TRANSCRIBER: 'pocketsphinx',
    LOG_LEVEL: 'silent',
    MAX_EVENT_LOOP_UTILIZATION: '1',
    API_KEYS: API_KEY,
    TOKEN_SECRET: 'token-secret-'.padEnd(48, 'x'),
    ALLOWED_MODELS: ALLOWED.join(','),
  });
  const access = createAccess(config, {});
  const store = createMemoryStore({ ttlS: 60 });
  const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
  const app = createApp(config, { store, engine, access, httpHandler: createRequestRouter({ [TOKEN_PATH]: access.tokenEndpoint }, (_q, r) => r.end()) });
  const port = await app.listen(0, '127.0.0.1');
  cleanups.push(() => stub.close(), () => store.close(), () => access.close(), () => app.close());
  return { url: `http://127.0.0.1:${port}`, stub };
}

async function mint(url: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${url}${TOKEN_PATH}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('chooseModel', () => {
  const policy = modelPolicy(ALLOWED, 'whisper-1');

  it('ALLOWED_MODELS unset allows the engine\'s own model alone', () => {
    expect(modelPolicy([], 'en-us').allowed).toEqual(['en-us']);
    expect(() => chooseModel('whisper-1', modelPolicy([], 'en-us'))).toThrow(/"whisper-1" is not allowed; this server allows: "en-us"/);
  });

  it('a token narrows the list; a session naming no model gets the engine\'s own, or the token\'s first allowed one', () => {
    const token = { models: ['gpt-4o-transcribe', 'not-on-this-server'] };
    expect(chooseModel('gpt-4o-transcribe', policy, token)).toBe('gpt-4o-transcribe');
    expect(() => chooseModel('whisper-1', policy, token)).toThrow(/this server and this connection's token allow: "gpt-4o-transcribe"$/);
    expect(chooseModel(undefined, policy, token)).toBe('gpt-4o-transcribe');
    expect(chooseModel(undefined, policy)).toBeUndefined();
    expect(() => chooseModel(undefined, policy, { models: ['elsewhere'] })).toThrow(expect.objectContaining({ code: 'INVALID_MODEL' }));
  });
});

describe('ALLOWED_MODELS on a running server', () => {
  it('a token whose models narrow the server\'s list refuses a model the server allows, and accepts its own', async () => {
    const { url, stub } = await startNode();
    const minted = await mint(url, { models: ['gpt-4o-mini-transcribe'] });
    expect(minted.status).toBe(200);
    const { token } = (await minted.json()) as { token: string };
    const client = await connect(url, { token });
    cleanups.push(() => client.close());

    const refused = await client.call('start_session', { model: 'whisper-1' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'INVALID_MODEL', retryable: false } });
    expect(refused.error.message).toMatch(/token allow: "gpt-4o-mini-transcribe"$/);

    const opened = await client.call('start_session', {});
    expect(opened.ok).toBe(true);
    await sendChunks(client, opened.session_id, chunksOf(loudPcm(1000), 100));
    expect(await client.call('end_session', { session_id: opened.session_id })).toMatchObject({ ok: true, segments: 1 });
    expect(stub.uploads.map((u) => u.model)).toEqual(['gpt-4o-mini-transcribe']);
  });

  it('the token endpoint refuses a malformed models list', async () => {
    const { url } = await startNode();
    for (const models of [[], ['x'.repeat(101)], 'whisper-1', [1]]) expect((await mint(url, { models })).status).toBe(400);
  });

  it('random model strings never reach the provider: each is refused at start_session or is one the server allows', async () => {
    const { url, stub } = await startNode();
    const client = await connect(url, { token: await (await mint(url, {})).json().then((body: any) => body.token) });
    cleanups.push(() => client.close());
    const refusedCodes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 120 }), fc.constantFrom(...ALLOWED, 'WHISPER-1', ' whisper-1', 'whisper-1\u0000', 'bad-model')), async (model) => {
        const ack = await client.call('start_session', { model });
        if (!ack.ok) {
          refusedCodes.add(ack.error.code);
          expect(['INVALID_MODEL', 'INVALID_PAYLOAD']).toContain(ack.error.code);
          expect(ALLOWED).not.toContain(model);
          return;
        }
        expect(ALLOWED).toContain(model);
        await sendChunks(client, ack.session_id, chunksOf(loudPcm(300), 100));
        expect((await client.call('end_session', { session_id: ack.session_id })).ok).toBe(true);
      }),
      { numRuns: 60 },
    );
    expect(refusedCodes.has('INVALID_MODEL')).toBe(true);
    expect(stub.uploads.every((u) => ALLOWED.includes(u.model ?? ''))).toBe(true);
  });
});
