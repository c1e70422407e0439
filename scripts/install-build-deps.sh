#!/usr/bin/env bash
# Installs the system packages Hearth's build needs, if they are missing:
#   cmake and a C++ compiler  whisper.cpp (voice notes) and libopus are built from source
# With "--test": also espeak-ng and opus-tools, which the tests use to make voice notes, and
# strace, which records every connection the bot opens (the no-egress test).
# Uses apt-get (Debian/Ubuntu) as root or through sudo; elsewhere it says what to install.
set -euo pipefail
wanted=()
command -v cmake >/dev/null 2>&1 || wanted+=(cmake)
command -v c++ >/dev/null 2>&1 || wanted+=(g++)
if [ "${1:-}" = "--test" ]; then
  command -v espeak-ng >/dev/null 2>&1 || wanted+=(espeak-ng)
  command -v opusenc >/dev/null 2>&1 || wanted+=(opus-tools)
  command -v strace >/dev/null 2>&1 || wanted+=(strace)
fi
[ ${#wanted[@]} -eq 0 ] && exit 0
echo "installing system packages: ${wanted[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
  echo "please install these packages and run again: ${wanted[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "no apt-get here: please install ${wanted[*]} with your package manager and run again" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q >/dev/null
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${wanted[@]}" >/dev/null
