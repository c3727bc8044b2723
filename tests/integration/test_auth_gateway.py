"""The gateway side of authentication: identity headers a client sends
(Remote-User, X-Forwarded-User, ... as Authelia, oauth2-proxy and Django's
RemoteUserMiddleware read them) never reach the app, whatever their case or
spelling; from a trusted proxy they pass when moat does not authenticate.
Then [[auth.rules]] against the real Flask echo app and Django project under
gunicorn: what a rule covers, method overrides, Cache-Control, and
Expect: 100-continue."""

import collections
import subprocess

import pytest
import requests

from conftest import PYTHON, Gunicorn, serving_dir
from helpers import Conn, toml_dumps

IDENTITY = [
    ("Remote-User", "admin"), ("remote-groups", "admins"), ("REMOTE-EMAIL", "a@x"),
    ("Remote-Name", "Admin"), ("X-Remote-User", "admin"), ("X-Forwarded-User", "admin"),
    ("X-Forwarded-Groups", "admins"), ("X-Forwarded-Email", "a@x"),
    ("X-Forwarded-Preferred-Username", "admin"), ("X-Auth-Request-User", "admin"),
    ("X-Auth-Request-Email", "a@x"), ("X-Auth-Request-Groups", "admins"),
    ("X-Auth-Request-Preferred-Username", "admin"),
    ("Remote_User", "admin"),  # WSGI would read it as REMOTE_USER too
    ("X-User", "admin"), ("x-webauth-user", "admin"), ("X-WEBAUTH-GROUPS", "admins"),
    ("X-Auth-Request-Access-Token", "t"), ("Remote-Anything", "x"), ("X-Remote-Groups", "a"),
    ("X-Authenticated-User", "admin"), ("X-Authenticated-Userid", "1"), ("X-Auth-User", "admin"),
    ("X-Email", "a@x"), ("X-Groups", "admins"), ("X-User-Id", "1"), ("X-User-Roles", "admin"),
    ("X-Forwarded-Access-Token", "t"), ("X-Moat-Identity", "v1;user=admin"),
    ("x-moat-anything", "x"), ("Cf-Access-Authenticated-User-Email", "a@x"),
    ("Cf-Access-Jwt-Assertion", "j"), ("X-Goog-Authenticated-User-Email", "a@x"),
    ("X-Goog-Iap-Jwt-Assertion", "j"), ("X-Amzn-Oidc-Identity", "admin"),
    ("X-Amzn-Oidc-Data", "j"), ("X-MS-CLIENT-PRINCIPAL-NAME", "admin"),
    ("X-Ms-Client-Principal", "p"), ("X_User", "admin"), ("X_Forwarded_Email", "a@x"),
    # auth.strip_headers
    ("X-Tenant", "acme"), ("x-corp-auth-level", "9"), ("X_Tenant", "acme"),
]


def headers_of(echo_json):
    out = collections.defaultdict(list)
    for k, v in echo_json["headers"]:
        out[k.lower()].append(v)
    return out


@pytest.fixture(scope="module")
def proxy(module_moat, echo):
    return module_moat(echo.url(), trusted_proxies=[],
                       auth={"strip_headers": ["X-Tenant", "X-Corp-Auth-*"]})


@pytest.fixture(scope="module")
def trusting_proxy(module_moat, echo):
    return module_moat(echo.url(), trusted_proxies=["127.0.0.1/32"])


def test_client_identity_headers_stripped(proxy):
    with Conn(proxy.port) as c:
        r = c.request("GET", "/echo", headers=IDENTITY + [
            ("X-Other", "kept"), ("X-Auth-Token", "kept"), ("X-Tenants", "kept"),
            ("X-User-Agent", "kept"), ("Remote", "kept")])
    assert r.status == 200
    h = headers_of(r.json())
    for name, _ in IDENTITY:
        assert name.lower().replace("_", "-") not in h, name
    for name in ("x-other", "x-auth-token", "x-tenants", "x-user-agent", "remote"):
        assert h[name] == ["kept"], name


