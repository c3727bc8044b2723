#!/usr/bin/env bash
# make run [APP=django|fastapi]: the example Flask app (or Django project)
# under gunicorn (the FastAPI one under uvicorn) on a unix socket, moat in front (HTTPS on localhost:8443 with a development certificate; plain HTTP on
# 127.0.0.1:8080 redirects there), a demo user with a generated password, and
# a short guided tour. Ctrl-C (or q) stops both and removes the demo's folder.
set -euo pipefail
cd "$(dirname "$0")/.."
MOAT=${1:-build/src/moat}
APP=${2:-flask}
case "$APP" in
flask) APP_DIR=examples/flask_app APP_MODULE=app:app ADMIN=/admin ;;
django) APP_DIR=examples/django_app APP_MODULE=demo_site.wsgi:application ADMIN=/admin/ ;;
fastapi) APP_DIR=examples/fastapi_app APP_MODULE=app:app ADMIN=/admin ;;
*) echo "APP=$APP: expected flask, django or fastapi"; exit 2 ;;
esac
case "$MOAT" in /*) ;; *) MOAT="$PWD/$MOAT" ;; esac
RUN=$(mktemp -d /tmp/moat-demo.XXXXXX)
PORT=${MOAT_DEMO_PORT:-8080}
TLS_PORT=${MOAT_DEMO_TLS_PORT:-8443}
# Run as root, moat serves as nobody:nogroup once it has bound its ports: it
# must still reach the app's socket, read its config and keys on reload, and
# write its store and logs (all beside the config, in $RUN).
chmod 755 "$RUN"
ROOT=0
[ "$(id -u)" -eq 0 ] && ROOT=1

TTY_STATE=""
cleanup() {
    [ -n "$TTY_STATE" ] && stty "$TTY_STATE" 2>/dev/null
    [ -n "${MOAT_PID:-}" ] && kill -TERM "$MOAT_PID" 2>/dev/null || true
    [ -n "${APP_PID:-}" ] && kill -TERM "$APP_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# The config, its keys and the demo user, before anything serves.
cp "$APP_DIR/moat.toml" "$RUN/moat.toml"
cat >>"$RUN/moat.toml" <<TOML

[tls]
listen = ["127.0.0.1:$TLS_PORT"]
cert = ["$RUN/cert.pem"]
key = ["$RUN/key.pem"]
TOML
"$MOAT" cert selfsigned --cert "$RUN/cert.pem" --key "$RUN/key.pem" localhost 127.0.0.1 >/dev/null
head -c 32 /dev/urandom | base64 >"$RUN/identity.key"
"$MOAT" log init --config "$RUN/moat.toml" 2>/dev/null | grep -Eo 'mvk[0-9]+-[0-9a-f-]+' | head -1 \
    >"$RUN/verify.key"
[ -s "$RUN/verify.key" ] || { echo "moat log init printed no verification key"; exit 1; }
PASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
printf '%s\n' "$PASSWORD" | "$MOAT" user add demo --role admin --create \
    --config "$RUN/moat.toml" >/dev/null 2>&1
TOKEN=$("$MOAT" user token create demo --config "$RUN/moat.toml" 2>/dev/null |
    grep -Eo '[A-Za-z0-9_-]{32,}' | head -1)
chmod 600 "$RUN/moat.toml" "$RUN/key.pem" "$RUN/identity.key"
if [ "$ROOT" -eq 1 ]; then
    chown -R nobody:nogroup "$RUN"
    chown root:root "$RUN/verify.key" # the verification key is not the server's
fi

export MOAT_IDENTITY_KEY="$RUN/identity.key" PYTHONPATH="$PWD/integrations/python"
export DEMO_DB="$RUN/app.sqlite3" DJANGO_DB="$RUN/app.sqlite3"
DJANGO_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
export DJANGO_SECRET_KEY
if [ "$APP" = django ]; then
    (cd "$APP_DIR" && /usr/bin/python3 manage.py migrate -v0) ||
        { echo "the Django project's database could not be set up"; exit 1; }
    [ "$ROOT" -eq 1 ] && chown nobody:nogroup "$RUN/app.sqlite3"
fi
if [ "$APP" = fastapi ]; then
    /usr/bin/python3 -c 'import fastapi, uvicorn' 2>/dev/null ||
        { echo "APP=fastapi needs the Debian packages python3-fastapi and uvicorn (make deps)"; exit 1; }
    # Only moat reaches the socket (its X-Forwarded-* are the ones to trust;
    # keep [trusted_proxies] empty: uvicorn then reads moat's address alone).
    /usr/bin/python3 -m uvicorn --app-dir "$APP_DIR" --uds "$RUN/app.sock" \
        --proxy-headers --forwarded-allow-ips '*' --no-server-header \
        --log-level warning --no-access-log "$APP_MODULE" </dev/null &
else
    /usr/bin/python3 -m gunicorn --chdir "$APP_DIR" --bind "unix:$RUN/app.sock" \
        --workers 2 --worker-class gthread --threads 4 --keep-alive 30 \
        --log-level warning "$APP_MODULE" </dev/null &
fi
APP_PID=$!
for _ in $(seq 1 100); do [ -S "$RUN/app.sock" ] && break; sleep 0.1; done
[ -S "$RUN/app.sock" ] || { echo "the example app did not start"; exit 1; }

"$MOAT" serve --config "$RUN/moat.toml" --upstream "unix:$RUN/app.sock" \
    --listen "127.0.0.1:$PORT" </dev/null &
MOAT_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null --cacert "$RUN/cert.pem" "https://localhost:$TLS_PORT/" && break
    sleep 0.1
done
BASE="https://localhost:$TLS_PORT"
DJANGO_NOTE=""
[ "$APP" = django ] && DJANGO_NOTE="
     Django's admin opens without its own login form (single sign-on)."
API_NOTE=""
[ "$APP" != django ] && API_NOTE="  The API takes a bearer token (created for demo, shown only now):
     curl -k -H 'Authorization: Bearer $TOKEN' $BASE/api/notes
"
APP_NAME=${APP^}
[ "$APP" = fastapi ] && APP_NAME=FastAPI
M="$MOAT"
case "$M" in "$PWD"/*) M="${M#"$PWD"/}" ;; esac
cat <<MSG

  moat is in front of the example $APP_NAME app.   Ctrl-C (or q) stops both.

  Open $BASE/
  (a self-signed development certificate: the browser warns once;
   http://127.0.0.1:$PORT/ redirects there)

  Log in as   demo   with the password   $PASSWORD
  (generated for this run and shown only now)

  Three things to try in the browser:
  1. $BASE$ADMIN
     needs the role admin and a second factor: log in, scan the QR code with
     an authenticator app, enter its code, keep the recovery codes. The home
     page then shows the identity the app receives; /.moat/ logs you out.$DJANGO_NOTE
  2. $BASE/?q={{7*7}}
     a template injection the WAF blocks: 403 with a request id. Explain it:
       $M log why REQUEST_ID --config $RUN/moat.toml
  3. $BASE/.git/config
     a sensitive path: 404, the same as a missing page.

$API_NOTE
  The security log has its own file; check that nothing in it was rewritten:
     $M log verify $RUN/security.log --key-file $RUN/verify.key
  Requests:  tail -f $RUN/access.log

MSG
if [ -t 0 ]; then
    # Ctrl-C as a key, not a signal: make then ends without "*** Interrupt"
    TTY_STATE=$(stty -g)
    stty -isig -icanon -echo min 0 time 10
    while kill -0 "$MOAT_PID" 2>/dev/null; do
        k=$(dd bs=1 count=1 2>/dev/null | od -An -c | tr -d ' ') || true
        case "$k" in '003' | 'q' | 'Q') break ;; esac
    done
    echo "  stopping."
else
    wait "$MOAT_PID" || true
fi
exit 0
