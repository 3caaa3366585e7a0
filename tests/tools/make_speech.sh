#!/usr/bin/env bash
# make_speech.sh OUT.wav [RATE]: about 10 s of synthetic English speech (espeak-ng), mono
# 16-bit at RATE Hz (default 16000), peak-normalised to -3 dBFS. Deterministic for one
# espeak-ng version, so every codec test scores the same input.
set -euo pipefail
out=$1; rate=${2:-16000}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
espeak-ng -s 150 -w "$tmp/raw.wav" "The quick brown fox jumps over the lazy dog. \
Please call me back at extension four seven one one before noon. \
Our meeting moves to the second floor."
sox -q -R "$tmp/raw.wav" -r "$rate" -c 1 -b 16 "$out" norm -3
