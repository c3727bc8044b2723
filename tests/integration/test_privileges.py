"""Least privilege: started as root, moat binds, reads its keys and opens its
logs, then serves as the configured account (default nobody:nogroup) and
never as root; files others can read are warned about."""
import os
import pwd
import shutil
import subprocess

import pytest
import requests

from conftest import AS_ROOT, serving_file
from helpers import HOST, free_port, toml_dumps

pytestmark = pytest.mark.skipif(not AS_ROOT, reason="moat drops privileges when started as root")

NOBODY = pwd.getpwnam("nobody").pw_uid if AS_ROOT else None


def status_of(pid):
    """The Uid/Gid/Groups/NoNewPrivs lines of /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups", "NoNewPrivs"):
                out[key] = value.split()
    return out


def serve(moat_bin, cfg_path, timeout=15):
    return subprocess.run([moat_bin, "serve", "--config", str(cfg_path)], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def write_cfg(tmp_path, cfg, mode=0o600):
    p = tmp_path / "moat.toml"
    p.write_text(toml_dumps(cfg))
    serving_file(p)
    os.chmod(p, mode)
    return p


def test_serves_as_nobody_after_binding(moat, echo):
    m = moat(echo.url())
    assert "serving as user nobody, group nogroup" in m.stderr.text
    st = status_of(m.proc.pid)
    uid, gid = str(NOBODY), str(pwd.getpwnam("nobody").pw_gid)
    assert st["Uid"] == [uid] * 4, "real, effective, saved and filesystem uid"
    assert st["Gid"][1] != "0" and set(st["Gid"]) == {st["Gid"][0]}
    assert st["Groups"] == [st["Gid"][0]], "no supplementary groups kept"
    assert st["NoNewPrivs"] == ["1"]
    # every worker thread too
    for tid in os.listdir("/proc/%d/task" % m.proc.pid):
        with open("/proc/%d/task/%s/status" % (m.proc.pid, tid)) as f:
            uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
        assert uids == [uid] * 4, "thread %s" % tid
    assert gid  # nobody's primary group exists
    r = requests.get(m.url + "/echo/hi", timeout=10)
    assert r.status_code == 200


def test_log_files_handed_to_serving_user(moat, echo, tmp_path):
    seclog = tmp_path / "security.log"
    m = moat(echo.url(), log={"security": str(seclog)})
    requests.get(m.url + "/echo/x", timeout=10)
    assert os.stat(m.access_log).st_uid == NOBODY
    assert os.stat(seclog).st_uid == NOBODY
    assert oct(os.stat(seclog).st_mode & 0o777) == oct(0o640)


def test_root_is_refused(moat_bin, run, tmp_path):
    p = write_cfg(tmp_path, {"listen": ["%s:%d" % (HOST, free_port())],
                             "upstream": ["http://127.0.0.1:1"], "user": "root"})
    r = run("config", "check", str(p))
    assert r.returncode != 0
    assert "moat does not serve as root" in r.stderr
    r = serve(moat_bin, p)
    assert r.returncode == 1
    assert "moat does not serve as root" in r.stderr
    assert "listening on" not in r.stderr


@pytest.mark.parametrize("key,value,message", [
    ("user", "no-such-user-moat", "user 'no-such-user-moat' (setting 'user'): no such user"),
    ("group", "no-such-group-moat", "group 'no-such-group-moat' (setting 'group'): no such group"),
])
def test_unknown_account_is_an_error(moat_bin, tmp_path, key, value, message):
    p = write_cfg(tmp_path, {"listen": ["%s:%d" % (HOST, free_port())],
                             "upstream": ["http://127.0.0.1:1"], key: value})
    r = serve(moat_bin, p)
    assert r.returncode == 1
    assert message in r.stderr
    assert "listening on" not in r.stderr


@pytest.mark.parametrize("value", ["", "-x", "a/b", "a b", "x" * 40])
def test_bad_account_names(run, tmp_path, value):
    p = write_cfg(tmp_path, {"user": value})
    r = run("config", "check", str(p))
    assert r.returncode != 0
    assert "invalid 'user' value" in r.stderr


def test_security_log_folder_must_be_writable(moat_bin, tmp_path):
    """Rotation creates files next to the security log: a folder only root
    can write stops moat at start, with the fix, not at the first rotation."""
    logdir = tmp_path / "rootonly"
    logdir.mkdir(mode=0o755)  # owned by root
    p = write_cfg(tmp_path, {"listen": ["%s:%d" % (HOST, free_port())],
                             "upstream": ["http://127.0.0.1:1"],
                             "log": {"security": str(logdir / "security.log")}})
    r = serve(moat_bin, p)
    assert r.returncode == 1
    assert "is not writable by user nobody, and moat writes there (security log rotation)" \
        in r.stderr
    assert "listening on" not in r.stderr


def test_readable_config_and_key_are_warned_about(moat_bin, moat, echo, tmp_path):
    key = tmp_path / "k.pem"
    cert = tmp_path / "c.pem"
    r = subprocess.run([moat_bin, "cert", "selfsigned", "--cert", str(cert), "--key", str(key),
                        "localhost"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    os.chmod(key, 0o644)
    port, tport = free_port(), free_port()
    cfg = {"listen": ["%s:%d" % (HOST, port)], "upstream": [echo.url()], "workers": 1,
           "tls": {"listen": ["%s:%d" % (HOST, tport)], "cert": [str(cert)], "key": [str(key)]}}
    p = tmp_path / "moat.toml"
    p.write_text(toml_dumps(cfg))
    os.chmod(p, 0o644)
    # a config that holds no secret (a git-tracked pyproject.toml) may be
    # readable by anyone; the key may not
    m = moat(config=False, port=port, args=["--config", str(p)])
    err = m.stderr.text
    assert "configuration file" not in err, err
    assert "private key '%s' is readable by others (mode 644)" % key in err
    m.stop()
    # a secret written into the file: now its mode matters; through a
    # ${file:...} reference it does not
    (tmp_path / "id.key").write_text("k" * 40)
    for secret, warned in (("k" * 40, True), ("${file:id.key}", False)):
        p.write_text(toml_dumps(dict(cfg, auth={"identity_secret": secret})))
        m = moat(config=False, port=port, args=["--config", str(p)])
        err = m.stderr.text
        assert (("configuration file '%s' is readable by others (mode 644)" % p) in err) == \
            warned, (secret, err)
        m.stop()
    p.write_text(toml_dumps(dict(cfg, auth={"identity_secret": "k" * 40})))
    # readable by moat's own group only: fine
    m.stop()
    shutil.chown(key, group="nogroup")
    os.chmod(key, 0o640)
    serving_file(p)
    m = moat(config=False, port=port, args=["--config", str(p)])
    assert "is readable by" not in m.stderr.text, m.stderr.text
