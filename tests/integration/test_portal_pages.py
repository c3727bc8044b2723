"""The pages people see, in headless Chromium: runs tests/browser/pages.test.mjs
(node --test, playwright-core driving Debian's chromium). moat is branded
([portal] site_name, logo, accent_color, back_url) in front of the echo app;
a second moat with the default look has no app behind it (502). Every portal
page and error page is laid out at 320, 390, 768 and 1440 px in light and
dark schemes and measured: no sideways scrolling, 44 px targets, 16 px text,
AA contrast, a focus ring on each control, the stylesheet applied, no
script, no CSP violation, and no violation of a WCAG 2.x A or AA rule that
axe-core (npm axe-core, in tests/browser) finds. The screenshots stay in the test's output folder
(tmp_path/screenshots; pytest --basetemp=DIR keeps them), and are copied to
$MOAT_ARTIFACTS/portal-pages/ when CI sets MOAT_ARTIFACTS.

Also, without a browser: the stylesheet and logo moat serves, the branding
in the HTML, a template folder that overrides one page, a broken template
refused at start, and the TOTP issuer taken from the site name."""

import os
import re
import shutil
import subprocess

import pytest
import requests

from conftest import REPO, serving_dir
from helpers import toml_dumps

BROWSER_DIR = REPO / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
RUN_TIMEOUT = 400
PW = "correct horse battery staple"
FAST = {"argon2_memory": "1MiB", "argon2_time": 1, "address_failures": 100000}
# a 1x1 PNG
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201"
                    "a5f0a1c40000000049454e44ae426082")


def make_site(moat_bin, moat, echo, tmp_path, portal=None):
    d = tmp_path / "site"
    d.mkdir()
    serving_dir(d)
    store = d / "moat.db"
    (d / "logo.png").write_bytes(PNG)
    portal = portal if portal is not None else {
        "site_name": "Example Shop", "logo": str(d / "logo.png"),
        "accent_color": "#ffcc00", "back_url": "https://shop.example/"}
    cfg = d / "users.toml"
    cfg.write_text(toml_dumps({"store": {"url": "sqlite:%s" % store}, "auth": FAST,
                               "portal": portal}))
    r = subprocess.run([moat_bin, "user", "add", "alice", "--create", "--config", str(cfg)],
                       input=PW + "\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    m = moat(echo.url(), store={"url": "sqlite:%s" % store}, portal=portal,
             auth=dict(FAST, rules=[{"path": "/echo/", "policy": "authenticated"}]))
    return m, cfg


