#!/usr/bin/env bash
# bench/tls/run.sh MOAT_BINARY
#
# moat against nginx as a TLS-terminating reverse proxy that hardens
# responses: both in front of the same fast upstream (a third nginx serving
# a static file that sets a cookie), with the same certificate (ECDSA P-256
# from `moat cert selfsigned`), the same TLS profile (TLS 1.2 + 1.3, the
# cipher list of src/net/tls.c intermediate_ciphers, curves X25519:P-256:
# P-384), the same security headers and HSTS, and the same cookie flags.
#
# Measures, on 127.0.0.1:
#   - new TLS handshakes per second: `openssl s_time -new` (a full handshake
#     per connection, no resumption, no request), BENCH_HS_CLIENTS processes
#     in parallel, for TLS 1.3 and TLS 1.2; the rate is the connections all
#     clients completed divided by the wall-clock time they ran;
#   - keep-alive HTTPS requests per second: `wrk -t2 -c64 -d10s --latency`.
# Prints a Markdown report on stdout (progress on stderr). Everything is
# stopped and removed on exit.
#
# Environment (defaults in brackets):
#   BENCH_DURATION   [10]  seconds for each measured run (wrk -d, s_time -time)
#   BENCH_WARMUP     [2]   seconds of unmeasured warm-up before each one
#   BENCH_THREADS    [2]   wrk -t
#   BENCH_CONNS      [64]  wrk -c
#   BENCH_WORKERS    [2]   moat workers = nginx worker_processes
#   BENCH_HS_CLIENTS [2]   parallel `openssl s_time` processes
set -euo pipefail

MOAT=${1:?usage: bench/tls/run.sh MOAT_BINARY}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-64}
WORKERS=${BENCH_WORKERS:-2}
HS_CLIENTS=${BENCH_HS_CLIENTS:-2}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}
OPENSSL=${OPENSSL:-openssl}
DURATION=${DURATION%s}
WARMUP=${WARMUP%s}

for tool in "$NGINX" "$WRK" "$OPENSSL" curl python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (make bench installs it)" >&2; exit 1; }
done
[ -x "$MOAT" ] || { echo "not an executable: $MOAT" >&2; exit 1; }
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT") # moat runs in its own dir

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# The cipher list moat uses, read from the source so both stay the same.
CIPHERS=$(sed -n '/intermediate_ciphers\[\] =/,/;/p' "$REPO/src/net/tls.c" |
          grep -o '"[^"]*"' | tr -d '"\n')
[ -n "$CIPHERS" ] || { echo "bench: cannot read intermediate_ciphers from src/net/tls.c" >&2; exit 1; }
CURVES="X25519:prime256v1:secp384r1"

CSP="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; media-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
PERMISSIONS="accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
HSTS="max-age=63072000; includeSubDomains"

. "$(dirname "$0")/../lib.sh"
bench_init moat-bench-tls

UP_PORT=$(free_port)
NGINX_PORT=$(free_port)
MOAT_PORT=$(free_port)
MOAT_TLS_PORT=$(free_port)

mkdir -p "$DIR/up/www" "$DIR/proxy" "$DIR/moat" "$DIR/cert"
head -c 100 /dev/zero | tr '\0' 'a' > "$DIR/up/www/100.bin"
chmod -R a+rX "$DIR/up"

# ------------------------------------------------------- the certificate
"$MOAT" cert selfsigned --cert "$DIR/cert/cert.pem" --key "$DIR/cert/key.pem" \
    localhost 127.0.0.1 >/dev/null

# ---------------------------------------- the upstream: static + a cookie
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
        # what an app sends: a session cookie without flags, a banner
        add_header Set-Cookie "session=abc123; Path=/";
        add_header X-Powered-By "Flask";
    }
}
EOF
} > "$DIR/up/nginx.conf"

