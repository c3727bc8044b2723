#!/usr/bin/env bash
# bench/waf_benign/run.sh MOAT_BINARY
#
# False refusals on ordinary traffic: replays the benign corpus
# (tests/data/benign/corpus.jsonl, 580+ requests browsers, API clients and
# scripts send to Flask/Django/FastAPI apps) against
#   1. the application directly (the Flask echo app,
#      tests/integration/apps/flask_echo.py, under gunicorn): what it answers
#      is the baseline;
#   2. moat at its defaults in front of it;
#   3. nginx + libnginx-mod-http-modsecurity + the Debian modsecurity-crs at
#      paranoia 1 in front of the same app, with the ModSecurity settings of
#      bench/waf/run.sh (the ones moat generates from its defaults: the same
#      CRS files, removals and moat's rules/python.conf), except the body
#      limits (below).
# and prints a Markdown report on stdout (progress on stderr): false refusals
# (4xx/5xx, or no answer, where the app answered < 400) per category for
# each proxy, their ratio, and each refusal grouped by cause (moat: the
# security log's event, reason and rule ids; nginx: ModSecurity's rule ids
# from the error log). Everything listens on 127.0.0.1.
#
# Body limits of nginx + ModSecurity: ModSecurity's own model, file parts
# counted apart from the rest: SecRequestBodyLimit 10 MiB (= nginx
# client_max_body_size = moat's limits.body_bytes) and
# SecRequestBodyNoFilesLimit 1 MiB (= moat's waf.inspect_bytes).
#
# Environment:
#   BENIGN_DETAILS  also write every refusal as JSON to this file
#   CRS             [/usr/share/modsecurity-crs/rules]
set -euo pipefail

