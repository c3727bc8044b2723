"""Shared by test_sso_django.py, test_sso_flask.py and test_sso_fastapi.py:
a store with users (one with TOTP), an app under gunicorn (or uvicorn) that
imports integrations/python, moat in front with auth.identity_secret, and
the portal's login form."""

import hashlib
import hmac
import os
import re
import shutil
import signal
import subprocess
import time
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import requests

from conftest import APPS, PYTHON, REPO, START_TIMEOUT, Gunicorn, serving_dir, short_tmpdir
from helpers import HOST, free_port, port_accepts, toml_dumps, wait_for

PW = "correct horse battery staple"
SECRET = "sso test identity secret, more than 32 characters long"
FAST = {"argon2_memory": "1MiB", "argon2_time": 1, "address_failures": 100000}
INTEGRATIONS = REPO / "integrations" / "python"


def user_cmd(moat_bin, cfg, *args, stdin=""):
    create = ["--create"] if args and args[0] == "add" else []
    r = subprocess.run([moat_bin, "user", *args, *create, "--config", str(cfg)], input=stdin,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


def make_store(moat_bin, d, users):
    """users: (name, roles, totp); returns the config path and the TOTP
    secrets by user."""
    store = d / "moat.db"
    cfg = d / "users.toml"
    cfg.write_text(toml_dumps({"store": {"url": "sqlite:%s" % store}, "auth": FAST}))
    secrets = {}
    for name, roles, totp in users:
        user_cmd(moat_bin, cfg, "add", name, *sum((["--role", r] for r in roles), []),
                 stdin=PW + "\n")
        if totp:
            out = user_cmd(moat_bin, cfg, "mfa", "enroll", name).stdout
            m = re.search(r"otpauth://\S+", out)
            assert m, out
            secrets[name] = parse_qs(urlsplit(m.group(0)).query)["secret"][0]
            # a TOTP code works once: later logins in the same 30 s use these
            secrets[name + ".recovery"] = re.findall(r"^\s+([a-z0-9]{4}(?:-[a-z0-9]{4}){3})\s*$",
                                                     out, re.M)
    return store, secrets


def start_app(module, env):
    """gunicorn with integrations/python importable and env set for it."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return Gunicorn(module=module, unix=False, name="sso",
                        extra_args=["--pythonpath", str(INTEGRATIONS)]).start()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Uvicorn:
    """An ASGI app from tests/integration/apps under Debian's uvicorn, on a
    loopback port, with integrations/python importable and env set for it."""

    def __init__(self, module, env):
        self.module, self.env = module, env
        self.port = free_port()
        self.dir = short_tmpdir("moat-uv-")
        self.log_path = os.path.join(self.dir, "uvicorn.log")
        self.proc = None

    def url(self):
        return "http://%s:%d" % (HOST, self.port)

    def start(self):
        env = dict(os.environ, PYTHONPATH=str(INTEGRATIONS), PYTHONDONTWRITEBYTECODE="1",
                   **self.env)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "uvicorn", "--host", HOST, "--port", str(self.port),
                 "--app-dir", str(APPS), "--no-access-log", self.module],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

        def ready():
            assert self.proc.poll() is None, "uvicorn exited:\n" + self.log()
            return port_accepts(self.port)
        try:
            wait_for(ready, START_TIMEOUT, what="uvicorn to accept")
        except AssertionError:
            self.stop()
            raise
        return self

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def csrf_of(html):
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert m, html
    return m.group(1)


def portal_login(base, user, code=None, rd=None, session=None):
    """Logs in at moat's form; returns the session and the POST's answer."""
    s = session or requests.Session()
    page = s.get(base + "/.moat/login", timeout=30)
    assert page.status_code == 200, page.text
    data = {"username": user, "password": PW, "csrf": csrf_of(page.text)}
    if code:
        data["code"] = code
    if rd:
        data["rd"] = rd
    return s, s.post(base + "/.moat/login", data=data, allow_redirects=False, timeout=60)


def totp_now(secret):
    return pyotp.TOTP(secret).now()


def signed(secret, user, groups="", mfa=1, ts=None, via="session"):
    msg = "v1;user=%s;groups=%s;mfa=%d;via=%s;ts=%d" % (user, groups, mfa, via,
                                                        int(time.time() if ts is None else ts))
    return msg + ";sig=" + hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()


__all__ = ["PW", "SECRET", "FAST", "PYTHON", "serving_dir", "pytest"]
