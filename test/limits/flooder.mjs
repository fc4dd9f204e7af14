// A flooding client in its own process (the real socket.io-client): one session, CHUNKS audio_chunk events emitted at
// once without waiting for acks. Prints "flooding" when it starts, then one JSON line when every chunk was answered or
// the server closed the connection. With --hold it stays connected afterwards until killed.
// Usage: node test/limits/flooder.mjs <url> <chunks> [--hold]
import { io } from 'socket.io-client';

const [url, count = '6000', mode] = process.argv.slice(2);
const chunk = Buffer.alloc(3200, 7);
const socket = io(`${url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false });
await new Promise((resolve, reject) => {
  socket.once('connect', resolve);
  socket.once('connect_error', reject);
});
const opened = await socket.timeout(10_000).emitWithAck('start_session', {});
const report = { sent: Number(count), codes: {}, unanswered: 0, notice: undefined, disconnect: undefined, session_id: opened.session_id, resume_token: opened.resume_token };
socket.on('server_notice', (notice) => (report.notice = notice));
socket.on('disconnect', (reason) => (report.disconnect = reason));
process.stdout.write('flooding\n');
await Promise.all(
  Array.from({ length: report.sent }, () =>
    socket
      .timeout(60_000)
      .emitWithAck('audio_chunk', { session_id: opened.session_id, chunk })
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
if (mode !== '--hold') {
  socket.disconnect();
  process.exit(0);
}
