#!/usr/bin/env bash
# bench/h2/run.sh MOAT_BINARY
#
# moat against nginx as an HTTP/2 (TLS, ALPN h2) reverse proxy that hardens
# responses: both in front of the same fast upstream (a third nginx serving
# a 100-byte file) over HTTP/1.1 keep-alive pools, with the same
# certificate (`moat cert selfsigned`), the same security headers and HSTS
# moat adds by default, X-Forwarded-* and X-Request-Id. nginx 1.22 speaks
# HTTP/2 with `listen ... ssl http2`.
#
# Measures with h2load (nghttp2-client), on 127.0.0.1, requests/s and the
# 99th percentile of request latency (from h2load's --log-file, which
# records every request) at 1 and at 100 concurrent streams per connection,
# and the CPU time each proxy used per request (its processes' user+system
# time over the run; steadier than requests/s on a shared machine).
# Prints a Markdown report on stdout (progress on stderr). Everything is
# stopped and removed on exit.
#
# Environment (defaults in brackets):
#   BENCH_DURATION [10]  seconds of each measured run (h2load -D)
#   BENCH_WARMUP   [2]   seconds of warm-up before it (h2load --warm-up-time)
#   BENCH_CONNS    [16]  h2load -c (connections)
#   BENCH_THREADS  [1]   h2load -t
#   BENCH_WORKERS  [2]   moat workers = nginx worker_processes
#   BENCH_ROUNDS   [4]   alternating rounds (nginx first in odd ones, moat in
#                        even ones); the report gives medians
#
# The 1-minute load average is read before every run and reported (lowest,
# median, highest): on a shared machine it says how far to trust the rest.
set -euo pipefail

MOAT=${1:?usage: bench/h2/run.sh MOAT_BINARY}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNS:-16}
THREADS=${BENCH_THREADS:-1}
WORKERS=${BENCH_WORKERS:-2}
ROUNDS=${BENCH_ROUNDS:-4}
NGINX=${NGINX:-/usr/sbin/nginx}
H2LOAD=${H2LOAD:-h2load}

for tool in "$NGINX" "$H2LOAD" curl python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (deps/debian.txt)" >&2; exit 1; }
done
[ -x "$MOAT" ] || { echo "not an executable: $MOAT" >&2; exit 1; }
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")

. "$(dirname "$0")/../lib.sh"
bench_init moat-bench-h2
HSTS="max-age=63072000"

UP_PORT=$(free_port)
NGINX_PORT=$(free_port)
MOAT_PORT=$(free_port)
MOAT_TLS_PORT=$(free_port)
mkdir -p "$DIR/up/www" "$DIR/proxy" "$DIR/moat" "$DIR/cert"
head -c 100 /dev/zero | tr '\0' 'a' > "$DIR/up/www/100.bin"
chmod -R a+rX "$DIR/up"
"$MOAT" cert selfsigned --cert "$DIR/cert/cert.pem" --key "$DIR/cert/key.pem" \
    localhost 127.0.0.1 >/dev/null
# moat serves as nobody when started as root; nginx reads the key as root
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$DIR/moat" "$DIR/cert/key.pem"

{
    echo "worker_processes $WORKERS;"
    nginx_common "$DIR/up"
    cat <<EOF
http {
    access_log off;
$(nginx_temp_paths "$DIR/up")
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        root $DIR/up/www;
    }
}
EOF
} > "$DIR/up/nginx.conf"

{
    echo "worker_processes $WORKERS;"
    nginx_common "$DIR/proxy"
    cat <<EOF
http {
    access_log off;
$(nginx_temp_paths "$DIR/proxy")
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    server_tokens off;
    http2_max_concurrent_streams 128;
    upstream app {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl http2 reuseport;
        ssl_certificate $DIR/cert/cert.pem;
        ssl_certificate_key $DIR/cert/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
$(nginx_moat_location)
            add_header Strict-Transport-Security "$HSTS" always;
        }
    }
}
EOF
} > "$DIR/proxy/nginx.conf"

cat > "$DIR/moat/moat.toml" <<EOF
listen = ["127.0.0.1:$MOAT_PORT"]
upstream = ["http://127.0.0.1:$UP_PORT"]
workers = $WORKERS

