"""TLS termination: protocol versions, cipher suites, ALPN, SNI certificate
selection, session resumption, HSTS, the HTTP -> HTTPS redirect and its
exemptions, the Host allow-list taken from the certificates, certificate
reload on SIGHUP, `moat cert selfsigned`, and HTTP over TLS (keep-alive,
large bodies, X-Forwarded-Proto).

Clients: Python's ssl module and requests (verifying against the test
certificates), the `openssl s_client` command, and a hand-built TLS 1.2
ClientHello for what no modern client library still offers (TLS 1.0/1.1,
3DES, RC4, NULL and EXPORT suites): the server's first answer (ServerHello
or alert) says whether the suite or version was accepted."""

import datetime
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import struct
import subprocess
import warnings

import pytest
import requests

from flask_echo import pattern_bytes
from conftest import AS_ROOT, serving_file
from helpers import HOST, IO_TIMEOUT, Conn, free_port, port_accepts, wait_for

OPENSSL = shutil.which("openssl")
TLS_WAIT = 15.0

# The suites of src/net/tls.c intermediate_ciphers (TLS 1.2).
INTERMEDIATE_ECDSA = {
    0xC02B: "ECDHE-ECDSA-AES128-GCM-SHA256",
    0xC02C: "ECDHE-ECDSA-AES256-GCM-SHA384",
    0xCCA9: "ECDHE-ECDSA-CHACHA20-POLY1305",
}
INTERMEDIATE_RSA = {
    0xC02F: "ECDHE-RSA-AES128-GCM-SHA256",
    0xC030: "ECDHE-RSA-AES256-GCM-SHA384",
    0xCCA8: "ECDHE-RSA-CHACHA20-POLY1305",
    0x009E: "DHE-RSA-AES128-GCM-SHA256",
    0x009F: "DHE-RSA-AES256-GCM-SHA384",
    0xCCAA: "DHE-RSA-CHACHA20-POLY1305",
}

# Suites that must never be negotiated: (id, name, which certificate's SNI).
WEAK = [
    (0x0004, "RC4-MD5", "rsa"),
    (0x0005, "RC4-SHA", "rsa"),
    (0xC011, "ECDHE-RSA-RC4-SHA", "rsa"),
    (0xC007, "ECDHE-ECDSA-RC4-SHA", "ecdsa"),
    (0x000A, "DES-CBC3-SHA", "rsa"),
    (0xC012, "ECDHE-RSA-DES-CBC3-SHA", "rsa"),
    (0xC008, "ECDHE-ECDSA-DES-CBC3-SHA", "ecdsa"),
    (0x0009, "DES-CBC-SHA", "rsa"),
    (0x0001, "NULL-MD5", "rsa"),
    (0x0002, "NULL-SHA", "rsa"),
    (0x003B, "NULL-SHA256", "rsa"),
    (0xC006, "ECDHE-ECDSA-NULL-SHA", "ecdsa"),
    (0xC010, "ECDHE-RSA-NULL-SHA", "rsa"),
    (0x0003, "EXP-RC4-MD5", "rsa"),
    (0x0006, "EXP-RC2-CBC-MD5", "rsa"),
    (0x0008, "EXP-DES-CBC-SHA", "rsa"),
    (0x0014, "EXP-EDH-RSA-DES-CBC-SHA", "rsa"),
    (0xC013, "ECDHE-RSA-AES128-SHA", "rsa"),
    (0xC014, "ECDHE-RSA-AES256-SHA", "rsa"),
    (0xC009, "ECDHE-ECDSA-AES128-SHA", "ecdsa"),
    (0xC00A, "ECDHE-ECDSA-AES256-SHA", "ecdsa"),
    (0x002F, "AES128-SHA", "rsa"),
    (0x0035, "AES256-SHA", "rsa"),
    (0x0033, "DHE-RSA-AES128-SHA", "rsa"),
    (0xC027, "ECDHE-RSA-AES128-SHA256", "rsa"),
    (0xC023, "ECDHE-ECDSA-AES128-SHA256", "ecdsa"),
    (0x003C, "AES128-SHA256", "rsa"),
    (0x009C, "AES128-GCM-SHA256 (no forward secrecy)", "rsa"),
    (0x009D, "AES256-GCM-SHA384 (no forward secrecy)", "rsa"),
    (0xC0AC, "ECDHE-ECDSA-AES128-CCM", "ecdsa"),
    (0x00A6, "ADH-AES128-GCM-SHA256 (anonymous)", "rsa"),
    (0xC018, "AECDH-AES128-SHA (anonymous)", "ecdsa"),
]

ALERT_HANDSHAKE_FAILURE = 40
ALERT_PROTOCOL_VERSION = 70


# ------------------------------------------------------------ certificates

def run(cmd, **kw):
    kw.setdefault("timeout", 30)
    return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)


def selfsigned(moat_bin, cert, key, *names, days=None):
    args = [moat_bin, "cert", "selfsigned", "--cert", str(cert), "--key", str(key)]
    if days is not None:
        args += ["--days", str(days)]
    r = run(args + list(names))
    assert r.returncode == 0, r.stderr
    return cert, key


def rsa_cert(cert, key, *names):
    san = ",".join(("IP:" if re.match(r"^[0-9.]+$", n) else "DNS:") + n for n in names)
    r = run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
             "-subj", "/CN=" + names[0], "-addext", "subjectAltName=" + san,
             "-keyout", str(key), "-out", str(cert)])
    assert r.returncode == 0, r.stderr
    os.chmod(key, 0o600)
    return cert, key


