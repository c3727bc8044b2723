"""moat's default CSP in headless Chromium: runs tests/browser/csp.test.mjs
(node --test, playwright-core driving Debian's chromium) against the hardening
Flask app behind two moats, one with the default headers and one sending no
CSP (the control), and checks its exit code. The page with the app's own
loose CSP (inline scripts allowed) must still have its inline script blocked
by moat's policy, sent beside the app's; straight from the app it runs.

Needs /usr/bin/chromium (Debian package chromium) and tests/browser/node_modules
(`cd tests/browser && npm ci`); skipped, with the reason, when either is
missing."""

import os
import shutil
import subprocess

import pytest

from conftest import REPO, Gunicorn

BROWSER_DIR = REPO / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
RUN_TIMEOUT = 180  # the whole node run, browser start included


@pytest.fixture(scope="module")
def hardening_app():
    g = Gunicorn(module="flask_hardening:app", unix=False, name="browser").start()
    yield g
    g.stop()


def test_csp_in_chromium(moat, hardening_app, tmp_path):
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip("%s not found (Debian package chromium)" % CHROMIUM)
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip("tests/browser/node_modules missing (run: cd tests/browser && npm ci)")
    if not NODE:
        pytest.skip("node not found (Debian package nodejs)")
    with_csp = moat(hardening_app.url())
    without_csp = moat(hardening_app.url(), headers={"csp": ""})
    env = dict(os.environ,
               MOAT_CSP_URL=with_csp.url + "/csp-test",
               MOAT_NOCSP_URL=without_csp.url + "/csp-test",
               MOAT_APPCSP_URL=with_csp.url + "/csp-test-appcsp",
               APPCSP_DIRECT_URL=hardening_app.url() + "/csp-test-appcsp",
               CHROMIUM=CHROMIUM,
               HOME=str(tmp_path))  # chromium writes caches under $HOME
    try:
        p = subprocess.run([NODE, "--test", "--test-reporter=spec", "csp.test.mjs"],
                           cwd=str(BROWSER_DIR), env=env, capture_output=True, text=True,
                           timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail("node --test did not finish within %ds:\n%s\n%s"
                    % (RUN_TIMEOUT, exc.stdout, exc.stderr))
    assert p.returncode == 0, "node --test csp.test.mjs failed:\n%s\n%s" % (p.stdout, p.stderr)
    assert "# pass 4" in p.stdout or "pass 4" in p.stdout, p.stdout
    seen = hardening_app.seen()
    assert "GET /static/app.js" in seen, "the browser fetched the 'self' script through moat"
