// The spoken corpus the offline-engine and codec benchmarks share: ordinary sentences with known transcripts (numbers
// spelt out, as the engine writes them), espeak-ng's arguments for the fixtures' voice, and the word-error count.

/** Varied ordinary sentences with known transcripts. */
export const SENTENCES = [
  'the weather will be warm and sunny this afternoon',
  'please send the report to my office before friday',
  'we need to buy milk bread and eggs from the store',
  'the train to boston leaves at seven thirty in the morning',
  'can you turn off the lights when you leave the room',
  'my sister is coming to visit us next week',
  'the meeting has been moved to the second floor',
  'i would like a cup of coffee with a little sugar',
  'the children played in the park until it got dark',
  'he forgot his keys at home again this morning',
  'our flight was delayed by two hours because of the snow',
  'she reads a new book every month',
  'the doctor said i should drink more water',
  'turn left at the next corner and then go straight',
  'the price of gas went up again last week',
  'they are building a new school near the river',
  'do you know what time the store closes tonight',
  'the dog barked at the mailman all morning',
  'i think we should leave before the traffic gets bad',
  'thank you very much for your help yesterday',
] as const;

/** The fixtures' voice and speed (scripts/make-fixtures.sh); espeak-ng says the same text the same way every run. */
export const ESPEAK_ARGS = ['-v', 'en-us+m1', '-s', '150', '-g', '5'];

export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z']+/g) ?? [];
}

/** Word-level Levenshtein distance (substitutions + deletions + insertions). */
export function wordErrors(reference: string, hypothesis: string): number {
  const ref = words(reference);
  const hyp = words(hypothesis);
  // distance[j] = edits turning the first i reference words into the first j heard words (by rows).
  let distance = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const next = [i];
    for (let j = 1; j <= hyp.length; j++) {
      next.push(Math.min(distance[j]! + 1, next[j - 1]! + 1, distance[j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1)));
    }
    distance = next;
  }
  return distance[hyp.length]!;
}
