#!/usr/bin/env bash
# bench/store/run.sh MOAT_BINARY
#
# The store's two shapes under the same load (issue 15): two moat instances
# sharing users in PostgreSQL 15 and state in Redis, and two instances
# sharing one SQLite file, each pair driven by two wrk at once (one per
# instance). Routes: a public route without a cookie (no store call), and an
# authenticated route with one user's session cookie through each shape.
# The upstream is nginx answering 200. While the Redis pair is loaded the
# script reads redis-server's CPU time (/proc) and INFO stats (commands
# processed) to say what one Redis serves. Prints a Markdown table on
# stdout (progress on stderr).
#
# redis-server and PostgreSQL are started here in the work folder, on
# 127.0.0.1 only, with their default durability (PostgreSQL: fsync on,
# synchronous_commit on; Redis: its default RDB snapshots, no AOF). Run as
# root: PostgreSQL and moat run as nobody:nogroup.
#
# Environment: BENCH_DURATION [10s], BENCH_WARMUP [2s], BENCH_CONNS [32 per
# instance], BENCH_WORKERS [1 per instance], PG_BIN
# [/usr/lib/postgresql/15/bin].
set -euo pipefail

MOAT=${1:?usage: bench/store/run.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
CONNS=${BENCH_CONNS:-32}
WORKERS=${BENCH_WORKERS:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
REDIS=${REDIS:-redis-server}
PW="correct horse battery staple"

for tool in "$NGINX" "$WRK" "$REDIS" redis-cli curl python3 "$PG_BIN/postgres" "$PG_BIN/initdb"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
. "$HERE/../lib.sh"
bench_init moat-bench-store
AS=()
if [ "$(id -u)" = 0 ]; then
    chown nobody:nogroup "$DIR"
    AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi

UP_PORT=$(free_port)
REDIS_PORT=$(free_port)
PG_PORT=$(free_port)
A_PORT=$(free_port)
B_PORT=$(free_port)
C_PORT=$(free_port)
D_PORT=$(free_port)

log "starting nginx (upstream), redis-server and PostgreSQL"
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
"$NGINX" -p "$DIR/up" -c "$DIR/up/nginx.conf" -e "$DIR/up/error.log" -g 'daemon off;' &
PIDS+=($!)

mkdir -p "$DIR/redis"
"$REDIS" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR/redis" \
    --logfile "$DIR/redis/redis.log" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")

PGPW="pw-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
mkdir -p "$DIR/pg/sock"
[ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$DIR/pg"
echo "$PGPW" > "$DIR/pg/pw"
(cd "$DIR/pg" && "${AS[@]}" "$PG_BIN/initdb" -D "$DIR/pg/data" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$DIR/pg/initdb.log" 2>&1) ||
    { cat "$DIR/pg/initdb.log" >&2; exit 1; }
printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$DIR/pg/data/pg_hba.conf"
# Defaults (fsync, synchronous_commit, full_page_writes on) except where
# it listens.
(cd "$DIR/pg" && exec "${AS[@]}" "$PG_BIN/postgres" -D "$DIR/pg/data" -p "$PG_PORT" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories="$DIR/pg/sock" \
    -c log_min_messages=warning) >"$DIR/pg/postgres.log" 2>&1 &
PIDS+=($!)
psql_() { psql -h "$DIR/pg/sock" -p "$PG_PORT" -U postgres -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
for _ in $(seq 1 300); do psql_ "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
psql_ "CREATE ROLE moat LOGIN PASSWORD '$PGPW'"
psql_ "CREATE DATABASE moat OWNER moat"
for _ in $(seq 1 150); do [ "$(redis-cli -p "$REDIS_PORT" PING 2>/dev/null)" = PONG ] && break; sleep 0.1; done
wait_ok "http://127.0.0.1:$UP_PORT/x" 3

PG_URL="postgresql://moat:$PGPW@127.0.0.1:$PG_PORT/moat"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
"$MOAT" store migrate "$PG_URL" >/dev/null

conf() { # $1 = port, $2 = [store] lines
    cat <<EOF2
listen = ["127.0.0.1:$1"]
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
$2

[auth]
address_failures = 100000
# Only the logins of the cache-miss phase hash (thousands of them): the
# smallest Argon2id keeps that set-up short; no request measured hashes.
argon2_memory = "1MiB"
argon2_time = 1

[[auth.rules]]
path = "/public"
policy = "public"

[[auth.rules]]
path = "/"
policy = "authenticated"
EOF2
}
RP="users = \"$PG_URL\"
state = \"$REDIS_URL\""
SQ="url = \"sqlite:$DIR/moat.db\""
conf "$A_PORT" "$RP" > "$DIR/a.toml"
conf "$B_PORT" "$RP" > "$DIR/b.toml"
conf "$C_PORT" "$SQ" > "$DIR/c.toml"
conf "$D_PORT" "$SQ" > "$DIR/d.toml"
chmod 644 "$DIR"/*.toml
echo "$PW" | "$MOAT" user add bench --create --config "$DIR/a.toml" >/dev/null
echo "$PW" | "$MOAT" user add bench --create --config "$DIR/c.toml" >/dev/null
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$DIR"/moat.db*

log "starting four moat instances (two on Redis+PostgreSQL, two on one SQLite file)"
for x in a b c d; do
    (cd "$DIR" && exec "$MOAT" serve --config "$x.toml") 2> "$DIR/moat-$x.log" &
    PIDS+=($!)
done
for p in "$A_PORT" "$B_PORT" "$C_PORT" "$D_PORT"; do
    wait_ok "http://127.0.0.1:$p/public" 3 || { cat "$DIR"/moat-*.log >&2; exit 1; }
done

LOGIN_BODY="{\"username\":\"bench\",\"password\":\"$PW\"}"
login() { # $1 = port -> the session cookie
    curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d "$LOGIN_BODY" \
        "http://127.0.0.1:$1/.moat/api/login" | sed -n 's/^Set-Cookie: \(moat_session=[^;]*\).*/\1/p'
}
RCOOKIE=$(login "$A_PORT")
SCOOKIE=$(login "$C_PORT")
[ -n "$RCOOKIE" ] && [ -n "$SCOOKIE" ] || { echo "bench: login failed" >&2; exit 1; }
code() { curl -s -o /dev/null -w '%{http_code}' "${@:2}" "http://127.0.0.1:$1/private"; }
# a session made on one instance works on its pair, and not without a cookie
[ "$(code "$B_PORT" -H "Cookie: $RCOOKIE")" = 200 ]
[ "$(code "$D_PORT" -H "Cookie: $SCOOKIE")" = 200 ]
[ "$(code "$A_PORT")" = 302 ]

rate() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
commands() { redis-cli -p "$REDIS_PORT" INFO stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'; }
# pair PORT1 PORT2 PATH COOKIE -> total requests/s of both wrk (run at once)
pair() {
    local h=(-H "X-Bench: 1")
    [ -n "$4" ] && h=(-H "Cookie: $4")
    "$WRK" -t1 -c"$CONNS" -d"$WARMUP" "${h[@]}" "http://127.0.0.1:$1$3" >/dev/null &
    "$WRK" -t1 -c"$CONNS" -d"$WARMUP" "${h[@]}" "http://127.0.0.1:$2$3" >/dev/null
    wait
    "$WRK" -t1 -c"$CONNS" -d"$DURATION" "${h[@]}" "http://127.0.0.1:$1$3" > "$DIR/w1.out" &
    "$WRK" -t1 -c"$CONNS" -d"$DURATION" "${h[@]}" "http://127.0.0.1:$2$3" > "$DIR/w2.out"
    wait
    for f in "$DIR/w1.out" "$DIR/w2.out"; do
        if grep -q 'Non-2xx' "$f"; then echo "bench: non-2xx answers on $3" >&2; cat "$f" >&2; exit 1; fi
    done
    python3 -c 'import sys; print(sum(float(x) for x in sys.argv[1:]))' \
        "$(rate < "$DIR/w1.out")" "$(rate < "$DIR/w2.out")"
}
HZ=$(getconf CLK_TCK)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "public route, no cookie (Redis+PostgreSQL pair)"
PUB1=$(pair "$A_PORT" "$B_PORT" /public "")
log "authenticated route, Redis+PostgreSQL pair"
C0=$(commands); T0=$(cpu_ticks "$REDIS_PID"); S0=$(date +%s.%N)
REDIS_AUTH=$(pair "$A_PORT" "$B_PORT" /private "$RCOOKIE")
C1=$(commands); T1=$(cpu_ticks "$REDIS_PID"); S1=$(date +%s.%N)
log "authenticated route, SQLite pair"
SQL_AUTH=$(pair "$C_PORT" "$D_PORT" /private "$SCOOKIE")
log "public route, no cookie, again"
PUB2=$(pair "$A_PORT" "$B_PORT" /public "")
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# Each instance answers a session it read in the last 15 s from its own
# cache (emptied by any change published on Redis), so the runs above
# barely reach Redis. The worst case for Redis is every request missing
# that cache: MISS_SESSIONS sessions (more than the 1,024 slots of an
# instance's cache), each request the next one's cookie.
MISS_SESSIONS=${BENCH_MISS_SESSIONS:-3000}
log "logging in $MISS_SESSIONS sessions for the cache-miss run"
python3 - "$A_PORT" "$B_PORT" "$MISS_SESSIONS" "$LOGIN_BODY" > "$DIR/cookies.txt" <<'EOF2'
import http.client, sys
ports, n, body = sys.argv[1:3], int(sys.argv[3]), sys.argv[4]
conns = [http.client.HTTPConnection("127.0.0.1", int(p), timeout=30) for p in ports]
for i in range(n):
    c = conns[i % 2]
    c.request("POST", "/.moat/api/login", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    ck = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and v.startswith("moat_session=")]
    if r.status != 200 or not ck:
        sys.exit("login %d: %d" % (i, r.status))
    print(ck[0])
EOF2
cat > "$DIR/miss.lua" <<EOF2
local cookies = {}
for line in io.lines("$DIR/cookies.txt") do cookies[#cookies + 1] = line end
local i = math.random(#cookies)
request = function()
    i = i % #cookies + 1
    return wrk.format(nil, nil, {["Cookie"] = cookies[i]})
end
EOF2
log "authenticated route, Redis+PostgreSQL pair, every request a cache miss"
missrun() {
    "$WRK" -t1 -c"$CONNS" -d"$1" -s "$DIR/miss.lua" "http://127.0.0.1:$A_PORT/private" > "$DIR/m1.out" &
    local first=$!
    "$WRK" -t1 -c"$CONNS" -d"$1" -s "$DIR/miss.lua" "http://127.0.0.1:$B_PORT/private" > "$DIR/m2.out"
    wait "$first" # not a bare wait: the servers are this shell's jobs too
}
missrun "$WARMUP"
M0=$(commands); U0=$(cpu_ticks "$REDIS_PID"); N0=$(date +%s.%N)
missrun "$DURATION"
M1=$(commands); U1=$(cpu_ticks "$REDIS_PID"); N1=$(date +%s.%N)
for f in "$DIR/m1.out" "$DIR/m2.out"; do
    if grep -q 'Non-2xx' "$f"; then echo "bench: non-2xx answers in the miss run" >&2; cat "$f" >&2; exit 1; fi
done
MISS=$(python3 -c 'import sys; print(sum(float(x) for x in sys.argv[1:]))' \
    "$(rate < "$DIR/m1.out")" "$(rate < "$DIR/m2.out")")

python3 - "$PUB1" "$PUB2" "$REDIS_AUTH" "$SQL_AUTH" "$C0" "$C1" "$T0" "$T1" "$S0" "$S1" "$HZ" \
    "$LOAD0" "$LOAD1" "$MISS" "$M0" "$M1" "$U0" "$U1" "$N0" "$N1" <<'EOF2'
import sys
a = sys.argv[1:]
miss = float(a[13])
m0, m1, u0, u1 = (int(x) for x in a[14:18])
n0, n1 = float(a[18]), float(a[19])
pub1, pub2, rauth, sauth = (float(x) for x in a[0:4])
c0, c1, t0, t1 = (int(x) for x in a[4:8])
s0, s1, hz = float(a[8]), float(a[9]), int(a[10])
pub = (pub1 + pub2) / 2
secs = s1 - s0  # warm-up included in both counts
cmds = (c1 - c0) / secs
cpu = (t1 - t0) / hz / secs
print("| route (two instances, both loaded at once) | requests/s |")
print("|---|---:|")
print("| public, no cookie (mean of the runs before and after) | %.0f |" % pub)
print("| authenticated, Redis + PostgreSQL | %.0f |" % rauth)
print("| authenticated, one SQLite file | %.0f |" % sauth)
print("| ratio authenticated Redis+PostgreSQL / public | %.2f |" % (rauth / pub))
print("| ratio authenticated SQLite / public | %.2f |" % (sauth / pub))
print()
print("| redis-server during the authenticated Redis run | |")
print("|---|---:|")
print("| commands/s (INFO stats total_commands_processed) | %.0f |" % cmds)
print("| commands per authenticated request | %.3f |" % (cmds / rauth if rauth else 0))
print("| CPU (fraction of one core) | %.3f |" % cpu)
print()
mcmds = (m1 - m0) / (n1 - n0)
mcpu = (u1 - u0) / hz / (n1 - n0)
print("| every request a cache miss | |")
print("|---|---:|")
print("| authenticated requests/s, both instances | %.0f |" % miss)
print("| ratio to public | %.2f |" % (miss / pub))
print("| redis-server commands/s | %.0f |" % mcmds)
print("| commands per request | %.2f |" % (mcmds / miss if miss else 0))
print("| redis-server CPU (fraction of one core) | %.3f |" % mcpu)
if mcpu > 0:
    print("| requests/s per core of redis-server at this cost (misses / CPU) | %.0f |" % (miss / mcpu))
print()
print("load average before: %s, after: %s" % (a[11], a[12]))
EOF2
