"""log.on_failure (issue 21, item 5): with the security log on a small
tmpfs that fills up, the default ("serve") keeps answering as before and
counts the loss; "refuse" answers 503 to every request that would produce a
security event (a refusal, a request that went on with an event) while the
log cannot be written, serves the requests that produce none, and serves
again once the log can be written. Needs to mount a tmpfs (root): skipped
where that is not allowed."""

import os
import subprocess

import pytest

from helpers import Conn, wait_for

DENIED = b"GET /.git/config HTTP/1.1\r\nHost: x\r\n\r\n"  # path.denied, 404
H2C = b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"  # served, event
PLAIN = b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"  # no event


@pytest.fixture
def small_fs(tmp_path):
    d = tmp_path / "fs"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.strip())
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def fill(d):
    """Fills the file system; returns the filler's path."""
    path = d / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(1 << 16):  # bounded: 64k file system, 512-byte writes
            os.write(fd, b"\0" * 512)
    except OSError:
        pass
    finally:
        os.close(fd)
    return path


def status(m, raw):
    with Conn(m.port) as c:
        c.send(raw)
        r, _ = c.read_final("GET")
        return r.status


@pytest.mark.parametrize("mode", ["refuse", "serve"])
def test_full_security_log(moat, echo, small_fs, mode):
    log = {"security": str(small_fs / "sec.log")}
    if mode == "refuse":
        log["on_failure"] = "refuse"
    m = moat(echo.url(), workers=1, log=log)
    assert status(m, DENIED) == 404
    assert status(m, H2C) == 200
    filler = fill(small_fs)

    if mode == "serve":
        for _ in range(20):  # the writer fails behind our back; answers do not change
            assert status(m, DENIED) == 404
            assert status(m, H2C) == 200
        assert status(m, PLAIN) == 200
        return

    # The writer learns the disk is full at its next write: the first
    # events may still be answered as usual, then every one is refused.
    wait_for(lambda: status(m, DENIED) == 503, 20, interval=0.2,
             what="503 while the security log cannot be written")
    for _ in range(5):
        assert status(m, DENIED) == 503
        assert status(m, H2C) == 503  # would have gone on with an event
        assert status(m, PLAIN) == 200  # no event: served
    os.unlink(filler)
    wait_for(lambda: status(m, DENIED) == 404, 20, interval=0.2,
             what="answers as usual once the log can be written")
    assert status(m, H2C) == 200
    text = (small_fs / "sec.log").read_text()
    assert '"log.dropped"' in text
