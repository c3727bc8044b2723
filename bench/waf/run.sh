#!/usr/bin/env bash
# bench/waf/run.sh MOAT_BINARY
#
# The WAF's cost: moat with the WAF on (the defaults: OWASP CRS at paranoia 1
# and moat's Python rules), moat with it off, nginx with
# libnginx-mod-http-modsecurity loading the same CRS files with the same
# settings and the same Python rules, and plain nginx, all in front of the
# same upstream (nginx answering 200 to anything) with the same request mix
# (bench/waf/mix.lua: 8 ordinary requests and 2 attacks in every 10),
# measured with wrk on loopback in one run. Prints a Markdown report on
# stdout (progress on stderr). Everything listens on 127.0.0.1.
#
# Environment (defaults in brackets):
#   BENCH_DURATION [10s]  wrk -d for each measured run
#   BENCH_WARMUP   [2s]   wrk -d for the unmeasured run before each one
#   BENCH_THREADS  [2]    wrk -t
#   BENCH_CONNS    [64]   wrk -c
#   BENCH_WORKERS  [2]    moat workers = nginx worker_processes
#   CRS            [/usr/share/modsecurity-crs/rules]
set -euo pipefail

MOAT=${1:?usage: bench/waf/run.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-64}
WORKERS=${BENCH_WORKERS:-2}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}
CRS=${CRS:-/usr/share/modsecurity-crs/rules}
MODSEC_MODULE=${MODSEC_MODULE:-/usr/lib/nginx/modules/ngx_http_modsecurity_module.so}

for tool in "$NGINX" "$WRK" curl python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (make bench installs it)" >&2; exit 1; }
done
[ -x "$MOAT" ] || { echo "not an executable: $MOAT" >&2; exit 1; }
[ -f "$MODSEC_MODULE" ] || { echo "missing: $MODSEC_MODULE (libnginx-mod-http-modsecurity)" >&2; exit 1; }
[ -f "$CRS/REQUEST-901-INITIALIZATION.conf" ] || { echo "missing: the CRS in $CRS" >&2; exit 1; }

. "$HERE/../lib.sh"
bench_init moat-bench-waf

UP_PORT=$(free_port)
NGX_PORT=$(free_port)
NGXSEC_PORT=$(free_port)
MOAT_PORT=$(free_port)
MOAT_OFF_PORT=$(free_port)
mkdir -p "$DIR/up" "$DIR/ngx" "$DIR/ngxsec" "$DIR/moat" "$DIR/moat-off"

nginx_common() { # $1 = prefix dir
    cat <<EOF2
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
EOF2
}
nginx_temp_paths() { # $1 = prefix dir
    cat <<EOF2
    client_body_temp_path $1/client_body;
    proxy_temp_path $1/proxy_temp;
    fastcgi_temp_path $1/fastcgi_temp;
    uwsgi_temp_path $1/uwsgi_temp;
    scgi_temp_path $1/scgi_temp;
EOF2
}

# ------------------------------------------------------------ the upstream
{
    echo "worker_processes $WORKERS;"
    nginx_common "$DIR/up"
    cat <<EOF2
http {
    access_log off;
$(nginx_temp_paths "$DIR/up")
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_buffer_size 64k;
    server {
        listen 127.0.0.1:$UP_PORT;
        location / { return 200 "ok\n"; }
    }
}
EOF2
} > "$DIR/up/nginx.conf"

# ------------------------------------------- the ModSecurity rules for nginx
# What moat generates from its defaults (src/waf/waf.c), written out: the
# same engine settings, CRS setup variables, CRS files, rule removals and
# Python rules, so both run the same rules.
cat > "$DIR/ngxsec/modsec.conf" <<EOF2
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 1048576
SecRequestBodyNoFilesLimit 1048576
SecRequestBodyLimitAction Reject
SecArgumentsLimit 1000
SecResponseBodyAccess Off
SecAuditEngine Off
SecDefaultAction "phase:1,log,auditlog,pass"
SecDefaultAction "phase:2,log,auditlog,pass"
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/(?:[a-z0-9.+-]*\+)?json\b" "id:1900001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" "id:1900002,phase:2,t:none,log,deny,status:400,msg:'Request body does not parse'"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:1900003,phase:2,t:none,log,deny,status:400,msg:'Multipart strict'"
SecRule MULTIPART_UNMATCHED_BOUNDARY "@eq 1" "id:1900004,phase:2,t:none,log,deny,status:400,msg:'Multipart boundary'"
SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.paranoia_level=1"
SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=5,setvar:tx.outbound_anomaly_score_threshold=4"
SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'"
SecAction "id:900990,phase:1,pass,t:none,nolog,setvar:tx.crs_setup_version=334"
Include $CRS/REQUEST-901-INITIALIZATION.conf
Include $REPO/rules/python.conf
EOF2
for f in 905-COMMON-EXCEPTIONS 910-IP-REPUTATION 911-METHOD-ENFORCEMENT 912-DOS-PROTECTION \
         913-SCANNER-DETECTION 920-PROTOCOL-ENFORCEMENT 921-PROTOCOL-ATTACK \
         922-MULTIPART-ATTACK 930-APPLICATION-ATTACK-LFI 931-APPLICATION-ATTACK-RFI \
         932-APPLICATION-ATTACK-RCE 934-APPLICATION-ATTACK-NODEJS 941-APPLICATION-ATTACK-XSS \
         942-APPLICATION-ATTACK-SQLI 943-APPLICATION-ATTACK-SESSION-FIXATION \
         944-APPLICATION-ATTACK-JAVA 949-BLOCKING-EVALUATION; do
    echo "Include $CRS/REQUEST-$f.conf" >> "$DIR/ngxsec/modsec.conf"
