"""Request smuggling and malformed HTTP, over raw sockets. Each attack must
get a 400 (501/505 where that is the fitting answer), the connection must be
closed after it, and the echo app's /seen list must never contain the
smuggled second request (nor the ambiguous first one, unless its head was
valid and only its chunked body turned out bad).

Every case hides a request to /smuggled-<case>-<nonce> where a server that
disagreed with moat about the framing would find it."""

import uuid

import pytest

from helpers import Conn

NONCE = uuid.uuid4().hex[:8]
ALL_MARKERS = []


def smuggled(marker):
    return b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % marker.encode()


class Case:
    def __init__(self, name, build, statuses=(400,), head_may_reach_app=False,
                 legit_first=False):
        self.name = name
        self.build = build              # (first_target: bytes, smuggled_req: bytes) -> bytes
        self.statuses = statuses
        self.head_may_reach_app = head_may_reach_app
        self.legit_first = legit_first  # a valid request precedes the attack


def post(headers, body=b"", method=b"POST", version=b"HTTP/1.1", eol=b"\r\n"):
    """A request whose head is given line by line (bytes, no line ends)."""
    def build(first, s):
        lines = [method + b" " + first + b" " + version, b"Host: x"] + headers
        b = body(s) if callable(body) else body
        return eol.join(lines) + eol + eol + b
    return build


def chunked_req(chunked_body):
    """A valid chunked head followed by a body built from the smuggled
    request; for the attacks in the chunk framing itself."""
    def build(first, s):
        return (b"POST " + first + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + chunked_body(s))
    return build


def cl(n):
    return b"Content-Length: %d" % n


def body_zero_chunk(s):
    return b"0\r\n\r\n" + s


def body_chunk_of(s):
    return b"%x\r\n" % len(s) + s + b"\r\n0\r\n\r\n"


def with_cl_of(body_fn, extra_headers_before=(), extra_headers_after=(), cl_header=None):
    """Builds a request whose Content-Length covers body_fn(s) exactly."""
    def build(first, s):
        body = body_fn(s)
        cl_line = (cl_header or b"Content-Length: %d") % len(body)
        lines = ([b"POST " + first + b" HTTP/1.1", b"Host: x"] + list(extra_headers_before)
                 + [cl_line] + list(extra_headers_after))
        return b"\r\n".join(lines) + b"\r\n\r\n" + body
    return build


