// The demo page in Debian's Chromium with a fake microphone, against the real server: speech in, transcript out,
// no audio lost across a server restart, and refusals explained in words.
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createPocketsphinxEngine } from '../../src/engines/pocketsphinx/engine.js';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createStore } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import {
  blockFidelity,
  browserSkipReason,
  buildPage,
  downloadRecording,
  launchChromium,
  readPage,
  samplesOf,
  startPageServer,
  waitForCapturedMs,
  watchProblems,
  words,
  type PageServer,
} from './page-harness.js';

const fixtures = JSON.parse(readFileSync('test/fixtures/fixtures.json', 'utf8')) as Record<string, string>;
const ARTIFACTS = 'test-artifacts';
/** The page's audio: 16 kHz, 16-bit mono. */
const BYTES_PER_MS = 32;
const VIEWPORT = { width: 1120, height: 700 };

function fixturePcm(file: string): Int16Array {
  const { pcm, sampleRate } = decodeWavToPcm16(readFileSync(`test/fixtures/${file}`));
  if (sampleRate !== 16000) throw new Error(`${file} is not 16 kHz`);
  return samplesOf(pcm);
}

async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = `${ARTIFACTS}/${name}.png`;
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * The recording is the WAV's audio, in order, at its rate: each 100 ms block of speech is found in the WAV at one lag,
 * which changes only at the rare glitches of Chromium's fake device (a 10–110 ms buffer inserted or dropped when it
 * is starved of CPU; a wrong rate moves the lag at every block), and the blocks match it closely (a starved device
 * also blurs some blocks: seen in CI, a third of the blocks between 0.81 and 0.98 with no lag change, so the median).
 */
function expectFaithful(fidelity: ReturnType<typeof blockFidelity>): void {
  const detail = JSON.stringify(fidelity);
  expect(fidelity.speechBlocks, detail).toBeGreaterThanOrEqual(10);
  expect(fidelity.lagSteps, detail).toBeLessThanOrEqual(fidelity.speechBlocks / 4);
  expect(fidelity.median, detail).toBeGreaterThanOrEqual(0.9);
}

/** Transports of the sockets now connected to /transcription (websocket once Socket.IO has upgraded). */
function transports(server: PageServer): string[] {
  return [...server.app.io.of('/transcription').sockets.values()].map((socket) => socket.conn.transport.name);
}

