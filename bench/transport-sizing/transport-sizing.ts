// Measures what the Sentry transport must carry at tracing 1.0: N real-time streams through the built server, an
// ingest stand-in in its own process (slow-ingest.mjs) answering each envelope after a set round trip, and what arrived against what
// was sampled (plus what the SDK reported dropped). Usage: tsx bench/transport-sizing/transport-sizing.ts [N] [seconds] [rtt ms]
// (BENCH_SERVER_<NAME> sets <NAME> for the server, e.g. BENCH_SERVER_SENTRY_TRANSPORT_BUFFER_SIZE=64; BENCH_DEBUG=1
// prints the server's last log lines).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { startOpenAIStub } from '../../test/support/openai-stub.js';
import { spawnServer } from '../../test/support/spawn-server.js';

const streams = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 15);
const rttMs = Number(process.argv[4] ?? 100);
const CHUNK_MS = 100;

/** The ingest stand-in (bench/transport-sizing/slow-ingest.mjs) in its own process, so the load generator's work does not delay it. */
async function startIngest() {
  const child = spawn(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), 'slow-ingest.mjs'), `--rtt-ms=${rttMs}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve) => {
    let out = '';
    child.stdout!.on('data', (data: Buffer) => {
      out += data.toString();
      const match = /listening on port (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
  });
  return {
    port,
    counts: async () =>
      (await (await fetch(`http://127.0.0.1:${port}/count`)).json()) as { envelopes: number; transactions: number; discarded: Record<string, number>; maxInFlight: number },
    close: () => child.kill('SIGTERM'),
  };
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
  for (let now = (await ingest.counts()).transactions; now !== last; now = (await ingest.counts()).transactions) {
    last = now;
    await new Promise((r) => setTimeout(r, 3000));
  }
  const beforeStop = (await ingest.counts()).transactions;
  await server.stop();
  await new Promise((r) => setTimeout(r, 500));
  const counts = await ingest.counts();
  const drops = server.stdout.filter((line) => line.includes("Sentry dropped")).length;
  if (process.env.BENCH_DEBUG) console.log(server.stdout.filter((line) => !line.includes("audio_chunk")).slice(-20).join("\n"), server.stderr.slice(-20).join("\n"));
  const result = {
    streams,
    seconds: Math.round(elapsed * 10) / 10,
    rtt_ms: rttMs,
    server_env: serverEnv(),
    sampled_events: acked,
    sampled_events_per_s: Math.round(acked / elapsed),
    transactions_received: counts.transactions,
    transactions_received_before_stop: beforeStop,
    envelopes_received: counts.envelopes,
    transactions_per_stream_per_s: Math.round((counts.transactions / streams / elapsed) * 100) / 100,
    max_in_flight_at_ingest: counts.maxInFlight,
    client_report_discarded: counts.discarded,
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
