#!/usr/bin/env bash
# make run: the example Flask app under gunicorn on a unix socket, with moat
# in front on 127.0.0.1:8080. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
MOAT=${1:-build/src/moat}
RUN=$(mktemp -d /tmp/moat-demo.XXXXXX)
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

"$MOAT" serve --config examples/flask_app/moat.toml --upstream "unix:$RUN/app.sock" \
    --listen "127.0.0.1:$PORT" &
MOAT_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
done
cat <<MSG

  moat is in front of the example Flask app.
  Open http://127.0.0.1:$PORT/   (Ctrl-C stops both)

  Try: curl -i http://127.0.0.1:$PORT/
       curl -i 'http://127.0.0.1:$PORT/%'           (refused: invalid target)
       curl -i -H 'Transfer-Encoding: chunked' -H 'Content-Length: 3' \\
            -d abc http://127.0.0.1:$PORT/                     (refused: smuggling)

MSG
wait "$MOAT_PID"
