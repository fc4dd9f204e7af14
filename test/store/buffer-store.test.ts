// The same contract for both buffer stores: atomic seq-checked appends, bounded buffers, exact commits.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, type SessionSettings } from '../../src/protocol/index.js';
import type { BufferStore } from '../../src/store/buffer-store.js';
import { createStore, STORE_KINDS } from '../support/harness.js';

const settings: SessionSettings = { format: 'pcm_s16le', sample_rate: 16000, channels: 1, language: 'en' };
const bytes = (...values: number[]) => Buffer.from(values);

describe.each(STORE_KINDS)('%s buffer store', (kind) => {
  let store: BufferStore;
  beforeEach(async () => {
    store = await createStore(kind);
  });
  afterEach(async () => {
    await store.close();
  });

  it('opens a session once and resumes it with its state', async () => {
    const first = await store.openSession('s1', settings);
    expect(first.created).toBe(true);
    expect(first.record).toMatchObject({ nextSeq: 0, receivedBytes: 0, committedBytes: 0, segments: 0, ended: false, settings });
    await store.append('s1', 0, bytes(1, 2), 1000);
    const again = await store.openSession('s1', { ...settings, sample_rate: 8000 });
    expect(again.created).toBe(false);
    expect(again.record).toMatchObject({ nextSeq: 1, receivedBytes: 2, settings });
  });

  it('appends in seq order, acks a retransmission as duplicate without buffering it, and refuses a gap', async () => {
    await store.openSession('s', settings);
    expect(await store.append('s', 0, bytes(1, 2), 100)).toEqual({ status: 'appended', seq: 0, nextSeq: 1, bufferedBytes: 2, receivedBytes: 2 });
    expect(await store.append('s', undefined, bytes(3, 4), 100)).toMatchObject({ status: 'appended', seq: 1, nextSeq: 2, receivedBytes: 4 });
    expect(await store.append('s', 0, bytes(9, 9), 100)).toEqual({ status: 'duplicate', seq: 0, nextSeq: 2, bufferedBytes: 4 });
    expect(await store.append('s', 5, bytes(9, 9), 100)).toEqual({ status: 'gap', nextSeq: 2 });
    expect(await store.readAudio('s', 0, 4)).toEqual(bytes(1, 2, 3, 4));
  });

  it('concurrent retransmissions of one seq buffer it exactly once', async () => {
    await store.openSession('s', settings);
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => store.append('s', 0, bytes(7, 7), 100)));
    expect(outcomes.filter((o) => o.status === 'appended')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'duplicate')).toHaveLength(7);
    expect((await store.getSession('s'))?.receivedBytes).toBe(2);
  });

  it('refuses a chunk that would overflow the buffer and keeps what it holds', async () => {
    await store.openSession('s', settings);
    await store.append('s', 0, bytes(1, 2, 3, 4), 6);
    expect(await store.append('s', 1, bytes(5, 6, 7, 8), 6)).toEqual({ status: 'full', nextSeq: 1, bufferedBytes: 4 });
    expect(await store.readAudio('s', 0, 4)).toEqual(bytes(1, 2, 3, 4));
  });

  it('commits segments: drops their audio, numbers only those with text, and rejects a stale commit', async () => {
    await store.openSession('s', settings);
    await store.append('s', 0, bytes(1, 2, 3, 4), 100);
    await store.append('s', 1, bytes(5, 6, 7, 8), 100);
    const silent = await store.commitSegment('s', 0, 2, '');
    expect(silent).toMatchObject({ status: 'committed', segment: undefined, record: { committedBytes: 2, segments: 0 } });
    const spoken = await store.commitSegment('s', 2, 6, 'hello');
    expect(spoken).toMatchObject({ status: 'committed', segment: { segment: 0, text: 'hello', startByte: 2, endByte: 6 } });
    expect(await store.commitSegment('s', 2, 6, 'again')).toMatchObject({ status: 'stale' });
    expect(await store.readAudio('s', 6, 8)).toEqual(bytes(7, 8));
    // Buffered bytes shrink after commits, so the cap applies to untranscribed audio only.
    expect(await store.append('s', 2, bytes(9, 9, 9, 9), 6)).toMatchObject({ status: 'appended', bufferedBytes: 6 });
    expect(await store.segmentsFrom('s', 0)).toEqual([{ segment: 0, text: 'hello', startByte: 2, endByte: 6 }]);
  });

  it('keeps a segment\'s details (engine, language, speech_final, words, empty ones included) for its replay; a failed one has none', async () => {
    await store.openSession('s', settings);
    await store.append('s', 0, bytes(1, 2, 3, 4, 5, 6), 100);
    const details = {
      engine: 'openai',
      language: 'en',
      speech_final: false,
      words: [{ word: 'héllo "quoted"', start_ms: 0, end_ms: 120.5, confidence: 0.9 }],
      words_interpolated: true as const,
    };
    expect(await store.commitSegment('s', 0, 2, 'héllo "quoted"', undefined, undefined, details)).toMatchObject({ segment: { details } });
    await store.commitSegment('s', 2, 4, 'no words', undefined, undefined, { engine: 'openai', speech_final: true, words: [] });
    await store.commitSegment('s', 4, 6, '', undefined, { code: ErrorCode.ENGINE_REJECTED, reason: 'refused' }, details);
    const [first, second, failed] = await store.segmentsFrom('s', 0);
    expect(first).toEqual({ segment: 0, text: 'héllo "quoted"', startByte: 0, endByte: 2, details });
    expect(second!.details).toEqual({ engine: 'openai', speech_final: true, words: [] });
    expect(failed).toMatchObject({ segment: 2, failed: { code: ErrorCode.ENGINE_REJECTED } });
    expect(failed!.details).toBeUndefined();
  });

  it('ends a session: later chunks are refused, the transcript stays', async () => {
    await store.openSession('s', settings);
    await store.append('s', 0, bytes(1, 2), 100);
    await store.commitSegment('s', 0, 2, 'hi');
    const ended = await store.endSession('s');
    expect(ended).toMatchObject({ ended: true, segments: 1, receivedBytes: 2 });
    expect(await store.append('s', 1, bytes(3, 4), 100)).toEqual({ status: 'ended' });
    expect((await store.segmentsFrom('s', 0)).map((s) => s.text)).toEqual(['hi']);
  });

  it('a claim hands out a newer fencing token each time; only the newest may commit or renew', async () => {
    await store.openSession('s', settings);
    await store.append('s', 0, bytes(1, 2, 3, 4), 100);
    const first = (await store.claimSession('s', 5000))!;
    expect(await store.renewLease('s', first, 5000)).toBe(true);
    // Another node resumes the session: it takes it over at once.
    const second = (await store.claimSession('s', 5000))!;
    expect(second).toBeGreaterThan(first);
    expect(await store.renewLease('s', first, 5000)).toBe(false);
    expect(await store.renewLease('s', second, 5000)).toBe(true);
    // The old owner's late commit writes nothing; the new owner's goes through.
    expect(await store.commitSegment('s', 0, 2, 'late', first)).toEqual({ status: 'fenced' });
    expect(await store.getSession('s')).toMatchObject({ committedBytes: 0, segments: 0 });
    expect(await store.commitSegment('s', 0, 2, 'hello', second)).toMatchObject({ status: 'committed', segment: { segment: 0, text: 'hello' } });
    // Unfenced commits (a caller without a lease) keep working as before.
    expect(await store.commitSegment('s', 2, 4, 'world')).toMatchObject({ status: 'committed' });
    expect(await store.claimSession('never-opened', 5000)).toBeUndefined();
  });

  it('concurrent claims each get a different token, and exactly one of them is the newest', async () => {
    await store.openSession('s', settings);
    const tokens = await Promise.all(Array.from({ length: 6 }, () => store.claimSession('s', 5000)));
    expect(new Set(tokens).size).toBe(6);
    const renewed = await Promise.all(tokens.map((token) => store.renewLease('s', token!, 5000)));
    expect(renewed.filter(Boolean)).toHaveLength(1);
    expect(renewed[tokens.indexOf(Math.max(...tokens.map(Number)))]).toBe(true);
  });

  it('knows nothing of sessions never opened', async () => {
    expect(await store.getSession('nope')).toBeUndefined();
    expect(await store.append('nope', 0, bytes(1, 2), 100)).toEqual({ status: 'unknown' });
    expect(await store.endSession('nope')).toBeUndefined();
    expect(await store.getSession('nope')).toBeUndefined();
  });

  it('a segment committed as failed takes the next number with its reason, keeps no text, and the buffer moves on', async () => {
    await store.openSession('f', settings);
    await store.append('f', 0, bytes(1, 2, 3, 4, 5, 6), 100);
    const ok = await store.commitSegment('f', 0, 2, 'one');
    const failed = await store.commitSegment('f', 2, 4, 'ignored', undefined, { code: 'ENGINE_REJECTED', reason: 'provider answered 400' });
    expect(ok).toMatchObject({ status: 'committed', segment: { segment: 0, text: 'one' } });
    expect(failed).toMatchObject({
      status: 'committed',
      record: { committedBytes: 4, segments: 2 },
      segment: { segment: 1, text: '', startByte: 2, endByte: 4, failed: { code: 'ENGINE_REJECTED', reason: 'provider answered 400' } },
    });
    expect(await store.readAudio('f', 4, 6)).toEqual(bytes(5, 6));
    expect(await store.commitSegment('f', 4, 6, 'three')).toMatchObject({ segment: { segment: 2, text: 'three' } });
    expect((await store.segmentsFrom('f', 0)).map((s) => [s.segment, s.text, s.failed?.code])).toEqual([
      [0, 'one', undefined],
      [1, '', 'ENGINE_REJECTED'],
      [2, 'three', undefined],
    ]);
  });
});
