"""Response hardening through real apps under gunicorn: a Flask app
(apps/flask_hardening.py, wrapped in Werkzeug's debugger middleware) and a
Django project with DEBUG = True (apps/django_app, Debian's python3-django).

Security headers with their defaults, the app's own values kept (or
replaced with headers.override), CSP report-only, banners removed; every
Set-Cookie hardened (HttpOnly except csrftoken, SameSite=Lax unless set,
Secure over HTTPS or a trusted proxy's X-Forwarded-Proto: https) and
malformed ones dropped; 5xx pages and Python debug pages replaced by moat's
generic page (status kept, request id, JSON on request); Werkzeug debugger
requests refused; moat's own error pages carry the same headers."""

import http.client
import json
import re
import ssl
import subprocess

import pytest
import requests

from conftest import PYTHON, Gunicorn
from helpers import HOST, Conn, free_port, port_accepts, wait_for
from raw_upstreams import respond

DEFAULTS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
                               "media-src 'self'; manifest-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'self'; "
                               "report-uri /.moat/csp-report",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "accelerometer=(), camera=(), geolocation=(), gyroscope=(), "
                          "magnetometer=(), microphone=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
BANNERS = ["Server", "X-Powered-By", "X-Runtime", "X-Generator", "X-Version"]
# What no error page may show: framework names, tracebacks, settings, secrets.
LEAKS = ["traceback", "hunter2", "secret", "werkzeug", "django", "urlconf", "debug",
         "postgres", "runtimeerror", "keyerror", "gunicorn", "starlette", "csrf"]


def django_available():
    try:
        r = subprocess.run([PYTHON, "-c", "import django"], capture_output=True, timeout=30)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# ------------------------------------------------------------------ apps

class App:
    """An app under gunicorn plus the paths the tests use on it."""

    def __init__(self, name, gunicorn, paths):
        self.name = name
        self.g = gunicorn
        self.paths = paths

    def url(self):
        return self.g.url()


@pytest.fixture(scope="module")
def flask_app():
    g = Gunicorn(module="flask_hardening:app", unix=False, name="hardening").start()
    yield App("flask", g, {
        "page": "/page", "own_csp": "/own-headers", "cookies": "/cookies",
        "errors_5xx": ["/boom", "/status500", "/status503"],
        "debug_4xx": ["/tb404", "/tb404-chunked", "/debugger404", "/starlette404"],
        "plain_4xx": [("/plain404", 404, b"no such thing\n"),
                      ("/plain403", 403, b'{"detail": "forbidden"}')],
    })
    g.stop()


@pytest.fixture(scope="module")
def django_app():
    if not django_available():
        pytest.skip("Django is not installed for %s (Debian package python3-django, "
                    "listed in deps/debian.txt)" % PYTHON)
    g = Gunicorn(module="django_app.wsgi", unix=False, name="django").start()
    yield App("django", g, {
        "page": "/page", "own_csp": "/own-csp", "cookies": "/cookies",
        "errors_5xx": ["/boom"],
        "debug_4xx": ["/missing", "/no-such-url", "/page/extra"],
        "plain_4xx": [("/plain404", 404, b"nothing here\n")],
    })
    g.stop()


@pytest.fixture(scope="module", params=["flask", "django"])
def app(request):
    return request.getfixturevalue(request.param + "_app")


