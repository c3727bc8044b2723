"""Single sign-on into the stock Django admin: tests/integration/apps/django_sso
(django.contrib.admin, sessions, SQLite) under gunicorn with
moat_identity.django's middleware and backend (integrations/python), moat in
front with auth.identity_secret and /admin guarded by role:admin. One login
at moat's portal (password and TOTP code) opens the admin: Django never shows
its own form. The middleware creates the user on first sight with an
unusable password, maps moat's roles to Django groups, is_staff and
is_superuser (only with a second factor), logs out of Django when moat's
session ends, sends the admin's own "Log out" on to moat's logout, and trusts nothing a client sends the app directly: a forged,
wrongly signed or stale X-Moat-Identity, or a bare Remote-User."""

import re
import subprocess

import requests

from conftest import PYTHON, REPO
from sso_common import (INTEGRATIONS, SECRET, FAST, csrf_of, make_store, portal_login, pytest,
                        serving_dir, signed, start_app, totp_now)

APPS = REPO / "tests" / "integration" / "apps"


@pytest.fixture(scope="module")
def site(moat_bin, module_moat, tmp_path_factory):
    d = serving_dir(tmp_path_factory.mktemp("sso-django"))
    store, secrets = make_store(moat_bin, d, [("alice", ["admin"], True),
                                              ("bob", ["admin"], False),
                                              ("carol", ["viewer"], False)])
    env = {"DJANGO_SSO_DB": str(d / "django.sqlite3"), "MOAT_IDENTITY_SECRET": SECRET,
           "DJANGO_SETTINGS_MODULE": "django_sso.settings"}
    r = subprocess.run([PYTHON, "-m", "django", "migrate", "-v0"], cwd=str(APPS),
                       env=dict(__import__("os").environ, PYTHONPATH="%s:%s" % (APPS, INTEGRATIONS),
                                **env), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    app = start_app("django_sso.wsgi:application", env)
    rules = [{"path": "/admin", "policy": "role:admin"}]
    m = module_moat(app.url(), store={"url": "sqlite:%s" % store},
                    auth=dict(FAST, identity_secret=SECRET, rules=rules))
    yield m.url, app, secrets
    app.stop()


def test_one_login_at_moat_opens_the_django_admin(site):
    base, _, secrets = site
    s = requests.Session()
    r = s.get(base + "/admin/", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/login"), r.headers
    _, r = portal_login(base, "alice", code=totp_now(secrets["alice"]), rd="/admin/", session=s)
    assert r.status_code in (302, 303) and r.headers["Location"] == "/admin/", r.text
    r = s.get(base + "/admin/", allow_redirects=False, timeout=30)
    assert r.status_code == 200, (r.status_code, r.headers)
    assert "Site administration" in r.text
    assert 'name="password"' not in r.text and "id_username" not in r.text  # no second form
    assert "alice" in r.text
    # a model page of the admin, a second request: still signed in, no form
    r = s.get(base + "/admin/auth/group/", allow_redirects=False, timeout=30)
    assert r.status_code == 200 and "Select group to change" in r.text
    me = s.get(base + "/whoami", timeout=30).json()
    assert me == {"user": "alice", "staff": True, "superuser": True, "groups": ["admin"],
                  "usable_password": False}


def test_logout_at_moat_logs_out_of_django(site):
    base, _, secrets = site
    s, r = portal_login(base, "alice", code=secrets["alice.recovery"].pop())
    assert r.status_code in (302, 303)
    assert s.get(base + "/whoami", timeout=30).json()["user"] == "alice"
    acct = s.get(base + "/.moat/", timeout=30)
    from sso_common import csrf_of
    r = s.post(base + "/.moat/logout", data={"csrf": csrf_of(acct.text)},
               allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303)
    # Django's own session cookie is still in the jar: it no longer logs in
    assert any(c.name == "sessionid" for c in s.cookies)
    assert s.get(base + "/whoami", timeout=30).json()["user"] is None
    r = s.get(base + "/admin/", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/login")


def test_django_admin_log_out_link_ends_the_moat_session(site):
    """The stock admin's own "Log out" link: Django's session ends and the
    user lands on moat's logout, whose one button ends moat's session (a GET
    alone does not: another site's link cannot log anyone out)."""
    base, _, secrets = site
    s, r = portal_login(base, "alice", code=secrets["alice.recovery"].pop(), rd="/admin/")
    assert r.status_code in (302, 303)
    admin = s.get(base + "/admin/", timeout=30)
    assert admin.status_code == 200 and "Site administration" in admin.text
    m = re.search(r'<a href="([^"]+)">Log out</a>', admin.text)
    assert m, admin.text  # Django's own link
    r = s.get(base + m.group(1), allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"] == "/.moat/logout", \
        (r.status_code, r.headers, r.text[:500])
    page = s.get(base + "/.moat/logout", allow_redirects=False, timeout=30)
    assert page.status_code == 200 and "<title>Log out" in page.text
    assert 'action="/.moat/logout"' in page.text and ">Log out</button>" in page.text
    # the question alone ends nothing at moat
    assert s.get(base + "/whoami", timeout=30).json()["user"] == "alice"
    r = s.post(base + "/.moat/logout", data={"csrf": csrf_of(page.text)},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"] == "/.moat/login"
    assert s.get(base + "/whoami", timeout=30).json()["user"] is None
    r = s.get(base + "/admin/", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/login")
    # logged out at moat, the question page sends to the login form
    r = s.get(base + "/.moat/logout", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/login")


def test_django_logout_without_moat_identity_is_djangos_own(site):
    """Reached directly (no identity from moat), Django's logout is left
    alone: the admin's own answer to an anonymous user, not moat's logout."""
    _, app, _ = site
    r = requests.get(app.url() + "/admin/logout/", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "/admin/", r.headers


def test_roles_without_second_factor_are_not_staff(site):
    base, _, _ = site
    s, r = portal_login(base, "bob")
    assert r.status_code in (302, 303)
    me = s.get(base + "/whoami", timeout=30).json()
    # role admin, but the session presented no second factor: a Django user
    # in group admin, not staff (MOAT_STAFF_REQUIRE_MFA, the default)
    assert me["user"] == "bob" and me["groups"] == ["admin"]
    assert me["staff"] is False and me["superuser"] is False
    s, _ = portal_login(base, "carol")
    me = s.get(base + "/whoami", timeout=30).json()
    assert me["user"] == "carol" and me["groups"] == ["viewer"] and me["staff"] is False
    assert s.get(base + "/admin/", allow_redirects=False, timeout=30).status_code == 403


def test_app_reached_directly_trusts_no_identity_a_client_sends(site):
    _, app, _ = site
    tries = [
        {"Remote-User": "alice", "Remote-Groups": "admin"},
        {"X-Moat-Identity": signed("another secret of more than 32 characters!!", "alice",
                                   "admin")},
        {"X-Moat-Identity": signed(SECRET, "alice", "admin", ts=1)},  # stale
        {"X-Moat-Identity": signed(SECRET, "alice", "admin").replace("user=alice",
                                                                      "user=alicf")},
        {"X-Moat-Identity": "v1;user=alice;groups=admin;mfa=1;via=session;ts=1;sig="},
    ]
    for h in tries:
        r = requests.get(app.url() + "/whoami", headers=h, timeout=30)
        assert r.json()["user"] is None, h
        r = requests.get(app.url() + "/admin/", headers=h, allow_redirects=False, timeout=30)
        assert r.status_code == 302 and "/admin/login/" in r.headers["Location"], h
    # the control: a header moat would sign is taken (so the refusals above
    # are the signature's doing)
    r = requests.get(app.url() + "/whoami", headers={"X-Moat-Identity":
                                                     signed(SECRET, "dora", "staff")}, timeout=30)
    assert r.json()["user"] == "dora" and r.json()["staff"] is True


def test_client_identity_through_moat_is_replaced(site):
    base, _, _ = site
    r = requests.get(base + "/whoami", headers={"X-Moat-Identity": signed(SECRET, "eve", "admin"),
                                                "Remote-User": "eve"}, timeout=30)
    assert r.json()["user"] is None  # moat strips what the client sent
