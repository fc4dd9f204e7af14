// Byte searches over what reached Sentry: streamed audio (raw, base64, hex, JSON byte lists) and secret strings.

/** Encodings a byte run could take on its way into an event or span. */
function encodings(window: Buffer): string[] {
  const forms = [window.toString('hex'), window.toString('hex').toUpperCase(), Array.from(window.subarray(0, 16)).join(',')];
  // base64 of a run depends on where it starts relative to 3-byte groups: take all three alignments.
  for (let shift = 0; shift < 3; shift++) forms.push(window.subarray(shift, shift + 45).toString('base64'));
  return forms;
}

/**
 * A chunk decoded as text (as a Redis statement or a string concatenation would) and written into JSON: control
 * characters escaped, invalid UTF-8 replaced. A middle stretch of that text is what an envelope would contain.
 */
function asJsonText(chunk: Buffer): string[] {
  return (['utf8', 'latin1'] as const).map((encoding) => {
    const json = JSON.stringify(chunk.toString(encoding));
    const middle = Math.floor(json.length / 2);
    return json.slice(middle - 30, middle + 30);
  });
}

/** Where (if anywhere) a run from the middle of any chunk shows up in `bodies`, raw or encoded. */
export function findAudio(bodies: Buffer[], chunks: Buffer[]): string | undefined {
  const latin1 = bodies.map((body) => body.toString('latin1'));
  const utf8 = bodies.map((body) => body.toString('utf8'));
  for (const [index, chunk] of chunks.entries()) {
    const start = Math.max(0, Math.floor(chunk.length / 2) - 24);
    const window = chunk.subarray(start, start + 48);
    if (window.length < 48) continue;
    if (bodies.some((body) => body.includes(window))) return `raw bytes of chunk ${index}`;
    for (const form of encodings(window)) if (latin1.some((t) => t.includes(form))) return `chunk ${index} encoded as ${form.slice(0, 20)}…`;
    for (const form of asJsonText(chunk)) if (utf8.some((t) => t.includes(form))) return `chunk ${index} decoded as text`;
  }
  return undefined;
}

/** True when `secret` appears in any body. */
export function findSecret(bodies: Buffer[], secret: string): boolean {
  return bodies.some((body) => body.includes(Buffer.from(secret)));
}
