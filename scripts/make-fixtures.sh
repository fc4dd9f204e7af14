#!/usr/bin/env bash
# Regenerates the speech fixtures in test/fixtures/ with espeak-ng and sox (apt-get install espeak-ng sox).
# The WAVs are committed; rerun this only to change them. Output: 16 kHz mono 16-bit PCM WAV.
set -euo pipefail
cd "$(dirname "$0")/.."

out=test/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

PHRASE_HELLO="hello world. please call me tomorrow morning"
PHRASE_TOMORROW="i will see you tomorrow"
PHRASE_LATER="see you later"

# speak TEXT FILE: espeak-ng renders 22.05 kHz; sox -R makes the rate conversion's dither repeatable.
speak() {
  espeak-ng -v en-us+m1 -s 150 -g 5 -w "$tmp/raw.wav" "$1"
  sox -R "$tmp/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$2"
}

speak "$PHRASE_HELLO" "$out/hello.wav"

# Three phrases separated by 1 s of digital silence (exact zeros: -D keeps sox from dithering it), for
# segmentation tests. The phrases are ones pocketsphinx recognises in this synthetic voice; most are not.
speak "$PHRASE_HELLO" "$tmp/p1.wav"
speak "$PHRASE_TOMORROW" "$tmp/p2.wav"
speak "$PHRASE_LATER" "$tmp/p3.wav"
sox -D -n -r 16000 -c 1 -b 16 -e signed-integer "$tmp/silence.wav" trim 0 1
sox -D "$tmp/p1.wav" "$tmp/silence.wav" "$tmp/p2.wav" "$tmp/silence.wav" "$tmp/p3.wav" "$out/hello-with-pauses.wav"

cat > "$out/fixtures.json" <<JSON
{
  "hello.wav": "$PHRASE_HELLO",
  "hello-with-pauses.wav": "$PHRASE_HELLO. $PHRASE_TOMORROW. $PHRASE_LATER"
}
JSON

for f in "$out"/*.wav; do
  printf '%s: %s s, %s bytes\n' "$f" "$(soxi -D "$f")" "$(stat -c %s "$f")"
done
