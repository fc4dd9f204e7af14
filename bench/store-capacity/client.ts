// One load process of the store-capacity benchmark: `streams` sessions on the store's own Redis scripts, each as fast
// as its round trips allow, at the real per-chunk mix: one append of a 100 ms chunk (3,200 bytes), and every 30th
// chunk (a 3 s segment) a lease renewal, the segment's read and its commit. Prints one JSON line when told to stop.
import { createRedisStore } from '../../src/store/redis-store.js';

const [url, streamsArg, waitArg, prefix] = process.argv.slice(2);
const streams = Number(streamsArg);
const CHUNK = Buffer.alloc(3200, 7);
const SEGMENT_CHUNKS = 30;

const store = await createRedisStore({ url: url!, keyPrefix: prefix!, ttlS: 300, waitReplicas: Number(waitArg), waitTimeoutMs: 1000 });
let counting = false;
let chunks = 0;
let errors = 0;
let running = true;

async function stream(id: string): Promise<void> {
  await store.openSession(id, { format: 'pcm_s16le', sample_rate: 16000, channels: 1 } as never);
  const fence = (await store.claimSession(id, 60_000))!;
  let committed = 0;
  let received = 0;
  let seq = 0;
  while (running) {
    try {
      const r = await store.append(id, seq, CHUNK, 1 << 24);
      if (r.status !== 'appended') throw new Error(r.status);
      seq += 1;
      received += CHUNK.length;
      if (counting) chunks += 1;
      if (seq % SEGMENT_CHUNKS === 0) {
        await store.renewLease(id, fence, 60_000);
        await store.readAudio(id, committed, received);
        await store.commitSegment(id, committed, received, 'segment text of a few words', fence);
        committed = received;
      }
    } catch {
      if (counting) errors += 1;
    }
  }
}

const done = Promise.all(Array.from({ length: streams }, (_, i) => stream(`${process.pid}-${i}`)));
process.stdout.write('ready\n');
process.stdin.on('data', (data: Buffer) => {
  const command = data.toString().trim();
  if (command === 'start') counting = true;
  if (command === 'stop') {
    counting = false;
    running = false;
    void done.then(async () => {
      process.stdout.write(`${JSON.stringify({ chunks, errors })}\n`);
      await store.close();
      process.exit(0);
    });
  }
});
