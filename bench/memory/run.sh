#!/usr/bin/env bash
# bench/memory/run.sh MOAT_BINARY
#
# Flat memory (issue 22, item 5): the resident size (RSS) of moat and of
# nginx as reverse proxies in one run, in front of one fast upstream (an
# nginx answering every request itself, so the proxies are what is
# measured), after every BENCH_STEP requests of a mix of GETs with queries
# and POSTs with form and JSON bodies (bench/waf/mix.lua: 20% of them
# attacks the WAF refuses). The two proxies take turns, step by step. RSS
# of nginx is its master's plus its workers'. Prints a Markdown table of
# the RSS (MB) at each step and the growth from the first step to the last,
# then moat's own memory gauges at each step (GET /metrics on its admin
# listener: the allocator's heap and the gateway's structures), to tell
# which part grows.
#
# Environment (defaults in brackets):
#   BENCH_REQUESTS [5000000] requests per proxy
#   BENCH_STEP     [1000000] requests between two readings
#   BENCH_WORKERS  [2]       moat workers = nginx worker_processes
#   BENCH_WAF      [block]   moat's waf.mode
#   BENCH_CONNS    [32]      wrk connections
#   BENCH_MAX_SECONDS [0]    stop before a step that would end past this
#                            many seconds of run (0: none); the table then
#                            has the steps made
set -euo pipefail

