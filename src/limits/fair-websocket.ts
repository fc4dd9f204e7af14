// The WebSocket server Socket.IO runs on, with each connection's messages delivered one per event-loop turn: a
// connection that floods cannot keep the loop from reading everyone else's.
//
// By default ws hands every message of a TCP read to Socket.IO synchronously, and libuv reads a busy socket up to 32
// times (64 KiB each) per turn: a client that sends without waiting for acks had hundreds of packets handled before
// another connection's chunk was even read (bench/noisy-neighbour.ts). With allowSynchronousEvents off, ws defers each
// message to its own setImmediate, so the loop visits every readable connection between two messages of one.
import { WebSocketServer, type ServerOptions } from 'ws';

export class FairWebSocketServer extends WebSocketServer {
  constructor(options?: ServerOptions, callback?: () => void) {
    super({ ...options, allowSynchronousEvents: false }, callback);
  }
}
