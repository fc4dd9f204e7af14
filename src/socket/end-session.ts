// end_session: the session transcribes what is still buffered and emits its last results; the ack is the transcript.
import { endSessionSchema } from '../protocol/index.js';
import type { EventHandler } from './handler.js';
import { invalidPayload } from './refusal.js';

export const endSession: EventHandler<'end_session'> = async (payload, { trace, reply, sink, context }) => {
  const parsed = endSessionSchema.safeParse(payload);
  if (!parsed.success) throw invalidPayload('end_session', parsed.error);
  const id = parsed.data.session_id;
  trace.setAttributes({ 'session.id': id });
  const ended = await context.sessions.end(id, sink, trace);
  trace.setAttributes({ 'session.segments': ended.segments, 'session.duration_ms': ended.durationMs, 'result.text_length': ended.text.length });
  reply({
    ok: true,
    session_id: ended.sessionId,
    text: ended.text,
    segments: ended.segments,
    duration_ms: ended.durationMs,
    ...(ended.untranscribed.length > 0 ? { untranscribed: ended.untranscribed } : {}),
  });
};