# ------------------------------- nginx: TLS, headers, cookie flags, proxy
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
    upstream app {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl reuseport;
        ssl_certificate $DIR/cert/cert.pem;
        ssl_certificate_key $DIR/cert/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers $CIPHERS;
        ssl_prefer_server_ciphers off;
        ssl_ecdh_curve $CURVES;
        ssl_session_cache shared:SSL:10m;
        ssl_session_timeout 1d;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header X-Forwarded-Port \$server_port;
            # response hardening, as moat does by default
            proxy_hide_header X-Powered-By;
            proxy_cookie_flags ~ httponly samesite=lax secure;
            add_header Content-Security-Policy "$CSP" always;
            add_header X-Frame-Options "DENY" always;
            add_header X-Content-Type-Options "nosniff" always;
            add_header Referrer-Policy "strict-origin-when-cross-origin" always;
            add_header Permissions-Policy "$PERMISSIONS" always;
            add_header Cross-Origin-Opener-Policy "same-origin" always;
            add_header Cross-Origin-Resource-Policy "same-origin" always;
            add_header Strict-Transport-Security "$HSTS" always;
            add_header X-Request-Id \$request_id always;
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

[tls]
listen = ["127.0.0.1:$MOAT_TLS_PORT"]
cert = ["$DIR/cert/cert.pem"]
key = ["$DIR/cert/key.pem"]
profile = "intermediate"

[limits]
upstream_keepalive = 64
drain_timeout = "2s"

# the WAF is measured by bench/waf, against nginx + ModSecurity
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
wait_ok "https://127.0.0.1:$NGINX_PORT/100.bin" 100 || { cat "$DIR/proxy/error.log" >&2; exit 1; }
(cd "$DIR/moat" && exec "$MOAT" serve --config moat.toml) \
    > "$DIR/moat/stdout.log" 2> "$DIR/moat/stderr.log" &
PIDS+=($!)
wait_ok "https://127.0.0.1:$MOAT_TLS_PORT/100.bin" 100 || { cat "$DIR/moat/stderr.log" >&2; exit 1; }

# ------------------------------------------- both do the same work: check
check_hardened() { # name port
    local h
    h=$(curl -sk -D - -o /dev/null "https://127.0.0.1:$2/100.bin" | tr -d '\r')
    echo "$h" > "$DIR/headers-$1.txt"
    for want in "content-security-policy: $CSP" "x-frame-options: DENY" \
                "x-content-type-options: nosniff" \
                "referrer-policy: strict-origin-when-cross-origin" \
                "permissions-policy: $PERMISSIONS" "cross-origin-opener-policy: same-origin" \
                "cross-origin-resource-policy: same-origin" \
                "strict-transport-security: $HSTS"; do
        grep -qiF -- "$want" <<<"$h" || { echo "bench: $1 lacks '$want':" >&2; echo "$h" >&2; exit 1; }
    done
    local cookie
    cookie=$(grep -i '^set-cookie:' <<<"$h" | tr 'A-Z' 'a-z')
    for flag in httponly secure "samesite=lax"; do
        grep -qF "$flag" <<<"$cookie" || { echo "bench: $1 cookie lacks $flag: $cookie" >&2; exit 1; }
    done
    ! grep -qi '^x-powered-by:' <<<"$h" || { echo "bench: $1 passes X-Powered-By" >&2; exit 1; }
    for v in -tls1_2 -tls1_3; do
        "$OPENSSL" s_client -connect "127.0.0.1:$2" -servername localhost "$v" </dev/null \
            >/dev/null 2>&1 || { echo "bench: $1 refuses $v" >&2; exit 1; }
    done
    if "$OPENSSL" s_client -connect "127.0.0.1:$2" -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA \
            </dev/null >/dev/null 2>&1; then
        echo "bench: $1 accepts ECDHE-ECDSA-AES128-SHA" >&2; exit 1
    fi
}
check_hardened nginx "$NGINX_PORT"
check_hardened moat "$MOAT_TLS_PORT"
log "both send the same security headers, HSTS and cookie flags, and the same TLS versions"

# ---------------------------------------------------------- measurements
now() { date +%s.%N; }

# handshakes NAME PORT VERSION_FLAG -> connections per wall-clock second
declare -A HS
handshakes() {
    local i t0 t1 total=0 n clients=()
    for i in $(seq 1 "$HS_CLIENTS"); do # warm-up
        "$OPENSSL" s_time -connect "127.0.0.1:$2" -new "$3" -time "$WARMUP" >/dev/null 2>&1 &
        clients+=($!)
    done
    wait "${clients[@]}"
    clients=()
    t0=$(now)
    for i in $(seq 1 "$HS_CLIENTS"); do
        "$OPENSSL" s_time -connect "127.0.0.1:$2" -new "$3" -time "$DURATION" \
            > "$DIR/stime-$1$3-$i.txt" 2>&1 &
        clients+=($!)
    done
    wait "${clients[@]}"
    t1=$(now)
    for i in $(seq 1 "$HS_CLIENTS"); do
        n=$(awk '/connections in .* real seconds/ { print $1; exit }' "$DIR/stime-$1$3-$i.txt")
        total=$((total + ${n:-0}))
    done
    HS[$1$3]=$(awk -v n="$total" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
    log "$1 $3: $total handshakes in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s = ${HS[$1$3]}/s"
}

to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { printf "nan" }
    }'
}

declare -A RPS P50 P99 ERRS
keepalive() { # name port
    local out url="https://127.0.0.1:$2/100.bin"
    "$WRK" -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" "$url" >/dev/null
    out=$("$WRK" -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$url")
    echo "$out" > "$DIR/wrk-$1.txt"
    RPS[$1]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    P50[$1]=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    P99[$1]=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    ERRS[$1]=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
                    /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
                    END { print n + 0 }' <<<"$out")
    log "$1 keep-alive: ${RPS[$1]} req/s, p50 ${P50[$1]} ms, p99 ${P99[$1]} ms, errors ${ERRS[$1]}"
}

for v in -tls1_3 -tls1_2; do
    handshakes nginx "$NGINX_PORT" "$v"
    handshakes moat "$MOAT_TLS_PORT" "$v"
done
keepalive nginx "$NGINX_PORT"
keepalive moat "$MOAT_TLS_PORT"

# ------------------------------------------------------------------ report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
moat_version=$("$MOAT" --version 2>&1 | head -1 || true)
nginx_version=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //' || true)
wrk_version=$("$WRK" -v 2>&1 | head -1 | awk '{ print $1, $2 }' || true)
openssl_version=$("$OPENSSL" version 2>&1 | awk '{ print $1, $2 }')

cat <<EOF
$(date -u +%Y-%m-%d). Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r).
$moat_version; $nginx_version; $openssl_version; $wrk_version. Everything on
127.0.0.1: the upstream, both proxies and the load generators share the same
CPUs.

