#!/usr/bin/env bash
# Every parser has a fuzz target: checks scripts/parsers.txt against the
# source tree and tests/fuzz (see that file). Run by scripts/lint.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
list=scripts/parsers.txt
status=0
listed=$(grep -vE '^\s*(#|$)' "$list" | awk '{print $1}')
while read -r src targets; do
    case "$src" in '#'* | '') continue ;; esac
    if [ ! -f "$src" ]; then echo "parsers.txt: $src does not exist"; status=1; continue; fi
    set -- $targets
    if [ $# -eq 0 ]; then echo "parsers.txt: $src names no fuzz target"; status=1; continue; fi
    if [ "$1" = "-" ]; then
        [ $# -ge 2 ] || { echo "parsers.txt: $src has no fuzz target and no reason"; status=1; }
        continue
    fi
    for t in "$@"; do
        if [ ! -f "tests/fuzz/fuzz_$t.c" ]; then
            echo "parsers.txt: $src: tests/fuzz/fuzz_$t.c is missing"; status=1
        elif ! grep -q "'$t'" tests/fuzz/meson.build; then
            echo "parsers.txt: $src: fuzz_$t is not registered in tests/fuzz/meson.build"; status=1
        elif [ -z "$(ls -A "tests/fuzz/corpus/$t" 2>/dev/null)" ]; then
            echo "parsers.txt: $src: tests/fuzz/corpus/$t/ has no seeds"; status=1
        fi
    done
done <"$list"
files=$(git ls-files 'src/*.c' 2>/dev/null || find src -name '*.c')
for f in $files; do
    case "${f##*/}" in
    *pars* | *scan* | *lex* | *decod* | *load* | *import* | *verify* | *json* | *yaml*)
        if ! grep -qxF "$f" <<<"$listed"; then
            echo "parsers.txt: $f looks like a parser but is not listed (add its fuzz target)"
            status=1
        fi
        ;;
    esac
done
exit $status