MOAT=${1:?usage: bench/waf_benign/run.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
NGINX=${NGINX:-/usr/sbin/nginx}
CRS=${CRS:-/usr/share/modsecurity-crs/rules}
MODSEC_MODULE=${MODSEC_MODULE:-/usr/lib/nginx/modules/ngx_http_modsecurity_module.so}

for tool in "$NGINX" curl "$PY"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (scripts/deps.sh deps/debian-bench.txt)" >&2; exit 1; }
done
"$PY" -c 'import flask, gunicorn' 2>/dev/null || { echo "missing: python3-flask, gunicorn" >&2; exit 1; }
[ -x "$MOAT" ] || { echo "not an executable: $MOAT" >&2; exit 1; }
[ -f "$MODSEC_MODULE" ] || { echo "missing: $MODSEC_MODULE (libnginx-mod-http-modsecurity)" >&2; exit 1; }
[ -f "$CRS/REQUEST-901-INITIALIZATION.conf" ] || { echo "missing: the CRS in $CRS" >&2; exit 1; }

. "$HERE/../lib.sh"
bench_init moat-bench-benign

APP_PORT=$(free_port)
NGXSEC_PORT=$(free_port)
MOAT_PORT=$(free_port)
mkdir -p "$DIR/app" "$DIR/ngxsec" "$DIR/moat"

# ------------------------------------------------------------ the upstream
# As the integration tests run it (tests/integration/conftest.py).
log "starting the echo app under gunicorn"
"$PY" -m gunicorn --workers 1 --worker-class gthread --threads 16 --keep-alive 120 \
    --timeout 120 --graceful-timeout 2 --limit-request-line 0 --limit-request-fields 1000 \
    --limit-request-field_size 0 --chdir "$REPO/tests/integration/apps" \
    --error-logfile "$DIR/app/gunicorn.log" --bind "127.0.0.1:$APP_PORT" flask_echo:app &
PIDS+=($!)
wait_ok "http://127.0.0.1:$APP_PORT/status/200" 11 || { cat "$DIR/app/gunicorn.log" >&2; exit 1; }

# ------------------------------------------- nginx + ModSecurity + the CRS
# The rules part is bench/waf/run.sh's, unchanged.
cat > "$DIR/ngxsec/modsec.conf" <<EOF2
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 10485760
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

{
    echo "load_module $MODSEC_MODULE;"
    echo "worker_processes 1;"
    nginx_common "$DIR/ngxsec"
    cat <<EOF2
http {
    access_log off;
    error_log $DIR/ngxsec/error.log info; # ModSecurity's rule matches are logged at info
$(nginx_temp_paths "$DIR/ngxsec")
    client_body_buffer_size 1m;
    client_max_body_size 10m;
    modsecurity on;
    modsecurity_rules_file $DIR/ngxsec/modsec.conf;
    upstream app {
        server 127.0.0.1:$APP_PORT;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$NGXSEC_PORT;
        location / {
$(nginx_moat_location)
        }
    }
}
EOF2
} > "$DIR/ngxsec/nginx.conf"

# ----------------------------------------------------- moat at its defaults
# Only where it listens, what it protects and where its security log goes.
chown nobody:nogroup "$DIR/moat" 2>/dev/null || true # moat serves as nobody when started as root
cat > "$DIR/moat/moat.toml" <<EOF2
listen = ["127.0.0.1:$MOAT_PORT"]
upstream = ["http://127.0.0.1:$APP_PORT"]

[log]
security = "$DIR/moat/security.log"
EOF2
chmod 640 "$DIR/moat/moat.toml"
chgrp nogroup "$DIR/moat/moat.toml" 2>/dev/null || true

log "starting nginx + ModSecurity and moat"
"$NGINX" -p "$DIR/ngxsec" -c "$DIR/ngxsec/nginx.conf" -e "$DIR/ngxsec/error.log" -g 'daemon off;' &
PIDS+=($!)
wait_ok "http://127.0.0.1:$NGXSEC_PORT/status/200" 11 || { cat "$DIR/ngxsec/error.log" >&2; exit 1; }
(cd "$DIR/moat" && exec "$MOAT" serve --config moat.toml) > "$DIR/moat/access.log" 2> "$DIR/moat/stderr.log" &
PIDS+=($!)
wait_ok "http://127.0.0.1:$MOAT_PORT/status/200" 11 || { cat "$DIR/moat/stderr.log" >&2; exit 1; }
: > "$DIR/ngxsec/error.log" # start-up lines are not a request's

log "replaying the corpus: the app, moat, nginx + ModSecurity"
detail_args=()
[ -n "${BENIGN_DETAILS:-}" ] && detail_args=(--details "$BENIGN_DETAILS")
"$PY" "$HERE/benign.py" --app "http://127.0.0.1:$APP_PORT" \
    --proxy "moat=http://127.0.0.1:$MOAT_PORT" --moat-log "$DIR/moat/security.log" \
    --proxy "nginx-modsecurity=http://127.0.0.1:$NGXSEC_PORT" --modsec-log "$DIR/ngxsec/error.log" \
    "${detail_args[@]}" > "$DIR/report.md"

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
moat_version=$("$MOAT" --version 2>&1 | head -1 || true)
nginx_version=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //' || true)
modsec_version=$(dpkg-query -W -f='${Version}' libmodsecurity3 2>/dev/null || echo "?")
connector_version=$(dpkg-query -W -f='${Version}' libnginx-mod-http-modsecurity 2>/dev/null || echo "?")
crs_version=$(dpkg-query -W -f='${Version}' modsecurity-crs 2>/dev/null || echo "?")
gunicorn_version=$("$PY" -c 'import gunicorn; print(gunicorn.__version__)')
flask_version=$("$PY" -c 'import importlib.metadata as m; print(m.version("flask"))')
count=$(grep -c . "$REPO/tests/data/benign/corpus.jsonl")

cat <<EOF2
## Benign traffic: false refusals, moat vs nginx + ModSecurity

$(date -u +%Y-%m-%d). Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r).
$moat_version; $nginx_version; libmodsecurity3 $modsec_version; libnginx-mod-http-modsecurity
$connector_version; modsecurity-crs $crs_version; gunicorn $gunicorn_version, Flask $flask_version.
\`bench/waf_benign/run.sh build/src/moat\`: the $count requests of
tests/data/benign/corpus.jsonl, one at a time, first to the Flask echo app
directly, then through moat at its defaults and through nginx + ModSecurity
+ CRS at paranoia 1, all in front of the same app. A false refusal is a
4xx/5xx (or no answer) from the proxy where the app answered below 400.

$(cat "$DIR/report.md")
EOF2
