#!/usr/bin/env bash
# bench/proxy/instructions.sh MOAT_BINARY
#
# The CPU instructions moat and nginx execute in user space per proxied
# request, counted by valgrind (callgrind) rather than timed: a count does not
# move with the other jobs of a shared machine, so small changes show. Both
# proxies run with one worker in front of the same upstream (nginx serving a
# 100-byte file, not measured), configured as in run.sh (same forwarded and
# security headers, moat's WAF off). Each gets WRK_SECONDS of wrk -t1 -c16
# load. What each process executed before the load (start-up, the first
# requests) is measured in a separate run without load and subtracted.
# Kernel work (the loopback TCP path) is not counted: it is the same system
# calls for both (strace -c). Prints a Markdown table on stdout.
#
# Environment: WRK_SECONDS [10].
set -euo pipefail

MOAT=${1:?usage: bench/proxy/instructions.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
SECS=${WRK_SECONDS:-10}
NGINX=${NGINX:-/usr/sbin/nginx}
for tool in "$NGINX" wrk curl valgrind callgrind_annotate runuser; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (deps/debian-bench.txt)" >&2; exit 1; }
done

. "$(dirname "$0")/../lib.sh"
bench_init moat-instr
chmod 777 "$DIR" # moat drops to nobody; callgrind writes its file as that user

UP_PORT=$(free_port)

mkdir -p "$DIR/up/www"
head -c 100 /dev/zero | tr '\0' 'a' >"$DIR/up/www/100.bin"
chmod -R a+rX "$DIR/up"
{
    echo "worker_processes 1;"
    nginx_common "$DIR/up"
    cat <<EOF
http {
    access_log off;
$(nginx_temp_paths "$DIR/up")
    keepalive_requests 1000000;
    default_type application/octet-stream;
    server { listen 127.0.0.1:$UP_PORT; root $DIR/up/www; }
}
EOF
} >"$DIR/up/nginx.conf"
"$NGINX" -p "$DIR/up" -c "$DIR/up/nginx.conf" -e "$DIR/up/error.log" -g 'daemon off;' &
PIDS+=($!)
wait_ok "http://127.0.0.1:$UP_PORT/100.bin" 100

nginx_conf() { # DIR PORT
    cat <<EOF
worker_processes 1;
master_process off;
$(nginx_common "$1")
http {
    access_log off;
$(nginx_temp_paths "$1")
    keepalive_requests 1000000;
    upstream app { server 127.0.0.1:$UP_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$2;
        location / {
$(nginx_moat_location)
        }
    }
}
EOF
}

moat_conf() { # PORT
    cat <<EOF
listen = ["127.0.0.1:$1"]
upstream = ["http://127.0.0.1:$UP_PORT"]
workers = 1
[limits]
upstream_keepalive = 64
[waf]
mode = "off"
[log]
access = ""
security = ""
EOF
}

# count NAME LOAD(0|1): runs NAME under callgrind, optionally under load;
# prints "instructions requests".
count() {
    local name=$1 load=$2 port w pid n=0 ir
    port=$(free_port)
    w="$DIR/$name-$load"
    mkdir -p "$w"
    chmod 777 "$w"
    if [ "$name" = nginx ]; then
        nginx_conf "$w" "$port" >"$w/nginx.conf"
        valgrind --tool=callgrind --callgrind-out-file="$w/cg.out" \
            "$NGINX" -p "$w" -c "$w/nginx.conf" -e "$w/error.log" -g 'daemon off;' 2>"$w/vg.log" &
    else
        moat_conf "$port" >"$w/moat.toml"
        (cd "$w" && exec runuser -u nobody -- valgrind --tool=callgrind \
            --callgrind-out-file="$w/cg.out" "$MOAT" serve --config moat.toml) 2>"$w/vg.log" &
    fi
    pid=$!
    wait_ok "http://127.0.0.1:$port/100.bin" 100 || { tail "$w/vg.log" >&2; exit 1; }
    if [ "$load" = 1 ]; then
        n=$(wrk -t1 -c16 -d"${SECS}s" "http://127.0.0.1:$port/100.bin" | awk '/requests in/ { print $1 }')
    fi
    if [ "$name" = nginx ]; then kill -QUIT "$pid"; else kill -TERM "$pid"; fi
    wait "$pid" || true
    ir=$(callgrind_annotate "$w/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
    cp "$w/cg.out" /tmp/parse_cg_${name}_${load}.out; chmod a+r /tmp/parse_cg_${name}_${load}.out; echo "$ir $n"
}

log "counting (valgrind slows both about 50 times; about a minute)"
read -r moat_base _ < <(count moat 0)
read -r moat_ir moat_n < <(count moat 1)
read -r nginx_base _ < <(count nginx 0)
read -r nginx_ir nginx_n < <(count nginx 1)
moat_per=$(((moat_ir - moat_base) / moat_n))
nginx_per=$(((nginx_ir - nginx_base) / nginx_n))

cat <<MD
## User-space instructions per proxied request (bench/proxy/instructions.sh)

$(date -u +%Y-%m-%d). moat $("$MOAT" --version | cut -d' ' -f2); $("$NGINX" -v 2>&1 | cut -d' ' -f3);
$(valgrind --version). One worker each, 100-byte responses, wrk -t1 -c16 for
${SECS} s under callgrind; start-up counted in a run without load and subtracted.

| proxy | requests | instructions (load - start-up) | per request |
|---|---:|---:|---:|
| nginx | $nginx_n | $((nginx_ir - nginx_base)) | $nginx_per |
| moat | $moat_n | $((moat_ir - moat_base)) | $moat_per |
| **moat/nginx** | | | **$(awk "BEGIN { printf \"%.2f\", $moat_per / $nginx_per }")** |
MD
