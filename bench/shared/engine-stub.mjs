#!/usr/bin/env node
// A stand-in for the OpenAI transcription API in its own process, for the benchmarks. Its behaviour is named in the
// base URL path, so one stub serves every configuration: http://…/delay/700/jitter/600/quota/48/text/hash/v1
//   delay/<ms>     answer after this long (default 0)
//   jitter/<ms>    plus a uniform 0..ms more per request, from a seeded generator (seed/<n>, default 1)
//   quota/<n>      at most n requests in flight: beyond, 429 with Retry-After (seconds) and retry-after-ms, as
//                  OpenAI sends them: the time until the first request in flight is due to finish (retry/<ms> fixes it)
//   text/hash      the text is a digest of the uploaded audio (the same audio, the same text: for comparing runs);
//                  otherwise "segment <n>" without reading the upload, so the stub stays out of the server's way
// GET /count says how many requests it answered and refused, and the most it had in flight.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

let answered = 0;
let refused = 0;
let inFlight = 0;
let maxInFlight = 0;
/** When each request in flight is due to answer (performance.now()), for Retry-After. */
const dueTimes = new Set();
const generators = new Map();

/** The next number in [0, 1) of the stream seeded with `seed` (mulberry32: small, seeded, enough to spread delays). */
function nextRandom(seed) {
  const state = ((generators.get(seed) ?? seed >>> 0) + 0x6d2b79f5) >>> 0;
  generators.set(seed, state);
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** The settings in a path like /delay/700/jitter/600/quota/48/v1/audio/transcriptions. */
function settingsOf(pathname) {
  const parts = pathname.split('/');
  const read = (name) => {
    const index = parts.indexOf(name);
    return index >= 0 ? parts[index + 1] : undefined;
  };
  const number = (name, fallback) => {
    const raw = read(name);
    const value = Number(raw);
    return raw !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
  };
  return {
    delayMs: number('delay', 0),
    jitterMs: number('jitter', 0),
    quota: number('quota', Infinity),
    retryMs: number('retry', undefined),
    seed: number('seed', 1),
    hashText: read('text') === 'hash',
  };
}

/** The PCM inside the multipart upload's WAV (RIFF … "data" <size> <samples>), or undefined. */
function wavData(body) {
  const riff = body.indexOf('RIFF');
  if (riff < 0 || body.toString('latin1', riff + 8, riff + 12) !== 'WAVE') return undefined;
  for (let offset = riff + 12; offset + 8 <= body.length; ) {
    const id = body.toString('latin1', offset, offset + 4);
    const size = body.readUInt32LE(offset + 4);
    if (id === 'data') return body.subarray(offset + 8, Math.min(body.length, offset + 8 + size));
    offset += 8 + size + (size % 2);
  }
  return undefined;
}

/** Deterministic text for an upload: its audio length and a digest of its samples. */
function hashText(body) {
  const pcm = wavData(body);
  if (!pcm) return 'no-audio';
  return `a${pcm.length} h${createHash('sha1').update(pcm).digest('hex').slice(0, 10)}`;
}

function transcribe(request, response, url) {
  const settings = settingsOf(url.pathname);
  const parts = [];
  if (settings.hashText) request.on('data', (part) => parts.push(part));
  else request.resume();
  request.on('end', () => {
    const now = performance.now();
    if (inFlight >= settings.quota) {
      refused += 1;
      const firstDue = Math.min(...dueTimes);
      const retryMs = Math.max(1, Math.ceil(settings.retryMs ?? (Number.isFinite(firstDue) ? firstDue - now : 1000)));
      response.writeHead(429, {
        'content-type': 'application/json',
        'retry-after': String(Math.ceil(retryMs / 1000)),
        'retry-after-ms': String(retryMs),
      });
      response.end(JSON.stringify({ error: { message: `stub quota: ${settings.quota} requests in flight`, type: 'requests', code: 'rate_limit_exceeded' } }));
      return;
    }
    const delayMs = settings.delayMs + (settings.jitterMs > 0 ? nextRandom(settings.seed) * settings.jitterMs : 0);
    const due = now + delayMs;
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    dueTimes.add(due);
    const text = settings.hashText ? hashText(Buffer.concat(parts)) : undefined;
    setTimeout(() => {
      inFlight -= 1;
      dueTimes.delete(due);
      if (response.destroyed) return;
      answered += 1;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ text: text ?? `segment ${answered}` }));
    }, delayMs);
  });
}

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://stub');
  if (request.method === 'POST' && url.pathname.endsWith('/audio/transcriptions')) return transcribe(request, response, url);
  request.resume();
  request.on('end', () => {
    if (request.method === 'GET' && url.pathname.endsWith('/models')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ object: 'list', data: [{ id: 'whisper-1', object: 'model', created: 0, owned_by: 'stub' }] }));
      return;
    }
    if (request.method === 'GET' && url.pathname === '/count') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ answered, refused, inFlight, maxInFlight }));
      return;
    }
    if (request.method === 'POST' && url.pathname === '/count/reset') {
      // The most in flight is per measurement; the totals keep counting (callers take differences).
      maxInFlight = inFlight;
      response.writeHead(204);
      response.end();
      return;
    }
    response.writeHead(404);
    response.end();
  });
});

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`engine-stub listening on port ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
