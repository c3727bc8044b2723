#!/usr/bin/env bash
# Source checks: banned functions (as curl's checksrc does), clang-format
# conformance, the generated configuration docs being up to date, every
# parser having a fuzz target (scripts/parsers.txt), and the static analysers
# cppcheck and clang-tidy with a fixed check set that is clean on the tree;
# what they report that is not a defect is waived in scripts/lint-waivers.txt
# with its reason. clang-tidy reads BUILD/compile_commands.json.
# LINT_STATIC=0 skips the two analysers (about a minute on two cores).
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
scripts/check-parsers.sh || { echo "lint: a parser lacks a fuzz target (scripts/parsers.txt)"; status=1; }

# ---- static analysis
WAIVERS=scripts/lint-waivers.txt
# cppcheck: the warning and portability classes (style is clang-format's and
# review's business); every file of src/ and tests/.
CPPCHECK_ARGS=(--enable=warning,portability --std=c11 -Isrc -q --inline-suppr
    --error-exitcode=1 --template='{file}:{line}: cppcheck {id}: {message}')
# clang-tidy: bug-prone patterns, with what is noise in this code base off:
# easily-swappable-parameters, narrowing-conversions and
# implicit-widening (the build's -Wconversion covers conversions),
# reserved-identifier (moat__ internal names are the project's convention),
# assignment-in-if-condition and suspicious-string-compare (`if (strcmp(a, b))`
# and `while ((e = readdir(d)))` are STYLE.md idioms), branch-clone (tables of
# cases that happen to act alike), macro-parentheses (macros that paste
# statements); plus the CERT checks on parsing numbers and floats as loop
# counters, and misc checks for redundant expressions.
TIDY_CHECKS='-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-narrowing-conversions,-bugprone-implicit-widening-of-multiplication-result,-bugprone-reserved-identifier,-bugprone-assignment-in-if-condition,-bugprone-suspicious-string-compare,-bugprone-branch-clone,-bugprone-macro-parentheses,cert-err34-c,cert-flp30-c,cert-str34-c,misc-redundant-expression,misc-misplaced-const'
if [ "${LINT_STATIC:-1}" != 0 ]; then
    if ! python3 scripts/lint-waivers.py check "$WAIVERS"; then status=1; fi
    if command -v cppcheck >/dev/null; then
        supp=$(mktemp)
        python3 scripts/lint-waivers.py cppcheck "$WAIVERS" >"$supp"
        if ! cppcheck -j2 "${CPPCHECK_ARGS[@]}" --suppressions-list="$supp" -I"$BUILD/src" \
            src tests/unit tests/fuzz 2>&1; then
            echo "lint: cppcheck found the above (fix it, or waive it in $WAIVERS with the reason)"
            status=1
        fi
        rm -f "$supp"
    else
        echo "lint: cppcheck is not installed (deps/debian.txt)"; status=1
    fi
    if ! command -v run-clang-tidy >/dev/null; then
        echo "lint: clang-tidy is not installed (deps/debian.txt)"; status=1
    elif [ ! -f "$BUILD/compile_commands.json" ]; then
        echo "lint: no $BUILD/compile_commands.json for clang-tidy (build first)"; status=1
    else
        out=$(run-clang-tidy -quiet -j 2 -p "$BUILD" -checks="$TIDY_CHECKS" \
            "^$PWD/src/" 2>&1 || true)
        if ! python3 scripts/lint-waivers.py clang-tidy "$WAIVERS" "$BUILD" <<<"$out"; then
            echo "lint: clang-tidy found the above (fix it, or waive it in $WAIVERS with the reason)"
            status=1
        fi
    fi
fi
[ $status -eq 0 ] && echo "lint: ok"
exit $status
