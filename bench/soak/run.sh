#!/usr/bin/env bash
# bench/soak/run.sh MOAT_BINARY
#
# Spurious 502s (issue 22, item 6): moat and nginx in one run, in front of
# one healthy gunicorn (gthread, its default 2 s keep-alive, so pooled
# connections the app closes meet the proxies' reuse), under mixed traffic
# (four POSTs for every GET). The load comes in bursts with pauses of 0-3 s
# between them, the two proxies taking turns, so that pooled upstream
# connections sit idle across gunicorn's keep-alive at every age. Prints a
# Markdown report: requests, 502s, other non-200 answers, per proxy.
#
# Environment (defaults in brackets):
#   BENCH_SECONDS  [240]  load time per proxy
#   BENCH_BURST    [6]    seconds per burst
#   BENCH_WORKERS  [2]    moat workers = nginx worker_processes
#   BENCH_WAF      [off]  moat's waf.mode: "off" compares the proxying alone
#                         (nginx runs no WAF); "block" adds the inspection
set -euo pipefail

MOAT=${1:?usage: bench/soak/run.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
SECONDS_PER_PROXY=${BENCH_SECONDS:-240}
BURST=${BENCH_BURST:-6}
WORKERS=${BENCH_WORKERS:-2}
WAF=${BENCH_WAF:-off}
NGINX=${NGINX:-/usr/sbin/nginx}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
for tool in "$NGINX" wrk curl /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
. "$HERE/../lib.sh"
bench_init moat-soak
[ -n "${BENCH_KEEP:-}" ] && trap - EXIT

UP=$(free_port); NG=$(free_port); MP=$(free_port)
mkdir -p "$DIR/proxy" "$DIR/moat"
chmod 777 "$DIR/moat" # moat drops root to nobody and writes its security log there
(cd "$ROOT/tests/integration/apps" && exec /usr/bin/python3 -m gunicorn --workers 2 \
    --worker-class gthread --threads 8 --bind "127.0.0.1:$UP" \
    --error-logfile "$DIR/gunicorn.log" flask_echo:app) &
PIDS+=($!)
{
    echo "worker_processes $WORKERS;"
    nginx_common "$DIR/proxy"
    cat <<NGX
http {
    access_log off;
$(nginx_temp_paths "$DIR/proxy")
    upstream app { server 127.0.0.1:$UP; keepalive 64; }
    server { listen 127.0.0.1:$NG; location / {
$(nginx_moat_location)
    } }
}
NGX
} > "$DIR/proxy/nginx.conf"
"$NGINX" -c "$DIR/proxy/nginx.conf" -g 'daemon off;' 2>"$DIR/proxy/stderr" &
PIDS+=($!)
cat > "$DIR/moat/moat.toml" <<TOML
listen = ["127.0.0.1:$MP"]
upstream = ["http://127.0.0.1:$UP"]
workers = $WORKERS
[waf]
mode = "$WAF"
[log]
access = "off"
security = "$DIR/moat/security.log"
TOML
"$MOAT" serve --config "$DIR/moat/moat.toml" 2>"$DIR/moat/stderr" &
PIDS+=($!)
wait_200() {
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" = 200 ] && return 0
        sleep 0.1
    done
    log "$1 does not answer 200"; exit 1
}
wait_200 "http://127.0.0.1:$UP/echo"
wait_200 "http://127.0.0.1:$NG/echo/x"
wait_200 "http://127.0.0.1:$MP/echo/x"

declare -A TOTAL BAD502 OTHER
for p in moat nginx; do TOTAL[$p]=0; BAD502[$p]=0; OTHER[$p]=0; done
elapsed=0; round=0
while [ "$elapsed" -lt "$SECONDS_PER_PROXY" ]; do
    round=$((round + 1))
    conns=$(( (round % 3 == 0) ? 48 : (round % 3 == 1 ? 8 : 24) ))
    for p in moat nginx; do
        port=$MP; [ "$p" = nginx ] && port=$NG
        out=$(wrk -t2 -c"$conns" -d"${BURST}s" -s "$HERE/mixed.lua" "http://127.0.0.1:$port" 2>&1)
        line=$(grep '^statuses' <<<"$out" || true)
        for kv in ${line#statuses}; do
            s=${kv%%=*}; n=${kv#*=}
            TOTAL[$p]=$(( ${TOTAL[$p]} + n ))
            if [ "$s" = 502 ]; then BAD502[$p]=$(( ${BAD502[$p]} + n ));
            elif [ "$s" != 200 ]; then OTHER[$p]=$(( ${OTHER[$p]} + n )); fi
        done
        errs=$(grep -o 'Socket errors:.*' <<<"$out" || true)
        [ -n "$errs" ] && log "$p round $round: $errs"
        # a pause across gunicorn's 2 s keep-alive, at a different age each round
        sleep "$(python3 -c "print(($round * 0.37) % 3)")"
    done
    elapsed=$((elapsed + BURST))
    log "round $round (c=$conns): moat ${TOTAL[moat]} req, ${BAD502[moat]} 502; nginx ${TOTAL[nginx]} req, ${BAD502[nginx]} 502"
done

echo "| proxy | requests | 502 | other non-200 |"
echo "|---|---:|---:|---:|"
for p in moat nginx; do
    echo "| $p | ${TOTAL[$p]} | ${BAD502[$p]} | ${OTHER[$p]} |"
done
