"""The errors filter on compressed and oversized bodies (issue 13, items 4
and 5): what moat inspects it inspects decoded, and a 4xx body it cannot
inspect is replaced, never passed.

A real Django project with DEBUG = True and GZipMiddleware under gunicorn
(apps/django_app, settings_gzip) answers a client that sends
Accept-Encoding: gzip, as every browser does, with gzipped technical 404 and
400 pages; raw upstreams serve the same real page in the other codings
(deflate as zlib and as raw deflate, br, lists of codings, split
Content-Encoding fields, chunked in small pieces), directory listings,
corrupt and cut-short bodies, codings moat does not decode, decompression
bombs and pages padded past errors.inspect_bytes. No debug marker may reach
the client, the status is kept, and a clean compressed response passes with
its bytes unchanged."""

import gzip
import json
import zlib

import pytest

from conftest import Gunicorn
from helpers import Conn
from raw_upstreams import RawUpstream, read_request
from test_hardening import H, assert_generic_page, django_available

try:
    import brotli  # Debian python3-brotli
except ImportError:  # pragma: no cover - listed in deps/debian.txt
    brotli = None

KIB = 1024
WINDOW = 256 * KIB  # errors.inspect_bytes' default
# What no replaced page may carry, decoded or not.
MARKERS = [b"Traceback", b"DEBUG =", b"URLconf", b"hunter2", b"django.core", b"Index of /",
           b"Directory listing for", b"secret-object-42", b"Werkzeug"]


# ------------------------------------------------------------- codings

def enc_gzip(b):
    return gzip.compress(b, mtime=0)


def enc_zlib(b):
    return zlib.compress(b)


def enc_raw_deflate(b):
    c = zlib.compressobj(wbits=-15)
    return c.compress(b) + c.flush()


def enc_br(b):
    if brotli is None:
        pytest.skip("python3-brotli is not installed (deps/debian.txt)")
    return brotli.compress(b)


ENCODERS = {"gzip": enc_gzip, "x-gzip": enc_gzip, "GZIP": enc_gzip, "deflate": enc_zlib,
            "br": enc_br}


def encode(body, codings):
    """codings: the Content-Encoding list in the order applied."""
    for c in codings:
        body = ENCODERS[c](body)
    return body


def decode(r):
    """The body as a browser shows it (every Content-Encoding undone)."""
    codings = [c.strip().lower() for v in r.header_all("Content-Encoding")
               for c in v.split(",") if c.strip()]
    body = r.body
    for c in reversed(codings):
        if c in ("gzip", "x-gzip"):
            body = gzip.decompress(body)
        elif c == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:
                body = zlib.decompress(body, -15)
        elif c == "br":
            body = brotli.decompress(body)
        elif c != "identity":
            raise AssertionError("undecodable coding %r reached the client" % c)
    return body


def assert_no_markers(r):
    for body in (r.body, decode(r)):
        for m in MARKERS:
            assert m not in body, "%r reached the client: %r" % (m, body[:300])


def assert_replaced(r, status):
    assert not r.header_all("Content-Encoding"), "the app's coded body reached the client"
    assert_generic_page(r.status, H(r), r.body, status)
    assert_no_markers(r)


def get(port, path, accept_encoding=None):
    headers = {"Accept-Encoding": accept_encoding} if accept_encoding else {}
    with Conn(port) as c:
        return c.request("GET", path, headers=headers)


# ------------------------------------------------------------- the Django app

@pytest.fixture(scope="module")
def django_gzip():
    if not django_available():
        pytest.skip("Django is not installed (Debian package python3-django)")
    g = Gunicorn(module="django_app.wsgi", unix=False, name="django-gzip",
                 extra_args=["--env", "DJANGO_SETTINGS_MODULE=django_app.settings_gzip"]).start()
    yield g
    g.stop()


@pytest.fixture(scope="module")
def dz(module_moat, django_gzip):
    """moat with its defaults in front of the gzipping Django app."""
    return module_moat(django_gzip.url())


