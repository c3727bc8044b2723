#!/usr/bin/env bash
# bench/proxy/run.sh MOAT_BINARY
#
# moat against nginx as a reverse proxy, both in front of the same fast
# upstream (a third nginx serving two static files), measured with wrk on
# loopback: requests/s and p50/p99 latency for a 100-byte and a 64 KiB
# response. Builds nothing; prints a Markdown report on stdout (progress on
# stderr). Everything listens on 127.0.0.1 and is stopped on exit.
#
# Environment (defaults in brackets):
#   BENCH_DURATION [5s]   wrk -d for each measured run
#   BENCH_ROUNDS   [5]    measured runs of each proxy (alternating); medians reported
#   BENCH_WARMUP   [2s]   wrk -d for the unmeasured run before each one
#   BENCH_THREADS  [2]    wrk -t
#   BENCH_CONNS    [64]   wrk -c
#   BENCH_WORKERS  [2]    moat workers = nginx worker_processes
set -euo pipefail

MOAT=${1:?usage: bench/proxy/run.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT") # absolute: the script cd-s
DURATION=${BENCH_DURATION:-5s}
ROUNDS=${BENCH_ROUNDS:-5}
WARMUP=${BENCH_WARMUP:-2s}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-64}
WORKERS=${BENCH_WORKERS:-2}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}

for tool in "$NGINX" "$WRK" curl python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (make bench installs it)" >&2; exit 1; }
done
[ -x "$MOAT" ] || { echo "not an executable: $MOAT" >&2; exit 1; }

# moat's default response headers; nginx is given the same (add_header).

. "$(dirname "$0")/../lib.sh"
bench_init moat-bench

UP_PORT=$(free_port)
NGINX_PORT=$(free_port)
MOAT_PORT=$(free_port)

# ---------------------------------------------------------- the upstream
mkdir -p "$DIR/up/www" "$DIR/proxy" "$DIR/moat"
head -c 100 /dev/zero | tr '\0' 'a' > "$DIR/up/www/100.bin"
head -c 65536 /dev/zero | tr '\0' 'b' > "$DIR/up/www/64k.bin"
chmod -R a+rX "$DIR/up"

{
    echo "worker_processes $WORKERS;"
    nginx_common "$DIR/up"
    cat <<EOF
http {
    access_log off;
$(nginx_temp_paths "$DIR/up")
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    open_file_cache max=16;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$UP_PORT;
        root $DIR/up/www;
    }
}
EOF
} > "$DIR/up/nginx.conf"

# ------------------------------------------------- nginx as reverse proxy
{
    echo "worker_processes $WORKERS;"
    nginx_common "$DIR/proxy"
    cat <<EOF
http {
    access_log off;
$(nginx_temp_paths "$DIR/proxy")
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    upstream app {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT reuseport;
        location / {
$(nginx_moat_location)
        }
    }
}
EOF
} > "$DIR/proxy/nginx.conf"

# ------------------------------------------------------------------ moat
cat > "$DIR/moat/moat.toml" <<EOF
listen = ["127.0.0.1:$MOAT_PORT"]
upstream = ["http://127.0.0.1:$UP_PORT"]
workers = $WORKERS

[limits]
upstream_keepalive = 64
drain_timeout = "2s"

# the WAF is measured by bench/waf, against nginx + ModSecurity
[waf]
mode = "off"

[log]
access = ""
security = ""
EOF

log "starting the upstream, nginx and moat"
"$NGINX" -p "$DIR/up" -c "$DIR/up/nginx.conf" -e "$DIR/up/error.log" -g 'daemon off;' &
PIDS+=($!)
wait_ok "http://127.0.0.1:$UP_PORT/100.bin" 100
"$NGINX" -p "$DIR/proxy" -c "$DIR/proxy/nginx.conf" -e "$DIR/proxy/error.log" -g 'daemon off;' &
PIDS+=($!)
(cd "$DIR/moat" && exec "$MOAT" serve --config moat.toml) 2> "$DIR/moat/stderr.log" &
PIDS+=($!)
wait_ok "http://127.0.0.1:$NGINX_PORT/100.bin" 100
wait_ok "http://127.0.0.1:$NGINX_PORT/64k.bin" 65536
wait_ok "http://127.0.0.1:$MOAT_PORT/100.bin" 100 || { cat "$DIR/moat/stderr.log" >&2; exit 1; }
wait_ok "http://127.0.0.1:$MOAT_PORT/64k.bin" 65536

# Both must answer with the same headers, or the comparison is unfair.
same_headers() { # port
    curl -s -D - -o /dev/null "http://127.0.0.1:$1/100.bin" | tr -d '\r' |
        awk -F': ' 'tolower($1) ~ /^(content-security-policy|x-frame-options|x-content-type-options|referrer-policy|permissions-policy|cross-origin-opener-policy|cross-origin-resource-policy)$/ { print tolower($1) ": " $2 }' | sort
}
if [ "$(same_headers "$NGINX_PORT")" != "$(same_headers "$MOAT_PORT")" ] ||
    [ "$(same_headers "$MOAT_PORT" | wc -l)" -ne 7 ]; then
    echo "nginx and moat do not send the same security headers:" >&2
    diff <(same_headers "$NGINX_PORT") <(same_headers "$MOAT_PORT") >&2 || true
    exit 1
fi

