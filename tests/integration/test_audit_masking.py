"""No secret in moat audit's own output (issue 18): trees with many secrets
per line and per file (two providers on a line, one provider twice, a
generic assignment holding a provider token, lines over the 300-byte
snippet window, .env/.yaml/.ini files, notebooks, one secret suppressed and
the other not, code and settings findings on lines that hold secrets), run
through every analyser (`moat audit`, `audit code`, `audit settings`,
`audit secrets`) in every format (text, json, sarif). The assertion: no
8-byte piece of any secret's private part is in stdout or stderr.

The secrets are made up here from a seeded generator: the right shapes,
never real credentials."""

import json
import random
import subprocess

import pytest

RUN_TIMEOUT = 120
FORMATS = ("text", "json", "sarif")

_rng = random.Random(18)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0234567"


def _rand(n, alphabet=_ALNUM):
    return "".join(_rng.choice(alphabet) for _ in range(n))


class Secrets:
    """Each call makes a fresh secret of one shape; `private` collects the
    part after its public prefix, the bytes that must never be printed."""

    def __init__(self):
        self.private = []

    def _keep(self, prefix, body):
        self.private.append(body)
        return prefix + body

    def github(self):
        return self._keep("ghp_", _rand(36))

    def aws(self):
        return self._keep("AKIA", _rand(16, _UPPER))

    def aws_secret(self):
        return self._keep("", _rand(40, _ALNUM + "/+"))

    def gcp(self):
        return self._keep("AIza", _rand(35))

    def gitlab(self):
        return self._keep("glpat-", _rand(20))

    def stripe(self):
        return self._keep("sk_live_", _rand(30))

    def slack(self):
        return self._keep("xoxb-", "%d-%d-%s" % (_rng.randrange(10**11, 10**12),
                                                 _rng.randrange(10**11, 10**12), _rand(24)))

    def sendgrid(self):
        body = _rand(22) + "." + _rand(43)
        self.private += [body[:22], body[23:]]
        return "SG." + body

    def generic(self):
        return self._keep("", _rand(32))

    def password(self):
        # low entropy: only the password rules and the code rules catch it
        return self._keep("", "Hunter" + str(_rng.randrange(10**6, 10**7)) + "Blue")


def write_tree(root, s):
    """Writes the fixture tree; returns nothing, fills s.private."""
    (root / "app").mkdir(parents=True)
    # two providers on one line, one provider twice, a generic assignment
    # holding a token, a value holding a key id and its secret
    (root / "app" / "keys.py").write_text(
        'A = "%s"; B = "%s"\n' % (s.github(), s.aws())
        + 'C = ["%s", "%s", "%s"]\n' % (s.github(), s.github(), s.gitlab())
        + 'API_KEY = "%s:%s"\n' % (s.aws(), s.aws_secret())
        + 'SECRET_TOKEN = "%s,%s"\n' % (s.generic(), s.github())
        + 'password = "%s"; token = "%s"\n' % (s.password(), s.generic())
        + 'db_password = "%s"; api_token = "%s"  # nosec\n' % (s.password(), s.generic())
        + 'x = eval(input()); secret = "%s"; pwd = "%s"\n' % (s.generic(), s.password())
        + "y = %r  # %s %s\n" % ("x" * 380, s.stripe(), s.slack())
        + 'H = "%s"  # pragma: allowlist secret\nI = "%s"; J = "%s"  # nosec\n'
        % (s.github(), s.gcp(), s.sendgrid())
    )
    # code findings (B105, B307, B608...) on lines holding secrets
    (root / "app" / "views.py").write_text(
        "import hashlib, subprocess\n"
        "def v(request):\n"
        '    subprocess.call(request.GET["c"], shell=True); k = "%s"\n' % s.github()
        + '    hashlib.md5(b"x"); password = "%s"; other_password = "%s"\n'
        % (s.password(), s.password())
        + '    return eval(request.GET["q"] + "%s")\n' % s.stripe()
    )
    # a Django settings module: SECRET_KEY and passwords next to each other
    (root / "app" / "settings.py").write_text(
        'SECRET_KEY = "%s"; EMAIL_HOST_PASSWORD = "%s"\n' % (s.generic(), s.password())
        + "DEBUG = True; AWS = %r\n" % s.aws()
        + 'DATABASES = {"default": {"PASSWORD": "%s", "USER": "u"}}\n' % s.password()
    )
    (root / ".env").write_text(
        "TOKEN=%s OTHER=%s\n" % (s.github(), s.github())
        + "SECRET_KEY=%s,%s\n" % (s.generic(), s.github())
        + "DB_PASSWORD=%s;API_TOKEN=%s\n" % (s.password(), s.generic())
        + "DEBUG=True SECRET_KEY=%s\n" % s.password()
        + "LONG=%s %s %s\n" % ("y" * 350, s.aws(), s.gcp())
    )
    (root / "config.yaml").write_text(
        "db: {password: %s, token: %s}\n" % (s.password(), s.generic())
        + "url: postgres://app:%s@db.internal/app?key=%s\n" % (s.password(), s.github())
    )
    (root / "deploy.ini").write_text(
        "[aws]\naws_access_key_id = %s ; aws_secret_access_key = %s\n" % (s.aws(), s.aws_secret())
    )
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                     "execution_count": None,
                     "source": ['k = "%s"; t = "%s"\n' % (s.github(), s.stripe()),
                                'password = "%s"; s = "%s"' % (s.password(), s.gitlab())]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (root / "analysis.ipynb").write_text(json.dumps(nb, indent=1))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("leaks")
    s = Secrets()
    write_tree(root, s)
    return root, s.private


