"""Sensitive paths (paths.deny / paths.allow) and path normalisation: every
encoded, doubled, dotted, parameterised or case-changed spelling of a
refused path is refused (404, or 400 when the path itself is invalid) and
never reaches the app; the allowed look-alikes do reach it; the app receives
the normalised path.

Each request is sent as raw bytes (no client library rewrites the target),
and what reached the app is read back from the echo app's /seen list."""

import pytest

from helpers import Conn

# (raw target, expected status). 404: a paths.deny match (or the debugger);
# 400: the path itself is invalid (bad percent-encoding, NUL or control
# bytes, invalid or overlong UTF-8, climbing above the root).
REFUSED = [
    # version control, in every spelling
    ("/.git/config", 404),
    ("/%2egit/config", 404),
    ("/%2Egit/config", 404),
    ("/.git%2fconfig", 404),
    ("/.git%2Fconfig", 404),
    ("/.g%69t/config", 404),
    ("/%2e%67%69%74/config", 404),
    ("//.git//config", 404),
    ("/.git;/config", 404),
    ("/.git;x=y/config", 404),
    ("/./.git/config", 404),
    ("/a/../.git/config", 404),
    ("/a/b/%2e%2e/%2e%2e/.git/config", 404),
    ("/%2e/.git/config", 404),
    ("/.GIT/config", 404),
    ("/.Git/HEAD", 404),
    ("/%5c.git%5cconfig", 404),
    ("/%5C.git%5Cconfig", 404),
    ("/static/.git/HEAD", 404),
    ("/.git", 404),
    ("/.git/", 404),
    ("/.hg/store/data", 404),
    ("/.svn/entries", 404),
    ("/.bzr/branch/branch.conf", 404),
    ("/.well-known/../.git/config", 404),
    ("/.well-known/%2e%2e/.git/config", 404),
    ("/.well-known/..%2f.git/config", 404),
    ("http://127.0.0.1/.git/config", 404),          # absolute-form target
    # environment files
    ("/.env", 404),
    ("/.ENV", 404),
    ("/.env.production", 404),
    ("/.envrc", 404),
    ("/static/..%2f.env", 404),
    ("/static/%2e%2e/.env", 404),
    ("/static/%2E%2E/.env", 404),
    ("/static/.%2e/.env", 404),
    ("/static/%2e./.env", 404),
    ("/static;x/..;y/.env", 404),
    # Python sources, bytecode, databases, backups, editors' files
    ("/app.py", 404),
    ("/app.PY", 404),
    ("/app.Py", 404),
    ("/src/app.py", 404),
    ("/app%2epy", 404),
    ("/app.p%79", 404),
    ("/app.py;.txt", 404),
    ("/app.py/", 404),
    ("/__pycache__/x.pyc", 404),
    ("/__pycache__/", 404),
    ("/%5f%5fpycache%5f%5f/app.cpython-311.pyc", 404),
    ("/x.pyc", 404),
    ("/x.pyo", 404),
    ("/db.sqlite3", 404),
    ("/data.sqlite", 404),
    ("/app.db", 404),
    ("/backup.bak", 404),
    ("/settings.py~", 404),
    ("/.settings.py.swp", 404),
    ("/views.py.orig", 404),
    ("/config.old", 404),
    ("/local_settings.py", 404),
    ("/local_settings.json", 404),
    ("/instance/app.cfg", 404),
    ("/INSTANCE/app.cfg", 404),
    ("/instance%2fapp.cfg", 404),
    ("/.DS_Store", 404),
    ("/certs/server.pem", 404),
    ("/certs/server.key", 404),
    # invalid paths: 400
    ("/app.py%00.txt", 400),
    ("/.git%00/config", 400),
    ("/%00/.env", 400),
    ("/.e%0anv", 400),
    ("/.env%0d%0a", 400),
    ("/.env%7f", 400),
    ("/%c0%ae%c0%ae/.env", 400),                    # overlong '.'
    ("/%e0%80%ae%e0%80%ae/.env", 400),              # overlong, 3 bytes
    ("/.git%c0%afconfig", 400),                     # overlong '/'
    ("/%ff.env", 400),                              # not UTF-8
    ("/.env%", 400),
    ("/.env%2", 400),
    ("/%zz.env", 400),
    ("/../.env", 400),                              # climbs above the root
    ("/..%2f.env", 400),
    ("/%2e%2e/.env", 400),
    ("/static/../../.env", 400),
    ("/static/..;/..;/.git/config", 400),
]

# Raw backslashes: moat reads them as '/', or refuses the target as invalid.
BACKSLASH = [
    "/static\\..\\.env",
    "/\\.git\\config",
    "/.git\\config",
]

