#!/usr/bin/env bash
# bench/ratelimit/run.sh MOAT_BINARY
#
# What a [[limits.rate]] entry costs: requests/s through moat on a route
# with a per-address limit (every request counted in the SQLite state store
# on the thread pool; the limit is set high enough that nothing is refused)
# against an unlimited route (no store call), then against a route whose
# client is over its limit (every request refused 429), with the same
# upstream (nginx answering 200) and wrk on loopback, and bans on (an empty
# ban table: the common path). Prints a Markdown table on stdout (progress
# on stderr). Everything listens on 127.0.0.1. Run as root, moat serves as
# nobody:nogroup like in production.
#
# Environment: BENCH_DURATION [10s], BENCH_WARMUP [2s], BENCH_THREADS [2],
# BENCH_CONNS [64], BENCH_WORKERS [2].
set -euo pipefail

MOAT=${1:?usage: bench/ratelimit/run.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-64}
WORKERS=${BENCH_WORKERS:-2}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}

for tool in "$NGINX" "$WRK" curl python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
. "$HERE/../lib.sh"
bench_init moat-bench-rate
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$DIR"

UP_PORT=$(free_port)
MOAT_PORT=$(free_port)
mkdir -p "$DIR/up"
cat > "$DIR/up/nginx.conf" <<EOF2
worker_processes 1;
pid $DIR/up/nginx.pid;
error_log $DIR/up/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $DIR/up/cb; proxy_temp_path $DIR/up/pt;
    fastcgi_temp_path $DIR/up/ft; uwsgi_temp_path $DIR/up/ut; scgi_temp_path $DIR/up/st;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$UP_PORT; location / { return 200 "ok\n"; } }
}
EOF2
# /limited: counted, never over (a 1 s window, far more requests than wrk
# sends in one); /over: one request a minute, so wrk's are all refused.
cat > "$DIR/moat.toml" <<EOF2
listen = ["127.0.0.1:$MOAT_PORT"]
upstream = ["http://127.0.0.1:$UP_PORT"]
workers = $WORKERS

[limits]
upstream_keepalive = 64
drain_timeout = "2s"
ban_strikes = 1000000
ban_on = ["paths"]

[[limits.rate]]
path = "/limited"
requests = 100000000
window = "1s"

[[limits.rate]]
path = "/over"
requests = 1
window = "1m"

[log]
access = ""
security = ""

[waf]
mode = "off"

[store]
url = "sqlite:$DIR/moat.db"
EOF2

log "starting the upstream and moat"
"$NGINX" -p "$DIR/up" -c "$DIR/up/nginx.conf" -e "$DIR/up/error.log" -g 'daemon off;' &
PIDS+=($!)
wait_ok "http://127.0.0.1:$UP_PORT/x" 3
(cd "$DIR" && exec "$MOAT" serve --config moat.toml) 2> "$DIR/moat.log" &
PIDS+=($!)
wait_ok "http://127.0.0.1:$MOAT_PORT/free" 3 || { cat "$DIR/moat.log" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MOAT_PORT/limited")" = 200 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MOAT_PORT/over")" = 200 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MOAT_PORT/over")" = 429 ]

rate() { # wrk output -> requests/s
    sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'
}
non2xx() {
    sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p'
}
run() { # $1 = path; prints "requests/s non-2xx"
    "$WRK" -t"$THREADS" -c"$CONNS" -d"$WARMUP" "http://127.0.0.1:$MOAT_PORT$1" >/dev/null
    "$WRK" -t"$THREADS" -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$MOAT_PORT$1" > "$DIR/wrk.out"
    echo "$(rate < "$DIR/wrk.out") $(non2xx < "$DIR/wrk.out")"
}
log "unlimited route"
FREE1=$(run /free)
log "limited route (counted, under the limit)"
LIMITED=$(run /limited)
log "over the limit (refused 429)"
OVER=$(run /over)
log "unlimited route, again"
FREE2=$(run /free)

python3 - "$FREE1" "$FREE2" "$LIMITED" "$OVER" <<'EOF2'
import sys
runs = [a.split() for a in sys.argv[1:]]
free1, free2, limited, over = (float(r[0]) for r in runs)
bad = [int(r[1]) if len(r) > 1 else 0 for r in runs]
free = (free1 + free2) / 2
print("| route | requests/s |")
print("|---|---:|")
print("| unlimited (mean of the runs before and after) | %.0f |" % free)
print("| limited, counted in the store, under the limit | %.0f |" % limited)
print("| limited, over the limit (every answer 429) | %.0f |" % over)
print("| ratio limited / unlimited | %.2f |" % (limited / free))
print("| ratio refused / unlimited | %.2f |" % (over / free))
if bad[0] or bad[1] or bad[2]:
    print("\nnon-2xx answers on routes that should pass: %d, %d, %d" % (bad[0], bad[1], bad[2]))
EOF2
