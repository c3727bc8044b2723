"""Loads tests/data/benign/corpus.jsonl (see gen.py for its format), turns
each entry into the exact bytes of an HTTP/1.1 request, sends it over a new
TCP connection and reads the answer. Used by tests/integration/
test_benign.py and bench/waf_benign/benign.py; standard library only.

Generated bodies (uploads) come from a seeded generator, so every replay
sends the same bytes: pattern(fill, size, seed).
"""

import base64
import http.client
import json
import random
import socket
import struct
import zlib
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus.jsonl"
TIMEOUT = 60.0
SEND_PIECE = 65536


def load(path=CORPUS):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pattern(fill, size, seed):
    """size bytes that look like a file of kind fill: the format's magic
    header, then seeded random bytes (binary kinds) or seeded text."""
    if size <= 0:
        return b""
    rng = random.Random(seed)
    if fill == "png":
        head = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1920, 1080, 8, 2,
                                                                      0, 0, 0))
        n = max(0, size - len(head) - 12 - 12)
        out = head + _png_chunk(b"IDAT", rng.randbytes(n)) + _png_chunk(b"IEND", b"")
    elif fill == "jpeg":
        head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
        out = head + rng.randbytes(max(0, size - len(head) - 2)) + b"\xff\xd9"
    elif fill == "pdf":
        head = (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
                b"4 0 obj\n<< /Length 0 /Filter /FlateDecode >>\nstream\n")
        tail = b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
        out = head + rng.randbytes(max(0, size - len(head) - len(tail))) + tail
    elif fill == "zip":
        head = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + rng.randbytes(20)
        out = head + rng.randbytes(max(0, size - len(head)))
    elif fill == "mp4":
        head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
        out = head + rng.randbytes(max(0, size - len(head)))
    elif fill in ("csv", "text"):
        words = ("alpha beta gamma delta river stone paper cloud window garden orange "
                 "number total city name date amount").split()
        lines = []
        if fill == "csv":
            lines.append("id,name,city,date,amount")
            for i in range(2000):
                lines.append("%d,%s %s,%s,2023-%02d-%02d,%d.%02d" % (
                    i, rng.choice(words).title(), rng.choice(words).title(), rng.choice(words),
                    rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 9999),
                    rng.randint(0, 99)))
        else:
            for i in range(2000):
                lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(4, 14))) + ".")
        block = ("\n".join(lines) + "\n").encode()
        out = block * (size // len(block) + 1)
    else:
        raise ValueError("unknown fill %r" % fill)
    return out[:size]


def render_multipart(mp):
    bnd = mp["boundary"].encode()
    out = []
    for p in mp["parts"]:
        name = p["name"].encode()
        out.append(b"--" + bnd + b"\r\n")
        if "filename" in p:
            fname = p["filename"].replace('"', "%22").encode("utf-8")
            out.append(b'Content-Disposition: form-data; name="' + name + b'"; filename="' +
                       fname + b'"\r\n')
            out.append(b"Content-Type: " + p["content_type"].encode() + b"\r\n\r\n")
            out.append(pattern(p["fill"], p["size"], p["seed"]))
        else:
            out.append(b'Content-Disposition: form-data; name="' + name + b'"\r\n\r\n')
            out.append(p["value"].encode("utf-8"))
        out.append(b"\r\n")
    out.append(b"--" + bnd + b"--\r\n")
    return b"".join(out)


def body_of(e):
    if "body" in e:
        return e["body"].encode("utf-8")
    if "body_b64" in e:
        return base64.b64decode(e["body_b64"])
    if "multipart" in e:
        return render_multipart(e["multipart"])
    if "blob" in e:
        b = e["blob"]
        return pattern(b["fill"], b["size"], b["seed"])
    return None


def body_size(e):
    """The body's length without generating it (for bounding a run)."""
    if "multipart" in e:
        return sum(p.get("size", 0) for p in e["multipart"]["parts"]) + 200 * len(
            e["multipart"]["parts"])
    if "blob" in e:
        return e["blob"]["size"]
    b = body_of(e)
    return len(b) if b else 0


def _chunk(body, sizes):
    out = []
    i = k = 0
    while i < len(body):
        n = sizes[min(k, len(sizes) - 1)]
        piece = body[i:i + n]
        out.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
        i += n
        k += 1
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def request_bytes(e, host):
    """The request's exact bytes: head and (framed) body."""
    body = body_of(e)
    lines = ["%s %s %s" % (e["method"], e["target"], e.get("version", "HTTP/1.1"))]
    for name, value in e["headers"]:
        lines.append("%s: %s" % (name, value.replace("{host}", host)))
    if body is not None and "chunked" not in e:
        if body or e["method"] in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: %d" % len(body))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    if body is None:
        return head
    if "chunked" in e:
        return head + _chunk(body, e["chunked"])
    return head + body


class Answer:
    def __init__(self, status, headers, body, error=None):
        self.status = status          # int, or 0 when no answer came
        self.headers = headers        # {lower-case name: value}
        self.body = body
        self.error = error

    @property
    def request_id(self):
        rid = self.headers.get("x-request-id")
        if rid:
            return rid
        try:
            return json.loads(self.body).get("request_id")
        except (ValueError, AttributeError):
            return None


def send(e, host, port, timeout=TIMEOUT):
    """Sends entry e to host:port on a new connection; returns an Answer.
    A server that answers early (413, 403 before the body) and closes is
    fine: the answer is read after the failed send."""
    data = request_bytes(e, "%s:%d" % (host, port))
    sock = socket.create_connection((host, port), timeout=timeout)
    err = None
    try:
        try:
            view = memoryview(data)
            for off in range(0, len(view), SEND_PIECE):
                sock.sendall(view[off:off + SEND_PIECE])
        except OSError as exc:  # answered and closed before the whole body
            err = "send: %s" % exc
        resp = http.client.HTTPResponse(sock, method=e["method"])
        try:
            resp.begin()
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            return Answer(0, {}, b"", (err + "; " if err else "") + "read: %r" % exc)
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return Answer(resp.status, headers, body, err)
    finally:
        sock.close()


def refused(direct, proxied):
    """A false refusal: the proxy answered 4xx/5xx (or nothing) where the
    application itself did not refuse."""
    if direct.status == 0 or direct.status >= 400:
        return False
    return proxied.status == 0 or proxied.status >= 400
