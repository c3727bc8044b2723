"""Echo app: the real Flask upstream the integration tests put behind moat.

Run it the way the tests do (one process, so /seen and the gates are shared;
gthread, so upstream keep-alive works):

    /usr/bin/python3 -m gunicorn -w 1 -k gthread --threads 16 \
        --bind 127.0.0.1:8000 --bind unix:/tmp/echo.sock \
        --chdir tests/integration/apps flask_echo:app

Endpoints (every one answers JSON unless said otherwise):

    /echo[/<anything>]   method, path, raw target, query, the headers the app
                         saw (the WSGI view), body length and sha256, and which
                         connection and listener the request came in on
    /proxyfix            what werkzeug's ProxyFix(x_for, x_proto, x_host,
                         x_port = 1) makes of the X-Forwarded-* headers
    /stream?n=&size=     a chunked response of n parts of size bytes
    /big?n=BYTES         a Content-Length response of pattern_bytes(n)
    /status/<code>       that status (204 and 304 without a body)
    /head-test           a fixed body; HEAD gets the same headers, no body
    /slow?ms=            answers after ms milliseconds
    /set-cookie          sets two cookies
    /count?path=P        how many requests for path P arrived
    /seen                every request line that reached the app, in order
    /seen/clear          forgets them
    /gate/stream?key=K   sends "first\n", waits until /gate/release?key=K,
                         then sends "second\n" (proves response streaming)
    /gate/upload?key=K   reads the body in small pieces, publishing progress
    /gate/progress?key=K how many body bytes /gate/upload has read so far
    /cached/<anything>?cc=V  /echo, with Cache-Control: V when cc is given
    /override/<anything> /echo, behind a middleware that runs a POST as the
                         method X-HTTP-Method-Override (or X-HTTP-Method,
                         X-Method-Override) names, as the werkzeug snippet
                         and Flask-MethodOverride do
"""

import hashlib
import itertools
import os
import threading
import time
import weakref

from flask import Flask, Response, jsonify, request, stream_with_context
from werkzeug.middleware.proxy_fix import ProxyFix

app = Flask(__name__)

NAME = os.environ.get("ECHO_NAME", "echo")

_lock = threading.Lock()
_seen = []  # "METHOD RAW_URI PROTOCOL", in arrival order
_conn_ids = weakref.WeakKeyDictionary()  # client socket -> small integer
_conn_counter = itertools.count(1)
_gates = {}
_progress = {}


def pattern_bytes(n):
    """The deterministic body /big sends; tests compute the same bytes."""
    block = bytes(range(256)) * 256  # 64 KiB
    full, rest = divmod(n, len(block))
    return block * full + block[:rest]


