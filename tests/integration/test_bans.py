"""Bans for bad behaviour (limits.ban_*, issue 15) end to end, the real
binary in front of the Flask echo app under gunicorn, the bans in a SQLite
state store: N refusals of the kinds limits.ban_on lists ban the client
address on every path with 429 and Retry-After; a ban made by instance A
holds on instance B within the refresh bound; a ban ends by itself, or at
`moat ban remove`; ban.added and ban.refused are logged once and
explained by `moat log why`. Clients are told apart by X-Forwarded-For
through a trusted proxy (127.0.0.1), so banning one never bans the test.
Waits are bounded polls; nothing asserts how long anything took."""
import json
import subprocess
import time

import requests

from conftest import serving_dir
from test_auth_portal import FAST, PW, RULES, api_login, user_cmd
from helpers import toml_dumps

BOUND = 20  # seconds: the ban table refreshes every second; generous for a busy machine


def poll(fn, want, bound=BOUND):
    deadline = time.time() + bound
    got = fn()
    while got != want and time.time() < deadline:
        time.sleep(0.1)
        got = fn()
    return got


class Site:
    def __init__(self, moat_bin, ms, cfg, d):
        self.bin, self.ms, self.cfg, self.dir = moat_bin, ms, cfg, d
        self.m = ms[0]
        self.url = self.m.url

    def events(self):
        p = self.dir / "security.log"
        if not p.exists():
            return []
        return [json.loads(l) for l in p.read_text().splitlines() if l.strip()]

    def wait_event(self, pred):
        deadline = time.time() + BOUND
        while time.time() < deadline:
            evs = [e for e in self.events() if pred(e)]
            if evs:
                return evs
            time.sleep(0.1)
        return []

    def ban(self, *args):
        return subprocess.run([self.bin, "ban", *args, "--config", str(self.cfg)],
                              capture_output=True, text=True, timeout=30)


def make_site(moat_bin, moat, echo, tmp_path_factory, limits, instances=1, users=(), auth=None):
    d = serving_dir(tmp_path_factory.mktemp("bansite"))
    store = d / "moat.db"
    cfg = d / "moat-cli.toml"
    cfg.write_text(toml_dumps({"store": {"url": "sqlite:%s" % store}, "auth": FAST}))
    for name in users:
        r = user_cmd(moat_bin, cfg, "add", name, stdin=PW + "\n")
        assert r.returncode == 0, r.stderr
    conf = dict(store={"url": "sqlite:%s" % store}, limits=limits,
                trusted_proxies=["127.0.0.1/32"], log={"security": str(d / "security.log")})
    if auth is not None:
        conf["auth"] = dict(FAST, **auth)
    ms = [moat(echo.url(), **conf) for _ in range(instances)]
    return Site(moat_bin, ms, cfg, d)


def client(addr):
    return {"X-Forwarded-For": addr}


def code(url, addr, path="/echo/ok"):
    return requests.get(url + path, headers=client(addr), allow_redirects=False).status_code


BAN = {"ban_strikes": 3, "ban_window": "1m", "ban_duration": "1h", "ban_on": ["paths"]}


