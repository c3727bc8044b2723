"""The command line: --version, --help, serve --help, `moat config check`
with good and bad files (exact FILE:LINE:COL, did-you-mean for unknown keys),
${env:NAME} references, [tool.moat] in pyproject.toml, and `moat serve`
with flags and no config file."""

import re
import shutil
import socket
import subprocess
import tomllib

import pytest
import requests

from helpers import Conn, free_port, parse_duration_ms, parse_size


def check(run, path=None, cwd=None, env=None):
    args = ["config", "check", "--print"] + ([str(path)] if path else [])
    return run(*args, cwd=cwd, env=env)


def write(dirpath, name, text):
    p = dirpath / name
    p.write_text(text)
    return p


def error_position(stderr, path):
    """(line, col) of the first 'FILE:LINE:COL: message' for this file (at
    the start of a line, or after a log prefix as `moat serve` writes it)."""
    m = re.search(r"(?m)(?:^|\s)%s:(\d+):(\d+): \S" % re.escape(str(path)), stderr)
    assert m, "no '%s:LINE:COL: message' on stderr:\n%s" % (path, stderr)
    return int(m.group(1)), int(m.group(2))


@pytest.fixture
def tmp(tmp_path):
    return tmp_path.resolve()


# ------------------------------------------------------------ the basics

def test_version(run):
    r = run("--version")
    assert r.returncode == 0, r.stderr
    assert re.match(r"moat \d+\.\d+", r.stdout), r.stdout


def test_help(run):
    r = run("--help")
    assert r.returncode == 0, r.stderr
    for word in ("serve", "config"):
        assert word in r.stdout


def test_serve_help(run):
    r = run("serve", "--help")
    assert r.returncode == 0, r.stderr
    for flag in ("--config", "--upstream", "--listen"):
        assert flag in r.stdout


def test_unknown_command_fails(run):
    r = run("no-such-command")
    assert r.returncode != 0
    assert r.stderr.strip()


# ---------------------------------------------------------- config check

def test_config_check_defaults_are_the_secure_ones(run, tmp):
    r = check(run, cwd=tmp)
    assert r.returncode == 0, r.stderr
    cfg = tomllib.loads(r.stdout)
    assert cfg["listen"] == ["127.0.0.1:8080"]
    assert cfg["workers"] in ("auto", 0)
    # trust no one ([]) or only this machine: never a forgeable default
    assert cfg["trusted_proxies"] in ([], ["127.0.0.1/32"])
    lim = cfg["limits"]
    assert parse_size(lim["url_bytes"]) == 8192
    assert parse_size(lim["header_bytes"]) == 16384
    assert lim["headers"] == 100
    assert parse_size(lim["body_bytes"]) == 10 * 1024 * 1024
    assert parse_duration_ms(lim["header_timeout"]) == 10000
    assert parse_duration_ms(lim["body_timeout"]) == 30000
    assert parse_duration_ms(lim["keepalive_timeout"]) == 75000
    assert lim["connections"] == 10000
    assert parse_duration_ms(lim["upstream_connect_timeout"]) == 5000
    assert parse_duration_ms(lim["upstream_timeout"]) == 60000
    assert lim["upstream_keepalive"] == 64
    assert parse_duration_ms(lim["drain_timeout"]) == 30000
    assert cfg["log"]["access_format"] == "json"


GOOD = """\
# a moat.toml as a user writes it
listen = ["127.0.0.1:9090"]
upstream = ["http://127.0.0.1:8000", "unix:/run/gunicorn.sock"]
workers = 3
trusted_proxies = ["10.0.0.0/8", "127.0.0.1/32"]

[limits]
url_bytes = 4096
header_bytes = "32KiB"
body_bytes = "1MiB"
header_timeout = "500ms"
body_timeout = 20
keepalive_timeout = "5s"
connections = 500

[log]
access = ""
access_format = "combined"
"""


