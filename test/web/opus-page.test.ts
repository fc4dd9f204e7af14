// The demo page in Chromium sends WebM Opus from the fake microphone (MediaRecorder), and shows its bytes per second:
// the server's session is webm_opus, the engine gets the speech's duration of PCM, and the page sends far fewer bytes
// than 16 kHz PCM's 32,000 a second.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { browserSkipReason, buildPage, launchChromium, readPage, startPageServer, waitForCapturedMs, watchProblems, type PageServer } from './page-harness.js';

const PCM_BYTES_PER_SECOND = 32_000;
const skipReason = browserSkipReason();

describe.skipIf(skipReason !== undefined)('the demo page sending WebM Opus', () => {
  let page_: { dir: string; remove(): void };
  let browser: Browser;
  let server: PageServer;
  let stub: OpenAIStub;
  const store = createMemoryStore({ ttlS: 600 });

  beforeAll(async () => {
    page_ = buildPage();
    stub = await startOpenAIStub();
    const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
    server = await startPageServer({ pageDir: page_.dir, store, engine });
    browser = await launchChromium({ microphoneWav: 'test/fixtures/hello-with-pauses.wav', playOnce: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await stub?.close();
    page_?.remove();
  });

  it('records webm_opus through MediaRecorder, the server decodes it, and the page shows far fewer bytes a second than PCM', async () => {
    const page = await browser.newPage();
    const problems = watchProblems(page);
    await page.goto(server.url);
    await page.click('#start');
    // The fake microphone plays 9.45 s of speech once, then silence.
    await waitForCapturedMs(page, 10_200);
    const sending = await page.$eval('#sending', (el) => ({ format: (el as HTMLElement).dataset.format, bytesPerSecond: Number((el as HTMLElement).dataset.bytesPerSecond), text: el.textContent }));
    const { sessionId } = await readPage(page);
    await page.click('#stop');
    await page.waitForSelector('body[data-phase="done"]', { timeout: 30_000 });
    const done = await readPage(page);

    expect(sending.format).toBe('webm_opus');
    expect((await store.getSession(sessionId))?.settings.format).toBe('webm_opus');
    console.info(`page sending WebM Opus: ${sending.text}, ${sending.bytesPerSecond} B/s vs PCM ${PCM_BYTES_PER_SECOND} B/s`);
    expect(sending.bytesPerSecond).toBeGreaterThan(500);
    expect(sending.bytesPerSecond).toBeLessThanOrEqual(PCM_BYTES_PER_SECOND / 8);
    // The server decoded about as much audio as was recorded, and transcribed it.
    const uploadedMs = stub.uploads.reduce((ms, upload) => ms + upload.pcm.length / 2 / (upload.sampleRate / 1000), 0);
    expect(done.summary!.durationMs).toBeGreaterThan(9_000);
    expect(uploadedMs).toBeGreaterThan(2_000);
    expect(done.lines.length).toBeGreaterThanOrEqual(1);
    expect(done.notice).toBeUndefined();
    expect(problems).toEqual([]);
  }, 60_000);
});
