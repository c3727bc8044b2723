"""Reliability under stop, crowding and long runs (issue 22): a graceful stop
that answers every request it read, a drain_timeout that bounds the whole
stop, a connection cap that admits real clients by closing silent ones, and
no 502 from a pooled upstream connection the app closed. Counts and
outcomes only: every wait is bounded, nothing asserts a duration short
enough for a busy machine to break."""

import json
import select
import signal
import socket
import threading
import time

import pytest

from conftest import Gunicorn
from helpers import HOST, Conn, wait_for
from raw_upstreams import RawUpstream, read_request


def events(m, name=None):
    out = []
    for line in m.stdout.text.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if name is None or e.get("event") == name:
            out.append(e)
    return out


# ---- item 6: a pooled connection the app closed is not reused -------------------


def answer_then_close(conn, server):
    """Answers one request with a keep-alive response and closes at once, the
    FIN in the same segment as the response's last bytes (TCP_CORK): what a
    moat that reuses the pooled connection sees only after it sent the next
    request on it. gunicorn does the same when its keep-alive (2 s) ends."""
    req = read_request(conn)
    if not req:
        return
    server.record(req)
    body = b"ok " + req.split(b" ", 1)[0]
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))
    conn.shutdown(socket.SHUT_WR)
    conn.close()


