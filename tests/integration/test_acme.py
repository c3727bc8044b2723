"""[tls.acme]: moat obtains, serves and renews its certificate from an ACME CA
by itself (RFC 8555), answering TLS-ALPN-01 (RFC 8737) and HTTP-01.

The CA is Debian's pebble, started here with its own config on 127.0.0.1:
its validation authority connects to moat's real listeners (pebble's
httpPort/tlsPort are moat's ports) and resolves the test's name through
pebble-challtestsrv's DNS server (every A query -> 127.0.0.1, no AAAA).
PEBBLE_VA_ALWAYS_VALID is never set: every challenge is really validated.
The served certificate is checked with Python's ssl against the root pebble
publishes on its management API.
"""

import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

import conftest  # noqa: E402
from conftest import AS_ROOT, Moat, base_config, serving_dir  # noqa: E402
from helpers import HOST, exchange, free_port, port_accepts, wait_for  # noqa: E402

SERVING_UID = getattr(conftest, "SERVING_UID", None)

PEBBLE = shutil.which("pebble")
CHALLTESTSRV = shutil.which("pebble-challtestsrv")
pytestmark = pytest.mark.skipif(not PEBBLE or not CHALLTESTSRV,
                                reason="Debian's pebble is not installed")

DOMAIN = "moat-acme.test"
ISSUE_TIMEOUT = float(os.environ.get("ACME_TIMEOUT", "90"))  # first issuance on a busy 2-core machine


