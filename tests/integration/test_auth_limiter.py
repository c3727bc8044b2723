"""One limiter for every check of a secret at the gateway, end to end with
python3-requests against the Flask echo app under gunicorn behind moat: the
MFA step-up (TOTP and recovery codes) has its own counter and lock
(auth.mfa_failures) and is refused for a locked account; the password
change's current password counts as a login's; bearer tokens, wrong codes
and both login forms count against one client address (auth.address_failures);
a login naming no user is logged under a keyed tag, never as typed.

The site trusts 127.0.0.1 as a proxy, so that each test picks its own client
address with X-Forwarded-For and the address counters of the tests do not
mix. Outcomes are counted (statuses, events), never timed."""

import re
import time

import pyotp
import pytest
import requests

from conftest import serving_dir
from helpers import toml_dumps
from test_auth_portal import PW, RULES, csrf_of, user_cmd

LIMITS = {"argon2_memory": "1MiB", "argon2_time": 1, "lockout_failures": 5, "mfa_failures": 5,
          "address_failures": 12}


class Site:
    def __init__(self, moat_bin, m, cfg, workdir):
        self.bin, self.m, self.cfg, self.dir = moat_bin, m, cfg, workdir
        self.url = m.url

    def user(self, *args, stdin=""):
        r = user_cmd(self.bin, self.cfg, *args, stdin=stdin)
        assert r.returncode == 0, r.stderr
        return r

    def add(self, name):
        self.user("add", name, stdin=PW + "\n")

    def enroll(self, name):
        """`moat user mfa enroll`: the TOTP secret and the recovery codes."""
        out = self.user("mfa", "enroll", name).stdout
        secret = re.search(r"secret=([A-Z2-7]+)", out).group(1)
        codes = re.findall(r"(?m)^    ([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})$", out)
        assert len(codes) == 10
        return pyotp.TOTP(secret), codes

    def log_text(self):
        p = self.dir / "security.log"
        return p.read_text() if p.exists() else ""

    def wait_events(self, want, what):
        """Bounded wait for the security log's writer thread: returns the
        events (dicts) once want(events) holds."""
        import json
        deadline = time.time() + 10
        while True:
            evs = [json.loads(line) for line in self.log_text().splitlines() if line.strip()]
            if want(evs):
                return evs
            assert time.time() < deadline, "no %s in the security log" % what
            time.sleep(0.1)


@pytest.fixture(scope="module")
def site(moat_bin, module_moat, echo, tmp_path_factory):
    d = serving_dir(tmp_path_factory.mktemp("limiter"))
    store = d / "moat.db"
    cfg = d / "users.toml"
    cfg.write_text(toml_dumps({"store": {"url": "sqlite:%s" % store}, "auth": LIMITS}))
    m = module_moat(echo.url(), store={"url": "sqlite:%s" % store},
                    auth=dict(LIMITS, rules=RULES), trusted_proxies=["127.0.0.1/32"],
                    log={"security": str(d / "security.log")})
    return Site(moat_bin, m, cfg, d)


def client(addr):
    """A browser whose requests come from addr (through the trusted proxy)."""
    s = requests.Session()
    s.headers["X-Forwarded-For"] = addr
    return s


def form_login(site, s, user, password=PW, code=None):
    page = s.get(site.url + "/.moat/login")
    assert page.status_code == 200
    data = {"username": user, "password": password, "csrf": csrf_of(page.text)}
    if code:
        data["code"] = code
    return s.post(site.url + "/.moat/login", data=data, allow_redirects=False)


def api_login(site, s, user, password=PW, code=None):
    body = {"username": user, "password": password}
    if code:
        body["code"] = code
    return s.post(site.url + "/.moat/api/login", json=body)


def step_up(site, s, code):
    page = s.get(site.url + "/.moat/mfa")
    assert page.status_code == 200
    return s.post(site.url + "/.moat/mfa", data={"csrf": csrf_of(page.text), "code": code},
                  allow_redirects=False)


def wrong_codes(totp, n):
    """n six-digit codes none of which the window (now +- one step) accepts."""
    now = time.time()
    right = {totp.at(now + d) for d in (-60, -30, 0, 30, 60)}
    return [c for c in ("%06d" % (i * 7919 % 1000000) for i in range(1, n + 10))
            if c not in right][:n]


def retry_after(r):
    """The Retry-After of a 429: present, an integer of seconds, at least
    one, at most a day (the longest lock)."""
    assert r.status_code == 429, (r.status_code, r.text)
    v = r.headers.get("Retry-After")
    assert v is not None and re.fullmatch(r"[0-9]+", v), r.headers
    assert 1 <= int(v) <= 86400, v
    return int(v)


