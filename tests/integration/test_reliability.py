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
