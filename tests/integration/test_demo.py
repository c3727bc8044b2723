"""`make run`'s demo (scripts/demo.sh), as a newcomer runs it: the example
Flask app under gunicorn on a unix socket (the Django one, the FastAPI one
under uvicorn), moat in front with a development certificate, serving as nobody once started as root. It must come up and do
what its guided tour promises: the demo user's generated password logs in at
moat's portal, /admin sends them to set up a second factor and then opens,
the app shows the identity moat signed, the API takes the printed bearer
token, a WAF block's request id is explained by `moat log why`, the security
log (its own file, not the terminal) verifies with `moat log verify`. And
Ctrl-C at a real terminal ends `make run` cleanly (exit 0, no make error)."""

import os
import pty
import re
import select
import signal
import subprocess
import time

import pyotp
import pytest
import requests
import urllib3

from conftest import REPO
from helpers import free_port, wait_for

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the demo is run as root (make run)")


def csrf_of(html):
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


class Demo:
    """scripts/demo.sh running, its tour read."""

    def __init__(self, moat_bin, tmp_path, app="flask"):
        self.port, self.tls_port = free_port(), free_port()
        env = dict(os.environ, MOAT_DEMO_PORT=str(self.port),
                   MOAT_DEMO_TLS_PORT=str(self.tls_port))
        self.out_path = tmp_path / "demo.out"
        with open(self.out_path, "w") as out:
            self.p = subprocess.Popen(["bash", str(REPO / "scripts" / "demo.sh"), moat_bin, app],
                                      cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                      text=True, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
        self.base = "https://localhost:%d" % self.tls_port

    def wait_tour(self):
        def up():
            if self.p.poll() is not None:
                raise AssertionError("the demo stopped:\n" + self.out_path.read_text())
            return "Requests:" in self.out_path.read_text()
        wait_for(up, 90, interval=0.2, what="the demo's tour")
        tour = self.out_path.read_text()
        assert self.base + "/" in tour
        self.password = re.search(r"Log in as\s+demo\s+with the password\s+(\S+)",
                                  tour).group(1)
        self.run_dir = re.search(r"--config (/\S+)/moat\.toml", tour).group(1)
        moat = re.search(r"(\S+) log why REQUEST_ID", tour).group(1)
        self.moat = moat if os.path.isabs(moat) else str(REPO / moat)
        return tour

    def stop(self):
        os.killpg(self.p.pid, signal.SIGTERM)
        self.p.wait(timeout=60)
        out = self.out_path.read_text()
        assert "moat error" not in out, out
        assert '"event"' not in out, "security events went to the terminal"
        assert not os.path.exists(self.run_dir), "the demo's folder was left behind"

    def login_with_new_factor(self, admin):
        """Logs demo in from admin's redirect, sets up TOTP, back to admin."""
        base = self.base
        s = requests.Session()
        s.verify = False
        s.trust_env = False  # a CA bundle from the environment would override verify
        r = s.get(base + admin, allow_redirects=False, timeout=10)
        assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/login")
        page = s.get(base + r.headers["Location"], timeout=10)
        assert "moat demo" in page.text and "/.moat/moat.css" in page.text
        rd = re.search(r'name="rd" value="([^"]+)"', page.text).group(1)
        r = s.post(base + "/.moat/login", data={"username": "demo", "password": self.password,
                                               "csrf": csrf_of(page.text), "rd": rd},
                   allow_redirects=False, timeout=60)
        assert r.status_code == 303 and r.headers["Location"] == admin, r.text
        r = s.get(base + admin, allow_redirects=False, timeout=10)
        assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/enroll")
        page = s.get(base + r.headers["Location"], timeout=10)
        secret = re.search(r'id="secret">([A-Z2-7]+)<', page.text).group(1)
        r = s.post(base + "/.moat/enroll", data={"csrf": csrf_of(page.text), "secret": secret,
                                                 "code": pyotp.TOTP(secret).now(), "rd": admin},
                   timeout=30)
        assert r.status_code == 200 and len(re.findall(r"<li><code>", r.text)) == 10
        return s

    def waf_block_explained(self):
        r = requests.get(self.base + "/?q=%7B%7B7*7%7D%7D", verify=False, timeout=5)
        assert r.status_code == 403
        rid = r.headers["X-Request-Id"]
        assert rid in r.text

        def explained():
            w = subprocess.run([self.moat, "log", "why", rid, "--config",
                                self.run_dir + "/moat.toml"],
                               capture_output=True, text=True, timeout=30)
            return w.returncode == 0 and "waf" in w.stdout.lower()
        wait_for(explained, 20, interval=0.3, what="moat log why to explain the block")
        v = subprocess.run([self.moat, "log", "verify", self.run_dir + "/security.log",
                            "--key-file", self.run_dir + "/verify.key"],
                           capture_output=True, text=True, timeout=60)
        assert v.returncode == 0 and "OK" in v.stdout, v.stdout + v.stderr


@as_root
def test_demo_serves_what_it_promises(moat_bin, tmp_path):
    d = Demo(moat_bin, tmp_path)
    base, port = d.base, d.port
    try:
        tour = d.wait_tour()
        token = re.search(r"Bearer (\S+)'", tour).group(1)

        r = requests.get("http://127.0.0.1:%d/admin" % port, allow_redirects=False, timeout=5)
        assert r.status_code == 308 and r.headers["Location"].startswith("https://")
        r = requests.get(base + "/", verify=False, timeout=5)
        assert "Strict-Transport-Security" in r.headers and "not logged in" in r.text
        assert requests.get(base + "/.git/config", verify=False, timeout=5).status_code == 404
        # what browsers send raw in a query
        assert requests.get(base + "/?filter[name]=x&a[]=1&q={a|b}", verify=False,
                            timeout=5).status_code == 200

        # 1. /admin: log in, set up the second factor, back to /admin
        s = d.login_with_new_factor("/admin")
        r = s.get(base + "/admin", allow_redirects=False, timeout=10)
        assert r.status_code == 200 and "Site statistics" in r.text
        # the identity the app receives, its signature checked by the app
        home = s.get(base + "/", timeout=10).text
        assert re.search(r'<strong id="who">demo</strong>\s*\(roles: admin; second factor:\s*yes\)',
                         home), home
        assert "signed <code>X-Moat-Identity</code>" in home

        # the API: the printed token, and nothing without it
        r = requests.get(base + "/api/notes", headers={"Authorization": "Bearer " + token},
                         verify=False, timeout=10)
        assert r.status_code == 200 and r.json() == {"notes": []}
        r = requests.get(base + "/api/notes", headers={"Accept": "application/json"},
                         verify=False, timeout=10)
        assert r.status_code == 401

        # 2. a WAF block, explained by its request id; the security log intact
        d.waf_block_explained()
    finally:
        d.stop()


@as_root
def test_demo_django_admin_single_sign_on(moat_bin, tmp_path):
    """make run APP=django: the stock Django admin behind moat, one login."""
    d = Demo(moat_bin, tmp_path, app="django")
    try:
        d.wait_tour()
        s = d.login_with_new_factor("/admin/")
        r = s.get(d.base + "/admin/", allow_redirects=False, timeout=10)
        assert r.status_code == 200 and "Site administration" in r.text, r.text[:2000]
        assert 'name="password"' not in r.text and "id_username" not in r.text
        assert s.get(d.base + "/static/admin/css/base.css", timeout=10).status_code == 200
        home = s.get(d.base + "/", timeout=10).text
        assert re.search(r'<strong id="who">demo</strong> \(groups: admin; staff: yes\)', home)
        d.waf_block_explained()
        # the admin's own "Log out" goes on to moat's, whose button ends the session
        r = s.get(d.base + "/admin/logout/", allow_redirects=False, timeout=10)
        assert r.status_code == 303 and r.headers["Location"] == "/.moat/logout"
        page = s.get(d.base + "/.moat/logout", timeout=10)
        r = s.post(d.base + "/.moat/logout", data={"csrf": csrf_of(page.text)},
                   allow_redirects=False, timeout=10)
        assert r.status_code == 303
        r = s.get(d.base + "/admin/", allow_redirects=False, timeout=10)
        assert r.status_code == 302 and r.headers["Location"].startswith("/.moat/login")
    finally:
        d.stop()


@as_root
def test_demo_fastapi_under_uvicorn(moat_bin, tmp_path):
    """make run APP=fastapi: the FastAPI app under uvicorn behind moat, signed
    in by moat_identity.starlette; /admin guarded by moat and by the app."""
    d = Demo(moat_bin, tmp_path, app="fastapi")
    base = d.base
    try:
        tour = d.wait_tour()
        assert "example FastAPI app" in tour
        token = re.search(r"Bearer (\S+)'", tour).group(1)
        r = requests.get(base + "/", verify=False, timeout=5)
        assert r.status_code == 200 and "under uvicorn" in r.text and "not logged in" in r.text
        # uvicorn's --proxy-headers: the scheme and address moat vouches for
        assert "scheme: <code>https</code>" in r.text and "<code>127.0.0.1</code>" in r.text
        css = requests.get(base + "/static/style.css", verify=False, timeout=5)
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
        # FastAPI's /docs would load scripts from a CDN (refused by moat's CSP): off
        assert requests.get(base + "/docs", verify=False, timeout=5).status_code == 404
        r = requests.get(base + "/", headers={"X-Forwarded-For": "6.6.6.6"}, verify=False,
                         timeout=5)
        assert "6.6.6.6" not in r.text
        r = requests.post(base + "/guestbook", data={"name": "me", "message": "hello"},
                          verify=False, allow_redirects=False, timeout=10)
        assert r.status_code == 303 and r.headers["Location"] == "/guestbook"
        assert "hello" in requests.get(base + "/guestbook", verify=False, timeout=5).text

        s = d.login_with_new_factor("/admin")
        r = s.get(base + "/admin", allow_redirects=False, timeout=10)
        assert r.status_code == 200 and "Site statistics" in r.text, r.text[:2000]
        home = s.get(base + "/", timeout=10).text
        assert re.search(r'<strong id="who">demo</strong> \(roles: admin; second factor: yes\)',
                         home), home
        assert "signed <code>X-Moat-Identity</code>" in home

        h = {"Authorization": "Bearer " + token}
        r = requests.post(base + "/api/notes", json={"text": "buy milk"}, headers=h, verify=False,
                          timeout=10)
        assert r.status_code == 201 and r.json()["text"] == "buy milk", r.text
        r = requests.get(base + "/api/notes", headers=h, verify=False, timeout=10)
        assert r.status_code == 200 and [n["text"] for n in r.json()["notes"]] == ["buy milk"]
        r = requests.get(base + "/api/notes", headers={"Accept": "application/json"},
                         verify=False, timeout=10)
        assert r.status_code == 401
        # a bearer token has no second factor: moat refuses /admin before the app
        assert requests.get(base + "/admin", headers=h, verify=False, allow_redirects=False,
                            timeout=10).status_code == 403
        d.waf_block_explained()
    finally:
        d.stop()


@as_root
def test_ctrl_c_ends_make_run_cleanly(moat_bin):
    """At a real terminal (a pty that is the controlling terminal), Ctrl-C
    ends `make run` with status 0 and no make error."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(moat_bin)))
    port, tls_port = free_port(), free_port()
    pid, fd = pty.fork()
    if pid == 0:  # the child: make, as typed at the terminal
        os.chdir(str(REPO))
        os.environ.update(MOAT_DEMO_PORT=str(port), MOAT_DEMO_TLS_PORT=str(tls_port))
        os.execvp("make", ["make", "-o", "build", "run", "BUILD=" + build])
    out = b""
    deadline = time.monotonic() + 90
    sent = False
    status = None
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                out += chunk
            if not sent and b"Requests:" in out:
                time.sleep(0.5)
                os.write(fd, b"\x03")  # Ctrl-C
                sent = True
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
                break
        if status is None:
            _, status = os.waitpid(pid, 0) if sent else (None, None)
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    text = out.decode(errors="replace")
    assert sent, "the tour never appeared:\n" + text
    assert status is not None and os.waitstatus_to_exitcode(status) == 0, text
    assert "***" not in text and "Error" not in text, text
    assert "stopping." in text
