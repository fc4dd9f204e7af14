// Everything the page draws: buttons, connection badge, transcript, figures and notices; no protocol logic here.
import type { ClientStats, ConnectionState } from '../client/index.js';
import type { TranscriptLine } from './transcript.js';

/** Where the page is in one recording, from Start to the final transcript. */
export type Phase = 'idle' | 'starting' | 'recording' | 'stopping' | 'done' | 'failed';

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  disconnected: 'Disconnected',
  closed: 'Closed',
};

export interface Figures {
  stats: ClientStats | undefined;
  capturedMs: number;
  /** The session has ended: the server holds no untranscribed audio any more. */
  finished: boolean;
  /** What the page sends and how many bytes a second of it (undefined before any). */
  sending?: { format: string; bytesPerSecond: number | undefined };
}

export class PageView {
  private readonly body = document.body;
  private readonly startButton = element<HTMLButtonElement>('start');
  private readonly stopButton = element<HTMLButtonElement>('stop');
  private readonly connection = element('connection');
  private readonly status = element('status');
  private readonly notice = element('notice');
  private readonly level = element('level');
  private readonly transcript = element<HTMLOListElement>('transcript');
  private readonly empty = element('transcript-empty');
  private readonly summary = element('summary');
  private readonly sessionId = element('session-id');
  private readonly download = element<HTMLAnchorElement>('download');
  private readonly figures = {
    p50: element('p50'),
    p95: element('p95'),
    buffered: element('buffered'),
    unacked: element('unacked'),
    captured: element('captured'),
    sending: element('sending'),
    resent: element('resent'),
  };

  onStart(handler: () => void): void {
    this.startButton.addEventListener('click', handler);
  }

  onStop(handler: () => void): void {
    this.stopButton.addEventListener('click', handler);
  }

  setPhase(phase: Phase): void {
    this.body.dataset.phase = phase;
    this.startButton.disabled = phase === 'starting' || phase === 'recording' || phase === 'stopping';
    this.stopButton.disabled = phase !== 'recording';
    this.startButton.textContent = phase === 'done' || phase === 'failed' ? 'Start again' : 'Start';
    if (phase !== 'recording') this.setLevel(-Infinity);
  }

  setStatus(text: string): void {
    this.status.textContent = text;
  }

  setConnection(state: ConnectionState): void {
    this.connection.dataset.state = state;
    this.connection.textContent = CONNECTION_TEXT[state];
  }

  /** A problem in words; `error` for one that ended the recording, `warning` for one the page rides out. */
  showNotice(text: string, kind: 'error' | 'warning'): void {
    this.notice.textContent = text;
    this.notice.dataset.kind = kind;
    this.notice.hidden = false;
  }

  clearNotice(): void {
    this.notice.hidden = true;
    this.notice.textContent = '';
  }

  /** The input meter: −60 dBFS and below is empty, 0 dBFS full. */
  setLevel(dbfs: number): void {
    const fraction = Number.isFinite(dbfs) ? Math.min(1, Math.max(0, (dbfs + 60) / 60)) : 0;
    this.level.style.transform = `scaleX(${fraction.toFixed(3)})`;
  }

  setSession(id: string | undefined): void {
    this.sessionId.textContent = id ?? '–';
  }

  /** Redraws the transcript, keeping existing lines (and the reader's selection) where they did not change. */
  renderTranscript(lines: readonly TranscriptLine[]): void {
    const existing = new Map([...this.transcript.children].map((child) => [(child as HTMLElement).dataset.key, child as HTMLLIElement]));
    const wanted: HTMLLIElement[] = [];
    lines.forEach((line, index) => {
      if (line.part > 0 && lines[index - 1]?.part !== line.part) wanted.push(existing.get(`${line.part}:break`) ?? partBreak(line.part));
      const item = existing.get(line.key) ?? document.createElement('li');
      if (item.dataset.key !== line.key || item.dataset.text !== line.text || item.classList.contains('interim') !== line.interim || item.classList.contains('utterance-end') !== line.endsUtterance) fillLine(item, line);
      wanted.push(item);
    });
    this.transcript.replaceChildren(...wanted);
    this.transcript.dataset.segments = String(lines.filter((line) => !line.interim).length);
    this.empty.hidden = lines.length > 0;
    wanted.at(-1)?.scrollIntoView?.({ block: 'nearest' });
  }

