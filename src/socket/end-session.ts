// end_session: transcribes what is still buffered, emits the last results, then acks the whole transcript.
import { bytesToMs, endSessionSchema, ErrorCode, ProtocolError, type EndSessionAccepted } from '../protocol/index.js';
import type { BufferStore, SessionRecord } from '../store/buffer-store.js';
import type { EventHandler } from './handler.js';
import { invalidPayload } from './refusal.js';

async function summary(store: BufferStore, record: SessionRecord): Promise<EndSessionAccepted> {
  const segments = await store.segmentsFrom(record.id, 0);
  return {
    session_id: record.id,
    text: segments.map((s) => s.text).join(' '),
    segments: record.segments,
    duration_ms: Math.round(bytesToMs(record.receivedBytes, record.settings.sample_rate)),
  };
}

export const endSession: EventHandler<'end_session'> = async (payload, { trace, reply, context }) => {
  const { store, registry, telemetry } = context;
  const parsed = endSessionSchema.safeParse(payload);
  if (!parsed.success) throw invalidPayload('end_session', parsed.error);
  const id = parsed.data.session_id;
  trace.setAttributes({ 'session.id': id });

  const runtime = await registry.get(id);
  if (!runtime) {
    const record = await store.getSession(id);
    if (!record) throw new ProtocolError(ErrorCode.UNKNOWN_SESSION, `end_session: no live session ${id}; it never started or expired`);
    // A repeated end_session (its first ack was lost) gets the same answer.
    return reply({ ok: true, ...(await summary(store, record)) });
  }
  // Refuse new chunks first, then read how much audio the session holds.
  runtime.closing = true;
  const record = await store.getSession(id);
  if (!record) throw new ProtocolError(ErrorCode.UNKNOWN_SESSION, `end_session: session ${id} expired`);
  try {
    await runtime.finish(record.receivedBytes, trace);
  } catch (error) {
    // The audio stays buffered: the client may call end_session again.
    runtime.closing = false;
    throw error instanceof ProtocolError
      ? error
      : new ProtocolError(ErrorCode.ENGINE_ERROR, `end_session: transcription failed (${(error as Error).message}); the audio is kept, call end_session again`);
  }
  const ended = await store.endSession(id);
  registry.remove(id);
  telemetry.sessionEnded(id);
  if (!ended) throw new ProtocolError(ErrorCode.UNKNOWN_SESSION, `end_session: session ${id} expired while ending`);
  const result = await summary(store, ended);
  trace.setAttributes({ 'session.segments': result.segments, 'session.duration_ms': result.duration_ms, 'result.text_length': result.text.length });
  reply({ ok: true, ...result });
};
