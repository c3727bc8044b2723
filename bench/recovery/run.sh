#!/usr/bin/env bash
# bench/recovery/run.sh MOAT_BINARY
#
# Recovery after the upstream comes back (issue 21, item 4), moat and nginx
# as reverse proxies in one run, in front of the same upstream:
#   restart   the echo app under gunicorn is SIGKILLed while both proxies
#             are under light load, then started again on the same port;
#   halfhead  a raw upstream writes half a response head and closes, then
#             answers normally again.
# For each round and proxy: the milliseconds from the moment the upstream
# accepts (restart) or answers (halfhead) again until a prober polling the
# proxy every 5 ms with new connections gets its first 200. Prints a
# Markdown report (median and worst of the rounds) on stdout, progress on
# stderr. Everything listens on 127.0.0.1 and is stopped on exit.
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS   [5]   rounds of each scenario
#   BENCH_WORKERS  [2]   moat workers = nginx worker_processes
set -euo pipefail

MOAT=${1:?usage: bench/recovery/run.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
ROUNDS=${BENCH_ROUNDS:-5}
WORKERS=${BENCH_WORKERS:-2}
NGINX=${NGINX:-/usr/sbin/nginx}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

for tool in "$NGINX" curl /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

. "$(dirname "$0")/../lib.sh"
bench_init moat-recovery

UP_PORT=$(free_port)   # gunicorn (restart)
RAW_PORT=$(free_port)  # the raw upstream (halfhead)
mkdir -p "$DIR/proxy" "$DIR/moat"
declare -A NGINX_PORTS MOAT_PORTS
for s in restart halfhead; do NGINX_PORTS[$s]=$(free_port); MOAT_PORTS[$s]=$(free_port); done

{
    echo "worker_processes $WORKERS;"
    nginx_common "$DIR/proxy"
    cat <<NGX
http {
    access_log off;
$(nginx_temp_paths "$DIR/proxy")
    upstream app { server 127.0.0.1:$UP_PORT; keepalive 64; }
    upstream raw { server 127.0.0.1:$RAW_PORT; keepalive 64; }
    server { listen 127.0.0.1:${NGINX_PORTS[restart]}; location / {
$(nginx_moat_location)
    } }
    server { listen 127.0.0.1:${NGINX_PORTS[halfhead]}; location / {
$(nginx_moat_location | sed 's|http://app|http://raw|')
    } }
}
NGX
} > "$DIR/proxy/nginx.conf"
for s in restart halfhead; do
    up=$UP_PORT
    [ "$s" = halfhead ] && up=$RAW_PORT
    cat > "$DIR/moat/$s.toml" <<TOML
listen = ["127.0.0.1:${MOAT_PORTS[$s]}"]
upstream = ["http://127.0.0.1:$up"]
workers = $WORKERS

[limits]
drain_timeout = "2s"

[waf]
mode = "off"

[log]
access = ""
security = ""
TOML
done

"$NGINX" -p "$DIR/proxy" -c "$DIR/proxy/nginx.conf" -e "$DIR/proxy/error.log" -g 'daemon off;' &
PIDS+=($!)
for s in restart halfhead; do
    (cd "$DIR/moat" && exec "$MOAT" serve --config "$s.toml") 2> "$DIR/moat/$s.log" &
    PIDS+=($!)
done

log "$ROUNDS rounds of each scenario"
/usr/bin/python3 - "$ROUNDS" "$UP_PORT" "$RAW_PORT" "${NGINX_PORTS[restart]}" "${MOAT_PORTS[restart]}" \
    "${NGINX_PORTS[halfhead]}" "${MOAT_PORTS[halfhead]}" "$ROOT/tests/integration/apps" \
    > "$DIR/results.txt" <<'PY'
import os, signal, socket, statistics, subprocess, sys, threading, time

rounds, up, raw, ng_r, mo_r, ng_h, mo_h = map(int, sys.argv[1:8])
apps = sys.argv[8]

def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False

def status(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        data = s.recv(64)
        s.close()
        return int(data.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return 0

def until(pred, limit=30, what="?"):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    raise SystemExit("bench: timed out waiting for " + what)

def first_success(port, out, key, stop):
    while not stop.is_set():
        if status(port) == 200:
            out[key] = time.monotonic()
            return
        time.sleep(0.005)

def load(ports, stop):  # light steady load through both proxies
    while not stop.is_set():
        for p in ports:
            status(p)
        time.sleep(0.01)

def gunicorn():
    p = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class",
                          "gthread", "--threads", "16", "--keep-alive", "120", "--chdir", apps,
                          "--bind", "127.0.0.1:%d" % up, "--error-logfile", "/dev/null",
                          "flask_echo:app"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    until(lambda: accepts(up), what="gunicorn")
    return p

mode = {"half": True}
def raw_serve(c):
    try:
        while True:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.recv(65536)
                if not chunk:
                    return
                data += chunk
            if mode["half"]:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
                return
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    except OSError:
        pass
    finally:
        c.close()

def raw_accept(ls):
    while True:
        c, _ = ls.accept()
        threading.Thread(target=raw_serve, args=(c,), daemon=True).start()

results = {("restart", "nginx"): [], ("restart", "moat"): [],
           ("halfhead", "nginx"): [], ("halfhead", "moat"): []}

g = gunicorn()
until(lambda: status(ng_r) == 200 and status(mo_r) == 200, what="both proxies")
for i in range(rounds):
    stop = threading.Event()
    t = threading.Thread(target=load, args=((ng_r, mo_r), stop), daemon=True)
    t.start()
    time.sleep(0.5)
    os.killpg(g.pid, signal.SIGKILL)
    g.wait()
    until(lambda: not accepts(up))
    until(lambda: status(ng_r) != 200 and status(mo_r) != 200)
    time.sleep(0.5)
    out, pstop = {}, threading.Event()
    probes = [threading.Thread(target=first_success, args=(p, out, k, pstop), daemon=True)
              for p, k in ((ng_r, "nginx"), (mo_r, "moat"))]
    for pr in probes:
        pr.start()
    g = gunicorn()
    t0 = time.monotonic()  # gunicorn() returned: the port accepts
    for pr in probes:
        pr.join(30)
    pstop.set()
    stop.set()
    t.join()
    for k in ("nginx", "moat"):
        results[("restart", k)].append(max(0.0, (out.get(k, t0 + 30) - t0) * 1000))
os.killpg(g.pid, signal.SIGKILL)

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", raw))
ls.listen(128)
threading.Thread(target=raw_accept, args=(ls,), daemon=True).start()
for i in range(rounds):
    mode["half"] = True
    until(lambda: status(ng_h) != 200 and status(mo_h) != 200)
    for _ in range(10):
        status(ng_h); status(mo_h)
    out, pstop = {}, threading.Event()
    probes = [threading.Thread(target=first_success, args=(p, out, k, pstop), daemon=True)
              for p, k in ((ng_h, "nginx"), (mo_h, "moat"))]
    mode["half"] = False
    t0 = time.monotonic()
    for pr in probes:
        pr.start()
    for pr in probes:
        pr.join(30)
    pstop.set()
    for k in ("nginx", "moat"):
        results[("halfhead", k)].append(max(0.0, (out.get(k, t0 + 30) - t0) * 1000))

for (scen, proxy), v in results.items():
    print("%s %s %.0f %.0f" % (scen, proxy, statistics.median(v), max(v)))
PY

row() { awk -v s="$1" -v p="$2" '$1 == s && $2 == p { printf "%s | %s", $3, $4 }' "$DIR/results.txt"; }
cat <<MD
## Recovery after the upstream comes back (bench/recovery)

$(date -u +%Y-%m-%d). Machine: $(nproc) CPUs, Linux $(uname -r). $("$MOAT" --version 2>&1 | head -1);
$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'). $ROUNDS rounds each, $WORKERS workers each; ms from the
upstream accepting (restart: gunicorn SIGKILLed under light load, started again
on the same port) or answering (halfhead: half-written response heads, then
normal answers) again until a prober polling every 5 ms gets its first 200.

| scenario | proxy | median ms | worst ms |
|---|---|---:|---:|
| restart | nginx | $(row restart nginx) |
| restart | moat | $(row restart moat) |
| halfhead | nginx | $(row halfhead nginx) |
| halfhead | moat | $(row halfhead moat) |
MD
