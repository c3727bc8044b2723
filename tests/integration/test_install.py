"""Installing moat: `meson install` into a DESTDIR and running it from there,
the systemd unit (`systemd-analyze verify` and `security`), the logrotate
snippet, the Debian package (built by scripts/deb.sh, or the one MOAT_DEB
names, unpacked with dpkg -x, run from the unpacked tree) and the
Dockerfile's instructions."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, moat_binary


def build_dir():
    return Path(moat_binary()).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    r = subprocess.run(["meson", "install", "-C", str(build_dir()), "--destdir", str(dest),
                        "--no-rebuild", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    files = {str(p.relative_to(dest)): p for p in dest.rglob("*") if p.is_file()}
    return dest, files


def one(files, suffix):
    found = [p for name, p in files.items() if name.endswith(suffix)]
    assert len(found) == 1, (suffix, sorted(files))
    return found[0]


def test_install_puts_binary_unit_logrotate_and_config(installed):
    dest, files = installed
    moat = one(files, "bin/moat")
    assert os.access(moat, os.X_OK)
    r = subprocess.run([str(moat), "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("moat "), r
    cfg = one(files, "moat/moat.toml")
    r = subprocess.run([str(moat), "config", "check", str(cfg)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    one(files, "systemd/system/moat.service")
    one(files, "logrotate.d/moat")


def test_unit_verifies_and_is_hardened(installed, tmp_path):
    dest, files = installed
    unit = one(files, "systemd/system/moat.service").read_text()
    # ExecStart names the installed path; point it at the staged binary so
    # systemd-analyze can check it exists.
    prefix_bin = re.search(r"^ExecStart=(\S+)/moat ", unit, re.M).group(1)
    staged = str(one(files, "bin/moat").parent)
    (tmp_path / "moat.service").write_text(unit.replace(prefix_bin + "/moat", staged + "/moat"))
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "moat.service")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr
    for line in ("User=moat", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "StateDirectory=moat", "LogsDirectory=moat",
                 "ExecReload=/bin/kill -HUP $MAINPID"):
        assert line in unit.splitlines(), line
    r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        str(tmp_path / "moat.service")], capture_output=True, text=True,
                       timeout=60)
    level = re.search(r"Overall exposure level for moat.service: ([0-9.]+)", r.stdout)
    assert level and float(level.group(1)) <= 2.5, r.stdout[-500:]


def listed_commands(moat):
    """The commands `moat --help` lists (the command table), but help."""
    out = subprocess.run([str(moat), "--help"], capture_output=True, text=True,
                         timeout=30).stdout
    return {c for c in re.findall(r"(?m)^  (\w+)\s{2,}\S", out) if c != "help"}


def test_install_puts_a_man_page_per_command(installed):
    _, files = installed
    moat = one(files, "bin/moat")
    cmds = listed_commands(moat)
    assert {"serve", "audit", "config", "version"} <= cmds
    pages = {Path(n).name for n in files if "/man/man" in n}
    want = {"moat.1", "moat.toml.5"} | {"moat-%s.1" % c for c in cmds}
    assert pages == want, sorted(pages ^ want)
    for name in want:
        sect = name.rsplit(".", 1)[1]
        assert one(files, "share/man/man%s/%s" % (sect, name))


@pytest.mark.skipif(not shutil.which("man") or not shutil.which("groff"),
                    reason="man-db and groff are not installed")
def test_man_pages_render_without_warnings(installed):
    _, files = installed
    pages = [p for n, p in files.items() if "/man/man" in n]
    assert len(pages) >= 10
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    for page in pages:
        r = subprocess.run(["groff", "-man", "-ww", "-z", str(page)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and not r.stderr, (page.name, r.stderr)
        r = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True,
                           text=True, timeout=60, env=env)
        assert r.returncode == 0 and not r.stderr, (page.name, r.stderr)
        name = page.name.rsplit(".", 1)[0]
        assert r.stdout.startswith(name.upper() + "("), r.stdout[:80]
        assert "NAME" in r.stdout and "SEE ALSO" in r.stdout
    serve = subprocess.run(["man", "-l", str(one(files, "man1/moat-serve.1"))],
                           capture_output=True, text=True, timeout=60, env=env).stdout
    assert "--upstream" in serve.replace("\u2010", "-") and "SIGHUP" in serve
    toml = subprocess.run(["man", "-l", str(one(files, "man5/moat.toml.5"))],
                          capture_output=True, text=True, timeout=60, env=env).stdout
    # every setting of the reference is in the page
    keys = subprocess.run([str(one(files, "bin/moat")), "config", "docs"], capture_output=True,
                          text=True, timeout=30).stdout
    for key in re.findall(r"(?m)^### `([a-z_.]+)`$", keys):
        assert re.search(r"(?m)^   %s$" % re.escape(key), toml), key


def test_installed_completion_loads_in_bash(installed):
    _, files = installed
    bash = one(files, "bash-completion/completions/moat")
    script = ('source "$1" && complete -p moat && COMP_WORDS=(moat au); COMP_CWORD=1; _moat; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "-c", script, "bash", str(bash)], capture_output=True,
                       text=True, timeout=30, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["complete -F _moat moat", "audit"], r.stdout
    zsh = one(files, "site-functions/_moat")
    assert zsh.read_text().startswith("#compdef moat\n")
    if shutil.which("zsh"):
        r = subprocess.run(["zsh", "-n", str(zsh)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not shutil.which("logrotate"), reason="logrotate is not installed")
def test_logrotate_snippet_parses(installed, tmp_path):
    _, files = installed
    conf = tmp_path / "moat.logrotate"
    # the moat account exists where the package is installed, not here
    text = one(files, "logrotate.d/moat").read_text()
    assert "create 0640 moat moat" in text
    conf.write_text(text.replace("create 0640 moat moat", "create 0640 root root"))
    r = subprocess.run(["logrotate", "-d", "-s", str(tmp_path / "state"), str(conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "error" not in r.stderr.lower(), r.stderr


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    path = os.environ.get("MOAT_DEB")
    if not path:
        r = subprocess.run([str(REPO / "scripts" / "deb.sh")], capture_output=True, text=True,
                           timeout=1200)
        assert r.returncode == 0, r.stdout + r.stderr
        path = r.stdout.strip().splitlines()[-1]
        path = str(REPO / path) if not os.path.isabs(path) else path
    return Path(path)


def test_deb_installs_and_runs(deb, tmp_path):
    info = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Depends"],
                          capture_output=True, text=True, timeout=60).stdout
    assert "Package: moat" in info
    for need in ("libuv1", "libmodsecurity3", "modsecurity-crs", "libssl3", "adduser"):
        assert need in info, (need, info)
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=60)
    moat = root / "usr/bin/moat"
    r = subprocess.run([str(moat), "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("moat "), r
    r = subprocess.run([str(moat), "config", "check", str(root / "etc/moat/moat.toml")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (root / "usr/lib/systemd/system/moat.service").is_file()
    assert "ExecStart=/usr/bin/moat serve" in (root / "usr/lib/systemd/system/moat.service"
                                                ).read_text()
    conffiles = subprocess.run(["dpkg-deb", "-I", str(deb), "conffiles"], capture_output=True,
                               text=True, timeout=60).stdout
    assert "/etc/moat/moat.toml" in conffiles
    # the maintainer scripts are valid shell that creates the account
    ctl = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(deb), str(ctl)], check=True, timeout=60)
    for script in ("postinst", "postrm"):
        r = subprocess.run(["sh", "-n", str(ctl / script)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    assert "adduser --system" in (ctl / "postinst").read_text()


def test_dockerfile_installs_the_package_and_drops_root():
    lines = [l for l in (REPO / "Dockerfile").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    instrs = [l.split()[0] for l in lines if not l.startswith(" ")]
    assert instrs[0] == "FROM" and "debian:12-slim" in lines[0]
    for need in ("COPY", "RUN", "USER", "ENTRYPOINT", "CMD"):
        assert need in instrs, need
    assert instrs.index("USER") > instrs.index("RUN")
    user = [l for l in lines if l.startswith("USER ")][0].split()[1]
    assert user not in ("root", "0")
    copy = [l for l in lines if l.startswith("COPY ")][0].split()
    assert copy[1] == "build-deb/moat_*.deb"  # what scripts/deb.sh writes
    assert (REPO / "scripts" / "deb.sh").read_text().count("build-deb") >= 1