def one_factor_session(site, addr, user):
    s = client(addr)
    r = api_login(site, s, user)
    assert r.status_code == 200 and r.json()["mfa"] is False, r.text
    return s


def test_mfa_step_up_brute_force_bounded(site):
    """30 wrong codes at the step-up: the first mfa_failures (5) are counted
    (401), every later one is refused unseen (429), and so is the right code
    after them; the session stays one-factor. `moat user unlock` lifts it."""
    site.add("mia")
    totp, _ = site.enroll("mia")
    s = one_factor_session(site, "198.51.100.1", "mia")
    statuses = [step_up(site, s, c).status_code for c in wrong_codes(totp, 30)]
    assert statuses == [401] * 5 + [429] * 25, statuses
    r = step_up(site, s, totp.now())
    retry_after(r)
    assert s.get(site.url + "/echo/mfa", allow_redirects=False).status_code == 302
    # A login that gives the right code is refused too (same answer as any
    # failed login); the password alone still gives one factor.
    other = client("198.51.100.2")
    assert api_login(site, other, "mia", code=totp.now()).status_code == 401
    assert api_login(site, other, "mia").json()["mfa"] is False
    evs = site.wait_events(lambda e: any(x["event"] == "auth.mfa.lockout" for x in e),
                           "auth.mfa.lockout")
    fails = [e for e in evs if e["event"] == "auth.mfa.failure" and e.get("user") == "mia"]
    assert len(fails) >= 31 and {"bad_code", "mfa_locked"} <= {e["cause"] for e in fails}
    locks = [e for e in evs if e["event"] == "auth.mfa.lockout" and e.get("user") == "mia"]
    assert len(locks) == 1 and locks[0]["config_key"] == "auth.mfa_failures"
    listed = [ln for ln in site.user("list").stdout.splitlines() if ln.startswith("mia ")]
    assert len(listed) == 1 and "active, second factor locked until" in listed[0], listed
    site.user("unlock", "mia")
    r = step_up(site, s, totp.now())
    assert r.status_code == 303
    assert s.get(site.url + "/echo/mfa").status_code == 200


def test_parallel_step_up_guesses_bounded(site):
    """30 wrong codes sent at once: a check reads the lock before it runs,
    so only the checks already in flight on the thread pool (libuv's 4)
    when the fifth failure locks can still be counted: at most 5 + 4 get
    401, the others 429, and the right code after them is refused."""
    import concurrent.futures
    site.add("nell")
    totp, _ = site.enroll("nell")
    s = one_factor_session(site, "198.51.100.5", "nell")
    cookie = s.cookies.get("moat_session")
    csrf = csrf_of(s.get(site.url + "/.moat/mfa").text)

    def guess(code):
        c = client("198.51.100.5")
        c.cookies.set("moat_session", cookie)
        return c.post(site.url + "/.moat/mfa", data={"csrf": csrf, "code": code},
                      allow_redirects=False, timeout=60).status_code

    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        statuses = list(pool.map(guess, wrong_codes(totp, 30)))
    assert set(statuses) == {401, 429}, statuses
    assert 5 <= statuses.count(401) <= 9, statuses
    assert step_up(site, s, totp.now()).status_code == 429


def test_locked_account_cannot_step_up(site):
    """A session opened before the account was locked (lockout_failures
    wrong passwords) cannot add the second factor while the lock lasts."""
    site.add("noah")
    totp, codes = site.enroll("noah")
    s = one_factor_session(site, "198.51.100.10", "noah")
    attacker = client("198.51.100.11")
    for i in range(5):
        assert api_login(site, attacker, "noah", password="guess %d" % i).status_code == 401
    retry_after(step_up(site, s, totp.now()))
    retry_after(step_up(site, s, codes[0]))
    assert s.get(site.url + "/echo/mfa", allow_redirects=False).status_code == 302
    site.user("unlock", "noah")
    assert step_up(site, s, codes[0]).status_code == 303  # the recovery code was not spent


def test_recovery_codes_throttled(site):
    """Recovery-code guesses count on the second factor's counter; once it
    is locked a real recovery code is refused (and not spent), at the
    step-up and at login."""
    site.add("olga")
    totp, codes = site.enroll("olga")
    s = one_factor_session(site, "198.51.100.20", "olga")
    guesses = ["aaaa-bbbb-cccc-dd%02d" % i for i in range(22, 30)]
    statuses = [step_up(site, s, g).status_code for g in guesses]
    assert statuses == [401] * 5 + [429] * 3, statuses
    retry_after(step_up(site, s, codes[0]))
    assert api_login(site, client("198.51.100.21"), "olga", code=codes[1]).status_code == 401
    assert form_login(site, client("198.51.100.21"), "olga", code=codes[1]).status_code == 401
    site.user("unlock", "olga")
    assert api_login(site, client("198.51.100.21"), "olga", code=codes[1]).json()["mfa"] is True
    assert step_up(site, s, codes[0]).status_code == 303


