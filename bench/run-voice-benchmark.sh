#!/usr/bin/env bash
# Voice benchmark, Hearth and the faster-whisper baseline in the same run, on the same notes.
# Usage: bench/run-voice-benchmark.sh [THREADS]   (default 2)
# Needs scripts/install-models.sh (tiny.en in both formats) and espeak-ng + opus-tools
# (scripts/install-build-deps.sh --test). faster-whisper goes into bench/.python-voice (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
notes=bench/.voice-notes
target=bench/.python-voice

# Eleven notes of about 2 to 30 seconds, spoken by espeak-ng and encoded like Telegram's.
source bench/voice-sentences.sh
mkdir -p "$notes"
for i in "${!sentences[@]}"; do
  if [ ! -s "$notes/$i.ogg" ]; then
    printf '%s' "${sentences[$i]}" > "$notes/$i.txt"
    espeak-ng -v en-us -s 150 -w "$notes/$i.wav" "${sentences[$i]}"
    opusenc --quiet --bitrate 32 "$notes/$i.wav" "$notes/$i.ogg"
    rm "$notes/$i.wav"
  fi
done

if [ ! -d "$target/faster_whisper" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$target" faster-whisper
fi

cargo bench -p hearth-tests --bench voice -- "$PWD/$notes" "$threads"
# The f16 original of the same weights, for the side by side with the 8-bit default.
cargo bench -p hearth-tests --bench voice -- "$PWD/$notes" "$threads" "$PWD/models/whisper/ggml-tiny.en.bin" en
PYTHONPATH="$target" python3 bench/voice_baseline.py "$notes" models/whisper/ct2-tiny.en "$threads"

# The larger, mixed set (61 notes: ten accents and voice variants, 120-220 words a minute, one
# recorded human voice), which decides the encoder window: all three windows and faster-whisper.
mixed=bench/.voice-notes-mixed
bench/mixed-voice-notes.sh "$mixed"
cargo bench -p hearth-tests --bench voice -- "$PWD/$mixed" "$threads"
PYTHONPATH="$target" python3 bench/voice_baseline.py "$mixed" models/whisper/ct2-tiny.en "$threads"

# Korean: espeak-ng's Korean voice through the multilingual base model, told the language is
# Korean, as the bot does for a Korean speaker; faster-whisper on the same CTranslate2 weights.
# espeak-ng's Korean is barely intelligible to Whisper: parity is the point, not the figure.
korean=(
  "우리 고양이 이름은 나비야."
  "내일 오전 아홉 시에 치과에 전화하라고 알려 줘."
  "회의를 다음 주 목요일로 옮겨 주세요."
  "오늘 저녁에 뭐 먹을까?"
  "서울에서 부산까지 기차로 얼마나 걸려?"
  "엄마 생신 선물로 무엇을 사면 좋을까?"
)
ko_notes=bench/.voice-notes-ko
mkdir -p "$ko_notes"
for i in "${!korean[@]}"; do
  if [ ! -s "$ko_notes/$i.ogg" ]; then
    printf '%s' "${korean[$i]}" > "$ko_notes/$i.txt"
    espeak-ng -v ko -s 150 -w "$ko_notes/$i.wav" "${korean[$i]}"
    opusenc --quiet --bitrate 32 "$ko_notes/$i.wav" "$ko_notes/$i.ogg"
    rm "$ko_notes/$i.wav"
  fi
done
cargo bench -p hearth-tests --bench voice -- "$PWD/$ko_notes" "$threads" "$PWD/models/whisper/ggml-base.bin" ko
PYTHONPATH="$target" python3 bench/voice_baseline.py "$ko_notes" models/whisper/ct2-base "$threads" ko
