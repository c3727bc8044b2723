"""Shared helpers for the integration tests: a strict raw HTTP/1.1 client on
plain sockets (every socket has a timeout), a TOML writer for the test
configs, free ports, bounded polling. No test logic lives here."""

import json
import os
import socket
import time

HOST = "127.0.0.1"
IO_TIMEOUT = 10.0  # generous: the CI box is a busy 2-core machine


# ------------------------------------------------------------------ ports

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def closed_port():
    """A port nothing listens on (connect is refused)."""
    return free_port()


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate() until it returns a truthy value; returns it. Raises
    AssertionError after timeout seconds. For readiness, never for timing."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - polled again until the deadline
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.0fs waiting for %s (last error: %r)"
                                 % (timeout, what, last_exc))
        time.sleep(interval)


def port_accepts(port, host=HOST):
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def unix_accepts(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


# ------------------------------------------------------------------- TOML

def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError("cannot write %r as TOML" % (v,))


# ------------------------------------------------- MOAT_TEST_STORE switch
#
# MOAT_TEST_STORE=sqlite (the default) leaves every config as written.
# MOAT_TEST_STORE=redis rewrites a config whose [store] is only an absolute
# url = "sqlite:PATH" (what the auth tests write for `moat serve` and for
# `moat user`) as users = that file, state = the session's redis-server
# (tests/integration/redisserver.py), one Redis database per users file so
# that sites do not share counters. MOAT_TEST_STORE=redis+pg puts the users
# in PostgreSQL too (see the hook below). Relative sqlite: paths are left
# alone (their file depends on the config's folder, unknown here).

TEST_STORE = os.environ.get("MOAT_TEST_STORE", "sqlite")
_store_dbs = {}


def adapt_store(data):
    """data (a config dict) with its store moved per MOAT_TEST_STORE."""
    if TEST_STORE == "sqlite":
        return data
    if TEST_STORE not in ("redis", "redis+pg"):
        raise ValueError("MOAT_TEST_STORE must be sqlite, redis or redis+pg, not %r" % TEST_STORE)
    store = data.get("store")
    if not isinstance(store, dict) or set(store) != {"url"}:
        return data
    url = store["url"]
    if not isinstance(url, str) or not url.startswith("sqlite:/"):
        return data
    import redisserver  # here: it imports this module
    server = redisserver.shared()
    path = os.path.realpath(url[7:])
    if path not in _store_dbs:
        _store_dbs[path] = 1 + len(_store_dbs) % (server.databases - 1)
        server.command("FLUSHDB", db=_store_dbs[path])
    users = url
    if TEST_STORE == "redis+pg":
        # ---- HOOK (store-pg helper): users in PostgreSQL. --------------
        # tests/integration/pgserver.py is to provide
        #     users_url_for(sqlite_path) -> "postgresql://..."
        # (one database per sqlite path, on the session's PostgreSQL).
        import pgserver
        users = pgserver.users_url_for(path)
    return dict(data, store={"users": users, "state": server.url(db=_store_dbs[path])})


def redis_state_of(sqlite_path):
    """(server, db) holding the state of the users file at sqlite_path under
    MOAT_TEST_STORE=redis, or None (the state is in that file)."""
    path = os.path.realpath(str(sqlite_path))
    if TEST_STORE == "sqlite" or path not in _store_dbs:
        return None
    import redisserver
    return redisserver.shared(), _store_dbs[path]


def toml_dumps(data, prefix=""):
    """Writes a dict as TOML: scalars and arrays first, then sub-tables as
    [a.b] sections. Enough for moat's config shape. At the top level the
    store follows MOAT_TEST_STORE (adapt_store)."""
    if not prefix:
        data = adapt_store(data)
    lines = []
    tables = []
    arrays = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            arrays.append((key, value))
        else:
            lines.append("%s = %s" % (key, _toml_value(value)))
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, entries in arrays:  # [[a.b]] entries, before any [a.c] table
        name = prefix + key
        for entry in entries:
            out += "\n[[%s]]\n" % name + toml_dumps(entry, name + ".")
    for key, value in tables:
        name = prefix + key
        out += "\n[%s]\n" % name + toml_dumps(value, name + ".")
    return out


def deep_merge(base, over):
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        elif v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


# ------------------------------------------------------- raw HTTP client

class IncompleteResponse(AssertionError):
    pass


class RawResponse:
    def __init__(self, version, status, reason, headers, body, head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] as received
        self.body = body
        self.head = head

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<RawResponse %s %d %r headers=%r body=%r>" % (
            self.version, self.status, self.reason, self.headers, self.body[:200])


