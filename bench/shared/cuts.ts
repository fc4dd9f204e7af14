// Where the server's segmenter would cut a recording fed in 100 ms chunks, for benchmarks that replay cuts offline.
import { Segmenter, type SegmentationSettings } from '../../src/sessions/segmenter.js';

/** The [from, to) byte ranges the segmenter cuts `pcm` (16-bit mono at `sampleRate`) into, the stream's end included. */
export function segmentRanges(pcm: Buffer, settings: SegmentationSettings, sampleRate = 16_000): Array<[number, number]> {
  const segmenter = new Segmenter(settings, sampleRate, 0);
  const chunkBytes = (sampleRate / 10) * 2;
  const ends: number[] = [];
  for (let at = 0; at < pcm.length; at += chunkBytes) {
    const end = Math.min(pcm.length, at + chunkBytes);
    ends.push(...segmenter.feed(pcm.subarray(at, end), end));
  }
  ends.push(...segmenter.flush(pcm.length));
  return ends.map((end, i) => [i === 0 ? 0 : ends[i - 1]!, end]);
}
