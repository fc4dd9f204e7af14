// Measures what the Sentry transport must carry at tracing 1.0: N real-time streams through the built server, an
// ingest stand-in in this process answering each envelope after a set round trip, and what arrived against what
// was sampled (plus what the SDK reported dropped). Usage: tsx bench/transport-sizing.ts [N] [seconds] [rtt ms]
// (BENCH_SERVER_<NAME> sets <NAME> for the server, e.g. BENCH_SERVER_SENTRY_TRANSPORT_BUFFER_SIZE=64).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { io } from 'socket.io-client';
import { startOpenAIStub } from '../test/support/openai-stub.js';
import { spawnServer } from '../test/support/spawn-server.js';

const streams = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 15);
const rttMs = Number(process.argv[4] ?? 100);
const CHUNK_MS = 100;

/** The ingest stand-in: counts envelopes, transactions and client-report drops; answers after `rttMs`. */
async function startIngest() {
  const counts = { envelopes: 0, transactions: 0, discarded: {} as Record<string, number>, inFlight: 0, maxInFlight: 0 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    counts.inFlight++;
    counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight);
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let body = Buffer.concat(chunks);
      if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const lines = body.toString('utf8').split('\n');
      counts.envelopes++;
      lines.forEach((line, index) => {
        if (line.startsWith('{"type":"transaction"')) counts.transactions++;
        if (line.startsWith('{"type":"client_report"')) {
          const report = JSON.parse(lines[index + 1]!) as { discarded_events?: Array<{ reason: string; category: string; quantity: number }> };
          for (const d of report.discarded_events ?? []) counts.discarded[`${d.reason}:${d.category}`] = (counts.discarded[`${d.reason}:${d.category}`] ?? 0) + d.quantity;
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { counts, port: (server.address() as AddressInfo).port, close: () => server.close() };
}

function serverEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (key.startsWith('BENCH_SERVER_') && value !== undefined) env[key.slice(13)] = value;
  return env;
}

async function main() {
  const [ingest, stub] = await Promise.all([startIngest(), startOpenAIStub()]);
  const server = await spawnServer({
    SENTRY_DSN: `http://publickey@127.0.0.1:${ingest.port}/1`,
    SENTRY_TRACES_SAMPLE_RATE: '1',
    SENTRY_PROFILES_SAMPLE_RATE: '0',
    TRANSCRIBER: 'openai',
    OPENAI_API_KEY: 'sk-bench-transport',
    OPENAI_BASE_URL: stub.url,
    LOG_LEVEL: 'info',
    ...serverEnv(),
  }, 60_000);
  let acked = 0;
  const chunk = Buffer.alloc((16000 * 2 * CHUNK_MS) / 1000);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async (_, index) => {
      // Spread the starts over one chunk interval, as independent clients would be.
      await new Promise((r) => setTimeout(r, (index * CHUNK_MS) / streams));
      const socket = io(`${server.url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false });
      const call = (event: string, payload: unknown) => (socket.timeout(30_000) as any).emitWithAck(event, payload);
      const start = await call('start_session', {});
      const id = start.session_id as string;
      acked++;
      for (let seq = 0; seq < (seconds * 1000) / CHUNK_MS; seq++) {
        const due = started + index * (CHUNK_MS / streams) + seq * CHUNK_MS;
        await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
        await call('audio_chunk', { session_id: id, seq, chunk });
        acked++;
      }
      await call('end_session', { session_id: id });
      acked++;
      socket.disconnect();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  // Let the transport drain, then stop the server: its shutdown flush sends the client report.
  let last = -1;
  while (ingest.counts.transactions !== last) {
    last = ingest.counts.transactions;
    await new Promise((r) => setTimeout(r, 2000));
  }
  await server.stop();
  await new Promise((r) => setTimeout(r, 500));
  const drops = server.stdout.filter((line) => line.includes('Sentry dropped')).length;
  const result = {
    streams,
    seconds: Math.round(elapsed * 10) / 10,
    rtt_ms: rttMs,
    server_env: serverEnv(),
    sampled_events: acked,
    transactions_received: ingest.counts.transactions,
    envelopes_received: ingest.counts.envelopes,
    transactions_per_stream_per_s: Math.round((ingest.counts.transactions / streams / elapsed) * 100) / 100,
    max_in_flight_at_ingest: ingest.counts.maxInFlight,
    client_report_discarded: ingest.counts.discarded,
    drop_log_lines: drops,
  };
  console.log(JSON.stringify(result, null, 2));
  ingest.close();
  await stub.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