def assert_no_leak(private, text, what):
    for secret in private:
        for i in range(0, len(secret) - 7):
            piece = secret[i:i + 8]
            assert piece not in text, "%s: a piece of a secret (%s...) is printed" % (
                what, piece[:3])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("sub", [["code"], ["settings"], ["secrets"]])
def test_no_secret_in_any_output(moat_bin, tree, sub, fmt):
    root, private = tree
    r = subprocess.run([moat_bin, "audit", *sub, "--format", fmt, "."], cwd=root,
                       capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert r.returncode == 1, r.stdout + r.stderr  # findings
    assert_no_leak(private, r.stdout + r.stderr, "moat audit %s --format %s" % (sub, fmt))
    if fmt == "json" and sub == ["secrets"]:
        doc = json.loads(r.stdout)
        # every secret line is reported; masked snippets still show prefixes
        assert len(doc["findings"]) >= 25
        assert any("ghp_*" in f["snippet"] for f in doc["findings"])


def test_no_secret_in_moat_audit(moat_bin, tree, tmp_path):
    """`moat audit PATH` (every analyser, text only; no advisory database)."""
    root, private = tree
    r = subprocess.run([moat_bin, "audit", "--db", str(tmp_path / "none.db"), "."], cwd=root,
                       capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert "== moat audit secrets" in r.stdout, r.stdout + r.stderr
    assert_no_leak(private, r.stdout + r.stderr, "moat audit")


def test_secrets_found_per_line(moat_bin, tree):
    """The masking must not cost findings: each token on a line is its own."""
    root, _ = tree
    r = subprocess.run([moat_bin, "audit", "secrets", "--format", "json", "."], cwd=root,
                       capture_output=True, text=True, timeout=RUN_TIMEOUT)
    doc = json.loads(r.stdout)
    on = {}
    for f in doc["findings"]:
        path = f["path"][2:] if f["path"].startswith("./") else f["path"]
        on.setdefault((path, f["line"]), []).append(f["rule"])
    assert on[("app/keys.py", 1)] == ["MOAT-S-GITHUB", "MOAT-S-AWS"]
    assert on[("app/keys.py", 2)] == ["MOAT-S-GITHUB"] * 2 + ["MOAT-S-GITLAB"]
    assert on[(".env", 1)] == ["MOAT-S-GITHUB", "MOAT-S-GITHUB"]
    # the suppressed line (H, pragma) is not reported, the next one is (no
    # rule named in its nosec: everything on it is suppressed)
    assert ("app/keys.py", 9) not in on and ("app/keys.py", 10) not in on


def test_masking_keeps_suppressed_secrets_hidden(moat_bin, tree):
    """A secret whose finding is suppressed is still masked in another
    finding's snippet on the same line (code: B307 next to a password)."""
    root, private = tree
    r = subprocess.run([moat_bin, "audit", "code", "--format", "json", "app/keys.py"], cwd=root,
                       capture_output=True, text=True, timeout=RUN_TIMEOUT)
    doc = json.loads(r.stdout)
    b307 = [f for f in doc["findings"] if f["rule"] == "B307"]
    assert len(b307) == 1 and 'secret = "****' in b307[0]["snippet"]
    assert_no_leak(private, r.stdout, "audit code")


DEPS_FORMATS = ("table", "json", "sarif", "markdown", "cyclonedx")


@pytest.mark.parametrize("fmt", DEPS_FORMATS)
def test_no_secret_in_deps_output(moat_bin, tmp_path, fmt):
    """Requirement URLs with credentials (a token as the user, user:password)
    are printed without them, in every deps format."""
    s = Secrets()
    token, password = s.github(), s.password()
    rec = {"id": "T-ONE", "modified": "2026-01-01T00:00:00Z", "aliases": [],
           "details": "A test advisory.",
           "affected": [{"package": {"ecosystem": "PyPI", "name": "demo-pkg"},
                         "ranges": [{"type": "ECOSYSTEM",
                                     "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]}]}
    src = tmp_path / "recs.ndjson"
    src.write_text(json.dumps(rec) + "\n")
    db = tmp_path / "osv.db"
    r = subprocess.run([moat_bin, "db", "import", str(src), "--db", str(db)],
                       capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert r.returncode == 0, r.stderr
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text(
        "demo-pkg==1.0\n"
        "private-pkg @ git+https://%s@github.com/org/private.git\n" % token
        + "other-pkg @ https://deploy:%s@files.example.com/other-1.0.tar.gz\n" % password)
    r = subprocess.run([moat_bin, "audit", "deps", ".", "--db", str(db), "-f", fmt, "-q"],
                       cwd=app, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert r.returncode == 1, r.stdout + r.stderr
    assert_no_leak(s.private, r.stdout + r.stderr, "moat audit deps -f " + fmt)
    if fmt == "table":
        assert "git+https://***@github.com/org/private.git" in r.stdout