MOAT=${1:?usage: bench/memory/run.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
REQUESTS=${BENCH_REQUESTS:-5000000}
STEP=${BENCH_STEP:-1000000}
WORKERS=${BENCH_WORKERS:-2}
WAF=${BENCH_WAF:-block}
CONNS=${BENCH_CONNS:-32}
MAX_SECONDS=${BENCH_MAX_SECONDS:-0}
NGINX=${NGINX:-/usr/sbin/nginx}
HERE=$(cd "$(dirname "$0")" && pwd)
for tool in "$NGINX" wrk curl /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
. "$HERE/../lib.sh"
bench_init moat-memory

UP=$(free_port); NG=$(free_port); MP=$(free_port); AP=$(free_port)
mkdir -p "$DIR/up" "$DIR/proxy" "$DIR/moat"
cp "$MOAT" "$DIR/moat/moat" # a rebuild during the run changes nothing
MOAT=$DIR/moat/moat
chmod 777 "$DIR/moat" # moat drops root to nobody and writes its security log there
{
    echo "worker_processes 1;"
    nginx_common "$DIR/up"
    cat <<NGX
http {
    access_log off;
$(nginx_temp_paths "$DIR/up")
    server { listen 127.0.0.1:$UP; keepalive_requests 1000000;
        location / { client_body_buffer_size 64k; return 200 "ok\n"; } }
}
NGX
} > "$DIR/up/nginx.conf"
"$NGINX" -c "$DIR/up/nginx.conf" -g 'daemon off;' 2>"$DIR/up/stderr" &
PIDS+=($!)
{
    echo "worker_processes $WORKERS;"
    nginx_common "$DIR/proxy"
    cat <<NGX
http {
    access_log off;
$(nginx_temp_paths "$DIR/proxy")
    upstream app { server 127.0.0.1:$UP; keepalive 64; }
    server { listen 127.0.0.1:$NG; keepalive_requests 1000000; location / {
$(nginx_moat_location)
    } }
}
NGX
} > "$DIR/proxy/nginx.conf"
"$NGINX" -c "$DIR/proxy/nginx.conf" -g 'daemon off;' 2>"$DIR/proxy/stderr" &
NGINX_PID=$!
PIDS+=($NGINX_PID)
cat > "$DIR/moat/moat.toml" <<TOML
listen = ["127.0.0.1:$MP"]
upstream = ["http://127.0.0.1:$UP"]
hosts = ["app.example"]
workers = $WORKERS
[waf]
mode = "$WAF"
[admin]
listen = ["127.0.0.1:$AP"]
[log]
access = "off"
security = "$DIR/moat/security.log"
TOML
"$MOAT" serve --config "$DIR/moat/moat.toml" 2>"$DIR/moat/stderr" &
MOAT_PID=$!
PIDS+=($MOAT_PID)
wait_200() {
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: app.example' "$1" 2>/dev/null)" = 200 ] && return 0
        sleep 0.1
    done
    log "$1 does not answer 200"; exit 1
}
wait_200 "http://127.0.0.1:$UP/"
wait_200 "http://127.0.0.1:$NG/"
wait_200 "http://127.0.0.1:$MP/"

rss_kb() { # PID...: the sum of their VmRSS
    local t=0 p v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
nginx_pids() { echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"; }

# run_requests PORT N: at least N requests (wrk runs by time: the rate of
# the first burst decides the durations); prints how many were made.
declare -A RATE DONE
run_requests() {
    local name=$1 port=$2 want=$3 made=0 secs out n
    while [ "$made" -lt "$want" ]; do
        if [ -z "${RATE[$name]:-}" ]; then secs=5; else
            secs=$(( (want - made) / ${RATE[$name]} + 1 )); fi
        out=$(wrk -t2 -c"$CONNS" -d"${secs}s" -s "$HERE/../waf/mix.lua" "http://127.0.0.1:$port")
        n=$(awk '/requests in/ {print $1}' <<<"$out")
        made=$((made + n))
        RATE[$name]=$(( n / secs > 0 ? n / secs : 1 ))
    done
    DONE[$name]=$(( ${DONE[$name]:-0} + made ))
}

# gauges I: moat's memory gauges (name{labels} value), saved for step I.
gauges() {
    curl -s "http://127.0.0.1:$AP/metrics" |
        grep -E '^moat_(malloc|memory|connections_open|upstream_connections|jobs|waf_transactions|sessions_cached|bans)' \
        > "$DIR/gauges.$1" || true
}

declare -A RSS AT
log "start: moat $(rss_kb $MOAT_PID) kB, nginx $(rss_kb $(nginx_pids)) kB"
steps=$((REQUESTS / STEP))
started=$SECONDS last=0
for i in $(seq 1 "$steps"); do
    if [ "$MAX_SECONDS" -gt 0 ] && [ $((SECONDS - started + last)) -gt "$MAX_SECONDS" ]; then
        log "BENCH_MAX_SECONDS: stopping after step $((i - 1))"
        steps=$((i - 1))
        break
    fi
    t0=$SECONDS
    run_requests moat "$MP" "$STEP"
    RSS[moat,$i]=$(rss_kb $MOAT_PID); AT[moat,$i]=${DONE[moat]}
    sleep 1.5; gauges "$i" # the workers count their connections once a second
    run_requests nginx "$NG" "$STEP"
    RSS[nginx,$i]=$(rss_kb $(nginx_pids)); AT[nginx,$i]=${DONE[nginx]}
    log "step $i: moat ${DONE[moat]} requests ${RSS[moat,$i]} kB; nginx ${DONE[nginx]} requests ${RSS[nginx,$i]} kB; load $(cut -d' ' -f1 /proc/loadavg)"
    last=$((SECONDS - t0))
done
[ "$steps" -gt 0 ] || { log "no step made"; exit 1; }

mb() { python3 -c "print('%.1f' % ($1 / 1024))"; }
echo "| step | moat requests | moat RSS MB | nginx requests | nginx RSS MB | moat / nginx RSS |"
echo "|---|---:|---:|---:|---:|---:|"
for i in $(seq 1 "$steps"); do
    echo "| $i | ${AT[moat,$i]} | $(mb ${RSS[moat,$i]}) | ${AT[nginx,$i]} | $(mb ${RSS[nginx,$i]}) | $(python3 -c "print('%.2f' % (${RSS[moat,$i]} / ${RSS[nginx,$i]}))") |"
done
echo
echo "growth from step 1 to step $steps: moat $(mb $(( ${RSS[moat,$steps]} - ${RSS[moat,1]} ))) MB, nginx $(mb $(( ${RSS[nginx,$steps]} - ${RSS[nginx,1]} ))) MB"
echo "requests made: moat ${DONE[moat]}, nginx ${DONE[nginx]}"
echo
echo "moat's gauges at each step (bytes as MB):"
echo
python3 - "$DIR" "$steps" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
rows, names = [], []
for i in range(1, n + 1):
    g = {}
    try:
        for line in open("%s/gauges.%d" % (d, i)):
            k, v = line.rsplit(" ", 1)
            g[k] = float(v)
            if k not in names: names.append(k)
    except OSError:
        pass
    rows.append(g)
print("| gauge | " + " | ".join("step %d" % i for i in range(1, n + 1)) + " |")
print("|---|" + "---:|" * n)
for k in names:
    mb = "bytes" in k
    cells = [("%.1f" % (r[k] / 1048576) if mb else "%d" % r[k]) if k in r else "" for r in rows]
    print("| %s | %s |" % (k, " | ".join(cells)))
PY
