"""tls.ocsp: moat asks the served certificate's OCSP responder (RFC 6960)
whether it was revoked, staples the good answer, replaces a revoked ACME
certificate by itself and reports a revoked tls.cert.

The responder is `openssl ocsp` itself: a small HTTP server on 127.0.0.1
hands each POSTed request to `openssl ocsp -reqin ... -respout ...` with an
index file written for that request (`openssl ocsp -port` would listen on
every interface). For ACME the index says what pebble's management API says
about the serial (`/cert-status-by-serial/`), and the answers are signed
with pebble's intermediate key, as a CA's responder would sign them.
"""

import datetime
import http.server
import ipaddress
import subprocess
import threading
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from conftest import serving_dir, serving_file  # noqa: E402
from helpers import HOST, free_port, port_accepts, wait_for  # noqa: E402
from test_acme import (DOMAIN, acme_setup, events, revoke, served_cert,  # noqa: E402,F401
                       serial_of, wait_event)
from test_tls import OPENSSL, s_client  # noqa: E402

WAIT = 60  # a few checks 2 s apart, on a busy 2-core machine


# ------------------------------------------------------------ certificates

def _pem(obj):
    return obj.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_leaf(folder, ca, ca_key, ocsp_url, names, stem):
    """A chain file (leaf, then its issuer) and key, the leaf naming
    ocsp_url as its OCSP responder. Returns (chain path, key path, serial)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n)
            for n in names]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    chain, keyfile = Path(folder) / (stem + ".pem"), Path(folder) / (stem + ".key")
    chain.write_bytes(_pem(cert) + _pem(ca))
    keyfile.write_bytes(_key_pem(key))
    serving_file(keyfile)
    return chain, keyfile, cert.serial_number


# --------------------------------------------------------------- responder

class Responder:
    """An OCSP responder on 127.0.0.1 answering with `openssl ocsp`.
    status_of(serial) -> "good", "revoked" or None (unknown to it). The
    answers name ca (the issuer the requests' CertIDs must match) and are
    signed by signer/signer_key (the issuer itself, or a forger)."""

    def __init__(self, folder, status_of):
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.status_of = status_of
        self.requests = 0
        self.replay = False  # True: every answer is the first one (a replay)
        self.first = None
        self.lock = threading.Lock()
        me = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    der = me.answer(body)
                except Exception:  # noqa: BLE001 - the client sees a 500, the test the log
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(der)))
                self.end_headers()
                self.wfile.write(der)

        self.srv = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://%s:%d/" % self.srv.server_address

    def set_ca(self, ca_pem, signer_pem=None, signer_key_pem=None):
        (self.dir / "ca.pem").write_bytes(ca_pem)
        (self.dir / "signer.pem").write_bytes(signer_pem or ca_pem)
        (self.dir / "signer.key").write_bytes(signer_key_pem)

    def answer(self, req_der):
        serial = ocsp.load_der_ocsp_request(req_der).serial_number
        status = self.status_of(serial)
        hexserial = "%X" % serial
        hexserial = "0" * (len(hexserial) % 2) + hexserial
        line = ""
        if status == "good":
            line = "V\t301231000000Z\t\t%s\tunknown\t/CN=x\n" % hexserial
        elif status == "revoked":
            line = "R\t301231000000Z\t%s,keyCompromise\t%s\tunknown\t/CN=x\n" % (
                datetime.datetime.now(datetime.timezone.utc).strftime("%y%m%d%H%M%SZ"),
                hexserial)
        with self.lock:
            self.requests += 1
            (self.dir / "index.txt").write_text(line)
            (self.dir / "req.der").write_bytes(req_der)
            out = subprocess.run(
                [OPENSSL, "ocsp", "-index", str(self.dir / "index.txt"),
                 "-CA", str(self.dir / "ca.pem"), "-rsigner", str(self.dir / "signer.pem"),
                 "-rkey", str(self.dir / "signer.key"), "-reqin", str(self.dir / "req.der"),
                 "-respout", str(self.dir / "resp.der"), "-ndays", "1"],
                capture_output=True, timeout=30)
            assert out.returncode == 0, out.stderr
            der = (self.dir / "resp.der").read_bytes()
            if self.replay:
                self.first = self.first or der
                return self.first
            return der

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def responders(tmp_path):
    made = []

    def make(status_of):
        r = Responder(tmp_path / ("responder%d" % len(made)), status_of)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


# ----------------------------------------------------------------- helpers

def status_of(port, name, *extra):
    """What openssl s_client -status prints about the stapled answer."""
    rc, out = s_client(port, "-servername", name, "-status", *extra)
    assert rc == 0, out
    return out


def stapled_good(port, name, *extra):
    out = status_of(port, name, *extra)
    return "OCSP Response Status: successful" in out and "Cert Status: good" in out


def cert_status(moat_bin, m):
    out = subprocess.run([moat_bin, "cert", "status", "--config", str(m.config_path)],
                         capture_output=True, text=True, timeout=30, cwd=m.cwd)
    assert out.returncode == 0, out.stderr
    return out.stdout


def static_moat(moat, echo, tls_port, pairs, **tls):
    cfg = {"listen": ["%s:%d" % (HOST, tls_port)], "cert": [str(c) for c, _ in pairs],
           "key": [str(k) for _, k in pairs], "ocsp_refresh": "2s"}
    cfg.update(tls)
    m = moat(echo.url(), tls=cfg)
    wait_for(lambda: port_accepts(tls_port), 15, what="moat's TLS listener")
    return m


# ------------------------------------------------------------- tls.cert

def test_static_certificate_stapled_then_revoked_is_reported(moat, echo, responders, tmp_path,
                                                             moat_bin):
    statuses = {}
    resp = responders(lambda serial: statuses.get(serial))
    ca, ca_key = make_ca("moat OCSP test CA")
    resp.set_ca(_pem(ca), None, _key_pem(ca_key))
    folder = tmp_path / "certs"
    folder.mkdir()
    serving_dir(folder)
    chain, key, serial = make_leaf(folder, ca, ca_key, resp.url, ["localhost", "127.0.0.1"], "a")
    statuses[serial] = "good"
    tls_port = free_port()
    m = static_moat(moat, echo, tls_port, [(chain, key)])
    # the good answer is stapled, on HTTP/1.1 and HTTP/2 handshakes alike
    wait_for(lambda: stapled_good(tls_port, "localhost"), WAIT, interval=0.3,
             what="a stapled good OCSP answer")
    out = status_of(tls_port, "localhost", "-alpn", "h2")
    assert "ALPN protocol: h2" in out and "Cert Status: good" in out, out
    assert "ocsp          good (checked" in cert_status(moat_bin, m)
    assert not events(m, "cert.revoked") and not events(m, "cert.ocsp_failed")

    # the CA revokes it: reported at every check, no longer stapled, still served
    statuses[serial] = "revoked"
    revoked = wait_event(m, "cert.revoked", count=2, timeout=WAIT)
    e = revoked[0]
    assert e["severity"] == "critical" and e["config_key"] == "tls.ocsp"
    assert int(e["serial"].replace(".", ""), 16) == serial
    assert e["revocation_reason"] == "keyCompromise" and e["revoked_at"]
    assert "cannot replace a tls.cert" in e["reason"]
    out = status_of(tls_port, "localhost")
    assert "OCSP response: no response sent" in out, out
    st = cert_status(moat_bin, m)
    assert "REVOKED" in st and "keyCompromise" in st, st
    assert "replace the certificate and reload" in st
    assert m.alive()


def test_responder_down_or_forged_answer_keeps_the_certificate(moat, echo, responders, tmp_path,
                                                               moat_bin):
    ca, ca_key = make_ca("moat OCSP test CA")
    folder = tmp_path / "certs"
    folder.mkdir()
    serving_dir(folder)
    # a: its responder does not answer (nothing listens there)
    down = "http://%s:%d/" % (HOST, free_port())
    chain_a, key_a, _ = make_leaf(folder, ca, ca_key, down, ["localhost", "127.0.0.1"], "a")
    # b: its responder says "good", but signs with a key that is not the
    # issuer's (a forger, or a man in the middle of plain-HTTP OCSP)
    statuses = {}
    forger = responders(lambda serial: statuses.get(serial))
    rogue, rogue_key = make_ca("moat OCSP test CA")  # same name, other key
    forger.set_ca(_pem(ca), _pem(rogue), _key_pem(rogue_key))
    chain_b, key_b, serial_b = make_leaf(folder, ca, ca_key, forger.url, ["forged.test"], "b")
    statuses[serial_b] = "good"
    # c: its responder replays its first answer (signed, good, but carrying
    # the nonce of moat's first request)
    replayer = responders(lambda serial: statuses.get(serial))
    replayer.replay = True
    replayer.set_ca(_pem(ca), None, _key_pem(ca_key))
    chain_c, key_c, serial_c = make_leaf(folder, ca, ca_key, replayer.url, ["replay.test"], "c")
    statuses[serial_c] = "good"
    tls_port = free_port()
    m = static_moat(moat, echo, tls_port, [(chain_a, key_a), (chain_b, key_b), (chain_c, key_c)])
    failed = wait_event(m, "cert.ocsp_failed", count=3, timeout=WAIT)
    assert any("cannot reach the OCSP responder" in f["reason"] and f["cert"] == str(chain_a)
               for f in events(m, "cert.ocsp_failed")), events(m, "cert.ocsp_failed")
    wait_for(lambda: any("not signed by the certificate's issuer" in f["reason"]
                         for f in events(m, "cert.ocsp_failed")), WAIT, interval=0.3,
             what="the forged answer refused")
    wait_for(lambda: any("nonce is not the one moat sent" in f["reason"] and
                         f["cert"] == str(chain_c) for f in events(m, "cert.ocsp_failed")),
             WAIT, interval=0.3, what="the replayed answer refused")
    assert failed[0]["severity"] == "warning" and failed[0]["next_check"]
    assert forger.requests >= 1 and replayer.requests >= 2
    # all certificates are still served; nothing stapled for a and b, and c
    # keeps its first (good, still valid) answer
    for name in ("localhost", "forged.test"):
        out = status_of(tls_port, name)
        assert "OCSP response: no response sent" in out, out
    assert stapled_good(tls_port, "replay.test")
    assert not events(m, "cert.revoked")
    st = cert_status(moat_bin, m)
    assert st.count("no answer stored yet") == 2, st
    assert "good (checked" in st, st
    assert m.alive()


def test_ocsp_off_asks_nothing_and_staples_nothing(moat, echo, responders, tmp_path, moat_bin):
    statuses = {}
    resp = responders(lambda serial: statuses.get(serial))
    ca, ca_key = make_ca("moat OCSP test CA")
    resp.set_ca(_pem(ca), None, _key_pem(ca_key))
    folder = tmp_path / "certs"
    folder.mkdir()
    serving_dir(folder)
    chain, key, serial = make_leaf(folder, ca, ca_key, resp.url, ["localhost", "127.0.0.1"], "a")
    statuses[serial] = "good"
    tls_port = free_port()
    m = static_moat(moat, echo, tls_port, [(chain, key)], ocsp=False)
    # a reload wakes the checking thread, if there were one
    mark = m.reload(m.config)
    assert m.stderr.wait_for(r"config reloaded", 15, start=mark, alive=m.alive)
    for _ in range(3):
        out = status_of(tls_port, "localhost")
        assert "OCSP response: no response sent" in out, out
    assert resp.requests == 0
    assert "off (tls.ocsp = false)" in cert_status(moat_bin, m)


# ----------------------------------------------------------------- ACME

def test_revoked_acme_certificate_is_replaced_by_itself(acme_setup, responders, moat_bin):
    box = {}

    def pebble_says(serial):
        r = requests.get("https://%s:%d/cert-status-by-serial/%x"
                         % (HOST, box["pebble"].mgmt_port, serial),
                         verify=box["pebble"].ca_bundle, timeout=10)
        if r.status_code != 200:
            return None
        return {"Valid": "good", "Revoked": "revoked"}.get(r.json().get("Status"))

    resp = responders(pebble_says)
    s = acme_setup(ocsp_url=resp.url)
    s.config["tls"]["ocsp_refresh"] = "2s"
    p = box["pebble"] = s.pebble
    get = lambda path: requests.get("https://%s:%d%s" % (HOST, p.mgmt_port, path),  # noqa: E731
                                    verify=p.ca_bundle, timeout=10).text.encode()
    resp.set_ca(get("/intermediates/0"), None, get("/intermediate-keys/0"))
    m = s.start()
    wait_event(m, "cert.issued")
    root = p.root()
    der, first, _ = served_cert(s.tls_port, root)
    wait_for(lambda: stapled_good(s.tls_port, DOMAIN), WAIT, interval=0.3,
             what="a stapled good OCSP answer")
    assert not events(m, "cert.revoked")

    # revoked at the CA: moat notices by itself and orders a new certificate
    key_pem = (Path(s.wd) / "acme" / "key.pem").read_bytes()
    revoke(p, der, key_pem)
    revoked = wait_event(m, "cert.revoked", timeout=WAIT)
    assert "a new one is ordered now" in revoked[0]["reason"]
    assert int(revoked[0]["serial"].replace(".", ""), 16) == int(first["serialNumber"], 16)
    renewed = wait_event(m, "cert.renewed")
    assert renewed[0]["seq"] > revoked[0]["seq"]
    assert "revoked" in renewed[0]["reason"]
    _, second, reply = served_cert(s.tls_port, root)
    assert serial_of(second) != serial_of(first)
    assert reply.startswith(b"HTTP/1.1 200")
    # the new certificate's good answer is stapled in turn
    wait_for(lambda: stapled_good(s.tls_port, DOMAIN), WAIT, interval=0.3,
             what="the new certificate's answer stapled")
    assert len(events(m, "cert.revoked")) == 1  # one revocation, one replacement
    st = cert_status(moat_bin, m)
    assert "good (checked" in st, st
    assert not events(m, "cert.failed"), events(m, "cert.failed")
