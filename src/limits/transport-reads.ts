// Stops and restarts reading one Socket.IO connection: on the WebSocket transport, ws's pause()/resume() stop reading
// its net.Socket, so the client's unread data fills the TCP window and its writes block (backpressure, no work here).
// Long-polling has no socket to stop (each packet is its own HTTP request): there a flooder is refused and closed only.
import type { Socket } from 'socket.io';

/** What engine.io's websocket transport holds: the ws WebSocket (ws ≥ 8 has pause/resume). */
interface ReadableWebSocket {
  pause(): void;
  resume(): void;
  terminate(): void;
  once(event: 'close', listener: () => void): void;
  readyState: number;
}

const CLOSED = 3;

function webSocketOf(socket: Socket): ReadableWebSocket | undefined {
  const transport = socket.conn.transport as unknown as { name?: string; socket?: Partial<ReadableWebSocket> };
  const ws = transport.name === 'websocket' ? transport.socket : undefined;
  return typeof ws?.pause === 'function' && typeof ws.resume === 'function' && typeof ws.terminate === 'function' && typeof ws.once === 'function' ? (ws as ReadableWebSocket) : undefined;
}

/** Why reading is stopped: a flood's pause, or the read budget of the current loop turn. Reading resumes when none is left. */
export type PauseReason = 'flood' | 'turn';

export interface TransportReads {
  /** False when the transport cannot be paused (long-polling). */
  pause(reason: PauseReason): boolean;
  resume(reason: PauseReason): void;
  /**
   * Drops the TCP connection after `graceMs` (unless it closed by then): a paused socket would never read the client's
   * close frame, which waits behind its unread flood. Call before the Socket.IO disconnect, while the transport is known.
   */
  terminateAfter(graceMs: number): void;
}

export function transportReads(socket: Socket): TransportReads {
  // The WebSocket paused, so the same one is resumed even if the transport changed meanwhile.
  let paused: ReadableWebSocket | undefined;
  const reasons = new Set<PauseReason>();
  return {
    pause(reason) {
      paused ??= webSocketOf(socket);
      if (!paused) return false;
      if (reasons.size === 0) paused.pause();
      reasons.add(reason);
      return true;
    },
    resume(reason) {
      if (!reasons.delete(reason) || reasons.size > 0) return;
      paused?.resume();
      paused = undefined;
    },
    terminateAfter(graceMs) {
      const ws = paused ?? webSocketOf(socket);
      if (!ws || ws.readyState === CLOSED) return;
      const timer = setTimeout(() => ws.terminate(), graceMs);
      timer.unref();
      ws.once('close', () => clearTimeout(timer));
    },
  };
}
