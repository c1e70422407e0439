#!/usr/bin/env bash
# Cross-builds the release `hearth` binary for ARM64 Linux (Raspberry Pi 5-class home servers)
# on an x86-64 Debian/Ubuntu machine, and checks that it starts under qemu.
# Usage: scripts/build-arm64.sh        -> target/aarch64-unknown-linux-gnu/release/hearth
# On the ARM64 machine itself no script is needed: scripts/run.sh builds natively (whisper.cpp
# then uses ggml's ARM baseline; the x86-64 flags in .cargo/config.toml do not apply there).
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
wanted=()
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || wanted+=(gcc-aarch64-linux-gnu)
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || wanted+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null 2>&1 || wanted+=(qemu-user)
command -v cmake >/dev/null 2>&1 || wanted+=(cmake)
if [ ${#wanted[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q >/dev/null
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${wanted[@]}" >/dev/null
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
cargo build --release --locked --target "$target" --bin hearth
binary="target/$target/release/hearth"
file "$binary" 2>/dev/null || true
# It runs: the version, under qemu with the ARM64 C library of the cross compiler.
qemu-aarch64 -L /usr/aarch64-linux-gnu "$binary" --version
