"""Two moat instances, A and B, sharing their state in a real redis-server
the tests start (tests/integration/redisserver.py) and their users in one
SQLite file both open (store.users / store.state), in front of the Flask
echo app under gunicorn: a login on A is a session on B; a logout on B is
refused by A at once (the change reaches A's cache through Redis pub/sub
before A reads the next request); wrong passwords and wrong second-factor
codes spread over A and B lock the account on both; a TOTP code used on A is
refused on B. Redis stopped: protected routes 503, public ones 200, logins
fail with a clear message, store.unavailable; Redis started again on the
same port: logins work again without restarting moat, store.available.
rediss:// with a certificate the test makes, and one moat refuses.
Outcomes are counted (statuses, events), never timed."""

import json
import time

import pyotp
import pytest
import requests

import redisserver
from conftest import serving_dir
from helpers import toml_dumps
from test_auth_portal import PW, RULES, csrf_of, user_cmd

LIMITS = {"argon2_memory": "1MiB", "argon2_time": 1, "lockout_failures": 5, "mfa_failures": 5,
          "address_failures": 100000}

pytestmark = pytest.mark.skipif(not redisserver.available(), reason="redis-server not installed")


class Pair:
    """Instances A and B and the `moat user` config they share."""

    def __init__(self, moat_bin, a, b, cfg, d):
        self.bin, self.a, self.b, self.cfg, self.dir = moat_bin, a, b, cfg, d

    def user(self, *args, stdin=""):
        r = user_cmd(self.bin, self.cfg, *args, stdin=stdin)
        assert r.returncode == 0, r.stderr
        return r

    def add(self, name):
        self.user("add", name, stdin=PW + "\n")

    def enroll(self, name):
        import re
        out = self.user("mfa", "enroll", name).stdout
        return pyotp.TOTP(re.search(r"secret=([A-Z2-7]+)", out).group(1))

    def events(self, which):
        p = self.dir / ("security-%s.log" % which)
        if not p.exists():
            return []
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]

    def wait_event_any(self, name, user):
        """The events name about user in A's and B's logs (bounded wait)."""
        deadline = time.monotonic() + 10
        while True:
            evs = [e for w in "ab" for e in self.events(w)
                   if e.get("event") == name and e.get("user") == user]
            if evs:
                return evs
            assert time.monotonic() < deadline, "no %s about %s" % (name, user)
            time.sleep(0.1)

    def wait_event(self, which, name, after=0):
        deadline = time.monotonic() + 10
        while True:
            evs = [e for e in self.events(which)[after:] if e.get("event") == name]
            if evs:
                return evs
            assert time.monotonic() < deadline, "no %s in %s's security log" % (name, which)
            time.sleep(0.1)


def start_pair(moat_bin, factory, echo, tmp_path_factory, state_url):
    d = serving_dir(tmp_path_factory.mktemp("redispair"))
    store = {"users": "sqlite:%s" % (d / "users.db"), "state": state_url}
    cfg = d / "users.toml"
    cfg.write_text(toml_dumps({"store": store, "auth": LIMITS}))
    ms = [factory(echo.url(), store=store, auth=dict(LIMITS, rules=RULES),
                  log={"security": str(d / ("security-%s.log" % w))}) for w in "ab"]
    return Pair(moat_bin, ms[0], ms[1], cfg, d)


@pytest.fixture(scope="module")
def redis():
    r = redisserver.RedisServer().start()
    yield r
    r.close()


@pytest.fixture(scope="module")
def pair(moat_bin, module_moat, echo, tmp_path_factory, redis):
    p = start_pair(moat_bin, module_moat, echo, tmp_path_factory, redis.url(db=3))
    for name in ("ann", "bob", "cat", "dan", "eve", "fay"):
        p.add(name)
    return p


