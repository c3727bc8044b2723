"""Users in PostgreSQL behind two gateways: a SQLite store moved with
`moat store copy` into PostgreSQL, two moat instances with store.users in
that PostgreSQL and store.state in one Redis; the moved users log in on
either instance (password, roles, TOTP), a session made on A works on B,
`moat store migrate --config` reads both roles; PostgreSQL stopped: logins
fail closed while public routes answer; back: logins work again without
restarting moat. Needs the store.users / store.state settings and the Redis
state backend (the store-state branch): skipped by a moat without them."""

import os
import re
import shutil
import signal
import subprocess
import tempfile

import pyotp
import pytest
import requests

from authlib import Users, write_config
from conftest import serving_dir
from helpers import HOST, free_port, port_accepts, toml_dumps, wait_for
from pgserver import pg_server  # noqa: F401 (a fixture)

PW = "correct horse battery staple"
FAST = {"argon2_memory": "1MiB", "argon2_time": 1, "address_failures": 100000}
RULES = [
    {"path": "/echo/public", "policy": "public"},
    {"path": "/echo/admin", "policy": "role:admin"},
    {"path": "/echo/", "policy": "authenticated"},
]


def has_two_roles(moat_bin, tmp_path):
    cfg = tmp_path / "probe.toml"
    cfg.write_text('[store]\nusers = "postgresql://x@127.0.0.1:1/x"\n'
                   'state = "redis://127.0.0.1:1/0"\n')
    r = subprocess.run([moat_bin, "config", "check", str(cfg)], capture_output=True, text=True,
                       timeout=60)
    return "unknown setting 'store.users'" not in r.stderr


@pytest.fixture(scope="module")
def redis_url():
    exe = shutil.which("redis-server")
    if not exe:
        pytest.fail("redis-server not found (Debian package redis-server)")
    d = tempfile.mkdtemp(prefix="moat-redis-", dir="/tmp")
    port = free_port()
    p = subprocess.Popen([exe, "--port", str(port), "--bind", HOST, "--save", "",
                          "--appendonly", "no", "--dir", d, "--protected-mode", "yes"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: p.poll() is None and port_accepts(port), 15, what="redis-server")
        yield "redis://%s:%d/0" % (HOST, port)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)


def api_login(url, user, password=PW, code=None):
    s = requests.Session()
    body = {"username": user, "password": password}
    if code:
        body["code"] = code
    return s, s.post(url + "/.moat/api/login", json=body, timeout=30)


def test_copied_users_log_in_on_two_gateways(moat_bin, moat, echo, pg_server, redis_url,
                                             tmp_path):
    if not has_two_roles(moat_bin, tmp_path):
        pytest.skip("this moat has no store.users / store.state settings")
    # users made in SQLite, then moved
    users = Users(moat_bin, write_config(tmp_path))
    assert users("add", "alice", "--role", "admin", stdin=PW + "\n").returncode == 0
    assert users("add", "Bob", stdin=PW + "\n").returncode == 0
    enrolled = users("mfa", "enroll", "bob")
    secret = re.search(r"secret=([A-Z2-7]{32})", enrolled.stdout).group(1)
    pg = pg_server.fresh_url()
    c = subprocess.run([moat_bin, "store", "copy", "sqlite:%s" % (tmp_path / "moat.db"), pg],
                       capture_output=True, text=True, timeout=120)
    assert c.returncode == 0 and "2 users" in c.stdout, c.stderr

    (tmp_path / "gw").mkdir()
    d = serving_dir(tmp_path / "gw")
    cfg = d / "moat.toml"
    cfg.write_text(toml_dumps({"store": {"users": pg, "state": redis_url}, "auth": FAST}))
    m = subprocess.run([moat_bin, "store", "migrate", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=120)
    assert m.returncode == 0, m.stderr
    assert "schema version 2, up to date" in m.stdout and "Redis keeps no schema" in m.stdout
    assert pg_server.password not in m.stdout + m.stderr
    listing = subprocess.run([moat_bin, "user", "list", "--config", str(cfg)],
                             capture_output=True, text=True, timeout=120)
    assert re.search(r"(?m)^alice\s+admin\s", listing.stdout), listing.stdout + listing.stderr

    store = {"users": pg, "state": redis_url}
    a = moat(echo.url(), store=store, auth=dict(FAST, rules=RULES))
    b = moat(echo.url(), store=store, auth=dict(FAST, rules=RULES))
    s, r = api_login(a.url, "ALICE")
    assert r.status_code == 200, r.text
    assert s.get(b.url + "/echo/admin", timeout=30).status_code == 200  # A's session on B
    _, wrong = api_login(b.url, "alice", password="not the password")
    assert wrong.status_code == 401
    sb, with_code = api_login(b.url, "bob", code=pyotp.TOTP(secret).now())
    assert with_code.status_code == 200, with_code.text
    assert sb.get(a.url + "/echo/x", timeout=30).status_code == 200
    assert sb.get(a.url + "/echo/admin", timeout=30).status_code == 403

    # PostgreSQL away: no login, public routes still answer; back: logins work
    pg_server.stop()
    try:
        _, down = api_login(a.url, "alice")
        assert down.status_code not in (200, 401), down.status_code
        assert requests.get(a.url + "/echo/public", timeout=30).status_code == 200
    finally:
        pg_server.start()
    wait_for(lambda: api_login(a.url, "alice")[1].status_code == 200, 30, interval=0.5,
             what="logins through PostgreSQL again")
    assert api_login(b.url, "alice")[1].status_code == 200
    for inst in (a, b):
        assert pg_server.password not in inst.stderr.text + inst.stdout.text
