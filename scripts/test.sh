#!/usr/bin/env bash
# The test command: sets up the Python reference implementation in .venv, builds every
# binary, and runs the whole test suite against both our binaries and Python's.
#
# Needs: a Rust toolchain, python3 (3.11) with the venv module, and network access to PyPI
# and the Debian archive (chromium, chromium-driver, prometheus via apt-get) on the first run (later runs reuse .venv and skip pip when the pinned versions are there).
#
# Extra arguments are passed to `cargo test --workspace` (e.g. `scripts/test.sh -- python_`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
# Pinned reference versions (package==version); keep in sync with the spec.
# pexpect/ptyprocess run Supervisor's own end-to-end suite (tests/upstream_suite.rs);
# supervisor-checks (with psutil), supervisor-wildcards, supervisor-logging and superfsmon
# (with watchdog) are the third-party tools of tests/third_party.rs.
PINS=(supervisor==4.3.0 superlance==2.0.0 aiosmtpd uvicorn supervisor-stdlog==0.7.9 supervisor-stdout==0.1.1 supervisord-dependent-startup==1.4.0
      pexpect==4.9.0 ptyprocess==0.7.0
      supervisor-checks==0.8.1 psutil==7.2.2 supervisor-wildcards==0.1.3 supervisor-logging==0.0.9
      superfsmon==1.2.3 watchdog==7.1.1)

step() { printf '\n==> %s\n' "$*"; }

step "Python reference venv: $VENV"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi

# Skip pip entirely when every pin is already satisfied (fast reruns, works offline).
pins_satisfied() {
    "$VENV/bin/python" - "${PINS[@]}" <<'PY'
import sys
from importlib import metadata
for pin in sys.argv[1:]:
    name, _, want = pin.partition("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
    if want and have != want:
        sys.exit(1)
PY
}

if pins_satisfied; then
    echo "already installed: ${PINS[*]}"
else
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "${PINS[@]}"
    pins_satisfied || { echo "error: pip did not install ${PINS[*]}" >&2; exit 1; }
fi
"$VENV/bin/supervisord" --version | sed 's/^/python supervisord /'

# The browser and metrics tests need Chromium, chromedriver and promtool (Debian packages
# chromium, chromium-driver, prometheus). Installed here when missing (CI runs as root).
step "system packages for the web and metrics tests"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ "${#missing[@]}" -eq 0 ]; then
    echo "already installed: chromium chromium-driver prometheus"
else
    SUDO=()
    [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
    "${SUDO[@]}" apt-get update
    # The prometheus package ships a service; in a container (no init) starting it would fail
    # the install, and the tests only need promtool. policy-rc.d 101 = "don't start services".
    policy=/usr/sbin/policy-rc.d
    added_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
        "${SUDO[@]}" chmod +x "$policy"
        added_policy=1
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}" || status=$?
    [ -z "$added_policy" ] || "${SUDO[@]}" rm -f "$policy"
    [ "$status" -eq 0 ] || { echo "error: apt-get install ${missing[*]} failed" >&2; exit "$status"; }
fi

step "cargo build --workspace --bins"
cargo build --workspace --bins

step "cargo test --workspace"
export SUPERVISOR_RS_VENV="$VENV"
test_log="$(mktemp)"
trap 'rm -f "$test_log"' EXIT
set +e
cargo test --workspace "$@" 2>&1 | tee "$test_log"
test_status=${PIPESTATUS[0]}
set -e
# Totals over every test binary (unit, end-to-end, doc), printed last as the run's summary.
read -r passed failed < <(awk '/^test result:/ {
    for (i = 2; i <= NF; i++) { if ($i == "passed;") p += $(i-1); if ($i == "failed;") f += $(i-1) }
} END { print p + 0, f + 0 }' "$test_log")
if [ "$test_status" -ne 0 ]; then
    echo "tests: $passed passed, $failed failed"
    exit "$test_status"
fi

# A CI-sized fuzzing run of every cargo-fuzz target (SUPERVISOR_RS_FUZZ_SECS seconds each,
# default 30; 0 skips it). cargo-fuzz comes from crates.io; the stable toolchain is enough
# (scripts/fuzz.sh sets RUSTC_BOOTSTRAP for its sanitizer flags). About 4 minutes here.
FUZZ_SECS="${SUPERVISOR_RS_FUZZ_SECS:-30}"
if [ "$FUZZ_SECS" != "0" ]; then
    step "fuzzing, ${FUZZ_SECS}s per target"
    if ! cargo fuzz --version >/dev/null 2>&1; then
        cargo install --locked cargo-fuzz
    fi
    "$ROOT/scripts/fuzz.sh" "$FUZZ_SECS"
fi

echo "tests: $passed passed, $failed failed"
