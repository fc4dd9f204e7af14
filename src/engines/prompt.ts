// The prompt each Whisper request carries: the session's keyterms first, then the context (the session's prompt or the
// previous segment's text), within Whisper's prompt limit. Whisper keeps only the last 224 tokens of a prompt, so an
// over-long one loses its start, the keyterms: the context is shortened from its start instead.

/** Whisper's prompt limit (tokens): half its 448-token context. */
export const PROMPT_MAX_TOKENS = 224;
/**
 * Characters per token assumed when no tokenizer is at hand: English averages ~4 in Whisper's GPT-2 vocabulary, names
 * and other scripts fewer; 3 errs on the short side.
 */
const CHARS_PER_TOKEN = 3;

export function buildPrompt(keyterms: readonly string[] | undefined, context: string | undefined, maxTokens = PROMPT_MAX_TOKENS): string | undefined {
  const budget = maxTokens * CHARS_PER_TOKEN;
  let terms = '';
  for (const term of keyterms ?? []) {
    const next = terms ? `${terms}, ${term}` : term;
    if (next.length > budget) break; // the terms that fit, in the order given
    terms = next;
  }
  const rest = budget - terms.length - (terms ? 2 : 0);
  let tail = (context ?? '').trim();
  if (tail.length > rest) {
    tail = rest > 0 ? tail.slice(tail.length - rest) : '';
    // Start at a word, not inside one.
    const space = tail.indexOf(' ');
    tail = space >= 0 && tail.length === rest ? tail.slice(space + 1) : tail;
  }
  const prompt = [terms ? `${terms}.` : '', tail].filter(Boolean).join(' ');
  return prompt || undefined;
}
