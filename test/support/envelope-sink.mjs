#!/usr/bin/env node
// A local stand-in for Sentry's ingest: receives envelopes over HTTP (gzip or plain), parses every item, and
// shows what it got at GET /received. It runs as its own process: in a process with Sentry it would be traced too.
// `--delay-ms=N` answers each envelope N ms late, like a slow or distant ingest.
import { createServer } from 'node:http';
import { gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';

const delayMs = Number(/^--delay-ms=(\d+)$/.exec(process.argv[2] ?? '')?.[1] ?? 0);

/** Every envelope received: { path, header, items: [{ header, payload }] }; payload is JSON when it parses. */
const envelopes = [];
/** Each request body after decompression, base64, for byte searches (audio, keys). */
const raw = [];

function decode(body, encoding) {
  switch ((encoding ?? '').toLowerCase()) {
    case 'gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    case 'br':
      return brotliDecompressSync(body);
    default:
      return body;
  }
}

/** Envelope format: a header line, then per item a header line and a payload (`length` bytes, else up to a newline). */
function parseEnvelope(bytes) {
  let offset = 0;
  const readLine = () => {
    const end = bytes.indexOf(0x0a, offset);
    const line = bytes.subarray(offset, end === -1 ? bytes.length : end);
    offset = end === -1 ? bytes.length : end + 1;
    return line;
  };
  const header = JSON.parse(readLine().toString('utf8'));
  const items = [];
  while (offset < bytes.length) {
    const headerLine = readLine();
    if (headerLine.length === 0) continue;
    const itemHeader = JSON.parse(headerLine.toString('utf8'));
    let payload;
    if (typeof itemHeader.length === 'number') {
      payload = bytes.subarray(offset, offset + itemHeader.length);
      offset += itemHeader.length;
      if (bytes[offset] === 0x0a) offset += 1;
    } else {
      payload = readLine();
    }
    let parsed;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      parsed = { base64: payload.toString('base64') };
    }
    items.push({ header: itemHeader, payload: parsed });
  }
  return { header, items };
}

const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    if (request.method === 'GET' && request.url === '/received') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ envelopes, raw }));
      return;
    }
    if (request.method === 'POST') {
      try {
        const body = decode(Buffer.concat(chunks), request.headers['content-encoding']);
        raw.push(body.toString('base64'));
        envelopes.push({ path: request.url, ...parseEnvelope(body) });
      } catch (error) {
        process.stderr.write(`envelope-sink: cannot parse a body: ${error.message}\n`);
      }
      setTimeout(() => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{}');
      }, delayMs);
      return;
    }
    response.writeHead(404);
    response.end();
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`envelope-sink listening on port ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