| measurement | nginx | moat | moat/nginx |
|---|---:|---:|---:|
| new TLS 1.3 handshakes/s ($HS_CLIENTS× \`s_time -new\`) | ${HS[nginx-tls1_3]} | ${HS[moat-tls1_3]} | **$(ratio "${HS[moat-tls1_3]}" "${HS[nginx-tls1_3]}")** |
| new TLS 1.2 handshakes/s ($HS_CLIENTS× \`s_time -new\`) | ${HS[nginx-tls1_2]} | ${HS[moat-tls1_2]} | **$(ratio "${HS[moat-tls1_2]}" "${HS[nginx-tls1_2]}")** |
| keep-alive HTTPS requests/s (wrk -t$THREADS -c$CONNS) | ${RPS[nginx]} | ${RPS[moat]} | **$(ratio "${RPS[moat]}" "${RPS[nginx]}")** |
| keep-alive p50 latency, ms | ${P50[nginx]} | ${P50[moat]} | $(ratio "${P50[moat]}" "${P50[nginx]}") |
| keep-alive p99 latency, ms | ${P99[nginx]} | ${P99[moat]} | $(ratio "${P99[moat]}" "${P99[nginx]}") |
| wrk errors (non-2xx + socket) | ${ERRS[nginx]} | ${ERRS[moat]} | |

Rates: higher is better; latency ratios: lower is better. A run with wrk
errors does not count.

Setup: both terminate TLS with the same ECDSA P-256 certificate
(\`moat cert selfsigned\`), TLS 1.2 + 1.3, the TLS 1.2 suites of moat's
intermediate profile ($CIPHERS), curves $CURVES, and
proxy to the same upstream (nginx serving a 100-byte file with
\`Set-Cookie: session=abc123; Path=/\` and \`X-Powered-By\`) over a keep-alive
pool of 64. Both add CSP, X-Frame-Options, X-Content-Type-Options,
Referrer-Policy, Permissions-Policy, COOP, CORP and HSTS (nginx:
\`add_header ... always\`), harden the cookie to HttpOnly; Secure;
SameSite=Lax (nginx: \`proxy_cookie_flags ~ httponly samesite=lax secure\`),
drop X-Powered-By, set X-Forwarded-* and X-Request-Id; the script checks
this before measuring. Differences: nginx still sends \`Server: nginx\` (it
cannot drop it without the headers-more module); moat removes it. $WORKERS
workers each, access logs off.

Handshakes: each \`openssl s_time -new\` process opens a connection, does a
full handshake (no session resumption, no request), closes, and repeats
for ${DURATION} s; the rate is the handshakes all $HS_CLIENTS processes completed
divided by the wall-clock time they ran. The clients do as much crypto as
the server, on the same CPUs.

Commands (DIR is a temporary directory, PORT the ports picked at run time):

    moat cert selfsigned --cert DIR/cert/cert.pem --key DIR/cert/key.pem localhost 127.0.0.1
    nginx -p DIR/up -c DIR/up/nginx.conf -e DIR/up/error.log -g 'daemon off;'
    nginx -p DIR/proxy -c DIR/proxy/nginx.conf -e DIR/proxy/error.log -g 'daemon off;'
    moat serve --config moat.toml
    openssl s_time -connect 127.0.0.1:PORT -new -tls1_3 -time $DURATION     # x$HS_CLIENTS in parallel; also -tls1_2
    wrk -t$THREADS -c$CONNS -d${WARMUP}s https://127.0.0.1:PORT/100.bin                # warm-up, not counted
    wrk -t$THREADS -c$CONNS -d${DURATION}s --latency https://127.0.0.1:PORT/100.bin

moat.toml (the header and cookie filters are on by default):

    listen = ["127.0.0.1:PORT"]
    upstream = ["http://127.0.0.1:PORT"]
    workers = $WORKERS
    [tls]
    listen = ["127.0.0.1:PORT"]
    cert = ["DIR/cert/cert.pem"]
    key = ["DIR/cert/key.pem"]
    profile = "intermediate"
    [limits]
    upstream_keepalive = 64
    drain_timeout = "2s"
    [waf]
    mode = "off"     # the WAF is compared with nginx + ModSecurity in bench/waf
    [log]
    access = ""
EOF
