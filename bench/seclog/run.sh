#!/usr/bin/env bash
# bench/seclog/run.sh MOAT_BINARY [SECLOG_WRITE]
#
# The cost of the security event log. Two measurements, printed as a
# Markdown report on stdout (progress on stderr):
#
# 1. events/s the writer sustains with the chain, for each flush policy
#    ("write", "fsync"), unsealed (SHA-256 chain) and sealed (HMAC chain
#    with the key evolving every seal_entries), from 1 and 4 recording
#    threads. tests/tools/seclog_write records events through the real
#    module and waits for them to be written (moat_seclog_flush every 4096,
#    so the figure is the writer's throughput, not the queue dropping).
# 2. the gateway's requests/s with the security log off and on (sealed, to
#    a file), for requests it lets through (no event) and requests it
#    refuses (a Host outside `hosts`: 421, one host.denied event each),
#    measured with wrk against an nginx upstream, all on 127.0.0.1.
#
# Environment: BENCH_EVENTS [200000], BENCH_DURATION [10s], BENCH_CONNS [64],
# BENCH_THREADS [2], BENCH_WORKERS [2], NGINX, WRK. Needs nginx, wrk, curl,
# python3 (free ports). Everything runs in a temporary folder, removed on exit.
set -euo pipefail

MOAT=${1:?usage: bench/seclog/run.sh MOAT_BINARY [SECLOG_WRITE]}
WRITER=${2:-$(dirname "$MOAT")/../tests/tools/seclog_write}
EVENTS=${BENCH_EVENTS:-200000}
SINGLE=${BENCH_SINGLE:-5000}
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNS:-64}
THREADS=${BENCH_THREADS:-2}
WORKERS=${BENCH_WORKERS:-2}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}

[ -x "$MOAT" ] || { echo "not an executable: $MOAT" >&2; exit 1; }
[ -x "$WRITER" ] || { echo "not an executable: $WRITER (build the tests)" >&2; exit 1; }
MOAT=$(realpath "$MOAT")
WRITER=$(realpath "$WRITER")

. "$(dirname "$0")/../lib.sh"
bench_init moat-bench-seclog

# ------------------------------------------------------- 1. events/s
declare -A EPS
events_run() { # name flush sealed threads [batch] [count]
    local d="$DIR/ev-$1"
    mkdir -p "$d"
    {
        echo "[log]"
        echo "security = \"$d/sec.log\""
        echo "flush = \"$2\""
        echo "rotate_bytes = 0"
        [ "$3" = sealed ] && echo "seal_key = \"$d/seal.key\""
    } > "$d/moat.toml"
    [ "$3" = sealed ] && "$MOAT" log init --config "$d/moat.toml" > /dev/null
    local out
    out=$("$WRITER" "$d/moat.toml" --count "${6:-$EVENTS}" --threads "$4" --batch "${5:-4096}" \
        --bench 2>/dev/null)
    EPS[$1]=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "events/s") print $(i - 1) }' <<<"$out")
    log "events $1: ${EPS[$1]} events/s ($(wc -l < "$d/sec.log") lines, $(du -h "$d/sec.log" | cut -f1))"
    rm -f "$d/sec.log"
}

for flush in write fsync; do
    for mode in unsealed sealed; do
        for t in 1 4; do
            events_run "$flush-$mode-$t" "$flush" "$mode" "$t"
        done
        # one event at a time: each its own write (and fsync), the worst case
        events_run "$flush-$mode-single" "$flush" "$mode" 1 1 "$SINGLE"
    done
done

# ------------------------------------------ 2. the gateway, log off / on
wait_status() { # URL STATUS [HOST]
    local got
    for _ in $(seq 1 200); do
        got=$(curl -s -o /dev/null -w '%{http_code}' ${3:+-H "Host: $3"} "$1" 2>/dev/null || true)
        [ "$got" = "$2" ] && return 0
        sleep 0.1
    done
    echo "bench: $1 did not answer $2 (last: '$got')" >&2
    return 1
}

declare -A RPS
GW=skipped
if command -v "$NGINX" >/dev/null && command -v "$WRK" >/dev/null; then
    GW=done
    UP_PORT=$(free_port)
    mkdir -p "$DIR/up/www"
    head -c 100 /dev/zero | tr '\0' 'a' > "$DIR/up/www/100.bin"
    cat > "$DIR/up/nginx.conf" <<EOF