const skipReason = browserSkipReason();
if (skipReason) console.warn(`test/web/page.test.ts skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)(`the demo page in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let page_: { dir: string; remove(): void };

  beforeAll(() => {
    page_ = buildPage();
  });

  afterAll(() => page_?.remove());

  describe('speaking to the offline engine', () => {
    let browser: Browser;
    let server: PageServer;

    beforeAll(async () => {
      server = await startPageServer({
        pageDir: page_.dir,
        store: createMemoryStore({ ttlS: 600 }),
        engine: createPocketsphinxEngine({ command: 'pocketsphinx_batch', decoders: 2 }),
      });
      browser = await launchChromium({ microphoneWav: 'test/fixtures/hello-with-pauses.wav', playOnce: true });
    });

    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    it('shows the spoken words segment by segment, then the final transcript and the figures', async () => {
      const page = await browser.newPage({ viewport: VIEWPORT });
      const problems = watchProblems(page);
      await page.goto(`${server.url}?format=pcm`);
      expect(await page.title()).toBe('Live transcription');
      expect((await readPage(page)).phase).toBe('idle');

      await page.click('#start');
      // Results arrive while the person is still speaking: the first sentence is followed by a long pause.
      await page.waitForSelector('#transcript li:not(.interim)', { timeout: 20_000 });
      const live = await readPage(page);
      expect(live.phase).toBe('recording');
      expect(live.connection).toBe('connected');
      expect(live.lines.length).toBeGreaterThanOrEqual(1);
      expect(transports(server)).toEqual(['websocket']);

      // The fake microphone plays 9.45 s of speech once, then silence.
      await waitForCapturedMs(page, 10_200);
      await page.click('#stop');
      await page.waitForSelector('body[data-phase="done"]', { timeout: 30_000 });
      const done = await readPage(page);

      const spoken = words(fixtures['hello-with-pauses.wav']!);
      const heard = new Set(words(done.transcript));
      const shared = spoken.filter((word) => heard.has(word)).length / spoken.length;
      expect(shared, `page transcript "${done.transcript}"`).toBeGreaterThanOrEqual(0.6);
      expect(done.lines.length).toBeGreaterThanOrEqual(2);
      expect(done.summary?.segments).toBe(done.lines.length);
      // Segments in order, each starting where the audio is, none overlapping.
      for (let i = 1; i < done.lines.length; i++) expect(done.lines[i]!.startMs).toBeGreaterThanOrEqual(done.lines[i - 1]!.endMs);
      expect(done.notice).toBeUndefined();
      expect(done.figures.p50).toMatch(/^\d+ ms$/);
      expect(done.figures.p95).toMatch(/^\d+ ms$/);
      expect(done.figures.unacked).toBe('0.0 s');
      expect(done.summary!.durationMs).toBe(done.capturedMs);

      // The recording is the microphone's audio, resampled faithfully: it matches the WAV the fake device played.
      const recording = await downloadRecording(page);
      expect(recording.sampleRate).toBe(16000);
      expect(recording.fileName).toMatch(/\.wav$/);
      expect(Math.abs(recording.pcm.length / BYTES_PER_MS - done.summary!.durationMs)).toBeLessThanOrEqual(1);
      const fidelity = blockFidelity(samplesOf(recording.pcm), fixturePcm('hello-with-pauses.wav'), { from: 1600, length: 80_000, maxLag: 4000 });
      expectFaithful(fidelity);

      const file = await screenshot(page, 'page-offline-transcript');
      if (process.env.UPDATE_DOCS_SCREENSHOT) copyFileSync(file, 'docs/page.png');
      expect(problems).toEqual([]);
      await page.close();
    }, 60_000);
  });

  describe('with an OpenAI-compatible engine whose answers the test knows', () => {
    let browser: Browser;
    let stub: OpenAIStub;
    const openai = () => createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
    // 1 s segments and a VAD that only calls digital silence quiet: every segment holds audio and is uploaded, so
    // the uploads must tile the recording exactly. The page asks for interim results, whose interval may not exceed
    // the segment length.
    const env = { SEGMENT_MAX_MS: '1000', SEGMENT_MIN_MS: '500', VAD_SPEECH_DBFS: '-120', INTERIM_INTERVAL_MS: '500' };

    beforeAll(async () => {
      stub = await startOpenAIStub({ respond: (_upload, index) => ({ text: `upload ${index}` }) });
      // Looping speech: the microphone never falls silent while the test runs.
      browser = await launchChromium({ microphoneWav: 'test/fixtures/hello.wav' });
    });

    afterAll(async () => {
      await browser?.close();
      await stub?.close();
    });

    it('loses no audio when the server restarts mid-speech: the transcript covers every captured sample once', async () => {
      const keyPrefix = `web-test:${randomUUID()}:`;
      let server = await startPageServer({ pageDir: page_.dir, store: await createStore('redis', keyPrefix), engine: openai(), env });
      const port = server.port;
      const page = await browser.newPage({ viewport: VIEWPORT });
      try {
        await page.goto(`${server.url}?format=pcm`);
        await page.click('#start');
        const startedAt = Date.now();
        await page.waitForSelector('#transcript li:not(.interim)', { timeout: 15_000 });
        await waitForCapturedMs(page, 1800);

        // The server process stops mid-sentence; the session lives on in Redis.
        await server.close();
        const uploadsBeforeRestart = stub.uploads.length;
        await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 10_000 });
        const cut = await readPage(page);
        await waitForCapturedMs(page, cut.capturedMs + 1500);
        const down = await readPage(page);
        // The page kept the audio the server could not take.
        expect(Number.parseFloat(down.figures.unacked)).toBeGreaterThanOrEqual(1);
        expect(down.phase).toBe('recording');
        await screenshot(page, 'page-reconnecting');

        server = await startPageServer({ pageDir: page_.dir, store: await createStore('redis', keyPrefix), engine: openai(), env, port });
        await page.waitForFunction(
          () => document.getElementById('connection')?.dataset.state === 'connected' && document.getElementById('unacked')?.textContent === '0.0 s',
          undefined,
          { timeout: 20_000, polling: 50 },
        );
        const resumed = await readPage(page);
        await waitForCapturedMs(page, resumed.capturedMs + 1200);
        await page.click('#stop');
        const stoppedAt = Date.now();
        await page.waitForSelector('body[data-phase="done"]', { timeout: 30_000 });
        const done = await readPage(page);
        await screenshot(page, 'page-after-restart');

        expect(done.reconnects).toBeGreaterThanOrEqual(1);
        expect(done.notice).toBeUndefined();
        expect(done.breaks).toEqual([]);
        expect(uploadsBeforeRestart).toBeGreaterThanOrEqual(1);
        expect(stub.uploads.length).toBeGreaterThan(uploadsBeforeRestart);

        // The microphone ran the whole time (real time, no holes in capture), and the server has all of it.
        const wallMs = stoppedAt - startedAt;
        expect(done.capturedMs).toBeGreaterThan(wallMs - 1000);
        expect(done.capturedMs).toBeLessThan(wallMs + 300);
        expect(done.summary!.durationMs).toBe(done.capturedMs);
        const recording = await downloadRecording(page);
        expect(Math.abs(recording.pcm.length / BYTES_PER_MS - done.capturedMs)).toBeLessThanOrEqual(1);
        const fidelity = blockFidelity(samplesOf(recording.pcm), fixturePcm('hello.wav'), { from: 1600, length: 48_000, maxLag: 4000 });
        expectFaithful(fidelity);

        // Segments tile the recording from 0 to its end, each shown once, in order, across the restart.
        const texts = done.lines.map((line) => line.text);
        expect(new Set(texts).size).toBe(texts.length);
        expect(done.summary!.segments).toBe(done.lines.length);
        expect(done.lines[0]!.startMs).toBe(0);
        for (let i = 1; i < done.lines.length; i++) expect(done.lines[i]!.startMs).toBe(done.lines[i - 1]!.endMs);
        // duration_ms is rounded to whole milliseconds; end_ms is exact (the last chunk is a partial one).
        expect(Math.abs(done.lines.at(-1)!.endMs - done.summary!.durationMs)).toBeLessThanOrEqual(0.5);

        // Each line's text names the upload it came from; that upload is exactly the recording's audio at that place.
        for (const line of done.lines) {
          const index = /^upload (\d+)$/.exec(line.text)?.[1];
          expect(index, `line "${line.text}"`).toBeDefined();
          const upload = stub.uploads[Number(index)]!;
          expect(upload.sampleRate).toBe(16000);
          const start = Math.round(line.startMs * 16) * 2;
          const end = Math.round(line.endMs * 16) * 2;
          expect(upload.pcm.length).toBe(end - start);
          expect(upload.pcm.equals(recording.pcm.subarray(start, end)), `upload ${index} vs recording [${line.startMs}, ${line.endMs}) ms`).toBe(true);
        }
      } finally {
        await page.close();
        await server.close();
      }
    }, 90_000);

    it('says in words when a restarted server without Redis lost audio, and keeps the transcript from before', async () => {
      let server = await startPageServer({ pageDir: page_.dir, store: createMemoryStore({ ttlS: 600 }), engine: openai(), env });
      const port = server.port;
      const page = await browser.newPage({ viewport: VIEWPORT });
      try {
        await page.goto(`${server.url}?format=pcm`);
        await page.click('#start');
        await page.waitForSelector('#transcript li:not(.interim)', { timeout: 15_000 });
        await waitForCapturedMs(page, 1800);
        const before = await readPage(page);
        await server.close();
        await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 10_000 });
        server = await startPageServer({ pageDir: page_.dir, store: createMemoryStore({ ttlS: 600 }), engine: openai(), env, port });
        await page.waitForSelector('#notice[data-kind="warning"]', { timeout: 20_000 });
        const warned = await readPage(page);
        expect(warned.notice?.text).toContain('The server lost some recent audio');
        expect(warned.phase).toBe('recording');
        await waitForCapturedMs(page, warned.capturedMs + 1500);
        await page.click('#stop');
        await page.waitForSelector('body[data-phase="done"]', { timeout: 30_000 });
        const done = await readPage(page);
        await screenshot(page, 'page-audio-lost');
        // The lines from before the restart are still there, followed by the new server session's.
        expect(done.lines.slice(0, before.lines.length)).toEqual(before.lines);
        expect(done.lines.length).toBeGreaterThan(before.lines.length);
        expect(new Set(done.lines.map((line) => line.text)).size).toBe(done.lines.length);
        expect(done.breaks).toEqual(['The server restarted and lost the last moments of audio; the transcript continues from here.']);
        // The new server only has the audio it received itself.
        expect(done.summary!.durationMs).toBeLessThan(done.capturedMs);
      } finally {
        await page.close();
        await server.close();
      }
    }, 90_000);

    it('shows the segment in progress as a lighter interim, replaced in place by its final; ?interim=0 asks for none', async () => {
      // 3 s segments with an interim every 500 ms of speech. This stub names how much audio it heard, and takes
      // 1.5 s over a whole segment, so each interim stays on screen a while before its final replaces it.
      const segmentBytes = 3000 * BYTES_PER_MS;
      const heard = await startOpenAIStub({
        respond: (upload) => ({ text: `heard ${upload.pcm.length / BYTES_PER_MS} ms`, delayMs: upload.pcm.length >= segmentBytes ? 1500 : 0 }),
      });
      const server = await startPageServer({
        pageDir: page_.dir,
        store: createMemoryStore({ ttlS: 600 }),
        engine: createOpenAIEngine({ apiKey: 'sk-test', baseUrl: heard.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 }),
        env: { SEGMENT_MAX_MS: '3000', SEGMENT_MIN_MS: '500', VAD_SPEECH_DBFS: '-120', INTERIM_INTERVAL_MS: '500' },
      });
      const page = await browser.newPage({ viewport: VIEWPORT });
      const problems = watchProblems(page);
      try {
        await page.goto(`${server.url}?format=pcm`);
        await page.click('#start');
        const interimLine = await page.waitForSelector('#transcript li.interim', { timeout: 15_000 });
        const key = await interimLine.evaluate((li: HTMLLIElement & { probe?: boolean }) => {
          li.probe = true;
          return li.dataset.key!;
        });
        const guessing = await readPage(page);
        expect(guessing.interim?.text).toMatch(/^heard \d+ ms$/);
        // Lighter than the finals: the muted ink, in italics.
        expect(guessing.interim).toMatchObject({ color: 'rgb(93, 102, 120)', fontStyle: 'italic' });
        expect(guessing.lines.map((line) => line.text)).not.toContain(guessing.interim!.text);
        await screenshot(page, 'page-interim');

        // The same element turns into the final: replaced in place, not appended.
        await page.waitForFunction(
          (wanted) => {
            const li = document.querySelector<HTMLLIElement & { probe?: boolean }>(`#transcript li[data-key="${wanted}"]`);
            return li !== null && !li.classList.contains('interim') && li.probe === true;
          },
          key,
          { timeout: 15_000, polling: 50 },
        );
        const settled = await readPage(page);
        expect(settled.lines[0]).toMatchObject({ text: 'heard 3000 ms', startMs: 0, endMs: 3000 });
        await screenshot(page, 'page-interim-final');

        // The page keeps the session id with its resume token while it records.
        const kept = await page.evaluate(() => sessionStorage.getItem('transcription.session'));
        expect(JSON.parse(kept!)).toMatchObject({ id: settled.sessionId });

        await page.click('#stop');
        await page.waitForSelector('body[data-phase="done"]', { timeout: 30_000 });
        const done = await readPage(page);
        expect(done.interim).toBeUndefined();
        expect(done.summary!.segments).toBe(done.lines.length);
        expect(await page.evaluate(() => sessionStorage.getItem('transcription.session'))).toBeNull();

        // ?interim=0: the server is asked for none, so it uploads each segment once and the page shows no guess.
        const uploadsBefore = heard.uploads.length;
        await page.goto(`${server.url}?interim=0&format=pcm`);
        await page.click('#start');
        await waitForCapturedMs(page, 3500);
        expect(await page.$('#transcript li.interim')).toBeNull();
        await page.click('#stop');
        await page.waitForSelector('body[data-phase="done"]', { timeout: 30_000 });
        const plain = await readPage(page);
        expect(heard.uploads.length - uploadsBefore).toBe(plain.summary!.segments);
        expect(problems).toEqual([]);
      } finally {
        await page.close();
        await server.close();
        await heard.close();
      }
    }, 90_000);

    it('explains a refused connection in words (wrong access token), then records twice with the right one', async () => {
      const server = await startPageServer({ pageDir: page_.dir, store: createMemoryStore({ ttlS: 600 }), engine: openai(), env: { AUTH_TOKEN: 'right-token-16-chars' } });
      const page = await browser.newPage({ viewport: VIEWPORT });
      try {
        await page.goto(`${server.url}?format=pcm#token=wrong-token`);
        await page.click('#start');
        await page.waitForSelector('body[data-phase="failed"]', { timeout: 15_000 });
        const refused = await readPage(page);
        expect(refused.notice?.kind).toBe('error');
        expect(refused.notice?.text).toContain('The server refused the connection. Check the access token');
        expect(refused.connection).toBe('disconnected');
        await screenshot(page, 'page-token-refused');

        await page.goto(`${server.url}?format=pcm#token=right-token-16-chars`);
        await page.reload();
        await page.click('#start');
        await page.waitForSelector('#connection[data-state="connected"]', { timeout: 15_000 });
        await waitForCapturedMs(page, 500);
        await page.click('#stop');
        await page.waitForSelector('body[data-phase="done"]', { timeout: 15_000 });
        const first = await readPage(page);
        expect(first.notice).toBeUndefined();
        expect(first.lines.length).toBeGreaterThanOrEqual(1);

        // "Start again" opens a new session on the same connection, with a fresh transcript.
        await page.click('#start');
        await page.waitForSelector('body[data-phase="recording"]', { timeout: 10_000 });
        expect((await readPage(page)).lines).toEqual([]);
        await waitForCapturedMs(page, 1200);
        await page.click('#stop');
        await page.waitForSelector('body[data-phase="done"]', { timeout: 15_000 });
        const second = await readPage(page);
        expect(second.sessionId).not.toBe(first.sessionId);
        expect(second.lines.length).toBeGreaterThanOrEqual(1);
        expect(second.lines[0]!.startMs).toBe(0);
        expect(second.lines.map((line) => line.text)).not.toContain(first.lines[0]!.text);
      } finally {
        await page.close();
        await server.close();
      }
    }, 60_000);
  });

  describe('without microphone permission', () => {
    let browser: Browser;
    let server: PageServer;

    beforeAll(async () => {
      server = await startPageServer({
        pageDir: page_.dir,
        store: createMemoryStore({ ttlS: 600 }),
        engine: createPocketsphinxEngine({ command: 'pocketsphinx_batch', decoders: 2 }),
      });
      browser = await launchChromium({});
    });

    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    it('explains the refusal and how to allow the microphone, and opens no session', async () => {
      const page = await browser.newPage({ viewport: VIEWPORT });
      await page.goto(`${server.url}?format=pcm`);
      await page.click('#start');
      await page.waitForSelector('body[data-phase="failed"]', { timeout: 10_000 });
      const state = await readPage(page);
      expect(state.notice?.kind).toBe('error');
      expect(state.notice?.text).toMatch(/^Microphone access was refused/);
      expect(state.notice?.text).toContain('Allow the microphone for this site');
      expect(state.notice?.text).toContain('press Start again');
      expect(await page.isEnabled('#start')).toBe(true);
      expect(await page.isDisabled('#stop')).toBe(true);
      expect(server.app.io.of('/transcription').sockets.size).toBe(0);
      await screenshot(page, 'page-microphone-refused');
      await page.close();
    }, 30_000);
  });
});
