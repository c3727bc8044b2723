"""The login portal in headless Chromium: runs tests/browser/auth.test.mjs
(node --test, playwright-core driving Debian's chromium) against the Flask
echo app behind moat with [[auth.rules]], and checks its exit code. The
browser logs in, enrolls TOTP from the page, logs out, logs in with password
and code, reaches a role page, is refused another and is refused with the old
cookie after logging out; no portal page may break moat's CSP.

Skipped, with the reason, when /usr/bin/chromium, node or
tests/browser/node_modules (`cd tests/browser && npm ci`) is missing."""

import os
import shutil
import subprocess

import pytest

from conftest import REPO, serving_dir
from helpers import toml_dumps

BROWSER_DIR = REPO / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
RUN_TIMEOUT = 180
PW = "correct horse battery staple"


def test_portal_in_chromium(moat_bin, moat, echo, tmp_path):
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip("%s not found (Debian package chromium)" % CHROMIUM)
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip("tests/browser/node_modules missing (run: cd tests/browser && npm ci)")
    if not NODE:
        pytest.skip("node not found (Debian package nodejs)")
    d = tmp_path / "site"
    d.mkdir()
    serving_dir(d)
    store = d / "moat.db"
    auth = {"argon2_memory": "1MiB", "argon2_time": 1}
    cfg = d / "users.toml"
    cfg.write_text(toml_dumps({"store": {"url": "sqlite:%s" % store}, "auth": auth}))
    r = subprocess.run([moat_bin, "user", "add", "alice", "--role", "admin", "--create",
                        "--config", str(cfg)],
                       input=PW + "\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rules = [{"path": "/echo/admin", "policy": "role:admin"},
             {"path": "/echo/ops", "policy": "role:ops"},
             {"path": "/echo/mfa", "policy": "mfa"},
             {"path": "/echo/", "policy": "authenticated"}]
    m = moat(echo.url(), store={"url": "sqlite:%s" % store}, auth=dict(auth, rules=rules))
    env = dict(os.environ, MOAT_URL=m.url, MOAT_USER="alice", MOAT_PASSWORD=PW,
               CHROMIUM=CHROMIUM, HOME=str(tmp_path))
    try:
        p = subprocess.run([NODE, "--test", "--test-reporter=spec", "auth.test.mjs"],
                           cwd=str(BROWSER_DIR), env=env, capture_output=True, text=True,
                           timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail("node --test did not finish within %ds:\n%s\n%s"
                    % (RUN_TIMEOUT, exc.stdout, exc.stderr))
    assert p.returncode == 0, "node --test auth.test.mjs failed:\n%s\n%s" % (p.stdout, p.stderr)
    assert "pass 1" in p.stdout, p.stdout