worker_processes 1;
pid $DIR/up/nginx.pid;
error_log $DIR/up/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $DIR/up/cb; proxy_temp_path $DIR/up/pt;
    fastcgi_temp_path $DIR/up/ft; uwsgi_temp_path $DIR/up/ut; scgi_temp_path $DIR/up/st;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$UP_PORT; root $DIR/up/www; }
}
EOF
    "$NGINX" -p "$DIR/up" -c "$DIR/up/nginx.conf" -e "$DIR/up/error.log" -g 'daemon off;' &
    PIDS+=($!)
    wait_status "http://127.0.0.1:$UP_PORT/100.bin" 200

    gateway_run() { # name security(on|off)
        local d="$DIR/gw-$1" port pid
        port=$(free_port)
        mkdir -p "$d"
        cat > "$d/moat.toml" <<EOF
listen = ["127.0.0.1:$port"]
upstream = ["http://127.0.0.1:$UP_PORT"]
hosts = ["127.0.0.1"]
workers = $WORKERS

[limits]
upstream_keepalive = 64
drain_timeout = "2s"

# the WAF is measured by bench/waf, against nginx + ModSecurity
[waf]
mode = "off"

[log]
access = ""
EOF
        if [ "$2" = on ]; then
            printf 'security = "%s"\nseal_key = "%s"\n' "$d/sec.log" "$d/seal.key" >> "$d/moat.toml"
            "$MOAT" log init --config "$d/moat.toml" > /dev/null
        else
            echo 'security = ""' >> "$d/moat.toml"
        fi
        (cd "$d" && exec "$MOAT" serve --config moat.toml) 2> "$d/stderr.log" &
        pid=$!
        PIDS+=($pid)
        wait_status "http://127.0.0.1:$port/100.bin" 200 || { cat "$d/stderr.log" >&2; exit 1; }
        for kind in pass refuse; do
            local hdr=()
            [ "$kind" = refuse ] && hdr=(-H "Host: evil.example")
            "$WRK" -t"$THREADS" -c"$CONNS" -d2s "${hdr[@]}" "http://127.0.0.1:$port/100.bin" >/dev/null
            local out
            out=$("$WRK" -t"$THREADS" -c"$CONNS" -d"$DURATION" "${hdr[@]}" "http://127.0.0.1:$port/100.bin")
            RPS[$1/$kind]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
            log "gateway log $1, $kind: ${RPS[$1/$kind]} req/s"
        done
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null || true
        if [ "$2" = on ]; then
            EVENTS_LOGGED=$(grep -c "\"event\":\"host.denied\"" "$d/sec.log" 2>/dev/null || true)
            EVENTS_LOGGED=${EVENTS_LOGGED:-0}
            log "gateway log on: $EVENTS_LOGGED host.denied events in the log"
        fi
    }
    EVENTS_LOGGED=0
    gateway_run off off
    gateway_run on on
fi

# ------------------------------------------------------------------ report
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
fs=$(df -T "$DIR" | awk 'NR == 2 { print $2 }')
cat <<EOF
## Security log

$(date -u +%Y-%m-%d). Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r),
temporary folder on $fs. $("$MOAT" --version). \`bench/seclog/run.sh\`.

Events/s written with the chain ($EVENTS events of ~330 bytes, one line
each, $SINGLE for the one-per-batch rows; seal_entries = 10000, so the
sealed runs also rewrite the key file with two fsyncs every 10000 entries).
The writer takes whatever is queued as one batch (one write, one fsync):
under load batches grow and "fsync" costs little; one event per batch is
an idle gateway's case, where each event waits for its own fsync:

| flush | chain | recording threads, batching | events/s |
|---|---|---:|---:|
EOF
for flush in write fsync; do
    for mode in unsealed sealed; do
        chain=$([ "$mode" = sealed ] && echo "HMAC-SHA256, sealed" || echo "SHA-256, unsealed")
        for t in 1 4; do
            echo "| $flush | $chain | $t, batches of up to 4096 | ${EPS[$flush-$mode-$t]} |"
        done
        echo "| $flush | $chain | 1, one event per batch | ${EPS[$flush-$mode-single]} |"
    done
done
if [ "$GW" = done ]; then
    cat <<EOF

The gateway with the security log off and on (sealed, flush = "write", to a
file), wrk -t$THREADS -c$CONNS -d$DURATION, $WORKERS workers, 100-byte
responses from nginx:

| requests | security log off | security log on | on/off |
|---|---:|---:|---:|
| passed to the app (no event) | ${RPS[off/pass]} | ${RPS[on/pass]} | $(awk -v a="${RPS[on/pass]}" -v b="${RPS[off/pass]}" 'BEGIN { printf "%.2f", a / b }') |
| refused, 421 (one event each) | ${RPS[off/refuse]} | ${RPS[on/refuse]} | $(awk -v a="${RPS[on/refuse]}" -v b="${RPS[off/refuse]}" 'BEGIN { printf "%.2f", a / b }') |

host.denied events in the log after the "on" run: $EVENTS_LOGGED.
EOF
fi
