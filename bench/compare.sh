#!/usr/bin/env bash
# Re-runs every side-by-side figure of BENCHMARKS.md in one go and prints the table of ratios,
# so a regression shows the day it happens (issue: performance).
# Usage: bench/compare.sh PATH/TO/locomo10.zip   (LoCoMo is passed in; the project does not ship it)
# Needs what scripts/test.sh installs (models, espeak-ng, opus-tools); the Python baselines go
# into gitignored folders under bench/. Takes about 40 minutes on 2 cores. The full outputs
# stay in bench/.compare/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
locomo=$(realpath "${1:?usage: bench/compare.sh PATH/TO/locomo10.zip}")
out=bench/.compare
mkdir -p "$out"

echo "== building (release)" >&2
cargo build --release --locked --bins >&2
echo "== voice: Hearth and faster-whisper on the same notes" >&2
bench/run-voice-benchmark.sh > "$out/voice.txt" 2>&1
echo "== memory: LoCoMo recall, embedding throughput, search latency" >&2
cargo bench -p bot-core --bench memory --locked -- "$locomo" > "$out/memory.txt" 2>&1
bench/run-python-baseline.sh "$locomo" minilm use-multilingual > "$out/python-embed.txt" 2>&1
echo "== bursts: Discord slash commands, Telegram messages" >&2
cargo bench -p hearth-tests --bench discord_defer --locked > "$out/discord.txt" 2>&1
cargo bench -p hearth-tests --bench core_overhead --locked > "$out/telegram.txt" 2>&1
echo "== start-up and idle memory, without and with the default models" >&2
bench/idle-rss.sh target/release/hearth 3 > "$out/idle.txt" 2>&1
bench/idle-rss.sh target/release/hearth 3 --models > "$out/idle-models.txt" 2>&1

# The n-th number on the first line matching a pattern.
num() { grep -m1 -E "$2" "$out/$1" | grep -oE '[0-9]+(\.[0-9]+)?' | sed -n "${3}p"; }
field() { grep -m1 -E "$2" "$out/$1" | grep -oE "$3=[0-9.]+" | cut -d= -f2; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }

