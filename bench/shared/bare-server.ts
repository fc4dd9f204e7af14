// The benchmark's yardstick: a bare Socket.IO server that answers the /transcription events with well-formed
// acks and does no work at all (no validation, no store, no segmentation, no Sentry), so the real server's
// figures can be read as a fraction of what the transport itself allows on the same machine.
// Usage: node --import tsx bench/shared/bare-server.ts   (PORT, HOST; prints "bare server listening on port N")
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';

const NAMESPACE = '/transcription';
type Ack = (response: unknown) => void;

const httpServer = createServer((_request, response) => {
  response.writeHead(404);
  response.end();
});
// The same transport settings as the real server (src/server/compose.ts), so only the work differs.
const io = new Server(httpServer, { maxHttpBufferSize: 4 * 1024 * 1024, serveClient: false, cors: { origin: true } });

io.of(NAMESPACE).on('connection', (socket) => {
  socket.on('start_session', (payload: { session_id?: string; sample_rate?: number } | undefined, ack: Ack) => {
    ack({ ok: true, session_id: payload?.session_id ?? randomUUID(), resumed: false, next_seq: 0, sample_rate: payload?.sample_rate ?? 16000 });
  });
  socket.on('audio_chunk', (payload: { seq?: number }, ack: Ack) => {
    ack({ ok: true, seq: payload.seq ?? 0, buffered_ms: 0 });
  });
  socket.on('end_session', (payload: { session_id: string }, ack: Ack) => {
    ack({ ok: true, session_id: payload.session_id, text: '', segments: 0, duration_ms: 0 });
  });
});

httpServer.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const { port } = httpServer.address() as AddressInfo;
  process.stdout.write(`bare server listening on port ${port}\n`);
});

// Exit through process.exit so `node --cpu-prof` writes its profile.
const stop = () => io.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
