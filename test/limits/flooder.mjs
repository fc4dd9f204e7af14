// A flooding client in its own process (the real socket.io-client): one session, CHUNKS audio_chunk events emitted at
// once without waiting for acks. Prints "flooding" when it starts, then one JSON line when every chunk was answered or
// the server closed the connection. With --hold it stays connected afterwards until killed; --token=T authenticates;
// --seq=N sends every chunk with that seq (e.g. far ahead, so each is refused SEQ_GAP instead of RATE_LIMITED).
// Usage: node test/limits/flooder.mjs <url> <chunks> [--hold] [--token=T] [--seq=N]
import { io } from 'socket.io-client';

const [url, count = '6000', ...flags] = process.argv.slice(2);
const flag = (name) => flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
const token = flag('token');
const seq = flag('seq') === undefined ? undefined : Number(flag('seq'));
const chunk = Buffer.alloc(3200, 7);
const socket = io(`${url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false, ...(token ? { auth: { token } } : {}) });
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
      .emitWithAck('audio_chunk', { session_id: opened.session_id, chunk, ...(seq === undefined ? {} : { seq }) })
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
if (!flags.includes('--hold')) {
  socket.disconnect();
  process.exit(0);
}