def test_password_change_guessing_throttled(site):
    """The password form's current password is a login's password: after
    lockout_failures wrong ones the right one is refused (429) and the
    password stays; the account is locked for logins as well."""
    site.add("pete")
    s = one_factor_session(site, "198.51.100.30", "pete")
    new = "a brand new passphrase for pete"
    statuses = []
    for i in range(8):
        page = s.get(site.url + "/.moat/password")
        r = s.post(site.url + "/.moat/password", allow_redirects=False,
                   data={"csrf": csrf_of(page.text), "password": "guess %d" % i, "new": new,
                         "new2": new})
        statuses.append(r.status_code)
    assert statuses == [400] * 5 + [429] * 3, statuses
    page = s.get(site.url + "/.moat/password")
    r = s.post(site.url + "/.moat/password", allow_redirects=False,
               data={"csrf": csrf_of(page.text), "password": PW, "new": new, "new2": new})
    retry_after(r)
    other = client("198.51.100.31")
    assert api_login(site, other, "pete").status_code == 401  # locked
    site.user("unlock", "pete")
    assert api_login(site, other, "pete", password=new).status_code == 401
    assert api_login(site, other, "pete").status_code == 200
    evs = site.wait_events(
        lambda e: sum(x["event"] == "auth.password.failure" and x.get("user") == "pete"
                      for x in e) >= 9, "auth.password.failure")
    assert any(e["event"] == "auth.lockout" and e.get("user") == "pete" for e in evs)


def test_one_address_counter_for_forms_json_and_codes(site):
    """address_failures (12) counts every kind of failure from one address:
    4 wrong JSON logins, 4 wrong form logins and 4 wrong step-up codes
    throttle it; then the right password is refused from there (JSON and
    form alike) and accepted from another address."""
    for name in ("quin", "rosa"):
        site.add(name)
    totp, _ = site.enroll("rosa")
    addr = "198.51.100.40"
    s = one_factor_session(site, addr, "rosa")  # a success: counts nothing
    c = client(addr)
    for i in range(4):
        assert api_login(site, c, "quin", password="json guess %d" % i).status_code == 401
        assert form_login(site, c, "nobody%d" % i, password="x").status_code == 401
    for code in wrong_codes(totp, 4):
        assert step_up(site, s, code).status_code == 401
    # the address is throttled: 429 with Retry-After (the name is not even
    # looked up), for the form, the JSON API and the step-up alike
    retry_after(api_login(site, c, "quin"))
    retry_after(form_login(site, c, "quin"))
    retry_after(step_up(site, s, totp.now()))
    assert api_login(site, client("198.51.100.41"), "quin").status_code == 200


