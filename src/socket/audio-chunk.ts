// audio_chunk: validates a chunk, appends it to the session in one store round trip, acks, and only then lets the
// session cut and transcribe segments (the ack never waits for an engine).
import { RateLimitedError, SessionEndedError, UnknownSessionError } from '../errors/server-errors.js';
import { AUDIO_FORMAT, ErrorCode, parseAudioChunk, ProtocolError } from '../protocol/index.js';
import { eventSpans } from '../telemetry/event-spans.js';
import type { EventHandler } from './handler.js';
import { invalidPayload } from './refusal.js';

function asBuffer(chunk: Uint8Array | ArrayBuffer): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  // A view over the same memory: no copy of the audio.
  return chunk instanceof ArrayBuffer ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Retry hint for a chunk refused because too many of its connection's chunks await their ack. */
const IN_FLIGHT_RETRY_MS = 100;

export const audioChunk: EventHandler<'audio_chunk'> = async (payload, { trace, reply, sink, allowance, context }) => {
  // Cheap refusals first, so a flood is answered before any parsing or store work: too many chunks awaiting their
  // ack on this connection, or a session this connection does not hold (to it, such a session does not exist).
  if (allowance.inFlight >= allowance.maxInFlight) {
    throw new RateLimitedError(`more than ${allowance.maxInFlight} chunks of this connection await their ack (MAX_CHUNKS_IN_FLIGHT); wait for acks before sending more`, { retryAfterMs: IN_FLIGHT_RETRY_MS });
  }
  const claimed = (payload as { session_id?: unknown } | null | undefined)?.session_id;
  if (typeof claimed === 'string' && claimed.length <= 128 && !context.sessions.owns(claimed, sink)) {
    if (context.sessions.ownedWhenEnded(claimed, sink)) throw new SessionEndedError(claimed, false);
    throw new UnknownSessionError(claimed, 'not-found');
  }
  // Counted until the ack (or a refusal), not while the chunk's transcription runs after it.
  allowance.inFlight += 1;
  let counted = true;
  const release = () => {
    if (!counted) return;
    counted = false;
    allowance.inFlight -= 1;
  };
  try {
    await accept(payload, { trace, reply: (response) => (release(), reply(response)), sink, allowance, context });
  } finally {
    release();
  }
};

const accept: EventHandler<'audio_chunk'> = async (payload, { trace, reply, sink, allowance, context }) => {
  const { maxChunkBytes } = context;
  const { sessionId, seq, chunk } = await eventSpans.validate(trace, 'audio chunk', (span) => {
    const parsed = parseAudioChunk(payload);
    if (!parsed.success) throw invalidPayload('audio_chunk', parsed.error);
    const audio = asBuffer(parsed.data.chunk);
    span.setAttributes({ 'chunk.bytes': audio.length });
    if (audio.length > maxChunkBytes) {
      throw new ProtocolError(ErrorCode.CHUNK_TOO_LARGE, `audio_chunk: chunk is ${audio.length} bytes, above MAX_CHUNK_BYTES=${maxChunkBytes}; send smaller chunks (100 ms of 16 kHz audio is 3200 bytes)`);
    }
    // Only raw 16-bit PCM has a byte count to check here; the other formats are checked by decoding.
    const format = context.sessions.formatOf(parsed.data.session_id) ?? AUDIO_FORMAT;
    if (audio.length === 0 || (format === AUDIO_FORMAT && audio.length % 2 !== 0)) {
      throw new ProtocolError(ErrorCode.INVALID_AUDIO, `audio_chunk: chunk has ${audio.length} bytes; ${format === AUDIO_FORMAT ? '16-bit PCM needs a non-zero, even byte count' : 'send at least one byte'}`);
    }
    span.setAttributes({ 'audio.format': format });
    context.metrics.chunkBytesReceived(format, audio.length);
    return { sessionId: parsed.data.session_id, seq: parsed.data.seq, chunk: audio };
  });
  trace.setAttributes({ 'session.id': sessionId, 'chunk.seq': seq, 'chunk.bytes': chunk.length });

  const outcome = await context.sessions.append(sessionId, seq, chunk, sink, trace);
  trace.setAttributes({ 'session.buffered_ms': outcome.bufferedMs, ...(outcome.status === 'duplicate' ? { 'chunk.duplicate': true } : {}) });
  if (outcome.status === 'duplicate') {
    reply({ ok: true, seq: outcome.seq, buffered_ms: outcome.bufferedMs, duplicate: true });
    return;
  }
  reply({ ok: true, seq: outcome.seq, buffered_ms: outcome.bufferedMs });
  // Segmentation and transcription run after the ack, still inside this event's span.
  if (outcome.transcription) await outcome.transcription;
};
