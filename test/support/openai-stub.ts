// A real local OpenAI-compatible HTTP server for tests: records each uploaded segment's PCM and answers like the API.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubUpload {
  /** 0-based number of this transcription request among all received (retries count). */
  index: number;
  /** The WAV's data chunk, byte for byte. */
  pcm: Buffer;
  sampleRate: number;
  model: string | undefined;
  language: string | undefined;
  prompt: string | undefined;
  responseFormat: string | undefined;
  /** Every `timestamp_granularities[]` value sent. */
  timestampGranularities: string[];
  /** The Authorization header as sent, e.g. "Bearer sk-test". */
  authorization: string | undefined;
  /** The status the stub answered with (filled in once `respond` has decided). */
  status: number;
}

export interface StubAnswer {
  /** HTTP status; ≥ 400 sends an OpenAI-style error body. Default 200. */
  status?: number;
  /** Transcript for a 200, error message otherwise. Default `segment ${index}`. */
  text?: string;
  /** OpenAI error code for error answers, e.g. "insufficient_quota" or "audio_too_short". */
  code?: string;
  /** Wait this long before answering (to trip client timeouts). */
  delayMs?: number;
  /** Answer only once this settles (after `delayMs`, if both): a test holds the engine busy until it lets go. */
  hold?: Promise<unknown>;
  /** OpenAI error `param` for error answers, e.g. "model". */
  param?: string;
  /** verbose_json: the speech segment's compression_ratio (above 2.4 Whisper calls it a repetition loop). Default 1.3. */
  compressionRatio?: number;
  /** verbose_json: the language reported. Default "english". */
  language?: string;
}

/** What the stub answers for noise, as Whisper does: an invented sentence marked as probably not speech. */
export const STUB_HALLUCINATION = 'Thank you for watching.';

export interface StubRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

export interface OpenAIStubOptions {
  respond?: (upload: StubUpload, index: number) => StubAnswer;
  /**
   * `retry-after-ms` sent with 408/409/429/5xx answers so the SDK's backoff does not slow tests down
   * (the SDK honours it). Default 0; `null` sends no header, leaving the SDK's own backoff.
   */
  retryAfterMs?: number | null;
  /**
   * Models the stub serves: an upload naming another is refused as OpenAI refuses an unknown model (404
   * model_not_found, before `respond` is asked). Default: any model.
   */
  models?: string[];
}

export interface OpenAIStub {
  /** Base URL ending in /v1, for OpenAI's `baseURL`. */
  url: string;
  /** Every well-formed transcription upload, in arrival order (retries included; see `status`). */
  uploads: StubUpload[];
  /** Every HTTP request, in arrival order. */
  requests: StubRequest[];
  close(): Promise<void>;
}

