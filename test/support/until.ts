// Polling for a condition, on its own so unit tests can use it without loading the server harness.

// The real clock, taken before any test fakes one: `until` polls in wall time even under vi.useFakeTimers.
const realSetTimeout = globalThis.setTimeout;
const realNow = Date.now;

/** Waits until `predicate` holds (or resolves true), polling; fails with `what` after `timeoutMs`. */
export async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = realNow() + timeoutMs;
  while (!(await predicate())) {
    if (realNow() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => realSetTimeout(r, 20));
  }
}
