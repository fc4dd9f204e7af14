// Where segments are cut: at SEGMENT_MAX_MS, at a pause after SEGMENT_MIN_MS, and at the end of a session.
import { describe, expect, it } from 'vitest';
import { msToBytes } from '../../src/protocol/index.js';
import { Segmenter } from '../../src/sessions/segmenter.js';
import { hasSpeech } from '../../src/audio/vad.js';
import { chunksOf, loudPcm, silentPcm } from '../support/audio.js';

const settings = { maxMs: 8000, minMs: 1000, silenceMs: 600, speechDbfs: -45 };
const bytes = (ms: number) => msToBytes(ms, 16000);

function feedAll(segmenter: Segmenter, pcm: Buffer, startByte = 0): number[] {
  const cuts: number[] = [];
  let offset = startByte;
  for (const chunk of chunksOf(pcm, 100)) {
    offset += chunk.length;
    cuts.push(...segmenter.feed(chunk, offset));
  }
  return cuts;
}

describe('Segmenter', () => {
  it('cuts continuous speech exactly every SEGMENT_MAX_MS', () => {
    const cuts = feedAll(new Segmenter(settings, 16000, 0), loudPcm(20_000));
    expect(cuts).toEqual([bytes(8000), bytes(16000)]);
  });

  it('cuts at a pause of SILENCE_MS once the segment holds SEGMENT_MIN_MS', () => {
    const audio = Buffer.concat([loudPcm(1500), silentPcm(700), loudPcm(1500)]);
    const cuts = feedAll(new Segmenter(settings, 16000, 0), audio);
    // The cut falls at the end of the chunk in which the silence reached 600 ms.
    expect(cuts).toEqual([bytes(1500 + 600)]);
  });

  it('does not cut at a pause before SEGMENT_MIN_MS of audio', () => {
    const audio = Buffer.concat([loudPcm(300), silentPcm(700), loudPcm(300)]);
    expect(feedAll(new Segmenter({ ...settings, minMs: 2000 }, 16000, 0), audio)).toEqual([]);
  });

  it('does not cut on a pause shorter than SILENCE_MS', () => {
    const audio = Buffer.concat([loudPcm(1500), silentPcm(400), loudPcm(1500)]);
    expect(feedAll(new Segmenter(settings, 16000, 0), audio)).toEqual([]);
  });

  it('splits one oversized chunk into several max-length segments', () => {
    const segmenter = new Segmenter({ ...settings, maxMs: 500, minMs: 100 }, 16000, 0);
    expect(segmenter.feed(loudPcm(1200), bytes(1200))).toEqual([bytes(500), bytes(1000)]);
  });

  it('flushes the rest at end of session in pieces no longer than SEGMENT_MAX_MS, starting where it left off', () => {
    const segmenter = new Segmenter(settings, 16000, bytes(1000));
    expect(segmenter.flush(bytes(1000 + 17_000))).toEqual([bytes(9000), bytes(17000), bytes(18000)]);
    expect(segmenter.flush(bytes(18000))).toEqual([]);
  });

  it('counts offsets from where a resumed session was committed', () => {
    const segmenter = new Segmenter(settings, 16000, bytes(4000));
    const cuts = feedAll(segmenter, loudPcm(8000), bytes(4000));
    expect(cuts).toEqual([bytes(12000)]);
  });
});

describe('hasSpeech', () => {
  it('tells speech-level audio from silence and from a lone click', () => {
    expect(hasSpeech(loudPcm(200), 16000, -45)).toBe(true);
    expect(hasSpeech(silentPcm(2000), 16000, -45)).toBe(false);
    const click = silentPcm(2000);
    click.writeInt16LE(30000, 1000);
    expect(hasSpeech(click, 16000, -45)).toBe(false);
  });
});
