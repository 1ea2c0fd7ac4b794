#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 30) from the committed seeds and crash
# inputs, with a fresh working corpus, and fails on the first crash, leak of a panic or hang
# (libFuzzer's -timeout). The scheduled workflow (.github/workflows/fuzz.yml) runs it nightly;
# every test run replays the committed inputs without it (fuzz/tests/replay.rs).
# Needs a nightly toolchain and cargo-fuzz (installed here from crates.io when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-30}"
if ! rustup run nightly rustc -V >/dev/null 2>&1; then
  echo "== installing a nightly toolchain for cargo fuzz"
  rustup toolchain install nightly --profile minimal \
    || { echo "fuzz: cargo fuzz needs a nightly toolchain and rustup could not install one"; exit 1; }
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
# Unoptimised, without a sanitizer: the targets are safe Rust, and a panic or an overflow
# (debug assertions) is the crash we look for; the build is half as long.
# libFuzzer is an optional dependency: the replay test (tests/replay.rs) builds without it.
flags=(--dev --sanitizer none --features libfuzzer)
cargo +nightly fuzz build "${flags[@]}"
targets="$(cargo +nightly fuzz list)"
count="$(echo "$targets" | grep -c .)"
expected="$(grep -c '^\[\[bin\]\]' fuzz/Cargo.toml)"
if [ "$count" -ne "$expected" ]; then
  echo "fuzz: cargo fuzz lists $count targets, fuzz/Cargo.toml declares $expected"
  exit 1
fi
failed=0
for t in $targets; do
  work="$(mktemp -d)"
  mkdir -p "$work/corpus"
  if cargo +nightly fuzz run "${flags[@]}" "$t" "$work/corpus" "fuzz/corpus/$t" $( [ -d "fuzz/regressions/$t" ] && echo "fuzz/regressions/$t" ) -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -artifact_prefix="$work/" -print_final_stats=1 \
      >"$work/log" 2>&1; then
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")"
    corpus="$(find "$work/corpus" -type f | wc -l)"
    echo "fuzz $t: ${runs:-0} runs in ${secs} s ($(( ${runs:-0} / secs ))/s), $corpus new corpus entries, no crash"
  else
    failed=1
    echo "fuzz $t: FAILED; the input is in $work (copy it to fuzz/regressions/$t/ beside the fix):"
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$work/log" | head -20 || tail -40 "$work/log"
    if [ -n "${FUZZ_CRASH_DIR:-}" ]; then
      # Kept for the scheduled workflow, which uploads them with the failure.
      mkdir -p "$FUZZ_CRASH_DIR/$t"
      cp "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work/log" "$FUZZ_CRASH_DIR/$t/" 2>/dev/null || true
    fi
  fi
done
exit "$failed"
