"""Single sign-on into a Flask app: tests/integration/apps/flask_sso.py under
gunicorn with moat_identity.flask (integrations/python) and Flask-Login, moat
in front with auth.identity_secret. One login at moat's portal makes g.user
and Flask-Login's current_user the user moat vouches for, with its roles
and second factor; the app's own login view is never reached; logging out
at moat ends it in the app; nothing a client sends the app directly (a bare
Remote-User, a forged or stale X-Moat-Identity) is taken."""

import requests

from sso_common import (SECRET, FAST, csrf_of, make_store, portal_login, pytest, serving_dir,
                        signed, start_app, totp_now)


@pytest.fixture(scope="module")
def site(moat_bin, module_moat, tmp_path_factory):
    d = serving_dir(tmp_path_factory.mktemp("sso-flask"))
    store, secrets = make_store(moat_bin, d, [("alice", ["admin", "staff"], True),
                                              ("bob", [], False)])
    app = start_app("flask_sso:app", {"MOAT_IDENTITY_SECRET": SECRET})
    rules = [{"path": "/admin", "policy": "role:admin"},
             {"path": "/account", "policy": "authenticated"}]
    m = module_moat(app.url(), store={"url": "sqlite:%s" % store},
                    auth=dict(FAST, identity_secret=SECRET, rules=rules))
    yield m.url, app, secrets
    app.stop()


def test_one_login_at_moat_signs_into_flask(site):
    base, _, secrets = site
    s = requests.Session()
    r = s.get(base + "/account", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/login")
    _, r = portal_login(base, "alice", code=totp_now(secrets["alice"]), rd="/account", session=s)
    assert r.status_code in (302, 303) and r.headers["Location"] == "/account"
    r = s.get(base + "/account", allow_redirects=False, timeout=30)
    assert r.status_code == 200, r.text  # Flask-Login's login_required passed: no /login
    assert r.json() == {"user": "alice", "roles": ["admin", "staff"]}
    me = s.get(base + "/whoami", timeout=30).json()
    assert me == {"user": "alice", "roles": ["admin", "staff"], "mfa": True, "via": "session",
                  "flask_login": True}
    assert s.get(base + "/admin", timeout=30).json() == {"admin": "alice"}
    # logging out at moat ends it in the app
    r = s.post(base + "/.moat/logout", data={"csrf": csrf_of(s.get(base + "/.moat/").text)},
               allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303)
    assert s.get(base + "/whoami", timeout=30).json()["user"] is None


def test_second_factor_and_roles_reach_the_app(site):
    base, _, _ = site
    s, r = portal_login(base, "bob")
    assert r.status_code in (302, 303)
    assert s.get(base + "/whoami", timeout=30).json()["mfa"] is False
    assert s.get(base + "/admin", allow_redirects=False, timeout=30).status_code == 403


def test_app_reached_directly_trusts_no_identity_a_client_sends(site):
    _, app, _ = site
    for h in [{"Remote-User": "alice", "Remote-Groups": "admin"},
              {"X-Moat-Identity": signed("not the secret, but long enough for moat's rule", "alice",
                                         "admin")},
              {"X-Moat-Identity": signed(SECRET, "alice", "admin", ts=1000)},
              {"X-Moat-Identity": signed(SECRET, "alice", "admin") + "0"},
              {"X-Moat-Identity": "garbage"}]:
        assert requests.get(app.url() + "/whoami", headers=h, timeout=30).json()["user"] is None
        assert requests.get(app.url() + "/admin", headers=h, timeout=30).status_code == 401
        r = requests.get(app.url() + "/account", headers=h, allow_redirects=False, timeout=30)
        assert r.status_code == 302 and "/login" in r.headers["Location"], h
    h = {"X-Moat-Identity": signed(SECRET, "alice", "admin")}  # the control
    assert requests.get(app.url() + "/admin", headers=h, timeout=30).json() == {"admin": "alice"}
