#!/usr/bin/env bash
# Runs every check and test on a fresh machine, installing what they need.
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
cargo --version
rustc --version

step "system packages (cmake for whisper.cpp and libopus; espeak-ng and opus-tools for test voice notes; strace for the no-egress test)"
scripts/install-build-deps.sh --test

step "offline models (embeddings, Whisper tiny.en)"
scripts/install-models.sh

step "real tiny model for end-to-end tests (llama-cpp-python + SmolLM2-135M)"
scripts/install-llm.sh

step "formatting"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo build --workspace --locked --bins
cargo test --workspace --locked --no-fail-fast

step "benchmarks, smoke runs (each on a few iterations, no figures; a broken benchmark fails here)"
cargo test --workspace --locked --bench '*'

step "the core alone (no whisper.cpp, libopus, ONNX Runtime or sled)"
cargo test -p bot-core --locked --no-default-features --features testing

step "systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  unit_dir=$(mktemp -d)
  # Verify against the binary just built; the env file may not exist on a build machine.
  sed -e "s|/usr/local/bin/hearth|$PWD/target/debug/hearth|" \
      -e "s|^EnvironmentFile=|EnvironmentFile=-|" deploy/hearth.service > "$unit_dir/hearth.service"
  systemd-analyze verify "$unit_dir/hearth.service"
  rm -rf "$unit_dir"
  echo "deploy/hearth.service verified"
else
  echo "systemd-analyze not installed; the unit file was checked by the deploy tests only"
fi