# Look-alikes that must reach the app (the app itself may answer 404).
ALLOWED = [
    ("/.well-known/security.txt", "/.well-known/security.txt"),
    ("/.well-known/acme-challenge/token-123", "/.well-known/acme-challenge/token-123"),
    ("/instance", "/instance"),
    ("/instance.html", "/instance.html"),
    ("/static/app.js", "/static/app.js"),
    ("/python/guide", "/python/guide"),
    ("/guide.pyx", "/guide.pyx"),
    ("/my.env", "/my.env"),
    ("/envelope", "/envelope"),
    ("/gitlab/readme", "/gitlab/readme"),
    ("/backup.bak.html", "/backup.bak.html"),
    ("/db", "/db"),
    ("/keys/list", "/keys/list"),
    ("/static/./app.js", "/static/app.js"),
]

# (raw target, path the app must see, raw target the app must receive)
NORMALISED = [
    ("//echo/./b/../c;x", "/echo/c", "/echo/c"),
    ("/echo//a///b", "/echo/a/b", "/echo/a/b"),
    ("/echo/a/./b/../c", "/echo/a/c", "/echo/a/c"),
    ("/echo/a;jsessionid=1/b", "/echo/a/b", "/echo/a/b"),
    ("/echo/a%2fb", "/echo/a/b", "/echo/a/b"),
    ("/echo/%2e%2e/echo/x", "/echo/x", "/echo/x"),
    ("/x/..%2fecho/y", "/echo/y", "/echo/y"),
    ("/echo/%5cx", "/echo/x", "/echo/x"),
    # one decoding pass only: %25 stays a literal '%' for the app
    ("/echo/%252e%252e/x", "/echo/%2e%2e/x", "/echo/%252e%252e/x"),
    ("/echo/a%20b", "/echo/a b", "/echo/a%20b"),
    ("/echo/%e2%82%ac", "/echo/\u20ac", "/echo/%E2%82%AC"),
    ("/echo/%41%42", "/echo/AB", "/echo/AB"),
    # the query is kept as it was
    ("/echo/a/../b?x=/../.git&y=%2e%2e", "/echo/b", "/echo/b?x=/../.git&y=%2e%2e"),
]


@pytest.fixture(scope="module")
def gw(module_moat, echo):
    # The WAF refuses some of these spellings too (double-encoded dots,
    # .git): off here, so that what is tested is the paths stage alone.
    return module_moat(echo.url(), waf={"mode": "off"})


def send(port, target):
    with Conn(port) as c:
        c.send(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                % target).encode("latin-1"))
        return c.read_final()[0]


def reached(echo):
    """The request lines the app saw (minus the tests' own /seen calls)."""
    lines = [l for l in echo.seen() if not l.split(" ")[1].startswith("/seen")]
    return lines


def test_table_sizes():
    assert len(REFUSED) >= 40
    assert len(ALLOWED) >= 4


@pytest.mark.parametrize("target,status", REFUSED, ids=[t for t, _ in REFUSED])
def test_refused_never_reaches_app(gw, echo, target, status):
    echo.clear_seen()
    r = send(gw.port, target)
    assert r.status == status, "%s -> %d %r" % (target, r.status, r.body[:200])
    assert r.header("X-Request-Id"), "moat's own page carries a request id"
    assert r.header("X-Content-Type-Options") == "nosniff", "moat's page has security headers"
    assert b"Request id" in r.body
    assert reached(echo) == [], "%s reached the app" % target


@pytest.mark.parametrize("target", BACKSLASH)
def test_raw_backslash_refused(gw, echo, target):
    echo.clear_seen()
    r = send(gw.port, target)
    assert r.status in (400, 404), r
    assert reached(echo) == []


@pytest.mark.parametrize("target,path", ALLOWED, ids=[t for t, _ in ALLOWED])
def test_allowed_reaches_app(gw, echo, target, path):
    echo.clear_seen()
    r = send(gw.port, target)
    # the echo app has no such routes: Flask's own 404 (not moat's page)
    assert r.status == 404, r
    assert b"Request id" not in r.body, "moat refused %s" % target
    assert reached(echo) == ["GET %s HTTP/1.1" % path]


@pytest.mark.parametrize("target,path,raw", NORMALISED, ids=[t for t, _, _ in NORMALISED])
def test_app_receives_normalised_path(gw, echo, target, path, raw):
    r = send(gw.port, target)
    assert r.status == 200, r
    j = r.json()
    assert j["path"] == path
    assert j["raw_uri"] == raw


def test_deny_list_configurable(moat, echo):
    """paths.deny = [] refuses nothing; a custom pattern refuses its match;
    paths.allow exempts a prefix."""
    m = moat(echo.url(), paths={"deny": ["*.secret", "private/"], "allow": ["/public/"]},
             waf={"mode": "off"})  # the WAF alone would refuse /.git/config
    echo.clear_seen()
    assert send(m.port, "/data.secret").status == 404
    assert send(m.port, "/a/private/x").status == 404
    assert send(m.port, "/public/data.secret").status == 404  # the app's own 404
    assert send(m.port, "/.git/config").status == 404         # the app's own 404
    assert send(m.port, "/private").status == 404             # folder-only pattern: the app
    assert reached(echo) == ["GET /public/data.secret HTTP/1.1",
                             "GET /.git/config HTTP/1.1",
                             "GET /private HTTP/1.1"]

