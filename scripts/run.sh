#!/usr/bin/env bash
# Builds and runs the bot with the settings in .env.
# Usage: scripts/run.sh [run|doctor|chat]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .env ]; then
  echo "No .env yet: cp .env.example .env and fill in TELEGRAM_BOT_TOKEN and HEARTH_TELEGRAM_ALLOWED_USERS (or the DISCORD_ ones)." >&2
  exit 1
fi
scripts/install-models.sh
# The offline embedding model, unless .env or the environment chose another.
export HEARTH_EMBED_MODEL_DIR=${HEARTH_EMBED_MODEL_DIR:-models/minilm}
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-models/onnxruntime/libonnxruntime.so}
cargo build --release --locked --bin hearth
exec target/release/hearth "${@:-run}"
