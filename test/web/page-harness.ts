// Real parts for the page tests: the page built with esbuild, the real server serving it, Debian's Chromium with a
// fake microphone playing a WAV, and readers for what the page shows.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp, type App } from '../../src/server/compose.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { TranscriptionEngine } from '../../src/engines/engine.js';
import type { BufferStore } from '../../src/store/buffer-store.js';
import { createPageHandler } from '../../src/web-server/static-page.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they must (always in CI, where a missing browser fails). */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM) || process.env.CI) return undefined;
  return `${CHROMIUM} is missing (apt-get install chromium); the browser tests of the page are skipped outside CI`;
}

/** Bundles src/web into a fresh temporary folder with the project's own build script; returns that folder. */
export function buildPage(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'web-page-'));
  execFileSync(process.execPath, ['scripts/build-web.mjs', '--outdir', dir], { stdio: 'pipe' });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface PageServer {
  url: string;
  port: number;
  app: App;
  config: Config;
  /** Stops listening and closes the store: what a server process does when it stops. */
  close(): Promise<void>;
}

/** The real server (createApp) serving the built page on PORT, as src/main.ts wires it. */
export async function startPageServer(options: {
  pageDir: string;
  store: BufferStore;
  engine: TranscriptionEngine;
  env?: Record<string, string>;
  port?: number;
}): Promise<PageServer> {
  // In-process: the page driver's work shares the server's event loop and is not its load.
  const config = loadConfig({ TRANSCRIBER: 'pocketsphinx', LOG_LEVEL: 'silent', MAX_EVENT_LOOP_UTILIZATION: '1', ...options.env });
  const app = createApp(config, { store: options.store, engine: options.engine, httpHandler: createPageHandler(options.pageDir) });
  const port = await app.listen(options.port ?? 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    app,
    config,
    async close() {
      await app.close();
      await options.store.close();
      await options.engine.close?.();
    },
  };
}

export interface ChromiumOptions {
  /** WAV the fake microphone plays; omit for a browser whose microphone prompt is refused. */
  microphoneWav?: string;
  /** Play the WAV once then silence (Chromium's `%noloop`), instead of looping it. */
  playOnce?: boolean;
}

