#!/usr/bin/env bash
# Source checks that need no compiler run: banned functions (as curl's
# checksrc does), clang-format conformance, and the generated configuration
# docs being up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
status=0
files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 2>/dev/null || true)
[ -n "$files" ] || files=$(find src tests -name '*.[ch]')
if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol)\s*\(' $files; then
    echo "lint: banned function used (see STYLE.md)"; status=1
fi
if command -v clang-format >/dev/null; then
    bad=$(for f in $files; do clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"; done)
    if [ -n "$bad" ]; then echo "lint: not clang-formatted (make format):"; echo "$bad"; status=1; fi
fi
if [ -x "$BUILD/src/moat" ] && [ -f docs/configuration.md ]; then
    if ! "$BUILD/src/moat" config docs | diff -q - docs/configuration.md >/dev/null; then
        echo "lint: docs/configuration.md is stale (make docs)"; status=1
    fi
fi
[ $status -eq 0 ] && echo "lint: ok"
exit $status