@pytest.fixture(scope="module")
def certs(moat_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("hcerts")
    cert, key = d / "c.pem", d / "k.pem"
    r = subprocess.run([moat_bin, "cert", "selfsigned", "--cert", str(cert), "--key", str(key),
                        "localhost", "127.0.0.1"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return cert, key


_gateways = {}


def gateways(module_moat, app, certs):
    """get(kind) -> moat in front of app: "plain" (defaults), "tls" (HTTPS
    on .tls_port), "trusting" (trusts 127.0.0.1's X-Forwarded-*),
    "override" (headers.override), "report_only"; started once per module."""
    def get(kind="plain"):
        key = (app.name, kind, id(module_moat))
        if key in _gateways and _gateways[key].alive():
            return _gateways[key]
        over = {}
        if kind == "tls":
            tls_port = free_port()
            over["tls"] = {"listen": ["%s:%d" % (HOST, tls_port)],
                           "cert": [str(certs[0])], "key": [str(certs[1])]}
        elif kind == "trusting":
            over["trusted_proxies"] = ["127.0.0.1/32"]
        elif kind == "override":
            over["headers"] = {"override": True}
        elif kind == "report_only":
            over["headers"] = {"csp_report_only": True}
        m = module_moat(app.url(), **over)
        if kind == "tls":
            m.tls_port = tls_port
            wait_for(lambda: port_accepts(tls_port), 15, what="moat's TLS listener")
        _gateways[key] = m
        return m
    return get


@pytest.fixture
def gw(module_moat, app, certs):
    """gateways() for the current app (Flask, then Django)."""
    return gateways(module_moat, app, certs)


@pytest.fixture
def fgw(module_moat, flask_app, certs):
    return gateways(module_moat, flask_app, certs)


@pytest.fixture
def dgw(module_moat, django_app, certs):
    return gateways(module_moat, django_app, certs)


def raw_get(port, path, headers=None, host="127.0.0.1", method="GET"):
    with Conn(port) as c:
        return c.request(method, path, headers=headers, host=host)


def tls_get(m, certs, path, headers=None):
    return requests.get("https://127.0.0.1:%d%s" % (m.tls_port, path), headers=headers or {},
                        verify=str(certs[0]), timeout=20, allow_redirects=False)


def parse_cookies(values):
    """{name: (value, [attributes as written])} from raw Set-Cookie values."""
    out = {}
    for v in values:
        parts = [p.strip() for p in v.split(";")]
        name, _, value = parts[0].partition("=")
        assert name not in out, "duplicate cookie %s" % name
        out[name] = (value, [p for p in parts[1:] if p])
    return out


def attrs_lower(attrs):
    return [a.lower() for a in attrs]


def assert_generic_page(status, headers, body, want_status, json=False):
    assert status == want_status, (status, body[:300])
    rid = headers.get("X-Request-Id")
    assert rid, "no X-Request-Id"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    assert rid in text, "the page shows the request id"
    low = text.lower()
    for leak in LEAKS:
        assert leak not in low, "error page leaks %r: %s" % (leak, text[:300])
    if json:
        assert headers.get("Content-Type", "").startswith("application/json")
    else:
        assert headers.get("Content-Type", "").startswith("text/html")
    for name, value in DEFAULTS.items():
        assert headers.get(name) == value, (name, headers.get(name))
    for b in BANNERS:
        assert b not in headers, "banner %s on an error page" % b


class H(dict):
    """Case-insensitive view of a RawResponse's headers (first value)."""

    def __init__(self, raw):
        super().__init__()
        self.raw = raw
        for k, v in raw.headers:
            self.setdefault(k.lower(), v)

    def get(self, k, d=None):
        return super().get(k.lower(), d)

    def __contains__(self, k):
        return super().__contains__(k.lower())


# ------------------------------------------------------- security headers

def test_security_headers_defaults(gw, app):
    r = raw_get(gw().port, app.paths["page"])
    assert r.status == 200
    h = H(r)
    for name, value in DEFAULTS.items():
        if app.name == "django" and name == "Referrer-Policy":
            # Django's SecurityMiddleware sets its own (same-origin): kept
            assert h.get(name) == "same-origin"
            continue
        assert h.get(name) == value, (name, h.get(name))
        assert len(r.header_all(name)) == 1, name
    assert "Strict-Transport-Security" not in h, "no HSTS over plain HTTP"


def test_banners_removed(gw, app):
    direct = requests.get(app.url() + app.paths["page"], timeout=10)
    assert direct.headers.get("Server", "").startswith("gunicorn"), "control: the app sends one"
    r = raw_get(gw().port, app.paths["page"])
    for b in BANNERS:
        assert r.header(b) is None, b


def test_flask_banners_removed(fgw, flask_app):
    direct = requests.get(flask_app.url() + "/banners", timeout=10)
    assert direct.headers.get("X-Powered-By")
    r = raw_get(fgw().port, "/banners")
    for b in BANNERS:
        assert r.header(b) is None, b
    assert r.header("X-Kept") == "yes"


def test_apps_own_headers_only_tighten(gw, app):
    """The app's own CSP is kept and moat's is sent beside it; of the other
    headers the stricter value goes out, once."""
    direct = requests.get(app.url() + app.paths["own_csp"], timeout=10)
    own = direct.headers["Content-Security-Policy"]
    r = raw_get(gw().port, app.paths["own_csp"])
    assert r.header_all("Content-Security-Policy") == [own, DEFAULTS["Content-Security-Policy"]]
    if app.name == "flask":
        assert r.header_all("X-Frame-Options") == ["DENY"], "SAMEORIGIN is weaker"
        assert r.header_all("Referrer-Policy") == ["no-referrer"], "stricter: kept"
        assert r.header_all("Permissions-Policy") == [DEFAULTS["Permissions-Policy"]], \
            "camera=(self) is weaker than moat's camera=()"
        assert r.header_all("Cross-Origin-Opener-Policy") == ["same-origin"]
        assert r.header_all("Cross-Origin-Resource-Policy") == ["same-origin"]
        assert r.header_all("X-Content-Type-Options") == ["nosniff"]
    else:
        assert r.header_all("Referrer-Policy") == ["same-origin"]
        assert r.header_all("X-Frame-Options") == ["DENY"]


def test_override_replaces_apps_headers(gw, app):
    r = raw_get(gw("override").port, app.paths["own_csp"])
    assert r.status == 200
    for name, value in DEFAULTS.items():
        assert r.header_all(name) == [value], (name, r.header_all(name))


def test_csp_report_only(gw, app):
    r = raw_get(gw("report_only").port, app.paths["page"])
    assert r.header("Content-Security-Policy") is None
    assert r.header("Content-Security-Policy-Report-Only") == DEFAULTS["Content-Security-Policy"]
    assert r.header("X-Frame-Options") == "DENY"


def test_header_settings(moat, flask_app):
    """Custom values, "off", "" and nosniff = false."""
    m = moat(flask_app.url(), headers={
        "csp": "default-src 'none'", "frame_options": "off", "nosniff": False,
        "referrer_policy": "no-referrer", "permissions_policy": "", "coop": "",
        "corp": "same-site", "remove": ["X-Kept", "Server"]})
    r = raw_get(m.port, "/banners")
    # moat's report endpoint is added to a configured policy (headers.csp_report)
    assert r.header("Content-Security-Policy") == \
        "default-src 'none'; report-uri /.moat/csp-report"
    assert r.header("X-Frame-Options") is None
    assert r.header("X-Content-Type-Options") is None
    assert r.header("Referrer-Policy") == "no-referrer"
    assert r.header("Permissions-Policy") is None
    assert r.header("Cross-Origin-Opener-Policy") is None
    assert r.header("Cross-Origin-Resource-Policy") == "same-site"
    assert r.header("X-Kept") is None
    assert r.header("Server") is None


def test_header_values_per_path(moat, flask_app):
    """[[headers.paths]]: the first entry whose prefix starts the normalised
    path sets its keys; the keys it leaves out keep [headers]' values."""
    admin_csp = "default-src 'self'; script-src 'self' 'unsafe-inline'"
    m = moat(flask_app.url(), headers={
        "referrer_policy": "no-referrer",
        "paths": [
            {"path": "/page", "csp": admin_csp, "frame_options": "SAMEORIGIN"},
            {"path": "/pa", "csp": "default-src 'none'", "coop": ""},
            {"path": "/banners", "frame_options": "off", "corp": "cross-origin"},
        ]})
    for target in ["/page", "/%70age", "/./page", "//page"]:
        r = raw_get(m.port, target)
        assert r.status == 200, target
        assert r.header("Content-Security-Policy") == \
            admin_csp + "; report-uri /.moat/csp-report", target
        assert r.header("X-Frame-Options") == "SAMEORIGIN", target
        assert r.header("Referrer-Policy") == "no-referrer", "inherited from [headers]"
        assert r.header("Cross-Origin-Opener-Policy") == "same-origin", "first match only"
    r = raw_get(m.port, "/banners")
    assert r.header("X-Frame-Options") is None
    assert r.header("Cross-Origin-Resource-Policy") == "cross-origin"
    assert r.header("Content-Security-Policy") == DEFAULTS["Content-Security-Policy"]
    r = raw_get(m.port, "/count")
    assert r.header("X-Frame-Options") == "DENY"
    assert r.header("Content-Security-Policy") == DEFAULTS["Content-Security-Policy"]
    assert r.header("Cross-Origin-Resource-Policy") == "same-origin"


def test_https_adds_hsts(gw, app, certs):
    r = tls_get(gw("tls"), certs, app.paths["page"])
    assert r.status_code == 200
    assert r.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert r.headers["Content-Security-Policy"] == DEFAULTS["Content-Security-Policy"]


# ------------------------------- the app cannot weaken moat's headers
# (issue 13). The Flask app's /set-headers sends each query pair as a
# response field, repeated names as repeated fields: every field the client
# gets is read off the wire (raw socket, http.client over TLS), not from a
# merged dict.

MOAT_HSTS = "max-age=63072000"  # includeSubDomains is opt-in
MOAT_CSP = DEFAULTS["Content-Security-Policy"]
MOAT_PP = DEFAULTS["Permissions-Policy"]

# (case id, fields the app sends, header name, every field the client must get)
WEAK_HEADERS = [
    ("csp-loose", [("Content-Security-Policy", "default-src * 'unsafe-inline' 'unsafe-eval'")],
     "Content-Security-Policy", ["default-src * 'unsafe-inline' 'unsafe-eval'", MOAT_CSP]),
    ("csp-two", [("Content-Security-Policy", "script-src *"),
                 ("Content-Security-Policy", "img-src *")],
     "Content-Security-Policy", ["script-src *", "img-src *", MOAT_CSP]),
    ("csp-report-only-kept", [("Content-Security-Policy-Report-Only", "default-src *")],
     "Content-Security-Policy", [MOAT_CSP]),
    ("nosniff-sniff", [("X-Content-Type-Options", "sniff")],
     "X-Content-Type-Options", ["nosniff"]),
    ("nosniff-twice", [("X-Content-Type-Options", "nosniff"), ("X-Content-Type-Options", "x")],
     "X-Content-Type-Options", ["nosniff"]),
    ("xfo-allow-from", [("X-Frame-Options", "ALLOW-FROM https://evil.example")],
     "X-Frame-Options", ["DENY"]),
    ("xfo-allowall", [("X-Frame-Options", "ALLOWALL")], "X-Frame-Options", ["DENY"]),
    ("xfo-sameorigin", [("X-Frame-Options", "SAMEORIGIN")], "X-Frame-Options", ["DENY"]),
    ("xfo-two", [("X-Frame-Options", "DENY"), ("X-Frame-Options", "SAMEORIGIN")],
     "X-Frame-Options", ["DENY"]),
    ("xfo-deny-lower", [("X-Frame-Options", "deny")], "X-Frame-Options", ["DENY"]),
    ("xfo-name-lowercase", [("x-frame-options", "ALLOWALL")], "X-Frame-Options", ["DENY"]),
    ("referrer-unsafe-url", [("Referrer-Policy", "unsafe-url")],
     "Referrer-Policy", ["strict-origin-when-cross-origin"]),
    ("referrer-downgrade", [("Referrer-Policy", "no-referrer-when-downgrade")],
     "Referrer-Policy", ["strict-origin-when-cross-origin"]),
    ("referrer-origin", [("Referrer-Policy", "origin")],
     "Referrer-Policy", ["strict-origin-when-cross-origin"]),
    # a list: browsers use the last token they know
    ("referrer-list-last-weak", [("Referrer-Policy", "no-referrer, unsafe-url")],
     "Referrer-Policy", ["strict-origin-when-cross-origin"]),
    ("referrer-two-fields", [("Referrer-Policy", "no-referrer"), ("Referrer-Policy", "unsafe-url")],
     "Referrer-Policy", ["strict-origin-when-cross-origin"]),
    ("referrer-unknown", [("Referrer-Policy", "never-ever")],
     "Referrer-Policy", ["strict-origin-when-cross-origin"]),
    ("coop-unsafe-none", [("Cross-Origin-Opener-Policy", "unsafe-none")],
     "Cross-Origin-Opener-Policy", ["same-origin"]),
    ("coop-allow-popups", [("Cross-Origin-Opener-Policy", "same-origin-allow-popups")],
     "Cross-Origin-Opener-Policy", ["same-origin"]),
    ("corp-cross-origin", [("Cross-Origin-Resource-Policy", "cross-origin")],
     "Cross-Origin-Resource-Policy", ["same-origin"]),
    ("corp-same-site", [("Cross-Origin-Resource-Policy", "same-site")],
     "Cross-Origin-Resource-Policy", ["same-origin"]),
    # Permissions-Policy: a dictionary whose last duplicate key wins; a
    # second field could override moat's members or break the parse, so one
    # field goes out: moat's members, then the app's for other features
    ("pp-loosen", [("Permissions-Policy", "camera=*, geolocation=(self \"https://x.example\")")],
     "Permissions-Policy", [MOAT_PP]),
    ("pp-add-feature", [("Permissions-Policy", "camera=*, fullscreen=()")],
     "Permissions-Policy", [MOAT_PP + ", fullscreen=()"]),
    ("pp-broken-members", [("Permissions-Policy", "usb=*, (bad, fullscreen=(self")],
     "Permissions-Policy", [MOAT_PP]),
    ("pp-two-fields", [("Permissions-Policy", "fullscreen=()"), ("Permissions-Policy", "camera=*")],
     "Permissions-Policy", [MOAT_PP + ", fullscreen=()"]),
    ("pp-last-duplicate", [("Permissions-Policy", "autoplay=(), autoplay=(self)")],
     "Permissions-Policy", [MOAT_PP + ", autoplay=(self)"]),
]

# The app's value as strict as moat's or stricter: it goes out (once).
STRICTER_KEPT = [
    ("csp-same-as-moat", [("Content-Security-Policy", MOAT_CSP)],
     "Content-Security-Policy", [MOAT_CSP]),
    ("csp-report-only-kept-ro", [("Content-Security-Policy-Report-Only", "default-src *")],
     "Content-Security-Policy-Report-Only", ["default-src *"]),
    ("referrer-stricter", [("Referrer-Policy", "no-referrer")], "Referrer-Policy", ["no-referrer"]),
    ("referrer-same-origin", [("Referrer-Policy", "same-origin")],
     "Referrer-Policy", ["same-origin"]),
    ("referrer-list-last-strict", [("Referrer-Policy", "unsafe-url, no-referrer, bogus")],
     "Referrer-Policy", ["no-referrer"]),
]

# HSTS over HTTPS: (case id, the app's fields, what the client must get)
WEAK_HSTS = [
    ("off", ["max-age=0"], [MOAT_HSTS]),
    ("shorter", ["max-age=31536000; includeSubDomains; preload"],
     ["max-age=63072000; includeSubDomains; preload"]),
    ("shorter-no-sub", ["max-age=300"], [MOAT_HSTS]),
    ("longer", ["max-age=126144000"], ["max-age=126144000"]),
    ("longer-preload", ['max-age="100000000"; preload'],
     ["max-age=100000000; preload"]),
    ("invalid", ["max-age=soon"], [MOAT_HSTS]),
    ("twice-max-age", ["max-age=999999999; max-age=0"], [MOAT_HSTS]),
    ("two-fields", ["max-age=0", "max-age=999999999"], [MOAT_HSTS]),
    ("case", ["MAX-AGE=0; INCLUDESUBDOMAINS"], ["max-age=63072000; includeSubDomains"]),
]


def app_sets(fields):
    return "/set-headers?h=" + json.dumps(fields).encode().hex()


def tls_fields(m, certs, path):
    """Every (name, value) field of the response, over TLS."""
    ctx = ssl.create_default_context(cafile=str(certs[0]))
    c = http.client.HTTPSConnection("127.0.0.1", m.tls_port, context=ctx, timeout=20)
    try:
        c.request("GET", path)
        resp = c.getresponse()
        resp.read()
        return resp.status, resp.getheaders()
    finally:
        c.close()


def all_of(fields, name):
    return [v for k, v in fields if k.lower() == name.lower()]


@pytest.mark.parametrize("fields,name,want", [c[1:] for c in WEAK_HEADERS],
                         ids=[c[0] for c in WEAK_HEADERS])
def test_app_cannot_weaken_header(fgw, flask_app, fields, name, want):
    r = raw_get(fgw().port, app_sets(fields))
    assert r.status == 200
    assert r.header_all(name) == want, r.headers


def test_stricter_app_values_kept(fgw, flask_app):
    for case, fields, name, want in STRICTER_KEPT:
        r = raw_get(fgw().port, app_sets(fields))
        assert r.status == 200
        assert r.header_all(name) == want, (case, r.headers)


@pytest.mark.parametrize("fields,want", [c[1:] for c in WEAK_HSTS], ids=[c[0] for c in WEAK_HSTS])
def test_app_cannot_weaken_hsts(fgw, flask_app, certs, fields, want):
    status, got = tls_fields(fgw("tls"), certs,
                             app_sets([("strict-transport-security", v) for v in fields]))
    assert status == 200
    assert all_of(got, "Strict-Transport-Security") == want, got


def test_weak_headers_over_https(fgw, flask_app, certs):
    """Every weak value at once, over TLS (where HSTS is sent too)."""
    weak = [("Strict-Transport-Security", "max-age=0"),
            ("Content-Security-Policy", "default-src * 'unsafe-inline' 'unsafe-eval'"),
            ("Referrer-Policy", "unsafe-url"), ("X-Content-Type-Options", "sniff"),
            ("X-Frame-Options", "ALLOW-FROM https://evil.example"),
            ("Cross-Origin-Opener-Policy", "unsafe-none"),
            ("Cross-Origin-Resource-Policy", "cross-origin"), ("Permissions-Policy", "camera=*")]
    status, got = tls_fields(fgw("tls"), certs, app_sets(weak))
    assert status == 200
    assert all_of(got, "Strict-Transport-Security") == [MOAT_HSTS]
    assert all_of(got, "Content-Security-Policy") == [weak[1][1], MOAT_CSP]
    for name, value in DEFAULTS.items():
        if name != "Content-Security-Policy":
            assert all_of(got, name) == [value], (name, got)


def test_stricter_app_values_kept_against_looser_settings(moat, flask_app):
    """Where the operator chose a looser value than the app's, the app's
    stricter one goes out (COOP with its parameters, as the app wrote it)."""
    m = moat(flask_app.url(), headers={
        "frame_options": "SAMEORIGIN", "referrer_policy": "origin",
        "coop": "same-origin-allow-popups", "corp": "cross-origin",
        "permissions_policy": "camera=(self), microphone=()"})
    cases = [
        ("X-Frame-Options", "DENY", ["DENY"]),
        ("X-Frame-Options", "ALLOW-FROM https://evil.example", ["SAMEORIGIN"]),
        ("Referrer-Policy", "strict-origin", ["strict-origin"]),
        ("Referrer-Policy", "unsafe-url", ["origin"]),
        ("Cross-Origin-Opener-Policy", 'same-origin; report-to="coop"',
         ['same-origin; report-to="coop"']),
        ("Cross-Origin-Opener-Policy", "Same-Origin", ["same-origin-allow-popups"]),
        ("Cross-Origin-Opener-Policy", "same-origin, same-origin", ["same-origin-allow-popups"]),
        ("Cross-Origin-Resource-Policy", "same-site", ["same-site"]),
        ("Permissions-Policy", "camera=()", ["camera=(), microphone=()"]),
        ("Permissions-Policy", "microphone=*", ["camera=(self), microphone=()"]),
    ]
    for name, value, want in cases:
        r = raw_get(m.port, app_sets([(name, value)]))
        assert r.header_all(name) == want, (name, value, r.header_all(name))


def test_override_sends_moats_values_only(fgw, flask_app, certs):
    weak = [("Content-Security-Policy", "default-src *"), ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "SAMEORIGIN"), ("Permissions-Policy", "fullscreen=()")]
    r = raw_get(fgw("override").port, app_sets(weak))
    assert r.header_all("Content-Security-Policy") == [MOAT_CSP]
    assert r.header_all("Referrer-Policy") == [DEFAULTS["Referrer-Policy"]], \
        "override: moat's value even where the app's is stricter"
    assert r.header_all("X-Frame-Options") == ["DENY"]
    assert r.header_all("Permissions-Policy") == [MOAT_PP]


def test_report_only_csp_beside_apps_enforced_one(fgw, flask_app):
    r = raw_get(fgw("report_only").port,
                app_sets([("Content-Security-Policy", "default-src *"),
                          ("Content-Security-Policy-Report-Only", "img-src *")]))
    assert r.header_all("Content-Security-Policy") == ["default-src *"]
    assert r.header_all("Content-Security-Policy-Report-Only") == ["img-src *", MOAT_CSP]


# ---------------------------------------------------------------- cookies

def cookies_via(port, path, headers=None):
    r = raw_get(port, path, headers=headers)
    assert r.status == 200, r
    return parse_cookies(r.header_all("Set-Cookie"))


def test_flask_cookies_hardened(fgw, flask_app):
    from flask_hardening import COOKIES_OK
    c = cookies_via(fgw().port, "/cookies")
    assert sorted(c) == sorted(n for n, _ in COOKIES_OK), "malformed cookies dropped"
    a = {n: attrs_lower(c[n][1]) for n in c}
    assert c["plain"][0] == "abc123"
    assert a["plain"] == ["path=/", "httponly", "samesite=lax"]
    assert a["csrftoken"] == ["path=/", "samesite=lax"], "csrftoken stays readable by scripts"
    assert a["strict"].count("samesite=strict") == 1 and "samesite=lax" not in a["strict"]
    assert "httponly" in a["strict"]
    assert a["ownflags"] == ["path=/", "secure", "httponly", "samesite=none"], "left as set"
    assert c["quoted"][0] == '"qv1"' and "httponly" in a["quoted"]
    assert a["lowercase"] == ["path=/", "httponly", "samesite=lax"], "no duplicated flags"
    for n in c:
        if n != "ownflags":
            assert "secure" not in a[n], "no Secure over plain HTTP (%s)" % n


def test_django_cookies_hardened(dgw, django_app):
    c = cookies_via(dgw().port, "/cookies")
    assert sorted(c) == ["csrftoken", "prefs", "sessionid"]
    a = {n: attrs_lower(c[n][1]) for n in c}
    assert a["prefs"] == ["path=/", "httponly", "samesite=lax"]
    assert a["sessionid"].count("httponly") == 1
    assert a["sessionid"].count("samesite=strict") == 1 and "samesite=lax" not in a["sessionid"]
    assert "httponly" not in a["csrftoken"], "Django's csrftoken stays readable (httponly_except)"
    assert a["csrftoken"].count("samesite=lax") == 1
    assert any(x.startswith("expires=") for x in a["csrftoken"]), "attributes kept"
    for n in c:
        assert "secure" not in a[n]


def test_cookies_secure_over_https(gw, app, certs):
    r = tls_get(gw("tls"), certs, app.paths["cookies"])
    assert r.status_code == 200
    values = r.raw.headers.getlist("Set-Cookie")
    c = parse_cookies(values)
    assert c
    for n, (_, attrs) in c.items():
        assert attrs_lower(attrs).count("secure") == 1, (n, attrs)


def test_cookies_secure_only_from_trusted_proxy(gw, app):
    path = app.paths["cookies"]
    # not trusted: the client's own X-Forwarded-Proto is ignored
    c = cookies_via(gw().port, path, {"X-Forwarded-Proto": "https"})
    assert all("secure" not in attrs_lower(a) for n, (_, a) in c.items() if n != "ownflags")
    # a trusted proxy that says https: Secure
    c = cookies_via(gw("trusting").port, path, {"X-Forwarded-Proto": "https"})
    assert all(attrs_lower(a).count("secure") == 1 for _, (_, a) in c.items())
    # a trusted proxy that says http: no Secure
    c = cookies_via(gw("trusting").port, path, {"X-Forwarded-Proto": "http"})
    assert all("secure" not in attrs_lower(a) for n, (_, a) in c.items() if n != "ownflags")


def test_cookie_settings(moat, flask_app):
    m = moat(flask_app.url(), cookies={"httponly": False, "samesite": "Strict",
                                       "httponly_except": []},
             trusted_proxies=["127.0.0.1/32"])
    c = cookies_via(m.port, "/cookies")
    a = {n: attrs_lower(c[n][1]) for n in c}
    assert a["plain"] == ["path=/", "samesite=strict"]
    assert a["csrftoken"] == ["path=/", "samesite=strict"]
    m2 = moat(flask_app.url(), cookies={"samesite": "off", "secure": False,
                                        "httponly_except": ["plain"]},
              trusted_proxies=["127.0.0.1/32"])
    c = cookies_via(m2.port, "/cookies", {"X-Forwarded-Proto": "https"})
    a = {n: attrs_lower(c[n][1]) for n in c}
    assert a["plain"] == ["path=/"]
    assert a["csrftoken"] == ["path=/", "httponly"]


# Cookies browsers would refuse or misread: (id, what the app sets, what the
# client gets over plain HTTP (None: dropped), over HTTPS, the event over
# HTTP, over HTTPS (response.cookie.fixed / response.cookie.dropped / none)).
HS, SS = "; HttpOnly; Secure", "; SameSite=Lax"
COOKIE_CASES = [
    ("samesite-bogus", "a=1; SameSite=Bogus",
     "a=1; HttpOnly" + SS, "a=1" + HS + SS, "fixed", "fixed"),
    ("samesite-bare", "a=1; SameSite",
     "a=1; HttpOnly" + SS, "a=1" + HS + SS, "fixed", "fixed"),
    ("samesite-empty", "a=1; SameSite=",
     "a=1; HttpOnly" + SS, "a=1" + HS + SS, "fixed", "fixed"),
    ("samesite-twice", "a=1; Path=/; SameSite=None; SameSite=Strict",
     "a=1; Path=/; HttpOnly; SameSite=Strict", "a=1; Path=/" + HS + "; SameSite=Strict",
     "fixed", "fixed"),
    ("samesite-valid-and-bogus", "a=1; SameSite=Lax; SameSite=Bogus",
     "a=1; HttpOnly" + SS, "a=1" + HS + SS, "fixed", "fixed"),
    ("samesite-none-no-secure", "a=1; SameSite=None",
     "a=1; HttpOnly" + SS, "a=1; SameSite=None" + HS, "fixed", None),
    ("samesite-none-secure", "a=1; SameSite=None; Secure",
     "a=1; SameSite=None; Secure; HttpOnly", "a=1; SameSite=None; Secure; HttpOnly", None, None),
    ("host-domain", "__Host-id=1; Domain=example.com; Path=/; Secure",
     None, "__Host-id=1; Path=/; Secure; HttpOnly" + SS, "dropped", "fixed"),
    ("host-path", "__Host-id=1; Path=/app; Secure",
     None, "__Host-id=1; Secure; Path=/; HttpOnly" + SS, "dropped", "fixed"),
    ("host-no-path", "__Host-id=1; Secure",
     None, "__Host-id=1; Secure; Path=/; HttpOnly" + SS, "dropped", "fixed"),
    ("host-no-secure", "__Host-id=1; Path=/",
     None, "__Host-id=1; Path=/" + HS + SS, "dropped", "fixed"),
    ("host-all-wrong", "__Host-id=1; Domain=example.com; Path=/a; Path=/b",
     None, "__Host-id=1; Path=/" + HS + SS, "dropped", "fixed"),
    ("secure-no-secure", "__Secure-id=1; Path=/",
     None, "__Secure-id=1; Path=/" + HS + SS, "dropped", "fixed"),
    ("secure-lowercase-prefix", "__secure-id=1",
     None, "__secure-id=1" + HS + SS, "dropped", "fixed"),
    ("host-valid", "__Host-ok=1; Path=/; Secure",
     "__Host-ok=1; Path=/; Secure; HttpOnly" + SS, "__Host-ok=1; Path=/; Secure; HttpOnly" + SS,
     None, None),
    ("secure-valid-domain", "__Secure-ok=1; Secure; Domain=example.com",
     "__Secure-ok=1; Secure; Domain=example.com; HttpOnly" + SS,
     "__Secure-ok=1; Secure; Domain=example.com; HttpOnly" + SS, None, None),
    ("valid-own-samesite", "ok=1; Path=/; samesite=strict",
     "ok=1; Path=/; samesite=strict; HttpOnly", "ok=1; Path=/; samesite=strict" + HS, None, None),
    ("partitioned-no-secure", "p=1; Partitioned",
     None, "p=1; Partitioned" + HS + SS, "dropped", None),
    ("malformed", "bad name=1", None, None, "dropped", "dropped"),
]


def test_invalid_cookie_attributes_mended_or_dropped(moat, flask_app, certs, tmp_path):
    """Every case of COOKIE_CASES through the Flask app, over plain HTTP and
    over HTTPS: what the client gets, and the one security event (or none)
    each request leaves."""
    seclog, tls_seclog = tmp_path / "cookies-sec.log", tmp_path / "cookies-tls-sec.log"
    m = moat(flask_app.url(), log={"security": str(seclog)})
    tls_port = free_port()
    t = moat(flask_app.url(), log={"security": str(tls_seclog)},
             tls={"listen": ["%s:%d" % (HOST, tls_port)], "cert": [str(certs[0])],
                  "key": [str(certs[1])]})
    t.tls_port = tls_port
    wait_for(lambda: port_accepts(tls_port), 15, what="moat's TLS listener")
    want_events = {}
    for case, value, want_http, want_https, ev_http, ev_https in COOKIE_CASES:
        path = "/set-cookies?h=" + json.dumps([value]).encode().hex()
        r = raw_get(m.port, path)
        assert r.status == 200, (case, r.status)
        got = r.header_all("Set-Cookie")
        assert got == ([want_http] if want_http else []), ("http", case, got)
        want_events[r.header("X-Request-Id")] = (case, ev_http)
        status, fields = tls_fields(t, certs, path)
        assert status == 200, (case, status)
        got = all_of(fields, "Set-Cookie")
        assert got == ([want_https] if want_https else []), ("https", case, got)
        want_events[all_of(fields, "X-Request-Id")[0]] = (case, ev_https)
    assert m.stop() == 0 and t.stop() == 0
    events = {}
    for line in (seclog.read_text() + tls_seclog.read_text()).splitlines():
        e = json.loads(line)
        if e.get("request_id") in want_events:
            events.setdefault(e["request_id"], []).append(e)
    for rid, (case, ev) in want_events.items():
        got = [e["event"] for e in events.get(rid, [])]
        assert got == (["response.cookie." + ev] if ev else []), (case, got)
        for e in events.get(rid, []):
            assert e["stage"] == "headers" and e.get("change"), e
            assert "=1" not in json.dumps(e), "the cookie's value never reaches the log"


RAW_COOKIES = [
    (b"ok=1; Path=/", True),
    (b"__Host-id=2; Path=/; Secure", True),
    (b"tab=a\tb", False),            # tab (the one control character HTTP lets through)
    (b"tabattr=1; Path=/\tx", False),# tab inside an attribute
    (b"comma=a,b", False),           # ',' in the value
    (b"semi", False),                # no '='
    (b"=v", False),                  # empty name
    (b" =v", False),                 # blank name
    (b"n@me=1", False),              # separator in the name
    (b"n:me=1", False),              # separator in the name
    (b"sp=a b", False),              # space in the value
    (b"bs=a\\b", False),             # backslash in the value
    (b"dq=a\"b", False),              # '"' inside the value
    (b"utf8=\xc3\xa9", True),        # non-ASCII octets: what browsers accept
    (b"empty=", True),               # an empty value is a valid cookie
]


def raw_cookie_upstream(raw_upstream, values):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
    head += b"".join(b"Set-Cookie: " + v + b"\r\n" for v in values)
    return raw_upstream(respond(head + b"\r\nok", keep_open=True))


def test_malformed_cookies_dropped_raw(moat, raw_upstream):
    up = raw_cookie_upstream(raw_upstream, [v for v, _ in RAW_COOKIES])
    m = moat(up.url)
    r = raw_get(m.port, "/")
    assert r.status == 200 and r.body == b"ok"
    got = [v.split("=", 1)[0] for v in r.header_all("Set-Cookie")]
    want = [v.split(b"=", 1)[0].decode("latin-1") for v, ok in RAW_COOKIES if ok]
    assert got == want, r.header_all("Set-Cookie")
    for v in r.header_all("Set-Cookie"):
        assert v.lower().count("httponly") == 1 and "samesite=lax" in v.lower()


@pytest.mark.parametrize("value", [b"ctl=a\x01b", b"del=a\x7fb", b"attr=1; Path=/\x01x",
                                   b"nul=a\x00b"], ids=["ctl", "del", "ctl-attr", "nul"])
def test_cookie_with_control_bytes_never_reaches_client(moat, raw_upstream, value):
    """Other control bytes: the whole response may be refused (502), or the
    cookie dropped; the cookie is never passed on."""
    up = raw_cookie_upstream(raw_upstream, [b"ok=1", value])
    m = moat(up.url)
    r = raw_get(m.port, "/")
    assert r.status in (200, 502), r
    name = value.split(b"=", 1)[0].decode()
    assert not [v for v in r.header_all("Set-Cookie") if v.startswith(name + "=")]
    if r.status == 200:
        assert [v.split("=", 1)[0] for v in r.header_all("Set-Cookie")] == ["ok"]


# ------------------------------------------------------------ error pages

def test_5xx_replaced(gw, app):
    for path in app.paths["errors_5xx"]:
        direct = requests.get(app.url() + path, timeout=20)
        assert direct.status_code >= 500
        r = requests.get(gw().url + path, timeout=20)
        assert_generic_page(r.status_code, r.headers, r.content, direct.status_code)


def test_5xx_replaced_json(gw, app):
    for path in app.paths["errors_5xx"]:
        r = requests.get(gw().url + path, headers={"Accept": "application/json"}, timeout=20)
        assert_generic_page(r.status_code, r.headers, r.content, r.status_code, json=True)
        j = r.json()
        assert j["status"] == r.status_code and r.status_code >= 500
        assert j["request_id"] == r.headers["X-Request-Id"]
        assert set(j) == {"error", "status", "request_id"}


def test_5xx_replaced_over_https(gw, app, certs):
    path = app.paths["errors_5xx"][0]
    r = tls_get(gw("tls"), certs, path)
    assert_generic_page(r.status_code, r.headers, r.content, 500)
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_debug_4xx_replaced(gw, app):
    for path in app.paths["debug_4xx"]:
        direct = requests.get(app.url() + path, timeout=20)
        assert direct.status_code == 404, (path, direct.status_code)
        assert re.search(r"Traceback|URLconf|DEBUG = True|traceback-container", direct.text), \
            "control: the app's page is a debug page (%s)" % path
        r = requests.get(gw().url + path, timeout=20)
        assert_generic_page(r.status_code, r.headers, r.content, 404)
        rj = requests.get(gw().url + path, headers={"Accept": "application/json"}, timeout=20)
        assert_generic_page(rj.status_code, rj.headers, rj.content, 404, json=True)


def test_django_csrf_debug_403_replaced(dgw, django_app):
    """Django's CSRF failure page in DEBUG mode ("You're seeing the help
    section of this page because you have <code>DEBUG =\\n  True</code>")
    is a debug page too: the client gets moat's generic 403."""
    direct = requests.post(django_app.url() + "/form", data={"a": "1"}, timeout=20)
    assert direct.status_code == 403 and "DEBUG" in direct.text, "control"
    r = requests.post(dgw().url + "/form", data={"a": "1"}, timeout=20)
    assert "DEBUG" not in r.text, "Django's DEBUG help page (CSRF failure) reached the client"
    assert_generic_page(r.status_code, r.headers, r.content, 403)


def test_plain_4xx_pass_through(gw, app):
    for path, status, body in app.paths["plain_4xx"]:
        r = raw_get(gw().port, path)
        assert r.status == status
        assert r.body == body
        assert r.header("X-Request-Id")
        assert r.header("Content-Security-Policy") == DEFAULTS["Content-Security-Policy"]
        if app.name == "flask":
            assert r.header("X-From-App") == "yes"


@pytest.mark.parametrize("n", [100, 200 * 1024, 256 * 1024, 256 * 1024 + 1, 300 * 1024,
                               1024 * 1024])
def test_large_plain_4xx(fgw, flask_app, n):
    """Held up to errors.inspect_bytes (256 KiB) and inspected whole: the
    body arrives intact. A larger one cannot be inspected before it would
    have to be sent: replaced with its status (fail closed; it used to be
    streamed unchecked, and a padded debug page with it)."""
    r = raw_get(fgw().port, "/big404?n=%d" % n)
    if n <= 256 * 1024:
        assert r.status == 404
        assert r.body == b"x" * n
    else:
        assert_generic_page(r.status, H(r), r.body, 404)


def test_large_plain_4xx_with_larger_window(moat, flask_app):
    """errors.inspect_bytes raised for an app with large 4xx bodies: they
    are inspected whole and pass intact."""
    m = moat(flask_app.url(), errors={"inspect_bytes": "2MiB"})
    r = raw_get(m.port, "/big404?n=%d" % (1024 * 1024))
    assert r.status == 404
    assert r.body == b"x" * (1024 * 1024)


def test_connection_usable_after_replaced_page(fgw, flask_app):
    with Conn(fgw().port) as c:
        r = c.request("GET", "/status500")
        assert r.status == 500 and b"Traceback" not in r.body
        if (r.header("Connection") or "").lower() != "close":
            r = c.request("GET", "/tb404")
            assert r.status == 404 and b"Traceback" not in r.body
            r = c.request("GET", "/page")
            assert r.status == 200 and b"hello from flask" in r.body


def test_head_of_replaced_5xx(fgw, flask_app):
    with Conn(fgw().port) as c:
        r = c.request("HEAD", "/status500")
    assert r.status == 500
    assert r.body == b""
    assert r.header("X-Request-Id")


def test_error_settings_off(moat, flask_app):
    m = moat(flask_app.url(), errors={"replace_5xx": False, "debug_pages": False})
    r = raw_get(m.port, "/status500")
    assert r.status == 500 and b"Traceback" in r.body
    r = raw_get(m.port, "/tb404")
    assert r.status == 404 and b"Traceback" in r.body


# ------------------------------------------------------- Werkzeug debugger

DEBUGGER_RESOURCE = "?__debugger__=yes&cmd=resource&f=style.css"


def test_werkzeug_debugger_requests_refused(fgw, flask_app):
    direct = requests.get(flask_app.url() + "/page" + DEBUGGER_RESOURCE, timeout=10)
    assert direct.status_code == 200 and "text/css" in direct.headers["Content-Type"], \
        "control: the debugger answers when a request reaches the app"
    flask_app.g.clear_seen()
    for target in ["/page" + DEBUGGER_RESOURCE, "/" + DEBUGGER_RESOURCE,
                   "/page?x=1&__debugger__=yes&cmd=printpin&s=x",
                   "/console", "/console?x=1", "//console", "/%63onsole", "/console;x",
                   "/a/__debugger__/b", "/%5f%5fdebugger%5f%5f"]:
        r = raw_get(fgw().port, target)
        assert r.status == 404, (target, r)
        assert b"Request id" in r.body and r.header("Content-Type").startswith("text/html")
    assert [l for l in flask_app.g.seen() if not l.startswith("GET /seen")] == []


def test_werkzeug_debugger_encoded_query_refused(fgw, flask_app):
    """Werkzeug decodes the query before it looks for __debugger__, so a
    percent-encoded key reaches the debugger just the same."""
    for query in ["?%5f%5fdebugger%5f%5f=yes&cmd=resource&f=style.css",
                  "?__debugger%5F_=yes&cmd=resource&f=style.css"]:
        direct = requests.get(flask_app.url() + "/page" + query, timeout=10)
        assert "text/css" in direct.headers["Content-Type"], "control: the debugger answers"
        r = raw_get(fgw().port, "/page" + query)
        assert r.status == 404, (query, r.status, r.header("Content-Type"))


# --------------------------------------------- moat's own pages, hardened

def test_moats_own_error_pages_carry_security_headers(moat, flask_app):
    m = moat(flask_app.url(), hosts=["127.0.0.1"])
    for target, host, status in [("/.git/config", "127.0.0.1", 404),
                                 ("/page", "evil.example", 421),
                                 ("/%zz", "127.0.0.1", 400)]:
        r = raw_get(m.port, target, host=host)
        assert_generic_page(r.status, H(r), r.body, status)
    port = free_port()
    dead = moat("http://127.0.0.1:%d" % port)
    r = raw_get(dead.port, "/page")
    assert_generic_page(r.status, H(r), r.body, 502)


def test_app_cannot_weaken_hsts_behind_a_trusted_tls_proxy(moat, flask_app):
    """Behind a TLS-terminating proxy moat trusts, moat adds no HSTS of its own
    (the proxy's job), but an app's max-age=0 would still reach the browser
    over HTTPS: it gets moat's value instead. An app's stricter one stays."""
    m = moat(flask_app.url(), trusted_proxies=["127.0.0.1/32"])
    xfp = {"X-Forwarded-Proto": "https"}
    r = raw_get(m.port, app_sets([("Strict-Transport-Security", "max-age=0")]), headers=xfp)
    assert r.status == 200
    assert r.header_all("Strict-Transport-Security") == [MOAT_HSTS]
    r = raw_get(m.port, app_sets([("Strict-Transport-Security", "max-age=126144000; preload")]),
                headers=xfp)
    assert r.header_all("Strict-Transport-Security") == ["max-age=126144000; preload"]
    r = raw_get(m.port, app_sets([]), headers=xfp)
    assert r.header_all("Strict-Transport-Security") == []
