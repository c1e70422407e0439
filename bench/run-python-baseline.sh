#!/usr/bin/env bash
# Runs the Python embedding baseline in an isolated folder (bench/.python, gitignored).
# Usage: bench/run-python-baseline.sh PATH/TO/locomo10.zip [MODEL...]   (default minilm)
set -euo pipefail
cd "$(dirname "$0")/.."
target=bench/.python
if [ ! -d "$target/onnxruntime" ] || [ ! -d "$target/tokenizers" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$target" \
    onnxruntime==1.24.4 tokenizers numpy
fi
PYTHONPATH="$target" python3 bench/embed_throughput.py "$1" models "${@:2}"
