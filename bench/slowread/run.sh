#!/usr/bin/env bash
# bench/slowread/run.sh MOAT_BINARY
#
# The slow-read attack (slowhttptest -X: many connections that ask for a
# large response and read it a few bytes at a time through a small window)
# against moat and against nginx as a reverse proxy, in one run, in front of
# the same upstream (a third nginx serving a 4 MiB file). For each proxy:
# its RSS when idle, the peak during the attack (sampled every half
# second; nginx: master and workers summed) and a minute after the attack
# ended. Prints a Markdown report on stdout (progress on stderr).
# Everything listens on 127.0.0.1 and is stopped on exit.
#
# Environment (defaults in brackets):
#   BENCH_CONNS    [1000]  slowhttptest -c
#   BENCH_LENGTH   [30]    slowhttptest -l, seconds
#   BENCH_AFTER    [60]    seconds after the attack before the last RSS
#   BENCH_WORKERS  [2]     moat workers = nginx worker_processes
set -euo pipefail

MOAT=${1:?usage: bench/slowread/run.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
CONNS=${BENCH_CONNS:-1000}
LENGTH=${BENCH_LENGTH:-30}
AFTER=${BENCH_AFTER:-60}
WORKERS=${BENCH_WORKERS:-2}
NGINX=${NGINX:-/usr/sbin/nginx}
SLOW=${SLOWHTTPTEST:-slowhttptest}

for tool in "$NGINX" "$SLOW" curl python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install slowhttptest)" >&2; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

. "$(dirname "$0")/../lib.sh"
bench_init moat-slowread

UP_PORT=$(free_port)
NGINX_PORT=$(free_port)
MOAT_PORT=$(free_port)
mkdir -p "$DIR/up/www" "$DIR/proxy" "$DIR/moat"
head -c 4194304 /dev/zero | tr '\0' 'b' > "$DIR/up/www/4m.bin"
chmod -R a+rX "$DIR/up"

{
    echo "worker_processes $WORKERS;"
    nginx_common "$DIR/up"
    cat <<EOF
http {
    access_log off;
$(nginx_temp_paths "$DIR/up")
    sendfile on;
    default_type application/octet-stream;
    server { listen 127.0.0.1:$UP_PORT; root $DIR/up/www; }
}
EOF
} > "$DIR/up/nginx.conf"
# nginx with its defaults (proxy_buffering on, send_timeout 60s).
{
    echo "worker_processes $WORKERS;"
    nginx_common "$DIR/proxy"
    cat <<EOF
http {
    access_log off;
$(nginx_temp_paths "$DIR/proxy")
    upstream app { server 127.0.0.1:$UP_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
$(nginx_moat_location)
        }
    }
}
EOF
} > "$DIR/proxy/nginx.conf"
cat > "$DIR/moat/moat.toml" <<EOF
listen = ["127.0.0.1:$MOAT_PORT"]
upstream = ["http://127.0.0.1:$UP_PORT"]
workers = $WORKERS

[limits]
drain_timeout = "2s"

[waf]
mode = "off"

[log]
access = ""
security = ""
EOF

"$NGINX" -p "$DIR/up" -c "$DIR/up/nginx.conf" -e "$DIR/up/error.log" -g 'daemon off;' &
PIDS+=($!)
wait_ok "http://127.0.0.1:$UP_PORT/4m.bin" 4194304
"$NGINX" -p "$DIR/proxy" -c "$DIR/proxy/nginx.conf" -e "$DIR/proxy/error.log" -g 'daemon off;' &
NGINX_PID=$!
PIDS+=($NGINX_PID)
(cd "$DIR/moat" && exec "$MOAT" serve --config moat.toml) 2> "$DIR/moat/stderr.log" &
MOAT_PID=$!
PIDS+=($MOAT_PID)
wait_ok "http://127.0.0.1:$NGINX_PORT/4m.bin" 4194304
wait_ok "http://127.0.0.1:$MOAT_PORT/4m.bin" 4194304 || { cat "$DIR/moat/stderr.log" >&2; exit 1; }

# rss_kib PID: the process's RSS, plus its children's (nginx's workers).
rss_kib() {
    local total=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# fds PID: open file descriptors (sockets), children's included.
fds() {
    local total=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(ls "/proc/$p/fd" 2>/dev/null | wc -l)))
    done
    echo "$total"
}

declare -A IDLE PEAK AFTERRSS SERVED FDS
attack() { # name pid port
    IDLE[$1]=$(rss_kib "$2")
    log "$1: idle ${IDLE[$1]} KiB; slow-read attack, $CONNS connections, ${LENGTH}s"
    "$SLOW" -X -c "$CONNS" -r 500 -w 512 -y 1024 -n 5 -z 32 -k 3 -p 3 -l "$LENGTH" \
        -u "http://127.0.0.1:$3/4m.bin" -o "$DIR/slow-$1" -g >"$DIR/slow-$1.txt" 2>&1 &
    local spid=$! peak=0 r
    while kill -0 "$spid" 2>/dev/null; do
        r=$(rss_kib "$2")
        [ "$r" -gt "$peak" ] && peak=$r
        sleep 0.5
    done
    wait "$spid" || true
    PEAK[$1]=$peak
    SERVED[$1]=$(grep -c . "$DIR/slow-$1.csv" 2>/dev/null || echo "?")
    log "$1: peak $peak KiB; waiting ${AFTER}s"
    sleep "$AFTER"
    AFTERRSS[$1]=$(rss_kib "$2")
    FDS[$1]=$(fds "$2")
    log "$1: ${AFTERRSS[$1]} KiB a minute after"
}
attack nginx "$NGINX_PID" "$NGINX_PORT"
attack moat "$MOAT_PID" "$MOAT_PORT"

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
cat <<EOF
## Slow readers (bench/slowread)

$(date -u +%Y-%m-%d). Machine: $(nproc) CPUs, Linux $(uname -r). $("$MOAT" --version 2>&1 | head -1);
$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'); slowhttptest $("$SLOW" -h 2>&1 | grep -m1 -o 'version [0-9.]*' || true).
\`slowhttptest -X -c $CONNS -r 500 -w 512 -y 1024 -n 5 -z 32 -k 3 -l $LENGTH\` against a
4 MiB file behind each proxy ($WORKERS workers each; nginx with its defaults, moat
with \`limits.client_buffer_bytes\` = 32 KiB, \`send_timeout\` = 60 s).

| proxy | RSS idle MiB | RSS peak MiB | RSS ${AFTER} s after MiB | open fds ${AFTER} s after |
|---|---:|---:|---:|---:|
| nginx | $(mib "${IDLE[nginx]}") | $(mib "${PEAK[nginx]}") | $(mib "${AFTERRSS[nginx]}") | ${FDS[nginx]} |
| moat | $(mib "${IDLE[moat]}") | $(mib "${PEAK[moat]}") | $(mib "${AFTERRSS[moat]}") | ${FDS[moat]} |
EOF