def login(m, user, password=PW, code=None):
    """API login on instance m: (status, session cookie or None, json)."""
    body = {"username": user, "password": password}
    if code:
        body["code"] = code
    r = requests.post(m.url + "/.moat/api/login", json=body)
    return r.status_code, r.cookies.get("moat_session"), r


def get(m, path, cookie=None):
    h = {"Cookie": "moat_session=" + cookie} if cookie else {}
    return requests.get(m.url + path, headers=h, allow_redirects=False).status_code


def test_login_on_a_works_on_b_logout_on_b_refused_on_a(pair):
    st, cookie, _ = login(pair.a, "ann")
    assert st == 200 and cookie
    # A has the session in its cache (read it a few times), B reads Redis
    for _ in range(3):
        assert get(pair.a, "/echo/private", cookie) == 200
    assert get(pair.b, "/echo/private", cookie) == 200
    # log out on B (the portal's form, with its CSRF token)
    s = requests.Session()
    s.cookies.set("moat_session", cookie)
    acct = s.get(pair.b.url + "/.moat/")
    assert acct.status_code == 200
    r = s.post(pair.b.url + "/.moat/logout", data={"csrf": csrf_of(acct.text)},
               allow_redirects=False)
    assert r.status_code == 303
    # A refuses the cookie at once: no wait, no retry
    assert get(pair.a, "/echo/private", cookie) == 302
    assert get(pair.b, "/echo/private", cookie) == 302


def test_admin_lock_on_the_cli_ends_sessions_on_both(pair):
    st, cookie, _ = login(pair.b, "dan")
    assert st == 200
    assert get(pair.a, "/echo/private", cookie) == 200
    assert get(pair.b, "/echo/private", cookie) == 200
    pair.user("lock", "dan")
    assert get(pair.a, "/echo/private", cookie) == 302
    assert get(pair.b, "/echo/private", cookie) == 302
    pair.user("unlock", "dan")
    assert login(pair.a, "dan")[0] == 200


def test_wrong_passwords_over_a_and_b_lock_on_both(pair):
    """lockout_failures = 5: five wrong passwords, alternately on A and B,
    lock the account; the right password is then refused on both (401, the
    same answer as a wrong one)."""
    for i in range(5):
        assert login(pair.a if i % 2 else pair.b, "bob", password="guess %d" % i)[0] == 401
    assert login(pair.a, "bob")[0] == 401
    assert login(pair.b, "bob")[0] == 401
    assert len(pair.wait_event_any("auth.lockout", "bob")) == 1
    listed = [ln for ln in pair.user("list").stdout.splitlines() if ln.startswith("bob ")]
    assert "locked until" in listed[0], listed
    pair.user("unlock", "bob")
    assert login(pair.b, "bob")[0] == 200


def wrong_codes(totp, n):
    now = time.time()
    right = {totp.at(now + d) for d in (-60, -30, 0, 30, 60)}
    return [c for c in ("%06d" % (i * 7919 % 1000000) for i in range(1, n + 10))
            if c not in right][:n]


def step_up(m, cookie, code, out=None):
    """The step-up form on m: its status; out (a list) gets the new cookie."""
    s = requests.Session()
    s.cookies.set("moat_session", cookie)
    page = s.get(m.url + "/.moat/mfa")
    assert page.status_code == 200
    r = s.post(m.url + "/.moat/mfa", data={"csrf": csrf_of(page.text), "code": code},
               allow_redirects=False)
    if out is not None:
        out.append(r.cookies.get("moat_session"))
    return r.status_code


