"""A real redis-server for the tests (Debian's redis-server, started here,
never a system service): its own folder under /tmp, a free port on
127.0.0.1, no persistence (--save '', no AOF), stopped at the end of the
session. RedisServer(tls=True) serves TLS only, with a certificate for
127.0.0.1 the test makes (its own CA: the `ca` path).

    redis_server        session-scoped fixture: one plain server
    shared()            the same server, for the MOAT_TEST_STORE switch
                        (conftest.py, helpers.toml_dumps), started on first use
    RedisServer(...)    a server of a test's own (stop(), start() again on the
                        same port, command())

Every wait is bounded; nothing listens beyond 127.0.0.1."""

import atexit
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from helpers import HOST, free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
START_TIMEOUT = 15.0


def available():
    return os.path.exists(REDIS_SERVER)


def _resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def _read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise RuntimeError("unexpected reply %r" % line)


class RedisServer:
    def __init__(self, tls=False, password=None, databases=16):
        self.dir = Path(tempfile.mkdtemp(prefix="moat-redis-", dir="/tmp"))
        os.chmod(self.dir, 0o755)  # moat's serving account reads the CA
        self.port = free_port()
        self.tls = tls
        self.password = password
        self.databases = databases
        self.proc = None
        if tls:
            self._make_cert()

    def _make_cert(self):
        self.ca = self.dir / "ca.pem"
        self.key = self.dir / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", str(self.key),
             "-out", str(self.ca), "-addext", "subjectAltName=IP:127.0.0.1",
             "-addext", "basicConstraints=critical,CA:TRUE"],
            check=True, capture_output=True, timeout=60)
        os.chmod(self.ca, 0o644)
        os.chmod(self.key, 0o644)  # redis-server may run as another user than the tests

    def url(self, db=0, password=None, query=""):
        scheme = "rediss" if self.tls else "redis"
        auth = ":%s@" % password if password else ""
        if self.tls and not query:
            query = "?ca=%s" % self.ca
        return "%s://%s%s:%d/%d%s" % (scheme, auth, HOST, self.port, db, query)

    def start(self):
        args = [REDIS_SERVER, "--bind", HOST, "--save", "", "--appendonly", "no",
                "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log"),
                "--databases", str(self.databases), "--protected-mode", "no"]
        if self.tls:
            args += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file",
                     str(self.ca), "--tls-key-file", str(self.key), "--tls-ca-cert-file",
                     str(self.ca), "--tls-auth-clients", "no"]
        else:
            args += ["--port", str(self.port)]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if self.command("PING") == "PONG":
                    return self
            except (OSError, ConnectionError, RuntimeError, ssl.SSLError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.dir / "redis.log")
                raise AssertionError("redis-server did not start on port %d: %s" % (
                    self.port, log.read_text()[-2000:] if log.exists() else "no log"))
            time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _connect(self):
        s = socket.create_connection((HOST, self.port), timeout=5)
        if self.tls:
            ctx = ssl.create_default_context(cafile=str(self.ca))
            s = ctx.wrap_socket(s, server_hostname=HOST)
        return s

    def command(self, *args, db=0):
        """One command on a fresh connection (AUTH and SELECT first)."""
        with self._connect() as s:
            f = s.makefile("rb")
            pre = []
            if self.password:
                pre.append(("AUTH", self.password))
            if db:
                pre.append(("SELECT", db))
            for p in pre:
                s.sendall(_resp(*p))
                _read_reply(f)
            s.sendall(_resp(*args))
            return _read_reply(f)


# ------------------------------------------------------- the shared server

_shared = None


def shared():
    """The session's plain server for MOAT_TEST_STORE=redis (many databases:
    each users file gets its own, so sites do not share counters)."""
    global _shared
    if _shared is None:
        if not available():
            pytest.skip("redis-server is not installed")
        _shared = RedisServer(databases=4096).start()
        atexit.register(_shared.close)
    return _shared


def close_shared():
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None


@pytest.fixture(scope="session")
def redis_server():
    if not available():
        pytest.skip("redis-server is not installed")
    r = RedisServer().start()
    yield r
    r.close()
