"""Terminal escapes never reach the operator's terminal raw. Hostile text
goes in the way an attacker would put it there - a CSP report and a login
attempt sent to the real gateway, which writes the real security log; user
rows another tool wrote to the store; a tampered log; a source tree with
hostile file names and lines - and every CLI command that prints it (`moat
log why`, `moat log verify`, `moat user list`, `moat audit code/secrets`) is
run, its raw stdout and stderr bytes checked: no ESC, BEL, C1 (raw or as
UTF-8), DEL, bidi override or isolate, line or paragraph separator; the
visible escape is there instead; é and emoji pass unchanged."""

import json
import re
import sqlite3
import subprocess
import time
import tomllib

import pytest

from conftest import serving_dir
from helpers import Conn, toml_dumps

PW = "correct horse battery staple"

# Raw sequences a terminal acts on, and byte strings that must never appear
# in any output: ESC, BEL, CSI (0x9b raw, and inside U+009B's C2 9B), DEL,
# RLO, LRI, LINE SEPARATOR, and the raw NUL.
CLEAR = b"\x1b[2J"
TITLE = b"\x1b]0;pwned\x07"
FORBIDDEN = [b"\x1b", b"\x07", b"\x9b", b"\x7f", b"\x00", "\u202e".encode(),
             "\u2066".encode(), "\u2028".encode(), "\u0085".encode()]
KEEP = "café 😀".encode()


def assert_clean(out, what):
    for bad in FORBIDDEN:
        assert bad not in out, "%s: raw %r in output:\n%r" % (what, bad, out[:3000])


def run_cli(moat_bin, *args):
    r = subprocess.run([moat_bin, *[str(a) for a in args]], capture_output=True, timeout=60)
    assert_clean(r.stdout, "stdout of moat %s" % " ".join(map(str, args[:2])))
    assert_clean(r.stderr, "stderr of moat %s" % " ".join(map(str, args[:2])))
    return r


