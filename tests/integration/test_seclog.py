"""The security event log with the real binary: `moat log init` (key file
0600, verification key shown once), logs written through the seclog module
(tests/tools/seclog_write, and `moat serve` once the gateway records its
refusals), then tampered with in every way a person would - edit a field,
delete the first or a middle line, reorder, duplicate, insert a forged line,
use a wrong key, drop a rotated file, cut the tail under an anchor - and
`moat log verify` must catch each with exit 1 and the line. Also: redaction
of every kind of secret, rotation and SIGHUP reopen keeping the chain, the
unsealed hash chain, and `moat log why` in plain words."""

import json
import os
import random
import re
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, base_config, moat_binary
from helpers import free_port
from helpers import Conn, toml_dumps, wait_for

VKEY = re.compile(r"mvk1-[0-9a-f]{64}-[0-9a-f]{8}")


@pytest.fixture(scope="session")
def writer():
    path = Path(moat_binary()).resolve().parents[1] / "tests" / "tools" / "seclog_write"
    if not path.exists():
        pytest.fail("seclog_write not found at %s (build the tests)" % path)
    return str(path)


def write_config(d, **log):
    cfg = {"log": {"security": str(d / "sec.log"), "access": ""}}
    cfg["log"].update(log)
    p = d / "moat.toml"
    p.write_text(toml_dumps(cfg))
    return p


def init(run, cfg, *extra):
    r = run("log", "init", "--config", str(cfg), *extra)
    assert r.returncode == 0, r.stderr
    keys = set(VKEY.findall(r.stdout))
    assert len(keys) == 1, r.stdout
    return keys.pop()


def produce(writer, cfg, count=30, *extra):
    r = subprocess.run([writer, str(cfg), "--count", str(count), *extra], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def verify(run, *args):
    return run("log", "verify", *[str(a) for a in args])


@pytest.fixture
def sealed(tmp_path, run, writer):
    """A sealed log of 30 events over several epochs, and its key."""
    cfg = write_config(tmp_path, seal_key=str(tmp_path / "seal.key"), seal_entries=5)
    key = init(run, cfg)
    produce(writer, cfg, 30)
    log = tmp_path / "sec.log"
    r = verify(run, log, "--key", key)
    assert r.returncode == 0 and r.stdout.startswith("OK:"), r.stdout + r.stderr
    return log, key


def lines_of(path):
    return path.read_text().splitlines(keepends=True)


# ------------------------------------------------------------------ init

def test_init_creates_private_key_and_shows_verification_key_once(tmp_path, run):
    cfg = write_config(tmp_path, seal_key=str(tmp_path / "keys" / "seal.key"))
    (tmp_path / "keys").mkdir()
    key = init(run, cfg)
    kf = tmp_path / "keys" / "seal.key"
    assert stat.S_IMODE(kf.stat().st_mode) == 0o600
    text = kf.read_text()
    assert key[5:69] not in text          # K0 never touches the disk
    assert "epoch 1" in text
    r = run("log", "init", "--config", str(cfg))
    assert r.returncode == 1 and "--force" in r.stderr
    assert kf.read_text() == text
    key2 = init(run, cfg, "--force")
    assert key2 != key


def test_init_without_seal_key_explains(tmp_path, run):
    cfg = write_config(tmp_path)
    r = run("log", "init", "--config", str(cfg))
    assert r.returncode == 2
    assert "seal_key" in r.stderr


def test_log_help(run):
    for args in (("log", "--help"), ("log", "init", "--help"), ("log", "verify", "--help"),
                 ("log", "why", "--help")):
        r = run(*args)
        assert r.returncode == 0 and "usage: moat log" in r.stdout, args
    assert "log" in run("--help").stdout
    assert run("log").returncode == 2
    assert run("log", "frobnicate").returncode == 2


# ------------------------------------------------------------ tampering

def tamper_edit(lines):
    i = 6
    lines[i] = lines[i].replace('"client":"127.0.0.1"', '"client":"127.0.0.2"')
    return lines, i + 1, "changed or forged"


def tamper_delete_first(lines):
    return lines[1:], 1, "first line was deleted"


def tamper_delete_middle(lines):
    del lines[9]
    return lines, 10, "deleted before this one"


def tamper_reorder(lines):
    lines[8], lines[9] = lines[9], lines[8]
    return lines, 9, "reordered"


def tamper_duplicate(lines):
    lines.insert(12, lines[11])
    return lines, 13, "duplicated"


def tamper_insert_forged(lines):
    prev = json.loads(lines[10])
    forged = ('{"seq":%d,"epoch":%d,"time":"%s","event":"auth.login.success",'
              '"severity":"info","user":"admin","mac":"%s"}\n'
              % (prev["seq"] + 1, prev["epoch"], prev["time"], "ab" * 32))
    lines.insert(11, forged)
    return lines, 12, "changed or forged"


def tamper_insert_copy_renumbered(lines):
    """A real line copied, with the next seq: its MAC is for another place."""
    e = json.loads(lines[10])
    copy = lines[3].replace('"seq":%d,' % json.loads(lines[3])["seq"], '"seq":%d,' % (e["seq"] + 1))
    lines.insert(11, copy)
    return lines, 12, "changed or forged"


TAMPERS = [tamper_edit, tamper_delete_first, tamper_delete_middle, tamper_reorder,
           tamper_duplicate, tamper_insert_forged, tamper_insert_copy_renumbered]


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda f: f.__name__[7:])
def test_verify_catches_tampering(sealed, run, tamper):
    log, key = sealed
    lines, bad_line, words = tamper(lines_of(log))
    log.write_text("".join(lines))
    r = verify(run, log, "--key", key)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("TAMPERED: %s:%d:" % (log, bad_line)), r.stdout
    assert words in r.stdout, r.stdout


