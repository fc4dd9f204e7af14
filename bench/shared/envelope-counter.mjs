#!/usr/bin/env node
// A Sentry ingest stand-in in its own process that only counts what arrives (envelopes and bytes), for the
// benchmark's tracing configurations: parsing would cost the machine CPU the server under test needs.
import { createServer } from 'node:http';

let envelopes = 0;
let bytes = 0;

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/count') {
    request.resume();
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ envelopes, bytes }));
    return;
  }
  request.on('data', (chunk) => (bytes += chunk.length));
  request.on('end', () => {
    if (request.method === 'POST') envelopes += 1;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{}');
  });
});

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`envelope-counter listening on port ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
