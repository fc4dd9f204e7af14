// audio_chunk: validates a chunk, appends it to the session's buffer in one store round trip, acks, and
// only then lets the session cut and transcribe segments (the ack never waits for an engine).
import { audioChunkSchema, bytesToMs, ErrorCode, ProtocolError } from '../protocol/index.js';
import type { EventHandler } from './handler.js';
import { invalidPayload } from './refusal.js';

function asBuffer(chunk: Uint8Array | ArrayBuffer): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  // A view over the same memory: no copy of the audio.
  return chunk instanceof ArrayBuffer ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export const audioChunk: EventHandler<'audio_chunk'> = async (payload, { trace, reply, context }) => {
  const { config, store, registry } = context;
  const { sessionId, seq, chunk } = await trace.span('process', 'Validate audio chunk', {}, (span) => {
    const parsed = audioChunkSchema.safeParse(payload);
    if (!parsed.success) throw invalidPayload('audio_chunk', parsed.error);
    const audio = asBuffer(parsed.data.chunk);
    span.setAttributes({ 'chunk.bytes': audio.length });
    if (audio.length > config.maxChunkBytes) {
      throw new ProtocolError(ErrorCode.CHUNK_TOO_LARGE, `audio_chunk: chunk is ${audio.length} bytes, above MAX_CHUNK_BYTES=${config.maxChunkBytes}; send smaller chunks (100 ms of 16 kHz audio is 3200 bytes)`);
    }
    if (audio.length === 0 || audio.length % 2 !== 0) {
      throw new ProtocolError(ErrorCode.INVALID_AUDIO, `audio_chunk: chunk has ${audio.length} bytes; 16-bit PCM needs a non-zero, even byte count`);
    }
    return { sessionId: parsed.data.session_id, seq: parsed.data.seq, chunk: audio };
  });
  trace.setAttributes({ 'session.id': sessionId, 'chunk.seq': seq, 'chunk.bytes': chunk.length });

  const runtime = await registry.get(sessionId);
  if (runtime?.closing) throw new ProtocolError(ErrorCode.SESSION_ENDED, `audio_chunk: session ${sessionId} is ending; start a new session for more audio`);
  const rate = runtime?.settings.sample_rate ?? 16000;
  const maxBufferedBytes = Math.round((config.maxBufferMs * rate) / 1000) * 2;
  const outcome = await trace.span(
    'cache.set',
    'Buffer audio chunk',
    { 'cache.key': `${config.redisKeyPrefix}{${sessionId}}:audio`, 'cache.item_size': chunk.length, 'db.system': store.kind },
    () => store.append(sessionId, seq, chunk, maxBufferedBytes),
  );

  switch (outcome.status) {
    case 'unknown':
      throw new ProtocolError(ErrorCode.UNKNOWN_SESSION, `audio_chunk: no live session ${sessionId}; call start_session first (sessions expire after SESSION_TTL_S idle)`);
    case 'ended':
      throw new ProtocolError(ErrorCode.SESSION_ENDED, `audio_chunk: session ${sessionId} has ended; start a new session for more audio`);
    case 'gap':
      throw new ProtocolError(ErrorCode.SEQ_GAP, `audio_chunk: seq ${seq} skips ahead; the server expects seq ${outcome.nextSeq} next`, { expected_seq: outcome.nextSeq });
    case 'full':
      throw new ProtocolError(ErrorCode.BUFFER_FULL, `audio_chunk: session ${sessionId} already buffers ${Math.round(bytesToMs(outcome.bufferedBytes, rate))} ms awaiting transcription (MAX_BUFFER_MS=${config.maxBufferMs}); resend this chunk shortly`);
    case 'duplicate': {
      const bufferedMs = Math.round(bytesToMs(outcome.bufferedBytes, rate));
      trace.setAttributes({ 'chunk.duplicate': true, 'session.buffered_ms': bufferedMs });
      reply({ ok: true, seq: outcome.seq, buffered_ms: bufferedMs, duplicate: true });
      return;
    }
    case 'appended': {
      const bufferedMs = Math.round(bytesToMs(outcome.bufferedBytes, rate));
      trace.setAttributes({ 'session.buffered_ms': bufferedMs });
      reply({ ok: true, seq: outcome.seq, buffered_ms: bufferedMs });
      // Segmentation and transcription run after the ack, still inside this event's span.
      const transcription = runtime?.accept(chunk, outcome.receivedBytes, trace);
      if (transcription) await transcription;
    }
  }
};