def test_bearer_token_guessing_throttled(site):
    """Wrong bearer tokens count against the client address: after
    address_failures of them even a live token is refused from there, and
    still works from elsewhere."""
    site.add("sven")
    out = site.user("token", "create", "sven").stdout
    tok = re.search(r"moat_[A-Za-z0-9_-]{43}", out).group(0)
    c = client("198.51.100.50")
    c.headers["Accept"] = "application/json"
    for i in range(12):
        guess = "moat_%043d" % i
        r = c.get(site.url + "/echo/private", headers={"Authorization": "Bearer " + guess})
        assert r.status_code == 401
    r = c.get(site.url + "/echo/private", headers={"Authorization": "Bearer " + tok})
    retry_after(r)
    assert r.json() == {"error": "too many failed attempts"}
    r = c.get(site.url + "/.moat/api/session", headers={"Authorization": "Bearer " + tok})
    retry_after(r)
    # a public path still serves the client, anonymously
    r = c.get(site.url + "/echo/public", headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 200 and "Retry-After" not in r.headers
    r = client("198.51.100.51").get(site.url + "/echo/private",
                                    headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 200
    evs = site.wait_events(
        lambda e: sum(x["event"] == "auth.token.failure" for x in e) >= 14, "auth.token.failure")
    causes = {e["cause"] for e in evs if e["event"] == "auth.token.failure"}
    assert causes == {"unknown_token", "throttled"}
    assert tok not in site.log_text()


def test_unknown_user_logged_as_tag(site):
    """A password typed into the user-name field is not logged as typed:
    an unknown name becomes unknown:<12 hex>, the same for the same name; a
    known user's failure is logged by name."""
    site.add("tara")
    typed = "Tr0ub4dor-and-3"
    failures = lambda evs: [e for e in evs if e["event"] == "auth.login.failure"]  # noqa: E731
    before = len(failures(site.wait_events(lambda e: True, "")))
    c = client("198.51.100.60")
    assert form_login(site, c, typed, password="x").status_code == 401
    assert api_login(site, c, typed, password="y").status_code == 401
    assert api_login(site, c, "tara", password="wrong one").status_code == 401
    evs = site.wait_events(lambda e: len(failures(e)) >= before + 3, "auth.login.failure")
    users = [e["user"] for e in failures(evs)[before:before + 3]]
    assert users[2] == "tara"
    assert users[0] == users[1] and re.fullmatch(r"unknown:[0-9a-f]{12}", users[0]), users
    assert typed not in site.log_text() and typed.lower() not in site.log_text()


def test_retry_after_tells_no_account(site):
    """Retry-After says nothing about the account: a throttled address gets
    the same 429 and header for an unknown name as for a known one; a locked
    account at login is answered as a wrong password (401, no Retry-After),
    exactly as an unknown name is."""
    site.add("ulla")
    attacker = client("198.51.100.70")
    for i in range(5):
        assert api_login(site, attacker, "ulla", password="guess %d" % i).status_code == 401
    fresh = client("198.51.100.71")
    locked = api_login(site, fresh, "ulla")
    unknown = api_login(site, fresh, "nobody-at-all")
    for r in (locked, unknown):
        assert r.status_code == 401 and "Retry-After" not in r.headers, r.headers
    assert locked.text == unknown.text
    assert set(locked.headers) - {"Date"} == set(unknown.headers) - {"Date"}
    # throttle an address with unknown names only (address_failures 12)
    c = client("198.51.100.72")
    for i in range(12):
        assert api_login(site, c, "ghost%d" % i, password="x").status_code == 401
    known, nobody = api_login(site, c, "ulla"), api_login(site, c, "ghost-x")
    a, b = retry_after(known), retry_after(nobody)
    assert abs(a - b) <= 5  # the same address lock; seconds may tick between
    assert known.text == nobody.text
    assert set(known.headers) - {"Date"} == set(nobody.headers) - {"Date"}
    fa, fb = form_login(site, c, "ulla"), form_login(site, c, "ghost-y")
    assert abs(retry_after(fa) - retry_after(fb)) <= 5
    evs = site.wait_events(
        lambda e: sum(x["event"] == "auth.login.failure" and x.get("cause") == "throttled"
                      and x.get("status") == 429 for x in e) >= 4, "throttled login failures")
    assert all(e.get("status") == 429 for e in evs
               if e["event"] == "auth.login.failure" and e.get("cause") == "throttled")


def test_admin_lock_ends_live_sessions(site):
    """`moat user lock` ends the user's sessions, also one the gateway's
    session cache holds: the next requests of a live cookie are refused
    (bounded poll, no timing asserted); the cookie stays dead after
    `moat user unlock`, and a new login works again. A bearer token of
    the locked user is refused as well."""
    site.add("vera")
    s = client("198.51.100.80")
    assert form_login(site, s, "vera").status_code == 303
    tok = re.search(r"moat_[A-Za-z0-9_-]{43}", site.user("token", "create", "vera").stdout).group(0)
    bearer = {"Authorization": "Bearer " + tok, "Accept": "application/json"}
    for _ in range(3):  # warm the session cache
        assert s.get(site.url + "/echo/private").status_code == 200
    assert s.get(site.url + "/echo/private", headers=bearer).status_code == 200
    site.user("lock", "vera")
    deadline = time.time() + 30
    while True:
        r = s.get(site.url + "/echo/private", allow_redirects=False)
        if r.status_code == 302:
            break
        assert r.status_code == 200 and time.time() < deadline, r.status_code
        time.sleep(0.2)
    assert "/.moat/login" in r.headers["Location"]
    assert s.get(site.url + "/.moat/api/session").status_code == 401
    assert requests.get(site.url + "/echo/private", headers=bearer).status_code == 401
    site.user("unlock", "vera")
    assert s.get(site.url + "/echo/private", allow_redirects=False).status_code == 302
    assert form_login(site, s, "vera").status_code == 303
    assert s.get(site.url + "/echo/private").status_code == 200
