"""Hardening app: a Flask upstream that misbehaves the way real apps do, for
the response-hardening tests (test_hardening.py) and the browser CSP test
(tests/browser). Run it like the echo app:

    /usr/bin/python3 -m gunicorn -w 1 -k gthread --threads 8 \
        --bind 127.0.0.1:8000 --chdir tests/integration/apps flask_hardening:app

The whole app is wrapped in Werkzeug's DebuggedApplication (evalex off), so
a request with ?__debugger__=yes&cmd=resource&f=style.css really is
answered by the debugger when it reaches the app: the tests prove moat
stops it first.

Endpoints:

    /page                 a small HTML page, no security headers of its own
    /own-headers          sets its own CSP, X-Frame-Options, Referrer-Policy,
                          Permissions-Policy, COOP, CORP
    /banners              X-Powered-By, X-Runtime, X-Generator, X-Version
                          (gunicorn adds Server)
    /cookies              several Set-Cookie: plain, csrftoken, own SameSite,
                          own Secure/HttpOnly, quoted value, and malformed ones
    /boom                 raises: the debugger's 500 traceback page
    /status500            a 500 whose body is a traceback text
    /status503            a 503 with a JSON body that names internals
    /tb404                a 404 whose body is "Traceback (most recent call last)"
    /tb404-chunked        the same, streamed, the marker split over two chunks
    /debugger404          a 404 whose body is a real Werkzeug debugger page
    /starlette404         a 404 with Starlette's debug-page markup
    /plain404             an ordinary 404 ("no such thing"): passes through
    /plain403             an ordinary 403 JSON body: passes through
    /big404?n=            an ordinary 404 of n bytes
    /csp-test             the browser test page: an inline <script> (must be
                          blocked by the default CSP) and <script src=/static/app.js>
    /static/app.js        the 'self' script: sets a marker in the DOM
    /csp-test-appcsp      the same page, with the app's own loose CSP
                          (default-src * 'unsafe-inline' 'unsafe-eval'):
                          moat's policy must still block the inline script
    /set-headers?h=HEX    answers with each [name, value] pair of the JSON
                          list HEX encodes as a response header field,
                          repeated names as repeated fields, in order (an
                          app that sets weak security headers; hex keeps the
                          WAF out of the test)
    /set-cookies?h=HEX    one Set-Cookie field per string of the JSON list
    /count?path=P, /seen, /seen/clear   as in the echo app
"""

import json
import sys
import threading

from flask import Flask, Response, jsonify, request
from werkzeug.debug import DebuggedApplication

app = Flask(__name__, static_folder=None)
app.config["PROPAGATE_EXCEPTIONS"] = True  # exceptions reach the debugger middleware

_lock = threading.Lock()
_seen = []


class _Recorder:
    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        with _lock:
            _seen.append("%s %s" % (environ.get("REQUEST_METHOD", ""),
                                    environ.get("RAW_URI") or environ.get("PATH_INFO", "")))
        return self.wsgi_app(environ, start_response)


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>hardening page</title></head>
<body><h1>hello from flask</h1></body></html>
"""


@app.route("/page")
def page():
    return Response(PAGE, mimetype="text/html")


OWN_CSP = "default-src 'none'; img-src 'self'"


@app.route("/own-headers")
def own_headers():
    resp = Response(PAGE, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = OWN_CSP
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Permissions-Policy"] = "camera=(self)"
    resp.headers["Cross-Origin-Opener-Policy"] = "unsafe-none"
    resp.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@app.route("/banners")
def banners():
    resp = Response(PAGE, mimetype="text/html")
    resp.headers["X-Powered-By"] = "Flask/2.2 Python/3.11"
    resp.headers["X-Runtime"] = "0.0042"
    resp.headers["X-Generator"] = "hand-written"
    resp.headers["X-Version"] = "1.2.3"
    resp.headers["X-Kept"] = "yes"
    return resp


# name -> raw Set-Cookie value; the tests parse what arrives by name.
COOKIES_OK = [
    ("plain", "plain=abc123; Path=/"),
    ("csrftoken", "csrftoken=tok123; Path=/"),
    ("strict", "strict=s1; Path=/; SameSite=Strict"),
    ("ownflags", "ownflags=o1; Path=/; Secure; HttpOnly; SameSite=None"),
    ("quoted", 'quoted="qv1"'),
    ("lowercase", "lowercase=l1; path=/; httponly; samesite=lax"),
]
COOKIES_BAD = [
    "novalue",                   # no '='
    "=emptyname",                # empty name
    "bad name=1",                # space in the name
    "bad(name=1",                # separator in the name
    "spacey=a b; Path=/",        # space inside the value
    'dq=a"b',                    # '"' inside the value
]


@app.route("/cookies")
def cookies():
    resp = jsonify({"ok": True})
    for _, raw in COOKIES_OK:
        resp.headers.add("Set-Cookie", raw)
    for raw in COOKIES_BAD:
        resp.headers.add("Set-Cookie", raw)
    return resp


@app.route("/boom")
def boom():
    raise RuntimeError("secret detail: postgres://admin:hunter2@db/prod")


TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/views.py", line 42, in index
    cursor.execute(sql)
psycopg2.OperationalError: password authentication failed for user "admin"
"""


