#!/usr/bin/env bash
# bench/auth/run.sh AUTH_TOOL
#
# Password verifications per second (= logins per second, since a login costs
# one verification) with libargon2 at moat's default Argon2id parameters
# (OWASP: m=19456 KiB, t=2, p=1) and at two of OWASP's equivalent
# alternatives, on 1 and 2 threads. AUTH_TOOL is build/tests/tools/auth_tool.
# Environment: BENCH_VERIFICATIONS [40]. Prints a Markdown table on stdout.
set -euo pipefail
TOOL=${1:?usage: bench/auth/run.sh build/tests/tools/auth_tool}
N=${BENCH_VERIFICATIONS:-40}
echo "| parameters | threads | verifications/s | ms each |"
echo "|---|---:|---:|---:|"
for params in "19456 2 1" "47104 1 1" "7168 5 1"; do
    for threads in 1 2; do
        # shellcheck disable=SC2086
        out=$("$TOOL" bench "$N" "$threads" $params)
        rate=$(sed -E 's/.*: ([0-9.]+)\/s.*/\1/' <<<"$out")
        each=$(sed -E 's/.*, ([0-9.]+) ms each.*/\1/' <<<"$out")
        read -r m t p <<<"$params"
        echo "| m=$m t=$t p=$p | $threads | $rate | $each |"
    done
done
