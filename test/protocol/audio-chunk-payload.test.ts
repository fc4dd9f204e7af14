// parseAudioChunk (the per-chunk path's validation) agrees with audioChunkSchema on every payload: the same verdict,
// the same fields, and the schema's own first issue when it refuses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { audioChunkSchema, parseAudioChunk } from '../../src/protocol/index.js';

const sessionId = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
  fc.constantFrom('', 'a b', 'ä', 'x'.repeat(128), 'x'.repeat(129), 'id\n'),
  fc.integer(),
);
const seq = fc.oneof(
  fc.nat(),
  fc.constantFrom(-1, -0, 0.5, 2 ** 53 - 1, 2 ** 53, Number.NaN, Infinity, '3', null, undefined),
);
const chunk = fc.oneof(
  fc.uint8Array({ maxLength: 8 }).map((bytes) => Buffer.from(bytes)),
  fc.uint8Array({ maxLength: 8 }),
  fc.constantFrom(new ArrayBuffer(4), new DataView(new ArrayBuffer(4)), 'AAAA', [1, 2], null),
);
const payload = fc.oneof(
  fc.record({ session_id: sessionId, seq, chunk }, { requiredKeys: [] }),
  fc.record({ session_id: sessionId, chunk, extra: fc.anything() }),
  fc.constantFrom(null, undefined, 'text', 42, [], Object.assign(Object.create(null), { session_id: 'a', chunk: Buffer.alloc(2) })),
);

describe('parseAudioChunk', () => {
  it('accepts, and refuses, exactly what audioChunkSchema does', () => {
    fc.assert(
      fc.property(payload, (value) => {
        const fast = parseAudioChunk(value);
        const schema = audioChunkSchema.safeParse(value);
        expect(fast.success).toBe(schema.success);
        if (fast.success && schema.success) {
          expect(fast.data.session_id).toBe(schema.data.session_id);
          expect(fast.data.seq).toBe(schema.data.seq);
          expect(fast.data.chunk).toBe(schema.data.chunk);
        } else {
          expect(fast.error?.issues[0]).toEqual(schema.error?.issues[0]);
        }
      }),
      { seed: 15, numRuns: 2000 },
    );
  });

  it('takes a well-formed chunk as it is, seq optional', () => {
    const chunk = Buffer.alloc(3200);
    expect(parseAudioChunk({ session_id: 's-1', seq: 7, chunk })).toEqual({ success: true, data: { session_id: 's-1', seq: 7, chunk } });
    expect(parseAudioChunk({ session_id: 's-1', chunk }).success).toBe(true);
    expect(parseAudioChunk({ session_id: 's-1', seq: -1, chunk }).success).toBe(false);
  });
});