def test_strikes_ban_the_address_everywhere_and_ban_remove_lifts_it(moat_bin, moat, echo,
                                                                     tmp_path_factory):
    site = make_site(moat_bin, moat, echo, tmp_path_factory, BAN)
    bad, good = "198.51.100.7", "198.51.100.8"
    assert code(site.url, bad) == 200
    for _ in range(3):
        assert code(site.url, bad, "/.git/config") == 404
    assert poll(lambda: code(site.url, bad), 429) == 429
    r = requests.get(site.url + "/echo/anything", headers=client(bad))
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    # a POST, a sensitive path: refused the same, before any other work
    assert requests.post(site.url + "/echo/x", data="a", headers=client(bad)).status_code == 429
    assert code(site.url, good) == 200
    # one ban.added, one ban.refused for the episode
    added = site.wait_event(lambda e: e.get("event") == "ban.added")
    assert len(added) == 1
    assert added[0]["addr"] == bad and added[0]["why"] == "path.denied"
    assert int(added[0]["until"]) > time.time() + 3000
    refused = site.wait_event(lambda e: e.get("event") == "ban.refused")
    assert refused and refused[0]["client"] == bad and refused[0]["status"] == 429
    rid = refused[0]["request_id"]
    out = subprocess.run([moat_bin, "log", "why", rid, "--file", str(site.dir / "security.log")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "ban.refused" in out.stdout and "moat ban remove %s" % bad in out.stdout
    # moat ban list shows it; remove lifts it on the running gateway
    ls = site.ban("list")
    assert ls.returncode == 0, ls.stderr
    assert bad in ls.stdout and "path.denied" in ls.stdout and good not in ls.stdout
    rm = site.ban("remove", bad)
    assert rm.returncode == 0, rm.stderr
    assert poll(lambda: code(site.url, bad), 200) == 200
    assert site.ban("remove", bad).returncode == 1  # not banned any more
    assert site.ban("remove", "not-an-address").returncode == 2
    assert "no bans" in site.ban("list").stdout
    refused = [e for e in site.events() if e.get("event") == "ban.refused"]
    assert len(refused) == 1, refused


def test_a_ban_made_on_a_holds_on_b(moat_bin, moat, echo, tmp_path_factory):
    site = make_site(moat_bin, moat, echo, tmp_path_factory, BAN, instances=2)
    a, b = site.ms
    bad = "203.0.113.9"
    assert code(b.url, bad) == 200
    for _ in range(3):
        assert code(a.url, bad, "/.env") == 404
    assert poll(lambda: code(a.url, bad), 429) == 429
    # B learns it from the store within its refresh bound (polled, bounded)
    assert poll(lambda: code(b.url, bad), 429) == 429
    assert code(b.url, "203.0.113.10") == 200


def test_strikes_spread_over_two_instances_count_together(moat_bin, moat, echo,
                                                         tmp_path_factory):
    site = make_site(moat_bin, moat, echo, tmp_path_factory, BAN, instances=2)
    a, b = site.ms
    bad = "203.0.113.20"
    assert code(a.url, bad, "/.git/HEAD") == 404
    assert code(b.url, bad, "/.git/HEAD") == 404
    assert code(a.url, bad, "/.git/HEAD") == 404
    assert poll(lambda: code(b.url, bad), 429) == 429


def test_a_ban_ends_by_itself(moat_bin, moat, echo, tmp_path_factory):
    site = make_site(moat_bin, moat, echo, tmp_path_factory, dict(BAN, ban_duration="2s"))
    bad = "198.51.100.30"
    for _ in range(3):
        assert code(site.url, bad, "/.git/config") == 404
    assert poll(lambda: code(site.url, bad), 429) == 429
    assert poll(lambda: code(site.url, bad), 200, bound=30) == 200


def test_fewer_strikes_or_other_refusals_ban_nobody(moat_bin, moat, echo, tmp_path_factory):
    site = make_site(moat_bin, moat, echo, tmp_path_factory, dict(BAN, ban_strikes=5))
    bad = "198.51.100.40"
    for _ in range(4):
        assert code(site.url, bad, "/.git/config") == 404
    # not a kind ban_on lists: a WAF block
    for _ in range(5):
        r = requests.get(site.url + "/echo/q", params={"x": "<script>alert(1)</script>"},
                         headers=client(bad))
        assert r.status_code == 403
    # the sentinel: a strike of another address, then its ban, flushes the pool's work
    other = "198.51.100.41"
    for _ in range(5):
        assert code(site.url, other, "/.git/config") == 404
    assert poll(lambda: code(site.url, other), 429) == 429
    assert code(site.url, bad) == 200


def test_rate_limit_refusals_and_waf_blocks_ban(moat_bin, moat, echo, tmp_path_factory):
    limits = {"ban_strikes": 2, "ban_window": "1m", "ban_duration": "1h",
              "ban_on": ["rate", "waf"],
              "rate": [{"path": "/echo/limited", "requests": 1, "window": "1m"}]}
    site = make_site(moat_bin, moat, echo, tmp_path_factory, limits)
    flood = "198.51.100.50"
    assert code(site.url, flood, "/echo/limited") == 200
    assert code(site.url, flood, "/echo/limited") == 429
    assert code(site.url, flood, "/echo/limited") == 429
    # banned: now refused on a route that has no limit
    assert poll(lambda: code(site.url, flood, "/echo/free"), 429) == 429
    added = site.wait_event(lambda e: e.get("event") == "ban.added")
    assert added and added[0]["why"] == "rate.limited"
    attacker = "198.51.100.51"
    for _ in range(2):
        r = requests.get(site.url + "/echo/q", params={"x": "<script>alert(1)</script>"},
                         headers=client(attacker))
        assert r.status_code == 403
    assert poll(lambda: code(site.url, attacker), 429) == 429
    assert code(site.url, "198.51.100.52", "/echo/free") == 200


def test_failed_logins_ban(moat_bin, moat, echo, tmp_path_factory):
    limits = {"ban_strikes": 3, "ban_window": "1m", "ban_duration": "1h", "ban_on": ["login"]}
    site = make_site(moat_bin, moat, echo, tmp_path_factory, limits, users=("alice",),
                     auth={"rules": RULES})
    guesser = "198.51.100.60"
    for _ in range(3):
        r = requests.post(site.url + "/.moat/api/login", headers=client(guesser),
                          json={"username": "alice", "password": "wrong"})
        assert r.status_code == 401
    assert poll(lambda: code(site.url, guesser, "/echo/public"), 429) == 429
    # alice, from another address, logs in
    s = requests.Session()
    r = s.post(site.url + "/.moat/api/login", headers=client("198.51.100.61"),
               json={"username": "alice", "password": PW})
    assert r.status_code == 200
    added = site.wait_event(lambda e: e.get("event") == "ban.added")
    assert added and added[0]["why"] == "auth.login.failure" and added[0]["addr"] == guesser
