// What a cluster primary and its workers tell each other over IPC (beside @socket.io/sticky's own messages).

/** Worker → primary: the worker's app is built and takes connections. */
export const WORKER_READY = 'transcription:worker-ready';
/** Primary → worker: drain (as on SIGTERM) and exit. */
export const WORKER_DRAIN = 'transcription:drain';

export interface ClusterMessage {
  type: typeof WORKER_READY | typeof WORKER_DRAIN;
}

export function isClusterMessage(message: unknown, type: ClusterMessage['type']): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}
