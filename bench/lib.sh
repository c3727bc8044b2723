# bench/lib.sh - shared by the benchmark scripts (sourced, not run): a
# temporary work folder removed on exit, the processes started (PIDS) stopped
# on exit, progress lines, free loopback ports, and waiting for a server.
# bench_init PREFIX sets DIR.

bench_init() {
    DIR=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$DIR" # nginx workers may run as another user
    PIDS=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$DIR"
}

log() { echo "bench: $*" >&2; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_ok URL SIZE: until URL answers 200 with SIZE bytes (20 s at most);
# certificates are not checked (the benchmarks use self-signed ones).
wait_ok() {
    local got
    for _ in $(seq 1 200); do
        got=$(curl -sk -o /dev/null -w '%{http_code} %{size_download}' "$1" 2>/dev/null || true)
        [ "$got" = "200 $2" ] && return 0
        sleep 0.1
    done
    echo "bench: $1 did not answer 200 with $2 bytes (last: '$got')" >&2
    return 1
}

# nginx_common PREFIX: pid, error log and events for an nginx.conf under PREFIX.
nginx_common() {
    cat <<EOF
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
EOF
}

# nginx_temp_paths PREFIX: nginx's temp folders inside PREFIX (an http block's lines).
nginx_temp_paths() {
    cat <<EOF
    client_body_temp_path $1/client_body;
    proxy_temp_path $1/proxy_temp;
    fastcgi_temp_path $1/fastcgi_temp;
    uwsgi_temp_path $1/uwsgi_temp;
    scgi_temp_path $1/scgi_temp;
EOF
}

# nginx_moat_location: the lines of an nginx `location /` that proxies to
# `upstream app` doing what moat does by default for every request (the
# X-Forwarded-* and X-Request-Id headers) and response (its security
# headers), so that both proxies do the same work.
MOAT_CSP="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; media-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; report-uri /.moat/csp-report"
MOAT_PERMISSIONS="accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
nginx_moat_location() {
    cat <<EOF
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header X-Forwarded-Port \$server_port;
            add_header X-Request-Id \$request_id always;
            add_header Content-Security-Policy "$MOAT_CSP" always;
            add_header X-Frame-Options "DENY" always;
            add_header X-Content-Type-Options "nosniff" always;
            add_header Referrer-Policy "strict-origin-when-cross-origin" always;
            add_header Permissions-Policy "$MOAT_PERMISSIONS" always;
            add_header Cross-Origin-Opener-Policy "same-origin" always;
            add_header Cross-Origin-Resource-Policy "same-origin" always;
EOF
}