done
echo "SecRuleRemoveById 901321 920350 932140 932150" >> "$DIR/ngxsec/modsec.conf"

proxy_conf() { # $1 = prefix dir, $2 = port, $3 = extra http-level lines
    echo "load_module $MODSEC_MODULE;"
    echo "worker_processes $WORKERS;"
    nginx_common "$1"
    cat <<EOF2
http {
    access_log off;
$(nginx_temp_paths "$1")
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_buffer_size 1m;
    client_max_body_size 10m;
$3
    upstream app {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$2 reuseport;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header X-Forwarded-Port \$server_port;
            add_header X-Request-Id \$request_id always;
        }
    }
}
EOF2
}
proxy_conf "$DIR/ngx" "$NGX_PORT" "" > "$DIR/ngx/nginx.conf"
proxy_conf "$DIR/ngxsec" "$NGXSEC_PORT" "    modsecurity on;
    modsecurity_rules_file $DIR/ngxsec/modsec.conf;" > "$DIR/ngxsec/nginx.conf"

moat_conf() { # $1 = port, $2 = waf mode
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
mode = "$2"
EOF2
}
moat_conf "$MOAT_PORT" block > "$DIR/moat/moat.toml"
moat_conf "$MOAT_OFF_PORT" off > "$DIR/moat-off/moat.toml"

log "starting the upstream, nginx, nginx+ModSecurity and moat (WAF on, off)"
"$NGINX" -p "$DIR/up" -c "$DIR/up/nginx.conf" -e "$DIR/up/error.log" -g 'daemon off;' &
PIDS+=($!)
wait_ok "http://127.0.0.1:$UP_PORT/x" 3
for p in ngx ngxsec; do
    port=$([ $p = ngx ] && echo "$NGX_PORT" || echo "$NGXSEC_PORT")
    "$NGINX" -p "$DIR/$p" -c "$DIR/$p/nginx.conf" -e "$DIR/$p/error.log" -g 'daemon off;' &
    PIDS+=($!)
    wait_ok "http://127.0.0.1:$port/x" 3 || { cat "$DIR/$p/error.log" >&2; exit 1; }
done
(cd "$DIR/moat" && exec "$MOAT" serve --config moat.toml) 2> "$DIR/moat/stderr.log" &
PIDS+=($!)
(cd "$DIR/moat-off" && exec "$MOAT" serve --config moat.toml) 2> "$DIR/moat-off/stderr.log" &
PIDS+=($!)
wait_ok "http://127.0.0.1:$MOAT_PORT/x" 3 || { cat "$DIR/moat/stderr.log" >&2; exit 1; }
wait_ok "http://127.0.0.1:$MOAT_OFF_PORT/x" 3 || { cat "$DIR/moat-off/stderr.log" >&2; exit 1; }

