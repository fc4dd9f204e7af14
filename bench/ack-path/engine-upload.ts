// Main-thread CPU per segment upload to an OpenAI-compatible endpoint, three ways: the engine as it is (since issue
// #15: its own multipart buffer posted through the openai SDK's client over src/engines/node-http-fetch.ts), Node's
// fetch with that buffer, and bare node:http with its parts; 8 uploads at a time, as the engine scheduler runs them.
// Measures, changes nothing.
// Usage: node bench/shared/engine-stub.mjs & npx tsx bench/ack-path/engine-upload.ts http://127.0.0.1:<stub port>/v1
import * as http from 'node:http';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { wavHeader } from '../../src/audio/wav.js';
import { loadSpeechSample } from '../../src/loadtest/index.js';
const base = process.argv[2] ?? 'http://127.0.0.1:8080/v1';
const url = new URL(`${base}/audio/transcriptions`);
const hello = await loadSpeechSample('test/fixtures/hello.wav');
const pcm = Buffer.from(hello.pcm);
const engine = createOpenAIEngine({ apiKey: 'sk-bench', baseUrl: base, model: 'whisper-1', maxRetries: 0, timeoutMs: 10000 });
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function body() {
  const boundary = `----segment${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--${boundary}\r\nContent-Disposition: form-data; name="response_format"\r\n\r\njson\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="segment.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
  return { boundary, parts: [head, wavHeader(pcm.length, 16000), pcm, Buffer.from(`\r\n--${boundary}--\r\n`)] };
}
async function sdk() { await engine.transcribe({ pcm, sampleRate: 16000 }); }
async function viaFetch() {
  const { boundary, parts } = body();
  const res = await fetch(url, { method: 'POST', headers: { authorization: 'Bearer sk-bench', 'content-type': `multipart/form-data; boundary=${boundary}` }, body: Buffer.concat(parts) });
  if (typeof ((await res.json()) as { text: string }).text !== 'string') throw new Error('no text');
}
function viaHttp() {
  const { boundary, parts } = body();
  const length = parts.reduce((n, p) => n + p.length, 0);
  return new Promise<void>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { authorization: 'Bearer sk-bench', 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c)).on('end', () => {
        try { if (typeof JSON.parse(Buffer.concat(chunks).toString()).text !== 'string') throw new Error('no text'); resolve(); } catch (e) { reject(e); }
      });
    });
    req.on('error', reject);
    for (const p of parts) req.write(p);
    req.end();
  });
}
const variants = { sdk, fetch: viaFetch, http: viaHttp } as const;
for (let round = 0; round < 3; round++) for (const [name, fn] of Object.entries(variants)) {
  for (let i = 0; i < 16; i++) await fn();
  const before = process.cpuUsage();
  const N = 200;
  for (let i = 0; i < N; i += 8) await Promise.all(Array.from({ length: 8 }, () => fn()));
  const u = process.cpuUsage(before);
  console.log(`${name}: ${((u.user + u.system) / N).toFixed(0)} µs CPU per upload of ${pcm.length} bytes`);
}
agent.destroy();