# The default (checked) window and the standard one, on the eleven notes and the mixed set.
for set in .voice-notes .voice-notes-mixed; do
  key=${set#.voice-notes}; key=${key#-}; key=${key:-eleven}
  for window in checked standard; do
    printf -v "rtf_${key}_$window" '%s' "$(field voice.txt "^SUMMARY hearth window=$window set=$set " rtf)"
    printf -v "wer_${key}_$window" '%s' "$(field voice.txt "^SUMMARY hearth window=$window set=$set " wer)"
  done
  printf -v "rtf_${key}_fw" '%s' "$(field voice.txt "^SUMMARY faster-whisper set=$set " rtf)"
  printf -v "wer_${key}_fw" '%s' "$(field voice.txt "^SUMMARY faster-whisper set=$set " wer)"
done
tps() { grep -m1 -E "$2" "$out/$1" | grep -oE '[0-9]+ turns/s' | cut -d' ' -f1; }
hearth_tps=$(tps memory.txt '^embedding throughput \(dataset order')
python_tps=$(tps python-embed.txt 'minilm, dataset order')
hearth_sorted=$(tps memory.txt '^embedding throughput \(one call')
python_sorted=$(tps python-embed.txt 'minilm, sorted by length')
use_tps=$(tps memory.txt '^embedding throughput, use-multilingual \(dataset order')
use_sorted=$(tps memory.txt '^embedding throughput, use-multilingual \(one call')
python_use_tps=$(tps python-embed.txt 'use-multilingual, dataset order')
python_use_sorted=$(tps python-embed.txt 'use-multilingual, sorted by length')
python_use_budget=$(tps python-embed.txt 'use-multilingual, sorted by tokens')
p99_10k=$(grep -A3 'search latency, one user, use-multilingual' "$out/memory.txt" | grep -m1 ' 10000 memories' | grep -oE 'p99 [0-9.]+' | head -1 | cut -d' ' -f2)
p99_100k=$(grep -A3 'search latency, one user, use-multilingual' "$out/memory.txt" | grep -m1 '100000 memories' | grep -oE 'p99 [0-9.]+' | head -1 | cut -d' ' -f2)
r10=$(num memory.txt 'hybrid \(default\)' 2)
cat1=$(num memory.txt 'category 1 ' 4)
discord_p99=$(grep -m1 -E '100 at once' "$out/discord.txt" | grep -oE 'p99 [0-9.]+' | cut -d' ' -f2)
telegram_p99=$(grep -m1 -E '100 at once' "$out/telegram.txt" | grep -oE 'p99 [0-9.]+' | cut -d' ' -f2)
idle=$(grep -oE 'idle RSS [0-9.]+' "$out/idle.txt" | cut -d' ' -f3 | median)
idle_models=$(grep -oE 'idle RSS [0-9.]+' "$out/idle-models.txt" | cut -d' ' -f3 | median)
poll=$(grep -oE 'after [0-9]+ ms' "$out/idle.txt" | cut -d' ' -f2 | median)
poll_models=$(grep -oE 'after [0-9]+ ms' "$out/idle-models.txt" | cut -d' ' -f2 | median)

echo
echo "Side by side, $(date -u +%F), $(nproc) cores; full outputs in $out/"
echo
row "figure" "Hearth" "baseline" "ratio" "aim"
row "---" "---" "---" "---" "---"
for key in eleven mixed; do
  rc="rtf_${key}_checked" rs="rtf_${key}_standard" rf="rtf_${key}_fw"
  wc="wer_${key}_checked" ws="wer_${key}_standard" wf="wer_${key}_fw"
  row "voice ($key notes), tiny.en, real-time factor: checked window (default) / standard" "${!rc} / ${!rs}" "${!rf} (faster-whisper)" "$(ratio "${!rc}" "${!rf}") / $(ratio "${!rs}" "${!rf}")" "≥ 1.0"
  row "voice ($key notes), word error rate %: checked / standard" "${!wc} / ${!ws}" "${!wf} (faster-whisper)" "-" "no worse"
done
row "embeddings, MiniLM, batches of 32 in dataset order, turns/s" "$hearth_tps" "$python_tps (Python onnxruntime, same order)" "$(ratio "$hearth_tps" "$python_tps")" "≥ 1.2"
row "embeddings, MiniLM, Hearth's bulk path (sorted by length), turns/s" "$hearth_sorted" "$python_tps (Python, dataset order) / $python_sorted (Python, sorted)" "$(ratio "$hearth_sorted" "$python_tps") / $(ratio "$hearth_sorted" "$python_sorted")" "≥ 1.2"
row "embeddings, USE multilingual (the default), calls of 32 in dataset order (runs of <= 256 tokens), turns/s" "$use_tps" "$python_use_tps (Python onnxruntime, batches of 32, same order)" "$(ratio "$use_tps" "$python_use_tps")" "≥ 1.2"
row "embeddings, USE multilingual, Hearth's bulk path (sorted by tokens, runs of <= 256 tokens), turns/s" "$use_sorted" "$python_use_tps (Python, dataset order) / $python_use_sorted (Python, sorted) / $python_use_budget (Python, Hearth's batching)" "$(ratio "$use_sorted" "$python_use_tps") / $(ratio "$use_sorted" "$python_use_sorted") / $(ratio "$use_sorted" "$python_use_budget")" "≥ 1.2"
row "memory search p99, 10k memories, ms" "$p99_10k" "8.4 (issue)" "$(ratio 8.4 "$p99_10k")" "≤ 5 ms"
row "memory search p99, 100k memories, ms" "$p99_100k" "47 (issue)" "$(ratio 47 "$p99_100k")" "≤ 20 ms"
row "LoCoMo evidence R@10" "$r10" "67.8 (issue)" "-" "≥ 75"
row "LoCoMo multi-hop R@10" "$cat1" "-" "-" "≥ 45"
row "100 Discord commands at once, ack p99 ms" "$discord_p99" "65 (issue)" "$(ratio 65 "$discord_p99")" "< 50"
row "100 Telegram messages at once, to model p99 ms" "$telegram_p99" "111 (issue)" "$(ratio 111 "$telegram_p99")" "< 60"
row "first poll, no models, ms" "$poll" "54 (issue)" "-" "< 50"
row "first poll, default models, ms" "$poll_models" "555 (issue)" "-" "< 100"
row "idle RSS, no models, MiB" "$idle" "16 (issue)" "-" "-"
row "idle RSS, default models, MiB" "$idle_models" "268 (issue)" "-" "< 150 MB"
