#!/usr/bin/env node
// A Sentry ingest stand-in in its own process for bench/transport-sizing/transport-sizing.ts: answers each envelope after a set
// round trip (`--rtt-ms=N`), counts envelopes, transactions and client-report drops, and the most requests open
// at once; GET /count returns them.
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

const rttMs = Number(/^--rtt-ms=(\d+)$/.exec(process.argv[2] ?? '')?.[1] ?? 100);
const counts = { envelopes: 0, transactions: 0, discarded: {}, inFlight: 0, maxInFlight: 0 };

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/count') {
    request.resume();
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(counts));
    return;
  }
  const chunks = [];
  counts.inFlight++;
  counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight);
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    let body = Buffer.concat(chunks);
    if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const lines = body.toString('utf8').split('\n');
    counts.envelopes++;
    lines.forEach((line, index) => {
      if (line.startsWith('{"type":"transaction"')) counts.transactions++;
      if (line.startsWith('{"type":"client_report"')) {
        for (const d of JSON.parse(lines[index + 1]).discarded_events ?? []) {
          const key = `${d.reason}:${d.category}`;
          counts.discarded[key] = (counts.discarded[key] ?? 0) + d.quantity;
        }
      }
    });
    setTimeout(() => {
      counts.inFlight--;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    }, rttMs);
  });
});

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`slow-ingest listening on port ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