[tls]
listen = ["127.0.0.1:$MOAT_TLS_PORT"]
cert = ["$DIR/cert/cert.pem"]
key = ["$DIR/cert/key.pem"]

[limits]
upstream_keepalive = 64
drain_timeout = "2s"
http2_streams = 128

[waf]
mode = "off"

[log]
access = ""
EOF

log "starting the upstream, nginx and moat"
"$NGINX" -p "$DIR/up" -c "$DIR/up/nginx.conf" -e "$DIR/up/error.log" -g 'daemon off;' &
PIDS+=($!)
wait_ok "http://127.0.0.1:$UP_PORT/100.bin" 100
"$NGINX" -p "$DIR/proxy" -c "$DIR/proxy/nginx.conf" -e "$DIR/proxy/error.log" -g 'daemon off;' &
PIDS+=($!)
PID_nginx=$!
wait_ok "https://127.0.0.1:$NGINX_PORT/100.bin" 100 || { cat "$DIR/proxy/error.log" >&2; exit 1; }
(cd "$DIR/moat" && exec "$MOAT" serve --config moat.toml) \
    > "$DIR/moat/stdout.log" 2> "$DIR/moat/stderr.log" &
PIDS+=($!)
PID_moat=$!
wait_ok "https://127.0.0.1:$MOAT_TLS_PORT/100.bin" 100 || { cat "$DIR/moat/stderr.log" >&2; exit 1; }

# Both answer over HTTP/2 with the same security headers: checked first.
check() { # name port
    local h
    h=$(curl -sk --http2 -D - -o /dev/null "https://127.0.0.1:$2/100.bin" | tr -d '\r')
    grep -q '^HTTP/2 200' <<<"$h" || { echo "bench: $1 does not answer over h2:" >&2; echo "$h" >&2; exit 1; }
    for want in "content-security-policy: $MOAT_CSP" "x-frame-options: DENY" \
                "x-content-type-options: nosniff" \
                "referrer-policy: strict-origin-when-cross-origin" \
                "permissions-policy: $MOAT_PERMISSIONS" "cross-origin-opener-policy: same-origin" \
                "cross-origin-resource-policy: same-origin" \
                "strict-transport-security: $HSTS" "x-request-id:"; do
        grep -qiF -- "$want" <<<"$h" || { echo "bench: $1 lacks '$want':" >&2; echo "$h" >&2; exit 1; }
    done
}
check nginx "$NGINX_PORT"
check moat "$MOAT_TLS_PORT"
log "both answer over HTTP/2 with the same security headers"

# CPU seconds a proxy used so far: the process and its children (nginx's
# workers), user + system. The machine may be shared: CPU per request moves
# less with other load than requests/s does.
TICKS=$(getconf CLK_TCK)
cpu_of() {
    local pid=$1 t=0 p
    for p in $pid $(ps -o pid= --ppid "$pid"); do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    awk -v t="$t" -v hz="$TICKS" 'BEGIN { printf "%.2f", t / hz }'
}

# run NAME PORT STREAMS ROUND: requests/s, p99 ms and CPU µs per request of one h2load run
declare -A RPS P99 FAILED CPU
LOADS=()
run() {
    local out logf="$DIR/h2load-$1-$3-$4.log" pid c0 c1 done_n
    pid=$(eval echo "\$PID_$1")
    LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")
    c0=$(cpu_of "$pid")
    out=$("$H2LOAD" -c "$CONNS" -t "$THREADS" -m "$3" -D "$DURATION" --warm-up-time="$WARMUP" \
        --log-file="$logf" "https://127.0.0.1:$2/100.bin" 2>&1)
    c1=$(cpu_of "$pid")
    echo "$out" > "$DIR/h2load-$1-$3-$4.txt"
    # requests done over the whole run, warm-up included, as the CPU counts it
    done_n=$(wc -l < "$logf")
    RPS[$1-$3-$4]=$(awk '/^finished in/ { gsub(",", ""); printf "%.0f", $4 }' <<<"$out")
    FAILED[$1-$3-$4]=$(awk '/^requests:/ { gsub(",", ""); print $10 + $12 }' <<<"$out")
    # the log: start time, status, latency in microseconds, one request a line
    P99[$1-$3-$4]=$(awk -F'\t' '{ print $3 }' "$logf" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", v[int(NR * 0.99 + 0.5)] / 1000; else print "nan" }')
    CPU[$1-$3-$4]=$(awk -v a="$c0" -v b="$c1" -v n="$done_n" 'BEGIN { if (n > 0) printf "%.0f", (b - a) * 1e6 / n; else print "nan" }')
    log "$1 -m$3 round $4: ${RPS[$1-$3-$4]} req/s, p99 ${P99[$1-$3-$4]} ms, ${CPU[$1-$3-$4]} CPU µs/request, failed ${FAILED[$1-$3-$4]}"
}

median() { # the middle value; of an even count, the mean of the two middle ones
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# A B B A ...: whichever runs second in a round does not always follow the
# same proxy (an even BENCH_ROUNDS gives each the first place equally often).
for m in 1 100; do
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) = 1 ]; then
            run nginx "$NGINX_PORT" "$m" "$round"
            run moat "$MOAT_TLS_PORT" "$m" "$round"
        else
            run moat "$MOAT_TLS_PORT" "$m" "$round"
            run nginx "$NGINX_PORT" "$m" "$round"
        fi
    done
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
moat_version=$("$MOAT" --version 2>&1 | head -1 || true)
nginx_version=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //' || true)
h2load_version=$("$H2LOAD" --version 2>&1 | head -1 || true)

