"""policy = "role:NAME+mfa" (the demo's /admin): the role, in a session that
presented a second factor. Against the echo app behind moat: anonymous ->
login; a user without the role -> 403; with the role but no factor set up ->
sent to enroll one (then back), with one not presented -> sent to /.moat/mfa;
with both -> 200; a bearer token of that user -> 403 (tokens never carry a
second factor). Malformed spellings are refused by `moat config check`."""

import re
import subprocess

import pyotp
import requests

from conftest import serving_dir
from helpers import toml_dumps
from sso_common import FAST, csrf_of, make_store, portal_login, user_cmd


def test_role_with_mfa(moat_bin, moat, echo, tmp_path):
    serving_dir(tmp_path)
    store, secrets = make_store(moat_bin, tmp_path, [("alice", ["admin"], True),
                                                     ("bob", ["admin"], False),
                                                     ("carol", ["viewer"], False)])
    rules = [{"path": "/echo/admin", "policy": "role:admin+mfa"}]
    m = moat(echo.url(), store={"url": "sqlite:%s" % store}, auth=dict(FAST, rules=rules))
    base = m.url
    r = requests.get(base + "/echo/admin", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/login")

    s, _ = portal_login(base, "carol")
    assert s.get(base + "/echo/admin", allow_redirects=False, timeout=30).status_code == 403

    s, _ = portal_login(base, "bob")
    r = s.get(base + "/echo/admin", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/enroll?rd="), r.headers
    page = s.get(base + r.headers["Location"], timeout=30)
    secret = re.search(r'id="secret">([A-Z2-7]+)<', page.text).group(1)
    r = s.post(base + "/.moat/enroll", data={"csrf": csrf_of(page.text), "secret": secret,
                                             "code": pyotp.TOTP(secret).now(),
                                             "rd": "/echo/admin"}, timeout=30)
    assert r.status_code == 200 and 'href="/echo/admin"' in r.text  # the recovery codes page
    assert s.get(base + "/echo/admin", allow_redirects=False, timeout=30).status_code == 200

    # alice: password only, then the code at the step-up page
    s, r = portal_login(base, "alice")
    r = s.get(base + "/echo/admin", allow_redirects=False, timeout=30)
    if r.status_code == 302:
        assert r.headers["Location"].startswith("/.moat/mfa?rd="), r.headers
        page = s.get(base + r.headers["Location"], timeout=30)
        r = s.post(base + "/.moat/mfa", data={"csrf": csrf_of(page.text), "rd": "/echo/admin",
                                              "code": secrets["alice.recovery"].pop()},
                   allow_redirects=False, timeout=30)
        assert r.status_code == 303
    s2, r = portal_login(base, "alice", code=secrets["alice.recovery"].pop())
    assert s2.get(base + "/echo/admin", allow_redirects=False, timeout=30).status_code == 200

    cfg = tmp_path / "users.toml"
    tok = user_cmd(moat_bin, cfg, "token", "create", "alice").stdout
    token = re.search(r"\b(moat_\S+|[A-Za-z0-9_-]{32,})\b", tok).group(1)
    r = requests.get(base + "/echo/admin", headers={"Authorization": "Bearer " + token},
                     allow_redirects=False, timeout=30)
    assert r.status_code == 403


def test_role_mfa_spellings(moat_bin, tmp_path):
    for policy, ok in [("role:admin+mfa", True), ("role:a+mfa", True), ("role:+mfa", False),
                       ("role:admin+mfa+mfa", False), ("mfa+role:admin", False),
                       ("role:admin+MFA", False)]:
        f = tmp_path / "m.toml"
        f.write_text(toml_dumps({"upstream": ["http://127.0.0.1:1"],
                                 "auth": {"rules": [{"path": "/a", "policy": policy}]}}))
        r = subprocess.run([moat_bin, "config", "check", str(f)], capture_output=True, text=True,
                           timeout=30)
        assert (r.returncode == 0) == ok, (policy, r.stdout, r.stderr)
