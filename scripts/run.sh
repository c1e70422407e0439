#!/usr/bin/env bash
# Builds and runs the bot with the settings in .env.
# Usage: scripts/run.sh [run|doctor|chat]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .env ]; then
  echo "No .env yet: cp .env.example .env and fill in TELEGRAM_BOT_TOKEN and HEARTH_TELEGRAM_ALLOWED_USERS (or the DISCORD_ ones)." >&2
  exit 1
fi
scripts/install-build-deps.sh
scripts/install-models.sh
# The offline models, unless .env or the environment chose others (the environment wins over
# .env in hearth, so only set what neither has).
default() { # VAR VALUE
  if [ -z "${!1:-}" ] && ! grep -q "^$1=" .env; then export "$1=$2"; fi
}
# Memory search: the multilingual Universal Sentence Encoder (Korean, English and cross-language
# matches), or all-MiniLM-L6-v2 when the bot is English-only (HEARTH_LANGUAGE=en): it is a little
# better on English (BENCHMARKS.md, "Memory search in Korean and English").
language=${HEARTH_LANGUAGE:-$(sed -n 's/^HEARTH_LANGUAGE=//p' .env | tail -n 1)}
if [ "$language" = en ]; then
  default HEARTH_EMBED_MODEL_DIR models/minilm
else
  default HEARTH_EMBED_MODEL_DIR models/use-multilingual
fi
default ORT_DYLIB_PATH models/onnxruntime/libonnxruntime.so
default HEARTH_WHISPER_MODEL models/whisper/ggml-tiny.en-q8_0.bin
default HEARTH_WHISPER_MULTILINGUAL_MODEL models/whisper/ggml-base.bin
cargo build --release --locked --bin hearth
exec target/release/hearth "${@:-run}"
