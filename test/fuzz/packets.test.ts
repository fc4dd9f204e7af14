// Raw garbage below the client library: engine.io and socket.io packets over a raw WebSocket (random text and binary
// frames, huge attachment counts, placeholders without attachments, wrong namespaces, reserved event names, oversized
// messages), malformed WebSocket frames on a bare TCP socket, and garbage polling requests. The process never
// crashes and a normal client streams a session afterwards. Seeded and bounded.
import { createConnection } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { loudPcm } from '../support/audio.js';
import { connect, startServer, type TestServer } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { streamWhole } from '../support/pipeline.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const NS = '/transcription';

let stub: OpenAIStub;
let server: TestServer;
let crashes: unknown[] = [];
const onCrash = (error: unknown) => crashes.push(error);

beforeAll(async () => {
  process.on('uncaughtException', onCrash);
  stub = await startOpenAIStub({ respond: () => ({ text: 'still here' }) });
  const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
  server = await startServer({ store: 'memory', engine });
});
afterAll(async () => {
  process.off('uncaughtException', onCrash);
  await server?.close();
  await stub?.close();
});

/** A normal client still gets a whole session through. */
async function expectServerServes(): Promise<void> {
  const client = await connect(server.url);
  try {
    const { end } = await streamWhole(client, loudPcm(1500));
    expect(end).toMatchObject({ ok: true, duration_ms: 1500 });
    expect(end.text).toMatch(/still here/);
  } finally {
    client.close();
  }
  expect(crashes).toEqual([]);
}

/** Opens a raw engine.io WebSocket (after its open packet), optionally joined to /transcription. */
async function rawSocket(join: boolean): Promise<WebSocket> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { maxPayload: 64 * 1024 * 1024 });
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve());
    ws.once('close', () => reject(new Error('closed before the open packet')));
  });
  if (join) {
    ws.send(`40${NS},`);
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
  }
  return ws;
}

/** Sends frames, then waits briefly for the server's reaction (often closing the connection). */
async function sendAll(ws: WebSocket, frames: Array<string | Buffer>): Promise<void> {
  for (const frame of frames) {
    if (ws.readyState !== WebSocket.OPEN) break;
    ws.send(frame);
  }
  await new Promise((r) => setTimeout(r, 15));
  ws.terminate();
}

const jsonValue = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null');
const event = fc.constantFrom('start_session', 'audio_chunk', 'end_session', 'connect', 'disconnect', 'disconnecting', 'newListener', '__proto__', 'constructor', '');

/** One socket.io-level frame: valid prefixes with wrong contents, or nothing like a packet at all. */
const frame: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.tuple(fc.nat(9), fc.string({ maxLength: 100 })).map(([type, rest]) => `${type}${rest}`),
  fc.tuple(fc.nat(9), fc.nat(9), fc.string({ maxLength: 100 })).map(([e, s, rest]) => `${e}${s}${rest}`),
  fc.tuple(event, jsonValue, fc.option(fc.nat(), { nil: undefined })).map(([name, payload, id]) => `42${NS},${id ?? ''}["${name}",${payload}]`),
  fc.tuple(fc.constantFrom('/', '/nope', '/transcription/x', '', '/admin'), jsonValue).map(([ns, payload]) => `42${ns},["start_session",${payload}]`),
  fc.constantFrom(`40/nope,`, `40${NS},{"token":1}`, `41${NS},`, `44${NS},{}`, `43${NS},1[]`, `46${NS},`, '2', '3', '5', '6', '1', '2probe', '0'),
  // Attachment counts from zero to absurd, with and without the promised binary frames.
  fc.tuple(fc.constantFrom(0, 1, 2, 11, 1000, 2 ** 31, Number.MAX_SAFE_INTEGER), fc.constantFrom(0, 1, 5, 'splice', '__proto__', -1)).map(
    ([count, num]) => `45${count}-${NS},["audio_chunk",{"session_id":"s","seq":0,"chunk":{"_placeholder":true,"num":${JSON.stringify(num)}}}]`,
  ),
  fc.constant(`451-${NS},["audio_chunk",{"session_id":"s","chunk":{"_placeholder":true,"num":0}}]`),
  fc.constant(`461-${NS},1[{"_placeholder":true,"num":0}]`),
);

