#!/usr/bin/env bash
# make_speech.sh OUT.wav [RATE] [TALKER]: about 10 s of synthetic English speech (espeak-ng),
# mono 16-bit at RATE Hz (default 16000), peak-normalised to -3 dBFS. Deterministic for one
# espeak-ng version, so every codec test scores the same input.
# TALKER "a" (default) or "b": another voice saying other sentences, for the far end of a
# call. Two talkers saying the same sentence are an echo to an echo canceller.
set -euo pipefail
out=$1; rate=${2:-16000}; talker=${3:-a}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
case $talker in
  a) espeak-ng -s 150 -w "$tmp/raw.wav" "The quick brown fox jumps over the lazy dog. \
Please call me back at extension four seven one one before noon. \
Our meeting moves to the second floor." ;;
  b) espeak-ng -v en-us+f3 -s 150 -w "$tmp/raw.wav" "Thank you for calling. \
The new phone book lists every office in the building. \
I will send the figures by mail tomorrow morning, after the review." ;;
  *) echo "make_speech.sh: talker must be a or b, not $talker" >&2; exit 2 ;;
esac
sox -q -R "$tmp/raw.wav" -r "$rate" -c 1 -b 16 "$out" norm -3