# Both WAFs must refuse the same two requests of the ten and pass the rest.
check_mix() { # name port expected-403
    local n
    n=$("$WRK" -t1 -c1 -d1s -s "$HERE/mix.lua" "http://127.0.0.1:$2" 2>/dev/null |
        awk '/Non-2xx or 3xx responses:/ { print $NF }')
    log "$1: ${n:-0} non-2xx in a 1 s single-connection run"
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

declare -A RPS P50 P99 NON2XX SOCKERR TOTAL
measure() { # name port
    local out
    "$WRK" -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$HERE/mix.lua" "http://127.0.0.1:$2" >/dev/null
    out=$("$WRK" -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$HERE/mix.lua" \
          "http://127.0.0.1:$2")
    echo "$out" > "$DIR/wrk-$1.txt"
    RPS[$1]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    P50[$1]=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    P99[$1]=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    TOTAL[$1]=$(awk '/requests in/ { print $1 }' <<<"$out")
    NON2XX[$1]=$(awk '/Non-2xx or 3xx responses:/ { print $NF } END { }' <<<"$out")
    NON2XX[$1]=${NON2XX[$1]:-0}
    SOCKERR[$1]=$(awk '/Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
                       END { print n + 0 }' <<<"$out")
    log "$1: ${RPS[$1]} req/s, p50 ${P50[$1]} ms, p99 ${P99[$1]} ms," \
        "non-2xx ${NON2XX[$1]} of ${TOTAL[$1]}, socket errors ${SOCKERR[$1]}"
}

NAMES=(nginx moat-waf-off nginx-modsecurity moat-waf)
declare -A PORT=([nginx]=$NGX_PORT [moat-waf-off]=$MOAT_OFF_PORT
                 [nginx-modsecurity]=$NGXSEC_PORT [moat-waf]=$MOAT_PORT)
for n in "${NAMES[@]}"; do check_mix "$n" "${PORT[$n]}"; done
for n in "${NAMES[@]}"; do measure "$n" "${PORT[$n]}"; done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * a / b; else print "n/a" }'; }
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
moat_version=$("$MOAT" --version 2>&1 | head -1 || true)
nginx_version=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //' || true)
wrk_version=$("$WRK" -v 2>&1 | head -1 | awk '{ print $1, $2 }' || true)
modsec_version=$(dpkg-query -W -f='${Version}' libmodsecurity3 2>/dev/null || echo "?")
connector_version=$(dpkg-query -W -f='${Version}' libnginx-mod-http-modsecurity 2>/dev/null || echo "?")
crs_version=$(dpkg-query -W -f='${Version}' modsecurity-crs 2>/dev/null || echo "?")

cat <<EOF2
## WAF: moat vs nginx + ModSecurity

$(date -u +%Y-%m-%d). Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r).
$moat_version; $nginx_version; libmodsecurity3 $modsec_version; libnginx-mod-http-modsecurity
$connector_version; modsecurity-crs $crs_version; $wrk_version. Everything on 127.0.0.1.

| proxy | WAF | requests/s | p50 ms | p99 ms | 403 (expected 20%) | socket errors |
|---|---|---:|---:|---:|---:|---:|
EOF2
for n in "${NAMES[@]}"; do
    waf=$(case $n in moat-waf|nginx-modsecurity) echo on ;; *) echo off ;; esac)
    echo "| $n | $waf | ${RPS[$n]} | ${P50[$n]} | ${P99[$n]} | $(pct "${NON2XX[$n]}" "${TOTAL[$n]}") | ${SOCKERR[$n]} |"
done
cat <<EOF2

| ratio | requests/s | p99 |
|---|---:|---:|
| **moat+WAF / nginx+ModSecurity** | **$(ratio "${RPS[moat-waf]}" "${RPS[nginx-modsecurity]}")** | $(ratio "${P99[moat-waf]}" "${P99[nginx-modsecurity]}") |
| moat WAF on / off | $(ratio "${RPS[moat-waf]}" "${RPS[moat-waf-off]}") | $(ratio "${P99[moat-waf]}" "${P99[moat-waf-off]}") |
| nginx ModSecurity on / off | $(ratio "${RPS[nginx-modsecurity]}" "${RPS[nginx]}") | $(ratio "${P99[nginx-modsecurity]}" "${P99[nginx]}") |

requests/s: higher is better; p99 ratios: lower is better. The mix
(bench/waf/mix.lua) is ten requests in turn: two GETs with queries, two
plain GETs, a form POST, two JSON POSTs, a multipart upload, and two attacks
(SQL injection in a query, template injection in JSON); with a WAF on, the
two attacks get 403 (20% of the answers), without one they pass.

Setup: the upstream is nginx ($WORKERS workers) answering 200 "ok" to every
request. Both proxies run $WORKERS workers with a keep-alive pool of 64 to
it and access logs off; moat also has its security log off, while nginx
writes ModSecurity's message for each matched rule to its error log (the
connector's default; no audit log in either). nginx +
ModSecurity loads the same Debian CRS files with the settings moat generates
from its defaults (paranoia 1, inbound threshold 5, JSON body processor,
1 MiB body limit, the same rule removals) and moat's rules/python.conf.

Commands (DIR is a temporary directory, PORT the ports picked at run time):

    nginx -p DIR/ngxsec -c DIR/ngxsec/nginx.conf -g 'daemon off;'   # modsecurity on;
    moat serve --config moat.toml                                    # [waf] mode = "block" | "off"
    wrk -t$THREADS -c$CONNS -d$WARMUP -s bench/waf/mix.lua http://127.0.0.1:PORT              # warm-up
    wrk -t$THREADS -c$CONNS -d$DURATION --latency -s bench/waf/mix.lua http://127.0.0.1:PORT
EOF2
