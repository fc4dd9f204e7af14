// Counts open connections per client address, so one address cannot hold more than MAX_CONNECTIONS_PER_IP: in this
// process's memory, or in Redis (src/auth/redis-connection-counter.ts) so the limit holds across workers and nodes.
export interface ConnectionCounter {
  /** Where the counts live: this process only, or every process sharing the Redis. */
  readonly scope: 'process' | 'cluster';
  /** Counts a connection from `address`: resolves with its release (call once), or undefined when the address is at its limit. */
  acquire(address: string): Promise<(() => void) | undefined>;
  /** Open connections from `address` (for tests and logs). */
  count(address: string): Promise<number>;
  close(): Promise<void>;
}

/** Releases at most once, however many of a socket's close events call it. */
export function once(release: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}

export function createConnectionCounter(maxPerAddress: number): ConnectionCounter {
  const open = new Map<string, number>();
  const release = (address: string) => {
    const n = open.get(address) ?? 0;
    // Deleted at zero so the map holds only addresses with open connections.
    if (n <= 1) open.delete(address);
    else open.set(address, n - 1);
  };
  return {
    scope: 'process',
    async acquire(address) {
      const n = open.get(address) ?? 0;
      if (maxPerAddress > 0 && n >= maxPerAddress) return undefined;
      open.set(address, n + 1);
      return once(() => release(address));
    },
    count: async (address) => open.get(address) ?? 0,
    async close() {
      open.clear();
    },
  };
}