def der_of(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def fingerprint(der):
    return hashlib.sha256(der).hexdigest()


class Certs:
    pass


@pytest.fixture(scope="module")
def certs(moat_bin, tmp_path_factory):
    if not OPENSSL:
        pytest.fail("the openssl command is needed (Debian package openssl)")
    d = tmp_path_factory.mktemp("certs")
    c = Certs()
    c.dir = d
    c.ecdsa, c.ecdsa_key = selfsigned(moat_bin, d / "ecdsa.pem", d / "ecdsa.key",
                                      "localhost", "127.0.0.1")
    c.rsa, c.rsa_key = rsa_cert(d / "rsa.pem", d / "rsa.key", "rsa.test", "www.rsa.test")
    c.bundle = d / "bundle.pem"
    c.bundle.write_text(c.ecdsa.read_text() + c.rsa.read_text())
    c.ecdsa_der = der_of(c.ecdsa)
    c.rsa_der = der_of(c.rsa)
    return c


def tls_config(port, certs_and_keys, **tls):
    cfg = {"listen": ["%s:%d" % (HOST, port)],
           "cert": [str(c) for c, _ in certs_and_keys],
           "key": [str(k) for _, k in certs_and_keys]}
    cfg.update(tls)
    return cfg


def start_tls_moat(factory, upstream, pairs, tls=None, **overrides):
    tls_port = free_port()
    m = factory(upstream, tls=tls_config(tls_port, pairs, **(tls or {})), **overrides)
    m.tls_port = tls_port
    wait_for(lambda: port_accepts(tls_port), TLS_WAIT, what="moat's TLS listener")
    return m


@pytest.fixture(scope="module")
def gw(module_moat, echo, certs):
    """moat with two certificates: ECDSA for localhost/127.0.0.1 (the
    default, certs[0]) and RSA for rsa.test/www.rsa.test. Bodies over the
    WAF's inspection limit pass (its first MiB inspected), so the large
    uploads over TLS go through."""
    return start_tls_moat(module_moat, echo.url(),
                          [(certs.ecdsa, certs.ecdsa_key), (certs.rsa, certs.rsa_key)],
                          waf={"over_limit": "pass"})


# ------------------------------------------------------------- TLS clients

def client_ctx(certs=None, verify=True, min_version=None, max_version=None, alpn=None,
               ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(str(certs.bundle))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if min_version:
            ctx.minimum_version = min_version
        if max_version:
            ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def handshake(port, ctx, server_hostname="localhost", session=None):
    """Connects and handshakes; returns the SSLSocket (caller closes)."""
    sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
    try:
        return ctx.wrap_socket(sock, server_hostname=server_hostname, session=session)
    except BaseException:
        sock.close()
        raise


def served_der(port, server_hostname):
    """The certificate (DER) served for this SNI name (None: no SNI)."""
    ctx = client_ctx(verify=False)
    with handshake(port, ctx, server_hostname) as s:
        return s.getpeercert(binary_form=True)


class TLSConn(Conn):
    """helpers.Conn over TLS: the same strict HTTP/1.1 reader."""

    def __init__(self, port, ctx, server_hostname="localhost", timeout=IO_TIMEOUT):
        self.sock = handshake(port, ctx, server_hostname)
        self.sock.settimeout(timeout)
        self.buf = b""

    def peer_der(self):
        return self.sock.getpeercert(binary_form=True)


def s_client(port, *args, data=b"", timeout=20):
    """openssl s_client; returns (returncode, stdout+stderr)."""
    cmd = [OPENSSL, "s_client", "-connect", "%s:%d" % (HOST, port)] + list(args)
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


# ----------------------------------------------- a hand-built ClientHello

def _ext(ext_type, body):
    return struct.pack("!HH", ext_type, len(body)) + body


def client_hello(suites, sni="localhost", version=0x0303, alpn=None):
    """A TLS 1.2-style ClientHello (no supported_versions extension, so a
    server can at most answer TLS 1.2) offering exactly these suites."""
    exts = b""
    if sni:
        name = sni.encode()
        entry = b"\x00" + struct.pack("!H", len(name)) + name
        exts += _ext(0x0000, struct.pack("!H", len(entry)) + entry)
    groups = struct.pack("!HHH", 0x001D, 0x0017, 0x0018)
    exts += _ext(0x000A, struct.pack("!H", len(groups)) + groups)
    exts += _ext(0x000B, b"\x01\x00")
    sigalgs = struct.pack("!" + "H" * 11, 0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806,
                          0x0401, 0x0501, 0x0601, 0x0201, 0x0203)
    exts += _ext(0x000D, struct.pack("!H", len(sigalgs)) + sigalgs)
    exts += _ext(0x0017, b"")            # extended master secret
    exts += _ext(0xFF01, b"\x00")        # renegotiation info
    if alpn:
        protos = b"".join(bytes([len(p)]) + p.encode() for p in alpn)
        exts += _ext(0x0010, struct.pack("!H", len(protos)) + protos)
    cs = b"".join(struct.pack("!H", s) for s in suites)
    body = (struct.pack("!H", version) + os.urandom(32) + b"\x00"
            + struct.pack("!H", len(cs)) + cs + b"\x01\x00"
            + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        piece = sock.recv(n - len(data))
        if not piece:
            raise EOFError
        data += piece
    return data


def raw_hello(port, suites, sni="localhost", version=0x0303, want_cert=False, alpn=None):
    """Sends one ClientHello; returns ("alert", description),
    ("hello", version, suite, certificate DER or None, extensions) or
    ("closed",)."""
    with socket.create_connection((HOST, port), timeout=IO_TIMEOUT) as s:
        s.sendall(client_hello(suites, sni, version, alpn))
        hs = b""
        result = None
        try:
            while True:
                rtype, _, rlen = struct.unpack("!BHH", _recv_exact(s, 5))
                rec = _recv_exact(s, rlen)
                if rtype == 0x15:
                    return ("alert", rec[1])
                if rtype != 0x16:
                    return ("other", rtype)
                hs += rec
                while len(hs) >= 4:
                    mtype = hs[0]
                    mlen = struct.unpack("!I", b"\x00" + hs[1:4])[0]
                    if len(hs) < 4 + mlen:
                        break
                    msg, hs = hs[4:4 + mlen], hs[4 + mlen:]
                    if mtype == 2:
                        ver = struct.unpack("!H", msg[0:2])[0]
                        sid_len = msg[34]
                        off = 35 + sid_len
                        suite = struct.unpack("!H", msg[off:off + 2])[0]
                        exts = {}
                        p = off + 3
                        if len(msg) > p + 2:
                            end = p + 2 + struct.unpack("!H", msg[p:p + 2])[0]
                            p += 2
                            while p + 4 <= end:
                                et, el = struct.unpack("!HH", msg[p:p + 4])
                                exts[et] = msg[p + 4:p + 4 + el]
                                p += 4 + el
                        result = ["hello", ver, suite, None, exts]
                        if not want_cert:
                            return tuple(result)
                    elif mtype == 11 and result:
                        first_len = struct.unpack("!I", b"\x00" + msg[3:6])[0]
                        result[3] = msg[6:6 + first_len]
                        return tuple(result)
                    elif mtype == 14:  # ServerHelloDone without a certificate
                        return tuple(result)
        except (EOFError, ConnectionResetError):
            return tuple(result) if result else ("closed",)


# ------------------------------------------------------ versions, suites

@pytest.mark.parametrize("version,name", [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
                                          (ssl.TLSVersion.TLSv1_3, "TLSv1.3")])
def test_handshake_tls12_and_tls13(gw, certs, version, name):
    ctx = client_ctx(certs, min_version=version, max_version=version)
    with handshake(gw.tls_port, ctx, "localhost") as s:
        assert s.version() == name
        cipher = s.cipher()[0]
        assert any(a in cipher for a in ("GCM", "CHACHA20")), cipher


@pytest.mark.parametrize("flag", ["-tls1_2", "-tls1_3"])
def test_s_client_handshake_ok(gw, certs, flag):
    rc, out = s_client(gw.tls_port, "-servername", "localhost", flag, "-CAfile",
                       str(certs.bundle), "-verify_return_error", "-ign_eof",
                       data=b"GET /echo/sc HTTP/1.1\r\nHost: localhost\r\n"
                            b"Connection: close\r\n\r\n")
    assert rc == 0, out[-600:]
    assert "Verify return code: 0 (ok)" in out
    assert "HTTP/1.1 200 OK" in out
    assert ("TLSv1.2" if flag == "-tls1_2" else "TLSv1.3") in out


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1],
                         ids=["TLSv1.0", "TLSv1.1"])
def test_old_versions_refused_python(gw, version):
    ctx = client_ctx(verify=False, min_version=version, max_version=version,
                     ciphers="DEFAULT:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError) as exc:
        handshake(gw.tls_port, ctx).close()
    assert "PROTOCOL_VERSION" in str(exc.value).upper() or "ALERT" in str(exc.value).upper()


@pytest.mark.parametrize("flag", ["-tls1", "-tls1_1"])
def test_old_versions_refused_s_client(gw, flag):
    rc, out = s_client(gw.tls_port, "-servername", "localhost", flag,
                       "-cipher", "DEFAULT:@SECLEVEL=0")
    assert rc != 0, out
    assert "Cipher is (NONE)" in out or "alert protocol version" in out, out


@pytest.mark.parametrize("version", [0x0300, 0x0301, 0x0302], ids=["SSLv3", "TLSv1.0",
                                                                   "TLSv1.1"])
def test_old_versions_refused_raw(gw, version):
    res = raw_hello(gw.tls_port, list(INTERMEDIATE_ECDSA) + [0xC013, 0x002F, 0x000A],
                    version=version)
    assert res[0] in ("alert", "closed"), res
    if res[0] == "alert":
        assert res[1] in (ALERT_PROTOCOL_VERSION, ALERT_HANDSHAKE_FAILURE), res


@pytest.mark.parametrize("suite,name,which", WEAK, ids=[n for _, n, _ in WEAK])
def test_weak_suite_refused(gw, suite, name, which):
    sni = "localhost" if which == "ecdsa" else "rsa.test"
    res = raw_hello(gw.tls_port, [suite], sni=sni)
    assert res[0] in ("alert", "closed"), "%s was negotiated: %r" % (name, res)
    if res[0] == "alert":
        assert res[1] == ALERT_HANDSHAKE_FAILURE, res


@pytest.mark.parametrize("which", ["ecdsa", "rsa"])
def test_weak_suites_listed_first_are_not_chosen(gw, which):
    """With the weak suites first in the client's list, the server still
    picks a strong one."""
    sni = "localhost" if which == "ecdsa" else "rsa.test"
    good = INTERMEDIATE_ECDSA if which == "ecdsa" else INTERMEDIATE_RSA
    weak = [s for s, _, _ in WEAK]
    res = raw_hello(gw.tls_port, weak + list(good), sni=sni)
    assert res[0] == "hello", res
    assert res[1] == 0x0303
    assert res[2] in good, "suite 0x%04x chosen" % res[2]


@pytest.mark.parametrize("suite,name,which",
                         [(s, n, "ecdsa") for s, n in INTERMEDIATE_ECDSA.items()]
                         + [(s, n, "rsa") for s, n in INTERMEDIATE_RSA.items()],
                         ids=list(INTERMEDIATE_ECDSA.values()) + list(INTERMEDIATE_RSA.values()))
def test_intermediate_suites_accepted(gw, suite, name, which):
    sni = "localhost" if which == "ecdsa" else "rsa.test"
    res = raw_hello(gw.tls_port, [suite], sni=sni)
    assert res[0] == "hello", (name, res)
    assert res[2] == suite


def test_s_client_cbc_sha1_refused_gcm_accepted(gw):
    rc, out = s_client(gw.tls_port, "-servername", "rsa.test", "-tls1_2",
                       "-cipher", "ECDHE-RSA-AES128-SHA")
    assert rc != 0 and "Cipher is (NONE)" in out, out
    rc, out = s_client(gw.tls_port, "-servername", "localhost", "-tls1_2",
                       "-cipher", "ECDHE-ECDSA-AES128-SHA")
    assert rc != 0 and "Cipher is (NONE)" in out, out
    rc, out = s_client(gw.tls_port, "-servername", "rsa.test", "-tls1_2",
                       "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert rc == 0 and "Cipher is ECDHE-RSA-AES128-GCM-SHA256" in out, out


def test_modern_profile_refuses_tls12(moat, echo, certs):
    m = start_tls_moat(moat, echo.url(), [(certs.ecdsa, certs.ecdsa_key)],
                       tls={"profile": "modern"})
    res = raw_hello(m.tls_port, list(INTERMEDIATE_ECDSA))
    assert res[0] in ("alert", "closed"), res
    if res[0] == "alert":
        assert res[1] == ALERT_PROTOCOL_VERSION
    with pytest.raises(ssl.SSLError):
        handshake(m.tls_port, client_ctx(certs, max_version=ssl.TLSVersion.TLSv1_2)).close()
    rc, out = s_client(m.tls_port, "-servername", "localhost", "-tls1_2")
    assert rc != 0, out
    with handshake(m.tls_port, client_ctx(certs)) as s:
        assert s.version() == "TLSv1.3"
    r = requests.get("https://127.0.0.1:%d/echo/modern" % m.tls_port, verify=str(certs.bundle),
                     timeout=10)
    assert r.status_code == 200 and r.json()["path"] == "/echo/modern"


def test_close_notify_before_close(gw, certs):
    """When moat ends a TLS connection (here: the client asked for
    Connection: close), it sends a close_notify alert before closing TCP, so
    the client can tell the end of the data from a truncation (RFC 8446
    6.1). Python ignores a missing close_notify by default; this client
    does not."""
    ctx = client_ctx(certs)
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    with handshake(gw.tls_port, ctx) as s:
        s.sendall(b"GET /stream?n=3&size=10 HTTP/1.1\r\nHost: localhost\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        try:
            while True:
                piece = s.recv(65536)
                if not piece:
                    break
                data += piece
        except ssl.SSLError as exc:  # SSLEOFError, or UNEXPECTED_EOF_WHILE_READING
            pytest.fail("moat closed the TLS connection without close_notify after %d "
                        "bytes: %s" % (len(data), exc))
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b"0\r\n\r\n")
    rc, out = s_client(gw.tls_port, "-servername", "localhost", "-ign_eof",
                       data=b"GET /echo/cn HTTP/1.1\r\nHost: localhost\r\n"
                            b"Connection: close\r\n\r\n")
    assert "HTTP/1.1 200 OK" in out
    assert "unexpected eof" not in out, out[-400:]
    assert rc == 0, out[-400:]


def test_client_renegotiation_refused(gw):
    """TLS 1.2 client-initiated renegotiation (s_client's "R" command) is
    refused: a renegotiation costs the server a full handshake."""
    p = subprocess.Popen([OPENSSL, "s_client", "-connect", "%s:%d" % (HOST, gw.tls_port),
                          "-servername", "localhost", "-tls1_2"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(b"R\n", timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate(timeout=5)
    text = out.decode("utf-8", "replace")
    assert "RENEGOTIATING" in text, text[-600:]
    assert "no renegotiation" in text, text[-600:]


def test_garbage_on_tls_port_does_not_hurt(gw, certs):
    """Plain HTTP sent to the TLS port ends that connection; the listener
    keeps serving TLS."""
    with Conn(gw.tls_port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert c.closed_within(10)
        assert not c.buf.startswith(b"HTTP/"), c.buf[:100]
    with handshake(gw.tls_port, client_ctx(certs)) as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")


# ------------------------------------------------------------------- ALPN

def test_alpn_http11(gw, certs):
    """HTTP/2 is offered first (tls.http2, default on: test_h2.py); a
    client that offers only http/1.1 gets it."""
    with handshake(gw.tls_port, client_ctx(certs, alpn=["h2", "http/1.1"])) as s:
        assert s.selected_alpn_protocol() == "h2"
    with handshake(gw.tls_port, client_ctx(certs, alpn=["http/1.1"])) as s:
        assert s.selected_alpn_protocol() == "http/1.1"
    rc, out = s_client(gw.tls_port, "-servername", "localhost", "-alpn", "http/1.1")
    assert "ALPN protocol: http/1.1" in out, out
    res = raw_hello(gw.tls_port, list(INTERMEDIATE_ECDSA), alpn=["http/1.1"])
    assert res[0] == "hello"
    assert res[4].get(0x0010) == b"\x00\x09\x08http/1.1"
    res = raw_hello(gw.tls_port, list(INTERMEDIATE_ECDSA), alpn=["h2", "http/1.1"])
    assert res[4].get(0x0010) == b"\x00\x03\x02h2"


def test_alpn_h2_only_is_negotiated(gw, certs):
    """A client that offers only h2 gets it."""
    with handshake(gw.tls_port, client_ctx(certs, alpn=["h2"])) as s:
        assert s.selected_alpn_protocol() == "h2"
    rc, out = s_client(gw.tls_port, "-servername", "localhost", "-alpn", "h2")
    assert "ALPN protocol: h2" in out, out


# -------------------------------------------------------------------- SNI

@pytest.mark.parametrize("sni,which", [
    ("localhost", "ecdsa"),
    ("rsa.test", "rsa"),
    ("www.rsa.test", "rsa"),
    ("unknown.test", "ecdsa"),  # no certificate covers it: the default
    (None, "ecdsa"),            # no SNI at all: the default
])
def test_sni_selects_certificate(gw, certs, sni, which):
    want = certs.ecdsa_der if which == "ecdsa" else certs.rsa_der
    assert served_der(gw.tls_port, sni) == want


@pytest.mark.parametrize("sni,which", [("WWW.RSA.TEST", "rsa"), ("Rsa.Test", "rsa"),
                                       ("LOCALHOST", "ecdsa"), ("a.www.rsa.test", "ecdsa")])
def test_sni_names_case_insensitive_exact_labels(gw, certs, sni, which):
    good = INTERMEDIATE_ECDSA if which == "ecdsa" else INTERMEDIATE_RSA
    res = raw_hello(gw.tls_port, list(INTERMEDIATE_ECDSA) + list(INTERMEDIATE_RSA),
                    sni=sni, want_cert=True)
    assert res[0] == "hello", res
    assert res[2] in good
    assert res[3] == (certs.ecdsa_der if which == "ecdsa" else certs.rsa_der)


def test_sni_certificate_verifies_with_requests(gw, certs):
    r = requests.get("https://127.0.0.1:%d/echo/ip" % gw.tls_port, verify=str(certs.bundle),
                     timeout=10)
    assert r.status_code == 200
    ctx = client_ctx(certs)
    with TLSConn(gw.tls_port, ctx, "www.rsa.test") as c:
        r = c.request("GET", "/echo/rsa", host="www.rsa.test")
        assert r.status == 200
        assert c.peer_der() == certs.rsa_der


# ------------------------------------------------------------- resumption

@pytest.mark.parametrize("flag", ["-tls1_2", "-tls1_3"])
@pytest.mark.parametrize("sni", ["localhost", "rsa.test"])
def test_session_resumption_s_client(gw, tmp_path, flag, sni):
    sess = tmp_path / "sess.pem"
    req = ("GET /echo/resume HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
           % sni).encode()
    rc, out = s_client(gw.tls_port, "-servername", sni, flag, "-sess_out", str(sess),
                       "-ign_eof", data=req)
    assert rc == 0, out[-600:]
    assert re.search(r"^New, TLSv1\.[23]", out, re.M), out
    assert "HTTP/1.1 200 OK" in out
    assert sess.exists() and sess.stat().st_size > 0
    rc, out = s_client(gw.tls_port, "-servername", sni, flag, "-sess_in", str(sess),
                       "-ign_eof", data=req)
    assert rc == 0, out[-600:]
    assert re.search(r"^Reused, TLSv1\.[23]", out, re.M), out
    assert "HTTP/1.1 200 OK" in out


def test_session_resumption_python_tls12(gw, certs):
    ctx = client_ctx(certs, max_version=ssl.TLSVersion.TLSv1_2)
    with handshake(gw.tls_port, ctx) as s1:
        sess = s1.session
        assert not s1.session_reused
    with handshake(gw.tls_port, ctx, session=sess) as s2:
        assert s2.session_reused


# ------------------------------------------------------------------ HSTS

def test_hsts_on_https(gw, certs):
    r = requests.get("https://127.0.0.1:%d/echo/hsts" % gw.tls_port, verify=str(certs.bundle),
                     timeout=10)
    assert r.status_code == 200
    assert r.headers["Strict-Transport-Security"] == "max-age=63072000"


def test_hsts_on_moats_own_https_pages(gw, certs):
    ctx = client_ctx(certs)
    with TLSConn(gw.tls_port, ctx) as c:
        r = c.request("GET", "/.git/config", host="localhost")
    assert r.status == 404
    assert r.header("Strict-Transport-Security") == "max-age=63072000"
    with TLSConn(gw.tls_port, ctx) as c:
        r = c.request("GET", "/echo/x", host="evil.example")
    assert r.status == 421
    assert r.header("Strict-Transport-Security") == "max-age=63072000"


def test_no_hsts_on_plain_http(gw):
    with Conn(gw.port) as c:
        r = c.request("GET", "/echo/x", host="localhost")
    assert r.status == 308
    assert r.header("Strict-Transport-Security") is None
    with Conn(gw.port) as c:
        r = c.request("GET", "/.well-known/acme-challenge/tok", host="localhost")
    assert r.header("Strict-Transport-Security") is None
    with Conn(gw.port) as c:
        r = c.request("GET", "/x", host="evil.example")
    assert r.status == 421
    assert r.header("Strict-Transport-Security") is None


def test_no_hsts_without_tls_even_with_trusted_https_proxy(moat, echo):
    m = moat(echo.url(), trusted_proxies=["127.0.0.1/32"])
    with Conn(m.port) as c:
        r = c.request("GET", "/echo/x", headers={"X-Forwarded-Proto": "https"})
    assert r.status == 200
    assert r.header("Strict-Transport-Security") is None


def test_hsts_settings(moat, echo, certs):
    m = start_tls_moat(moat, echo.url(), [(certs.ecdsa, certs.ecdsa_key)],
                       headers={"hsts_max_age": 300, "hsts_include_subdomains": False,
                                "hsts_preload": True})
    r = requests.get("https://127.0.0.1:%d/echo/x" % m.tls_port, verify=str(certs.bundle),
                     timeout=10)
    assert r.headers["Strict-Transport-Security"] == "max-age=300; preload"
    m2 = start_tls_moat(moat, echo.url(), [(certs.ecdsa, certs.ecdsa_key)],
                        headers={"hsts_max_age": 0})
    r = requests.get("https://127.0.0.1:%d/echo/x" % m2.tls_port, verify=str(certs.bundle),
                     timeout=10)
    assert r.status_code == 200
    assert "Strict-Transport-Security" not in r.headers


@pytest.mark.parametrize("sni, host, want", [
    ("rsa.test", "rsa.test", "max-age=63072000; includeSubDomains"),
    ("localhost", "localhost", "max-age=63072000"),
    ("localhost", "dev.localhost", "max-age=63072000"),
    ("localhost", "127.0.0.1", "max-age=63072000"),
])
def test_hsts_include_subdomains_never_on_local_hosts(moat, echo, certs, sni, host, want):
    """Opted in, includeSubDomains goes to real names only: on localhost it
    would pin every other development site of the machine to HTTPS."""
    m = start_tls_moat(moat, echo.url(), [(certs.ecdsa, certs.ecdsa_key),
                                          (certs.rsa, certs.rsa_key)],
                       headers={"hsts_include_subdomains": True},
                       hosts=["rsa.test", "localhost", "dev.localhost", "127.0.0.1"])
    with TLSConn(m.tls_port, client_ctx(certs), server_hostname=sni) as c:
        r = c.request("GET", "/echo/x", host=host)
    assert r.status == 200, r.status
    assert r.header("Strict-Transport-Security") == want


# --------------------------------------------------------------- redirect

@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize("host,loc_host", [("localhost", "localhost"),
                                           ("localhost:%(plain)d", "localhost"),
                                           ("127.0.0.1:%(plain)d", "127.0.0.1"),
                                           ("LocalHost", "localhost")])
def test_redirect_308_keeps_path_and_query(gw, echo, method, host, loc_host):
    host = host % {"plain": gw.port}
    target = "/echo/a%20b/c?x=1&y=%2F&z=%C3%A9&empty="
    echo.clear_seen()
    with Conn(gw.port) as c:
        r = c.request(method, target, host=host, body=b"a=1" if method == "POST" else b"")
    assert r.status == 308, r
    assert r.header("Location") == "https://%s:%d%s" % (loc_host, gw.tls_port, target)
    assert r.header("Cache-Control") is not None
    assert [l for l in echo.seen() if not l.startswith("GET /seen")] == []


def test_redirect_target_is_reachable(gw, certs):
    """Following the redirect with requests lands on the app over HTTPS."""
    r = requests.get("http://127.0.0.1:%d/echo/follow?q=1" % gw.port,
                     verify=str(certs.bundle), timeout=10)
    assert r.status_code == 200
    assert r.url == "https://127.0.0.1:%d/echo/follow?q=1" % gw.tls_port
    assert [h.status_code for h in r.history] == [308]
    j = r.json()
    assert j["path"] == "/echo/follow" and j["query"] == "q=1"


def test_redirect_exempt_prefix_is_proxied(gw, echo):
    echo.clear_seen()
    with Conn(gw.port) as c:
        r = c.request("GET", "/.well-known/acme-challenge/tok-123", host="localhost")
    assert r.status == 404  # the echo app has no such route: its own 404
    assert r.header("Location") is None
    assert "GET /.well-known/acme-challenge/tok-123 HTTP/1.1" in echo.seen()


def test_redirect_exempt_configurable(moat, echo, certs):
    m = start_tls_moat(moat, echo.url(), [(certs.ecdsa, certs.ecdsa_key)],
                       tls={"redirect_exempt": ["/echo/plain/"]})
    with Conn(m.port) as c:
        r = c.request("GET", "/echo/plain/x", host="localhost")
    assert r.status == 200 and r.json()["path"] == "/echo/plain/x"
    # the proxied plain request says http to the app, and gets no HSTS
    assert ["X-Forwarded-Proto", "http"] in r.json()["headers"]
    assert r.header("Strict-Transport-Security") is None
    with Conn(m.port) as c:
        r = c.request("GET", "/.well-known/acme-challenge/tok", host="localhost")
    assert r.status == 308


def test_redirect_exempt_not_bypassed_by_dot_segments(gw, echo):
    """The exemption is for the ACME folder only: a target that starts with
    the exempt prefix but climbs out of it with '..' must not be proxied
    over plain HTTP (the app sees the normalised /echo/escaped)."""
    echo.clear_seen()
    for target in ("/.well-known/acme-challenge/../../echo/escaped",
                   "/.well-known/acme-challenge/%2e%2e/%2e%2e/echo/escaped"):
        with Conn(gw.port) as c:
            r = c.request("GET", target, host="localhost")
        assert r.status in (308, 400, 404), (target, r.status, r.body[:200])
    assert not [l for l in echo.seen() if "/echo/escaped" in l], \
        "a plain-HTTP request escaped the redirect through the exempt prefix"


def test_redirect_never_sends_a_malformed_location(gw):
    """Targets that are not a path ("*", absolute-form for another host)
    get no redirect, or one to a well-formed https URL on the TLS port."""
    from urllib.parse import urlsplit
    for method, target in [("OPTIONS", "*"), ("GET", "http://evil.example/x"),
                           ("GET", "http://localhost/abs?q=1")]:
        with Conn(gw.port) as c:
            r = c.request(method, target, host="localhost")
        if 300 <= r.status < 400:
            loc = r.header("Location")
            u = urlsplit(loc)
            assert u.scheme == "https" and u.hostname == "localhost", (target, loc)
            assert u.netloc == "localhost:%d" % gw.tls_port, (target, loc)
            assert u.path.startswith("/"), (target, loc)
            assert "evil" not in loc
        else:
            assert r.status in (400, 404, 405, 421), (target, r)


def test_untrusted_forwarded_proto_does_not_skip_redirect(gw, echo):
    echo.clear_seen()
    with Conn(gw.port) as c:
        r = c.request("GET", "/echo/xfp", host="localhost",
                      headers={"X-Forwarded-Proto": "https"})
    assert r.status == 308
    assert [l for l in echo.seen() if not l.startswith("GET /seen")] == []


def test_trusted_proxy_https_is_not_redirected(moat, echo, certs):
    """Behind a TLS-terminating load balancer listed in trusted_proxies, a
    request it forwards with X-Forwarded-Proto: https already came over
    HTTPS: redirecting it again to https:// would loop. Plain requests it
    forwards (X-Forwarded-Proto: http) are still redirected."""
    m = start_tls_moat(moat, echo.url(), [(certs.ecdsa, certs.ecdsa_key)],
                       trusted_proxies=["127.0.0.1/32"])
    with Conn(m.port) as c:
        r = c.request("GET", "/echo/x", host="localhost",
                      headers={"X-Forwarded-Proto": "http"})
    assert r.status == 308
    with Conn(m.port) as c:
        r = c.request("GET", "/echo/lb", host="localhost",
                      headers={"X-Forwarded-Proto": "https"})
    assert r.status == 200, (r.status, r.header("Location"))
    assert r.json()["path"] == "/echo/lb"
    assert ["X-Forwarded-Proto", "https"] in r.json()["headers"]


def test_redirect_off(moat, echo, certs):
    m = start_tls_moat(moat, echo.url(), [(certs.ecdsa, certs.ecdsa_key)],
                       tls={"redirect": False})
    with Conn(m.port) as c:
        r = c.request("GET", "/echo/x", host="localhost")
    assert r.status == 200
    assert r.header("Strict-Transport-Security") is None


# ------------------------------------------------------ hosts allow-list

@pytest.mark.parametrize("host", ["evil.example", "evil.example:%(plain)d", "localhost.evil",
                                  "rsa.test.evil", "x.localhost", "[::1]", "10.0.0.1"])
def test_host_not_allowed_421_not_redirect(gw, echo, host):
    host = host % {"plain": gw.port}
    echo.clear_seen()
    with Conn(gw.port) as c:
        r = c.request("GET", "/echo/x", host=host)
    assert r.status == 421, r
    assert r.header("Location") is None
    assert host.encode() not in r.body
    assert [l for l in echo.seen() if not l.startswith("GET /seen")] == []


def test_missing_host_refused(gw):
    with Conn(gw.port) as c:
        r = c.request("GET", "/echo/x", host=None, version="HTTP/1.0")
    assert r.status in (400, 421), r
    assert r.header("Location") is None


@pytest.mark.parametrize("host,ok", [("localhost", True), ("127.0.0.1", True),
                                     ("rsa.test", True), ("WWW.RSA.TEST", True),
                                     ("other.test", False), ("evil.example", False)])
def test_default_hosts_are_certificate_names(gw, certs, host, ok):
    with TLSConn(gw.tls_port, client_ctx(certs, verify=False)) as c:
        r = c.request("GET", "/echo/h", host="%s:%d" % (host, gw.tls_port))
    assert r.status == (200 if ok else 421), r


def test_explicit_hosts_replace_certificate_names(moat, echo, certs):
    m = start_tls_moat(moat, echo.url(), [(certs.ecdsa, certs.ecdsa_key)],
                       hosts=["app.example"])
    ctx = client_ctx(certs, verify=False)
    with TLSConn(m.tls_port, ctx) as c:
        assert c.request("GET", "/echo/h", host="app.example").status == 200
    with TLSConn(m.tls_port, ctx) as c:
        assert c.request("GET", "/echo/h", host="localhost").status == 421
    with Conn(m.port) as c:
        r = c.request("GET", "/echo/h", host="localhost")
    assert r.status == 421 and r.header("Location") is None
    with Conn(m.port) as c:
        r = c.request("GET", "/echo/h", host="app.example")
    assert r.status == 308
    assert r.header("Location") == "https://app.example:%d/echo/h" % m.tls_port


# ---------------------------------------------------------------- reload

@pytest.mark.skipif(not AS_ROOT, reason="moat drops privileges only when started as root")
def test_key_unreadable_after_drop_keeps_running_certificate(moat, echo, moat_bin, tmp_path):
    """A key only root can read: moat starts (it reads keys before dropping
    root), warns that a reload will fail, and a reload then keeps the
    running certificate instead of serving without one."""
    cert, key = selfsigned(moat_bin, tmp_path / "c.pem", tmp_path / "k.pem",
                           "localhost", "127.0.0.1")
    os.chmod(key, 0o600)  # root's own
    old_der = der_of(cert)
    m = start_tls_moat(moat, echo.url(), [(cert, key)])
    assert re.search(r"private key '.*k\.pem' is not readable by user nobody: a SIGHUP "
                     r"reload will fail", m.stderr.text), m.stderr.text
    selfsigned(moat_bin, cert, key, "localhost", "127.0.0.1")
    mark = len(m.stderr.text)
    m.signal(signal.SIGHUP)
    assert m.stderr.wait_for(r"reload failed, keeping the running config: cannot load private "
                             r"key .*Permission denied", 15, start=mark, alive=m.alive)
    keep = TLSConn(m.tls_port, client_ctx(verify=False))
    try:
        assert keep.request("GET", "/echo/x", host="localhost").status == 200
        assert keep.peer_der() == old_der
    finally:
        keep.close()


def test_certificate_reload_on_sighup(moat, echo, moat_bin, tmp_path):
    cert, key = selfsigned(moat_bin, tmp_path / "c.pem", tmp_path / "k.pem",
                           "localhost", "127.0.0.1")
    serving_file(key)  # the reload reads it as moat's serving user
    old_der = der_of(cert)
    m = start_tls_moat(moat, echo.url(), [(cert, key)], workers=2)
    ctx = client_ctx(verify=False)
    keep = TLSConn(m.tls_port, ctx)
    try:
        r = keep.request("GET", "/echo/before", host="localhost")
        assert r.status == 200
        assert keep.peer_der() == old_der

        # a new certificate (and key) for the same names, in the same files
        selfsigned(moat_bin, cert, key, "localhost", "127.0.0.1")
        serving_file(key)
        new_der = der_of(cert)
        assert new_der != old_der
        mark = len(m.stderr.text)
        m.signal(signal.SIGHUP)
        assert m.stderr.wait_for(r"config reloaded", 15, start=mark, alive=m.alive), \
            m.stderr.text[mark:]

        def new_connections_see_new_cert():
            # every worker: several new connections in a row
            return all(served_der(m.tls_port, "localhost") == new_der for _ in range(6))
        wait_for(new_connections_see_new_cert, 15, what="the new certificate")
        assert fingerprint(served_der(m.tls_port, "localhost")) == fingerprint(new_der)

        # the connection opened before the reload keeps working
        r = keep.request("GET", "/echo/after", host="localhost")
        assert r.status == 200 and r.json()["path"] == "/echo/after"
        assert keep.peer_der() == old_der
    finally:
        keep.close()


def test_bad_certificate_on_reload_keeps_the_old_one(moat, echo, moat_bin, tmp_path):
    cert, key = selfsigned(moat_bin, tmp_path / "c.pem", tmp_path / "k.pem",
                           "localhost", "127.0.0.1")
    der = der_of(cert)
    m = start_tls_moat(moat, echo.url(), [(cert, key)])
    # a key that does not match the certificate
    selfsigned(moat_bin, tmp_path / "other.pem", tmp_path / "other.key", "localhost")
    shutil.copy(tmp_path / "other.key", key)
    mark = len(m.stderr.text)
    m.signal(signal.SIGHUP)
    assert m.stderr.wait_for(r"reload failed", 15, start=mark, alive=m.alive), \
        m.stderr.text[mark:]
    assert served_der(m.tls_port, "localhost") == der
    r = requests.get("https://127.0.0.1:%d/echo/x" % m.tls_port, verify=str(cert), timeout=10)
    assert r.status_code == 200


def test_bad_certificate_at_start_refused(moat_bin, tmp_path):
    (tmp_path / "bad.pem").write_text("not a certificate\n")
    (tmp_path / "bad.key").write_text("not a key\n")
    port, tls_port = free_port(), free_port()
    cfg = tmp_path / "moat.toml"
    cfg.write_text('listen = ["127.0.0.1:%d"]\nupstream = ["http://127.0.0.1:9"]\n'
                   '[tls]\nlisten = ["127.0.0.1:%d"]\ncert = ["%s"]\nkey = ["%s"]\n'
                   % (port, tls_port, tmp_path / "bad.pem", tmp_path / "bad.key"))
    p = run([moat_bin, "serve", "--config", str(cfg)], timeout=20)
    assert p.returncode != 0
    assert "bad.pem" in p.stderr


# ------------------------------------------------------- moat cert selfsigned

def x509_text(path):
    r = run([OPENSSL, "x509", "-in", str(path), "-noout", "-text"])
    assert r.returncode == 0, r.stderr
    return r.stdout


def x509_dates(path):
    r = run([OPENSSL, "x509", "-in", str(path), "-noout", "-startdate", "-enddate"])
    out = dict(l.split("=", 1) for l in r.stdout.strip().splitlines())
    fmt = "%b %d %H:%M:%S %Y %Z"
    parse = lambda s: datetime.datetime.strptime(re.sub(r"\s+", " ", s.strip()), fmt)  # noqa
    return parse(out["notBefore"]), parse(out["notAfter"])


def pubkey_of_cert(path):
    return run([OPENSSL, "x509", "-in", str(path), "-noout", "-pubkey"]).stdout


def pubkey_of_key(path):
    return run([OPENSSL, "pkey", "-in", str(path), "-pubout"]).stdout


def test_cert_selfsigned_files_and_names(moat_bin, tmp_path):
    cert, key = tmp_path / "dev.pem", tmp_path / "dev.key"
    r = run([moat_bin, "cert", "selfsigned", "--cert", str(cert), "--key", str(key),
             "--days", "10", "app.test", "*.app.test", "127.0.0.1", "::1"])
    assert r.returncode == 0, r.stderr
    assert "dev.pem" in r.stdout and "dev.key" in r.stdout
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not (stat.S_IMODE(cert.stat().st_mode) & 0o022)
    text = x509_text(cert)
    assert "DNS:app.test" in text
    assert "DNS:*.app.test" in text
    assert "IP Address:127.0.0.1" in text
    assert re.search(r"IP Address:(0:0:0:0:0:0:0:1|::1)", text), text
    assert "id-ecPublicKey" in text
    assert "prime256v1" in text or "P-256" in text
    assert "ecdsa-with-SHA256" in text
    assert "TLS Web Server Authentication" in text
    nb, na = x509_dates(cert)
    assert abs((na - nb) - datetime.timedelta(days=10)) <= datetime.timedelta(minutes=10)
    assert pubkey_of_cert(cert) == pubkey_of_key(key)
    assert "BEGIN PRIVATE KEY" in key.read_text() or "BEGIN EC PRIVATE KEY" in key.read_text()


def test_cert_selfsigned_defaults(moat_bin, tmp_path):
    r = run([moat_bin, "cert", "selfsigned"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    assert cert.exists() and key.exists()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    text = x509_text(cert)
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    # A year by default (was 30 days, which scanners flag as expiring at once),
    # and under the 398 days browsers accept for a server certificate.
    nb, na = x509_dates(cert)
    assert abs((na - nb) - datetime.timedelta(days=365)) <= datetime.timedelta(minutes=10)
    assert na - nb <= datetime.timedelta(days=398)
    now = datetime.datetime.utcnow()
    assert na - now >= datetime.timedelta(days=364)
    # openssl's own expiry check agrees: still valid in 364 days, not in 366
    assert run([OPENSSL, "x509", "-in", str(cert), "-noout",
                "-checkend", str(364 * 86400)]).returncode == 0
    assert run([OPENSSL, "x509", "-in", str(cert), "-noout",
                "-checkend", str(366 * 86400)]).returncode == 1
    assert "365 days" in r.stdout


def test_cert_selfsigned_days_bounds(moat_bin, tmp_path):
    for bad in ("0", "826", "-1", "ten", ""):
        r = run([moat_bin, "cert", "selfsigned", "--cert", str(tmp_path / "c.pem"),
                 "--key", str(tmp_path / "k.pem"), "--days", bad])
        assert r.returncode == 2, (bad, r.stdout, r.stderr)
        assert not (tmp_path / "c.pem").exists()
    cert, key = selfsigned(moat_bin, tmp_path / "c.pem", tmp_path / "k.pem", "localhost",
                           days=825)
    nb, na = x509_dates(cert)
    assert abs((na - nb) - datetime.timedelta(days=825)) <= datetime.timedelta(minutes=10)


def test_cert_selfsigned_refuses_control_and_non_ascii_names(moat_bin, tmp_path):
    """A SAN is an A-label or an IP literal: no control bytes, no UTF-8;
    the refusal shows the name escaped."""
    for bad in ("a\x1b[2J.test", "x\u202e.test", "caf\u00e9.test", "a\tb"):
        r = subprocess.run([moat_bin, "cert", "selfsigned", "--cert", str(tmp_path / "c.pem"),
                            "--key", str(tmp_path / "k.pem"), bad], capture_output=True,
                           timeout=30)
        assert r.returncode == 2, bad
        assert b"\x1b" not in r.stderr and "\u202e".encode() not in r.stderr
        assert b"invalid name" in r.stderr
        assert not (tmp_path / "c.pem").exists()


def test_cert_selfsigned_tightens_existing_key_mode(moat_bin, tmp_path):
    key = tmp_path / "k.pem"
    key.write_text("old\n")
    os.chmod(key, 0o644)
    selfsigned(moat_bin, tmp_path / "c.pem", key, "localhost")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert pubkey_of_cert(tmp_path / "c.pem") == pubkey_of_key(key)


def test_cert_selfsigned_certificate_serves(moat, echo, moat_bin, tmp_path):
    """What `moat cert selfsigned` writes is accepted by moat and verifies
    for its names in a real client."""
    cert, key = selfsigned(moat_bin, tmp_path / "c.pem", tmp_path / "k.pem", "app.test",
                           "127.0.0.1")
    m = start_tls_moat(moat, echo.url(), [(cert, key)])
    r = requests.get("https://127.0.0.1:%d/echo/self" % m.tls_port, verify=str(cert),
                     timeout=10)
    assert r.status_code == 200
    ctx = ssl.create_default_context(cafile=str(cert))
    with handshake(m.tls_port, ctx, "app.test") as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize("args,rc,msg", [
    ([], 2, "usage"),
    (["bogus"], 2, "unknown command"),
    (["selfsigned", "--days", "0"], 2, "--days"),
    (["selfsigned", "--days", "826"], 2, "--days"),
    (["selfsigned", "--days", "abc"], 2, "--days"),
    (["selfsigned", "--days", "-5"], 2, "--days"),
    (["selfsigned", "--bogus"], 2, "usage"),
    (["selfsigned", "--cert"], 2, "usage"),
    (["selfsigned", "a b"], 2, "invalid name"),
    (["selfsigned", "a/b"], 2, "invalid name"),
    (["selfsigned", ""], 2, "invalid name"),
    (["selfsigned", "--cert", "/nonexistent-dir/c.pem", "--key", "KEY"], 1, "cannot write"),
    (["selfsigned", "--key", "/nonexistent-dir/k.pem", "--cert", "CERT"], 1, "cannot write"),
])
def test_cert_usage_errors(moat_bin, tmp_path, args, rc, msg):
    args = [a.replace("KEY", str(tmp_path / "k.pem")).replace("CERT", str(tmp_path / "c.pem"))
            for a in args]
    r = run([moat_bin, "cert"] + args, cwd=str(tmp_path))
    assert r.returncode == rc, (r.returncode, r.stdout, r.stderr)
    assert msg in r.stderr, r.stderr
    if rc == 2:
        assert not (tmp_path / "key.pem").exists() and not (tmp_path / "cert.pem").exists()


def test_cert_help(moat_bin):
    r = run([moat_bin, "cert", "--help"])
    assert r.returncode == 0
    assert "usage: moat cert selfsigned" in r.stdout


# ------------------------------------------------------------ HTTP over TLS

def test_keepalive_and_large_bodies_over_tls(gw, certs):
    ctx = client_ctx(certs)
    body = os.urandom(3 * 1024 * 1024 + 17)
    with TLSConn(gw.tls_port, ctx) as c:  # one TLS connection for all of these
        for i in range(3):
            r = c.request("GET", "/echo/ka%d" % i, host="localhost")
            assert r.status == 200 and r.json()["path"] == "/echo/ka%d" % i
        r = c.request("POST", "/echo/upload", host="localhost", body=body)
        assert r.status == 200
        assert r.json()["body_len"] == len(body)
        assert r.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
        n = 5 * 1024 * 1024 + 3
        r = c.request("GET", "/big?n=%d" % n, host="localhost")
        assert r.status == 200
        assert r.body == pattern_bytes(n)
        r = c.request("GET", "/stream?n=200&size=1000", host="localhost")
        assert r.status == 200 and len(r.body) == 200000
        r = c.request("GET", "/echo/last", host="localhost")
        assert r.status == 200
    with requests.Session() as s:
        for i in range(3):
            r = s.get("https://127.0.0.1:%d/echo/s%d" % (gw.tls_port, i),
                      verify=str(certs.bundle), timeout=20)
            assert r.status_code == 200


def test_x_forwarded_proto_https_reaches_app(gw, certs):
    ctx = client_ctx(certs)
    with TLSConn(gw.tls_port, ctx) as c:
        # an untrusted client's own X-Forwarded-Proto is replaced
        r = c.request("GET", "/echo/xfp", host="localhost",
                      headers={"X-Forwarded-Proto": "http", "X-Forwarded-Port": "80"})
        h = {}
        for k, v in r.json()["headers"]:
            h.setdefault(k.lower(), []).append(v)
        assert h["x-forwarded-proto"] == ["https"]
        assert h["x-forwarded-port"] == [str(gw.tls_port)]
        r = c.request("GET", "/proxyfix", host="localhost:%d" % gw.tls_port)
        j = r.json()
        assert j["scheme"] == "https"
        assert j["is_secure"] is True
        assert j["url_root"] == "https://localhost:%d/" % gw.tls_port
