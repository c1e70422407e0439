#!/usr/bin/env bash
# Regenerates scripts/startup-symbols.txt: the functions a release `hearth run` executes from
# start until it idles in its long poll, in the order the linker should place them.
#
# Why: the binary's code is about 30 MB and start-up runs about 1.5 MB of it, spread over half
# of the file. The kernel maps code in 64 KiB windows around each page a process touches, so
# scattered start-up code keeps about 11 MiB of the file resident in an idle bot. `build.rs`
# hands this list to the linker (lld's --symbol-ordering-file) for release builds on x86-64
# Linux, which puts those functions next to each other: idle RSS about 12 MiB instead of 22
# (BENCHMARKS.md, "Idle RSS").
#
# When to run it: after dependency updates or large changes to start-up code. A stale list is
# harmless (names the binary no longer has are skipped); it only places less of the start-up
# together. The names are stable across machines and checkout paths for the same Cargo.lock,
# toolchain and flags (cargo hashes workspace members by their path inside the workspace; the
# workspace's crates are built as one code unit each, so LLVM gives their functions no
# path-dependent `.llvm.<hash>` suffix). Dependencies' shared functions keep that suffix, which
# follows CARGO_HOME: built with another one, those few names do not match.
#
# Usage: scripts/startup-order.sh   (installs valgrind with apt-get if missing; needs python3)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq valgrind
fi

cargo build --release --locked --bin hearth
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp target/release/hearth "$work/hearth"

# Start-up under valgrind is about 50x slower; 30 s reaches the first long poll with room.
report=$(WRAP="valgrind --tool=callgrind --demangle=no --callgrind-out-file=$work/callgrind.out" \
  SETTLE=${SETTLE:-30} bench/idle-rss.sh "$work/hearth" 1)
echo "$report"
if [[ "$report" == *"none within"* ]]; then
  echo "the traced bot never reached its first getUpdates; try SETTLE=60" >&2
  exit 1
fi

python3 - "$work/callgrind.out" "$work/hearth" scripts/startup-symbols.txt <<'PY'
import re, subprocess, sys
trace, binary, out = sys.argv[1:]
# Callgrind names each function once as "fn=(id) name" or "cfn=(id) name" (called ones).
names = set()
with open(trace, errors="replace") as f:
    for line in f:
        m = re.match(r"c?fn=\(\d+\) (.+)", line)
        if m:
            names.add(m.group(1).strip())
# Keep functions of the binary's own code, by their place in it (the linker's order today).
address = {}
nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True)
for line in nm.stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tT":
        address[parts[2]] = int(parts[0], 16)
kept = sorted((n for n in names if n in address), key=address.get)
with open(out, "w") as f:
    f.write("".join(n + "\n" for n in kept))
print(f"{len(kept)} functions written to {out}")
PY