describe('raw packets', () => {
  it('random frame sequences on a joined or unjoined socket never crash the server', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(frame, { minLength: 1, maxLength: 12 }), async (join, frames) => {
        const ws = await rawSocket(join);
        await sendAll(ws, frames);
        if (crashes.length > 0) throw crashes[0];
      }),
      { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 30_000, markInterruptAsFailure: false },
    );
    await expectServerServes();
  }, 90_000);

  it('a placeholder whose attachment never comes, then plain text, then an oversized message', async () => {
    const ws = await rawSocket(true);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(`451-${NS},["audio_chunk",{"session_id":"s","chunk":{"_placeholder":true,"num":0}}]`);
    ws.send(`42${NS},["end_session",{"session_id":"s"}]`);
    await closed;
    const big = await rawSocket(true);
    const bigClosed = new Promise<number>((resolve) => big.once('close', (code) => resolve(code)));
    big.send(Buffer.alloc(server.app.io.engine.opts.maxHttpBufferSize! + 1024, 1));
    // 1009: message too big for maxHttpBufferSize.
    expect(await bigClosed).toBe(1009);
    await expectServerServes();
  });

  it('malformed WebSocket frames on a raw TCP upgrade', async () => {
    const { port } = new URL(server.url);
    const garbage = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 64 }), { seed: SEED, numRuns: 30 }).map((b) => Buffer.from(b));
    const fixed = [
      Buffer.from([0xf1, 0x80, 0, 0, 0, 0]), // RSV bits set
      Buffer.from([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]), // unmasked client frame
      Buffer.from([0x83, 0x80, 0, 0, 0, 0]), // reserved opcode
      Buffer.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // 2^63-byte length
      Buffer.from([0x89, 0xfe, 0x01, 0x00]), // control frame over 125 bytes
      Buffer.from([0x01, 0x81, 0, 0, 0, 0, 0x41, 0x01, 0x81, 0, 0, 0, 0, 0x41]), // fragment, then a new data frame
    ];
    for (const bytes of [...fixed, ...garbage]) {
      const socket = createConnection({ host: '127.0.0.1', port: Number(port) });
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(
        'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await new Promise((r) => setTimeout(r, 10));
      socket.write(bytes);
      await new Promise((r) => setTimeout(r, 10));
      socket.destroy();
    }
    await expectServerServes();
  }, 60_000);

  it('garbage HTTP: bad query strings, bad polling bodies, too many headers', async () => {
    const base = `${server.url}/socket.io/`;
    const open = await (await fetch(`${base}?EIO=4&transport=polling`)).text();
    const sid = JSON.parse(open.slice(1)).sid as string;
    const attempts: Array<[string, RequestInit]> = [
      [`${base}?EIO=5&transport=polling`, {}],
      [`${base}?EIO=4&transport=carrier-pigeon`, {}],
      [`${base}?EIO=4&transport=polling&sid=nope`, {}],
      [`${base}?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '\u001e\u001e4' + 'x'.repeat(1000) }],
      [`${base}?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: `40${NS},\u001e42${NS},["start_session",{"sample_rate":"x"}]` }],
      [`${base}?EIO=4&transport=polling&sid=${sid}`, { method: 'PUT', body: 'x' }],
      [`${base}?EIO=4&transport=websocket`, {}],
      [`${base}?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024, 0x34) }],
    ];
    for (const [url, init] of attempts) {
      const response = await fetch(url, init).catch(() => undefined);
      await response?.arrayBuffer().catch(() => undefined);
    }
    const headers: Record<string, string> = {};
    for (let i = 0; i < 2500; i++) headers[`x-h${i}`] = 'x';
    await fetch(`${base}?EIO=4&transport=polling`, { headers }).catch(() => undefined);
    await expectServerServes();
  }, 30_000);
});
