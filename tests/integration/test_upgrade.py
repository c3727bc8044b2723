"""Protocol upgrades: moat tunnels only WebSocket, and only on a complete
handshake both ways. The attack this holds off: `Upgrade: h2c` to an upstream
that speaks h2c (hypercorn) used to get 101 and a tunnel of HTTP/2 streams
that no stage saw (auth, paths, WAF, logs). The upstream here is the real
hypercorn, which does accept h2c when asked directly (checked first, so the
test means something)."""

import json
import os
import signal
import socket
import subprocess
import time

import h2.config
import h2.connection
import pytest

from conftest import APPS, PYTHON, START_TIMEOUT, short_tmpdir
from helpers import HOST, Conn, free_port, port_accepts, wait_for

SETTINGS = "AAMAAABkAARAAAAAAAIAAAAA"  # what curl --http2 sends


class Hypercorn:
    def __init__(self):
        self.port = free_port()
        self.dir = short_tmpdir("moat-hc-")
        self.proc = None

    def start(self):
        log = open(os.path.join(self.dir, "hypercorn.log"), "wb")
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "hypercorn", "--bind", "%s:%d" % (HOST, self.port), "asgi_echo:app"],
            cwd=str(APPS), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

        def ready():
            assert self.proc.poll() is None, "hypercorn exited"
            return port_accepts(self.port)
        wait_for(ready, START_TIMEOUT, what="hypercorn to accept")
        return self

    def url(self):
        return "http://%s:%d" % (HOST, self.port)

    def seen(self):
        with Conn(self.port) as c:
            c.send(b"GET /seen HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return json.loads(c.read_response().body)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(scope="module")
def hyper():
    h = Hypercorn().start()
    yield h
    h.stop()


def h2c_upgrade(path=b"/public"):
    return (b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n"
            b"HTTP2-Settings: " + SETTINGS.encode() + b"\r\n"
            b"Connection: Upgrade, HTTP2-Settings\r\n\r\n")


def h2_frames(path):
    """What a client sends after a 101 to h2c: the connection preface and a
    stream for path with a forged identity header."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.send_headers(3, [(":method", "GET"), (":path", path), (":scheme", "http"),
                          (":authority", "x"), ("remote-user", "admin")], end_stream=True)
    return conn.data_to_send()


def test_hypercorn_really_accepts_h2c(hyper):
    """Without moat the attack works: the upstream switches to HTTP/2."""
    with Conn(hyper.port) as c:
        c.send(h2c_upgrade())
        r = c.read_response()
        assert r.status == 101, r
        assert (r.header("Upgrade") or "").lower() == "h2c"


def events(path):
    deadline = time.time() + 10
    while True:
        try:
            out = [json.loads(x) for x in open(path).read().splitlines() if x.strip()]
        except FileNotFoundError:
            out = []
        if out or time.time() > deadline:
            return out
        time.sleep(0.1)


def test_h2c_upgrade_is_not_tunnelled(moat, hyper, tmp_path):
    seclog = tmp_path / "security.log"
    m = moat(hyper.url(), paths={"deny": ["/admin/*"]}, log={"security": str(seclog)})
    before = len(hyper.seen())
    with Conn(m.port) as c:
        c.send(h2c_upgrade())
        r = c.read_response()
        assert r.status == 200, r
        seen_by_app = r.json()
        assert seen_by_app["http_version"] == "1.1"
        names = {k.lower() for k, _ in seen_by_app["headers"]}
        assert "upgrade" not in names and "http2-settings" not in names
        # What the client then sends as HTTP/2 is read as HTTP/1.1: refused.
        c.send(h2_frames("/admin/users"))
        r2 = c.read_response()
        assert r2.status in (400, 501, 505), r2
        assert c.closed_within(5)
    seen = hyper.seen()[before:]
    assert seen == ["GET /public HTTP/1.1"], seen
    evs = [e for e in events(seclog) if e["event"] == "http.upgrade_refused"]
    assert evs and evs[0]["upgrade"] == "h2c" and evs[0]["path"] == "/public"


@pytest.mark.parametrize("upgrade,extra", [
    (b"h2c", b""),
    (b"h2", b""),
    (b"HTTP/2.0", b""),
    (b"TLS/1.2", b""),
    (b"websocket, h2c", b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"),
    (b"h2c, websocket", b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"),
    (b"websocket", b""),  # no key
    (b"websocket", b"Sec-WebSocket-Key: short==\r\nSec-WebSocket-Version: 13\r\n"),
    (b"websocket", b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"),
    (b"websocket", b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
])
def test_other_upgrades_removed(moat, hyper, upgrade, extra):
    m = moat(hyper.url())
    with Conn(m.port) as c:
        c.send(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: " + upgrade
               + b"\r\n" + extra + b"\r\n")
        r = c.read_response()
        assert r.status == 200, r
        names = {k.lower() for k, _ in r.json()["headers"]}
        assert "upgrade" not in names
        assert r.header("Upgrade") is None
        # still an HTTP/1.1 connection: a second request works
        c.send(b"GET /y HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().json()["path"] == "/y"


def test_websocket_upgrade_with_post_is_not_tunnelled(moat, hyper):
    m = moat(hyper.url())
    with Conn(m.port) as c:
        c.send(b"POST /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               b"Content-Length: 2\r\n\r\nok")
        r = c.read_response()
        assert r.status == 200 and r.json()["method"] == "POST"


def test_prior_knowledge_preface_refused(moat, hyper, tmp_path):
    seclog = tmp_path / "security.log"
    m = moat(hyper.url(), log={"security": str(seclog)})
    with Conn(m.port) as c:
        c.send(h2_frames("/admin"))
        r = c.read_response()
        assert r.status in (400, 501, 505), r
        assert c.closed_within(5)
    assert not [s for s in hyper.seen() if "/admin" in s]
    evs = events(seclog)
    assert evs and all(e["event"] != "upstream.error" for e in evs), evs
    assert any(e["event"] == "http.h2_refused" for e in evs), evs


WS_REQ = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def bad_101(response_head):
    def handler(conn, server):
        from raw_upstreams import read_head
        head, _ = read_head(conn)
        server.record(head)
        conn.sendall(response_head)
        try:
            conn.sendall(b"tunnel bytes")
            conn.recv(100)
        except OSError:
            pass
    return handler


@pytest.mark.parametrize("head", [
    # wrong accept digest
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
    # no accept at all
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    # the upstream switches to something else
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    # Connection does not say upgrade
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
], ids=["bad-accept", "no-accept", "h2c", "no-connection"])
def test_invalid_101_is_not_a_tunnel(moat, raw_upstream, head):
    up = raw_upstream(bad_101(head))
    m = moat(up.url)
    with Conn(m.port) as c:
        c.send(WS_REQ)
        r = c.read_response()
        assert r.status == 502, r
        assert b"tunnel bytes" not in r.body


def test_101_to_a_refused_upgrade_is_502(moat, raw_upstream):
    """The upstream switches protocols although moat removed the Upgrade."""
    up = raw_upstream(bad_101(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"))
    m = moat(up.url)
    with Conn(m.port) as c:
        c.send(h2c_upgrade())
        r = c.read_response()
        assert r.status == 502, r