def test_path_override_headers_dropped_unless_trusted(proxy, trusting_proxy):
    # Symfony, Laravel and IIS-style apps route by X-Original-URL /
    # X-Rewrite-URL: a client must not pick the path past the rules.
    spoof = [("X-Original-URL", "/admin"), ("x-rewrite-url", "/admin")]
    with Conn(proxy.port) as c:
        h = headers_of(c.request("GET", "/echo", headers=spoof).json())
    assert "x-original-url" not in h and "x-rewrite-url" not in h
    with Conn(trusting_proxy.port) as c:
        h = headers_of(c.request("GET", "/echo", headers=spoof).json())
    assert h["x-original-url"] == ["/admin"]


def test_identity_headers_from_trusted_proxy_kept(trusting_proxy):
    with Conn(trusting_proxy.port) as c:
        r = c.request("GET", "/echo", headers=[("Remote-User", "alice"),
                                                ("X-Forwarded-Email", "alice@example.com")])
    h = headers_of(r.json())
    assert h["remote-user"] == ["alice"]
    assert h["x-forwarded-email"] == ["alice@example.com"]


# ------------------------------------------------------------------ rules
# A store, one user and [[auth.rules]] in front of the Flask echo app and the
# Django test project: what each rule covers (HEAD, trailing slashes,
# sub-paths, extensions, case, methods no framework routes apart), the
# method-override headers, Cache-Control on per-user answers, and
# Expect: 100-continue answered only once auth passed.

PW = "correct horse battery staple"
FAST = {"argon2_memory": "1MiB", "argon2_time": 1, "address_failures": 100000}
FLASK_RULES = [
    {"path": "/echo/mfa-get", "methods": ["GET"], "policy": "mfa"},
    {"path": "/override/", "methods": ["DELETE"], "policy": "deny"},
    {"path": "/echo/reports/*/export", "policy": "authenticated"},
    {"path": "/echo/admin", "policy": "role:admin"},
    {"path": "/echo/private", "policy": "authenticated"},
    {"path": "/cached/private", "policy": "authenticated"},
]


