// Counts what Sentry's transport could not deliver (buffer full, network error, rate limit, oversized), so a drop
// is a log line and a metric here as well as a client report there: lost telemetry is never silent.
/** What the SDK reports for each loss: its reason (`queue_overflow`, `network_error`, …) and data category. */
export type DropListener = (reason: string, category: string, count: number) => void;

/** Losses caused by delivery, not by a decision (sampling, beforeSend): the ones that need attention. */
export const DELIVERY_DROP_REASONS: ReadonlySet<string> = new Set(['queue_overflow', 'network_error', 'ratelimit_backoff', 'send_error', 'buffer_overflow']);

const totals = new Map<string, number>();
const listeners = new Set<DropListener>();

/** Called by the transport and the client (instrument.ts) for every item they drop for delivery. */
export function recordTelemetryDrop(reason: string, category: string, count = 1): void {
  const key = `${reason}:${category}`;
  totals.set(key, (totals.get(key) ?? 0) + count);
  for (const listener of listeners) listener(reason, category, count);
}

/** Calls `listener` on every later drop; returns the unsubscribe. */
export function onTelemetryDropped(listener: DropListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Items dropped since start, by `<reason>:<category>` (e.g. `queue_overflow:transaction`). */
export function droppedTelemetry(): Record<string, number> {
  return Object.fromEntries(totals);
}
