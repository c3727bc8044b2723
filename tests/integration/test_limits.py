"""Limits: request target (414), header block size and count (431), body
size by Content-Length and while streaming chunked (413), slow heads and
bodies (408), the per-worker connection cap, the keep-alive idle timeout.
Defaults are checked against the issue's numbers; each limit is also set
small in a config to show it is configurable. Timeouts are set to a second or
two and only outcomes are asserted, with generous bounds on every wait."""

import select
import time

import pytest

from helpers import Conn, wait_for


@pytest.fixture(scope="module")
def defaults(module_moat, echo):
    """moat with every limit at its default; bodies over the WAF's
    inspection limit (1 MiB) pass, so body_bytes is what limits them."""
    return module_moat(echo.url(), waf={"over_limit": "pass"})


def request_bytes(target="/echo", headers=(), body=b"", method=None):
    method = method or ("POST" if body else "GET")
    head = "%s %s HTTP/1.1\r\nHost: x\r\n" % (method, target)
    head += "".join("%s: %s\r\n" % kv for kv in headers)
    if body:
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + body


def send_and_read(port, raw, method="GET"):
    with Conn(port) as c:
        c.send(raw)
        r, _ = c.read_final(method)
        return r


def assert_generic_error(r, status):
    assert r.status == status, r
    assert r.header("X-Request-Id"), "error responses carry X-Request-Id"
    assert r.header("X-Request-Id") in r.body.decode("utf-8", "replace")


def target_of_length(n):
    assert n >= 7
    return "/echo?" + "a" * (n - 6)


# ---------------------------------------------------------------- 414

def test_default_target_limit_8KiB(defaults):
    r = send_and_read(defaults.port, request_bytes(target_of_length(8192)))
    assert r.status == 200, r
    assert len(r.json()["raw_uri"]) == 8192
    assert_generic_error(send_and_read(defaults.port, request_bytes(target_of_length(8193))), 414)


def test_target_limit_configurable(moat, echo):
    m = moat(echo.url(), limits={"url_bytes": 300})
    assert send_and_read(m.port, request_bytes(target_of_length(300))).status == 200
    assert_generic_error(send_and_read(m.port, request_bytes(target_of_length(301))), 414)


def test_huge_target_rejected_without_reading_it_all(defaults):
    # 1 MiB of target: moat answers 414 long before the line ends.
    with Conn(defaults.port) as c:
        c.send_lenient(b"GET /" + b"a" * (1 << 20))
        r = c.read_response()
    assert r.status == 414


# ---------------------------------------------------------------- 431

def test_default_header_block_limit_16KiB(defaults):
    ok = [("X-Big-%d" % i, "b" * 4000) for i in range(3)]  # about 12 KiB
    assert send_and_read(defaults.port, request_bytes(headers=ok)).status == 200
    big = [("X-Big", "b" * 17000)]
    assert_generic_error(send_and_read(defaults.port, request_bytes(headers=big)), 431)
    many_medium = [("X-M-%d" % i, "m" * 1000) for i in range(20)]  # about 20 KiB
    assert_generic_error(send_and_read(defaults.port, request_bytes(headers=many_medium)), 431)


def test_header_block_limit_configurable(moat, echo):
    m = moat(echo.url(), limits={"header_bytes": 2048})
    assert send_and_read(m.port, request_bytes(headers=[("X-A", "a" * 1000)])).status == 200
    assert_generic_error(send_and_read(m.port, request_bytes(headers=[("X-A", "a" * 3000)])), 431)


def test_default_header_count_limit_100(defaults):
    # Host plus 99 = 100 fields: allowed; Host plus 100 = 101: refused.
    hundred = [("X-H-%d" % i, "v") for i in range(99)]
    r = send_and_read(defaults.port, request_bytes(headers=hundred))
    assert r.status == 200, r
    assert_generic_error(send_and_read(defaults.port, request_bytes(
        headers=hundred + [("X-One-Too-Many", "v")])), 431)


def test_header_count_limit_configurable(moat, echo):
    m = moat(echo.url(), limits={"headers": 10})
    ten = [("X-H-%d" % i, "v") for i in range(9)]
    assert send_and_read(m.port, request_bytes(headers=ten)).status == 200
    assert_generic_error(send_and_read(m.port, request_bytes(headers=ten + [("X-11", "v")])), 431)


# ---------------------------------------------------------------- 413

def test_body_over_default_limit_refused_by_content_length_before_body(defaults, echo):
    marker = "/echo?too-big-cl-%d" % time.monotonic_ns()
    with Conn(defaults.port) as c:
        c.send("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
               % (marker, 10 * 1024 * 1024 + 1))
        # Not a byte of body was sent: the answer must come anyway.
        r = c.read_response()
        assert_generic_error(r, 413)
        assert c.closed_within(10), "connection must close: the body was never read"
    assert not any(marker in line for line in echo.seen()), "a refused request reached the app"


def test_body_over_limit_with_expect_gets_413_not_100(defaults):
    with Conn(defaults.port) as c:
        c.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
               "Content-Length: %d\r\n\r\n" % (64 * 1024 * 1024))
        r = c.read_response()
    assert r.status == 413


def test_body_at_default_limit_passes(defaults):
    body = b"z" * (10 * 1024 * 1024)
    r = send_and_read(defaults.port, request_bytes(body=body))
    assert r.status == 200
    assert r.json()["body_len"] == len(body)