@pytest.fixture(scope="module")
def gateway_log(moat_bin, module_moat, echo, tmp_path_factory):
    """A gateway with users and a security log, fed hostile input through
    HTTP; returns (log path, csp request id, login request id, config)."""
    d = serving_dir(tmp_path_factory.mktemp("escape"))
    store = d / "moat.db"
    cfg = d / "users.toml"
    cfg.write_text(toml_dumps({"store": {"url": "sqlite:%s" % store}}))
    r = subprocess.run([moat_bin, "user", "add", "alice", "--create", "--config", str(cfg)],
                       input=PW + "\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    seclog = d / "security.log"
    m = module_moat(echo.url(), store={"url": "sqlite:%s" % store},
                    auth={"argon2_memory": "1MiB", "argon2_time": 1,
                          "address_failures": 100000,
                          "rules": [{"path": "/", "policy": "authenticated"}]},
                    log={"security": str(seclog)}, waf={"mode": "off"})
    # A CSP report is copied into the log field by field, raw: every class
    # of control in its fields, and a blocked-uri longer than the field cap.
    directive = (b"script-src" + CLEAR + TITLE + b"\xc2\x9b31m\x9b2J\x7f\x01"
                 + "\u202e\u2066\u2028\u0085".encode() + b"\t|" + KEEP)
    report = (b'{"csp-report":{"document-uri":"http://x/' + CLEAR + b'",'
              b'"violated-directive":"' + directive + b'",'
              b'"blocked-uri":"' + b"A" * 3000 + CLEAR + b'"}}')
    with Conn(m.port) as c:
        r = c.request("POST", "/.moat/csp-report", body=report,
                      headers={"Content-Type": "application/csp-report"})
        assert r.status == 204
        csp_id = r.header("X-Request-Id")
    # A login attempt whose user name carries the escapes (JSON decodes them).
    evil_user = "root\x1b[2J\x1b]0;pwned\x07\u009b\u202eadmin"
    body = json.dumps({"username": evil_user, "password": "wrong"}).encode()
    with Conn(m.port) as c:
        r = c.request("POST", "/.moat/api/login", body=body,
                      headers={"Content-Type": "application/json"})
        assert r.status in (400, 401), r.status
        login_id = r.header("X-Request-Id")
    assert csp_id and login_id
    # the security log is written by a background thread: bounded wait
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = seclog.read_bytes() if seclog.exists() else b""
        if csp_id.encode() in text and login_id.encode() in text:
            break
        time.sleep(0.1)
    text = seclog.read_bytes()
    assert csp_id.encode() in text and login_id.encode() in text, text[-2000:]
    # the log file itself holds no raw control either (JSON escapes them),
    # so `tail -f` and `cat` of the log are safe too
    assert_clean(text, "the security log file")
    return seclog, csp_id, login_id, cfg


def test_log_why_csp_report_escaped(moat_bin, gateway_log):
    seclog, csp_id, _, _ = gateway_log
    r = run_cli(moat_bin, "log", "why", csp_id, "--file", seclog)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert b"csp.violation" in out
    for shown in (b"script-src\\x1b[2J\\x1b]0;pwned\\x07", b"\\u009b31m",
                  b"\\u202e\\u2066\\u2028\\u0085", b"\\x7f\\x01", b"\\t|"):
        assert shown in out, (shown, out)
    # the raw 0x9b byte was not UTF-8: the writer logged U+FFFD for it
    assert "\ufffd2J".encode() in out
    assert KEEP in out                       # valid UTF-8 passes as is
    assert b"document_uri=http://x/\\x1b[2J" in out
    # the capped field is shown whole up to its cap, marked, never cut short
    assert b"blocked_uri=" + b"A" * 500 in out


def test_log_why_login_user_name_escaped(moat_bin, gateway_log):
    seclog, _, login_id, _ = gateway_log
    r = run_cli(moat_bin, "log", "why", login_id, "--file", seclog)
    assert r.returncode == 0, r.stderr
    assert b"auth.login.failure" in r.stdout
    # A name that matches no user is logged as a keyed tag, never verbatim
    # (it may be a password typed into the wrong field): nothing to escape.
    assert re.search(rb"\(user unknown:[0-9a-f]{12}\)", r.stdout), r.stdout
    for raw in (b"\x1b", b"\x07", b"\x9b", "\u202e".encode()):
        assert raw not in r.stdout


def test_log_why_hostile_request_id_argument(moat_bin, gateway_log):
    seclog = gateway_log[0]
    r = run_cli(moat_bin, "log", "why", "x\x1b[2J\u202e", "--file", seclog)
    assert r.returncode == 2 and b"\\x1b[2J\\u202e" in r.stderr
    r = run_cli(moat_bin, "log", "why", "x\u009b\u2066y", "--file", seclog)
    assert r.returncode == 1 and b"x\\u009b\\u2066y" in r.stdout


def test_log_why_damaged_line_is_reported_not_skipped(moat_bin, tmp_path):
    """A line naming the request that is not a valid entry (here a \\u0000,
    which no C string can hold) is counted, not silently dropped; long and
    NUL-free lines of any length are read whole."""
    good = {"seq": 0, "time": "t", "event": "csp.violation", "severity": "notice",
            "request_id": "rid1", "reason": "r" * 100000 + "\x1b"}
    bad = '{"seq":1,"event":"x","request_id":"rid1","user":"a\\u0000\\u001b[2J"}'
    log = tmp_path / "sec.log"
    log.write_text(json.dumps(good, separators=(",", ":")) + "\n" + bad + "\n")
    r = run_cli(moat_bin, "log", "why", "rid1", "--file", log)
    assert r.returncode == 0, r.stderr
    assert b"r" * 100000 + b"\\x1b" in r.stdout
    assert b"1 line naming this request could not be read" in r.stdout
    log.write_text(bad + "\n")
    r = run_cli(moat_bin, "log", "why", "rid1", "--file", log)
    assert r.returncode == 1
    assert b"1 line naming this request could not be read" in r.stdout


def test_log_verify_messages_escaped(moat_bin, tmp_path):
    """verify quotes values of a tampered log (the event of a first line)
    and file names found in a folder."""
    d = tmp_path / "logs"
    d.mkdir()
    # a first line with the frame of a real one, its event replaced
    line = ('{"seq":0,"epoch":0,"time":"t","event":"\\u001b[2J\\u202e\\u009b",'
            '"severity":"notice","chain":"e4dc82ab694492d6a1d9bf657829a6ca","sealed":false,'
            '"version":1,"mac":"' + "5e" * 32 + '"}')
    name = d / "sec\x1b]0;pwned\x07.log"
    name.write_text(line + "\n")
    r = run_cli(moat_bin, "log", "verify", d)
    assert r.returncode in (1, 2), r
    both = r.stdout + r.stderr
    assert b"sec\\x1b]0;pwned\\x07.log" in both, both
    assert b"\\x1b[2J\\u202e\\u009b" in both, both


def test_user_list_escapes_names_from_the_store(moat_bin, gateway_log):
    """Another tool (or an old import) wrote these rows; the CLI shows them
    escaped, one line each (no forged rows from a newline)."""
    cfg = gateway_log[3]
    store = cfg.parent / "moat.db"
    db = sqlite3.connect(str(store))
    h = db.execute("SELECT password_hash FROM users WHERE name='alice'").fetchone()[0]
    db.execute("INSERT INTO users(name, password_hash, created) VALUES (?, ?, 0)",
               ("mallory\x1b[2J\nroot     admin\u202e\u009b", h))
    uid = db.execute("SELECT id FROM users WHERE name LIKE 'mallory%'").fetchone()[0]
    db.execute("INSERT INTO roles(user_id, role) VALUES (?, ?)", (uid, "ops\x07"))
    db.commit()
    db.close()
    r = run_cli(moat_bin, "user", "list", "--config", cfg)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3, r.stdout                 # header, alice, mallory
    assert b"mallory\\x1b[2J\\nroot     admin\\u202e\\u009b" in r.stdout
    assert b"ops\\x07" in r.stdout
    r = run_cli(moat_bin, "user", "lock", "mallory\x1b[2J\nroot     admin\u202e\u009b",
                "--config", cfg)
    assert r.returncode == 0, r.stderr
    assert b"locked mallory\\x1b[2J\\nroot" in r.stdout
    r = run_cli(moat_bin, "user", "add", "eve\x1b[2J", "--config", cfg)
    assert r.returncode == 2 and b"invalid name 'eve\\x1b[2J'" in r.stderr


def strings(doc):
    """Every string value in a decoded JSON document."""
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for v in doc.values():
            yield from strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from strings(v)


@pytest.fixture
def hostile_tree(tmp_path):
    """A source tree with hostile file names and Trojan-Source lines."""
    t = tmp_path / "app"
    t.mkdir()
    (t / "views\x1b[2J.py").write_bytes(
        b"import os\n"
        b"def run(cmd):\n"
        b"    os.system(cmd)  # \x1b]0;pwned\x07 \xe2\x80\xae }\xe2\x81\xa6 \x9b\n"
        b"    eval(cmd)  # caf\xc3\xa9 \xf0\x9f\x98\x80\n")
    (t / "conf\u202e\u009b.py".encode().decode()).write_bytes(
        b"AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8R4mLx'  # \x1b[2J\xe2\x80\xae\n"
        b"aws_access_key_id = 'AKIAZ7QW3ERT5YUI8OP2'  # \x1b]0;pwned\x07\n")
    return t


def test_audit_code_text_and_json_escaped(moat_bin, hostile_tree):
    r = run_cli(moat_bin, "audit", "code", hostile_tree)
    assert r.returncode == 1, r.stdout + r.stderr      # findings
    assert b"views\\x1b[2J.py" in r.stdout, r.stdout
    r = run_cli(moat_bin, "audit", "code", "--format", "json", hostile_tree)
    assert r.returncode == 1
    doc = json.loads(r.stdout)                      # still valid JSON, same strings
    assert any(x.endswith("views\x1b[2J.py") for x in strings(doc)), doc


def test_audit_secrets_text_and_sarif_escaped(moat_bin, hostile_tree):
    r = run_cli(moat_bin, "audit", "secrets", hostile_tree)
    assert r.returncode == 1, r.stdout + r.stderr
    assert b"conf\\u202e\\u009b.py" in r.stdout, r.stdout
    r = run_cli(moat_bin, "audit", "secrets", "--format", "sarif", hostile_tree)
    assert r.returncode == 1
    assert any(x.endswith("conf\u202e\u009b.py") for x in strings(json.loads(r.stdout)))


def test_config_check_of_a_hostile_pyproject(moat_bin, tmp_path):
    """`moat config check` may be run on a repository's pyproject.toml: its
    error messages and its dump quote the file, escaped; the dump stays TOML
    that means the same strings."""
    p = tmp_path / "pyproject.toml"
    p.write_text('[tool.moat]\nupstream = "http://127.0.0.1:1"\n'
                 'hosts = ["a\u202eb\u009bc\\u001b[2J"]\n')  # TOML's escape: ESC
    r = run_cli(moat_bin, "config", "check", p)
    assert r.returncode == 1
    assert b"a\\u202eb\\u009bc" in r.stderr, r.stderr
    p.write_text('[tool.moat]\nupstream = "http://127.0.0.1:1"\n'
                 '[tool.moat.errors]\npage = "/srv/x\u202ey\u2066.html"\n')
    r = run_cli(moat_bin, "config", "check", "--print", p)
    assert r.returncode == 0, r.stderr
    assert b'page = "/srv/x\\u202ey\\u2066.html"' in r.stdout, r.stdout
    assert tomllib.loads(r.stdout.decode())["errors"]["page"] == "/srv/x\u202ey\u2066.html"