def store_with_user(moat_bin, tmp_path_factory):
    d = serving_dir(tmp_path_factory.mktemp("rules"))
    store = d / "moat.db"
    cfg = d / "users.toml"
    cfg.write_text(toml_dumps({"store": {"url": "sqlite:%s" % store}, "auth": FAST}))
    r = subprocess.run([moat_bin, "user", "add", "alice", "--create", "--config", str(cfg)],
                       input=PW + "\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {"url": "sqlite:%s" % store}


@pytest.fixture(scope="module")
def store(moat_bin, tmp_path_factory):
    return store_with_user(moat_bin, tmp_path_factory)


@pytest.fixture(scope="module")
def guarded(module_moat, echo, store):
    return module_moat(echo.url(), store=store, auth=dict(FAST, rules=FLASK_RULES),
                       waf={"mode": "block"})


@pytest.fixture(scope="module")
def guarded_nowaf(module_moat, echo, store):
    return module_moat(echo.url(), store=store, auth=dict(FAST, rules=FLASK_RULES),
                       waf={"mode": "off"})


def login(m):
    s = requests.Session()
    r = s.post(m.url + "/.moat/api/login", json={"username": "alice", "password": PW})
    assert r.status_code == 200, r.text
    return s


def anon(m, method, path, **kw):
    return requests.request(method, m.url + path, allow_redirects=False, timeout=10, **kw)


def test_get_rule_covers_head(guarded, echo):
    echo.clear_seen()
    r = anon(guarded, "HEAD", "/echo/mfa-get")
    assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/login")
    assert anon(guarded, "GET", "/echo/mfa-get").status_code == 302
    # a method the rule does not list falls through to the default (public)
    assert anon(guarded, "POST", "/echo/mfa-get").status_code == 200
    assert not [line for line in echo.seen() if "/echo/mfa-get" in line and
                not line.startswith("POST")]


def test_extension_method_falls_under_guarding_method_rule(guarded_nowaf):
    # PROPFIND is no method the rule lists, but apps run views for it
    # (Django's function views); with the WAF off nothing else stops it.
    r = anon(guarded_nowaf, "PROPFIND", "/echo/mfa-get")
    assert r.status_code == 303
    # the method is case-sensitive: another spelling is no method moat knows
    with Conn(guarded_nowaf.port) as c:
        assert c.request("GeT", "/echo/mfa-get").status == 501


@pytest.mark.parametrize("name", ["X-HTTP-Method-Override", "x-http-method", "X-METHOD-OVERRIDE"])
def test_method_override_headers_removed(guarded, name):
    # The rule denies DELETE; a POST the app would run as DELETE must not
    # reach it as one.
    r = anon(guarded, "POST", "/override/item", headers={name: "DELETE"})
    assert r.status_code == 200
    seen = r.json()
    assert seen["method"] == "POST"
    assert name.lower() not in headers_of(seen)


def test_method_override_kept_when_asked(moat, echo):
    m = moat(echo.url(), auth={"keep_method_override": True})
    r = requests.post(m.url + "/override/item", headers={"X-HTTP-Method-Override": "DELETE"})
    assert r.json()["method"] == "DELETE"
    m2 = moat(echo.url())
    r = requests.post(m2.url + "/override/item", headers={"X-HTTP-Method-Override": "DELETE"})
    assert r.json()["method"] == "POST"  # without any rule too


GUARDED_SPELLINGS = [
    "/echo/reports/q1/export", "/echo/reports/q1/export/", "/echo/reports/q1/export/all",
    "/echo/reports/q1/export.csv", "/echo/Reports/Q1/EXPORT", "/ECHO/REPORTS/q1/export/",
    "/echo/admin", "/echo/admin/", "/echo/ADMIN", "/echo/Admin/users", "/echo/%61dmin",
    "/echo/adm%C4%B1n", "/echo/admin.json", "/echo//admin", "/echo/x/../admin",
]


@pytest.mark.parametrize("path", GUARDED_SPELLINGS)
def test_every_spelling_of_a_guarded_path_is_guarded(guarded, path):
    r = anon(guarded, "GET", path)
    assert r.status_code == 302, (path, r.status_code)


@pytest.mark.parametrize("path", ["/echo/administrator", "/echo/reports/q1/exports",
                                  "/echo/admins"])
def test_a_longer_name_is_not_the_guarded_path(guarded, path):
    assert anon(guarded, "GET", path).status_code == 200


def test_case_sensitive_paths_when_asked(moat, echo, store):
    m = moat(echo.url(), store=store,
             auth=dict(FAST, case_insensitive_paths=False, rules=FLASK_RULES))
    assert anon(m, "GET", "/echo/admin/").status_code == 302
    assert anon(m, "GET", "/echo/ADMIN/").status_code == 200


# ------------------------------------------------------------------ Cache-Control
def cc(r):
    return r.headers.get("Cache-Control")


def vary(r):
    return [v.strip().lower() for v in r.headers.get("Vary", "").split(",") if v.strip()]


def test_per_user_answers_are_not_cached(guarded):
    assert cc(anon(guarded, "GET", "/echo/open")) is None  # anonymous, public
    s = login(guarded)
    for path in ("/echo/private", "/echo/open", "/echo/reports/q1/export"):
        r = s.get(guarded.url + path)
        assert r.status_code == 200 and cc(r) == "private, no-store", path
    # The app's own choice stays; on a guarded path, one a shared cache may
    # store is keyed to the credentials.
    r = s.get(guarded.url + "/cached/private", params={"cc": "public, max-age=60"})
    assert cc(r) == "public, max-age=60" and {"cookie", "authorization"} <= set(vary(r))
    r = s.get(guarded.url + "/cached/private", params={"cc": "private, max-age=60"})
    assert cc(r) == "private, max-age=60" and "cookie" not in vary(r)
    r = s.get(guarded.url + "/cached/open", params={"cc": "public, max-age=60"})
    assert cc(r) == "public, max-age=60" and "cookie" not in vary(r)


def test_cache_control_off(moat, echo, store):
    m = moat(echo.url(), store=store, auth=dict(FAST, cache_control=False, rules=FLASK_RULES))
    s = login(m)
    assert cc(s.get(m.url + "/echo/private")) is None


# ------------------------------------------------------------------ Expect
def expect_head(path, extra=""):
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            "Content-Length: 5\r\nExpect: 100-continue\r\n%s\r\n" % (path, extra))


