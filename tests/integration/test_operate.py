"""Running moat without surprises (issue 16): relative paths start from the
configuration file's folder; `moat config check` prints one line (--print the
effective settings), loads the TLS certificates and keys, checks globs and
explains unquoted strings; `moat reload` signals the running gateway through
its pid file and reports the outcome; SIGUSR1 reopens the access log; files
moat's commands write as root go to the serving account."""

import json
import os
import signal
import subprocess
import tomllib

import pytest
import requests

from conftest import AS_ROOT
from helpers import wait_for

PW = "a perfectly fine passphrase"


def run(moat_bin, *args, cwd=None, stdin=""):
    return subprocess.run([moat_bin, *map(str, args)], capture_output=True, text=True,
                          timeout=60, cwd=cwd, input=stdin)


# --------------------------------------------------------- config check

def test_config_check_prints_one_line_and_print_the_settings(moat_bin, tmp_path):
    cfg = tmp_path / "moat.toml"
    cfg.write_text('upstream = "http://127.0.0.1:9000"\n')
    r = run(moat_bin, "config", "check", cfg)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert r.stderr.splitlines() == ["moat: configuration OK (%s)" % cfg]
    r = run(moat_bin, "config", "check", "--print", cfg)
    assert r.returncode == 0, r.stderr
    assert tomllib.loads(r.stdout)["upstream"] == ["http://127.0.0.1:9000"]
    assert r.stderr.splitlines() == ["moat: configuration OK (%s)" % cfg]


# (setting as written, where it lands in the effective config, expected value)
RELATIVE = [
    ('[store]\nurl = "sqlite:users.db"\n', ("store", "url"), "sqlite:{dir}/users.db"),
    ('[store]\nurl = "sqlite:./sub/users.db"\n', ("store", "url"), "sqlite:{dir}/sub/users.db"),
    ('[store]\nurl = "sqlite:/var/lib/moat/moat.db"\n', ("store", "url"),
     "sqlite:/var/lib/moat/moat.db"),
    ("", ("store", "url"), "sqlite:{dir}/moat.db"),  # the default too
    ('[log]\naccess = "logs/access.log"\n', ("log", "access"), "{dir}/logs/access.log"),
    ('[log]\naccess = "-"\n', ("log", "access"), "-"),
    ('[log]\nsecurity = ""\n', ("log", "security"), ""),
    ('[log]\nseal_key = "seal.key"\n', ("log", "seal_key"), "{dir}/seal.key"),
    ('[errors]\npage = "pages/error.html"\n', ("errors", "page"), "{dir}/pages/error.html"),
    ('[waf]\nrules = ["rules/a.conf", "/etc/b.conf"]\n', ("waf", "rules"),
     ["{dir}/rules/a.conf", "/etc/b.conf"]),
    ('pid_file = "run/moat.pid"\n', ("pid_file",), "{dir}/run/moat.pid"),
]