export async function startOpenAIStub(options: OpenAIStubOptions = {}): Promise<OpenAIStub> {
  const uploads: StubUpload[] = [];
  const requests: StubRequest[] = [];
  const retryAfterMs = options.retryAfterMs === undefined ? 0 : options.retryAfterMs;
  let transcriptionCount = 0;
  let requestCount = 0;

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    requests.push({ method: req.method ?? '', path, headers: req.headers });
    const requestId = `req_stub_${++requestCount}`;
    res.setHeader('x-request-id', requestId);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handle(req, path, Buffer.concat(chunks)).then(
        (answer) => send(res, answer),
        (error: unknown) => send(res, { status: 500, body: errorBody(`stub failure: ${String(error)}`, 'server_error') }),
      );
    });
  });

  interface Reply {
    status: number;
    body: unknown;
    delayMs?: number;
    hold?: Promise<unknown>;
  }

  async function handle(req: http.IncomingMessage, path: string, raw: Buffer): Promise<Reply> {
    if (req.method === 'GET' && path === '/v1/models') {
      return { status: 200, body: { object: 'list', data: [{ id: 'whisper-1', object: 'model', created: 0, owned_by: 'stub' }] } };
    }
    if (req.method === 'POST' && path === '/v1/audio/transcriptions') {
      const index = transcriptionCount++;
      let form: FormData;
      try {
        form = await new Request('http://stub/upload', {
          method: 'POST',
          headers: { 'content-type': req.headers['content-type'] ?? '' },
          body: new Uint8Array(raw.buffer as ArrayBuffer, raw.byteOffset, raw.byteLength),
        }).formData();
      } catch (error) {
        return { status: 400, body: errorBody(`could not parse multipart body: ${String(error)}`, null) };
      }
      const file = form.get('file');
      if (!(file instanceof Blob)) return { status: 400, body: errorBody('missing file part', null, 'file') };
      const wav = parseWav(Buffer.from(await file.arrayBuffer()));
      if (typeof wav === 'string') return { status: 400, body: errorBody(`invalid WAV upload: ${wav}`, null, 'file') };
      const upload: StubUpload = {
        index,
        pcm: wav.pcm,
        sampleRate: wav.sampleRate,
        model: text(form.get('model')),
        language: text(form.get('language')),
        prompt: text(form.get('prompt')),
        responseFormat: text(form.get('response_format')),
        timestampGranularities: form.getAll('timestamp_granularities[]').filter((v): v is string => typeof v === 'string'),
        authorization: req.headers.authorization,
        status: 200,
      };
      uploads.push(upload);
      const model = upload.model ?? '';
      const answer: StubAnswer =
        options.models && !options.models.includes(model)
          ? { status: 404, text: `The model \`${model}\` does not exist or you do not have access to it.`, code: 'model_not_found' }
          : (options.respond?.(upload, index) ?? {});
      const status = answer.status ?? 200;
      upload.status = status;
      const message = answer.text ?? `segment ${index}`;
      const { delayMs, hold } = answer;
      if (status >= 400) return { status, body: errorBody(message, answer.code ?? null, answer.param ?? null), delayMs, hold };
      if (upload.responseFormat === 'verbose_json') return { status, body: verboseAnswer(upload, message, answer), delayMs, hold };
      return { status, body: upload.responseFormat === 'text' ? message : { text: message }, delayMs, hold };
    }
    return { status: 404, body: errorBody(`no route ${req.method} ${path} on the stub`, 'unknown_url') };
  }

  function send(res: http.ServerResponse, reply: Reply): void {
    const write = () => {
      if (res.destroyed) return; // the client gave up (timeout) while we waited
      const retryable = reply.status === 408 || reply.status === 409 || reply.status === 429 || reply.status >= 500;
      if (retryable && retryAfterMs !== null) res.setHeader('retry-after-ms', String(retryAfterMs));
      const isText = typeof reply.body === 'string';
      res.writeHead(reply.status, { 'content-type': isText ? 'text/plain' : 'application/json' });
      res.end(isText ? (reply.body as string) : JSON.stringify(reply.body));
    };
    const held = reply.hold ? () => void reply.hold!.then(write, write) : write;
    if (reply.delayMs && reply.delayMs > 0) {
      const timer = setTimeout(held, reply.delayMs);
      res.on('close', () => clearTimeout(timer));
    } else {
      held();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    uploads,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The stub's reading of 100 ms windows: quiet, broadband noise (many zero crossings) or speech (anything else). */
type WindowKind = 'quiet' | 'noise' | 'speech';
const WINDOW_S = 0.1;

function classify(pcm: Buffer, sampleRate: number): WindowKind[] {
  const size = Math.round(sampleRate * WINDOW_S);
  const kinds: WindowKind[] = [];
  for (let from = 0; from < pcm.length >> 1; from += size) {
    const to = Math.min(pcm.length >> 1, from + size);
    let squares = 0;
    let crossings = 0;
    let previous = 0;
    for (let i = from; i < to; i++) {
      const sample = pcm.readInt16LE(i * 2);
      squares += sample * sample;
      if (i > from && (sample >= 0) !== (previous >= 0)) crossings++;
      previous = sample;
    }
    const rms = Math.sqrt(squares / Math.max(1, to - from));
    kinds.push(rms < 300 ? 'quiet' : crossings / Math.max(1, to - from) > 0.3 ? 'noise' : 'speech');
  }
  // A fricative ("s", "f") crosses zero as often as noise, but not for 300 ms on end.
  for (let i = 0; i < kinds.length; i++) {
    if (kinds[i] !== 'noise' || kinds[i - 1] === 'noise') continue;
    let end = i;
    while (kinds[end] === 'noise') end++;
    if (end - i < 3) kinds.fill('speech', i, end);
  }
  return kinds;
}

/**
 * verbose_json as Whisper answers it: the speech (from its first to its last speech window) as one segment with
 * `message`, each stretch of noise as a segment holding the hallucination with a high no_speech_prob; words spread
 * evenly over each segment when `timestamp_granularities[]=word` was sent.
 */
function verboseAnswer(upload: StubUpload, message: string, answer: StubAnswer) {
  const kinds = classify(upload.pcm, upload.sampleRate);
  const spans: Array<{ start: number; end: number; text: string; noise: boolean }> = [];
  const speech = kinds.flatMap((kind, i) => (kind === 'speech' ? [i] : []));
  if (speech.length > 0) spans.push({ start: speech[0]! * WINDOW_S, end: (speech[speech.length - 1]! + 1) * WINDOW_S, text: message, noise: false });
  for (let i = 0; i < kinds.length; i++) {
    if (kinds[i] !== 'noise' || kinds[i - 1] === 'noise') continue;
    let end = i;
    while (kinds[end] === 'noise') end++;
    const span = { start: i * WINDOW_S, end: end * WINDOW_S };
    // Noise inside the speech's stretch is part of it.
    if (!spans.some((s) => !s.noise && span.start >= s.start && span.end <= s.end)) spans.push({ ...span, text: STUB_HALLUCINATION, noise: true });
  }
  // Neither speech nor noise (the server sent quiet audio, e.g. with a VAD threshold turned down): transcribed as
  // the stub always did, so a test that sends everything gets a result for everything.
  if (spans.length === 0) spans.push({ start: 0, end: (upload.pcm.length / 2) / upload.sampleRate, text: message, noise: false });
  spans.sort((a, b) => a.start - b.start);
  const round = (x: number) => Math.round(x * 100) / 100;
  const segments = spans.map((span, id) => ({
    id,
    seek: 0,
    start: round(span.start),
    end: round(span.end),
    text: ` ${span.text}`,
    tokens: span.text.split(/\s+/).map((_, i) => 50364 + i),
    temperature: 0,
    avg_logprob: span.noise ? -1.35 : -0.25,
    compression_ratio: span.noise ? 0.9 : (answer.compressionRatio ?? 1.3),
    no_speech_prob: span.noise ? 0.92 : 0.02,
  }));
  const body: Record<string, unknown> = {
    task: 'transcribe',
    language: answer.language ?? 'english',
    duration: round((upload.pcm.length / 2) / upload.sampleRate),
    text: spans.map((s) => s.text).join(' '),
    segments,
  };
  if (upload.timestampGranularities.includes('word')) {
    body.words = spans.flatMap((span) => {
      const words = span.text.split(/\s+/).filter(Boolean);
      const step = (span.end - span.start) / words.length;
      return words.map((word, i) => ({ word, start: round(span.start + i * step), end: round(span.start + (i + 1) * step) }));
    });
  }
  return body;
}

function errorBody(message: string, code: string | null, param: string | null = null) {
  return { error: { message, type: 'invalid_request_error', param, code } };
}

function text(value: FormDataEntryValue | null): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * Checks the upload is what the engine promises (RIFF/WAVE, PCM, mono, 16-bit) and returns its data chunk.
 * Written independently of src/audio/wav.ts so a bug there cannot hide itself.
 */
function parseWav(bytes: Buffer): { pcm: Buffer; sampleRate: number } | string {
  if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') {
    return 'no RIFF/WAVE header';
  }
  if (bytes.readUInt32LE(4) !== bytes.length - 8) return `RIFF size ${bytes.readUInt32LE(4)} does not match ${bytes.length - 8}`;
  let fmt: { format: number; channels: number; sampleRate: number; bits: number; blockAlign: number; byteRate: number } | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('ascii', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (body + size > bytes.length) return `chunk "${id}" runs past the end of the file`;
    if (id === 'fmt ') {
      fmt = {
        format: bytes.readUInt16LE(body),
        channels: bytes.readUInt16LE(body + 2),
        sampleRate: bytes.readUInt32LE(body + 4),
        byteRate: bytes.readUInt32LE(body + 8),
        blockAlign: bytes.readUInt16LE(body + 12),
        bits: bytes.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (!fmt) return 'data chunk before fmt chunk';
      if (fmt.format !== 1) return `format ${fmt.format}, expected 1 (PCM)`;
      if (fmt.channels !== 1) return `${fmt.channels} channels, expected mono`;
      if (fmt.bits !== 16) return `${fmt.bits} bits per sample, expected 16`;
      if (fmt.blockAlign !== 2 || fmt.byteRate !== fmt.sampleRate * 2) return 'inconsistent block align or byte rate';
      if (size % 2 !== 0) return `data chunk of ${size} bytes is not whole samples`;
      return { pcm: Buffer.from(bytes.subarray(body, body + size)), sampleRate: fmt.sampleRate };
    }
    offset = body + size + (size % 2); // chunks are word-aligned
  }
  return 'no data chunk';
}

/** A promise the test settles when it chooses: pass `held` as a StubAnswer's `hold`, call `open()` to let the answers go. */
export function gate(): { held: Promise<void>; open: () => void } {
  let open!: () => void;
  const held = new Promise<void>((resolve) => (open = resolve));
  return { held, open };
}
