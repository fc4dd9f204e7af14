// start_session: validates the settings, opens a new session (its ack carries the resume token) or resumes one this
// connection holds or proves it owns, and re-sends a resumed client the results it may have missed.
import {
  AUDIO_FORMAT,
  AUDIO_FORMATS,
  CONTAINER_FORMATS,
  DEFAULT_SAMPLE_RATE,
  isAudioFormat,
  ErrorCode,
  KEYTERMS_MAX,
  MAX_SAMPLE_RATE,
  MIN_SAMPLE_RATE,
  ProtocolError,
  startSessionSchema,
  type SessionSettings,
} from '../protocol/index.js';
import { SegmentRejectedError } from '../errors/server-errors.js';
import { chooseModel } from '../sessions/allowed-models.js';
import { eventSpans } from '../telemetry/event-spans.js';
import type { EventHandler, HandlerContext } from './handler.js';
import { invalidPayload } from './refusal.js';

const G711_SAMPLE_RATE = 8000;

function settingsFrom(
  payload: unknown,
  context: Pick<HandlerContext, 'interim' | 'models'>,
  pinned: { language?: string; model?: string; models?: readonly string[]; keyterms?: readonly string[] },
): { sessionId: string | undefined; resumeToken: string | undefined; settings: SessionSettings } {
  const { interim } = context;
  const parsed = startSessionSchema.safeParse(payload ?? {});
  if (!parsed.success) throw invalidPayload('start_session', parsed.error);
  const p = parsed.data;
  const format = p.format ?? AUDIO_FORMAT;
  if (!isAudioFormat(format)) {
    throw new ProtocolError(ErrorCode.UNSUPPORTED_FORMAT, `start_session: format "${format}" is not supported; send one of ${AUDIO_FORMATS.map((f) => `"${f}"`).join(', ')}`);
  }
  // Opus streams carry their channel count: mono or stereo (mixed down by the decoder); raw formats must be mono.
  const container = CONTAINER_FORMATS.includes(format);
  // G.711 is telephony's 8 kHz unless said otherwise; the containers decode to the engines' 16 kHz by default.
  const sampleRate = p.sample_rate ?? (format === 'mulaw' || format === 'alaw' ? G711_SAMPLE_RATE : DEFAULT_SAMPLE_RATE);
  if (!Number.isInteger(sampleRate) || sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    throw new ProtocolError(ErrorCode.UNSUPPORTED_FORMAT, `start_session: sample_rate must be a whole number from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz, got ${sampleRate}`);
  }
  if (p.channels !== undefined && p.channels !== 1 && !(container && p.channels === 2)) {
    throw new ProtocolError(ErrorCode.UNSUPPORTED_FORMAT, `start_session: channels must be 1 (mono)${container ? ' or 2 (mixed down)' : ''}, got ${p.channels}; mix down before sending`);
  }
  const intervalMs = p.interim_interval_ms ?? interim.defaultMs;
  if (p.interim_results && (intervalMs < interim.minMs || intervalMs > interim.maxMs)) {
    throw new ProtocolError(ErrorCode.INVALID_PAYLOAD, `start_session: interim_interval_ms must be from ${interim.minMs} to ${interim.maxMs}, got ${intervalMs}`);
  }
  // A client token may pin the language and model: its sessions get them, and may not ask for others.
  for (const field of ['language', 'model'] as const) {
    const wanted = pinned[field];
    if (wanted !== undefined && p[field] !== undefined && p[field] !== wanted) {
      throw new ProtocolError(ErrorCode.INVALID_PAYLOAD, `start_session: this connection's token allows ${field} "${wanted}" only, got "${p[field]}"; leave ${field} out or ask your backend for another token`);
    }
  }
  const settings: SessionSettings = { format, sample_rate: sampleRate, channels: 1 };
  const language = pinned.language ?? p.language;
  // Checked here, before any audio: a model the provider would refuse never reaches it.
  const model = chooseModel(pinned.model ?? p.model, context.models, pinned);
  if (language) settings.language = language;
  if (p.prompt) settings.prompt = p.prompt;
  if (model) settings.model = model;
  if (p.interim_results) settings.interim_interval_ms = intervalMs;
  if (p.word_timestamps) settings.word_timestamps = true;
  if (p.utterance_end_ms !== undefined) settings.utterance_end_ms = p.utterance_end_ms;
  // A token's keyterms come first; the session's own follow, within the same bound.
  const keyterms = [...new Set([...(pinned.keyterms ?? []), ...(p.keyterms ?? [])])];
  if (keyterms.length > KEYTERMS_MAX) {
    throw new ProtocolError(ErrorCode.INVALID_PAYLOAD, `start_session: keyterms may hold at most ${KEYTERMS_MAX} terms with the token's own, got ${keyterms.length}`);
  }
  if (keyterms.length > 0) settings.keyterms = keyterms;
  return { sessionId: p.session_id, resumeToken: p.resume_token, settings };
}

export const startSession: EventHandler<'start_session'> = async (payload, { trace, reply, sink, allowance, context }) => {
  const { sessionId, resumeToken, settings } = await eventSpans.validate(trace, 'session settings', () => settingsFrom(payload, context, allowance));
  const opened = await context.sessions.open({ sessionId, resumeToken, settings, allowance }, sink, trace);
  trace.setAttributes({
    'session.id': opened.sessionId,
    'session.resumed': opened.resumed,
    'session.next_seq': opened.nextSeq,
    'audio.sample_rate': opened.sampleRate,
    'session.interim_interval_ms': opened.interimIntervalMs,
  });
  reply({
    ok: true,
    session_id: opened.sessionId,
    resumed: opened.resumed,
    next_seq: opened.nextSeq,
    sample_rate: opened.sampleRate,
    ...(opened.interimIntervalMs ? { interim_interval_ms: opened.interimIntervalMs } : {}),
    ...(opened.resumeToken ? { resume_token: opened.resumeToken } : {}),
  });
  for (const item of opened.replay) {
    if (item instanceof SegmentRejectedError) sink.error(opened.sessionId, item);
    else sink.result(item);
  }
};
