// A hostile client in its own process: floods audio_chunk events that are each refused at once (SEQ_GAP, never
// RATE_LIMITED) without waiting for acks. Usage: node refused-flooder.mjs <url> <token> <chunks>; prints a JSON report.
import { io } from 'socket.io-client';

const [url, token, count = '20000'] = process.argv.slice(2);
const socket = io(`${url}/transcription`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
await new Promise((resolve, reject) => {
  socket.once('connect', resolve);
  socket.once('connect_error', reject);
});
const opened = await socket.timeout(10_000).emitWithAck('start_session', {});
const report = { sent: Number(count), codes: {}, unanswered: 0, notice: undefined, disconnect: undefined };
socket.on('server_notice', (notice) => (report.notice = notice.code));
socket.on('disconnect', (reason) => (report.disconnect = reason));
const chunk = Buffer.alloc(3200, 7);
await Promise.all(
  Array.from({ length: report.sent }, () =>
    socket
      .timeout(20_000)
      .emitWithAck('audio_chunk', { session_id: opened.session_id, seq: 1_000_000_000, chunk })
      .then(
        (ack) => {
          const code = ack.ok ? 'ok' : ack.error.code;
          report.codes[code] = (report.codes[code] ?? 0) + 1;
        },
        () => (report.unanswered += 1),
      ),
  ),
);
process.stdout.write(`${JSON.stringify(report)}\n`);
socket.disconnect();
process.exit(0);