def test_config_check_good_file(run, tmp):
    path = write(tmp, "moat.toml", GOOD)
    r = check(run, path)
    assert r.returncode == 0, r.stderr
    cfg = tomllib.loads(r.stdout)
    assert cfg["listen"] == ["127.0.0.1:9090"]
    assert cfg["upstream"] == ["http://127.0.0.1:8000", "unix:/run/gunicorn.sock"]
    assert cfg["workers"] == 3
    assert cfg["trusted_proxies"] == ["10.0.0.0/8", "127.0.0.1/32"]
    lim = cfg["limits"]
    assert parse_size(lim["url_bytes"]) == 4096
    assert parse_size(lim["header_bytes"]) == 32 * 1024
    assert parse_size(lim["body_bytes"]) == 1 << 20
    assert parse_duration_ms(lim["header_timeout"]) == 500
    assert parse_duration_ms(lim["body_timeout"]) == 20000
    assert parse_duration_ms(lim["keepalive_timeout"]) == 5000
    assert lim["connections"] == 500
    assert lim["headers"] == 100  # untouched keys keep their defaults
    assert cfg["log"]["access"] == ""
    assert cfg["log"]["access_format"] == "combined"


def test_config_check_output_is_a_valid_config(run, tmp):
    first = check(run, write(tmp, "moat.toml", GOOD))
    assert first.returncode == 0, first.stderr
    again = check(run, write(tmp, "dumped.toml", first.stdout))
    assert again.returncode == 0, again.stderr
    assert tomllib.loads(again.stdout) == tomllib.loads(first.stdout)


# Errors in values point at the value: its line and its first column.
VALUE_ERRORS = [
    ("wrong-type", 'listen = ["127.0.0.1:8080"]\nworkers = "many"\n', 2, 11),
    ("negative-size", '[limits]\nurl_bytes = -5\n', 2, 13),
    ("bad-size-unit", '[limits]\nbody_bytes = "10 parsecs"\n', 2, 14),
    ("bad-duration", '\n[limits]\nheader_timeout = "soon"\n', 3, 18),
    ("bad-upstream-scheme", 'upstream = ["ftp://127.0.0.1:21"]\n', 1, 13),
    ("bad-listen", 'listen = ["localhost"]\n', 1, 11),
    ("bad-cidr", 'trusted_proxies = ["10.0.0.0/33"]\n', 1, 20),
    ("bad-access-format", '[log]\naccess_format = "xml"\n', 2, 17),
    ("float-for-integer", '[limits]\nheaders = 1.5\n', 2, 11),
]