def test_verify_wrong_key(sealed, tmp_path, run):
    log, key = sealed
    other = tmp_path / "other"
    other.mkdir()
    key2 = init(run, write_config(other, seal_key=str(other / "k")))
    r = verify(run, log, "--key", key2)
    assert r.returncode == 1 and "wrong key" in r.stdout, r.stdout
    # a mistyped key is refused as such, not reported as tampering
    typo = key[:10] + ("0" if key[10] != "0" else "1") + key[11:]
    r = verify(run, log, "--key", typo)
    assert r.returncode == 2 and "checksum" in r.stderr, r.stderr
    r = verify(run, log, "--key", "hello")
    assert r.returncode == 2


def test_verify_key_from_file_and_stdin(sealed, tmp_path, run, moat_bin):
    log, key = sealed
    kf = tmp_path / "vk.txt"
    kf.write_text(key + "\n")
    assert verify(run, log, "--key-file", kf).returncode == 0
    r = subprocess.run([moat_bin, "log", "verify", str(log), "--key", "-"], input=key + "\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_sealed_log_needs_the_key(sealed, run):
    log, _ = sealed
    r = verify(run, log)
    assert r.returncode == 2 and "--key" in r.stderr


def test_truncated_tail_needs_an_anchor(sealed, run):
    log, key = sealed
    r = verify(run, log, "--key", key)
    anchor = re.search(r"anchor: (\d+:[0-9a-f]+)", r.stdout).group(1)
    assert verify(run, log, "--key", key, "--anchor", anchor).returncode == 0
    lines = lines_of(log)
    log.write_text("".join(lines[:-4]))
    # without the anchor a cut tail is indistinguishable from a shorter log
    assert verify(run, log, "--key", key).returncode == 0
    r = verify(run, log, "--key", key, "--anchor", anchor)
    assert r.returncode == 1 and "cut from its end" in r.stdout, r.stdout


# ---------------------------------------------------- rotation and reopen

def test_chain_follows_rotated_files(tmp_path, run, writer):
    logs = tmp_path / "logs"
    logs.mkdir()
    cfg = write_config(tmp_path, security=str(logs / "sec.log"),
                       seal_key=str(tmp_path / "seal.key"), seal_entries=7,
                       rotate_bytes=2500, rotate_keep=0)
    key = init(run, cfg)
    produce(writer, cfg, 40, "--batch", "1")       # one write each: rotations are exact
    produce(writer, cfg, 20, "--id", "second-")   # a restart continues the chain
    files = sorted(logs.iterdir())
    assert len(files) >= 4, files
    assert verify(run, logs, "--key", key).returncode == 0
    shuffled = files[:]
    random.Random(7).shuffle(shuffled)
    r = verify(run, *shuffled, "--key", key)
    assert r.returncode == 0, r.stdout
    assert "%d file(s)" % len(files) in r.stdout
    # every file after the first begins with its link
    for f in files:
        first = json.loads(lines_of(f)[0])
        assert first["event"] in ("log.start", "log.continued"), (f, first)
    # a rotated file removed from the middle is named
    rotated = sorted(f for f in files if f.name != "sec.log")
    missing = rotated[1]
    hidden = tmp_path / "hidden"
    missing.rename(hidden)
    r = verify(run, logs, "--key", key)
    assert r.returncode == 1 and "missing in between" in r.stdout, r.stdout
    hidden.rename(missing)
    # the newest files alone verify: the first one's link is the start
    r = verify(run, rotated[-1], logs / "sec.log", "--key", key)
    assert r.returncode == 0 and "was not given" in r.stdout, r.stdout


def test_rotate_keep_prunes_old_files(tmp_path, run, writer):
    cfg = write_config(tmp_path, seal_key=str(tmp_path / "seal.key"), rotate_bytes=1200,
                       rotate_keep=2)
    init(run, cfg)
    for i in range(6):
        produce(writer, cfg, 8, "--id", "r%d-" % i, "--batch", "1")
    rotated = [f for f in tmp_path.iterdir() if f.name.startswith("sec.log.")]
    assert len(rotated) == 2, rotated


def test_rotation_names_sort_after_every_rotated_file(tmp_path, run, writer):
    """Pruning deletes by name, oldest first: a rotated file's name must sort
    after all the others even when the clock was set back (a file stamped in
    the future) or an older name of the same second is free again, or moat
    would delete its newest rotated file and cut a hole in the chain."""
    logs = tmp_path / "logs"
    logs.mkdir()
    cfg = write_config(tmp_path, security=str(logs / "sec.log"),
                       seal_key=str(tmp_path / "seal.key"), rotate_bytes=1200, rotate_keep=2)
    key = init(run, cfg)
    future = logs / "sec.log.20991231T235959Z"    # rotated before the clock went back
    future.write_text("from another time\n")
    for i in range(4):
        produce(writer, cfg, 8, "--id", "r%d-" % i, "--batch", "1")
    rotated = sorted(f.name for f in logs.iterdir() if f.name.startswith("sec.log."))
    assert not future.exists(), rotated              # the oldest by name went first
    assert len(rotated) == 2, rotated
    assert all(n.startswith("sec.log.20991231T235959Z-") for n in rotated), rotated
    r = verify(run, logs, "--key", key)
    assert r.returncode == 0, r.stdout + r.stderr


def test_sighup_reopen_after_external_rotation(tmp_path, run, writer):
    cfg = write_config(tmp_path, seal_key=str(tmp_path / "seal.key"))
    key = init(run, cfg)
    p = subprocess.Popen([writer, str(cfg), "--count", "20", "--hup-wait"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "waiting"
        (tmp_path / "sec.log").rename(tmp_path / "sec.log.1")   # logrotate's move
        p.send_signal(signal.SIGHUP)
        assert p.wait(30) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
    new = lines_of(tmp_path / "sec.log")
    assert json.loads(new[0])["event"] == "log.continued"
    assert json.loads(new[0])["reason"] == "reopen"
    r = verify(run, tmp_path / "sec.log.1", tmp_path / "sec.log", "--key", key)
    assert r.returncode == 0, r.stdout


# ------------------------------------------------------------- unsealed

def test_unsealed_hash_chain(tmp_path, run, writer):
    cfg = write_config(tmp_path)
    produce(writer, cfg, 10)
    log = tmp_path / "sec.log"
    r = verify(run, log)
    assert r.returncode == 0 and "not tampering" in r.stdout, r.stdout
    lines = lines_of(log)
    lines[3] = lines[3].replace("127.0.0.1", "127.0.0.9")
    log.write_text("".join(lines))
    r = verify(run, log)
    assert r.returncode == 1 and "%s:4:" % log in r.stdout, r.stdout
    # a key given for an unsealed log fails: the seal may have been stripped
    kd = tmp_path / "k"
    kd.mkdir()
    key = init(run, write_config(kd, seal_key=str(kd / "seal.key")))
    log.write_text("".join(lines_of(log)).replace("127.0.0.9", "127.0.0.1"))
    r = verify(run, log, "--key", key)
    assert r.returncode == 1 and "not sealed" in r.stdout, r.stdout


def test_stdout_sink_for_containers(tmp_path, run, writer):
    cfg = write_config(tmp_path, security="-")
    r = subprocess.run([writer, str(cfg), "--count", "12"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    events = [json.loads(l) for l in r.stdout.splitlines()]
    assert events[0]["event"] == "log.start" and events[-1]["event"] == "log.closed"
    assert sum(e["event"] != "log.start" and e["event"] != "log.closed" for e in events) == 12
    captured = tmp_path / "captured.log"
    captured.write_text(r.stdout)
    assert verify(run, captured).returncode == 0


# ------------------------------------------------------------ redaction

SECRETS = ["S3cret-pw-1", "S3cret-tok-2", "S3cret-sid-3", "S3cret-csrf-4", "493021",
           "S3cret-key-5", "S3cret-pw-6", "dXNlcjpTM2NyZXQtcHctNw", "eyJzdWIiOiJTM2NyZXQtand0",
           "4111 1111 1111 1111", "S3cret-tok-10", "S3cret-sid-11", "S3cret-pw-12", "123456",
           "hunter2"]


@pytest.mark.parametrize("query", [False, True])
def test_no_secret_reaches_the_log(tmp_path, run, writer, query):
    cfg = write_config(tmp_path, query=query)
    produce(writer, cfg, 6, "--secrets")
    text = (tmp_path / "sec.log").read_text()
    for s in SECRETS:
        assert s not in text, "%r leaked into the log" % s
    assert "[redacted]" in text
    e = [json.loads(l) for l in text.splitlines() if '"secret-test-1"' in l][0]
    assert e["password"] == "[redacted]" and e["Authorization"] == "[redacted]"
    assert e["user"] == "alice"
    if query:
        assert e["path"].startswith("/login?next=/&token=[redacted]"), e["path"]
    else:
        assert e["path"] == "/login"


# ------------------------------------------------------------------ why

def test_why_explains_a_request(tmp_path, run, writer):
    cfg = write_config(tmp_path, seal_key=str(tmp_path / "seal.key"), rotate_bytes=3000)
    init(run, cfg)
    produce(writer, cfg, 30, "--id", "why-")
    r = run("log", "why", "why-000003", "--config", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "http.rejected" in out
    assert "refused:        with 413, by the 'limits' stage" in out
    assert "the body is larger than the limit" in out
    assert 'limits.body_bytes = "10MiB" (the default)' in out
    # an event from a rotated file is found too
    r = run("log", "why", "why-000000", "--config", str(cfg))
    assert r.returncode == 0 and "none: moat refuses this whatever" in r.stdout, r.stdout
    r = run("log", "why", "why-000001", "--file", str(tmp_path / "sec.log"))
    assert r.returncode in (0, 1)
    r = run("log", "why", "no-such-request", "--config", str(cfg))
    assert r.returncode == 1 and "No security event" in r.stdout


# ------------------------------------------------------- the catalogue

def test_events_doc_lists_the_catalogue():
    src = (REPO / "src" / "seclog" / "event.c").read_text()
    names = re.findall(r'^\s*\{"([a-z]+\.[a-z.]+)", MOAT_SECLOG_', src, re.M)
    assert len(names) >= 22, names
    doc = (REPO / "docs" / "events.md").read_text()
    for n in names:
        assert "`%s`" % n in doc, "docs/events.md does not describe %s" % n
    for n in ("http.rejected", "path.denied", "host.denied", "waf.blocked", "waf.detected",
              "auth.login.success", "auth.login.failure", "auth.lockout", "auth.mfa.failure",
              "session.created", "session.ended", "session.expired", "authz.denied",
              "csp.violation", "config.reloaded", "upstream.error"):
        assert n in names


# ------------------------------------------- through the real gateway

def gateway_events(path):
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def test_gateway_refusals_are_logged_and_sealed(tmp_path, run, moat, echo):
    """Real requests the gateway refuses (CL+TE: 400, a foreign Host: 421)
    leave events with the request id the client saw; the log then verifies,
    and catches tampering. Skips until the gateway records its events."""
    seclog = tmp_path / "gw-sec.log"
    keycfg = write_config(tmp_path, security=str(seclog), seal_key=str(tmp_path / "seal.key"))
    key = init(run, keycfg)
    m = moat(echo.url(), hosts=["example.com"],
             log={"security": str(seclog), "seal_key": str(tmp_path / "seal.key"),
                  "seal_entries": 3})
    with Conn(m.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: example.com\r\nAccept: application/json\r\n"
               b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        r1 = c.read_final("POST")[0]
    with Conn(m.port) as c:
        r2 = c.request("GET", "/x", headers={"Accept": "application/json"},
                       host="evil.example")
    assert r1.status == 400 and r2.status == 421
    ids = [r.header("X-Request-Id") or r.json().get("request_id") for r in (r1, r2)]
    assert all(ids), ids
    assert m.stop() == 0
    events = gateway_events(seclog)
    seen = {e.get("request_id"): e for e in events if e.get("request_id")}
    if not seen:
        pytest.skip("the gateway does not record security events yet (wiring pending)")
    assert seen[ids[0]]["event"] == "http.rejected" and seen[ids[0]]["status"] == 400
    assert seen[ids[1]]["event"] == "host.denied" and seen[ids[1]]["status"] == 421
    assert events[-1]["event"] == "log.closed"           # flushed on SIGTERM
    assert verify(run, seclog, "--key", key).returncode == 0
    r = run("log", "why", ids[1], "--file", str(seclog))
    assert r.returncode == 0 and "hosts" in r.stdout
    lines = lines_of(seclog)
    lines[1] = lines[1].replace('"severity":"', '"severity":"x', 1)
    seclog.write_text("".join(lines))
    r = verify(run, seclog, "--key", key)
    assert r.returncode == 1 and "%s:2:" % seclog in r.stdout


def test_csp_reports_are_recorded_never_forwarded(tmp_path, moat, echo):
    """A browser's CSP violation report (POST /.moat/csp-report, the
    report-uri moat adds to its policy) becomes a csp.violation event; other
    /.moat/ paths are 404; none of it reaches the app."""
    seclog = tmp_path / "csp-sec.log"
    m = moat(echo.url(), log={"security": str(seclog)})
    report = (b'{"csp-report":{"document-uri":"http://x/page?token=s3cret",'
              b'"violated-directive":"script-src-elem","blocked-uri":"inline"}}')
    echo.clear_seen()
    with Conn(m.port) as c:
        r = c.request("GET", "/echo")
        assert "report-uri /.moat/csp-report" in r.header("Content-Security-Policy")
        r = c.request("POST", "/.moat/csp-report", body=report,
                      headers={"Content-Type": "application/csp-report"})
        assert r.status == 204
        rid = r.header("X-Request-Id")
        assert c.request("GET", "/.moat/csp-report").status == 405
        assert c.request("GET", "/.moat/other").status == 404
    assert not [l for l in echo.seen() if ".moat" in l]
    assert m.stop() == 0
    events = [e for e in gateway_events(seclog) if e.get("request_id") == rid]
    assert len(events) == 1 and events[0]["event"] == "csp.violation"
    line = seclog.read_text()
    assert "script-src-elem" in line and "s3cret" not in line


# ------------------------------------------------- the default log file

def foreign_hosts(m, n):
    """n requests with a Host moat does not serve: one host.denied each."""
    for _ in range(n):
        with Conn(m.port) as c:
            assert c.request("GET", "/x", host="evil.example").status == 421


def logged_event(m):
    """One host.denied, once the writer wrote it (so each line may rotate)."""
    def files():
        return sorted((p.name, p.stat().st_size) for p in m.workdir.glob("security.log*"))
    before = files()
    foreign_hosts(m, 1)
    wait_for(lambda: files() != before, 10, what="the event in the log")


def test_default_log_beside_the_store_survives_every_rotation(tmp_path, run, moat, echo):
    """Left out of the configuration, the security log is security.log beside
    the store (here the configuration's folder), not standard output. moat's
    own rotation (rotate_bytes, pruned by rotate_keep) and logrotate's rename
    followed by SIGUSR1 leave a folder that `moat log verify DIR` passes."""
    port = free_port()
    cfg = base_config(port, echo.url(), tmp_path, hosts=["example.com"],
                      log={"rotate_bytes": "2KiB", "rotate_keep": 3})
    del cfg["log"]["security"]
    m = moat(config=cfg)
    log = m.workdir / "security.log"
    # until moat rotated more files than it keeps (the oldest pruned)
    seen = set()
    for _ in range(200):
        logged_event(m)
        seen |= {p.name for p in m.workdir.glob("security.log.2*")}
        if len(seen) > 3:
            break
    assert len(seen) > 3, sorted(seen)
    assert '"event":"host.denied"' not in m.stdout.text    # not on stdout
    # logrotate without copytruncate: rename, then SIGUSR1
    for _ in range(50):
        if log.exists() and log.stat().st_size > 0:
            break
        logged_event(m)
    assert log.stat().st_size > 0
    os.rename(log, str(log) + ".1")
    m.signal(signal.SIGUSR1)
    # the new file's first entry (written with the next event) links it
    # to the renamed one
    for _ in range(50):
        logged_event(m)
        if log.exists() and '"reason":"reopen"' in log.read_text():
            break
    assert '"reason":"reopen"' in log.read_text()
    assert '"reason":"reopen"' not in open(str(log) + ".1").read()
    assert m.stop() == 0
    kept = sorted(p.name for p in m.workdir.glob("security.log.2*"))
    assert 1 <= len(kept) <= 3, kept          # rotate_keep pruned the oldest
    r = verify(run, m.workdir)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK" in r.stdout
    # and tampering in that folder is still found
    newest = m.workdir / kept[-1]
    lines = lines_of(newest)
    del lines[1]
    newest.write_text("".join(lines))
    r = verify(run, m.workdir)
    assert r.returncode == 1, r.stdout