CASES = [
    # --- CL and TE together, in both orders and disguises
    Case("cl-te", with_cl_of(body_zero_chunk, extra_headers_after=[b"Transfer-Encoding: chunked"])),
    Case("te-cl", post([b"Transfer-Encoding: chunked", cl(4)], body=body_chunk_of)),
    Case("te-te-second-garbage", with_cl_of(body_zero_chunk, extra_headers_after=[
        b"Transfer-Encoding: chunked", b"Transfer-Encoding: cow"]), statuses=(400, 501)),
    Case("te-xchunked", with_cl_of(body_zero_chunk, extra_headers_after=[
        b"Transfer-Encoding: xchunked"]), statuses=(400, 501)),
    Case("te-xchunked-alone", post([b"Transfer-Encoding: xchunked"], body=body_chunk_of),
         statuses=(400, 501)),
    Case("te-space-before-colon", with_cl_of(body_zero_chunk, extra_headers_after=[
        b"Transfer-Encoding : chunked"])),
    Case("te-obs-fold", with_cl_of(body_zero_chunk, extra_headers_after=[
        b"Transfer-Encoding:", b" chunked"])),
    Case("te-hidden-in-fold", with_cl_of(body_zero_chunk, extra_headers_after=[
        b"X-Pad: x", b"\tTransfer-Encoding: chunked"])),
    Case("te-chunked-identity", with_cl_of(body_zero_chunk, extra_headers_after=[
        b"Transfer-Encoding: chunked, identity"]), statuses=(400, 501)),
    Case("te-identity-chunked", post([b"Transfer-Encoding: identity, chunked"],
                                     body=body_chunk_of), statuses=(400, 501)),
    Case("te-chunked-twice-one-line", post([b"Transfer-Encoding: chunked, chunked"],
                                           body=body_chunk_of), statuses=(400, 501)),
    Case("te-chunked-two-lines", post([b"Transfer-Encoding: chunked",
                                       b"Transfer-Encoding: chunked"],
                                      body=body_chunk_of), statuses=(400, 501)),
    Case("te-vertical-tab", with_cl_of(body_zero_chunk, extra_headers_after=[
        b"Transfer-Encoding:\x0bchunked"]), statuses=(400, 501)),
    Case("te-quoted", with_cl_of(body_zero_chunk, extra_headers_after=[
        b'Transfer-Encoding: "chunked"']), statuses=(400, 501)),
    # --- Content-Length ambiguities
    Case("cl-duplicate-same", lambda first, s: (b"POST " + first + b" HTTP/1.1\r\nHost: x\r\n"
                                                + cl(len(s)) + b"\r\n" + cl(len(s)) + b"\r\n\r\n"
                                                + s)),
    Case("cl-duplicate-differ", post([cl(0), b"Content-Length: 41"], body=lambda s: s)),
    Case("cl-list", lambda first, s: (b"POST " + first + b" HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: %d, %d\r\n\r\n" % (len(s), len(s)) + s)),
    Case("cl-plus-sign", with_cl_of(lambda s: s, cl_header=b"Content-Length: +%d")),
    Case("cl-negative", post([b"Content-Length: -1"], body=lambda s: s)),
    Case("cl-hex", post([b"Content-Length: 0x10"], body=lambda s: s)),
    Case("cl-overflow", post([b"Content-Length: 99999999999999999999999999"], body=lambda s: s),
         statuses=(400, 413)),
    Case("cl-space-inside", post([b"Content-Length: 1 0"], body=lambda s: s)),
    Case("cl-space-before-colon", with_cl_of(lambda s: s, cl_header=b"Content-Length : %d")),
    # --- line endings and forbidden bytes
    Case("bare-lf-everywhere", post([cl(0)], body=lambda s: s, eol=b"\n")),
    Case("bare-lf-hides-te", with_cl_of(body_zero_chunk, extra_headers_before=[
        b"X-A: b\nTransfer-Encoding: chunked"])),
    Case("bare-cr-hides-te", with_cl_of(body_zero_chunk, extra_headers_before=[
        b"X-A: b\rTransfer-Encoding: chunked"])),
    Case("bare-cr-request-line", lambda first, s: (b"GET " + first + b" HTTP/1.1\rHost: x\r\n\r\n"
                                                   + s)),
    Case("nul-in-header-value", post([b"X-A: b\x00c", cl(0)], body=lambda s: s)),
    Case("nul-in-header-name", post([b"X-\x00A: b", cl(0)], body=lambda s: s)),
    Case("ctl-in-header-value", post([b"X-A: b\x01c", cl(0)], body=lambda s: s)),
    Case("del-in-header-value", post([b"X-A: b\x7fc", cl(0)], body=lambda s: s)),
    Case("header-without-colon", post([b"X-A b", cl(0)], body=lambda s: s)),
    Case("header-empty-name", post([b": b", cl(0)], body=lambda s: s)),
    Case("header-space-in-name", post([b"X A: b", cl(0)], body=lambda s: s)),
    Case("header-space-before-colon", post([b"X-A : b", cl(0)], body=lambda s: s)),
    Case("header-bad-char-in-name", post([b"X-A(: b", cl(0)], body=lambda s: s)),
    Case("obs-fold-first-line", lambda first, s: (b"POST " + first + b" HTTP/1.1\r\n Host: x\r\n"
                                                  b"Content-Length: 0\r\n\r\n" + s)),
    Case("obs-fold-any-header", post([b"X-A: a", b" b", cl(0)], body=lambda s: s)),
    # --- chunk framing (the head is valid; it may reach the app, the rest not)
    Case("chunk-size-0x", chunked_req(lambda s: b"0x10\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n" + s),
         head_may_reach_app=True),
    Case("chunk-size-negative", chunked_req(lambda s: b"-1\r\nabc\r\n0\r\n\r\n" + s),
         head_may_reach_app=True),
    Case("chunk-size-overflow",
         chunked_req(lambda s: b"FFFFFFFFFFFFFFFFF1\r\nabc\r\n0\r\n\r\n" + s),
         head_may_reach_app=True),
    Case("chunk-size-overflow-to-small", chunked_req(
        lambda s: b"10000000000000005\r\nhello\r\n0\r\n\r\n" + s), head_may_reach_app=True),
    Case("chunk-size-empty", chunked_req(lambda s: b"\r\nabc\r\n0\r\n\r\n" + s),
         head_may_reach_app=True),
    Case("chunk-size-space-inside",
         chunked_req(lambda s: b"1 0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n" + s),
         head_may_reach_app=True),
    Case("chunk-data-too-long", chunked_req(lambda s: b"5\r\nhelloEXTRA\r\n0\r\n\r\n" + s),
         head_may_reach_app=True),
    Case("chunk-bare-lf", chunked_req(lambda s: b"5\nhello\n0\n\n" + s), head_may_reach_app=True),
    Case("chunk-size-bare-lf", chunked_req(lambda s: b"5\nhello\r\n0\r\n\r\n" + s),
         head_may_reach_app=True),
    # --- request line
    Case("http09", lambda first, s: b"GET " + first + b"\r\n"),
    Case("invalid-method-char", post([cl(0)], method=b"G(T", body=lambda s: s)),
    Case("lowercase-method", post([cl(0)], method=b"get", body=lambda s: s), statuses=(400, 501)),
    Case("space-in-target", lambda first, s: (b"GET " + first + b"&a b HTTP/1.1\r\nHost: x\r\n\r\n"
                                              + s)),
    Case("target-without-slash", lambda first, s: (b"GET echo HTTP/1.1\r\nHost: x\r\n"
                                                   b"X-First: " + first + b"\r\n\r\n" + s)),
    Case("ctl-in-target", lambda first, s: (b"GET " + first + b"\x01 HTTP/1.1\r\nHost: x\r\n\r\n"
                                            + s)),
    Case("two-spaces-in-request-line", lambda first, s: (b"GET  " + first
                                                         + b" HTTP/1.1\r\nHost: x\r\n\r\n" + s)),
    Case("bad-version", post([cl(0)], version=b"HTTP/1.x", body=lambda s: s)),
    Case("lowercase-version", post([cl(0)], version=b"http/1.1", body=lambda s: s)),
    Case("version-2", post([cl(0)], version=b"HTTP/2.0", body=lambda s: s), statuses=(400, 505)),
    Case("trailing-space-request-line", lambda first, s: (b"GET " + first
                                                          + b" HTTP/1.1 \r\nHost: x\r\n\r\n" + s)),
    # --- a legitimate request first, then the attack on the same connection
    Case("legit-then-cl-te", lambda first, s: (
        b"GET /echo?legit HTTP/1.1\r\nHost: x\r\n\r\n"
        + with_cl_of(body_zero_chunk,
                     extra_headers_after=[b"Transfer-Encoding: chunked"])(first, s)),
        legit_first=True),
    Case("legit-then-bare-lf", lambda first, s: (
        b"GET /echo?legit HTTP/1.1\r\nHost: x\r\n\r\n"
        + post([cl(0)], body=lambda s2: s2, eol=b"\n")(first, s)), legit_first=True),
]

