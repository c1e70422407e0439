#!/usr/bin/env bash
# Start-up and idle memory of a hearth binary: starts `hearth run` against a minimal fake
# Telegram Bot API (getUpdates holds 2 s and returns nothing), and reports the time from spawn
# to the first getUpdates and, 3 s after start (10 s with --models, which load in the
# background; SETTLE=seconds sets it), VmRSS, RssAnon and the resident pages of the binary's
# own mappings.
# Usage: bench/idle-rss.sh [BINARY] [RUNS] [--models]   (default target/release/hearth, 3 runs)
# --models starts it with the default models as scripts/run.sh does (the Universal Sentence
# Encoder for memories, Whisper tiny.en and base for voice notes; scripts/install-models.sh).
# Needs python3. Reported in BENCHMARKS.md.
# WRAP="command args" runs the binary under that command (scripts/startup-order.sh traces the
# start-up with valgrind this way; the RSS printed is then the wrapper's).
set -euo pipefail
cd "$(dirname "$0")/.."
models=()
args=()
for a in "$@"; do
  if [ "$a" = --models ]; then
    models=(ORT_DYLIB_PATH="$PWD/models/onnxruntime/libonnxruntime.so"
            HEARTH_EMBED_MODEL_DIR="$PWD/models/use-multilingual"
            HEARTH_WHISPER_MODEL="$PWD/models/whisper/ggml-tiny.en-q8_0.bin"
            HEARTH_WHISPER_MULTILINGUAL_MODEL="$PWD/models/whisper/ggml-base.bin")
  else
    args+=("$a")
  fi
done
bin=$(realpath "${args[0]:-target/release/hearth}")
read -r -a wrap <<< "${WRAP:-}"
runs=${args[1]:-3}
settle=3
if [ ${#models[@]} -gt 0 ]; then settle=10; fi
settle=${SETTLE:-$settle}
port=18655
polls=$(mktemp)
python3 - "$port" "$polls" 2>/dev/null <<'PY' &
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self): self.do_GET()
    def do_GET(self):
        n = int(self.headers.get('content-length') or 0); self.rfile.read(n)
        m = self.path.rsplit('/', 1)[-1].lower()
        if m == 'getme':
            r = {"id": 1, "is_bot": True, "first_name": "h", "username": "hbot", "can_join_groups": True,
                 "can_read_all_group_messages": False, "supports_inline_queries": False, "has_main_web_app": False}
        elif m == 'getupdates':
            with open(sys.argv[2], 'a') as f: f.write(f"{time.time()}\n")
            time.sleep(2); r = []
        elif m == 'getwebhookinfo':
            r = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        else:
            r = True
        b = json.dumps({"ok": True, "result": r}).encode()
        self.send_response(200); self.send_header('content-type', 'application/json')
        self.send_header('content-length', str(len(b))); self.end_headers(); self.wfile.write(b)
ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
fake=$!
trap 'kill $fake 2>/dev/null; rm -f "$polls"' EXIT
sleep 1
for _ in $(seq "$runs"); do
  d=$(mktemp -d)
  : > "$polls"
  started=$(date +%s.%N)
  env -i PATH="$PATH" HOME="$d" TELEGRAM_BOT_TOKEN=123456:TEST-idle-token TELEGRAM_API_URL=http://127.0.0.1:$port \
    OLLAMA_HOST=http://127.0.0.1:9 HEARTH_DATA_DIR="$d/data" HEARTH_TELEGRAM_ALLOWED_USERS=1 RUST_LOG=warn \
    "${models[@]}" "${wrap[@]}" "$bin" run > "$d/log" 2>&1 &
  pid=$!
  sleep "$settle"
  rss=$(awk '/^VmRSS/{print $2}' /proc/$pid/status)
  anon=$(awk '/^RssAnon/{print $2}' /proc/$pid/status)
  own=$(awk -v b="$bin" '/^[0-9a-f]+-[0-9a-f]+ /{cur=$6} /^Rss:/{ if (cur == b) s += $2 } END {print s+0}' /proc/$pid/smaps)
  first=$(head -n 1 "$polls")
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf "$d"
  poll="none within ${settle} s"
  if [ -n "$first" ]; then
    poll=$(printf '%.0f ms' "$(bc -l <<< "($first - $started) * 1000")")
  fi
  printf 'first getUpdates after %s; idle RSS %.1f MiB (binary %.1f MiB, anonymous %.1f MiB)\n' \
    "$poll" "$(bc -l <<< "$rss/1024")" "$(bc -l <<< "$own/1024")" "$(bc -l <<< "$anon/1024")"
done