@pytest.fixture(scope="module")
def technical_404(django_gzip):
    """Django's real technical 404 page, as the app sends it uncompressed."""
    r = get(django_gzip.port, "/missing")
    assert r.status == 404 and b"<code>DEBUG =" in r.body, "control: a debug page"
    return r.body


@pytest.mark.parametrize("path,status", [("/missing", 404), ("/no-such-url", 404),
                                         ("/bad", 400)])
def test_django_gzip_debug_page_replaced(django_gzip, dz, path, status):
    """Django's technical 404 and its 400 traceback page (SuspiciousOperation
    in DEBUG), gzipped by GZipMiddleware for a browser: replaced."""
    direct = get(django_gzip.port, path, "gzip")
    assert direct.status == status and direct.header("Content-Encoding") == "gzip", "control"
    assert b"DEBUG =" in decode(direct), "control: the app's gzipped page is a debug page"
    for ae in ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8, *;q=0.1"]:
        assert_replaced(get(dz.port, path, ae), status)


def test_django_gzip_500_replaced(django_gzip, dz):
    direct = get(django_gzip.port, "/boom", "gzip")
    assert direct.status == 500 and direct.header("Content-Encoding") == "gzip", "control"
    assert_replaced(get(dz.port, "/boom", "gzip"), 500)


@pytest.mark.parametrize("ae", [None, "gzip"], ids=["identity", "gzip"])
def test_django_padded_400_replaced(django_gzip, dz, ae):
    """A 400 debug page whose traceback lies past the 256 KiB window (the
    exception message pads it): it cannot be inspected whole, so it is
    replaced, not passed unchecked."""
    direct = get(django_gzip.port, "/bad-padded", ae)
    page = decode(direct)
    assert direct.status == 400 and len(page) > WINDOW, "control"
    assert page.find(b"Traceback (most recent call last)") > WINDOW, "control: marker past it"
    assert_replaced(get(dz.port, "/bad-padded", ae), 400)


@pytest.mark.parametrize("path,status", [("/long-page", 200), ("/clean404", 404)])
def test_django_gzip_clean_page_passes_unchanged(django_gzip, dz, path, status):
    """A clean page, inspected decoded, goes out as the app compressed it."""
    direct = get(django_gzip.port, path, "gzip")
    assert direct.status == status and direct.header("Content-Encoding") == "gzip", "control"
    r = get(dz.port, path, "gzip")
    assert r.status == status
    assert r.header("Content-Encoding") == "gzip"
    assert r.body == direct.body
    assert b"DEBUG" not in decode(r)


# ------------------------------------------------------------- raw upstreams

LISTING = (b"<!DOCTYPE HTML><html><head><meta charset=\"utf-8\">"
           b"<title>Directory listing for /static/</title></head><body>"
           b"<h1>Directory listing for /static/</h1><hr><ul>"
           + b"".join(b"<li><a href=\"f%d.txt\">f%d.txt</a></li>" % (i, i) for i in range(200))
           + b"</ul><hr></body></html>")
CLEAN_HTML = (b"<!doctype html><html><head><title>Not here</title></head><body>"
              + b"<p>Nothing at this address; try the home page.</p>" * 80 + b"</body></html>")


