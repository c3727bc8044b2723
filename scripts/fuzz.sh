#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz and runs each one for
# FUZZ_SECONDS (default 20) from its seed corpus. A crash fails the run and
# leaves the input in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-20}
if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz --buildtype=debugoptimized -Dfuzz=true -Dtests=true \
        -Db_lundef=false >/dev/null
fi
ninja -C build-fuzz >build-fuzz/ninja.log 2>&1 || { grep -E "error|FAILED" build-fuzz/ninja.log | head -40; exit 1; }
for exe in build-fuzz/tests/fuzz/fuzz_*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    name=${exe##*/fuzz_}
    work=build-fuzz/corpus-$name
    mkdir -p "$work"
    seeds=tests/fuzz/corpus/$name
    [ -d "$seeds" ] || seeds=
    echo "fuzz_$name: ${SECS}s"
    (cd build-fuzz && "./tests/fuzz/fuzz_$name" -max_total_time="$SECS" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=0 "corpus-$name" ${seeds:+"../$seeds"} \
        >"fuzz_$name.log" 2>&1) || { tail -50 "build-fuzz/fuzz_$name.log"; exit 1; }
    grep -E '^#[0-9]+.*DONE' "build-fuzz/fuzz_$name.log" | tail -1 || true
done