# ---------------------------------------------------------------- wrk runs
# to_ms "1.23ms" -> 1.23 (us, ms, s, m as wrk prints them)
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { printf "nan" }
    }'
}

# One wrk run; appends its numbers to the per-proxy lists.
declare -A RPS P50 P99 ERRS ALL
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
measure() { # name port file round
    local out
    "$WRK" -t"$THREADS" -c"$CONNS" -d"$WARMUP" "http://127.0.0.1:$2/$3" >/dev/null
    out=$("$WRK" -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$2/$3")
    echo "$out" > "$DIR/wrk-$1-$3-$4.txt"
    local rps p50 p99 errs
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    errs=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
                /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
                END { print n + 0 }' <<<"$out")
    ALL[$1/$3]="${ALL[$1/$3]:-} $rps"
    P50[$1/$3]="${P50[$1/$3]:-} $p50"
    P99[$1/$3]="${P99[$1/$3]:-} $p99"
    ERRS[$1/$3]=$(( ${ERRS[$1/$3]:-0} + errs ))
    log "round $4: $1 $3: $rps req/s, p50 $p50 ms, p99 $p99 ms, errors $errs"
}

# Rounds alternate the two proxies (nginx first in odd rounds, moat first in
# even ones), and the report takes each one's median: on a small shared
# machine one run of each swings by 20% or more.
for file in 100.bin 64k.bin; do
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) -eq 1 ]; then
            measure nginx "$NGINX_PORT" "$file" "$round"
            measure moat "$MOAT_PORT" "$file" "$round"
        else
            measure moat "$MOAT_PORT" "$file" "$round"
            measure nginx "$NGINX_PORT" "$file" "$round"
        fi
    done
    for p in nginx moat; do
        RPS[$p/$file]=$(median <<<"${ALL[$p/$file]}")
        P50[$p/$file]=$(median <<<"${P50[$p/$file]}")
        P99[$p/$file]=$(median <<<"${P99[$p/$file]}")
    done
done

# ------------------------------------------------------------------ report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
# (wrk -v exits 1 after printing its version)
moat_version=$("$MOAT" --version 2>&1 | head -1 || true)
nginx_version=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //' || true)
wrk_version=$("$WRK" -v 2>&1 | head -1 | awk '{ print $1, $2 }' || true)

cat <<EOF
## moat vs nginx as a reverse proxy

$(date -u +%Y-%m-%d). Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r).
$moat_version; $nginx_version; $wrk_version. Everything on 127.0.0.1: the
upstream, both proxies and wrk share the same CPUs.

| response | proxy | requests/s | p50 ms | p99 ms | errors |
|---|---|---:|---:|---:|---:|
EOF
for file in 100.bin 64k.bin; do
    label=$([ "$file" = 100.bin ] && echo "100 B" || echo "64 KiB")
    for p in nginx moat; do
        echo "| $label | $p | ${RPS[$p/$file]} | ${P50[$p/$file]} | ${P99[$p/$file]} | ${ERRS[$p/$file]} |"
    done
    echo "| $label | **moat/nginx** | **$(ratio "${RPS[moat/$file]}" "${RPS[nginx/$file]}")** |" \
         "$(ratio "${P50[moat/$file]}" "${P50[nginx/$file]}") |" \
         "$(ratio "${P99[moat/$file]}" "${P99[nginx/$file]}") | |"
done
echo
echo "Medians of $ROUNDS alternating rounds of $DURATION each. Every round's requests/s:"
echo
for file in 100.bin 64k.bin; do
    for p in nginx moat; do
        echo "- $file $p:${ALL[$p/$file]}"
    done
done

cat <<EOF

requests/s: higher is better; latency ratios: lower is better. Errors are
non-2xx responses plus socket errors; a run with errors does not count.

Setup: the upstream is nginx ($WORKERS workers) serving two static files
(100 bytes, 64 KiB) with keep-alive. nginx proxies with worker_processes $WORKERS,
an upstream keepalive pool of 64, proxy_http_version 1.1 and
proxy_set_header Connection "", and sets the same X-Forwarded-* and
X-Request-Id headers as moat and the same security headers moat adds by
default (Content-Security-Policy, X-Frame-Options, X-Content-Type-Options,
Referrer-Policy, Permissions-Policy, COOP, CORP; \`add_header ... always\`;
the script checks both send them before measuring); moat runs with
workers = $WORKERS and upstream_keepalive = 64. Access logs are off in both.

Commands (DIR is a temporary directory, PORT the ports picked at run time):

    nginx -p DIR/up -c DIR/up/nginx.conf -e DIR/up/error.log -g 'daemon off;'
    nginx -p DIR/proxy -c DIR/proxy/nginx.conf -e DIR/proxy/error.log -g 'daemon off;'
    moat serve --config moat.toml
    wrk -t$THREADS -c$CONNS -d$WARMUP http://127.0.0.1:PORT/FILE            # warm-up, not counted
    wrk -t$THREADS -c$CONNS -d$DURATION --latency http://127.0.0.1:PORT/FILE

moat.toml:

    listen = ["127.0.0.1:PORT"]
    upstream = ["http://127.0.0.1:PORT"]
    workers = $WORKERS
    [limits]
    upstream_keepalive = 64
    drain_timeout = "2s"
    [waf]
    mode = "off"     # the WAF is compared with nginx + ModSecurity in bench/waf
    [log]
    security = ""
    access = ""
EOF
