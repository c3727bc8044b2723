#!/usr/bin/env bash
# make run: the example Flask app under gunicorn on a unix socket, with moat
# in front on 127.0.0.1:8080. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
MOAT=${1:-build/src/moat}
RUN=$(mktemp -d /tmp/moat-demo.XXXXXX)
# Run as root, moat serves as nobody:nogroup once it has bound its ports: it
# must still reach the app's socket, read its config and key on reload, and
# write its security log (security.log, beside the config here) and rotate it.
chmod 755 "$RUN"
[ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$RUN"
PORT=${MOAT_DEMO_PORT:-8080}
cleanup() {
    [ -n "${MOAT_PID:-}" ] && kill -TERM "$MOAT_PID" 2>/dev/null || true
    [ -n "${APP_PID:-}" ] && kill -TERM "$APP_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$RUN"
}
trap cleanup EXIT INT TERM

/usr/bin/python3 -m gunicorn --chdir examples/flask_app --bind "unix:$RUN/app.sock" \
    --workers 2 --worker-class gthread --threads 4 --keep-alive 30 \
    --log-level warning app:app &
APP_PID=$!
for _ in $(seq 1 100); do [ -S "$RUN/app.sock" ] && break; sleep 0.1; done
[ -S "$RUN/app.sock" ] || { echo "the example app did not start"; exit 1; }

# HTTPS with a development certificate; plain HTTP redirects to it.
TLS_PORT=${MOAT_DEMO_TLS_PORT:-8443}
"$MOAT" cert selfsigned --cert "$RUN/cert.pem" --key "$RUN/key.pem" localhost 127.0.0.1 >/dev/null
cp examples/flask_app/moat.toml "$RUN/moat.toml"
cat >>"$RUN/moat.toml" <<TOML

[tls]
listen = ["127.0.0.1:$TLS_PORT"]
cert = ["$RUN/cert.pem"]
key = ["$RUN/key.pem"]
TOML
chmod 600 "$RUN/moat.toml" "$RUN/key.pem"
[ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$RUN/moat.toml" "$RUN/key.pem"
"$MOAT" serve --config "$RUN/moat.toml" --upstream "unix:$RUN/app.sock" \
    --listen "127.0.0.1:$PORT" &
MOAT_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null --cacert "$RUN/cert.pem" "https://localhost:$TLS_PORT/" && break
    sleep 0.1
done
cat <<MSG

  moat is in front of the example Flask app.
  Open https://localhost:$TLS_PORT/   (Ctrl-C stops both)
  The certificate is self-signed for development: the browser will warn.
  http://127.0.0.1:$PORT/ redirects there.

  Try: curl -i --cacert $RUN/cert.pem https://localhost:$TLS_PORT/
       curl -i http://localhost:$PORT/admin                    (308 to HTTPS)
       curl -ik https://localhost:$TLS_PORT/.git/config        (404: sensitive path)
       curl -ik 'https://localhost:$TLS_PORT/%'                (400: invalid target)
       curl -ik 'https://localhost:$TLS_PORT/?q=%7B%7B7*7%7D%7D'  (403: WAF, template injection)
       curl -ik -H 'Transfer-Encoding: chunked' -H 'Content-Length: 3' \\
            -d abc https://localhost:$TLS_PORT/                (400: smuggling)

MSG
wait "$MOAT_PID"