def raw_response(status, body, codings=(), ctype=b"text/html; charset=utf-8", chunk=0):
    """A response with one Content-Encoding field per item of codings (an
    item may itself be a list, "gzip, br"); chunk > 0 sends the body chunked
    in pieces of that size."""
    head = b"HTTP/1.1 %d X\r\nContent-Type: %s\r\n" % (status, ctype)
    for c in codings:
        head += b"Content-Encoding: %s\r\n" % c.encode()
    if chunk:
        head += b"Transfer-Encoding: chunked\r\n"
        pieces = [body[i:i + chunk] for i in range(0, len(body), chunk)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    else:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"Connection: close\r\n\r\n" + body


def routed(table):
    """A raw upstream handler answering each path with table[path]."""
    def handler(conn, server):
        req = read_request(conn)
        if not req:
            return
        server.record(req)
        path = req.split(b" ", 2)[1].decode("latin-1")
        conn.sendall(table.get(path, raw_response(404, b"no route\n", ctype=b"text/plain")))
        try:
            conn.shutdown(2)
        except OSError:
            pass
    return handler


def codings_case(name):
    """(Content-Encoding fields, codings applied in order) of a named case."""
    return {
        "gzip": (["gzip"], ["gzip"]),
        "x-gzip": (["x-gzip"], ["gzip"]),
        "GZIP": (["GZIP"], ["gzip"]),
        "deflate-zlib": (["deflate"], ["deflate"]),
        "deflate-raw": (["deflate"], "raw"),
        "br": (["br"], ["br"]),
        "gzip,br": (["gzip, br"], ["gzip", "br"]),
        "br,gzip": (["br,gzip"], ["br", "gzip"]),
        "two-fields": (["gzip", "br"], ["gzip", "br"]),
        "identity-then-gzip": (["identity", "gzip"], ["gzip"]),
        "gzip-identity": (["gzip, identity"], ["gzip"]),
    }[name]


def encoded(body, name):
    fields, applied = codings_case(name)
    data = enc_raw_deflate(body) if applied == "raw" else encode(body, applied)
    return fields, data


CODED = ["gzip", "x-gzip", "GZIP", "deflate-zlib", "deflate-raw", "br", "gzip,br", "br,gzip",
         "two-fields", "identity-then-gzip", "gzip-identity"]


def bomb(n):
    """gzip of n zero bytes, made a piece at a time: small, huge decoded."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    piece = bytes(1 << 20)
    out = [c.compress(piece) for _ in range(n >> 20)]
    return b"".join(out) + c.flush()


@pytest.fixture(scope="module")
def table(technical_404):
    page = technical_404
    t = {}
    for name in CODED:
        fields, data = encoded(page, name)
        t["/debug/" + name] = raw_response(404, data, fields)
        t["/debug403/" + name] = raw_response(403, data, fields)
        fields, data = encoded(LISTING, name)
        t["/listing/" + name] = raw_response(200, data, fields)
        fields, data = encoded(CLEAN_HTML, name)
        t["/clean404/" + name] = raw_response(404, data, fields)
        t["/clean200/" + name] = raw_response(200, data, fields)
    gz = enc_gzip(page)
    t["/debug/gzip-chunked"] = raw_response(404, gz, ["gzip"], chunk=7)
    t["/listing/gzip-chunked"] = raw_response(200, enc_gzip(LISTING), ["gzip"], chunk=5)
    # Bodies moat cannot inspect, in a 4xx: replaced.
    mid = len(gz) // 2
    t["/bad/gzip-corrupt"] = raw_response(404, gz[:mid] + bytes([gz[mid] ^ 0xff]) + gz[mid + 1:],
                                          ["gzip"])
    t["/bad/gzip-cut"] = raw_response(404, gz[:len(gz) - 100], ["gzip"])
    t["/bad/gzip-crc"] = raw_response(404, gz[:-8] + bytes(4) + gz[-4:], ["gzip"])
    t["/bad/gzip-trailing"] = raw_response(404, gz + b"garbage after the gzip member", ["gzip"])
    t["/bad/gzip-not-gzip"] = raw_response(404, page, ["gzip"])
    t["/bad/deflate-corrupt"] = raw_response(404, b"\xff\xff" + enc_zlib(page)[2:], ["deflate"])
    t["/bad/compress"] = raw_response(404, page, ["compress"])
    t["/bad/zstd"] = raw_response(404, page, ["zstd"])
    t["/bad/unknown-in-list"] = raw_response(404, enc_gzip(page), ["gzip, zstd"])
    t["/bad/five-codings"] = raw_response(404, encode(page, ["gzip"] * 5), ["gzip"] * 5)
    t["/bad/bomb"] = raw_response(400, bomb(64 << 20), ["gzip"])
    t["/bad/bomb-nested"] = raw_response(400, enc_gzip(bomb(256 << 20)), ["gzip, gzip"])
    t["/bad/padded"] = raw_response(400, enc_gzip(b"p" * WINDOW + page), ["gzip"])
    if brotli is not None:
        t["/bad/br-corrupt"] = raw_response(404, enc_br(page)[:-3] + b"\x00\x00\x00", ["br"])
        t["/bad/br-bomb"] = raw_response(404, brotli.compress(bytes(64 << 20), quality=4),
                                         ["br"])
    # 200 pages: looked at decoded, passed when moat cannot decode them.
    t["/200/zstd"] = raw_response(200, b"\x28\xb5\x2f\xfd opaque page", ["zstd"])
    lst = enc_gzip(LISTING)
    t["/200/listing-then-corrupt"] = raw_response(200, lst[:len(lst) - 30] + bytes(30), ["gzip"])
    cl = enc_gzip(CLEAN_HTML)
    t["/200/clean-then-corrupt"] = raw_response(200, cl[:len(cl) - 30] + bytes(30), ["gzip"])
    return t


@pytest.fixture(scope="module")
def upstream(table):
    srv = RawUpstream(routed(table)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def rz(module_moat, upstream):
    return module_moat("http://127.0.0.1:%d" % upstream.port)


@pytest.mark.parametrize("name", CODED + ["gzip-chunked"])
def test_coded_debug_page_replaced(rz, name):
    """Django's real technical 404 in every coding browsers accept, lists of
    them, split fields, and a gzip body chunked 7 bytes at a time (markers
    across chunk boundaries): replaced, status kept."""
    assert_replaced(get(rz.port, "/debug/" + name), 404)
    if name != "gzip-chunked":
        assert_replaced(get(rz.port, "/debug403/" + name), 403)


@pytest.mark.parametrize("name", CODED + ["gzip-chunked"])
def test_coded_listing_replaced(rz, name):
    assert_replaced(get(rz.port, "/listing/" + name), 404)


@pytest.mark.parametrize("name", CODED)
@pytest.mark.parametrize("kind", ["clean404", "clean200"])
def test_coded_clean_response_passes_unchanged(rz, table, kind, name):
    """Inspected decoded, released as it came: the same bytes and
    Content-Encoding fields the app sent."""
    raw = table["/%s/%s" % (kind, name)]
    r = get(rz.port, "/%s/%s" % (kind, name))
    assert r.status == (404 if kind == "clean404" else 200)
    assert r.body == raw.split(b"\r\n\r\n", 1)[1]
    assert r.header_all("Content-Encoding") == codings_case(name)[0]
    assert decode(r) == CLEAN_HTML


UNINSPECTABLE = ["gzip-corrupt", "gzip-cut", "gzip-crc", "gzip-trailing", "gzip-not-gzip",
                 "deflate-corrupt", "compress", "zstd", "unknown-in-list", "five-codings", "bomb",
                 "bomb-nested", "padded", "br-corrupt", "br-bomb"]


@pytest.mark.parametrize("name", UNINSPECTABLE)
def test_uninspectable_4xx_replaced(rz, table, name):
    """A 4xx body moat cannot inspect (corrupt, cut short, a bad CRC,
    garbage after the stream, a coding it does not decode, too many codings,
    a decompression bomb, a debug page padded past the window) is replaced
    with its status, never passed on."""
    path = "/bad/" + name
    if path not in table:
        pytest.skip("python3-brotli is not installed (deps/debian.txt)")
    status = int(table[path].split(b" ", 2)[1])
    assert_replaced(get(rz.port, path), status)


def test_bomb_memory_bounded(moat, upstream):
    """Decoding stops at the window: bombs of 64 and 256 MiB (the latter in
    two layers of gzip) do not make moat grow by anything like their decoded
    size."""
    m = moat("http://127.0.0.1:%d" % upstream.port)

    def hwm_kib():
        with open("/proc/%d/status" % m.proc.pid) as f:
            return int([l for l in f if l.startswith("VmHWM:")][0].split()[1])
    assert get(m.port, "/clean404/gzip").status == 404  # warm up: buffers, a worker's pool
    before = hwm_kib()
    for _ in range(3):
        assert_replaced(get(m.port, "/bad/bomb-nested"), 400)
        assert_replaced(get(m.port, "/bad/bomb"), 400)
    grew = hwm_kib() - before
    assert grew < 48 * KIB, "moat's peak memory grew by %d KiB" % grew


def test_200_page_decisions(rz, table):
    """200 pages are not error pages: one in a coding moat does not decode
    passes unchanged, and one that stops decoding is judged on what decoded
    (a listing is still answered 404, a clean page passes as it came)."""
    r = get(rz.port, "/200/zstd")
    assert r.status == 200 and r.header("Content-Encoding") == "zstd"
    assert r.body == table["/200/zstd"].split(b"\r\n\r\n", 1)[1]
    assert_replaced(get(rz.port, "/200/listing-then-corrupt"), 404)
    r = get(rz.port, "/200/clean-then-corrupt")
    assert r.status == 200
    assert r.body == table["/200/clean-then-corrupt"].split(b"\r\n\r\n", 1)[1]


def test_uninspectable_body_event(moat, upstream, tmp_path):
    """The security log names why: response.replaced, reason "uninspectable
    body: ...", the setting that would change it, the status kept."""
    seclog = tmp_path / "sec.log"
    m = moat("http://127.0.0.1:%d" % upstream.port, log={"security": str(seclog)})
    ids = {}
    for path in ["/bad/gzip-corrupt", "/bad/zstd", "/bad/padded", "/debug/gzip"]:
        r = get(m.port, path)
        ids[path] = (r.header("X-Request-Id"), r.status)
    assert m.stop() == 0
    events = {}
    for line in seclog.read_text().splitlines():
        e = json.loads(line)
        if e.get("request_id"):
            events[e["request_id"]] = e
    want = {"/bad/gzip-corrupt": ("uninspectable body: ", "errors.debug_pages"),
            "/bad/zstd": ("uninspectable body: ", "errors.debug_pages"),
            "/bad/padded": ("uninspectable body: ", "errors.inspect_bytes"),
            "/debug/gzip": ("Python debug page replaced", "errors.debug_pages")}
    for path, (reason, key) in want.items():
        rid, status = ids[path]
        e = events[rid]
        assert e["event"] == "response.replaced" and e["stage"] == "errors", e
        assert e["reason"].startswith(reason) and e["config_key"] == key, e
        assert e["status"] == status
    assert events[ids["/bad/zstd"][0]]["content_encoding"] == "zstd"
    assert events[ids["/bad/gzip-corrupt"][0]]["content_encoding"] == "gzip"


def test_inspect_bytes_setting(moat, django_gzip):
    """errors.inspect_bytes raised: a page past the default window is
    inspected whole (the padded 400 is recognised as a debug page) and a
    clean large 4xx passes."""
    m = moat(django_gzip.url(), errors={"inspect_bytes": "2MiB"})
    for ae in [None, "gzip"]:
        assert_replaced(get(m.port, "/bad-padded", ae), 400)


@pytest.mark.parametrize("sent,forwarded", [
    ("zstd, br;q=0.9, gzip;q=0.8, compress, *;q=0.1", "br;q=0.9, gzip;q=0.8"),
    ("zstd", "identity"),
    ("gzip, deflate, br, zstd", "gzip, deflate, br"),
    ("*", "identity"),
    ("gzip, deflate, br", "gzip, deflate, br"),  # unchanged
])
def test_accept_encoding_only_decodable_codings(rz, upstream, sent, forwarded):
    """The app is only offered codings moat can decode (browsers offer
    zstd): an app that honours Accept-Encoding never answers in a coding
    moat would have to pass unseen (a 200) or replace (a 4xx)."""
    before = len(upstream.received)
    assert get(rz.port, "/clean200/gzip", sent).status == 200
    req = upstream.received[before]
    values = [l.split(b":", 1)[1].strip() for l in req.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
              if l.lower().startswith(b"accept-encoding:")]
    assert values == [forwarded.encode()], req


def test_accept_encoding_fields_joined(rz, upstream):
    before = len(upstream.received)
    with Conn(rz.port) as c:
        r = c.request("GET", "/clean200/gzip",
                      headers=[("Accept-Encoding", "gzip"), ("Accept-Encoding", "zstd, br")])
    assert r.status == 200
    req = upstream.received[before]
    assert b"\r\nAccept-Encoding: gzip, br\r\n" in req and req.lower().count(b"accept-encoding") == 1
