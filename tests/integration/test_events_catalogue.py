"""Every refusal of a client's request is logged as the event
docs/events.md names for it, with the catalogue's severity (issue 22, item
4): the raw requests of tests/cases that moat refuses, plus one request for
each refusal path of the HTTP layer (another protocol, an unknown method or
version, an expectation, each limit, each timeout). upstream.error is the
application's (502/504), never a client's."""

import json
import re
from pathlib import Path

import pytest

from helpers import Conn, wait_for
from test_cases import ALL as CASES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def catalogue():
    """{event name: severity} as docs/events.md lists them."""
    text = DOCS.read_text(encoding="utf-8")
    found = dict(re.findall(r"^### `([a-z0-9_.]+)`\nSeverity `([a-z]+)`", text, re.M))
    assert len(found) >= 20, found
    return found


def test_catalogue_parses():
    cat = catalogue()
    for name in ("http.rejected", "http.h2_refused", "http.method_refused",
                 "http.version_refused", "http.expect_refused", "upstream.error",
                 "connections.crowded", "stage.error"):
        assert name in cat, name


LIMITS = {"url_bytes": "1KiB", "headers": 20, "header_bytes": "4KiB", "body_bytes": 1000,
          "header_timeout": "1s", "body_timeout": "1s"}

# (what, raw bytes, allowed statuses, event): every refusal path of the
# HTTP layer. A request that stalls waits for a timeout of 1 s.
PATHS = [
    ("h2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", [501], "http.h2_refused"),
    ("version 9.9", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", [505], "http.version_refused"),
    ("version 2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", [505], "http.version_refused"),
    ("unknown method", b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", [501], "http.method_refused"),
    ("connect", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", [405],
     "http.method_refused"),
    ("expect", b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nok",
     [417], "http.expect_refused"),
    ("http/0.9", b"GET /echo\r\n\r\n", [400], "http.rejected"),
    ("bare lf", b"GET /echo HTTP/1.1\nHost: x\n\n", [400], "http.rejected"),
    ("cl+te", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", [400], "http.rejected"),
    ("url", b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", [414], "http.rejected"),
    ("headers", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(30))
     + b"\r\n", [431], "http.rejected"),
    ("header bytes", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 5000 + b"\r\n\r\n", [431],
     "http.rejected"),
    ("body", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", [413],
     "http.rejected"),
    ("chunked body", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"800\r\n" + b"c" * 2048 + b"\r\n", [413], "http.rejected"),
    ("header timeout", b"GET /echo HTTP/1.1\r\nHost: x\r\n", [408], "http.rejected"),
    ("body timeout", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", [408],
     "http.rejected"),
]


def logged(m, request_id):
    def find():
        for line in m.stdout.text.splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("request_id") == request_id:
                return e
        return None
    return wait_for(find, 15, what="the event of request %s" % request_id)


@pytest.fixture(scope="module")
def site(module_moat, echo):
    return module_moat(echo.url(), workers=1, limits=LIMITS)


def refused(m, raw):
    with Conn(m.port, timeout=30) as c:
        c.send(raw)
        r = c.read_response()
    rid = r.header("X-Request-Id")
    assert rid, r
    return r, logged(m, rid)


@pytest.mark.parametrize("what,raw,statuses,event", PATHS, ids=[p[0] for p in PATHS])
def test_refusal_path_event(site, what, raw, statuses, event):
    cat = catalogue()
    r, e = refused(site, raw)
    assert r.status in statuses, (what, r)
    assert e["event"] == event, (what, e)
    assert e["severity"] == cat[event], (what, e)
    assert e["status"] == r.status


SIMPLE = [c for c in CASES
          if not c.config_text.strip() and c.upstream is None
          and c.expect.get("forwarded") is False and "statuses" not in c.expect]


def test_cases_walked():
    assert len(SIMPLE) >= 10


@pytest.mark.parametrize("case", SIMPLE, ids=[c.name for c in SIMPLE])
def test_case_refusal_event(module_moat, echo, case):
    """The refused requests of tests/cases, against the defaults (the cases'
    own config), each logged with a catalogued name and severity."""
    cat = catalogue()
    m = shared(module_moat, echo)
    r, e = refused(m, case.request)
    assert r.status >= 400, r
    assert e["event"] in cat, e
    assert e["severity"] == cat[e["event"]], e
    if r.status not in (502, 504):
        assert e["event"] != "upstream.error", e
    if "event" in case.expect:
        assert e["event"] == case.expect["event"], e


_SHARED = {}


def shared(module_moat, echo):
    if "m" not in _SHARED or not _SHARED["m"].alive():
        _SHARED["m"] = module_moat(echo.url(), workers=1)
    return _SHARED["m"]
