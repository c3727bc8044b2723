"""bench/stop/stop.py: the graceful stop of a proxy under keep-alive load
(issue 22, item 1), driven by bench/stop/run.sh. Starts the proxy command
given, sends it load from CLIENTS keep-alive connections (GETs and POSTs
back to back, and IN_FLIGHT slow requests of 1.5 s), signals it mid-run and
counts per client connection: requests answered, requests sent whole that
got no answer (lost), answers that said Connection: close, and closes seen
while idle (before the next request was sent). Prints one JSON line."""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"


def read_response(sock, buf):
    """One response with Content-Length or chunked framing: (status,
    connection header, rest) or None when the connection ended first."""
    while b"\r\n\r\n" not in buf:
        piece = sock.recv(65536)
        if not piece:
            return None
        buf += piece
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    hdr = {}
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        hdr[k.strip().lower()] = v.strip()
    if b"content-length" in hdr:
        n = int(hdr[b"content-length"])
        while len(rest) < n:
            piece = sock.recv(65536)
            if not piece:
                return None
            rest += piece
        rest = rest[n:]
    elif hdr.get(b"transfer-encoding", b"").lower() == b"chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            piece = sock.recv(65536)
            if not piece:
                return None
            rest += piece
        rest = b""
    return status, hdr.get(b"connection", b"").lower(), rest


class Client(threading.Thread):
    def __init__(self, port, index, slow=False):
        super().__init__(daemon=True)
        self.port, self.index, self.slow = port, index, slow
        self.answered = self.lost = 0
        self.close_told = self.idle_closed = False

    def run(self):
        try:
            s = socket.create_connection((HOST, self.port), timeout=30)
        except OSError:
            return
        buf = b""
        for i in range(100000):
            r, _, _ = select.select([s], [], [], 0)
            if r:
                try:
                    if s.recv(1, socket.MSG_PEEK) == b"":
                        self.idle_closed = True
                        break
                except OSError:
                    self.idle_closed = True
                    break
            if self.slow:
                raw = b"GET /slow?ms=1500 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            elif i % 3:
                body = b"n=%d&c=%d" % (i, self.index)
                raw = (b"POST /echo/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                       b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
                       % (len(body), body))
            else:
                raw = b"GET /echo/k?i=%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % i
            try:
                s.sendall(raw)
            except OSError:
                self.idle_closed = True
                break
            try:
                got = read_response(s, buf)
            except OSError:
                got = None
            if got is None:
                self.lost += 1
                break
            status, conn, buf = got
            self.answered += 1
            if conn == b"close":
                self.close_told = True
                break
        s.close()


def main():
    port, sig, clients, in_flight = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                     int(sys.argv[4]))
    pid = int(sys.argv[5])
    cs = [Client(port, i) for i in range(clients)]
    cs += [Client(port, 1000 + i, slow=True) for i in range(in_flight)]
    for c in cs:
        c.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(c.answered >= 2 for c in cs[:clients]):
        time.sleep(0.05)
    time.sleep(0.7)  # the slow ones are in flight
    os.kill(pid, getattr(signal, sig))
    for c in cs:
        c.join(60)
    fast = cs[:clients]
    print(json.dumps({
        "clients": clients,
        "lost": sum(c.lost for c in fast),
        "told_close": sum(1 for c in fast if c.close_told),
        "idle_closed": sum(1 for c in fast if c.idle_closed),
        "in_flight_answered": sum(c.answered for c in cs[clients:]),
        "in_flight": in_flight,
        "in_flight_lost": sum(c.lost for c in cs[clients:]),
    }))


if __name__ == "__main__":
    main()
