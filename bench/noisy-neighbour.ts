// Noisy neighbour: a real-time client streams beside one that floods 6,000 chunks without waiting for acks. Reports
// the real-time client's ack latency (target P99 ≤ 20 ms) and checks the flooding session holds exactly the audio it
// was acked for. Runs the built server (dist/) as its own process: npm run build && npx tsx bench/noisy-neighbour.ts
import { io, type Socket } from 'socket.io-client';
import { nearestRank } from '../src/loadtest/stats.js';
import { stopAll } from './processes.js';
import { CONFIGURATIONS, startInfrastructure, startServer } from './servers.js';

const FLOOD_CHUNKS = Number(process.env.FLOOD_CHUNKS ?? 6000);
const CHUNK_MS = 100;
const CHUNK = Buffer.alloc((16000 * CHUNK_MS) / 1000 * 2, 7);

async function connect(url: string): Promise<Socket> {
  const socket = io(`${url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

async function main(): Promise<void> {
  const infra = await startInfrastructure(false);
  const configuration = CONFIGURATIONS.find((c) => c.id === 'memory-no-sentry')!;
  const server = await startServer(configuration, infra);
  try {
    const realtime = await connect(server.url);
    const flooder = await connect(server.url);
    const rt = await realtime.emitWithAck('start_session', {});
    const fl = await flooder.emitWithAck('start_session', {});

    // The real-time client: one 100 ms chunk every 100 ms, each ack timed.
    const latencies: number[] = [];
    let running = true;
    const realtimeDone = (async () => {
      let seq = 0;
      const start = performance.now();
      while (running) {
        const sent = performance.now();
        const ack = await realtime.timeout(10_000).emitWithAck('audio_chunk', { session_id: rt.session_id, seq, chunk: CHUNK });
        latencies.push(performance.now() - sent);
        if (!ack.ok) throw new Error(`real-time chunk refused: ${JSON.stringify(ack)}`);
        seq++;
        const next = start + seq * CHUNK_MS;
        await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      }
      return seq;
    })();

    await new Promise((r) => setTimeout(r, 1000));
    // The flood: every chunk emitted at once, without seq (each accepted one is appended), acks counted.
    const codes = new Map<string, number>();
    let ackedMs = 0;
    const floodStart = performance.now();
    const acks = await Promise.all(
      Array.from({ length: FLOOD_CHUNKS }, () =>
        flooder
          .timeout(120_000)
          .emitWithAck('audio_chunk', { session_id: fl.session_id, chunk: CHUNK })
          .then((ack: any) => {
            const code = ack.ok ? 'ok' : ack.error.code;
            codes.set(code, (codes.get(code) ?? 0) + 1);
            if (ack.ok && !ack.duplicate) ackedMs += CHUNK_MS;
          }),
      ),
    );
    const floodMs = performance.now() - floodStart;
    await new Promise((r) => setTimeout(r, 2000));
    running = false;
    const realtimeChunks = await realtimeDone;
    const end = await flooder.timeout(120_000).emitWithAck('end_session', { session_id: fl.session_id });
    await realtime.timeout(120_000).emitWithAck('end_session', { session_id: rt.session_id });

    latencies.sort((a, b) => a - b);
    const p = (q: number) => nearestRank(latencies, q)!.toFixed(2);
    console.log(`Noisy neighbour: ${FLOOD_CHUNKS} chunks flooded (${acks.length} answered in ${(floodMs / 1000).toFixed(2)} s) beside one real-time stream`);
    console.log(`  real-time ack latency (ms), ${realtimeChunks} chunks: P50 ${p(50)} · P95 ${p(95)} · P99 ${p(99)} · max ${latencies.at(-1)!.toFixed(2)}   (target P99 ≤ 20)`);
    console.log(`  flood answers: ${[...codes].map(([code, n]) => `${code} ${n}`).join(', ')}`);
    console.log(`  flood session: ${end.ok ? end.duration_ms : JSON.stringify(end)} ms held, ${ackedMs} ms acked → ${end.ok && end.duration_ms === ackedMs ? 'exact' : 'MISMATCH'}`);
    realtime.disconnect();
    flooder.disconnect();
  } finally {
    await server.child.stop(2000);
    await stopAll();
  }
}

main().catch(async (error: unknown) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
