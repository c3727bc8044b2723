"""Runs the data-driven regression cases of tests/cases/ (format in its
README): each sends its raw request bytes (one request, or several
pipelined on one connection) to the real binary in front of the echo app
(or a raw stand-in upstream the case gives) and checks the statuses, the
connection, what reached the app (and what must never reach it), the exact
request the stand-in upstream received, the response headers and body, and
the security event recorded for the request with its fields."""

import json
import re
import time
import tomllib
from pathlib import Path

import pytest

from conftest import REPO, serving_dir
from helpers import Conn, IncompleteResponse, deep_merge

CASES = REPO / "tests" / "cases"
SECTIONS = ("about", "config", "request", "upstream", "upstream_request", "expect")
EXPECT_KEYS = {"status", "statuses", "closed", "forwarded", "reached", "not_reached",
               "upstream_count", "app_headers_absent", "app_headers", "headers_absent",
               "headers_present", "headers", "header_count", "body_lacks", "event",
               "event_fields", "app_path", "app_query", "app_target"}
# Every not_reached marker of the run, checked once more at the end.
NOT_REACHED = []


def unescape(text):
    """Section text -> bytes: lines joined by CRLF, '\\' at a line's end joins
    it to the next, escapes \\r \\n \\t \\xHH \\\\."""
    lines = text.split("\n")
    out = b""
    for i, line in enumerate(lines):
        join = line.endswith("\\") and not line.endswith("\\\\")
        if join:
            line = line[:-1]
        out += _escapes(line)
        if i < len(lines) - 1 and not join:
            out += b"\r\n"
    return out


