// Measures the per-chunk cost of the audio rate check: rate-limiter-flexible's RateLimiterMemory.consume() against
// the inline TokenBucket in src/limits/token-bucket.ts. Run: npx tsx bench/ack-path/limiter-cost.ts
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { TokenBucket } from '../../src/limits/token-bucket.js';

const CALLS = 200_000;
const SESSIONS = 100;

async function timeIt(label: string, run: () => Promise<void> | void): Promise<number> {
  await run(); // warm-up
  const start = process.hrtime.bigint();
  await run();
  const ns = Number(process.hrtime.bigint() - start) / CALLS;
  console.log(`${label.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns per chunk`);
  return ns;
}

const ids = Array.from({ length: SESSIONS }, (_, i) => `session-${i}`);
const limiter = new RateLimiterMemory({ points: 1_000_000_000, duration: 1 });
const flexible = await timeIt('RateLimiterMemory.consume', async () => {
  for (let i = 0; i < CALLS; i++) await limiter.consume(ids[i % SESSIONS]!, 100);
});
const buckets = new Map(ids.map((id) => [id, new TokenBucket(10, 1e12, 0)]));
const inline = await timeIt('TokenBucket.take (Map lookup)', () => {
  for (let i = 0; i < CALLS; i++) buckets.get(ids[i % SESSIONS]!)!.take(100, i);
});
// The bucket's call is synchronous; awaiting it as the handler would costs a microtask — measured too, to be fair.
const inlineAwaited = await timeIt('TokenBucket.take, awaited', async () => {
  for (let i = 0; i < CALLS; i++) await buckets.get(ids[i % SESSIONS]!)!.take(100, i);
});
console.log(`ratio: ${(flexible / inline).toFixed(0)}× (sync), ${(flexible / inlineAwaited).toFixed(0)}× (awaited)`);