def test_post_never_sent_on_a_pooled_connection_the_app_closed(moat):
    """A GET and a POST pipelined: the GET's upstream connection goes back to
    the pool with the app's FIN already queued behind its response, and the
    POST is handled in the same turn of moat's loop. A moat that reuses it
    sends the POST into a closed connection and, as it must never send a
    POST twice, answers 502. Bounded: 40 rounds."""
    up = RawUpstream(answer_then_close).start()
    try:
        m = moat(up.url, workers=1)
        statuses = []
        for i in range(40):
            body = b"field=value-%d" % i
            with Conn(m.port, timeout=30) as c:
                c.send(b"GET /a-%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                       b"POST /b-%d HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"Content-Type: application/x-www-form-urlencoded\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (i, i, len(body), body))
                first = c.read_response()
                second = c.read_response("POST")
                statuses.append((first.status, second.status, second.body))
        assert all(s == (200, 200, b"ok POST") for s in statuses), statuses
        # every POST reached the app exactly once
        with up.lock:
            posts = [r for r in up.received if r.startswith(b"POST ")]
        assert len(posts) == 40
        assert not events(m, "upstream.error")
    finally:
        up.stop()


# ---- item 1: SIGTERM answers every request it read ------------------------------


class KeepAliveClient(threading.Thread):
    """One keep-alive connection sending requests back to back (GETs and
    POSTs with a body) until moat answers Connection: close, closes the
    connection while it is idle (seen before a request is sent), or
    `bound` requests are done. A request sent whole that gets no answer is
    counted in `lost`."""

    def __init__(self, port, index, bound=300):
        super().__init__(daemon=True)
        self.port, self.index, self.bound = port, index, bound
        self.answered = self.lost = 0
        self.saw_close = self.idle_closed = False
        self.error = None

    def idle_close_seen(self, sock):
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def run(self):
        try:
            c = Conn(self.port, timeout=30)
        except OSError as exc:
            self.error = "connect: %r" % exc
            return
        with c:
            for i in range(self.bound):
                if self.idle_close_seen(c.sock):
                    self.idle_closed = True
                    return
                if i % 3:
                    body = b"n=%d&client=%d&pad=%s" % (i, self.index, b"p" * (i % 50))
                    raw = (b"POST /echo/c%d-%d HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"Content-Type: application/x-www-form-urlencoded\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (self.index, i, len(body), body))
                    method = "POST"
                else:
                    raw = b"GET /echo/c%d-%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (self.index, i)
                    method = "GET"
                try:
                    c.send(raw)
                except OSError:
                    # refused before all of it was sent: the close came first
                    self.idle_closed = True
                    return
                try:
                    r = c.read_response(method)
                except (AssertionError, OSError):
                    self.lost += 1
                    return
                if r.status != 200:
                    self.error = "status %d" % r.status
                    return
                self.answered += 1
                if (r.header("Connection") or "").lower() == "close":
                    self.saw_close = True
                    return


def test_sigterm_answers_every_request_read(moat, echo):
    m = moat(echo.url(), workers=2, limits={"drain_timeout": "20s"})
    clients = [KeepAliveClient(m.port, i) for i in range(24)]
    for c in clients:
        c.start()
    # mid-run: every client has had answers, none is done
    wait_for(lambda: all(c.answered >= 3 for c in clients), 60,
             what="every client to be served a few requests")
    m.signal(signal.SIGTERM)
    for c in clients:
        c.join(60)
    assert not any(c.is_alive() for c in clients)
    assert [c.error for c in clients if c.error] == []
    assert sum(c.lost for c in clients) == 0, [(c.index, c.answered) for c in clients if c.lost]
    # in the middle of a run every client sent its next request within the
    # grace: each was told Connection: close (or finished its bound first)
    told = sum(1 for c in clients if c.saw_close or c.answered == c.bound)
    assert told == len(clients), [(c.index, c.answered, c.idle_closed) for c in clients]
    m.proc.wait(30)
    assert m.proc.returncode == 0


def test_sigterm_closes_idle_keepalive_connections(moat, echo):
    """A client idle between requests is closed (it sees the close before it
    sends anything more), and the stop does not wait for its keep-alive."""
    m = moat(echo.url(), workers=1, limits={"drain_timeout": "20s", "keepalive_timeout": "60s"})
    idle = Conn(m.port, timeout=30)
    r = idle.request("GET", "/echo/idle")
    assert r.status == 200
    # idle longer than the drain's grace when the stop begins
    time.sleep(1.5)
    m.signal(signal.SIGTERM)
    assert idle.closed_within(30)
    assert idle.buf == b""
    m.proc.wait(30)
    assert m.proc.returncode == 0
    idle.close()


# ---- item 2: drain_timeout bounds the whole stop ----------------------------------


def test_drain_timeout_bounds_abandoned_waf_inspections(moat, echo):
    """Big POSTs whose clients leave as soon as they are sent keep the
    thread pool busy with WAF inspections; the stop still ends within
    drain_timeout and a margin, cleanly."""
    m = moat(echo.url(), workers=1,
             limits={"drain_timeout": "2s", "body_bytes": "64MiB"},
             waf={"inspect_bytes": "32MiB"})
    args = b"&".join(b"a%d=%s" % (i, b"select+1+from+t+" * 4) for i in range(60000))
    sent = 0
    for i in range(12):
        with Conn(m.port, timeout=60) as c:
            c.send(b"POST /echo/big-%d HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Type: application/x-www-form-urlencoded\r\n"
                   b"Content-Length: %d\r\n\r\n" % (i, len(args)) + args)
            sent += 1
        # the client leaves without reading the answer
    assert sent == 12
    m.signal(signal.SIGTERM)
    start = time.monotonic()
    try:
        m.proc.wait(30)
    except Exception:
        pytest.fail("moat did not exit within 30 s of SIGTERM:\n" + m.stderr.text[-3000:])
    took = time.monotonic() - start
    m.stderr.join()
    print("stopped %.1f s after SIGTERM" % took)
    assert m.proc.returncode == 0, m.stderr.text[-3000:]
    assert not any(mark in m.stderr.text for mark in ("Sanitizer", "runtime error:"))
    # drain_timeout (2 s) and the half second the workers get after it: 12 s
    # leaves a busy machine room, and a moat that waits for the abandoned
    # inspections takes longer (16 s here before the fix)
    assert took < 12, took


# ---- item 3: the connection cap admits real clients --------------------------------


def test_connection_cap_closes_silent_connections_for_real_clients(moat, echo):
    # crowded_header_timeout as long as the test: only the cap closes
    # connections here (with the 2 s default, the newest silent one could
    # time out before the check below on a busy machine)
    m = moat(echo.url(), workers=1,
             limits={"connections": 200, "crowded_header_timeout": "60s",
                     "header_timeout": "60s"})
    silent = []
    try:
        for _ in range(600):
            s = socket.create_connection((HOST, m.port), timeout=30)
            silent.append(s)
        results = []
        for i in range(30):
            with Conn(m.port, timeout=30) as c:
                results.append(c.request("GET", "/echo/real-%d" % i).status)
        assert results == [200] * 30

        def closed(s):
            r, _, _ = select.select([s], [], [], 0)
            if not r:
                return False
            try:
                return s.recv(1) == b""
            except OSError:
                return True

        gone = set()

        def enough():
            gone.update(i for i, s in enumerate(silent) if i not in gone and closed(s))
            return len(gone) >= 400
        wait_for(enough, 30, what="moat to close the oldest silent connections")
        # the oldest went first: the newest silent ones are still open
        assert not closed(silent[-1])
        assert min(gone) == 0 and sorted(gone)[:100] == list(range(100))
        evs = wait_for(lambda: events(m, "connections.crowded"), 15, what="the event")
        assert len(evs) == 1, evs
        assert evs[0]["config_key"] == "limits.connections" and evs[0]["limit"] == "200"
    finally:
        for s in silent:
            s.close()


# ---- item 3: limits.crowded_header_timeout ---------------------------------------


def is_closed(s):
    """True once moat closed s (FIN or reset); never blocks."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(1) == b""
    except OSError:
        return True


def crowd(m, n):
    """n silent connections to m, each accepted by moat (a byte-less request
    would not tell): returned open."""
    out = []
    for _ in range(n):
        out.append(socket.create_connection((HOST, m.port), timeout=30))
    return out


def test_crowded_gateway_closes_silent_connections_after_crowded_header_timeout(moat, echo):
    """limits.connections = 20 on one worker: from the 15th connection on (three
    quarters), a new connection has limits.crowded_header_timeout (1 s here) for
    its first byte, not limits.header_timeout (60 s). A silent one is closed
    while the 13 first, silent too, stay open; one that sent its first
    bytes keeps the whole header_timeout and is answered when it completes its
    head, long after the crowded timeout passed."""
    m = moat(echo.url(), workers=1,
             limits={"connections": 20, "header_timeout": "60s",
                     "crowded_header_timeout": "1s"})
    # 13 below three quarters even with a connection of the fixture's own
    # readiness check still open; the 14th and 15th: either side of it
    early = crowd(m, 13)
    boundary = crowd(m, 2)
    try:
        sending = Conn(m.port, timeout=30)  # the 16th: crowded, but it sends
        sending.send(b"GET /echo/crowded HTTP/1.1\r\n")
        silent = socket.create_connection((HOST, m.port), timeout=30)  # the 17th
        try:
            # accepted after `sending`: when it is closed, `sending`'s own
            # crowded deadline has passed too
            wait_for(lambda: is_closed(silent), 30, what="the silent connection to be closed")
            assert [i for i, s in enumerate(early) if is_closed(s)] == []
            sending.send(b"Host: 127.0.0.1\r\n\r\n")
            r = sending.read_response()
            assert r.status == 200 and b"/echo/crowded" in r.body
        finally:
            silent.close()
            sending.close()
        # closed quietly: a connection that sent nothing gets no 408 and no event
        assert not events(m, "http.rejected")
    finally:
        for s in early + boundary:
            s.close()


def test_crowded_header_timeout_is_the_setting(moat, echo):
    """The same crowding with limits.crowded_header_timeout = 30s: the silent
    connection outlives the former fixed 2 s (only a lower bound is checked:
    a slow machine can only keep it open longer)."""
    m = moat(echo.url(), workers=1,
             limits={"connections": 20, "header_timeout": "60s",
                     "crowded_header_timeout": "30s"})
    early = crowd(m, 16)
    try:
        silent = early[-1]  # the 16th: crowded
        time.sleep(4)
        assert not is_closed(silent)
        with Conn(m.port, timeout=30) as c:  # still serving
            assert c.request("GET", "/echo/ok").status == 200
    finally:
        for s in early:
            s.close()


@pytest.mark.parametrize("value", ['"10ms"', '"2h"', '"soon"'])
def test_crowded_header_timeout_is_validated(run, tmp_path, value):
    cfg = tmp_path / "moat.toml"
    cfg.write_text('listen = ["127.0.0.1:18080"]\nupstream = ["http://127.0.0.1:9"]\n\n'
                   "[limits]\ncrowded_header_timeout = %s\n" % value)
    r = run("config", "check", str(cfg))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "limits.crowded_header_timeout" in r.stderr