def _escapes(s):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n in "rnt\\":
                out += {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\"}[n]
                i += 2
                continue
            if n == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", s[i + 2:i + 4]):
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            raise ValueError("unknown escape \\%s" % n)
        out += c.encode("utf-8")
        i += 1
    return bytes(out)


class Case:
    def __init__(self, path):
        self.path = path
        self.name = path.stem
        text = path.read_text(encoding="utf-8")
        parts = {}
        cur = None
        for line in text.split("\n"):
            m = re.fullmatch(r"--- ([a-z_]+)\s*", line)
            if m:
                cur = m.group(1)
                if cur not in SECTIONS:
                    raise ValueError("%s: unknown section %r" % (path.name, cur))
                if cur in parts:
                    raise ValueError("%s: section %r twice" % (path.name, cur))
                parts[cur] = []
            elif cur:
                parts[cur].append(line)
        for need in ("about", "request", "expect"):
            if need not in parts:
                raise ValueError("%s: no %r section" % (path.name, need))
        # A file's final newline is not a line of the last section.
        last = list(parts)[-1]
        if parts[last] and parts[last][-1] == "":
            parts[last].pop()
        self.about = "\n".join(parts["about"]).strip()
        self.config_text = "\n".join(parts.get("config", []))
        self.config_for("/nowhere")  # a TOML error shows at collection
        self.request = unescape("\n".join(parts["request"]))
        self.upstream = unescape("\n".join(parts["upstream"])) if "upstream" in parts else None
        self.upstream_request = (unescape("\n".join(parts["upstream_request"]))
                                 if "upstream_request" in parts else None)
        if self.upstream_request is not None and self.upstream is None:
            raise ValueError("%s: upstream_request needs an upstream section" % path.name)
        self.expect = tomllib.loads("\n".join(parts["expect"]))
        unknown = set(self.expect) - EXPECT_KEYS
        if unknown:
            raise ValueError("%s: unknown expect keys %s" % (path.name, sorted(unknown)))
        if ("status" in self.expect) == ("statuses" in self.expect):
            raise ValueError("%s: expect needs a status or statuses (not both)" % path.name)
        # One entry per response read, in order; an entry is a status or a
        # list of allowed ones. The other checks are about the last response.
        self.statuses = self.expect.get("statuses", [self.expect.get("status")])
        if "event_fields" in self.expect and "event" not in self.expect:
            raise ValueError("%s: event_fields needs an event" % path.name)
        for key in ("reached", "not_reached"):
            if key in self.expect and self.upstream is not None:
                raise ValueError("%s: %s needs the echo app" % (path.name, key))

    def config_for(self, workdir):
        """The config with {dir} standing for a folder of the case's own
        (a store file, say)."""
        return tomllib.loads(self.config_text.replace("{dir}", str(workdir)))


ALL = [Case(p) for p in sorted(CASES.glob("*.case"))]


def test_corpus_is_not_empty():
    assert len(ALL) >= 30, "tests/cases/ lost its cases"
    names = [c.name for c in ALL]
    assert len(set(n[:4] for n in names)) == len(names), "two cases share a number"


class Site:
    """One moat (with a security log) per distinct config."""

    def __init__(self, m, log):
        self.m, self.log = m, log

    def events_for(self, request_id, want, timeout=10):
        """The events (dicts) recorded for request_id, once one named want is
        among them or the (bounded) wait for the log's writer is over."""
        deadline = time.time() + timeout
        while True:
            events = []
            if self.log.exists():
                for line in self.log.read_text().splitlines():
                    if line.strip():
                        ev = json.loads(line)
                        if ev.get("request_id") == request_id:
                            events.append(ev)
            if any(ev["event"] == want for ev in events) or time.time() > deadline:
                return events


@pytest.fixture(scope="module")
def sites(module_moat, echo, tmp_path_factory):
    cache = {}

    def get(case, upstream_url=None):
        key = (case.config_text, upstream_url)
        if upstream_url or key not in cache:
            d = serving_dir(tmp_path_factory.mktemp("case"))
            log = d / "security.log"
            cfg = deep_merge({"log": {"security": str(log)}}, case.config_for(d))
            m = module_moat(upstream_url or echo.url(), **cfg)
            site = Site(m, log)
            if upstream_url:
                return site
            cache[key] = site
        return cache[key]
    return get


def chunked_done(body):
    """Whether body holds a whole chunked body (a malformed one counts as
    whole: there is nothing more to wait for)."""
    pos = 0
    try:
        while True:
            e = body.find(b"\r\n", pos)
            if e < 0:
                return False
            size = int(body[pos:e].split(b";")[0].strip(), 16)
            pos = e + 2
            if size == 0:
                while True:  # trailer fields, up to an empty line
                    e = body.find(b"\r\n", pos)
                    if e < 0:
                        return False
                    if e == pos:
                        return True
                    pos = e + 2
            pos += size + 2
            if pos > len(body):
                return False
    except ValueError:
        return True


def stand_in(raw):
    """A raw upstream handler answering every request with raw; it records
    each whole request, a chunked body included."""
    def handler(conn, server):
        from raw_upstreams import read_request
        while True:
            req = read_request(conn)
            if not req:
                return
            head, _, body = req.partition(b"\r\n\r\n")
            if re.search(rb"(?im)^transfer-encoding:[ \t]*chunked[ \t]*\r?$", head):
                while not chunked_done(body):
                    piece = conn.recv(65536)
                    if not piece:
                        break
                    body += piece
                req = head + b"\r\n\r\n" + body
            server.record(req)
            conn.sendall(raw)
    return handler


def app_requests(echo):
    """Requests that reached the echo app, less its own /seen look-ups."""
    return len([s for s in echo.seen() if " /seen" not in s])


def head_pattern(expected):
    """The expected upstream request as a regex: exact bytes, where {any}
    stands for the rest of a line (a request id, a client port)."""
    return b"[^\r\n]*".join(re.escape(p) for p in expected.split(b"{any}"))


def allowed(entry):
    return entry if isinstance(entry, list) else [entry]


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_case(case, sites, echo, raw_upstream):
    exp = case.expect
    up = raw_upstream(stand_in(case.upstream)) if case.upstream is not None else None
    site = sites(case, up.url if up else None)
    before = app_requests(echo) if up is None else 0
    NOT_REACHED.extend(exp.get("not_reached", []))
    got = []
    with Conn(site.m.port, timeout=10) as c:
        c.send_lenient(case.request)
        for i, want in enumerate(case.statuses):
            try:
                r = c.read_response()
            except IncompleteResponse as exc:
                pytest.fail("%s: no complete response %d of %d after %r (%s)\n%s" % (
                    case.name, i + 1, len(case.statuses), got, exc, case.about))
            got.append(r.status)
            assert r.status in allowed(want), "%s: response %d: %s\n%r" % (
                case.name, i + 1, case.about, r)
        closed = c.closed_within(5) if "closed" in exp else None
        rest = c.buf
    if "closed" in exp:
        assert closed == exp["closed"], "%s: connection closed=%s" % (case.name, closed)
        if closed:
            assert b"HTTP/1." not in rest, "%s: another response followed: %r" % (
                case.name, rest[:200])
    if "forwarded" in exp:
        reached = (len(up.received) > 0) if up else (app_requests(echo) > before)
        assert reached == exp["forwarded"], "%s: reached the app=%s" % (case.name, reached)
    if "reached" in exp or "not_reached" in exp:
        seen = echo.seen()
        for marker in exp.get("reached", []):
            assert [s for s in seen if marker in s], "%s: %s never reached the app" % (
                case.name, marker)
        for marker in exp.get("not_reached", []):
            assert not [s for s in seen if marker in s], "%s: %s reached the app" % (
                case.name, marker)
    if "upstream_count" in exp:
        assert len(up.received) == exp["upstream_count"], "%s: the upstream got %r" % (
            case.name, up.received)
    if case.upstream_request is not None:
        assert up.received, "%s: the upstream got nothing" % case.name
        assert re.fullmatch(head_pattern(case.upstream_request), up.received[0], re.S), \
            "%s: the upstream got\n%r\nnot\n%r" % (case.name, up.received[0],
                                                   case.upstream_request)
    seen_headers = None
    if "app_headers_absent" in exp or "app_headers" in exp:
        assert up is None, "app_headers need the echo app"
        seen_headers = {k.lower(): v for k, v in r.json()["headers"]}
    for name in exp.get("app_headers_absent", []):
        assert name.lower() not in seen_headers, "%s: the app saw %s: %r" % (
            case.name, name, seen_headers[name.lower()])
    for name, value in exp.get("app_headers", {}).items():
        assert seen_headers.get(name.lower()) == value, "%s: the app saw %s=%r" % (
            case.name, name, seen_headers.get(name.lower()))
    for key, field in (("app_path", "path"), ("app_query", "query"), ("app_target", "raw_uri")):
        if key in exp:
            assert up is None, "%s needs the echo app" % key
            seen = r.json()[field]
            assert seen == exp[key], "%s: the app saw %s=%r" % (case.name, field, seen)
    for name in exp.get("headers_absent", []):
        assert not r.header_all(name), "%s: response has %s" % (case.name, name)
    for name in exp.get("headers_present", []):
        assert r.header_all(name), "%s: response lacks %s" % (case.name, name)
    for name, value in exp.get("headers", {}).items():
        assert value in r.header_all(name), "%s: response %s=%r" % (
            case.name, name, r.header_all(name))
    for name, n in exp.get("header_count", {}).items():
        assert len(r.header_all(name)) == n, "%s: response %s=%r" % (
            case.name, name, r.header_all(name))
    for s in exp.get("body_lacks", []):
        assert s.encode() not in r.body, "%s: body has %r" % (case.name, s)
    if "event" in exp:
        rid = r.header("X-Request-Id")
        assert rid, "%s: no X-Request-Id" % case.name
        events = site.events_for(rid, exp["event"])
        mine = [ev for ev in events if ev["event"] == exp["event"]]
        assert mine, "%s: events %r" % (case.name, [ev["event"] for ev in events])
        for name, value in exp.get("event_fields", {}).items():
            assert any(str(ev.get(name)) == str(value) for ev in mine), \
                "%s: %s fields %r" % (case.name, exp["event"], mine)


def test_no_hidden_request_ever_reached_the_app(echo):
    """The not_reached markers once more, after every case: a request moat
    forwarded late would show here."""
    seen = echo.seen()
    leaked = sorted({m for m in NOT_REACHED for line in seen if m in line})
    assert not leaked, leaked