@pytest.mark.parametrize("name,text,line,col", VALUE_ERRORS, ids=[v[0] for v in VALUE_ERRORS])
def test_config_check_bad_value_exact_position(run, tmp, name, text, line, col):
    path = write(tmp, "moat.toml", text)
    r = check(run, path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert error_position(r.stderr, path) == (line, col)


# Syntax errors: the line is certain, the column depends on where the
# parser gives up, so only the line is pinned.
SYNTAX_ERRORS = [
    ("unclosed-array", 'listen = ["127.0.0.1:8080"\nworkers = 2\n', 2),
    ("missing-value", 'workers = 1\nupstream =\n', 2),
    ("duplicate-key", 'workers = 1\n\nworkers = 2\n', 3),
    ("unclosed-string", '[limits]\nbody_bytes = "10MiB\n', 2),
    ("bad-table-header", '[limits\nurl_bytes = 1\n', 1),
    ("duplicate-table", '[limits]\nurl_bytes = 1\n[limits]\nheaders = 5\n', 3),
]


@pytest.mark.parametrize("name,text,line", SYNTAX_ERRORS, ids=[v[0] for v in SYNTAX_ERRORS])
def test_config_check_syntax_error_line(run, tmp, name, text, line):
    path = write(tmp, "moat.toml", text)
    r = check(run, path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert error_position(r.stderr, path)[0] == line


@pytest.mark.parametrize("text,line,suggestion", [
    ('upstrem = ["http://127.0.0.1:8000"]\n', 1, "upstream"),
    ('[limits]\nurl_bytes = 1000\nbody_byte = 5\n', 3, "body_bytes"),
    ('[limit]\nurl_bytes = 1000\n', (1, 2), "limits"),  # the header, or its first key
    ('[log]\nacess = "-"\n', 2, "access"),
], ids=["top-level", "in-table", "table-name", "log-table"])
def test_config_check_unknown_key_did_you_mean(run, tmp, text, line, suggestion):
    path = write(tmp, "moat.toml", text)
    r = check(run, path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = line if isinstance(line, tuple) else (line,)
    assert error_position(r.stderr, path)[0] in lines
    assert suggestion in r.stderr
    assert "did you mean" in r.stderr.lower()


def test_config_check_missing_file(run, tmp):
    r = check(run, tmp / "absent.toml")
    assert r.returncode == 1
    assert "absent.toml" in r.stderr


# ---------------------------------------------------------- ${env:NAME}

def test_env_reference_resolved(run, tmp):
    path = write(tmp, "moat.toml", 'upstream = ["${env:MOAT_TEST_UPSTREAM}"]\n')
    r = check(run, path, env={"MOAT_TEST_UPSTREAM": "http://127.0.0.1:8123"})
    assert r.returncode == 0, r.stderr


def test_env_reference_unset_is_an_error(run, tmp):
    path = write(tmp, "moat.toml", '\nupstream = ["${env:MOAT_TEST_UNSET_VAR}"]\n')
    r = check(run, path, env={"MOAT_TEST_UNSET_VAR": None})  # None: removed
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert error_position(r.stderr, path)[0] == 2
    assert "MOAT_TEST_UNSET_VAR" in r.stderr


def test_env_reference_used_by_serve(moat, echo):
    cfg = {"upstream": ["${env:MOAT_TEST_UPSTREAM}"], "workers": 1,
           "limits": {"drain_timeout": "5s"}}
    m = moat(config=cfg, env={"MOAT_TEST_UPSTREAM": echo.url()})
    r = requests.get(m.url + "/echo?via=env", timeout=10)
    assert r.status_code == 200
    assert r.json()["query"] == "via=env"


# ------------------------------------------------------------- pyproject

PYPROJECT = """\
[project]
name = "demo-app"
version = "1.0.0"
dependencies = ["flask>=2"]

[tool.black]
line-length = 100

[tool.moat]
upstream = ["unix:/run/gunicorn.sock"]
workers = 3

[tool.moat.limits]
url_bytes = 2048
"""


def test_pyproject_tool_moat_found_in_cwd(run, tmp):
    write(tmp, "pyproject.toml", PYPROJECT)
    r = check(run, cwd=tmp)
    assert r.returncode == 0, r.stderr
    cfg = tomllib.loads(r.stdout)
    assert cfg["upstream"] == ["unix:/run/gunicorn.sock"]
    assert cfg["workers"] == 3
    assert parse_size(cfg["limits"]["url_bytes"]) == 2048


def test_pyproject_given_as_file(run, tmp):
    path = write(tmp, "pyproject.toml", PYPROJECT)
    r = check(run, path)
    assert r.returncode == 0, r.stderr
    assert tomllib.loads(r.stdout)["workers"] == 3


def test_pyproject_error_points_into_pyproject(run, tmp):
    write(tmp, "pyproject.toml", PYPROJECT.replace("url_bytes = 2048", 'url_bytes = "big"'))
    r = check(run, cwd=tmp)
    assert r.returncode == 1, (r.stdout, r.stderr)
    m = re.search(r"(?m)^(?:.*/)?pyproject\.toml:(\d+):(\d+): \S", r.stderr)
    assert m, r.stderr
    assert (int(m.group(1)), int(m.group(2))) == (14, 13)


def test_pyproject_without_tool_moat_means_defaults(run, tmp):
    write(tmp, "pyproject.toml", '[project]\nname = "x"\nversion = "1"\n')
    r = check(run, cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert parse_size(tomllib.loads(r.stdout)["limits"]["url_bytes"]) == 8192


def test_moat_toml_wins_over_pyproject(run, tmp):
    write(tmp, "pyproject.toml", PYPROJECT)
    write(tmp, "moat.toml", "workers = 5\n")
    r = check(run, cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert tomllib.loads(r.stdout)["workers"] == 5


# ---------------------------------------------------------------- serve

def test_serve_with_flags_and_no_config(moat, echo, tmp):
    port = free_port()
    m = moat(config=False, cwd=str(tmp), port=port,
             args=["--upstream", echo.url(), "--listen", "127.0.0.1:%d" % port])
    r = requests.get(m.url + "/echo?flags", timeout=10)
    assert r.status_code == 200 and r.json()["query"] == "flags"
    assert r.headers.get("X-Request-Id")
    # the defaults are in force
    with Conn(port) as c:
        assert c.request("GET", "/echo?" + "a" * 8200).status == 414


def test_serve_with_unix_upstream_flag(moat, echo, tmp):
    port = free_port()
    m = moat(config=False, cwd=str(tmp), port=port,
             args=["--upstream", echo.unix_url, "--listen", "127.0.0.1:%d" % port])
    r = requests.get(m.url + "/echo", timeout=10)
    assert r.status_code == 200 and r.json()["local"] == echo.sock_path


def test_flags_override_config_file(moat, echo, tmp):
    port = free_port()
    cfg = 'listen = ["127.0.0.1:1"]\nupstream = ["http://127.0.0.1:1"]\nworkers = 1\n'
    (tmp / "moat.toml").write_text(cfg)
    m = moat(config=False, cwd=str(tmp), port=port,
             args=["--config", str(tmp / "moat.toml"), "--upstream", echo.url(),
                   "--listen", "127.0.0.1:%d" % port])
    assert requests.get(m.url + "/echo", timeout=10).status_code == 200


def test_serve_refuses_bad_config(moat_bin, tmp):
    path = write(tmp, "moat.toml", '[limits]\nheaders = "lots"\n')
    r = subprocess.run([moat_bin, "serve", "--config", str(path)], capture_output=True,
                       text=True, timeout=15, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r.stderr
    assert error_position(r.stderr, path) == (2, 11)
    assert "listening on" not in r.stderr


def test_serve_fails_when_port_is_taken(moat_bin, echo, tmp):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = subprocess.run([moat_bin, "serve", "--upstream", echo.url(), "--listen",
                            "127.0.0.1:%d" % port], cwd=str(tmp), capture_output=True,
                           text=True, timeout=15, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r.stderr  # an error, cleanly: not a crash or a leak report
    assert str(port) in r.stderr


# ---------------------------------------------------------- the command table

COMMANDS = ("serve", "reload", "status", "cert", "config", "log", "waf", "user", "audit", "db", "completion", "version",
            "help", "store", "ban")
SUBS = {
    "audit": ("deps", "code", "settings", "secrets", "rules"),
    "user": ("add", "passwd", "list", "del", "lock", "unlock", "roles", "mfa", "recovery",
             "import", "token", "logout"),
    "log": ("init", "verify", "why"),
    "cert": ("selfsigned",),
    "db": ("import", "update", "info"),
    "config": ("check", "docs"),
    "waf": ("tune",),
    "store": ("migrate", "copy"),
    "ban": ("list", "remove"),
}


def test_help_lists_every_command_from_the_table(run):
    for args in (("--help",), ("help",)):
        r = run(*args)
        assert r.returncode == 0, r.stderr
        listed = re.findall(r"(?m)^  (\w+)(?: (\w+))?\s{2,}\S", r.stdout)
        assert {c for c, _ in listed} == set(COMMANDS)
        assert {s for c, s in listed if c == "audit" and s} == set(SUBS["audit"])
    bare = run()
    assert bare.returncode == 2 and "commands:" in bare.stderr


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c != "help"])
def test_every_command_has_help(run, cmd):
    for args in ((cmd, "--help"), ("help", cmd)):
        r = run(*args)
        assert r.returncode == 0, (args, r.stderr)
        assert r.stdout.startswith("usage: moat %s" % cmd), r.stdout


@pytest.mark.parametrize("args, hint", [
    (("adit",), "audit"),
    (("serv",), "serve"),
    (("usr",), "user"),
    (("log", "verfy"), "verify"),
    (("user", "paswd"), "passwd"),
    (("db", "inf"), "info"),
    (("config", "chek"), "check"),
    (("cert", "selfsign"), "selfsigned"),
    (("help", "audt"), "audit"),
])
def test_unknown_command_did_you_mean(run, args, hint):
    r = run(*args)
    assert r.returncode == 2
    assert "did you mean '%s'?" % hint in r.stderr, r.stderr
    assert r.stdout == ""


def test_unknown_command_far_from_any_has_no_hint(run):
    r = run("xyzzy-plugh")
    assert r.returncode == 2
    assert "unknown command 'xyzzy-plugh'" in r.stderr
    assert "did you mean" not in r.stderr


def test_unknown_command_is_escaped(run):
    r = run("\x1b[31mred")
    assert r.returncode == 2
    assert "\x1b" not in r.stderr


def bash_complete(moat_bin, *words):
    """COMPREPLY of _moat with the cursor on the last word."""
    script = ('source <("$MOAT" completion bash) && complete -p moat && '
              'COMP_WORDS=(moat "$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _moat; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "-c", script, "bash", *words], capture_output=True, text=True,
                       timeout=30, env={"MOAT": moat_bin, "PATH": "/usr/bin:/bin"},
                       stdin=subprocess.DEVNULL, cwd="/")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "complete -F _moat moat"
    return set(lines[1:])


def test_bash_completion_loads_and_completes(moat_bin):
    assert bash_complete(moat_bin, "") >= set(COMMANDS)
    assert bash_complete(moat_bin, "a") == {"audit"}
    for cmd, subs in SUBS.items():
        assert bash_complete(moat_bin, cmd, "") >= set(subs), cmd
    assert bash_complete(moat_bin, "audit", "se") == {"settings", "secrets"}
    assert bash_complete(moat_bin, "user", "lo") == {"lock", "logout"}
    assert "--list-rules" in bash_complete(moat_bin, "audit", "code", "--l")
    assert bash_complete(moat_bin, "serve", "--li") == {"--listen"}
    assert bash_complete(moat_bin, "completion", "") == {"bash", "zsh"}


def test_zsh_completion_lists_the_table(run):
    r = run("completion", "zsh")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("#compdef moat\n")
    for cmd in COMMANDS:
        assert "'%s:" % cmd in r.stdout
    for cmd, subs in SUBS.items():
        assert "    %s)\n" % cmd in r.stdout
        for sub in subs:
            assert "'%s:" % sub in r.stdout
    if shutil.which("zsh"):
        p = subprocess.run(["zsh", "-n"], input=r.stdout, capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, p.stderr


# every command and sub-command: an unknown option is a usage error, exit 2,
# with nothing on stdout
USAGE_ERRORS = [("serve",), ("reload",), ("status",), ("cert", "selfsigned"), ("config", "check"),
                ("config", "docs"), ("log", "init"), ("log", "verify"), ("log", "why"),
                ("user", "list"), ("audit",), ("audit", "deps"), ("audit", "code"),
                ("audit", "settings"), ("audit", "secrets"), ("db", "import"), ("db", "update"),
                ("db", "info"), ("completion",), ("version",), ("help",), ("ban", "list"),
                ("ban", "remove"), ()]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=[" ".join(a) or "moat" for a in USAGE_ERRORS])
def test_unknown_option_exits_2(run, args):
    r = run(*args, "--no-such-option")
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert r.stdout == "" and r.stderr.strip(), (args, r.stdout, r.stderr)


def test_version_three_ways(run):
    outs = {run(*a).stdout for a in (("version",), ("--version",), ("-V",))}
    assert len(outs) == 1 and re.match(r"moat \d+\.\d+\.\d+\n$", outs.pop())


def test_no_colour_codes_in_output(run):
    """moat prints no colour: NO_COLOR or not, on a pipe the bytes are plain."""
    for env in ({}, {"NO_COLOR": "1"}):
        for args in (("--help",), ("audit", "--help"), ("config", "check")):
            r = run(*args, env=env)
            assert "\x1b[" not in r.stdout + r.stderr, args


def test_completion_wants_a_shell(run):
    assert run("completion").returncode == 2
    assert run("completion", "fish").returncode == 2
