"""Small raw-socket upstreams for what a Flask app under gunicorn cannot do:
answer 101 and echo bytes (WebSocket passthrough), send malformed or
ambiguous responses (the 502 tests), accept and never answer (504), reset
the connection (502), send 1xx before the final response.

Each is a real TCP peer on 127.0.0.1 served by a thread; the tests run them
in-process so they can read back what the upstream received.

    srv = RawUpstream(respond(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"))
    srv.start(); ... srv.port ... srv.received ... srv.stop()

Also runnable alone for manual checks:

    /usr/bin/python3 raw_upstreams.py ws|hang|reset|cl-te|... [PORT]
"""

import hashlib
import base64
import socket
import struct
import sys
import threading

IO_TIMEOUT = 30.0


def read_head(conn, limit=1 << 20):
    """Reads until the end of a request head; returns (head, extra bytes)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        piece = conn.recv(65536)
        if not piece:
            return buf, b""
        buf += piece
        if len(buf) > limit:
            break
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def head_content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return 0
    return 0


def read_request(conn):
    """Reads one request head and its Content-Length body (chunked bodies are
    not needed by these upstreams). Returns the raw bytes, or b"" at EOF."""
    head, rest = read_head(conn)
    if not head:
        return b""
    need = head_content_length(head) - len(rest)
    while need > 0:
        piece = conn.recv(min(need, 65536))
        if not piece:
            break
        rest += piece
        need -= len(piece)
    return head + rest


class RawUpstream:
    """A threaded TCP server on 127.0.0.1 whose every connection is given to
    handler(conn, server). Records each request it read in .received."""

    def __init__(self, handler, port=0):
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.connections = 0
        self.lock = threading.Lock()
        self._conns = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self._thread.start()
        return self

    def record(self, data):
        with self.lock:
            self.received.append(data)

    def _accept_loop(self):
        self.sock.settimeout(0.2)
        while not self._stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            conn.settimeout(IO_TIMEOUT)
            with self.lock:
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.handler(conn, self)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self):
        self._stopped.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    c.close()
                except OSError:
                    pass
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------- handlers

def respond(raw, keep_open=False):
    """For each request on the connection, send the raw response bytes; then
    close (or, with keep_open, wait for the next request)."""

    def handler(conn, server):
        while True:
            req = read_request(conn)
            if not req:
                return
            server.record(req)
            conn.sendall(raw)
            if not keep_open:
                try:
                    conn.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                # Let the peer read everything before the socket goes away.
                try:
                    while conn.recv(65536):
                        pass
                except OSError:
                    pass
                return

    return handler


def hang(conn, server):
    """Reads the request and never answers (until the peer gives up)."""
    req = read_request(conn)
    server.record(req)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def reset(conn, server):
    """Reads the request, then resets the connection (RST, no response)."""
    req = read_request(conn)
    server.record(req)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def close_without_response(conn, server):
    """Reads the request, then closes cleanly without a byte of response."""
    req = read_request(conn)
    server.record(req)
    conn.shutdown(socket.SHUT_RDWR)


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_echo(conn, server):
    """Answers a WebSocket upgrade with 101 and then echoes every byte, which
    is what a proxy must pass through untouched in both directions."""
    head, rest = read_head(conn)
    server.record(head)
    key = b""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                 b"Upgrade: websocket\r\n"
                 b"Connection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    if rest:
        conn.sendall(rest)
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def _ok(body=b"ok"):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
            % len(body)) + body


# A second response hidden in the body: what a desync would deliver to the
# next client if the proxy believed the wrong framing.
_HIDDEN = (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nX-Smuggled: yes\r\n\r\nsmuggled!")

# Ambiguous or malformed upstream responses; moat must answer each with 502
# (or, when it could only tell after the head was sent, cut the response).
BAD_RESPONSES = {
    "cl-te": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"0\r\n\r\n" + _HIDDEN),
    "te-cl": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n"
              b"5\r\nhello\r\n0\r\n\r\n"),
    "dup-cl-differ": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n"
                      b"ok" + _HIDDEN),
    "dup-cl-same": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"),
    "cl-list": (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"),
    "cl-space-before-colon": (b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"),
    "te-space-before-colon": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                              b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
    "te-xchunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\n"),
    "te-chunked-twice": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    "bare-lf": (b"HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nok"),
    "bare-lf-one-header": (b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nok"),
    "bare-cr": (b"HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\nContent-Length: 2\r\n\r\nok"),
    "obs-fold": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Folded: a\r\n b\r\n\r\nok"),
    "obs-fold-te": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\n"),
    "nul-in-header": (b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok"),
    "ctl-in-header": (b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\nok"),
    "bad-status-line": (b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok"),
    "http09-response": (b"<html>no status line</html>\n"),
    "cl-negative": (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok"),
    "cl-not-a-number": (b"HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok"),
}

# Bad framing inside a chunked body: the head was valid, so moat may already
# have sent it; then the client must see a cut response, never a complete one.
BAD_CHUNKED_BODIES = {
    "chunk-size-0x": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"0x5\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-negative": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"-1\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-overflow": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"FFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n"),
    "chunk-missing-crlf": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"5\r\nhelloXX0\r\n\r\n"),
}


def _main(argv):
    modes = {"ws": ws_echo, "hang": hang, "reset": reset, "close": close_without_response,
             "ok": respond(_ok(), keep_open=True)}
    for name, raw in list(BAD_RESPONSES.items()) + list(BAD_CHUNKED_BODIES.items()):
        modes[name] = respond(raw)
    if len(argv) < 2 or argv[1] not in modes:
        print("usage: raw_upstreams.py MODE [PORT]\nmodes: " + " ".join(sorted(modes)))
        return 2
    port = int(argv[2]) if len(argv) > 2 else 0
    srv = RawUpstream(modes[argv[1]], port).start()
    print("listening on http://127.0.0.1:%d (%s)" % (srv.port, argv[1]), flush=True)
    try:
        srv._thread.join()
    except KeyboardInterrupt:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
