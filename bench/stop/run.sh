#!/usr/bin/env bash
# bench/stop/run.sh MOAT_BINARY
#
# The graceful stop under keep-alive load (issue 22, item 1): moat's
# SIGTERM beside nginx's SIGQUIT (its graceful stop), each in front of the
# same gunicorn. Each round starts the proxy, puts BENCH_CLIENTS keep-alive
# clients (GETs and POSTs back to back) and BENCH_INFLIGHT slow requests
# (1.5 s) on it, signals it mid-run, and counts (bench/stop/stop.py): the
# requests sent whole that got no answer (lost), the clients told
# Connection: close, the clients closed while idle, the slow requests
# answered. Prints a Markdown table, one row per round and proxy.
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS   [3]
#   BENCH_CLIENTS  [40]
#   BENCH_INFLIGHT [20]
#   BENCH_WORKERS  [2]   moat workers = nginx worker_processes
set -euo pipefail

MOAT=${1:?usage: bench/stop/run.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-40}
INFLIGHT=${BENCH_INFLIGHT:-20}
WORKERS=${BENCH_WORKERS:-2}
NGINX=${NGINX:-/usr/sbin/nginx}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/../lib.sh"
bench_init moat-stop

UP=$(free_port)
mkdir -p "$DIR/proxy" "$DIR/moat"
chmod 777 "$DIR/moat"
(cd "$ROOT/tests/integration/apps" && exec /usr/bin/python3 -m gunicorn --workers 2 \
    --worker-class gthread --threads 32 --keep-alive 120 --bind "127.0.0.1:$UP" \
    --error-logfile "$DIR/gunicorn.log" flask_echo:app) &
PIDS+=($!)
wait_200() {
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" = 200 ] && return 0
        sleep 0.1
    done
    log "$1 does not answer 200"; exit 1
}
wait_200 "http://127.0.0.1:$UP/echo"

echo "| round | proxy (signal) | lost | told Connection: close | closed idle | slow requests answered |"
echo "|---|---|---:|---:|---:|---:|"
for r in $(seq 1 "$ROUNDS"); do
    for p in moat nginx; do
        port=$(free_port)
        if [ "$p" = nginx ]; then
            {
                echo "worker_processes $WORKERS;"
                nginx_common "$DIR/proxy"
                cat <<NGX
http {
    access_log off;
$(nginx_temp_paths "$DIR/proxy")
    upstream app { server 127.0.0.1:$UP; keepalive 64; }
    server { listen 127.0.0.1:$port; location / {
$(nginx_moat_location)
    } }
}
NGX
            } > "$DIR/proxy/nginx.conf"
            "$NGINX" -c "$DIR/proxy/nginx.conf" -g 'daemon off;' 2>"$DIR/proxy/stderr" &
            pid=$!; sig=SIGQUIT
        else
            cat > "$DIR/moat/moat.toml" <<TOML
listen = ["127.0.0.1:$port"]
upstream = ["http://127.0.0.1:$UP"]
workers = $WORKERS
[limits]
drain_timeout = "30s"
[log]
access = "off"
security = "$DIR/moat/security.log"
TOML
            "$MOAT" serve --config "$DIR/moat/moat.toml" 2>"$DIR/moat/stderr" &
            pid=$!; sig=SIGTERM
        fi
        PIDS+=($pid)
        wait_200 "http://127.0.0.1:$port/echo"
        out=$(/usr/bin/python3 "$HERE/stop.py" "$port" "$sig" "$CLIENTS" "$INFLIGHT" "$pid")
        wait "$pid" || true
        python3 - "$r" "$p ($sig)" "$out" <<'PY'
import json, sys
r, name, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
print("| %s | %s | %d | %d / %d | %d | %d / %d |" % (
    r, name, out["lost"], out["told_close"], out["clients"], out["idle_closed"],
    out["in_flight_answered"], out["in_flight"]))
PY
    done
done