def test_wrong_codes_at_step_up_over_a_and_b_lock_the_second_factor(pair):
    """mfa_failures = 5: wrong codes at the step-up, alternately on A and B,
    count together: five 401, then 429 on both, and the right code too."""
    totp = pair.enroll("cat")
    st, cookie, r = login(pair.a, "cat")
    assert st == 200 and r.json()["mfa"] is False
    codes = wrong_codes(totp, 7)
    statuses = [step_up(pair.a if i % 2 else pair.b, cookie, c) for i, c in enumerate(codes)]
    assert statuses == [401] * 5 + [429] * 2, statuses
    assert step_up(pair.a, cookie, totp.now()) == 429
    assert step_up(pair.b, cookie, totp.now()) == 429
    pair.user("unlock", "cat")
    new = []
    assert step_up(pair.b, cookie, totp.now(), new) == 303
    assert new[0] and new[0] != cookie  # a new session, with both factors
    assert get(pair.a, "/echo/mfa", new[0]) == 200
    assert get(pair.a, "/echo/mfa", cookie) == 302


def test_totp_code_used_on_a_refused_on_b(pair):
    totp = pair.enroll("eve")
    code = totp.now()
    st, cookie, r = login(pair.a, "eve", code=code)
    if st != 200:  # the step changed between now() and the check: once more
        code = totp.now()
        st, cookie, r = login(pair.a, "eve", code=code)
    assert st == 200 and r.json()["mfa"] is True
    # the same code on B: a replay
    assert login(pair.b, "eve", code=code)[0] == 401
    assert pair.wait_event_any("auth.login.failure", "eve")


def test_redis_stopped_then_started_again(moat_bin, moat, echo, tmp_path_factory):
    """A server of this test's own: stopped, protected paths answer 503 on
    both instances, public ones 200, a login 503 with a clear message, and
    store.unavailable; started again on the same port: logins work again
    without restarting moat, and store.available."""
    r = redisserver.RedisServer().start()
    try:
        p = start_pair(moat_bin, moat, echo, tmp_path_factory, r.url())
        p.add("gus")
        st, cookie, _ = login(p.a, "gus")
        assert st == 200
        assert get(p.b, "/echo/private", cookie) == 200
        r.stop()
        for m in (p.a, p.b):
            assert get(m, "/echo/private", cookie) == 503
            assert get(m, "/echo/public") == 200
            resp = requests.post(m.url + "/.moat/api/login",
                                 json={"username": "gus", "password": PW})
            assert resp.status_code == 503
            assert "Sign-in is unavailable" in resp.json()["error"]
            assert resp.headers.get("Retry-After") == "5"
        evs = p.wait_event("a", "store.unavailable")
        assert "127.0.0.1:%d" % r.port in evs[0]["reason"]
        assert "redis" in evs[0]["reason"]
        seen = len(p.events("a"))
        r.start()  # same port, empty (no persistence): the old session is gone
        deadline = time.monotonic() + 15
        while True:  # moat tries again at most once a second
            st, cookie2, _ = login(p.a, "gus")
            if st == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert st == 200
        assert get(p.b, "/echo/private", cookie2) == 200
        assert get(p.a, "/echo/private", cookie) == 302
        assert p.wait_event("a", "store.available", after=seen)
    finally:
        r.close()


def test_unreachable_redis_at_start(moat_bin, moat, echo, tmp_path_factory):
    """moat starts while Redis is down (public paths served, protected 503)
    and uses it once it is up."""
    r = redisserver.RedisServer()
    try:
        p = start_pair(moat_bin, moat, echo, tmp_path_factory, r.url())
        p.add("hal")  # the users' file: Redis is not needed for that
        assert get(p.a, "/echo/public") == 200
        assert login(p.a, "hal")[0] == 503
        r.start()
        deadline = time.monotonic() + 15
        while login(p.a, "hal")[0] != 200:
            assert time.monotonic() < deadline, "no login after Redis started"
            time.sleep(0.2)
    finally:
        r.close()


