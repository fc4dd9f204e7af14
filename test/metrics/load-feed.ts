// Feeds ServerMetrics as a loaded server would (seeded, bounded randomness): sessions come and go, chunks are acked
// in milliseconds, segments queue for a limited engine and come back as results, a few chunks are refused.
import type { ServerMetrics } from '../../src/metrics/metrics.js';

/** Mulberry32: a small seeded generator, so a run draws the same numbers each time. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function feedLoad(metrics: ServerMetrics, options: { seed: number; tickMs?: number }): () => void {
  const next = random(options.seed);
  let sessions = 4;
  let tick = 0;
  for (let i = 0; i < sessions; i++) {
    metrics.connectionOpened();
    metrics.sessionStarted(false);
  }
  const timer = setInterval(() => {
    tick += 1;
    // Sessions drift between 2 and 24.
    const change = next() < 0.3 ? (next() < 0.55 ? 1 : -1) : 0;
    if (change > 0 && sessions < 24) {
      sessions += 1;
      metrics.connectionOpened();
      metrics.sessionStarted(next() < 0.1);
    } else if (change < 0 && sessions > 2) {
      sessions -= 1;
      metrics.sessionEnded();
      metrics.connectionClosed();
    }
    metrics.sessionsActive(sessions);
    for (let i = 0; i < sessions; i++) {
      const ack = 0.0004 + next() * 0.003 + (next() < 0.02 ? 0.02 : 0);
      metrics.chunkAccepted(0.1);
      metrics.storeRoundTrip('append', ack / 3);
      metrics.eventHandled('audio_chunk', ack);
    }
    if (next() < 0.2) metrics.eventHandled('audio_chunk', 0.001, 'SEQ_GAP');
    if (next() < 0.05) metrics.eventHandled('start_session', 0.001, 'OVERLOADED');
    const queued = Math.max(0, Math.round(sessions / 4 - 2 + next() * 2));
    metrics.engineState({ limit: 4, inFlight: Math.min(4, Math.ceil(sessions / 5)), queued });
    if (tick % 3 === 0) {
      const seconds = 0.6 + next() * 1.2 + queued * 0.2;
      metrics.queueWait('final', queued * 0.2);
      metrics.engineRequest('final', seconds * 0.8, next() < 0.03 ? '5xx' : 'ok');
      metrics.resultEmitted('final', seconds);
      metrics.audioTranscribed(3);
    }
  }, options.tickMs ?? 50);
  return () => clearInterval(timer);
}
