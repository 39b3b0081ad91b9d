#!/usr/bin/env bash
# Benchmarks: Python supervisord 4.3.0 vs ours, same configs, interleaved runs, medians and
# ratios. Arguments go to supervisor-bench (see --help), e.g. `scripts/bench.sh --runs 5`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ ! -x .venv/bin/supervisord ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --disable-pip-version-check --quiet supervisor==4.3.0
fi
# The harness in the quick release profile; the daemon as shipped (profile dist: LTO, see
# Cargo.toml).
cargo build --release -p supervisor-bench
cargo build --profile dist -p supervisor-daemon --bins
SUPERVISOR_RS_VENV="$ROOT/.venv" SUPERVISOR_RS_BIN_DIR="$ROOT/target/dist" \
    exec "$ROOT/target/release/supervisor-bench" "$@"
