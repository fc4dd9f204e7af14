#!/usr/bin/env node
// A stand-in for the OpenAI transcription API in its own process, for the benchmark: drains each upload and
// answers {"text": …} after the delay named in the base URL (http://…/delay/200/v1 waits 200 ms; plain /v1 does
// not wait); GET /count says how many it answered. It does not parse the upload: the benchmark measures the
// server, and the stub must stay out of the way.
import { createServer } from 'node:http';

let answered = 0;

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://stub');
  request.resume();
  request.on('end', () => {
    if (request.method === 'POST' && url.pathname.endsWith('/audio/transcriptions')) {
      const delayMs = Number(/\/delay\/(\d+)\//.exec(url.pathname)?.[1] ?? 0);
      setTimeout(() => {
        if (response.destroyed) return;
        answered += 1;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ text: `segment ${answered}` }));
      }, delayMs);
      return;
    }
    if (request.method === 'GET' && url.pathname.endsWith('/models')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ object: 'list', data: [{ id: 'whisper-1', object: 'model', created: 0, owned_by: 'stub' }] }));
      return;
    } else if (!(request.method === 'GET' && url.pathname === '/count')) {
      response.writeHead(404);
      response.end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ answered }));
  });
});

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`engine-stub listening on port ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
