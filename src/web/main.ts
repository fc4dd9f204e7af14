// The demo page's controller: Start opens the microphone and a session, chunks flow through the client library,
// Stop sends the last audio and shows the server's final transcript.
import { DEFAULT_SAMPLE_RATE } from '../audio/pcm.js';
import { TranscriptionClient, TranscriptionClientError } from '../client/index.js';
import { Microphone, MicrophoneError } from './microphone.js';
import { OpusRecorder } from './opus-recorder.js';
import { SentAudio } from './sent-audio.js';
import { Transcript } from './transcript.js';
import { PageView, type Phase } from './view.js';

/** How often the figures are redrawn while a session runs: often enough to feel live, rarely enough to cost nothing. */
const FIGURES_INTERVAL_MS = 250;
/** The page marks where the speaker stopped: a second of quiet after speech ends a turn. */
const UTTERANCE_END_MS = 1000;

/** Where the page keeps the running session's id and resume token: this tab only, gone when the tab closes. */
const SESSION_KEY = 'transcription.session';

/**
 * `?language=en` asks the engine for a language instead of detecting it; `?interim=0` turns interim results off;
 * `#token=…` is the server's AUTH_TOKEN or a short-lived token (in the fragment, so it never reaches a server or proxy log).
 */
function pageOptions(): { language: string | undefined; token: string | undefined; interim: boolean; pcm: boolean } {
  const query = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1));
  return {
    language: query.get('language') || undefined,
    token: fragment.get('token') || undefined,
    interim: !['0', 'false', 'off', 'no'].includes((query.get('interim') ?? '').toLowerCase()),
    // `?format=pcm` sends 16-bit PCM from the worklet even where MediaRecorder could send WebM Opus.
    pcm: (query.get('format') ?? '').toLowerCase() === 'pcm',
  };
}

/** Keeps the session id with its resume token, the pair that lets this tab resume the session from a new connection. */
function rememberSession(session: { id: string | undefined; resumeToken: string | undefined } | undefined): void {
  try {
    if (session?.id) sessionStorage.setItem(SESSION_KEY, JSON.stringify({ id: session.id, resumeToken: session.resumeToken }));
    else sessionStorage.removeItem(SESSION_KEY);
  } catch {
    // Storage may be disabled (private modes, policies): the page works without it.
  }
}

function describe(error: unknown): string {
  if (error instanceof TranscriptionClientError || error instanceof MicrophoneError) {
    return error instanceof TranscriptionClientError ? error.describe() : error.message;
  }
  return `Something went wrong: ${error instanceof Error ? error.message : String(error)}`;
}

class TranscriptionPage {
  private readonly view = new PageView();
  private readonly options = pageOptions();
  private readonly transcript = new Transcript();
  private client: TranscriptionClient | undefined;
  private microphone: Microphone | OpusRecorder | undefined;
  /** What this recording sends: webm_opus where the browser records it, else PCM. */
  private format: 'webm_opus' | 'pcm_s16le' = 'pcm_s16le';
  /** Bytes handed to the client this recording, and when it started: the bytes per second shown. */
  private bytesSent = 0;
  private recordingSince = 0;
  private capturedOpusMs = 0;
  private sentAudio = new SentAudio();
  private phase: Phase = 'idle';
  private figuresTimer: ReturnType<typeof setInterval> | undefined;

  constructor() {
    this.view.onStart(() => void this.start());
    this.view.onStop(() => void this.stop());
    this.view.setPhase('idle');
  }

  private async start(): Promise<void> {
    if (this.phase === 'starting' || this.phase === 'recording' || this.phase === 'stopping') return;
    this.setPhase('starting');
    this.view.clearNotice();
    this.view.hideSummary();
    this.view.offerRecording(undefined);
    this.view.setSession(undefined);
    rememberSession(undefined);
    this.transcript.clear();
    this.view.renderTranscript([]);
    this.sentAudio = new SentAudio();
    this.bytesSent = 0;
    this.view.setStatus('Asking for the microphone…');
    const client = this.ensureClient();
    this.format = !this.options.pcm && OpusRecorder.supported() ? 'webm_opus' : 'pcm_s16le';
    try {
      // The microphone first: if it is refused, no session is opened on the server for nothing.
      this.microphone =
        this.format === 'webm_opus'
          ? await OpusRecorder.open(
              (bytes) => this.onOpus(bytes),
              () => this.onMicrophoneLost(),
            )
          : await Microphone.open(
              new URL('worklet.js', location.href).href,
              (chunk) => this.onAudio(chunk.pcm, chunk.levelDbfs),
              () => this.onMicrophoneLost(),
            );
      this.recordingSince = performance.now();
    } catch (error) {
      this.setPhase('failed');
      this.view.setStatus('Not recording.');
      this.view.showNotice(describe(error), 'error');
      return;
    }
    this.setPhase('recording');
    this.view.setStatus('Listening… press Stop when you are done.');
    this.startFigures();
    try {
      // Audio captured before the server answers is queued by the client and numbered once the session exists.
      const accepted = await client.start({ format: this.format, sampleRate: DEFAULT_SAMPLE_RATE, language: this.options.language, interimResults: this.options.interim, utteranceEndMs: UTTERANCE_END_MS });
      this.view.setSession(accepted.session_id);
      rememberSession(client.session);
    } catch (error) {
      await this.fail(error);
    }
  }