class Conn:
    """One client connection to moat, for the tests that must control the
    exact bytes, or see what happens on the wire after a response."""

    def __init__(self, port, host=HOST, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def send_lenient(self, data):
        """Sends what the peer still accepts; returns False if it closed,
        reset, or stopped reading first (a server may answer early and
        close mid-body, or answer and wait for the close)."""
        try:
            self.send(data)
            return True
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            return False

    def _fill(self):
        piece = self.sock.recv(65536)
        if not piece:
            return False
        self.buf += piece
        return True

    def _read_line(self):
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise IncompleteResponse("connection closed mid-head: %r" % self.buf[:500])
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise IncompleteResponse("connection closed with %d of %d body bytes"
                                         % (len(self.buf), n))
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, method="GET"):
        """Reads exactly one response (a 1xx counts as one). Strict: CRLF line
        ends, a well-formed status line, Content-Length or chunked framing."""
        head_lines = []
        status_line = self._read_line()
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise AssertionError("bad status line %r (buffer %r)" % (status_line, self.buf[:200]))
        version = parts[0].decode()
        status = int(parts[1])
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        headers = []
        while True:
            line = self._read_line()
            if line == b"":
                break
            head_lines.append(line)
            name, sep, value = line.partition(b":")
            if not sep or name != name.strip() or not name:
                raise AssertionError("malformed response header line %r" % line)
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        head = status_line + b"\r\n" + b"".join(l + b"\r\n" for l in head_lines) + b"\r\n"
        resp = RawResponse(version, status, reason, headers, b"", head)
        if status < 200 or status in (204, 304) or method.upper() == "HEAD":
            return resp
        te = resp.header("Transfer-Encoding")
        cl = resp.header_all("Content-Length")
        if te is not None:
            if te.strip().lower() != "chunked":
                raise AssertionError("unexpected Transfer-Encoding %r" % te)
            if cl:
                raise AssertionError("response with both Content-Length and Transfer-Encoding")
            resp.body = self._read_chunked()
        elif cl:
            if len(cl) != 1 or not cl[0].isdigit():
                raise AssertionError("bad Content-Length in response: %r" % cl)
            resp.body = self._read_exact(int(cl[0]))
        else:
            resp.body = self.read_until_close()
        return resp

    def _read_chunked(self):
        body = b""
        while True:
            line = self._read_line()
            size_s = line.split(b";", 1)[0]
            if not size_s or size_s.strip(b"0123456789abcdefABCDEF") or len(size_s) > 15:
                raise ValueError("malformed chunk size line %r" % line)
            size = int(size_s, 16)
            if size == 0:
                while self._read_line() != b"":
                    pass  # trailers
                return body
            body += self._read_exact(size)
            if self._read_exact(2) != b"\r\n":
                raise AssertionError("chunk not followed by CRLF")

    def read_final(self, method="GET"):
        """Reads interim 1xx responses and the final one; returns
        (final, [interim...])."""
        interim = []
        while True:
            resp = self.read_response(method)
            if resp.status >= 200 or resp.status == 101:
                return resp, interim
            interim.append(resp)

    def read_until_close(self, timeout=None):
        """Reads until EOF (or a reset); raises socket.timeout if the peer
        keeps the connection open longer than timeout."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        while True:
            try:
                if not self._fill():
                    break
            except ConnectionResetError:
                break
        data, self.buf = self.buf, b""
        return data

    def closed_within(self, timeout):
        """True if the peer closes (EOF or RST) within timeout seconds, False
        if it is still open then. Data that arrives meanwhile is kept in
        .buf."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                if not self._fill():
                    return True
            except ConnectionResetError:
                return True
            except socket.timeout:
                return False

    def request(self, method, target, headers=None, body=b"", version="HTTP/1.1",
                host="127.0.0.1"):
        """Sends one well-formed request and reads its final response."""
        hdrs = [("Host", host)] if host is not None else []
        hdrs += list((headers or {}).items()) if isinstance(headers, dict) else list(headers or [])
        if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in hdrs):
            hdrs.append(("Content-Length", str(len(body))))
        data = "%s %s %s\r\n" % (method, target, version)
        data += "".join("%s: %s\r\n" % kv for kv in hdrs) + "\r\n"
        self.send(data.encode("latin-1") + body)
        return self.read_final(method)[0]


def exchange(port, raw, method="GET", timeout=IO_TIMEOUT):
    """Sends raw bytes on a new connection and reads one final response."""
    with Conn(port, timeout=timeout) as c:
        c.send(raw)
        return c.read_final(method)[0]


def parse_size(v):
    """moat's size values as written in a config dump: 1024 or "16KiB"."""
    if isinstance(v, int):
        return v
    units = {"": 1, "B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30,
             "KB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}
    s = str(v).strip()
    num = s.rstrip("KMGiB")
    return int(float(num) * units[s[len(num):]])


def parse_duration_ms(v):
    """Durations as written in a config dump: 10 (seconds) or "500ms"/"10s"/"1m"."""
    if isinstance(v, (int, float)):
        return int(v * 1000)
    s = str(v).strip()
    for unit, mult in (("ms", 1), ("s", 1000), ("m", 60000), ("h", 3600000)):
        if s.endswith(unit) and s[:-len(unit)].replace(".", "", 1).isdigit():
            return int(float(s[:-len(unit)]) * mult)
    raise ValueError("not a duration: %r" % v)
