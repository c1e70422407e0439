#!/usr/bin/env bash
# Runs every bad-input property test with many more cases than the test command does:
# the Markdown-to-Telegram renderer and splitter, the Discord splitter, both platforms'
# text translation, the OGG/Opus decoder (random bytes and damaged real notes), the notes
# readers and splitter, the reminder time parser, and the document and picture readers
# (random bytes and damaged real PDFs, .docx, PNG, JPEG).
#
#   scripts/fuzz.sh [CASES]        # default 10000 cases per target (about 75 min here)
#
# The test command runs the same targets with 64-256 cases each. Coverage-guided fuzzing
# (cargo-fuzz) needs a nightly compiler, which this project does not use; proptest shrinks
# any failure to a small input, which then goes into the tests as a regression case.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-10000}"
export PROPTEST_CASES="$cases"
# Failures found here are written by proptest to proptest-regressions/ beside the test.
failed=0
run() {
    local package="$1"
    shift
    local started=$SECONDS out
    out=$(mktemp)
    if ! cargo test --locked -q -p "$package" --lib -- "$@" >"$out" 2>&1; then
        failed=1
        cat "$out"
    fi
    grep -E "test result" "$out" | sed "s/^/  /"
    rm -f "$out"
    echo "  $package ($*): $cases cases each, $((SECONDS - started)) s"
}
echo "fuzzing with $cases cases per target"
run hearth-telegram any_text_renders_within_the_limit any_text_translates_without_panicking a_mention_anywhere_is_found
run hearth-discord any_text_splits_within_the_limit prose_keeps_every_character any_text_loses_only_the_bot_mention
run bot-core random_bytes_never_crash damaged_files_never_crash any_text_parses_without_panicking_and_only_into_the_future
run hearth-notes no_note_makes_a_reader_panic outline_shaped_input_never_panics splitting_keeps_every_word_and_the_limit any_text_tokenizes_within_bounds
run hearth-media damaged_real_files_never_panic arbitrary_bytes_never_panic
exit $failed
