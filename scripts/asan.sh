#!/usr/bin/env bash
# Builds moat with ASan+UBSan (clang) in build-asan and runs the unit and the
# integration tests against it. Any sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
if [ ! -f build-asan/build.ninja ]; then
    CC=clang meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null
fi
ninja -C build-asan >build-asan/ninja.log 2>&1 || { grep -E "error|FAILED" build-asan/ninja.log | head -40; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
meson test -C build-asan --suite unit --print-errorlogs
MOAT_BUILD="$(pwd)/build-asan" MOAT_SANITIZED=1 $PY -m pytest tests/integration -q -p no:cacheprovider