  renderFigures({ stats, capturedMs, finished, sending }: Figures): void {
    const rate = sending?.bytesPerSecond;
    this.figures.sending.textContent = sending && rate !== undefined ? `${(rate / 1000).toFixed(1)} kB/s (${sending.format === 'webm_opus' ? 'WebM Opus' : 'PCM'})` : '–';
    this.figures.sending.dataset.format = sending?.format ?? '';
    this.figures.sending.dataset.bytesPerSecond = rate === undefined ? '' : String(Math.round(rate));
    // Before any audio there is nothing to measure: dashes read better than a row of zeros.
    const live = stats !== undefined && (stats.sent > 0 || capturedMs > 0) ? stats : undefined;
    this.figures.p50.textContent = milliseconds(live?.p50AckMs);
    this.figures.p95.textContent = milliseconds(live?.p95AckMs);
    // The last ack's figure goes stale once the session has ended: by then the server has transcribed everything.
    this.figures.buffered.textContent = live ? seconds(finished ? 0 : live.bufferedMs) : '–';
    // Every chunk holds 100 ms, so the unacknowledged chunks say how much audio only this page holds.
    this.figures.unacked.textContent = live ? seconds(live.unacked * 100) : '–';
    this.figures.unacked.title = live ? `${live.unacked} chunk${live.unacked === 1 ? '' : 's'} kept for resending` : '';
    this.figures.captured.textContent = live ? seconds(capturedMs) : '–';
    this.figures.captured.dataset.ms = String(Math.round(capturedMs));
    this.figures.resent.textContent = live ? `${live.reconnects} · ${live.resent}` : '–';
    this.figures.resent.dataset.reconnects = String(live?.reconnects ?? 0);
  }

  showSummary(durationMs: number, segments: number): void {
    this.summary.textContent = `Finished: ${seconds(durationMs)} of audio transcribed in ${segments} segment${segments === 1 ? '' : 's'}.`;
    this.summary.dataset.durationMs = String(durationMs);
    this.summary.dataset.segments = String(segments);
    this.summary.hidden = false;
  }

  hideSummary(): void {
    this.summary.hidden = true;
  }

  /** Offers the recording for download; the previous one's memory is released. */
  offerRecording(wav: Blob | undefined): void {
    if (this.download.href) URL.revokeObjectURL(this.download.href);
    if (!wav) {
      this.download.removeAttribute('href');
      this.download.hidden = true;
      return;
    }
    this.download.href = URL.createObjectURL(wav);
    this.download.hidden = false;
  }
}

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page lacks #${id}`);
  return found as T;
}

/** Marks where a server that had lost the session started a fresh one: audio just before it is missing. */
function partBreak(part: number): HTMLLIElement {
  const item = document.createElement('li');
  item.className = 'break';
  item.dataset.key = `${part}:break`;
  item.textContent = 'The server restarted and lost the last moments of audio; the transcript continues from here.';
  return item;
}

/** Fills a line in place: an interim's element becomes its final's, so the guess is replaced where it stands. */
function fillLine(item: HTMLLIElement, line: TranscriptLine): void {
  item.classList.toggle('interim', line.interim);
  // The speaker stopped here (utterance_end): a turn ends with this line.
  item.classList.toggle('utterance-end', line.endsUtterance);
  item.title = line.interim ? 'Still listening: this text may change' : '';
  item.dataset.key = line.key;
  item.dataset.text = line.text;
  item.dataset.startMs = String(line.startMs);
  item.dataset.endMs = String(line.endMs);
  const time = document.createElement('time');
  time.textContent = clock(line.startMs);
  time.title = `${seconds(line.startMs)} – ${seconds(line.endMs)}`;
  const text = document.createElement('span');
  text.textContent = line.text;
  item.replaceChildren(time, text);
}

function milliseconds(value: number | undefined): string {
  return value === undefined ? '–' : `${Math.round(value)} ms`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** 0:07, 1:42: where a segment starts in the recording. */
function clock(ms: number): string {
  const total = Math.floor(ms / 1000);
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}