  private onAudio(pcm: ArrayBuffer, levelDbfs: number): void {
    const client = this.client;
    if (!client || (this.phase !== 'recording' && this.phase !== 'stopping')) return;
    this.sentAudio.append(pcm);
    this.bytesSent += pcm.byteLength;
    this.view.setLevel(levelDbfs);
    // A rejected chunk is also reported through the client's 'error' event; a failed session is handled there.
    client.sendChunk(pcm).catch(() => {});
  }

  /** The next bytes of the WebM Opus stream: sent as they are; the server decodes them. */
  private onOpus(bytes: ArrayBuffer): void {
    const client = this.client;
    if (!client || (this.phase !== 'recording' && this.phase !== 'stopping')) return;
    this.bytesSent += bytes.byteLength;
    client.sendChunk(bytes).catch(() => {});
  }

  /** What was recorded until then is still worth its transcript: finish the session as if Stop had been pressed. */
  private onMicrophoneLost(): void {
    if (this.phase !== 'recording') return;
    this.view.showNotice('The microphone stopped delivering audio (unplugged, or its permission was withdrawn), so the recording was stopped.', 'warning');
    void this.stop();
  }

  private async stop(): Promise<void> {
    if (this.phase !== 'recording') return;
    this.setPhase('stopping');
    this.view.setStatus('Sending the last audio and waiting for the final transcript…');
    await this.microphone?.stop();
    this.microphone = undefined;
    const client = this.client!;
    try {
      const end = await client.end();
      rememberSession(undefined);
      this.transcript.finish(end);
      this.view.renderTranscript(this.transcript.lines);
      this.view.showSummary(end.duration_ms, end.segments);
      // The Opus path keeps no copy to save.
      this.view.offerRecording(this.sentAudio.truncated || this.sentAudio.byteLength === 0 ? undefined : this.sentAudio.toWav());
      this.setPhase('done');
      this.view.setStatus(this.transcript.text ? 'Done.' : 'Done: no speech was recognised.');
    } catch (error) {
      await this.fail(error);
    }
  }

  /** Ends the recording after an error the client could not recover from. */
  private async fail(error: unknown): Promise<void> {
    if (this.phase === 'failed') return;
    this.setPhase('failed');
    await this.microphone?.stop();
    this.microphone = undefined;
    this.view.setStatus('Recording stopped.');
    this.view.showNotice(describe(error), 'error');
    // What did arrive stays on the page; the audio can still be saved.
    this.view.offerRecording(this.sentAudio.byteLength > 0 && !this.sentAudio.truncated ? this.sentAudio.toWav() : undefined);
  }

  private ensureClient(): TranscriptionClient {
    if (this.client) return this.client;
    const client = new TranscriptionClient({
      url: location.origin,
      token: this.options.token,
      // A server restart takes seconds; keep trying for about three minutes while the audio waits in the page.
      reconnect: { delayMs: 500, maxDelayMs: 3000, attempts: 60 },
    });
    client.on('state', (state) => {
      this.view.setConnection(state);
      if (state === 'reconnecting' && this.phase === 'recording') {
        this.view.setStatus('Connection lost: reconnecting. Keep talking; your audio is kept and will be sent when the server is back.');
      } else if (state === 'connected' && this.phase === 'recording') {
        this.view.setStatus('Listening… press Stop when you are done.');
      }
    });
    client.on('notice', () => {
      if (this.phase === 'recording') this.view.setStatus('The server is restarting: moving to another one. Keep talking; your audio is kept.');
    });
    client.on('session', (session) => {
      this.view.setSession(session.session_id);
      rememberSession(client.session);
      if (session.reopened && !session.resumed) this.transcript.beginServerSession();
    });
    client.on('result', (result) => {
      if (this.transcript.add(result)) this.view.renderTranscript(this.transcript.lines);
    });
    client.on('utteranceEnd', (event) => {
      if (this.transcript.endUtterance(event.end_ms)) this.view.renderTranscript(this.transcript.lines);
    });
    client.on('interim', (result) => {
      if (this.transcript.setInterim(result)) this.view.renderTranscript(this.transcript.lines);
    });
    client.on('error', (error) => {
      if (client.session.phase === 'failed') void this.fail(error);
      else if (this.phase === 'recording' || this.phase === 'stopping') this.view.showNotice(error.describe(), 'warning');
    });
    this.client = client;
    return client;
  }

  private setPhase(phase: Phase): void {
    this.phase = phase;
    this.view.setPhase(phase);
    if (phase !== 'recording' && phase !== 'stopping' && phase !== 'starting') this.stopFigures();
  }

  private startFigures(): void {
    this.stopFigures();
    this.figuresTimer = setInterval(() => this.renderFigures(), FIGURES_INTERVAL_MS);
  }

  private stopFigures(): void {
    if (this.figuresTimer !== undefined) clearInterval(this.figuresTimer);
    this.figuresTimer = undefined;
    this.renderFigures();
  }

  private renderFigures(): void {
    // The Opus path keeps no PCM copy: its captured time is the recording's wall time.
    const elapsedMs = this.recordingSince > 0 ? performance.now() - this.recordingSince : 0;
    const capturedMs = this.format === 'webm_opus' ? (this.phase === 'recording' || this.phase === 'stopping' ? elapsedMs : this.capturedOpusMs) : this.sentAudio.durationMs;
    if (this.format === 'webm_opus' && (this.phase === 'recording' || this.phase === 'stopping')) this.capturedOpusMs = elapsedMs;
    this.view.renderFigures({
      stats: this.client?.stats(),
      capturedMs,
      finished: this.phase === 'done',
      sending: { format: this.format, bytesPerSecond: capturedMs > 0 ? (this.bytesSent * 1000) / capturedMs : undefined },
    });
  }
}

new TranscriptionPage();