echo "$(date -u +%Y-%m-%d). Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)."
echo "$moat_version; $nginx_version; $h2load_version. Everything on 127.0.0.1: the"
echo "upstream, both proxies and h2load share the same CPUs. h2load -c$CONNS -t$THREADS,"
echo "${DURATION} s after ${WARMUP} s of warm-up, medians of $ROUNDS alternating rounds (A B, B A, ...)."
echo "1-minute load average before the runs: $(printf '%s\n' "${LOADS[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "lowest %s, median %s, highest %s", v[1], v[int((NR + 1) / 2)], v[NR] }')."
echo
echo "| streams per connection | proxy | requests/s | p99 ms | CPU µs/request | failed |"
echo "|---:|---|---:|---:|---:|---:|"
for m in 1 100; do
    for p in nginx moat; do
        rs=() ps=() cs=() fs=0
        for round in $(seq 1 "$ROUNDS"); do
            rs+=("${RPS[$p-$m-$round]}")
            ps+=("${P99[$p-$m-$round]}")
            cs+=("${CPU[$p-$m-$round]}")
            fs=$((fs + ${FAILED[$p-$m-$round]:-0}))
        done
        eval "MR_$p=$(median "${rs[@]}")"
        eval "MP_$p=$(median "${ps[@]}")"
        eval "MC_$p=$(median "${cs[@]}")"
        echo "| $m | $p | $(median "${rs[@]}") | $(median "${ps[@]}") | $(median "${cs[@]}") | $fs |"
    done
    echo "| $m | **moat/nginx** | **$(ratio "$MR_moat" "$MR_nginx")** | $(ratio "$MP_moat" "$MP_nginx") | $(ratio "$MC_moat" "$MC_nginx") | |"
done
echo
echo "requests/s: higher is better; p99 and CPU per request: lower is better."
echo
echo "Every round's requests/s:"
echo
for m in 1 100; do
    for p in nginx moat; do
        line="- -m$m $p:"
        for round in $(seq 1 "$ROUNDS"); do line="$line ${RPS[$p-$m-$round]}"; done
        echo "$line"
    done
done
cat <<EOF

Commands (DIR is a temporary directory, PORT the ports picked at run time):

    moat cert selfsigned --cert DIR/cert/cert.pem --key DIR/cert/key.pem localhost 127.0.0.1
    nginx -p DIR/up -c DIR/up/nginx.conf -e DIR/up/error.log -g 'daemon off;'
    nginx -p DIR/proxy -c DIR/proxy/nginx.conf -e DIR/proxy/error.log -g 'daemon off;'   # listen ... ssl http2
    moat serve --config moat.toml                                                           # [tls], waf off, access log off
    h2load -c $CONNS -t $THREADS -m 1 -D $DURATION --warm-up-time=$WARMUP --log-file=LOG https://127.0.0.1:PORT/100.bin
    h2load -c $CONNS -t $THREADS -m 100 -D $DURATION --warm-up-time=$WARMUP --log-file=LOG https://127.0.0.1:PORT/100.bin
EOF
