"""TLS session tickets: moat's own ticket keys (src/net/tls.c). Tickets
resume sessions on TLS 1.2 and 1.3 across workers and reloads; a ticket from
another moat process is refused; keys rotate every `tls.ticket_rotation` and
a ticket older than two periods is refused; `tls.session_tickets = false`
issues no TLS 1.2 ticket yet still resumes from the session cache.

The client is `openssl s_client -sess_out/-sess_in`. The rotation test uses
no "this took < X" assertion: a check is made only when the times measured
around the client calls make its outcome certain (see test_rotation_...)."""

import re
import signal
import subprocess
import time

import pytest

from conftest import serving_dir, serving_file
from test_tls import OPENSSL, s_client, selfsigned, start_tls_moat

REQ = b"GET /echo/ticket HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def pair(moat_bin, tmp_path_factory):
    if not OPENSSL:
        pytest.fail("the openssl command is needed (Debian package openssl)")
    d = serving_dir(tmp_path_factory.mktemp("tickets"))
    cert, key = selfsigned(moat_bin, d / "c.pem", d / "k.pem", "localhost", "127.0.0.1")
    serving_file(key)  # a reload reads it as moat's serving user
    return cert, key


def connect(port, flag, sess, out=True):
    """One s_client connection with a request; writes (out) or reads the
    session file; returns 'New' or 'Reused'."""
    args = ["-servername", "localhost", flag, "-ign_eof"]
    args += ["-sess_out" if out else "-sess_in", str(sess)]
    if not out:
        args += ["-sess_out", str(sess) + ".next"]
    rc, text = s_client(port, *args, data=REQ)
    assert rc == 0, text[-800:]
    assert "HTTP/1.1 200 OK" in text, text[-800:]
    m = re.search(r"^(New|Reused), TLSv1\.([23])", text, re.M)
    assert m, text[-800:]
    assert m.group(2) == flag[-1], text[-800:]
    return m.group(1)


def ticket_of(sess):
    """The session file as `openssl sess_id -text`."""
    r = subprocess.run([OPENSSL, "sess_id", "-in", str(sess), "-noout", "-text"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("flag", ["-tls1_2", "-tls1_3"])
def test_ticket_resumes_on_every_worker_and_after_reload(moat, echo, pair, tmp_path, flag):
    m = start_tls_moat(moat, echo.url(), [pair], workers=2)
    sess = tmp_path / "s.pem"
    assert connect(m.tls_port, flag, sess) == "New"
    assert "TLS session ticket:" in ticket_of(sess)
    # two workers, one set of keys: every connection resumes, whichever
    # worker the kernel hands it to
    for _ in range(6):
        assert connect(m.tls_port, flag, sess, out=False) == "Reused"
    # a reload makes new TLS contexts; the process-wide keys stay
    mark = len(m.stderr.text)
    m.signal(signal.SIGHUP)
    assert m.stderr.wait_for(r"config reloaded", 15, start=mark, alive=m.alive), \
        m.stderr.text[mark:]
    for _ in range(3):
        assert connect(m.tls_port, flag, sess, out=False) == "Reused"


@pytest.mark.parametrize("flag", ["-tls1_2", "-tls1_3"])
def test_ticket_of_another_moat_is_refused(moat, echo, pair, tmp_path, flag):
    """Keys are random per process, not derived from anything shared."""
    a = start_tls_moat(moat, echo.url(), [pair])
    b = start_tls_moat(moat, echo.url(), [pair])
    sess = tmp_path / "s.pem"
    assert connect(a.tls_port, flag, sess) == "New"
    assert connect(a.tls_port, flag, sess, out=False) == "Reused"
    assert connect(b.tls_port, flag, sess, out=False) == "New"


@pytest.mark.parametrize("flag", ["-tls1_2", "-tls1_3"])
def test_rotation_refuses_a_ticket_two_periods_old(moat, echo, pair, tmp_path, flag):
    """tls.ticket_rotation = 2s. The key a ticket was made with was born at
    most one period before the ticket (it is replaced once a period old), and
    erased two periods after its birth. So:
    - a resumption that ENDS within one period of the START of the connection
      that got the ticket must be accepted (checked only when that held);
    - a resumption that STARTS two periods after the END of that connection
      must be refused, however slow the machine.
    A new ticket then resumes again: rotation does not break resumption."""
    period = 2.0
    m = start_tls_moat(moat, echo.url(), [pair], tls={"ticket_rotation": "2s"})
    sess = tmp_path / "s.pem"
    t0 = time.monotonic()
    assert connect(m.tls_port, flag, sess) == "New"
    t1 = time.monotonic()
    early = connect(m.tls_port, flag, sess, out=False)
    if time.monotonic() - t0 < period:
        assert early == "Reused"
    # past two periods after the ticket: its key is gone
    time.sleep(max(0.0, t1 + 2 * period + 0.5 - time.monotonic()))
    assert connect(m.tls_port, flag, sess, out=False) == "New"
    # a fresh ticket from the current key works
    fresh = tmp_path / "fresh.pem"
    t0 = time.monotonic()
    assert connect(m.tls_port, flag, fresh) == "New"
    again = connect(m.tls_port, flag, fresh, out=False)
    if time.monotonic() - t0 < period:
        assert again == "Reused"


def test_rotation_setting_is_checked(moat_bin, tmp_path):
    for bad in ('"0s"', '"500ms"', '"25h"', '"soon"'):
        cfg = tmp_path / "moat.toml"
        cfg.write_text("[tls]\nticket_rotation = %s\n" % bad)
        r = subprocess.run([moat_bin, "config", "check", str(cfg)], capture_output=True,
                           text=True, timeout=20)
        assert r.returncode != 0, (bad, r.stdout)
        assert "ticket_rotation" in r.stdout + r.stderr
    cfg.write_text("[tls]\nticket_rotation = \"24h\"\nsession_tickets = false\n")
    r = subprocess.run([moat_bin, "config", "check", "--print", str(cfg)], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r'ticket_rotation = "24h"', r.stdout), r.stdout
    assert re.search(r"session_tickets = false", r.stdout), r.stdout


def test_tickets_off(moat, echo, pair, tmp_path):
    """No TLS 1.2 ticket at all; resumption by session id from the cache
    still works (one cache, shared by the workers). TLS 1.3 resumes with a
    ticket that is only a cache id."""
    m = start_tls_moat(moat, echo.url(), [pair], workers=2, tls={"session_tickets": False})
    sess = tmp_path / "s12.pem"
    assert connect(m.tls_port, "-tls1_2", sess) == "New"
    text = ticket_of(sess)
    assert "TLS session ticket:" not in text, text
    assert re.search(r"Session-ID: [0-9A-F]{64}", text), text
    for _ in range(4):
        assert connect(m.tls_port, "-tls1_2", sess, out=False) == "Reused"
    sess13 = tmp_path / "s13.pem"
    assert connect(m.tls_port, "-tls1_3", sess13) == "New"
    assert connect(m.tls_port, "-tls1_3", sess13, out=False) == "Reused"
