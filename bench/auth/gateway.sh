#!/usr/bin/env bash
# bench/auth/gateway.sh MOAT_BINARY
#
# Authentication at the gateway: requests/s through moat on a route that needs
# a session (authenticated; the session is looked up in the SQLite store on
# the thread pool) against a public route without a cookie (no lookup), with
# the same upstream (nginx answering 200) and wrk on loopback; then logins/s
# through POST /.moat/api/login at moat's default Argon2id parameters (each
# login hashes once and writes a session). Prints a Markdown table on stdout
# (progress on stderr). Everything listens on 127.0.0.1. Run as root, moat
# serves as nobody:nogroup like in production.
#
# Environment: BENCH_DURATION [10s], BENCH_WARMUP [2s], BENCH_THREADS [2],
# BENCH_CONNS [64], BENCH_LOGIN_CONNS [8], BENCH_WORKERS [2].
set -euo pipefail

MOAT=${1:?usage: bench/auth/gateway.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-64}
LOGIN_CONNS=${BENCH_LOGIN_CONNS:-8}
WORKERS=${BENCH_WORKERS:-2}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}
PW="correct horse battery staple"

for tool in "$NGINX" "$WRK" curl python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
. "$HERE/../lib.sh"
bench_init moat-bench-auth
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
cat > "$DIR/moat.toml" <<EOF2
listen = ["127.0.0.1:$MOAT_PORT"]
upstream = ["http://127.0.0.1:$UP_PORT"]
workers = $WORKERS

[limits]
upstream_keepalive = 64
drain_timeout = "2s"

[log]
access = ""
security = ""

[waf]
mode = "off"

[store]
url = "sqlite:$DIR/moat.db"

[auth]
address_failures = 100000

[[auth.rules]]
path = "/public"
policy = "public"

[[auth.rules]]
path = "/"
policy = "authenticated"
EOF2
echo "$PW" | "$MOAT" user add bench --create --config "$DIR/moat.toml" >/dev/null
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$DIR/moat.db"

log "starting the upstream and moat"
"$NGINX" -p "$DIR/up" -c "$DIR/up/nginx.conf" -e "$DIR/up/error.log" -g 'daemon off;' &
PIDS+=($!)
wait_ok "http://127.0.0.1:$UP_PORT/x" 3
(cd "$DIR" && exec "$MOAT" serve --config moat.toml) 2> "$DIR/moat.log" &
PIDS+=($!)
wait_ok "http://127.0.0.1:$MOAT_PORT/public" 3 || { cat "$DIR/moat.log" >&2; exit 1; }

LOGIN_BODY="{\"username\":\"bench\",\"password\":\"$PW\"}"
COOKIE=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d "$LOGIN_BODY" \
    "http://127.0.0.1:$MOAT_PORT/.moat/api/login" | sed -n 's/^Set-Cookie: \(moat_session=[^;]*\).*/\1/p')
[ -n "$COOKIE" ] || { echo "bench: login failed" >&2; curl -s -i -H "Content-Type: application/json" -d "$LOGIN_BODY" "http://127.0.0.1:$MOAT_PORT/.moat/api/login" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "http://127.0.0.1:$MOAT_PORT/private")" = 200 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MOAT_PORT/private")" = 302 ]

rate() { # wrk output -> requests/s
    sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'
}
run() { # $1 = path, $2 = Cookie header value ("" = none)
    local path=$1 cookie=(-H "X-Bench: 1")
    [ -n "$2" ] && cookie=(-H "Cookie: $2")
    "$WRK" -t"$THREADS" -c"$CONNS" -d"$WARMUP" "${cookie[@]}" \
        "http://127.0.0.1:$MOAT_PORT$path" >/dev/null
    "$WRK" -t"$THREADS" -c"$CONNS" -d"$DURATION" "${cookie[@]}" \
        "http://127.0.0.1:$MOAT_PORT$path" | rate
}
# The public route without a cookie: no store lookup at all (a public
# route with a session cookie is looked up too, to send the identity).
log "public route, no cookie"
PUBLIC=$(run /public "")
log "public route, same session cookie"
PUBLIC_C=$(run /public "$COOKIE")
log "authenticated route"
AUTHED=$(run /private "$COOKIE")
log "public route, no cookie, again"
PUBLIC2=$(run /public "")

cat > "$DIR/login.lua" <<EOF2
wrk.method = "POST"
wrk.body = '$LOGIN_BODY'
wrk.headers["Content-Type"] = "application/json"
EOF2
log "logins"
"$WRK" -t"$THREADS" -c"$LOGIN_CONNS" -d"$DURATION" -s "$DIR/login.lua" \
    "http://127.0.0.1:$MOAT_PORT/.moat/api/login" > "$DIR/login.out"
LOGINS=$(rate < "$DIR/login.out")
NON2XX=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$DIR/login.out")

python3 - "$PUBLIC" "$PUBLIC2" "$AUTHED" "$LOGINS" "${NON2XX:-0}" "$PUBLIC_C" <<'EOF2'
import sys
pub1, pub2, authed, logins = (float(x) for x in sys.argv[1:5])
bad = int(sys.argv[5])
pub_c = float(sys.argv[6])
pub = (pub1 + pub2) / 2
print("| route | requests/s |")
print("|---|---:|")
print("| public, no cookie (mean of the runs before and after) | %.0f |" % pub)
print("| public, with the session cookie (identity sent) | %.0f |" % pub_c)
print("| authenticated (session checked) | %.0f |" % authed)
print("| ratio authenticated / public with the same cookie | %.2f |" % (authed / pub_c))
print("| ratio authenticated / public without a cookie | %.2f |" % (authed / pub))
print("| logins (POST /.moat/api/login, default Argon2id) | %.1f |" % logins)
if bad:
    print("\n%d login answers were not 2xx" % bad)
EOF2