class _Recorder:
    """WSGI middleware that records every request line before Flask routes it,
    so a smuggled request is seen even when its path matches no route."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        line = "%s %s %s" % (
            environ.get("REQUEST_METHOD", ""),
            environ.get("RAW_URI") or environ.get("PATH_INFO", ""),
            environ.get("SERVER_PROTOCOL", ""),
        )
        with _lock:
            _seen.append(line)
        return self.wsgi_app(environ, start_response)


class _MethodOverride:
    """The HTTPMethodOverrideMiddleware of werkzeug's documentation, on
    /override/ only: a POST runs as the method a header names."""

    HEADERS = ("HTTP_X_HTTP_METHOD_OVERRIDE", "HTTP_X_HTTP_METHOD", "HTTP_X_METHOD_OVERRIDE")

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/override/") and \
                environ.get("REQUEST_METHOD") == "POST":
            for key in self.HEADERS:
                method = environ.get(key, "").upper()
                if method in ("GET", "PUT", "PATCH", "DELETE"):
                    environ["REQUEST_METHOD"] = method
                    break
        return self.wsgi_app(environ, start_response)


app.wsgi_app = _Recorder(_MethodOverride(app.wsgi_app))


def _gate(key):
    with _lock:
        ev = _gates.get(key)
        if ev is None:
            ev = _gates[key] = threading.Event()
        return ev


def _connection_info():
    sock = request.environ.get("gunicorn.socket")
    info = {"conn_id": None, "local": None}
    if sock is not None:
        with _lock:
            cid = _conn_ids.get(sock)
            if cid is None:
                cid = _conn_ids[sock] = next(_conn_counter)
        info["conn_id"] = cid
        try:
            local = sock.getsockname()
            info["local"] = local[1] if isinstance(local, tuple) else local
        except OSError:
            pass
    return info


def _read_body():
    h = hashlib.sha256()
    n = 0
    stream = request.stream
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        n += len(piece)
        h.update(piece)
    return n, h.hexdigest()


@app.route("/echo", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@app.route("/echo/<path:rest>",
           methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@app.route("/override/<path:rest>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def echo(rest=None):
    body_len, body_sha = _read_body()
    headers = [[k, v] for k, v in request.headers.items()]
    out = {
        "server": NAME,
        "method": request.method,
        "path": request.path,
        "raw_uri": request.environ.get("RAW_URI"),
        "query": request.environ.get("QUERY_STRING", ""),
        "protocol": request.environ.get("SERVER_PROTOCOL"),
        "headers": headers,
        "body_len": body_len,
        "body_sha256": body_sha,
        "remote_addr": request.environ.get("REMOTE_ADDR"),
        "remote_port": request.environ.get("REMOTE_PORT"),
    }
    out.update(_connection_info())
    return jsonify(out)


_proxyfix_app = Flask("proxyfix")


@_proxyfix_app.route("/proxyfix")
def _proxyfix_view():
    return jsonify({
        "remote_addr": request.remote_addr,
        "scheme": request.scheme,
        "host": request.host,
        "url_root": request.url_root,
        "is_secure": request.is_secure,
    })


_proxyfix_wsgi = ProxyFix(_proxyfix_app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)


@app.route("/cached/<path:rest>")
def cached(rest):
    resp = echo(rest)
    if "cc" in request.args:
        resp.headers["Cache-Control"] = request.args["cc"]
    return resp


@app.route("/proxyfix")
def proxyfix():
    # Runs a second, ProxyFix-wrapped app on a copy of this request's environ,
    # so the rest of the echo app keeps seeing the raw headers.
    env = dict(request.environ)
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = headers

    body = b"".join(_proxyfix_wsgi(env, start_response))
    return Response(body, status=captured["status"], headers=captured["headers"])


@app.route("/stream")
def stream():
    n = int(request.args.get("n", "10"))
    size = int(request.args.get("size", "100"))

    def gen():
        for i in range(n):
            yield (b"%08d" % i + b"x" * max(size - 8, 0))[:size]

    # No Content-Length: gunicorn sends it chunked to HTTP/1.1 peers.
    return Response(gen(), mimetype="application/octet-stream")


@app.route("/big", methods=["GET", "HEAD"])
def big():
    n = int(request.args.get("n", "1048576"))
    data = pattern_bytes(n)

    def gen():
        view = memoryview(data)
        for off in range(0, n, 65536):
            yield bytes(view[off:off + 65536])

    return Response(gen(), mimetype="application/octet-stream",
                    headers={"Content-Length": str(n)})


@app.route("/status/<int:code>", methods=["GET", "HEAD", "POST"])
def status(code):
    if code in (204, 304):
        resp = Response(status=code)
        resp.headers["ETag"] = '"moat-test"'
        resp.headers["X-Status-Test"] = str(code)
        return resp
    return Response("status %d\n" % code, status=code, mimetype="text/plain",
                    headers={"X-Status-Test": str(code)})


HEAD_TEST_BODY = b"head-test body: the quick brown fox jumps over the lazy dog\n" * 10


@app.route("/head-test", methods=["GET", "HEAD"])
def head_test():
    # Flask answers HEAD from the GET view with the same Content-Length and
    # gunicorn drops the body.
    return Response(HEAD_TEST_BODY, mimetype="text/plain")


@app.route("/slow", methods=["GET", "POST"])
def slow():
    ms = int(request.args.get("ms", "1000"))
    time.sleep(ms / 1000.0)
    return jsonify({"slept_ms": ms})


@app.route("/set-cookie")
def set_cookie():
    resp = jsonify({"ok": True})
    resp.set_cookie("session", "abc123", httponly=True)
    resp.set_cookie("theme", "dark")
    return resp


@app.route("/count")
def count():
    path = request.args.get("path", "")
    with _lock:
        n = sum(1 for line in _seen if line.split(" ")[1].split("?")[0] == path)
    return jsonify({"path": path, "count": n})


@app.route("/seen")
def seen():
    with _lock:
        return jsonify(list(_seen))


@app.route("/seen/clear", methods=["POST", "GET"])
def seen_clear():
    with _lock:
        _seen.clear()
    return jsonify({"ok": True})


@app.route("/gate/stream")
def gate_stream():
    key = request.args["key"]
    ev = _gate(key)

    def gen():
        yield b"first\n"
        ev.wait(30)
        yield b"second\n"

    return Response(stream_with_context(gen()), mimetype="text/plain")


@app.route("/gate/release")
def gate_release():
    _gate(request.args["key"]).set()
    return jsonify({"ok": True})


@app.route("/gate/upload", methods=["POST", "PUT"])
def gate_upload():
    key = request.args["key"]
    h = hashlib.sha256()
    n = 0
    stream = request.stream
    while True:
        piece = stream.read(1024)
        if not piece:
            break
        n += len(piece)
        h.update(piece)
        with _lock:
            _progress[key] = n
    return jsonify({"body_len": n, "body_sha256": h.hexdigest()})


@app.route("/gate/progress")
def gate_progress():
    with _lock:
        return jsonify({"bytes": _progress.get(request.args["key"], 0)})
