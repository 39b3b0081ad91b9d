#!/usr/bin/env bash
# Run every cargo-fuzz (libFuzzer) target for N seconds each, starting from the seed corpora
# in fuzz/corpus/<target>/ (new interesting inputs are added to a scratch copy, not to the
# committed seeds).
#
#   scripts/fuzz.sh            # 60 s per target
#   scripts/fuzz.sh 30         # 30 s per target
#   scripts/fuzz.sh 600 config_parse   # one target, 10 min
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`, from crates.io); libFuzzer itself is built from
# the libfuzzer-sys crate by the C++ compiler (no clang needed). Only a stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets it accept
# the nightly-only flags cargo-fuzz passes (-Zsanitizer=address etc.).
# A crash leaves its input in fuzz/artifacts/<target>/ and makes this script exit non-zero;
# reproduce with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECS="${1:-60}"
shift || true
TARGETS=("$@")
if [ "${#TARGETS[@]}" -eq 0 ]; then
    mapfile -t TARGETS < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^supervisor-fuzz$')
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "error: cargo-fuzz is not installed; run: cargo install cargo-fuzz" >&2
    exit 1
fi

export RUSTC_BOOTSTRAP=1
# Address sanitizer needs nothing beyond the Rust toolchain on x86_64 Linux.
SANITIZER="${FUZZ_SANITIZER:-address}"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fuzz build (all targets, release + debug assertions)"
cargo fuzz build --sanitizer "$SANITIZER"

failed=()
for t in "${TARGETS[@]}"; do
    step "fuzz $t for ${SECS}s"
    work="$ROOT/fuzz/target/corpus-work/$t"
    mkdir -p "$work"
    # Seeds first, the scratch corpus (grown by earlier runs) second.
    if cargo fuzz run --sanitizer "$SANITIZER" "$t" "$work" "fuzz/corpus/$t" -- \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        2>"$work.log"; then
        grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$work.log" | sed "s/^/$t: /" || true
    else
        echo "FAILED: $t (see $work.log and fuzz/artifacts/$t/)" >&2
        tail -n 40 "$work.log" >&2
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzzing found crashes in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzzing: no crashes in ${TARGETS[*]} (${SECS}s each)"
