"""HTTP/2 on the TLS listener (src/gateway/h2.c, src/http/h2translate.c):
ALPN, real clients (curl --http2, nghttp) against the Flask echo app and
the Django project behind moat, every stage applied to a stream as to an
HTTP/1.1 request (WAF, auth, paths, security headers, error pages), the
h2-to-h1 translation refusing what HTTP/1.1 cannot carry, and the HTTP/2
attacks with raw frames: rapid reset, CONTINUATION flood, HPACK bomb,
SETTINGS/PING/empty-frame floods, the stream limit and a stream whose
client never opens its window."""

import hashlib
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import time

import hpack
import pytest

from conftest import Gunicorn
from helpers import HOST, IO_TIMEOUT, free_port, port_accepts, wait_for

CURL = "curl"
NGHTTP = "nghttp"

# frame types and codes (RFC 9113)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
NO_ERROR, PROTOCOL_ERROR, CANCEL_CODE, REFUSED_STREAM, ENHANCE_YOUR_CALM = 0, 1, 8, 7, 11


@pytest.fixture(scope="module")
def cert(moat_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("h2certs")
    c, k = d / "c.pem", d / "k.pem"
    r = subprocess.run([moat_bin, "cert", "selfsigned", "--cert", str(c), "--key", str(k),
                        "localhost", "127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return c, k


def tls_moat(factory, upstream, cert, tls=None, **overrides):
    port = free_port()
    t = {"listen": ["%s:%d" % (HOST, port)], "cert": [str(cert[0])], "key": [str(cert[1])]}
    t.update(tls or {})
    m = factory(upstream, tls=t, **overrides)
    m.tls_port = port
    wait_for(lambda: port_accepts(port), 15, what="moat's TLS listener")
    return m


PW = "correct horse battery staple"
FAST = {"argon2_memory": "1MiB", "argon2_time": 1, "address_failures": 100000}


@pytest.fixture(scope="module")
def store(moat_bin, tmp_path_factory):
    from conftest import serving_dir
    from helpers import toml_dumps
    d = serving_dir(tmp_path_factory.mktemp("h2store"))
    cfg = d / "users.toml"
    cfg.write_text(toml_dumps({"store": {"url": "sqlite:%s" % (d / "moat.db")}, "auth": FAST}))
    r = subprocess.run([moat_bin, "user", "add", "alice", "--create", "--config", str(cfg)],
                       input=PW + "\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {"url": "sqlite:%s" % (d / "moat.db")}


@pytest.fixture(scope="module")
def gw(module_moat, echo, cert, store):
    """Flask behind moat: the WAF blocking, one guarded path, defaults."""
    return tls_moat(module_moat, echo.url(), cert, store=store, waf={"mode": "block"},
                    auth=dict(FAST, rules=[{"path": "/echo/private",
                                            "policy": "authenticated"}]))


@pytest.fixture(scope="module")
def tight(module_moat, echo, cert):
    """Low HTTP/2 limits, for the attack tests."""
    return tls_moat(module_moat, echo.url(), cert,
                    limits={"http2_streams": 4, "http2_resets": 20,
                            "http2_control_frames": 50, "header_bytes": 8192,
                            "send_timeout": "1s", "drain_timeout": "5s",
                            "header_timeout": "1s", "body_timeout": "1s"})


@pytest.fixture(scope="module")
def django_gw(module_moat, cert):
    g = Gunicorn(module="django_app.wsgi", unix=False, name="django").start()
    m = tls_moat(module_moat, g.url(), cert, waf={"mode": "off"})
    yield m
    g.stop()


def curl(m, path, *args, http="--http2"):
    """curl over h2: (status, headers {lower: [values]}, body bytes, version)."""
    r = subprocess.run([CURL, "-s", http, "--cacert", str(m.cert), "-D", "-", "-o", "-",
                        "--max-time", "20", *args,
                        "https://localhost:%d%s" % (m.tls_port, path)],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    version, status = lines[0].split(" ")[0], int(lines[0].split(" ")[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    return status, hdrs, body, version


@pytest.fixture(autouse=True)
def _cert_on_moats(request, cert):
    for name in ("gw", "tight", "django_gw"):
        if name in request.fixturenames:
            request.getfixturevalue(name).cert = cert[0]


# ----------------------------------------------------------- a raw client

class H2:
    """HTTP/2 over TLS with hand-made frames: what a well-behaved library
    would refuse to send is sent as asked."""

    def __init__(self, port, settings=((0x4, 1 << 20),), window=1 << 24):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 24
        self.buf = b""
        self.streams = {}
        self.goaway = None
        self.closed = False
        self.server_settings = {}
        self.auto_window = True
        payload = b"".join(struct.pack(">HI", k, v) for k, v in settings)
        self.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + self.frame(SETTINGS, 0, 0, payload))
        if window > 65535:
            self.send(self.frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", window - 65535)))

    @staticmethod
    def frame(ftype, flags, sid, payload=b""):
        return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
            struct.pack(">I", sid) + payload

    def block(self, headers):
        return self.enc.encode([(k.encode() if isinstance(k, str) else k,
                                 v.encode() if isinstance(v, str) else v) for k, v in headers],
                               huffman=False)

    def headers(self, sid, headers, end=True):
        return self.frame(HEADERS, END_HEADERS | (END_STREAM if end else 0), sid,
                          self.block(headers))

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def request(self, sid, path, method="GET", extra=(), end=True, authority=None):
        hs = [(":method", method), (":scheme", "https"), (":path", path),
              (":authority", authority or "localhost")] + list(extra)
        self.send(self.headers(sid, hs, end))

    def _read(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def _frames(self):
        while len(self.buf) >= 9:
            n = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + n:
                return
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload = self.buf[9:9 + n]
            self.buf = self.buf[9 + n:]
            self._on(ftype, flags, sid, payload)

    def _on(self, ftype, flags, sid, payload):
        st = self.streams.setdefault(sid, {"status": None, "headers": {}, "body": b"",
                                           "end": False, "rst": None}) if sid else None
        if ftype == SETTINGS and not flags & ACK:
            for i in range(0, len(payload), 6):
                k, v = struct.unpack(">HI", payload[i:i + 6])
                self.server_settings[k] = v
            self.send(self.frame(SETTINGS, ACK, 0))
        elif ftype == HEADERS:
            for field in self.dec.decode(payload):
                k, v = field
                k = k.decode() if isinstance(k, bytes) else k
                v = v.decode() if isinstance(v, bytes) else v
                if not getattr(field, "indexable", True):  # sent "never indexed"
                    st.setdefault("never_indexed", set()).add(k)
                if k == ":status":
                    st["status"] = int(v)
                else:
                    st["headers"].setdefault(k, []).append(v)
            st["end"] = st["end"] or bool(flags & END_STREAM)
        elif ftype == DATA:
            st["body"] += payload
            st["end"] = st["end"] or bool(flags & END_STREAM)
            if payload and self.auto_window:
                self.send(self.frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", len(payload))))
        elif ftype == RST_STREAM:
            st["rst"] = struct.unpack(">I", payload)[0]
        elif ftype == GOAWAY:
            self.goaway = struct.unpack(">I", payload[4:8])[0]
        elif ftype == PING and not flags & ACK:
            self.send(self.frame(PING, ACK, 0, payload))

    def wait(self, pred, timeout=IO_TIMEOUT):
        deadline = time.monotonic() + timeout
        while not pred(self):
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                break
            self._read(min(left, 0.5))
            self._frames()
        self._frames()
        return pred(self)

    def done(self, sid):
        return self.wait(lambda s: sid in s.streams and (s.streams[sid]["end"] or
                                                         s.streams[sid]["rst"] is not None))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def seen_paths(echo):
    return " ".join(echo.seen())


# ------------------------------------------------------------------ ALPN

def alpn_of(port, offer):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(offer)
    with ctx.wrap_socket(socket.create_connection((HOST, port), timeout=IO_TIMEOUT),
                         server_hostname="localhost") as s:
        return s.selected_alpn_protocol()


def test_alpn_prefers_h2_and_can_be_turned_off(gw, moat, echo, cert):
    assert alpn_of(gw.tls_port, ["http/1.1", "h2"]) == "h2"
    assert alpn_of(gw.tls_port, ["http/1.1"]) == "http/1.1"
    off = tls_moat(moat, echo.url(), cert, tls={"http2": False})
    assert alpn_of(off.tls_port, ["h2", "http/1.1"]) == "http/1.1"
    assert alpn_of(off.tls_port, ["h2"]) is None


# ----------------------------------------------------------- real clients

def test_curl_get_status_headers_body(gw, echo):
    status, h, body, version = curl(gw, "/echo/h2-get?x=1")
    assert version == "HTTP/2" and status == 200
    j = json.loads(body)
    assert j["path"] == "/echo/h2-get" and j["protocol"] == "HTTP/1.1"
    sent = {k.lower(): v for k, v in j["headers"]}
    assert sent["host"] == "localhost:%d" % gw.tls_port
    assert sent["x-forwarded-proto"] == "https" and sent["x-forwarded-for"] == "127.0.0.1"
    # response hardening applies to every stream
    for name in ("strict-transport-security", "x-content-type-options", "x-frame-options",
                 "content-security-policy", "x-request-id"):
        assert name in h, name
    for name in ("connection", "keep-alive", "transfer-encoding"):
        assert name not in h
    lines = open(gw.access_log).read().splitlines()
    assert any('"/echo/h2-get' in line for line in lines)


def test_curl_post_bodies(gw):
    data = os.urandom(300_000)
    r = subprocess.run([CURL, "-s", "--http2", "--cacert", str(gw.cert), "-H",
                        "Content-Type: application/octet-stream", "--data-binary", "@-",
                        "https://localhost:%d/echo/h2-post" % gw.tls_port],
                       input=data, capture_output=True, timeout=30)
    j = json.loads(r.stdout)
    assert j["body_len"] == len(data) and j["body_sha256"] == hashlib.sha256(data).hexdigest()
    status, _, body, _ = curl(gw, "/echo/h2-form", "-d", "a=1&b=two")
    assert status == 200 and json.loads(body)["body_len"] == 9


def test_head_has_no_body(gw):
    with H2(gw.tls_port) as c:
        c.request(1, "/echo/h2-head", "HEAD")
        assert c.done(1)
        st = c.streams[1]
        assert st["status"] == 200 and st["body"] == b"" and st["end"]
        assert int(st["headers"]["content-length"][0]) > 0


def test_nghttp_many_streams_one_connection(gw):
    r = subprocess.run([NGHTTP, "-nv", "-m", "20", "https://localhost:%d/echo/h2-many" %
                        gw.tls_port], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(":status: 200") == 20, r.stdout[-2000:]


def test_streams_one_after_another_share_nothing(gw, echo):
    """moat reuses a closed stream's memory for the next one on the
    connection: each stream must still get exactly its own request and its
    own response (a body, a refused header list, fields, ids)."""
    echo.clear_seen()
    with H2(gw.tls_port) as c:
        c.request(1, "/echo/h2-reuse-a", "POST",
                  [("content-length", "5"), ("x-only-a", "1")], end=False)
        c.send(c.frame(DATA, END_STREAM, 1, b"hello"))
        assert c.done(1) and c.streams[1]["status"] == 200
        a = json.loads(c.streams[1]["body"])
        assert a["path"] == "/echo/h2-reuse-a" and a["body_len"] == 5
        # refused (connection-specific field): nothing of it may reach the next
        c.request(3, "/echo/h2-reuse-refused", extra=[("connection", "close")])
        assert c.done(3)
        assert c.streams[3]["rst"] is not None or c.streams[3]["status"] == 400
        ids = {c.streams[1]["headers"]["x-request-id"][0]}
        for i in range(12):
            sid = 5 + 2 * i
            c.request(sid, "/echo/h2-reuse-%d" % i)
            assert c.done(sid)
            st = c.streams[sid]
            assert st["status"] == 200, st
            j = json.loads(st["body"])  # exactly one response body, its own
            assert j["path"] == "/echo/h2-reuse-%d" % i and j["body_len"] == 0
            sent = {k.lower() for k, _ in j["headers"]}
            assert "x-only-a" not in sent and "connection" not in sent
            assert "content-security-policy" in st["headers"]
            ids.add(st["headers"]["x-request-id"][0])
            # a value new in every response stays out of the HPACK table
            assert "x-request-id" in st.get("never_indexed", set())
        assert len(ids) == 13
    assert "h2-reuse-refused" not in seen_paths(echo)


def test_waf_blocks_attacks_over_h2(gw, echo):
    echo.clear_seen()
    status, _, _, version = curl(gw, "/echo/h2-sqli?q=1%27%20OR%201=1--")
    assert status == 403 and version == "HTTP/2"
    status, _, _, _ = curl(gw, "/echo/h2-xss", "-d", "a=<script>alert(1)</script>")
    assert status == 403
    assert "h2-sqli" not in seen_paths(echo) and "h2-xss" not in seen_paths(echo)
    assert gw.stdout.wait_for(r'"event":"waf.blocked"[^\n]*"path":"/echo/h2-xss"', 10)


def test_paths_and_error_pages_over_h2(gw, django_gw):
    status, _, _, _ = curl(gw, "/.env")
    assert status == 404
    status, h, body, version = curl(django_gw, "/boom")
    assert status == 500 and version == "HTTP/2"
    assert b"hunter2" not in body and b"Traceback" not in body
    assert h["x-request-id"][0].encode() in body
    status, _, body, _ = curl(django_gw, "/echo", "-d", "name=value")
    assert status == 200
    # nghttp: Django's own page and its security headers, moat's added
    r = subprocess.run([NGHTTP, "-v", "https://localhost:%d/page" % django_gw.tls_port],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert ":status: 200" in r.stdout and "strict-transport-security:" in r.stdout
    assert "x-request-id:" in r.stdout


def test_auth_redirect_and_login_over_h2(gw, tmp_path):
    status, h, _, _ = curl(gw, "/echo/private")
    assert status in (302, 303) and h["location"][0].startswith("/.moat/login")
    jar = str(tmp_path / "jar")
    status, _, body, version = curl(gw, "/.moat/api/login", "-c", jar, "-H",
                                    "Content-Type: application/json", "--data",
                                    json.dumps({"username": "alice", "password": PW}))
    assert status == 200 and version == "HTTP/2", body
    status, _, body, _ = curl(gw, "/echo/private", "-b", jar)
    assert status == 200 and json.loads(body)["path"] == "/echo/private"


# ------------------------------------------------------ the translation

def test_unknown_length_body_and_cookie_crumbs(gw):
    with H2(gw.tls_port) as c:
        c.request(1, "/echo/h2-chunked", "POST",
                  [("cookie", "a=1"), ("cookie", "b=2"), ("te", "trailers"),
                   ("content-type", "text/plain")], end=False)
        c.send(c.frame(DATA, 0, 1, b"hello ") + c.frame(DATA, END_STREAM, 1, b"world"))
        assert c.done(1)
        st = c.streams[1]
        assert st["status"] == 200, st
        j = json.loads(st["body"])
        sent = {}
        for k, v in j["headers"]:
            sent.setdefault(k.lower(), []).append(v)
        assert j["body_len"] == 11
        assert sent["transfer-encoding"] == ["chunked"]
        assert sent["cookie"] == ["a=1; b=2"]
        assert "te" not in sent


BASE = [(":method", "GET"), (":scheme", "https"), (":path", "/echo/h2-refused"),
        (":authority", "localhost")]

REFUSED = {
    "connection": BASE + [("connection", "keep-alive")],
    "keep-alive": BASE + [("keep-alive", "300")],
    "proxy-connection": BASE + [("proxy-connection", "close")],
    "transfer-encoding": BASE + [("transfer-encoding", "chunked")],
    "upgrade": BASE + [("upgrade", "websocket")],
    "te-gzip": BASE + [("te", "gzip")],
    "upper-case-name": BASE + [("X-Smuggle", "1")],
    "space-in-name": BASE + [("x smuggle", "1")],
    "colon-in-name": BASE + [("x:smuggle", "1")],
    "crlf-in-value": BASE + [("x-a", "1\r\nx-injected: 1")],
    "lf-in-value": BASE + [("x-a", "1\nx-injected: 1")],
    "nul-in-value": BASE + [("x-a", "1\x00b")],
    "leading-space": BASE + [("x-a", " 1")],
    "trailing-tab": BASE + [("x-a", "1\t")],
    "missing-path": [h for h in BASE if h[0] != ":path"],
    "missing-method": [h for h in BASE if h[0] != ":method"],
    "duplicate-method": BASE[:1] + BASE,
    "duplicate-path": BASE + [(":path", "/echo/h2-refused")],
    "pseudo-after-field": BASE[:3] + [("x-a", "1"), (":authority", "localhost")],
    "unknown-pseudo": BASE + [(":protocol", "websocket")],
    "status-in-request": BASE + [(":status", "200")],
    "connect": [(":method", "CONNECT"), (":authority", "localhost:443")],
    "host-disagrees": BASE + [("host", "evil.example")],
    "two-hosts": BASE + [("host", "localhost"), ("host", "localhost")],
    "space-in-path": [(":method", "GET"), (":scheme", "https"),
                      (":path", "/echo/h2-refused HTTP/1.1\r\nx: y"),
                      (":authority", "localhost")],
    "crlf-in-method": [(":method", "GET /echo/x HTTP/1.1\r\nHost: a\r\n\r\nGET"),
                       (":scheme", "https"), (":path", "/echo/h2-refused"),
                       (":authority", "localhost")],
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_translation_refuses(gw, echo, case):
    echo.clear_seen()
    start = len(gw.stdout.text)
    with H2(gw.tls_port) as c:
        c.send(c.headers(1, REFUSED[case]))
        assert c.done(1) or c.goaway is not None, case
        st = c.streams.get(1, {})
        refused = st.get("rst") is not None or st.get("status") in (400, 405) or \
            c.goaway is not None
        assert refused, (case, st)
        # the connection goes on: a clean request on it is served
        if c.goaway is None and not c.closed:
            c.request(3, "/echo/h2-after")
            assert c.done(3) and c.streams[3]["status"] == 200
    assert "h2-refused" not in seen_paths(echo), case
    # every refusal is in the security log, as an HTTP/1.1 one would be
    assert gw.stdout.wait_for(r'"event":"http.rejected"', 10, start=start), case


@pytest.mark.parametrize("declared,sent", [(5, b"abc"), (2, b"abc")])
def test_content_length_must_match_data(gw, echo, declared, sent):
    echo.clear_seen()
    with H2(gw.tls_port) as c:
        c.request(1, "/echo/h2-cl", "POST", [("content-length", str(declared))], end=False)
        c.send(c.frame(DATA, END_STREAM, 1, sent))
        assert c.done(1)
        st = c.streams[1]
        assert st["rst"] is not None or st["status"] == 400, st
    # refused before the app: nothing it could read as a second request
    assert "h2-cl" not in seen_paths(echo)


# -------------------------------------------------------------- attacks

def test_rapid_reset_gets_goaway(tight):
    with H2(tight.tls_port) as c:
        frames = b""
        for i in range(200):
            sid = 1 + 2 * i
            frames += c.headers(sid, [(":method", "GET"), (":scheme", "https"),
                                      (":path", "/echo/h2-rr"), (":authority", "localhost")])
            frames += c.frame(RST_STREAM, 0, sid, struct.pack(">I", CANCEL_CODE))
        c.send(frames)
        c.wait(lambda s: s.goaway is not None and s.closed, 15)
        assert c.goaway == ENHANCE_YOUR_CALM
    assert tight.stdout.wait_for(r'"config_key":"limits.http2_resets"', 10)


def test_continuation_flood_closes(tight):
    with H2(tight.tls_port) as c:
        block = c.block(BASE)
        c.send(c.frame(HEADERS, 0, 1, block))
        junk = c.frame(CONTINUATION, 0, 1, b"\x40\x01a\x01b" * 100)
        for _ in range(200):
            c.send(junk)
            if c.closed:
                break
        c.wait(lambda s: s.closed, 15)
        assert c.closed and c.goaway in (ENHANCE_YOUR_CALM, PROTOCOL_ERROR, None)
    assert tight.stdout.wait_for(r'CONTINUATION flood', 10)


def test_hpack_bomb_refused_connection_lives(tight, echo):
    echo.clear_seen()
    with H2(tight.tls_port) as c:
        # one 4000-byte field into the decoder's table...
        c.request(1, "/echo/h2-bomb-seed", extra=[("x-big", "b" * 4000)])
        assert c.done(1) and c.streams[1]["status"] == 200
        # ...then a small block naming it 2000 times: 8 MB decoded
        idx = None
        for i, (k, v) in enumerate(c.enc.header_table.dynamic_entries):
            if k == b"x-big":
                idx = 62 + i
        assert idx is not None
        ref = bytes([0x80 | idx]) if idx < 127 else None
        assert ref is not None
        block = c.block([(":method", "GET"), (":scheme", "https"), (":path", "/echo/h2-bomb"),
                         (":authority", "localhost")]) + ref * 2000
        c.send(c.frame(HEADERS, END_HEADERS | END_STREAM, 3, block))
        assert c.done(3)
        st = c.streams[3]
        assert st["status"] == 431 or st["rst"] is not None, st
        c.request(5, "/echo/h2-bomb-after")
        assert c.done(5) and c.streams[5]["status"] == 200
    assert "h2-bomb " not in seen_paths(echo) and "/echo/h2-bomb HTTP" not in seen_paths(echo)


def test_too_many_fields_431(tight):
    with H2(tight.tls_port) as c:
        c.request(1, "/echo/h2-fields", extra=[("x-f%d" % i, "v") for i in range(150)])
        assert c.done(1)
        assert c.streams[1]["status"] == 431 or c.streams[1]["rst"] is not None


@pytest.mark.parametrize("kind", ["settings", "ping", "empty-data", "priority"])
def test_control_frame_floods_get_goaway(tight, kind):
    with H2(tight.tls_port) as c:
        if kind == "empty-data":
            c.request(1, "/echo/h2-flood", "POST", end=False)
        one = {"settings": c.frame(SETTINGS, 0, 0),
               "ping": c.frame(PING, 0, 0, b"12345678"),
               "empty-data": c.frame(DATA, 0, 1),
               "priority": c.frame(PRIORITY, 0, 3, struct.pack(">IB", 0, 15))}[kind]
        c.send(one * 500)
        c.wait(lambda s: s.closed, 15)
        assert c.closed
        assert c.goaway == ENHANCE_YOUR_CALM, c.goaway
    assert tight.stdout.wait_for(r'"config_key":"limits.http2_control_frames"', 10)


def test_stream_limit(tight):
    with H2(tight.tls_port) as c:
        assert c.wait(lambda s: 0x3 in s.server_settings)
        assert c.server_settings[0x3] == 4   # SETTINGS_MAX_CONCURRENT_STREAMS
        assert c.server_settings[0x6] == 8192  # SETTINGS_MAX_HEADER_LIST_SIZE
        for i in range(6):  # bodies never end: the streams stay open
            c.request(1 + 2 * i, "/echo/h2-limit", "POST", [("content-length", "10")],
                      end=False)
        c.wait(lambda s: s.goaway is not None or
               any(st["rst"] is not None for st in s.streams.values()), 10)
        # nghttp2 answers a stream past the acknowledged limit with a
        # connection error (RFC 9113 5.1.2 allows it or REFUSED_STREAM)
        refused = [sid for sid, st in c.streams.items() if st["rst"] == REFUSED_STREAM]
        assert c.goaway == PROTOCOL_ERROR or (refused and min(refused) >= 9), c.streams


def test_stream_never_read_is_reset_others_go_on(tight):
    # the client's windows start at 0: nothing flows until it says so
    with H2(tight.tls_port, settings=((0x4, 0),), window=1 << 24) as c:
        c.auto_window = False
        c.request(1, "/big?n=4000000")
        c.request(3, "/echo/h2-other")
        c.send(c.frame(WINDOW_UPDATE, 0, 3, struct.pack(">I", 1 << 20)))
        assert c.done(3) and c.streams[3]["status"] == 200
        # stream 1 stays shut past limits.send_timeout (1 s): reset
        assert c.wait(lambda s: s.streams.get(1, {}).get("rst") is not None, 15)
        c.request(5, "/echo/h2-still")
        c.send(c.frame(WINDOW_UPDATE, 0, 5, struct.pack(">I", 1 << 20)))
        assert c.done(5) and c.streams[5]["status"] == 200
    assert tight.stdout.wait_for(r'"config_key":"limits.send_timeout"', 10)


def test_stalled_body_and_header_block_time_out(tight):
    start = len(tight.stdout.text)
    with H2(tight.tls_port) as c:
        c.request(1, "/echo/h2-slowbody", "POST", [("content-length", "10")], end=False)
        c.send(c.frame(DATA, 0, 1, b"abc"))
        assert c.done(1)
        assert c.streams[1]["status"] == 408
        c.request(3, "/echo/h2-after-408")  # the connection goes on
        assert c.done(3) and c.streams[3]["status"] == 200
    assert tight.stdout.wait_for(r'"config_key":"limits.body_timeout"', 10, start=start)
    with H2(tight.tls_port) as c:
        # a header block that never ends holds the whole connection
        # (our SETTINGS ACK first: nothing may come between its frames)
        assert c.wait(lambda s: 0x3 in s.server_settings)
        c.send(c.frame(HEADERS, 0, 1, c.block(BASE)))
        assert c.wait(lambda s: s.closed, 10)
        assert c.streams[1]["status"] == 408 and c.goaway == NO_ERROR
    assert tight.stdout.wait_for(r'"config_key":"limits.header_timeout"', 10, start=start)


def test_graceful_stop_finishes_streams(moat, echo, cert):
    m = tls_moat(moat, echo.url(), cert, limits={"drain_timeout": "10s"})
    echo.clear_seen()
    with H2(m.tls_port) as c:
        c.request(1, "/slow?ms=1500&h2=drain")
        wait_for(lambda: any("h2=drain" in line for line in echo.seen()), 10,
                 what="the app to get the request")
        m.signal(signal.SIGTERM)
        assert c.done(1)
        assert c.streams[1]["status"] == 200
        assert c.wait(lambda s: s.goaway is not None)
        assert c.goaway == NO_ERROR
        assert c.wait(lambda s: s.closed)  # moat closes once the stream is done
    assert m.proc.wait(15) == 0


def test_chromium_fetches_a_page_over_h2(moat, echo, cert, tmp_path):
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        pytest.skip("%s not found (Debian package chromium)" % chromium)
    m = tls_moat(moat, echo.url(), cert,
                 log={"access": str(tmp_path / "access.log"), "access_format": "combined",
                      "security": "-"})
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--ignore-certificate-errors", "--dump-dom",
                        "https://localhost:%d/echo/h2-chromium" % m.tls_port],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert "/echo/h2-chromium" in r.stdout, r.stderr[-2000:]
    assert wait_for(lambda: "GET /echo/h2-chromium HTTP/2.0\" 200" in
                    (tmp_path / "access.log").read_text(), 10, what="the access log line")


def test_connection_never_read_is_closed(tight):
    """Windows wide open, but the client reads nothing off its socket: the
    connection's queue stops the framing (and the app's reads), and
    limits.send_timeout closes it."""
    start = len(tight.stdout.text)
    with H2(tight.tls_port, settings=((0x4, 1 << 30),), window=1 << 30) as c:
        for sid in (1, 3, 5):
            c.request(sid, "/big?n=8000000")
        # read nothing: the kernel's buffers fill, then moat's queue
        assert tight.stdout.wait_for(r'"stage":"http2","reason":"client did not read the '
                                     r'response in limits.send_timeout"', 20, start=start)