def test_pages_in_chromium(moat_bin, moat, echo, tmp_path):
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip("%s not found (Debian package chromium)" % CHROMIUM)
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip("tests/browser/node_modules missing (run: cd tests/browser && npm ci)")
    if not NODE:
        pytest.skip("node not found (Debian package nodejs)")
    m, _ = make_site(moat_bin, moat, echo, tmp_path)
    # a socket nothing listens on (a free TCP port could be taken by then)
    down = moat("unix:%s" % (tmp_path / "nobody-listens.sock"))
    shots = tmp_path / "screenshots"
    env = dict(os.environ, MOAT_URL=m.url, MOAT_DOWN_URL=down.url, MOAT_USER="alice",
               MOAT_PASSWORD=PW, SHOTS=str(shots), CHROMIUM=CHROMIUM, HOME=str(tmp_path))
    try:
        p = subprocess.run([NODE, "--test", "--test-reporter=spec", "pages.test.mjs"],
                           cwd=str(BROWSER_DIR), env=env, capture_output=True, text=True,
                           timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail("node --test did not finish within %ds:\n%s\n%s"
                    % (RUN_TIMEOUT, exc.stdout, exc.stderr))
    assert p.returncode == 0, "node --test pages.test.mjs failed:\n%s\n%s" % (p.stdout, p.stderr)
    assert "checked 96 layouts, 96 with axe-core" in p.stdout, p.stdout
    pngs = sorted(f.name for f in shots.glob("*.png"))
    assert len(pngs) == 96, pngs  # 12 pages x 4 widths x 2 schemes
    assert all((shots / f).stat().st_size > 1000 for f in pngs)
    if os.environ.get("MOAT_ARTIFACTS"):
        shutil.copytree(shots, os.path.join(os.environ["MOAT_ARTIFACTS"], "portal-pages"),
                        dirs_exist_ok=True)
    print("screenshots in", shots)


def test_branding_stylesheet_and_logo(moat_bin, moat, echo, tmp_path):
    m, _ = make_site(moat_bin, moat, echo, tmp_path)
    r = requests.get(m.url + "/.moat/login", timeout=30)
    assert r.status_code == 200
    assert '<link rel="stylesheet" href="/.moat/moat.css">' in r.text
    assert "<title>Log in · Example Shop</title>" in r.text
    assert '<img class="logo" src="/.moat/logo"' in r.text
    assert '<a class="back" href="https://shop.example/">Back to Example Shop</a>' in r.text
    assert "<script" not in r.text and "style=" not in r.text and "<style" not in r.text
    css = requests.get(m.url + "/.moat/moat.css", timeout=30)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    # a light accent gets black button text, a dark one white
    assert "--accent: #ffcc00;" in css.text and "--accent-text: #000000;" in css.text
    assert "prefers-color-scheme: dark" in css.text and "{{" not in css.text
    logo = requests.get(m.url + "/.moat/logo", timeout=30)
    assert logo.status_code == 200 and logo.content == PNG
    assert logo.headers["Content-Type"] == "image/png"
    assert requests.post(m.url + "/.moat/moat.css", timeout=30).status_code == 405
    # the error pages wear the same look, and still say nothing of the internals
    r = requests.get(m.url + "/.git/config", timeout=30)
    assert r.status_code == 404 and "Example Shop" in r.text and "/.moat/moat.css" in r.text
    assert "<h1>404 Not Found</h1>" in r.text and r.headers["X-Request-Id"] in r.text
    # a failed login shows the name again, escaped
    s = requests.Session()
    page = s.get(m.url + "/.moat/login", timeout=30)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    r = s.post(m.url + "/.moat/login", data={"username": 'al"<ice', "password": "x",
                                             "csrf": csrf}, timeout=60)
    assert r.status_code == 401
    assert 'value="al&quot;&lt;ice"' in r.text and 'al"<ice' not in r.text


def test_default_look_without_portal_settings(moat_bin, moat, echo, tmp_path):
    m, _ = make_site(moat_bin, moat, echo, tmp_path, portal={})
    r = requests.get(m.url + "/.moat/login", timeout=30)
    assert "<title>Log in</title>" in r.text and "logo" not in r.text and "a class=\"back\"" not in r.text
    assert requests.get(m.url + "/.moat/logo", timeout=30).status_code == 404
    css = requests.get(m.url + "/.moat/moat.css", timeout=30).text
    assert "--accent: #1a5fb4;" in css and "--accent-text: #ffffff;" in css


def test_template_folder_overrides_a_page(moat_bin, moat, echo, tmp_path):
    t = tmp_path / "tmpl"
    t.mkdir()
    (t / "error.html").write_text("<p class=oops>Our fault: {message} ({request_id})</p>\n")
    serving_dir(t)
    m, _ = make_site(moat_bin, moat, echo, tmp_path, portal={"templates": str(t),
                                                             "site_name": "Shop"})
    r = requests.get(m.url + "/.git/config", timeout=30)
    assert "<p class=oops>Our fault: There is nothing at this address. (%s)</p>" % \
        r.headers["X-Request-Id"] in r.text
    assert "<title>404 Not Found · Shop</title>" in r.text  # the built-in layout stays
    assert "Log in" in requests.get(m.url + "/.moat/login", timeout=30).text


def test_broken_template_refused_at_start(moat_bin, moat, echo, tmp_path):
    t = tmp_path / "tmpl"
    t.mkdir()
    (t / "login.html").write_text("{{#error}}never closed\n")
    serving_dir(t)
    m = moat(echo.url(), portal={"templates": str(t)}, wait=False)
    assert m.proc.wait(30) != 0
    m.stderr.join()
    assert "login.html" in m.stderr.text and "{{/section}}" in m.stderr.text, m.stderr.text
    m.expected_exit = None


def test_totp_issuer_is_the_site_name(moat_bin, tmp_path):
    serving_dir(tmp_path)
    cfg = tmp_path / "moat.toml"
    cfg.write_text(toml_dumps({"store": {"url": "sqlite:%s" % (tmp_path / "m.db")},
                               "auth": FAST, "portal": {"site_name": "Example Shop"}}))
    run = lambda *a, stdin="": subprocess.run([moat_bin, "user", *a, "--config", str(cfg)],
                                              input=stdin, capture_output=True, text=True,
                                              timeout=60)
    assert run("add", "kim", "--create", stdin=PW + "\n").returncode == 0
    out = run("mfa", "enroll", "kim").stdout
    assert re.search(r"otpauth://totp/Example%20Shop:kim\?secret=[A-Z2-7]+&issuer=Example%20Shop",
                     out), out