class Pebble:
    """pebble + challtestsrv (DNS only) for one test."""

    def __init__(self, moat_bin, tmp, http_port, tls_port, validity=None, env=None, eab=None,
                 ocsp_url=""):
        self.tmp = Path(tmp)
        self.procs = []
        self.dns_port = free_port()
        self.acme_port = free_port()
        self.mgmt_port = free_port()
        self.ct_mgmt_port = free_port()
        api_cert, api_key = self.tmp / "api.pem", self.tmp / "api.key"
        subprocess.run([moat_bin, "cert", "selfsigned", "--cert", str(api_cert), "--key",
                        str(api_key), "127.0.0.1", "localhost"], check=True,
                       capture_output=True, cwd=str(self.tmp))
        os.chmod(api_cert, 0o644)
        self.ca_bundle = str(api_cert)
        cfg = {"pebble": {
            "listenAddress": "%s:%d" % (HOST, self.acme_port),
            "managementListenAddress": "%s:%d" % (HOST, self.mgmt_port),
            "certificate": str(api_cert), "privateKey": str(api_key),
            "httpPort": http_port, "tlsPort": tls_port,
            "ocspResponderURL": ocsp_url, "externalAccountBindingRequired": False}}
        if validity:
            cfg["pebble"]["certificateValidityPeriod"] = validity
        if eab:
            cfg["pebble"]["externalAccountBindingRequired"] = True
            cfg["pebble"]["externalAccountMACKeys"] = eab
        (self.tmp / "pebble.json").write_text(json.dumps(cfg))
        self.env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        self.env.pop("PEBBLE_VA_ALWAYS_VALID", None)
        self.env.update(env or {})
        self.dns = subprocess.Popen(
            [CHALLTESTSRV, "-dns01", "%s:%d" % (HOST, self.dns_port), "-http01", "",
             "-https01", "", "-tlsalpn01", "", "-management", "%s:%d" % (HOST, self.ct_mgmt_port),
             "-defaultIPv4", HOST, "-defaultIPv6", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(self.dns)
        wait_for(lambda: port_accepts(self.ct_mgmt_port), 15, what="challtestsrv")
        self.start()

    def start(self):
        self.log = open(self.tmp / "pebble.log", "ab")
        self.proc = subprocess.Popen(
            [PEBBLE, "-config", str(self.tmp / "pebble.json"), "-dnsserver",
             "%s:%d" % (HOST, self.dns_port)],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, cwd=str(self.tmp))
        self.procs.append(self.proc)
        wait_for(lambda: port_accepts(self.acme_port) and port_accepts(self.mgmt_port), 20,
                 what="pebble")

    def stop_ca(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()

    @property
    def directory(self):
        return "https://%s:%d/dir" % (HOST, self.acme_port)

    def root(self):
        r = requests.get("https://%s:%d/roots/0" % (HOST, self.mgmt_port),
                         verify=self.ca_bundle, timeout=10)
        r.raise_for_status()
        return r.text

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


def served_cert(tls_port, root_pem, name=DOMAIN):
    """The certificate moat serves for name, verified against root_pem."""
    ctx = ssl.create_default_context(cadata=root_pem)
    with socket.create_connection((HOST, tls_port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=name) as t:
            der = t.getpeercert(binary_form=True)
            info = t.getpeercert()
            t.sendall(b"GET /echo HTTP/1.1\r\nHost: " + name.encode() + b"\r\nConnection: close\r\n\r\n")
            reply = b""
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    break
                reply += chunk
    return der, info, reply


def serial_of(info):
    return info["serialNumber"]


def events(m, name):
    out = []
    for line in m.stdout.text.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") == name:
            out.append(e)
    return out


def wait_event(m, name, count=1, timeout=ISSUE_TIMEOUT):
    try:
        wait_for(lambda: len(events(m, name)) >= count or not m.alive(), timeout,
                 interval=0.2, what="%s event" % name)
    except AssertionError as exc:
        raise AssertionError("%s\nstderr:\n%s\nevents:\n%s" % (
            exc, m.stderr.text[-3000:], m.stdout.text[-3000:])) from None
    assert m.alive(), m.stderr.text[-3000:]
    return events(m, name)


class Setup:
    def __init__(self, moat_bin, tmp_path_factory, echo, challenge="tls-alpn-01",
                 validity=None, pebble_env=None, directory=None, eab=None, acme_extra=None,
                 env=None, ocsp_url=""):
        self.moat_bin = moat_bin
        self.http_port = free_port()
        self.tls_port = free_port()
        self.wd = serving_dir(tmp_path_factory.mktemp("acme"))
        self.pebble = None
        if directory is None:
            self.pebble = Pebble(moat_bin, serving_dir(tmp_path_factory.mktemp("pebble")), self.http_port,
                                 self.tls_port, validity=validity, env=pebble_env, eab=eab,
                                 ocsp_url=ocsp_url)
            directory = self.pebble.directory
        acme = {"directory": directory, "domains": [DOMAIN], "challenge": challenge,
                "email": "ops@example.com", "retry": "1s"}
        if self.pebble:
            acme["ca_bundle"] = self.pebble.ca_bundle
        acme.update(acme_extra or {})
        self.env = env
        self.config = base_config(self.http_port, echo.url(), self.wd, hosts=[DOMAIN],
                                  tls={"listen": ["%s:%d" % (HOST, self.tls_port)],
                                       "redirect": False, "acme": acme})
        self.moats = []

    def start(self):
        m = Moat(self.moat_bin, self.wd, config=self.config, port=self.http_port, env=self.env)
        self.moats.append(m)
        m.start()
        return m

    def close(self):
        for m in self.moats:
            if m.proc is not None and not m.stopped:
                rc = m.stop()
                assert rc == 0, m.stderr.text[-3000:]
            assert not any(mark in m.stderr.text for mark in conftest.SANITIZER_MARKS), \
                m.stderr.text[-8000:]
        if self.pebble:
            self.pebble.close()


@pytest.fixture
def acme_setup(moat_bin, tmp_path_factory, echo):
    made = []

    def make(**kw):
        s = Setup(moat_bin, tmp_path_factory, echo, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def write_expired(cert_path, key_path):
    """An expired certificate for DOMAIN and its key (a machine that was off)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2020, 2, 1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
            .sign(key, hashes.SHA256()))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def check_files(wd):
    acme = Path(wd) / "acme"
    for name in ("key.pem", "account.key"):
        st = (acme / name).stat()
        assert st.st_mode & 0o777 == 0o600, name
        if AS_ROOT:
            assert st.st_uid == SERVING_UID, "%s is not the serving user's" % name


def test_tls_alpn_01_first_issuance(acme_setup):
    s = acme_setup(challenge="tls-alpn-01")
    m = s.start()
    issued = wait_event(m, "cert.issued")
    assert issued[0]["domains"] == DOMAIN
    der, info, reply = served_cert(s.tls_port, s.pebble.root())
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert ("commonName", DOMAIN) in info["subject"][0] or \
        ("DNS", DOMAIN) in info["subjectAltName"]
    assert "Pebble" in str(info["issuer"])
    check_files(s.wd)
    # the managed certificate's handshakes offer HTTP/2 like any other
    ctx = ssl.create_default_context(cadata=s.pebble.root())
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection((HOST, s.tls_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=DOMAIN) as t:
            assert t.selected_alpn_protocol() == "h2"
    # a reload keeps serving it (the runtime is rebuilt, the certificate stays)
    mark = m.reload(s.config)
    assert m.stderr.wait_for(r"config reloaded", 15, start=mark, alive=m.alive)
    _, again, _ = served_cert(s.tls_port, s.pebble.root())
    assert serial_of(again) == serial_of(info)
    # A client offering acme-tls/1 for a name with no validation under way
    # gets no certificate at all (no HTTP either).
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["acme-tls/1"])
    with socket.create_connection((HOST, s.tls_port), timeout=10) as sock:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            with ctx.wrap_socket(sock, server_hostname=DOMAIN) as t:
                t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                t.recv(100)


def test_http_01_first_issuance_with_bad_nonces(acme_setup):
    # pebble refuses 30% of the good nonces (badNonce): without retrying
    # them, issuance (a dozen signed requests) would almost always fail
    s = acme_setup(challenge="http-01", pebble_env={"PEBBLE_WFE_NONCEREJECT": "30"})
    m = s.start()
    # Before and after: an unknown token is moat's 404, never the app's.
    r = requests.get("http://%s:%d/.well-known/acme-challenge/%s" % (HOST, s.http_port, "x" * 43),
                     headers={"Host": DOMAIN}, timeout=10)
    assert r.status_code == 404
    assert "echo" not in r.text.lower()
    wait_event(m, "cert.issued")
    der, info, reply = served_cert(s.tls_port, s.pebble.root())
    assert reply.startswith(b"HTTP/1.1 200")
    check_files(s.wd)
    assert not events(m, "cert.failed"), events(m, "cert.failed")


def test_renewal_at_two_thirds_swaps_the_served_certificate(acme_setup):
    s = acme_setup(validity=45)
    m = s.start()
    wait_event(m, "cert.issued")
    root = s.pebble.root()
    _, first, _ = served_cert(s.tls_port, root)
    renewed = wait_event(m, "cert.renewed", timeout=120)
    assert renewed[0]["domains"] == DOMAIN
    _, second, reply = served_cert(s.tls_port, root)
    assert serial_of(second) != serial_of(first)
    assert reply.startswith(b"HTTP/1.1 200")
    assert not events(m, "cert.failed"), events(m, "cert.failed")


def test_ca_down_at_start_keeps_serving_the_stored_certificate(acme_setup):
    s = acme_setup()
    m = s.start()
    wait_event(m, "cert.issued")
    root = s.pebble.root()
    _, before, _ = served_cert(s.tls_port, root)
    assert m.stop() == 0
    s.pebble.stop_ca()
    m2 = s.start()  # the CA is down: start-up must not wait for it
    _, after, reply = served_cert(s.tls_port, root)
    assert serial_of(after) == serial_of(before)
    assert reply.startswith(b"HTTP/1.1 200")
    assert not events(m2, "cert.issued") and not events(m2, "cert.failed")


def test_expired_certificate_is_replaced(acme_setup, moat_bin):
    s = acme_setup()
    acme = Path(s.wd) / "acme"
    acme.mkdir()
    serving_dir(acme)
    # an expired certificate for the name, as left by a machine that was off
    write_expired(acme / "cert.pem", acme / "key.pem")
    if AS_ROOT:
        for f in acme.iterdir():
            os.chown(f, SERVING_UID, -1)
    m = s.start()
    renewed = wait_event(m, "cert.renewed")
    assert renewed[0]["domains"] == DOMAIN
    _, info, reply = served_cert(s.tls_port, s.pebble.root())
    assert "Pebble" in str(info["issuer"])
    assert reply.startswith(b"HTTP/1.1 200")


class FakeCA(http.server.BaseHTTPRequestHandler):
    """A CA that answers every new account with 429 rateLimited."""
    hits = []
    retry_after = 4

    def log_message(self, *a):
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        self.send_header("Replay-Nonce", "nonce%d" % time.monotonic_ns())
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self._send(200)

    def do_GET(self):
        base = "http://%s:%d" % self.server.server_address
        body = json.dumps({"newNonce": base + "/nonce", "newAccount": base + "/acct",
                           "newOrder": base + "/order"}).encode()
        self._send(200, body, [("Content-Type", "application/json")])

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        FakeCA.hits.append(time.monotonic())
        body = json.dumps({"type": "urn:ietf:params:acme:error:rateLimited",
                           "detail": "too many new accounts"}).encode()
        self._send(429, body, [("Content-Type", "application/problem+json"),
                               ("Retry-After", str(FakeCA.retry_after))])


def test_rate_limited_answers_are_honoured(acme_setup):
    srv = http.server.ThreadingHTTPServer((HOST, 0), FakeCA)
    FakeCA.hits = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        s = acme_setup(directory="http://%s:%d/dir" % srv.server_address)
        m = s.start()
        failed = wait_event(m, "cert.failed", timeout=30)
        assert "rateLimited" in failed[0]["reason"]
        assert "next_attempt" in failed[0]
        wait_for(lambda: len(FakeCA.hits) >= 2, 30, interval=0.2, what="a second attempt")
        # retry = "1s" alone would come back after about a second; the CA
        # said 4: the second attempt can only come later, never sooner.
        assert FakeCA.hits[1] - FakeCA.hits[0] >= FakeCA.retry_after - 0.1
        # HTTPS without a certificate: handshakes fail, the server lives on
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection((HOST, s.tls_port), timeout=10) as sock:
            with pytest.raises(ssl.SSLError):
                ctx.wrap_socket(sock, server_hostname=DOMAIN)
        assert m.alive()
    finally:
        srv.shutdown()
        srv.server_close()


def test_cert_status_lists_the_certificate(acme_setup, moat_bin):
    s = acme_setup()
    m = s.start()
    wait_event(m, "cert.issued")
    out = subprocess.run([moat_bin, "cert", "status", "--config", str(m.config_path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert DOMAIN in out.stdout
    assert "Pebble" in out.stdout
    assert "not after" in out.stdout and "renewal" in out.stdout


EAB_KID = "kid-1"
EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"


def test_external_account_binding(acme_setup):
    # the CA requires EAB: without it moat says so and gets nothing
    s = acme_setup(eab={EAB_KID: EAB_KEY})
    m = s.start()
    failed = wait_event(m, "cert.failed")
    assert "external account" in failed[0]["reason"]
    assert m.stop() == 0
    # with the key id and MAC key (from the environment, never the file)
    s.config["tls"]["acme"].update(eab_kid=EAB_KID, eab_hmac="${env:MOAT_TEST_EAB}")
    s.env = {"MOAT_TEST_EAB": EAB_KEY}
    m2 = s.start()
    wait_event(m2, "cert.issued")
    _, info, reply = served_cert(s.tls_port, s.pebble.root())
    assert reply.startswith(b"HTTP/1.1 200")
    for out in (m2.stdout.text, m2.stderr.text, m.stdout.text, m.stderr.text):
        assert EAB_KEY not in out


def test_eab_mac_key_written_in_the_file_is_refused(acme_setup):
    s = acme_setup(directory="https://127.0.0.1:9/dir",
                   acme_extra={"eab_kid": EAB_KID, "eab_hmac": EAB_KEY})
    m = Moat(s.moat_bin, s.wd, config=s.config, port=s.http_port)
    m.start(wait=False)
    m.proc.wait(15)
    m.stderr.join()
    m.stopped = True
    assert m.proc.returncode != 0
    assert "eab_hmac" in m.stderr.text and EAB_KEY not in m.stderr.text


def test_stop_does_not_wait_for_a_silent_ca(acme_setup):
    # a CA that accepts the connection and never answers: SIGTERM must not
    # wait for libcurl's timeout (60 s; Moat.stop allows 20)
    silent = socket.socket()
    silent.bind((HOST, 0))
    silent.listen(8)
    try:
        s = acme_setup(directory="http://%s:%d/dir" % silent.getsockname())
        m = s.start()
        assert m.stderr.wait_for(r"acme: obtaining the certificate", 15, alive=m.alive)
        conn, _ = silent.accept()  # moat's request is in flight
        assert m.stop() == 0
        conn.close()
        assert not events(m, "cert.failed")  # stopping is not a failure
    finally:
        silent.close()


def test_domains_must_be_allowed_hosts(acme_setup):
    s = acme_setup(directory="https://127.0.0.1:9/dir")
    s.config["hosts"] = ["www.example.org"]
    m = Moat(s.moat_bin, s.wd, config=s.config, port=s.http_port)
    m.start(wait=False)
    m.proc.wait(15)
    m.stderr.join()
    m.stopped = True
    assert m.proc.returncode != 0
    assert "is not in 'hosts'" in m.stderr.text


def test_challenge_path_is_moats_own(acme_setup):
    # with [tls.acme] the challenge folder never reaches the app, whatever
    # the method or token; a path that leaves the folder is the app's again
    s = acme_setup(directory="https://127.0.0.1:9/dir")
    m = s.start()
    tok = "A" * 43
    for raw in (b"GET /.well-known/acme-challenge/%s HTTP/1.1\r\nHost: %s\r\n\r\n",
                b"POST /.well-known/acme-challenge/%s HTTP/1.1\r\nHost: %s\r\n"
                b"Content-Length: 0\r\n\r\n",
                b"GET /.well-known/acme-challenge/%s?x=1 HTTP/1.1\r\nHost: %s\r\n\r\n",
                b"GET /.well-known/./acme-challenge/%s HTTP/1.1\r\nHost: %s\r\n\r\n"):
        r = exchange(s.http_port, raw % (tok.encode(), DOMAIN.encode()))
        assert r.status == 404, raw
        assert b"/echo" not in r.body
    r = exchange(s.http_port, b"GET /.well-known/acme-challenge/%2e%2e/%2e%2e/echo HTTP/1.1\r\n"
                 b"Host: " + DOMAIN.encode() + b"\r\n\r\n")
    assert r.status == 200


def b64u(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def revoke(pebble, cert_der, key_pem):
    """RFC 8555 7.6: revokeCert signed with the certificate's own key (jwk)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    key = serialization.load_pem_private_key(key_pem, None)
    nums = key.public_key().public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": b64u(nums.x.to_bytes(32, "big")),
           "y": b64u(nums.y.to_bytes(32, "big"))}
    d = requests.get(pebble.directory, verify=pebble.ca_bundle, timeout=10).json()
    for _ in range(10):  # badNonce: retry with a fresh nonce
        nonce = requests.head(d["newNonce"], verify=pebble.ca_bundle,
                              timeout=10).headers["Replay-Nonce"]
        prot = b64u(json.dumps({"alg": "ES256", "jwk": jwk, "nonce": nonce,
                                "url": d["revokeCert"]}).encode())
        payload = b64u(json.dumps({"certificate": b64u(cert_der)}).encode())
        der = key.sign(("%s.%s" % (prot, payload)).encode(), ec.ECDSA(hashes.SHA256()))
        r_, s_ = decode_dss_signature(der)
        sig = b64u(r_.to_bytes(32, "big") + s_.to_bytes(32, "big"))
        r = requests.post(d["revokeCert"], data=json.dumps(
            {"protected": prot, "payload": payload, "signature": sig}),
            headers={"Content-Type": "application/jose+json"}, verify=pebble.ca_bundle,
            timeout=10)
        if r.status_code == 200:
            return
        assert "badNonce" in r.text, r.text
    raise AssertionError("pebble did not revoke the certificate")


def test_revoked_certificate_replaced_by_cert_renew(acme_setup, moat_bin):
    s = acme_setup()
    s.config["pid_file"] = str(Path(s.wd) / "moat.pid")
    m = s.start()
    wait_event(m, "cert.issued")
    root = s.pebble.root()
    der, first, _ = served_cert(s.tls_port, root)
    revoke(s.pebble, der, (Path(s.wd) / "acme" / "key.pem").read_bytes())
    serial = "%x" % int(first["serialNumber"], 16)
    st = requests.get("https://%s:%d/cert-status-by-serial/%s" % (HOST, s.pebble.mgmt_port, serial),
                      verify=s.pebble.ca_bundle, timeout=10).json()
    assert st["Status"] == "Revoked", st
    out = subprocess.run([moat_bin, "cert", "renew", "--config", str(m.config_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    wait_event(m, "cert.renewed")
    _, second, reply = served_cert(s.tls_port, root)
    assert serial_of(second) != serial_of(first)
    assert reply.startswith(b"HTTP/1.1 200")
    assert not (Path(s.wd) / "acme" / "renew").exists()  # asked once, done once