/** Debian's Chromium, headless, on a fresh profile (Playwright makes a new user-data-dir per launch). */
export function launchChromium(options: ChromiumOptions): Promise<Browser> {
  const microphone = options.microphoneWav
    ? [
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${path.resolve(options.microphoneWav)}${options.playOnce ? '%noloop' : ''}`,
      ]
    : // As if the person clicked "Block" on the microphone prompt.
      ['--use-fake-device-for-media-stream', '--deny-permission-prompts'];
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...microphone,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // The page makes its AudioContext in the Start click; this only removes doubt about what counts as a gesture.
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** Collects what the page reports as broken: uncaught exceptions and console errors. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  return problems;
}

export interface PageLine {
  text: string;
  startMs: number;
  endMs: number;
}

export interface PageState {
  phase: string;
  connection: string;
  connectionText: string;
  status: string;
  notice: { kind: string; text: string } | undefined;
  /** Final lines only. */
  lines: PageLine[];
  transcript: string;
  /** The interim guess at the segment in progress (lighter, replaced in place by its final), if one shows. */
  interim: { text: string; color: string; fontStyle: string } | undefined;
  /** Markers between server sessions (after a server lost the session). */
  breaks: string[];
  capturedMs: number;
  reconnects: number;
  figures: Record<'p50' | 'p95' | 'buffered' | 'unacked' | 'captured' | 'resent', string>;
  summary: { durationMs: number; segments: number; text: string } | undefined;
  sessionId: string;
}

/** Everything the page shows, read from the DOM as a person would see it. */
export function readPage(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const byId = (id: string) => document.getElementById(id)!;
    const lines = [...byId('transcript').querySelectorAll<HTMLLIElement>('li:not(.break):not(.interim)')].map((li) => ({
      text: li.querySelector('span')?.textContent ?? '',
      startMs: Number(li.dataset.startMs),
      endMs: Number(li.dataset.endMs),
    }));
    const interimSpan = byId('transcript').querySelector<HTMLSpanElement>('li.interim span');
    const interimStyle = interimSpan ? getComputedStyle(interimSpan) : undefined;
    const notice = byId('notice');
    const summary = byId('summary');
    const figure = (id: string) => byId(id).textContent ?? '';
    return {
      phase: document.body.dataset.phase ?? '',
      connection: byId('connection').dataset.state ?? '',
      connectionText: byId('connection').textContent ?? '',
      status: byId('status').textContent ?? '',
      notice: notice.hidden ? undefined : { kind: notice.dataset.kind ?? '', text: notice.textContent ?? '' },
      lines,
      transcript: lines.map((line) => line.text).join(' '),
      interim: interimSpan ? { text: interimSpan.textContent ?? '', color: interimStyle!.color, fontStyle: interimStyle!.fontStyle } : undefined,
      breaks: [...byId('transcript').querySelectorAll('li.break')].map((li) => li.textContent ?? ''),
      capturedMs: Number(byId('captured').dataset.ms ?? 0),
      reconnects: Number(byId('resent').dataset.reconnects ?? 0),
      figures: {
        p50: figure('p50'),
        p95: figure('p95'),
        buffered: figure('buffered'),
        unacked: figure('unacked'),
        captured: figure('captured'),
        resent: figure('resent'),
      },
      summary: summary.hidden
        ? undefined
        : { durationMs: Number(summary.dataset.durationMs), segments: Number(summary.dataset.segments), text: summary.textContent ?? '' },
      sessionId: byId('session-id').textContent ?? '',
    };
  });
}

/** Waits until the page has captured at least `ms` of microphone audio (its own count, shown on the page). */
export async function waitForCapturedMs(page: Page, ms: number, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction((least) => Number(document.getElementById('captured')?.dataset.ms ?? 0) >= least, ms, { timeout: timeoutMs, polling: 50 });
}

/** Clicks the page's "Save the recording" link as a person would and returns the saved WAV's 16-bit PCM. */
export async function downloadRecording(page: Page): Promise<{ pcm: Buffer; sampleRate: number; fileName: string }> {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.click('#download')]);
  const wav = readFileSync(await download.path());
  if (wav.toString('ascii', 0, 4) !== 'RIFF' || wav.toString('ascii', 36, 40) !== 'data') throw new Error('the recording is not a plain WAV file');
  return { pcm: wav.subarray(44, 44 + wav.readUInt32LE(40)), sampleRate: wav.readUInt32LE(24), fileName: download.suggestedFilename() };
}

export function samplesOf(pcm: Buffer): Int16Array {
  return new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength));
}

/**
 * Where `reference[from, from + length)` best matches `recording` (lag in samples: recording index minus reference
 * index) and how well (normalised cross-correlation, 1 = identical up to gain).
 */
export function alignment(
  recording: Int16Array,
  reference: Int16Array,
  window: { from: number; length: number; maxLag: number },
): { lag: number; correlation: number } {
  const { from, length, maxLag } = window;
  let refEnergy = 0;
  for (let i = from; i < from + length; i++) refEnergy += reference[i]! ** 2;
  let best = { lag: 0, correlation: -1 };
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const start = from + lag;
    if (start < 0 || start + length > recording.length) continue;
    let dot = 0;
    let energy = 0;
    for (let i = 0; i < length; i++) {
      const value = recording[start + i]!;
      dot += value * reference[from + i]!;
      energy += value * value;
    }
    const correlation = energy === 0 ? 0 : dot / Math.sqrt(energy * refEnergy);
    if (correlation > best.correlation) best = { lag, correlation };
  }
  return best;
}

/**
 * How faithfully `recording` carries `reference[from, from + length)`, block by block (100 ms at 16 kHz): each block
 * with speech is aligned on its own. Chromium's fake capture device inserts or drops a buffer when it is starved of
 * CPU (seen under the full suite: lag steps of +160, -800 and -1760 samples in one recording), which no page can see
 * or undo; one whole-window correlation would then fail a page that resampled every block exactly. A wrong rate
 * moves the lag at every block instead (lagSteps), and wrong audio matches no block (median).
 */
export function blockFidelity(
  recording: Int16Array,
  reference: Int16Array,
  window: { from: number; length: number; maxLag: number },
): { speechBlocks: number; faithful: number; lagSteps: number; worst: number; median: number } {
  const BLOCK = 1600;
  const QUIET_MEAN_SQUARE = 1e4; // about -50 dBFS: no speech to align on
  let speechBlocks = 0;
  let faithful = 0;
  let lagSteps = 0;
  let worst = 1;
  let previousLag: number | undefined;
  const correlations: number[] = [];
  for (let from = window.from; from + BLOCK <= window.from + window.length; from += BLOCK) {
    let energy = 0;
    for (let i = from; i < from + BLOCK; i++) energy += reference[i]! ** 2;
    if (energy / BLOCK < QUIET_MEAN_SQUARE) continue;
    const { lag, correlation } = alignment(recording, reference, { from, length: BLOCK, maxLag: window.maxLag });
    speechBlocks++;
    correlations.push(correlation);
    if (correlation > 0.98) faithful++;
    worst = Math.min(worst, correlation);
    if (previousLag !== undefined && lag !== previousLag) lagSteps++;
    previousLag = lag;
  }
  correlations.sort((a, b) => a - b);
  const median = correlations.length ? correlations[Math.floor(correlations.length / 2)]! : 0;
  return { speechBlocks, faithful, lagSteps, worst, median };
}

/** Lower-case words, punctuation dropped. */
export function words(text: string): string[] {
  return text.toLowerCase().replace(/[^a-z' ]/g, ' ').split(/\s+/).filter(Boolean);
}
