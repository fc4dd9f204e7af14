// The drop counter between Sentry's transport and the server: totals by reason and category, listeners, and the
// metrics seam told through the Sentry telemetry's options.
import { describe, expect, it } from 'vitest';
import { droppedTelemetry, onTelemetryDropped, recordTelemetryDrop } from '../../src/telemetry/dropped-telemetry.js';
import { createSentryTelemetry } from '../../src/telemetry/sentry-telemetry.js';

describe('dropped telemetry', () => {
  it('totals drops by reason and category and tells each listener until it unsubscribes', () => {
    const before = droppedTelemetry()['queue_overflow:transaction'] ?? 0;
    const heard: Array<[string, string, number]> = [];
    const stop = onTelemetryDropped((reason, category, count) => heard.push([reason, category, count]));
    recordTelemetryDrop('queue_overflow', 'transaction');
    recordTelemetryDrop('network_error', 'error', 3);
    stop();
    recordTelemetryDrop('queue_overflow', 'transaction', 2);
    expect(heard).toEqual([
      ['queue_overflow', 'transaction', 1],
      ['network_error', 'error', 3],
    ]);
    expect(droppedTelemetry()['queue_overflow:transaction']).toBe(before + 3);
  });

  it('passes every drop to the metrics seam given to the Sentry telemetry', () => {
    const counted: Array<[string, string, number]> = [];
    createSentryTelemetry({ metrics: { telemetryDropped: (reason, category, count) => counted.push([reason, category, count]) } });
    recordTelemetryDrop('ratelimit_backoff', 'transaction', 5);
    expect(counted).toEqual([['ratelimit_backoff', 'transaction', 5]]);
  });
});
