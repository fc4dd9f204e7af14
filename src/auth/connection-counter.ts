// Counts open connections per client address, so one address cannot hold more than MAX_CONNECTIONS_PER_IP.
export interface ConnectionCounter {
  /** Counts a connection from `address`; false (and nothing counted) when the address is at its limit. */
  acquire(address: string): boolean;
  /** Uncounts one connection from `address`; call once per successful acquire. */
  release(address: string): void;
  /** Open connections from `address` (for tests and logs). */
  count(address: string): number;
}

export function createConnectionCounter(maxPerAddress: number): ConnectionCounter {
  const open = new Map<string, number>();
  return {
    acquire(address) {
      const n = open.get(address) ?? 0;
      if (maxPerAddress > 0 && n >= maxPerAddress) return false;
      open.set(address, n + 1);
      return true;
    },
    release(address) {
      const n = open.get(address) ?? 0;
      // Deleted at zero so the map holds only addresses with open connections.
      if (n <= 1) open.delete(address);
      else open.set(address, n - 1);
    },
    count: (address) => open.get(address) ?? 0,
  };
}