@pytest.mark.parametrize("text, key, want", RELATIVE, ids=[str(i) for i in range(len(RELATIVE))])
def test_relative_paths_start_from_the_config_folder(moat_bin, tmp_path, text, key, want):
    d = tmp_path / "etc"
    d.mkdir()
    (d / "moat.toml").write_text(text)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    r = run(moat_bin, "config", "check", "--print", d / "moat.toml", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    got = tomllib.loads(r.stdout)
    for k in key:
        got = got[k]
    fmt = (lambda v: v.format(dir=d))
    assert got == ([fmt(v) for v in want] if isinstance(want, list) else fmt(want))


def test_relative_paths_without_a_config_file_stay_relative(moat_bin, tmp_path):
    r = run(moat_bin, "config", "check", "--print", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert tomllib.loads(r.stdout)["store"]["url"] == "sqlite:moat.db"


def test_config_check_loads_certificates_and_keys(moat_bin, tmp_path):
    for n in ("a", "b"):
        r = run(moat_bin, "cert", "selfsigned", "--cert", "%s.crt" % n, "--key", "%s.key" % n,
                cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    (tmp_path / "junk.crt").write_text("not a certificate\n")
    cases = [  # (cert, key, exit status, what stderr says)
        ("a.crt", "a.key", 0, "configuration OK"),
        ("a.crt", "b.key", 1, "key values mismatch"),
        ("junk.crt", "a.key", 1, "cannot load certificate '%s'" % (tmp_path / "junk.crt")),
        ("a.crt", "missing.key", 1, "cannot load private key"),
    ]
    for cert, key, status, says in cases:
        cfg = tmp_path / "moat.toml"
        cfg.write_text('[tls]\nlisten = ["127.0.0.1:8443"]\ncert = ["%s"]\nkey = ["%s"]\n'
                       % (cert, key))
        r = run(moat_bin, "config", "check", cfg)
        assert r.returncode == status, (cert, key, r.stderr)
        assert says in r.stderr, (cert, key, r.stderr)


@pytest.mark.parametrize("text, says", [
    ('[paths]\ndeny = ["*.[ch"]\n', "has a '[' without its ']'"),
    ('[audit]\nexclude = ["tests\\\\"]\n', "ends with a lone '\\'"),
    ('[paths]\ndeny = [""]\n', "must not be empty"),
])
def test_config_check_refuses_invalid_globs(moat_bin, tmp_path, text, says):
    cfg = tmp_path / "moat.toml"
    cfg.write_text(text)
    r = run(moat_bin, "config", "check", cfg)
    assert r.returncode == 1, r.stderr
    assert says in r.stderr and "moat.toml:2:" in r.stderr, r.stderr


# every setting that takes globs, and the policies: what `moat serve` would
# refuse (or a browser drop in silence), `moat config check` names
@pytest.mark.parametrize("text, line, says", [
    ('[tls]\nredirect_exempt = ["health"]\n', 2, "expected a path starting with '/'"),
    ('[waf]\ngraphql = ["/api/$x"]\n', 2, "'$' may only end a path pattern"),
    ('[waf]\nexclude = ["admin body"]\n', 2, "expected a path starting with '/'"),
    ('[[headers.paths]]\npath = "/a#b"\n', 2, "'#' never reaches a server"),
    ('[[auth.rules]]\npath = "admin/*"\npolicy = "deny"\n', 2, "expected a path starting"),
    ('[headers]\ncsp = "default-src self"\n', 2, "keywords need single quotes"),
    ('[headers]\ncsp = "default-src \'self\' img-src data:"\n', 2,
     "'img-src' in default-src is a directive name: end each directive with ';'"),
    ('[headers]\ncsp = "scirpt-src \'self\'"\n', 2, "(did you mean 'script-src'?)"),
    ('[[headers.paths]]\npath = "/admin/"\ncsp = "default-src \'none\' \'self\'"\n', 3,
     "'none' in default-src beside other sources"),
])
def test_config_check_refuses_bad_globs_and_policies(moat_bin, tmp_path, text, line, says):
    cfg = tmp_path / "moat.toml"
    cfg.write_text(text)
    r = run(moat_bin, "config", "check", cfg)
    assert r.returncode == 1, r.stderr
    assert "moat.toml:%d:" % line in r.stderr and says in r.stderr, r.stderr


def test_config_check_accepts_real_policies(moat_bin, tmp_path):
    cfg = tmp_path / "moat.toml"
    cfg.write_text(
        '[headers]\ncsp = "default-src \'none\'; script-src \'self\' \'nonce-r4nd0m==\' '
        'https://cdn.example.com; style-src \'self\' \'unsafe-inline\'; img-src \'self\' '
        'data: *.example.com; connect-src \'self\' wss://example.com:8443; '
        'frame-ancestors \'none\'; upgrade-insecure-requests"\n'
        '[[headers.paths]]\npath = "/embed/**"\ncsp = "frame-ancestors https://partner.example"\n')
    r = run(moat_bin, "config", "check", cfg)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("text, col, word", [
    ("listen = [127.0.0.1:8080]\n", 11, "127.0.0.1:8080"),
    ("listen = 127.0.0.1:8080\n", 10, "127.0.0.1:8080"),
    ("upstream = 10.0.0.5\n", 12, "10.0.0.5"),
    ("upstream = [http://app]\n", 13, None),  # a word: the existing hint
])
def test_toml_syntax_errors_say_strings_need_quotes(moat_bin, tmp_path, text, col, word):
    cfg = tmp_path / "moat.toml"
    cfg.write_text(text)
    r = run(moat_bin, "config", "check", cfg)
    assert r.returncode == 1
    assert "moat.toml:1:%d: expected a value" % col in r.stderr, r.stderr
    if word:
        assert 'strings need quotes: write "%s"' % word in r.stderr, r.stderr
    else:
        assert "strings must be quoted" in r.stderr, r.stderr


# --------------------------------------------------------------- reload

def test_reload_reports_the_outcome(moat_bin, moat, echo):
    m = moat(echo.url(), pid_file="moat.pid")
    pid_file = m.workdir / "moat.pid"
    assert pid_file.read_text() == "%d\n" % m.proc.pid
    r = run(moat_bin, "reload", "--config", m.config_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("moat: configuration reloaded (process %d" % m.proc.pid)
    # a bad configuration: exit 1 with the reason, the old one keeps serving,
    # and the failure is a security event
    good = m.config
    m.write_config(dict(good, workers="many"))
    r = run(moat_bin, "reload", "--pid-file", pid_file)
    assert r.returncode == 1
    assert "failed, the running configuration was kept" in r.stderr
    assert "'workers'" in r.stderr, r.stderr
    assert requests.get(m.url + "/echo/x", timeout=10).status_code == 200
    wait_for(lambda: '"event":"config.reloaded","severity":"error"' in m.stdout.text, 10,
             what="the failed reload's security event")
    # fixed again
    m.write_config(good)
    assert run(moat_bin, "reload", "--pid-file", pid_file).returncode == 0
    # stopped: the pid file is gone, and reload says nothing runs
    m.stop()
    assert not pid_file.exists()
    r = run(moat_bin, "reload", "--pid-file", pid_file)
    assert r.returncode == 1 and "is moat running?" in r.stderr


def test_reload_without_a_running_moat_or_a_pid_file(moat_bin, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "stale.pid").write_text("%d\n" % dead.pid)
    (tmp_path / "junk.pid").write_text("hello\n")
    (tmp_path / "none.toml").write_text('upstream = "http://127.0.0.1:9000"\n')
    (tmp_path / "bad.toml").write_text('workers = "many"\n')
    cases = [  # (args, exit status, what stderr says)
        (("--pid-file", tmp_path / "stale.pid"), 1, "moat is not running (stale pid file"),
        (("--pid-file", tmp_path / "junk.pid"), 1, "holds no process id"),
        (("--config", tmp_path / "none.toml"), 1, "no pid_file in"),
        (("--config", tmp_path / "bad.toml"), 1, "not sent: the configuration is invalid"),
        (("--bogus",), 2, "usage: moat reload"),
        (("extra",), 2, "unexpected argument 'extra'"),
        (("--timeout", "0", "--pid-file", tmp_path / "stale.pid"), 2, "--timeout"),
    ]
    for args, status, says in cases:
        r = run(moat_bin, "reload", *args, cwd=tmp_path)
        assert r.returncode == status, (args, r.stderr)
        assert says in r.stderr, (args, r.stderr)


def test_sigusr1_reopens_the_access_log(moat, echo):
    m = moat(echo.url())
    log = m.access_log
    assert requests.get(m.url + "/echo/one", timeout=10).status_code == 200
    wait_for(lambda: log.exists() and "/echo/one" in log.read_text(), 10, what="a log line")
    os.rename(log, str(log) + ".1")  # what logrotate does
    m.signal(signal.SIGUSR1)
    # the new file appears once moat reopened; requests before that may
    # still go to the old one, so ask until one lands in the new file
    def landed():
        requests.get(m.url + "/echo/two", timeout=10)
        return log.exists() and "/echo/two" in log.read_text()
    wait_for(landed, 10, interval=0.2, what="a line in the reopened access log")
    assert "/echo/two" not in open(str(log) + ".1").read().split("/echo/one", 1)[0]


# ----------------------------------------------- files root writes for moat

@pytest.mark.skipif(not AS_ROOT, reason="handing files over needs root")
def test_files_written_as_root_go_to_the_serving_account(moat_bin, tmp_path):
    import grp
    import pwd
    d = tmp_path / "etc"
    d.mkdir()
    cfg = d / "moat.toml"
    cfg.write_text('user = "nobody"\ngroup = "nogroup"\n[log]\nseal_key = "seal.key"\n'
                   '[store]\nurl = "sqlite:users.db"\n')
    uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    r = run(moat_bin, "cert", "selfsigned", "--cert", d / "c.pem", "--key", d / "k.pem",
            "--config", cfg)
    assert r.returncode == 0, r.stderr
    r2 = run(moat_bin, "log", "init", "--config", cfg)
    assert r2.returncode == 0, r2.stderr
    r3 = run(moat_bin, "user", "add", "ann", "--create", "--config", cfg, stdin=PW + "\n")
    assert r3.returncode == 0, r3.stderr
    for name in ("c.pem", "k.pem", "seal.key", "users.db"):
        st = os.stat(d / name)
        assert (st.st_uid, st.st_gid) == (uid, gid), name
    assert os.stat(d / "k.pem").st_mode & 0o777 == 0o600
    assert "now belongs to nobody:nogroup" in r.stderr
    # without a configuration file nothing says the files are moat serve's
    bare = tmp_path / "bare"
    bare.mkdir()
    r = run(moat_bin, "cert", "selfsigned", cwd=bare)
    assert r.returncode == 0, r.stderr
    assert os.stat(bare / "key.pem").st_uid == 0


# --------------------------------------------------------------- status

def test_status_reports_pid_uptime_listeners_and_last_reload(moat_bin, moat, echo):
    m = moat(echo.url(), pid_file="moat.pid")
    pid_file = m.workdir / "moat.pid"
    r = run(moat_bin, "status", "--config", m.config_path)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("moat is running (process %d, up " % m.proc.pid), r.stdout
    assert "  listening on http://127.0.0.1:%d" % m.port in lines
    assert "  last reload: none since start" in lines
    # JSON, after a failed reload and then a good one
    good = m.config
    m.write_config(dict(good, workers="many"))
    assert run(moat_bin, "reload", "--pid-file", pid_file).returncode == 1
    r = run(moat_bin, "status", "--pid-file", pid_file, "--format", "json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["running"] is True and st["pid"] == m.proc.pid
    assert st["listen"] == ["http://127.0.0.1:%d" % m.port]
    assert st["uptime_seconds"] >= 0 and st["started"].endswith("Z")
    assert st["reloads"] == 1 and st["last_reload"]["ok"] is False
    assert "'workers'" in st["last_reload"]["message"]
    r = run(moat_bin, "status", "--pid-file", pid_file)
    assert "last reload: FAILED, the previous configuration kept" in r.stdout, r.stdout
    m.write_config(good)
    assert run(moat_bin, "reload", "--pid-file", pid_file).returncode == 0
    st = json.loads(run(moat_bin, "status", "-p", pid_file, "-f", "json").stdout)
    assert st["reloads"] == 2 and st["last_reload"]["ok"] is True
    # stopped cleanly: the pid file is gone, exit 3
    m.stop()
    r = run(moat_bin, "status", "--pid-file", pid_file)
    assert r.returncode == 3 and r.stdout.startswith("moat is not running: no pid file"), r.stdout
    st = json.loads(run(moat_bin, "status", "-p", pid_file, "-f", "json").stdout)
    assert st == {"running": False, "state": "stopped", "pid_file": str(pid_file),
                  "reason": "no pid file '%s'" % pid_file}


def test_status_after_a_crash_leaves_the_pid_file(moat_bin, moat, echo):
    m = moat(echo.url(), pid_file="moat.pid")
    pid_file = m.workdir / "moat.pid"
    m.kill()  # SIGKILL: no chance to remove the pid file
    m.expected_exit = None
    assert pid_file.exists()
    r = run(moat_bin, "status", "--pid-file", pid_file)
    assert r.returncode == 1, r.stdout
    assert "is gone, but its pid file" in r.stdout, r.stdout
    # the number now names another process: still not moat
    other = subprocess.Popen(["sleep", "30"])
    try:
        pid_file.write_text("%d\n" % other.pid)
        r = run(moat_bin, "status", "--pid-file", pid_file)
        assert r.returncode == 1, r.stdout
        assert "is not the moat that wrote" in r.stdout, r.stdout
    finally:
        other.kill()
        other.wait()


def test_status_exit_codes(moat_bin, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "stale.pid").write_text("%d\n" % dead.pid)
    (tmp_path / "junk.pid").write_text("hello\n")
    (tmp_path / "alive.pid").write_text("%d\n" % os.getpid())  # not moat: no status file
    (tmp_path / "none.toml").write_text('upstream = "http://127.0.0.1:9000"\n')
    (tmp_path / "bad.toml").write_text('workers = "many"\n')
    (tmp_path / "gone.toml").write_text('pid_file = "run/moat.pid"\n')
    cases = [  # (args, exit status, what the output says)
        (("--pid-file", tmp_path / "stale.pid"), 1, "is gone, but its pid file"),
        (("--config", tmp_path / "gone.toml"), 3,
         "not running: no pid file '%s'" % (tmp_path / "run" / "moat.pid")),
        (("--pid-file", tmp_path / "junk.pid"), 4, "holds no process id"),
        (("--pid-file", tmp_path / "alive.pid"), 4, "cannot be read"),
        (("--config", tmp_path / "none.toml"), 4, "no pid_file in"),
        (("--config", tmp_path / "bad.toml"), 4, "the configuration (which names the pid file)"),
        (("--bogus",), 2, "usage: moat status"),
        (("extra",), 2, "unexpected argument 'extra'"),
        (("--format", "sarif", "-p", tmp_path / "stale.pid"), 2, "--format takes text or json"),
    ]
    for args, status, says in cases:
        r = run(moat_bin, "status", *args, cwd=tmp_path)
        assert r.returncode == status, (args, r.stdout, r.stderr)
        assert says in r.stdout + r.stderr, (args, r.stdout, r.stderr)