def test_rediss(moat_bin, moat, echo, tmp_path_factory):
    """TLS to Redis: the server's certificate (for 127.0.0.1, made here) is
    verified against ?ca=; another CA is refused at start, clearly."""
    r = redisserver.RedisServer(tls=True).start()
    other = redisserver.RedisServer(tls=True)
    try:
        p = start_pair(moat_bin, moat, echo, tmp_path_factory, r.url(db=1))
        p.add("ivy")
        st, cookie, _ = login(p.a, "ivy")
        assert st == 200
        assert get(p.b, "/echo/private", cookie) == 200
        assert r.command("EXISTS", "moat:us:1", db=1) == 1
        # a certificate from another CA: moat refuses to start, and says why
        d = serving_dir(tmp_path_factory.mktemp("badca"))
        store = {"users": "sqlite:%s" % (d / "u.db"),
                 "state": r.url(query="?ca=%s" % other.ca)}
        m = moat(echo.url(), store=store, auth=dict(LIMITS, rules=RULES), wait=False)
        m.expected_exit = None
        assert m.proc.wait(30) != 0
        m.stderr.join()
        assert "certificate" in m.stderr.text, m.stderr.text
    finally:
        r.close()
        other.close()


def test_password_from_env_never_logged(moat_bin, moat, echo, tmp_path_factory):
    """requirepass: the password comes through ${env:}; a wrong one is
    refused at start with AUTH named and the password nowhere in the
    output."""
    r = redisserver.RedisServer(password="pw-s3cret-41").start()
    try:
        d = serving_dir(tmp_path_factory.mktemp("redispw"))
        store = {"users": "sqlite:%s" % (d / "u.db"), "state": "${env:MOAT_TEST_REDIS}"}
        good = r.url(password="pw-s3cret-41")
        m = moat(echo.url(), store=store, auth=dict(LIMITS, rules=RULES),
                 env={"MOAT_TEST_REDIS": good})
        assert get(m, "/echo/private") == 302
        bad = moat(echo.url(), store=store, auth=dict(LIMITS, rules=RULES),
                   env={"MOAT_TEST_REDIS": r.url(password="not-it-77")}, wait=False)
        bad.expected_exit = None
        assert bad.proc.wait(30) != 0
        bad.stderr.join()
        assert "AUTH" in bad.stderr.text and "not-it-77" not in bad.stderr.text
        assert "pw-s3cret-41" not in m.stderr.text
    finally:
        r.close()


@pytest.mark.parametrize("store,message", [
    ('url = "sqlite:a.db"\nusers = "sqlite:b.db"', "'store.url' (both roles in one SQLite file)"
                                                   " and 'store.users' are both set"),
    ('url = "sqlite:a.db"\nstate = "redis://127.0.0.1/0"', "and 'store.state' are both set"),
    ('users = "postgresql://moat@127.0.0.1/moat"', "'store.users' is PostgreSQL: 'store.state'"
                                                   " must be Redis"),
    ('users = "sqlite:a.db"\nstate = "sqlite:b.db"', "'store.state' names another SQLite file"),
    ('state = "memcache://127.0.0.1"', "invalid 'store.state' value"),
    ('users = "mysql://x"', "invalid 'store.users' value"),
])
def test_config_refuses_unsupported_pairs(run, tmp_path, store, message):
    cfg = tmp_path / "moat.toml"
    cfg.write_text("[store]\n" + store + "\n")
    r = run("config", "check", str(cfg))
    assert r.returncode != 0 and message in r.stderr, r.stderr


def test_config_accepts_supported_pairs(run, tmp_path):
    for store in ('users = "sqlite:a.db"\nstate = "rediss://:pw@127.0.0.1:6380/2?ca=/x.pem"',
                  'users = "postgresql://moat@127.0.0.1/moat"\nstate = "redis://127.0.0.1"',
                  'users = "sqlite:a.db"', 'url = "sqlite:a.db"', 'state = "redis://h:1/0"'):
        cfg = tmp_path / "moat.toml"
        cfg.write_text("[store]\n" + store + "\n")
        r = run("config", "check", str(cfg))
        assert r.returncode == 0, (store, r.stderr)
        assert "pw" not in r.stdout + r.stderr
