"""Single sign-on into a FastAPI app: tests/integration/apps/fastapi_sso.py
under uvicorn (Debian's python3-fastapi and uvicorn) with
moat_identity.starlette's ASGI middleware (integrations/python), moat in
front with auth.identity_secret. One login at moat's portal makes
request.user the user moat vouches for, with its roles and second factor,
for FastAPI's dependencies (require, identity) and Starlette's @requires;
logging out at moat ends it in the app; nothing a client sends the app
directly is taken: a bare Remote-User, an identity signed with another
secret, a replayed one (signed longer ago than max_age, or for the future),
an altered or unsigned one, or two of them."""

import importlib
import sys
import time

import requests

from helpers import Conn
from sso_common import (INTEGRATIONS, SECRET, FAST, Uvicorn, csrf_of, make_store, portal_login,
                        pytest, serving_dir, signed, totp_now)


@pytest.fixture(scope="module")
def site(moat_bin, module_moat, tmp_path_factory):
    d = serving_dir(tmp_path_factory.mktemp("sso-fastapi"))
    store, secrets = make_store(moat_bin, d, [("alice", ["admin", "staff"], True),
                                              ("bob", ["staff"], False)])
    app = Uvicorn("fastapi_sso:app", {"MOAT_IDENTITY_SECRET": SECRET}).start()
    rules = [{"path": "/admin", "policy": "role:admin"},
             {"path": "/mfa", "policy": "authenticated"}]
    m = module_moat(app.url(), store={"url": "sqlite:%s" % store},
                    auth=dict(FAST, identity_secret=SECRET, rules=rules))
    yield m.url, app, secrets
    app.stop()


def test_one_login_at_moat_signs_into_fastapi(site):
    base, _, secrets = site
    s = requests.Session()
    r = s.get(base + "/admin", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/login")
    _, r = portal_login(base, "alice", code=totp_now(secrets["alice"]), rd="/admin", session=s)
    assert r.status_code in (302, 303) and r.headers["Location"] == "/admin"
    assert s.get(base + "/admin", timeout=30).json() == {"admin": "alice"}
    me = s.get(base + "/whoami", timeout=30).json()
    assert me == {"user": "alice", "roles": ["admin", "staff"], "mfa": True, "via": "session",
                  "scopes": ["admin", "authenticated", "mfa", "staff"]}
    assert s.get(base + "/mfa", timeout=30).json() == {"mfa": "alice"}
    assert s.get(base + "/scoped", timeout=30).json() == {"scoped": "alice"}  # Starlette's @requires
    assert s.get(base + "/ident", timeout=30).json() == {"user": "alice",
                                                         "groups": ["admin", "staff"]}
    # logging out at moat ends it in the app
    r = s.post(base + "/.moat/logout", data={"csrf": csrf_of(s.get(base + "/.moat/").text)},
               allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303)
    assert s.get(base + "/whoami", timeout=30).json()["user"] is None
    assert s.get(base + "/ident", timeout=30).json()["user"] is None


def test_second_factor_and_roles_reach_the_app(site):
    base, _, _ = site
    s, r = portal_login(base, "bob")
    assert r.status_code in (302, 303)
    me = s.get(base + "/whoami", timeout=30).json()
    assert me["user"] == "bob" and me["mfa"] is False and me["scopes"] == ["authenticated", "staff"]
    # moat lets bob reach /mfa (authenticated); the app's require(mfa=True) refuses
    assert s.get(base + "/mfa", allow_redirects=False, timeout=30).status_code == 403
    assert s.get(base + "/scoped", allow_redirects=False, timeout=30).status_code == 403
    assert s.get(base + "/admin", allow_redirects=False, timeout=30).status_code == 403  # moat's rule


def test_app_reached_directly_trusts_no_identity_a_client_sends(site):
    _, app, _ = site
    now = time.time()
    good = signed(SECRET, "alice", "admin")
    forged = [
        [("Remote-User", "alice"), ("Remote-Groups", "admin")],  # unsigned
        [("X-Moat-Identity", signed("not the secret, but long enough for moat's rule", "alice",
                                    "admin"))],
        [("X-Moat-Identity", signed(SECRET, "alice", "admin", ts=now - 120))],  # replayed
        [("X-Moat-Identity", signed(SECRET, "alice", "admin", ts=now + 120))],  # from the future
        [("X-Moat-Identity", signed(SECRET, "alice", "admin", ts=1000))],
        [("X-Moat-Identity", good.replace("groups=admin", "groups=admin,root"))],  # altered
        [("X-Moat-Identity", good + "0")],
        [("X-Moat-Identity", good.rpartition(";sig=")[0])],  # unsigned
        [("X-Moat-Identity", good.rpartition(";sig=")[0] + ";sig=")],
        [("X-Moat-Identity", "garbage")],
    ]
    for h in forged:
        h = dict(h)
        r = requests.get(app.url() + "/whoami", headers=h, timeout=30)
        assert r.json() == {"user": None, "roles": [], "mfa": False, "via": None, "scopes": []}, h
        assert requests.get(app.url() + "/admin", headers=h, timeout=30).status_code == 401, h
        assert requests.get(app.url() + "/scoped", headers=h, timeout=30).status_code == 403, h
        assert requests.get(app.url() + "/ident", headers=h, timeout=30).json()["user"] is None, h
    assert "X-Moat-Identity refused" in app.log()  # said, not silent
    # two identities in one request (requests would merge them): not both moat's
    for path, status in (("/admin", 401), ("/whoami", 200)):
        with Conn(app.port) as c:
            c.send(("GET %s HTTP/1.1\r\nHost: x\r\nX-Moat-Identity: %s\r\n"
                    "X-Moat-Identity: %s\r\nConnection: close\r\n\r\n"
                    % (path, good, good)).encode())
            r = c.read_response()
        assert r.status == status, r
        assert path == "/admin" or b'"user":null' in r.body, r.body
    # the control: a header moat would sign now is taken (so the refusals
    # above are the signature's and the clock's doing)
    r = requests.get(app.url() + "/admin", headers={"X-Moat-Identity": good}, timeout=30)
    assert r.json() == {"admin": "alice"}


def test_client_identity_through_moat_is_replaced(site):
    base, _, _ = site
    r = requests.get(base + "/whoami", headers={"X-Moat-Identity": signed(SECRET, "eve", "admin"),
                                                "Remote-User": "eve"}, timeout=30)
    assert r.json()["user"] is None  # moat strips what the client sent


def test_short_secret_refused_at_start_and_scopes_claim_nothing_unchecked():
    sys.path.insert(0, str(INTEGRATIONS))
    try:
        mod = importlib.import_module("moat_identity.starlette")
        ident = importlib.import_module("moat_identity")
        for bad in ("", "short", None):
            with pytest.raises((ValueError, TypeError)):
                mod.MoatIdentityMiddleware(lambda *a: None, secret=bad)
        mod.MoatIdentityMiddleware(lambda *a: None, secret=SECRET)  # the control
        # a moat role named "mfa" is no second factor in Starlette's scopes
        i = ident.Identity("mallory", ("mfa", "authenticated", "staff"), False, "session", 0)
        assert mod.scopes_of(i) == ["authenticated", "staff"]
        assert mod.scopes_of(i._replace(mfa=True)) == ["authenticated", "staff", "mfa"]
    finally:
        sys.path.remove(str(INTEGRATIONS))