@app.route("/status500")
def status500():
    return Response(TRACEBACK, status=500, mimetype="text/plain")


@app.route("/status503")
def status503():
    return Response('{"error": "db down", "dsn": "postgres://admin:hunter2@db/prod"}',
                    status=503, mimetype="application/json",
                    headers={"Retry-After": "30", "X-Powered-By": "Flask"})


@app.route("/tb404")
def tb404():
    return Response("Not found.\n\n" + TRACEBACK, status=404, mimetype="text/plain")


def _debugger_html():
    try:
        raise KeyError("secret detail: hunter2")
    except KeyError as exc:
        try:
            from werkzeug.debug.tbtools import DebugTraceback
            return DebugTraceback(exc).render_debugger_html(
                evalex=False, secret="not-a-secret", evalex_trusted=False)
        except Exception:  # noqa: BLE001 - other Werkzeug versions: a look-alike page
            return ("<!doctype html><title>KeyError // Werkzeug Debugger</title>"
                    "<div class=traceback><h3>Traceback <em>(most recent call last)</em></h3>"
                    "</div><script src=\"?__debugger__=yes&amp;cmd=resource&amp;f=debugger.js\">"
                    "</script>")


@app.route("/tb404-chunked")
def tb404_chunked():
    # streamed (chunked to HTTP/1.1 peers), the marker split across two chunks
    def gen():
        yield b"Not found.\n\nTraceback (most rec"
        yield b"ent call last):\n" + TRACEBACK.split("\n", 1)[1].encode()
    return Response(gen(), status=404, mimetype="text/plain")


@app.route("/debugger404")
def debugger404():
    return Response(_debugger_html(), status=404, mimetype="text/html")


STARLETTE_PAGE = """<html><head><title>Starlette Debugger</title></head><body>
<h1>500 Server Error</h1><h2>KeyError: 'secret'</h2>
<div class="traceback-container"><p class="traceback-title">Traceback</p></div>
</body></html>"""


@app.route("/starlette404")
def starlette404():
    return Response(STARLETTE_PAGE, status=404, mimetype="text/html")


@app.route("/plain404")
def plain404():
    return Response("no such thing\n", status=404, mimetype="text/plain",
                    headers={"X-From-App": "yes"})


@app.route("/plain403")
def plain403():
    return Response('{"detail": "forbidden"}', status=403, mimetype="application/json",
                    headers={"X-From-App": "yes"})


@app.route("/big404")
def big404():
    n = int(request.args.get("n", "1000"))
    return Response(b"x" * n, status=404, mimetype="text/plain")


CSP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>csp test</title></head>
<body>
<p id="status">loading</p>
<script>document.body.setAttribute('data-inline-ran', 'yes');</script>
<script src="/static/app.js"></script>
</body></html>
"""

APP_JS = "document.body.setAttribute('data-self-ran', 'yes');\n"


@app.route("/csp-test")
def csp_test():
    return Response(CSP_PAGE, mimetype="text/html")


@app.route("/static/app.js")
def app_js():
    return Response(APP_JS, mimetype="text/javascript")


LOOSE_CSP = "default-src * 'unsafe-inline' 'unsafe-eval'"


@app.route("/csp-test-appcsp")
def csp_test_appcsp():
    resp = Response(CSP_PAGE, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = LOOSE_CSP
    return resp


@app.route("/set-headers")
def set_headers():
    resp = Response("headers set\n", mimetype="text/plain")
    for name, value in json.loads(bytes.fromhex(request.args["h"])):
        resp.headers.add(name, value)
    return resp


@app.route("/set-cookies")
def set_cookies():
    resp = Response("cookies set\n", mimetype="text/plain")
    for value in json.loads(bytes.fromhex(request.args["h"])):
        resp.headers.add("Set-Cookie", value)
    return resp


@app.route("/count")
def count():
    path = request.args.get("path", "")
    with _lock:
        n = sum(1 for line in _seen if line.split(" ", 1)[1].split("?")[0] == path)
    return jsonify({"path": path, "count": n})


@app.route("/seen")
def seen():
    with _lock:
        return jsonify(list(_seen))


@app.route("/seen/clear")
def seen_clear():
    with _lock:
        _seen.clear()
    return jsonify({"ok": True})


app.wsgi_app = _Recorder(DebuggedApplication(app.wsgi_app, evalex=False))

if __name__ == "__main__":
    sys.exit("run it under gunicorn (see the docstring)")