@pytest.mark.parametrize("accept,status", [("", 303), ("Accept: application/json\r\n", 401)])
def test_expect_continue_refused_before_100(guarded, accept, status):
    with Conn(guarded.port) as c:
        c.send(expect_head("/echo/private", accept))
        first = c.read_response("POST")
        assert first.status == status, first


def test_expect_continue_on_a_public_path(guarded):
    with Conn(guarded.port) as c:
        c.send(expect_head("/echo/open"))
        first = c.read_response("POST")
        assert first.status == 100
        c.send(b"hello")
        final, _ = c.read_final("POST")
        assert final.status == 200 and final.json()["body_len"] == 5


def test_expect_continue_after_login(guarded):
    s = login(guarded)
    sid = s.cookies.get("moat_session")
    with Conn(guarded.port) as c:
        c.send(expect_head("/echo/private", "Cookie: moat_session=%s\r\n" % sid))
        assert c.read_response("POST").status == 100
        c.send(b"hello")
        final, _ = c.read_final("POST")
        assert final.status == 200 and final.json()["body_len"] == 5


# ------------------------------------------------------------------ Django
DJANGO_RULES = [
    {"path": "/whoami", "methods": ["GET"], "policy": "authenticated"},
    {"path": "/reports/*/export", "policy": "authenticated"},
]


@pytest.fixture(scope="module")
def django_site(module_moat, store):
    try:
        subprocess.run([PYTHON, "-c", "import django"], check=True, capture_output=True,
                       timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("Django is not installed (Debian package python3-django)")
    g = Gunicorn(module="django_app.wsgi", unix=False, name="django").start()
    m = module_moat(g.url(), store=store, auth=dict(FAST, rules=DJANGO_RULES),
                    waf={"mode": "off"})
    yield m
    g.stop()


@pytest.mark.parametrize("method", ["HEAD", "GET", "PROPFIND", "MKCOL"])
def test_django_view_not_run_for_head_or_odd_methods(django_site, method):
    r = anon(django_site, method, "/whoami")
    assert r.status_code in (302, 303), (method, r.status_code)


def test_django_override_header_removed(django_site):
    r = anon(django_site, "POST", "/whoami", headers={"X-HTTP-Method-Override": "GET"})
    assert r.status_code == 200 and r.json()["method"] == "POST"


@pytest.mark.parametrize("path", ["/reports/q1/export", "/REPORTS/q1/export/",
                                  "/reports/q1/export/x", "/report%C5%BF/q1/export"])
def test_django_case_insensitive_route_guarded(django_site, path):
    assert anon(django_site, "GET", path).status_code == 302, path


def test_django_sees_identity_after_login(django_site):
    s = login(django_site)
    r = s.get(django_site.url + "/whoami", headers={"X-User": "root", "X-Forwarded-User": "root"})
    seen = {k.lower(): v for k, v in r.json()["headers"]}
    assert r.json()["remote_user"] == "alice"
    assert "x-user" not in seen and "x-forwarded-user" not in seen
    assert cc(r) == "private, no-store"