def test_body_limit_configurable(moat, echo):
    m = moat(echo.url(), limits={"body_bytes": "1KiB"})
    assert send_and_read(m.port, request_bytes(body=b"a" * 1024)).status == 200
    with Conn(m.port) as c:
        c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n")
        assert_generic_error(c.read_response(), 413)


def test_chunked_body_over_limit_413_while_streaming(moat, echo):
    m = moat(echo.url(), limits={"body_bytes": "64KiB"})
    chunk = b"c" * 8192
    with Conn(m.port, timeout=15) as c:
        c.send("POST /echo?chunked-too-big HTTP/1.1\r\nHost: x\r\n"
               "Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(64):  # up to 512 KiB, stopping once moat answers or closes
            if not c.send_lenient(b"2000\r\n" + chunk + b"\r\n"):
                break
            if select.select([c.sock], [], [], 0)[0]:
                break
        r = c.read_response()
        assert_generic_error(r, 413)
        assert c.closed_within(10)


def test_chunked_body_under_limit_passes(moat, echo):
    m = moat(echo.url(), limits={"body_bytes": "64KiB"})
    body = b"d" * (60 * 1024)
    raw = (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           + b"".join(b"%x\r\n" % len(body[i:i + 4096]) + body[i:i + 4096] + b"\r\n"
                      for i in range(0, len(body), 4096)) + b"0\r\n\r\n")
    r = send_and_read(m.port, raw)
    assert r.status == 200
    assert r.json()["body_len"] == len(body)


# ---------------------------------------------------------------- 408

def test_slowloris_head_gets_408(moat, echo):
    m = moat(echo.url(), limits={"header_timeout": "1s"})
    with Conn(m.port, timeout=15) as c:
        c.send("GET /echo?slowloris HTTP/1.1\r\nHost: x\r\n")
        # One header line every 200 ms, forever: the head never ends.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not c.send_lenient("X-Slow-%d: y\r\n" % int(time.monotonic() * 1000)):
                break
            if select.select([c.sock], [], [], 0.2)[0]:
                break
        r = c.read_response()
        assert_generic_error(r, 408)
        assert c.closed_within(10)
    assert not any("slowloris" in line for line in echo.seen())


def test_silent_connection_closed_after_header_timeout(moat, echo):
    m = moat(echo.url(), limits={"header_timeout": "1s"})
    with Conn(m.port, timeout=15) as c:
        assert c.closed_within(15), "an idle new connection must be closed"
        if c.buf:  # an answer is allowed, but only a 408
            assert c.buf.startswith(b"HTTP/1.1 408"), c.buf[:100]


def test_stalled_body_gets_408(moat, echo):
    m = moat(echo.url(), limits={"body_timeout": "1s"})
    with Conn(m.port, timeout=15) as c:
        c.send(b"POST /echo?stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        r = c.read_response()
        assert r.status == 408, r
        assert r.header("X-Request-Id")
        assert c.closed_within(10)


def test_stalled_chunked_body_gets_408(moat, echo):
    m = moat(echo.url(), limits={"body_timeout": "1s"})
    with Conn(m.port, timeout=15) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"a\r\n0123456789\r\n")
        r = c.read_response()
        assert r.status == 408, r
        assert c.closed_within(10)


# ------------------------------------------------------- connections, idle

def test_connection_cap_per_worker(moat, echo):
    """Over limits.connections a new connection is admitted by closing the
    oldest one that has sent nothing (issue 22: here an idle keep-alive
    one); when every held connection is in the middle of a request, the
    new one is refused."""
    m = moat(echo.url(), workers=1, limits={"connections": 4})
    held = []

    def one_more_held():
        # Retried: the readiness probe's connection may still be counted
        # for a moment after it closed.
        c = Conn(m.port)
        try:
            ok = c.request("GET", "/echo").status == 200
        except (AssertionError, OSError):
            ok = False
        if ok:
            held.append(c)
        else:
            c.close()
        return ok
    try:
        for _ in range(4):
            wait_for(one_more_held, 15, interval=0.2, what="a connection under the cap")
        # all four idle between requests: the oldest makes room
        with Conn(m.port, timeout=10) as extra:
            assert extra.request("GET", "/echo?over-cap").status == 200
        assert held[0].closed_within(10)
        assert held[0].buf == b""
        assert held[-1].request("GET", "/echo").status == 200
        # now every held connection is inside a request head: none gives way
        fourth = Conn(m.port)
        held.append(fourth)
        for b in held[1:]:
            b.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        assert not held[1].closed_within(1)  # a head in progress is not cut
        with Conn(m.port, timeout=10) as extra:
            extra.send_lenient("GET /echo?over-cap HTTP/1.1\r\nHost: x\r\n\r\n")
            closed = extra.closed_within(10)
            if not closed or extra.buf:
                assert extra.buf and not extra.buf.startswith(b"HTTP/1.1 200"), (
                    "the connection over the cap was served or left hanging: %r" % extra.buf[:80])
        # the busy ones go on
        held[1].send(b"\r\n")
        assert held[1].read_response().status == 200
    finally:
        for c in held:
            c.close()


def test_keepalive_idle_timeout_closes_connection(moat, echo):
    m = moat(echo.url(), limits={"keepalive_timeout": "2s"})
    with Conn(m.port, timeout=20) as c:
        assert c.request("GET", "/echo").status == 200
        assert c.request("GET", "/echo").status == 200  # kept alive meanwhile
        assert c.closed_within(20), "idle keep-alive connection was not closed"
        assert c.buf == b"", "nothing may be sent on an idle close: %r" % c.buf[:100]