assert len(CASES) >= 25


@pytest.fixture(scope="module")
def smug(module_moat, echo):
    return module_moat(echo.url())


def test_control_valid_requests_do_reach_the_app(smug, echo):
    """Without this, a broken /seen would make every attack below pass."""
    marker = "control-" + NONCE
    raw = (b"POST /echo?%s-a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n0\r\n\r\n" % marker.encode()
           + b"GET /%s-b HTTP/1.1\r\nHost: x\r\n\r\n" % marker.encode())
    with Conn(smug.port) as c:
        c.send(raw)
        assert c.read_final()[0].status == 200
        assert c.read_final()[0].status == 404
    seen = echo.seen()
    assert any(marker + "-a" in line for line in seen)
    assert any(marker + "-b" in line for line in seen)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_attack_rejected(smug, echo, case):
    first_marker = "first-%s-%s" % (case.name, NONCE)
    smuggled_marker = "smuggled-%s-%s" % (case.name, NONCE)
    ALL_MARKERS.append(smuggled_marker)
    if not case.head_may_reach_app and not case.legit_first:
        ALL_MARKERS.append(first_marker)
    raw = case.build(b"/echo?" + first_marker.encode(), smuggled(smuggled_marker))
    with Conn(smug.port, timeout=10) as c:
        c.send_lenient(raw)
        if case.legit_first:
            r = c.read_response()
            assert r.status == 200, "the valid first request: %r" % r
        r = c.read_response()
        assert r.status in case.statuses, "got %r for %s" % (r, case.name)
        assert r.header("X-Request-Id"), "no X-Request-Id on the error response"
        closed = c.closed_within(10)
        assert closed, "connection left open after a %d" % r.status
        assert b"HTTP/1." not in c.buf, "a second response followed the error: %r" % c.buf[:200]
    seen = echo.seen()
    assert not [line for line in seen if smuggled_marker in line], \
        "the smuggled request reached the app"
    if not case.head_may_reach_app and not case.legit_first:
        assert not [line for line in seen if first_marker in line], \
            "the ambiguous request itself was forwarded"


def test_no_attack_ever_reached_the_app(smug, echo):
    """Checked again at the end, in case a forwarded request arrived late."""
    seen = echo.seen()
    leaked = sorted({m for m in ALL_MARKERS for line in seen if m in line})
    assert not leaked, leaked
