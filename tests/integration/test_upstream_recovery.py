"""Recovery after the upstream comes back (issue 21, item 4): moat holds no
failed-upstream verdict, so the first request after the app accepts again
is served; a pooled connection that turns out dead is retried on a fresh
connection for idempotent bodiless requests, never for others. Counts and
outcomes only, no timing."""

import os
import signal
import socket
import threading

import requests

from conftest import Gunicorn
from helpers import port_accepts, wait_for
from raw_upstreams import read_request


def get(m, path="/echo", timeout=30):
    return requests.get(m.url + path, timeout=timeout)


def kill_gunicorn(g):
    """SIGKILL to gunicorn's master and its worker: the app dies at once,
    its sockets are closed by the kernel."""
    pid = g.proc.pid
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        children = []
    for c in children:
        try:
            os.kill(c, signal.SIGKILL)
        except ProcessLookupError:
            pass
    g.proc.kill()
    g.proc.wait(10)
    wait_for(lambda: not port_accepts(g.port), 15, what="the killed app's port to refuse")


def restart_on(port):
    g = Gunicorn(tcp_ports=1, unix=False)
    g.ports = [port]
    return g.start()  # returns once the port accepts


def test_first_request_after_gunicorn_restart_succeeds(moat):
    g = Gunicorn(tcp_ports=1, unix=False).start()
    port = g.port
    try:
        m = moat(g.url())
        # Warm up: both workers hold pooled keep-alive connections to the app.
        for _ in range(8):
            assert get(m).status_code == 200
        for cycle in range(3):
            kill_gunicorn(g)
            down = [get(m).status_code for _ in range(4)]
            assert all(s in (502, 503) for s in down), (cycle, down)
            g.stop()
            g = restart_on(port)
            # The first request after the app accepts again is served (at
            # most one more may fail); nothing holds the app "down".
            first = [get(m).status_code for _ in range(2)]
            assert 200 in first, (cycle, first)
            for _ in range(4):
                assert get(m).status_code == 200, cycle
    finally:
        g.stop()


class SwitchUpstream:
    """A raw upstream whose behaviour the test switches: "half" writes half a
    response head and closes; "ok" answers 200 and keeps the connection."""

    def __init__(self):
        self.mode = "half"
        self.requests = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(10)
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            while True:
                req = read_request(c)
                if not req:
                    return
                with self.lock:
                    self.requests += 1
                if self.mode == "half":
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
                    return
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stopped.set()
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def test_first_request_after_half_written_heads_succeeds(moat):
    up = SwitchUpstream()
    try:
        m = moat("http://127.0.0.1:%d" % up.port)
        for cycle in range(3):
            up.mode = "half"
            down = [get(m, "/").status_code for _ in range(4)]
            assert down == [502] * 4, (cycle, down)
            up.mode = "ok"
            r = get(m, "/")
            assert r.status_code == 200 and r.text == "ok", (cycle, r.status_code)
    finally:
        up.stop()


class CloseSecondUpstream:
    """Answers the first request on each connection and keeps it; closes the
    connection without a byte when a second request comes on it, like an app
    that dropped an idle keep-alive connection the moment moat reused it."""

    def __init__(self):
        self.per_conn = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(10)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            first = read_request(c)
            if not first:
                return
            with self.lock:
                self.per_conn.append(first.split(b" ", 1)[0])
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            second = read_request(c)
            if second:
                with self.lock:
                    self.per_conn.append(b"dropped " + second.split(b" ", 1)[0])
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stopped.set()
        self.sock.close()


def test_dead_pooled_connection_is_retried_only_for_idempotent_requests(moat):
    up = CloseSecondUpstream()
    try:
        m = moat("http://127.0.0.1:%d" % up.port, workers=1)
        assert get(m, "/").status_code == 200  # leaves a pooled connection
        # GET on the pooled connection: dropped, retried on a fresh one.
        assert get(m, "/").status_code == 200
        # DELETE (idempotent, bodiless) likewise.
        assert requests.delete(m.url + "/", timeout=30).status_code == 200
        # POST may have been acted on: never sent twice, the client gets 502.
        r = requests.post(m.url + "/", timeout=30)
        assert r.status_code == 502
        with up.lock:
            log = list(up.per_conn)
        assert log.count(b"dropped POST") == 1, log
        assert log.count(b"POST") == 0, log
        assert log.count(b"GET") == 2 and log.count(b"DELETE") == 1, log
    finally:
        up.stop()
