"""Uploads through the WAF (stage_waf.c, http/multipart.c), in front of a
real Django app under gunicorn that saves every uploaded file and answers
its size and sha256:

- multipart/form-data file content streams to the app: an 8 MiB upload at
  the defaults (waf.inspect_bytes 1 MiB) is accepted, the app saves every
  byte, and moat's peak memory does not grow by the files' size over
  several concurrent uploads;
- what the rules see: an attack in an ordinary field (before or after the
  file) and in a file's name is refused, an attack string inside a file's
  content passes, as ModSecurity's defaults do;
- strict parsing: bodies a framework could read another way are refused
  with 400; form data over waf.inspect_bytes with 413.

No sleeps, no timing: the memory bound is on VmHWM (the peak), read from
/proc before and after."""

import concurrent.futures
import hashlib
import json
import os
import socket
import subprocess

import pytest
import requests

from conftest import Gunicorn

MIB = 1 << 20


@pytest.fixture(scope="module")
def django_up():
    g = Gunicorn(module="django_app.wsgi", unix=False, name="django-upload").start()
    yield g
    g.stop()


@pytest.fixture(scope="module")
def gw(module_moat, django_up):
    # Under AddressSanitizer (scripts/asan.sh) freed memory sits in a
    # quarantine and would count as growth: none for this moat.
    asan = ":".join(o for o in (os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=0",
                                "thread_local_quarantine_size_kb=0") if o)
    return module_moat(django_up.url(), env={"ASAN_OPTIONS": asan})


def file_bytes(n, seed):
    """n deterministic, incompressible-looking bytes."""
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


def peak_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def upload(base, content, name="big.bin", fields=None, timeout=120):
    return requests.post(base + "/upload", data=fields or {"title": "holiday"},
                         files={"f": (name, content, "application/octet-stream")},
                         timeout=timeout)


def test_8mib_upload_streams_and_memory_stays_flat(gw):
    # Warm up: the worker threads, the thread pool and the rules are touched.
    r = upload(gw.url, b"hello", name="small.txt")
    assert r.status_code == 200, r.text
    assert r.json()["files"]["f"]["size"] == 5
    before = peak_rss(gw.proc.pid)

    files = [file_bytes(8 * MIB, "upload-%d" % i) for i in range(4)]

    def one(i):
        return i, upload(gw.url, files[i], name="file-%d.bin" % i,
                         fields={"title": "upload %d" % i})

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(one, range(4)))
    for i, r in results:
        assert r.status_code == 200, r.text[:500]
        got = r.json()
        assert got["fields"] == {"title": ["upload %d" % i]}
        assert got["files"]["f"]["name"] == "file-%d.bin" % i
        assert got["files"]["f"]["size"] == 8 * MIB
        assert got["files"]["f"]["sha256"] == hashlib.sha256(files[i]).hexdigest()
    grown = peak_rss(gw.proc.pid) - before
    # Holding even one of the files would add 8 MiB; four, 32 MiB.
    assert grown < 6 * MIB, "moat's peak RSS grew by %d bytes" % grown


def test_file_before_and_after_fields(gw):
    # A field after the file is held until the last inspection; one before
    # it is inspected (a checkpoint) before the file's content goes on.
    content = file_bytes(3 * MIB, "order")
    body_parts = [("a", (None, "first")), ("f", ("x.bin", content)), ("z", (None, "last"))]
    r = requests.post(gw.url + "/upload", files=body_parts, timeout=60)
    assert r.status_code == 200, r.text[:300]
    got = r.json()
    assert got["fields"] == {"a": ["first"], "z": ["last"]}
    assert got["files"]["f"]["sha256"] == hashlib.sha256(content).hexdigest()


ATTACK = "' UNION SELECT password FROM users --"
XSS = "<script>alert(document.cookie)</script>"


@pytest.mark.parametrize("where", ["before", "after"])
def test_attack_in_field_refused(gw, django_up, where):
    content = file_bytes(2 * MIB, "attack-" + where)
    field = ("comment", (None, ATTACK))
    f = ("f", ("report.bin", content))
    parts = [("title", (None, "t")), field, f] if where == "before" else [f, field]
    done = len(django_up.get("/upload").json()["done"])
    r = requests.post(gw.url + "/upload", files=parts, timeout=60)
    assert r.status_code == 403
    # The field never reached the app. Before: the checkpoint refused
    # before a byte went on. After: the app got the file's bytes and then a
    # connection closed before the end of the body, as when a client goes
    # away; Django drops the unfinished parts (its view runs with nothing).
    r = upload(gw.url, b"after", name="after.txt", fields={"mark": where})
    assert r.status_code == 200
    done_now = django_up.get("/upload").json()["done"][done:]
    # (the view of the cut request may finish before or after the next one)
    assert ["f", "mark"] in done_now
    assert all("comment" not in d for d in done_now), done_now
    if where == "before":
        assert done_now == [["f", "mark"]], done_now


def test_attack_in_file_name_refused(gw):
    r = upload(gw.url, file_bytes(2 * MIB, "name"), name=XSS + ".txt")
    assert r.status_code == 403
    r = upload(gw.url, b"x", name="../../../../etc/passwd")
    assert r.status_code == 403


def test_attack_in_file_content_passes(gw):
    # ModSecurity does not run the rules on file content by default; neither
    # does moat (docs/waf.md). The file reaches the app whole.
    content = (XSS + "\n" + ATTACK + "\n").encode() * 1000
    r = upload(gw.url, content, name="notes.txt")
    assert r.status_code == 200, r.text[:300]
    assert r.json()["files"]["f"]["sha256"] == hashlib.sha256(content).hexdigest()


def test_empty_filename_is_a_field(gw):
    # filename="" is an ordinary field to Django: its content is inspected.
    b = "xYz"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"comment\"; filename=\"\"\r\n\r\n"
            "%s\r\n--%s--\r\n" % (b, ATTACK, b))
    r = requests.post(gw.url + "/upload", data=body.encode(),
                      headers={"Content-Type": "multipart/form-data; boundary=" + b})
    assert r.status_code == 403


def raw_multipart(parts, boundary="b0undary", close=True):
    out = ""
    for head, content in parts:
        out += "--%s\r\n%s\r\n\r\n%s\r\n" % (boundary, head, content)
    if close:
        out += "--%s--\r\n" % boundary
    return out.encode()


@pytest.mark.parametrize("body", [
    # Content-Transfer-Encoding: Django would base64-decode what the rules saw encoded
    raw_multipart([('Content-Disposition: form-data; name="q"\r\n'
                    'Content-Transfer-Encoding: base64', "PHNjcmlwdD4=")]),
    # a charset the rules do not read the way Django would
    raw_multipart([('Content-Disposition: form-data; name="q"\r\n'
                    'Content-Type: text/plain; charset=utf-7', "+ADw-script+AD4-")]),
    # filename*: RFC 5987, which frameworks read each their own way
    raw_multipart([("Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''a.txt", "x")]),
    # the same parameter twice
    raw_multipart([('Content-Disposition: form-data; name="a"; name="b"', "x")]),
    # no closing delimiter
    raw_multipart([('Content-Disposition: form-data; name="a"', "x")], close=False),
    # a preamble
    b"junk\r\n" + raw_multipart([('Content-Disposition: form-data; name="a"', "x")]),
    # no Content-Disposition
    raw_multipart([("Content-Type: text/plain", "x")]),
], ids=["cte", "charset", "filename-star", "dup-param", "unclosed", "preamble", "no-cd"])
def test_ambiguous_multipart_refused(gw, body):
    r = requests.post(gw.url + "/upload", data=body,
                      headers={"Content-Type": "multipart/form-data; boundary=b0undary"})
    assert r.status_code == 400


def test_bad_boundary_refused(gw):
    r = requests.post(gw.url + "/upload", data=b"--x\r\n",
                      headers={"Content-Type": "multipart/form-data"})
    assert r.status_code == 400


def test_form_data_over_inspect_bytes(module_moat, django_up, run, tmp_path):
    m = module_moat(django_up.url(), waf={"inspect_bytes": 64 * 1024})
    # A 2 MiB file with little form data passes...
    content = file_bytes(2 * MIB, "small-limit")
    r = upload(m.url, content)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["files"]["f"]["sha256"] == hashlib.sha256(content).hexdigest()
    # ...100 KiB of ordinary fields do not.
    r = upload(m.url, b"x", fields={"pad": "a" * (100 * 1024)})
    assert r.status_code == 413
    rid = r.headers["X-Request-Id"]
    assert m.stdout.wait_for('"request_id":"%s"' % rid, 15)
    ev = [json.loads(line) for line in m.stdout.text.splitlines()
          if line.startswith("{") and rid in line]
    assert ev and ev[0]["config_key"] == "waf.over_limit"
    # `moat log why` tells the limit, not an attack.
    log = tmp_path / "security.log"
    log.write_text("".join(line + "\n" for line in m.stdout.text.splitlines()
                           if line.startswith("{")))
    r = run("log", "why", rid, "--file", str(log))
    assert r.returncode == 0, r.stderr
    out = r.stdout if isinstance(r.stdout, str) else r.stdout.decode()
    assert "waf.inspect_bytes" in out and "waf.over_limit" in out
    why = [line for line in out.splitlines() if line.strip().startswith("why:")]
    assert why and "attack" not in why[0], out


def test_body_reaches_app_byte_for_byte(module_moat, echo):
    # The Flask echo app hashes the raw body it read: moat streams the
    # client's bytes unchanged (the rules' copy is moat's own).
    m = module_moat(echo.url())
    content = file_bytes(3 * MIB + 17, "raw")
    req = requests.Request("POST", m.url + "/echo",
                           files=[("a", (None, "x")), ("f", ("r.bin", content)),
                                  ("g", ("s.bin", b"\r\n--" + content[:1000])),
                                  ("z", (None, "y"))]).prepare()
    r = requests.Session().send(req, timeout=60)
    assert r.status_code == 200
    assert r.json()["body_len"] == len(req.body)
    assert r.json()["body_sha256"] == hashlib.sha256(req.body).hexdigest()


def test_chunked_upload(module_moat, echo):
    # Django reads no form from a body without Content-Length; the Flask echo
    # app hashes the raw (de-chunked) body instead.
    m = module_moat(echo.url())
    content = file_bytes(3 * MIB, "chunked")
    req = requests.Request("POST", m.url + "/echo", files={"f": ("c.bin", content)}).prepare()
    body = req.body

    def gen():
        for i in range(0, len(body), 100_000):
            yield body[i:i + 100_000]
    r = requests.post(m.url + "/echo", data=gen(), timeout=60,
                      headers={"Content-Type": req.headers["Content-Type"]})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
    # an attack in a field after the file, chunked: refused
    req = requests.Request("POST", m.url + "/echo", files=[("f", ("c.bin", content)),
                                                          ("q", (None, ATTACK))]).prepare()
    body = req.body
    r = requests.post(m.url + "/echo", data=gen(), timeout=60,
                      headers={"Content-Type": req.headers["Content-Type"]})
    assert r.status_code == 403


def test_curl_upload_with_expect_continue(gw, tmp_path):
    # curl sends Expect: 100-continue for a body this large, as browsers'
    # and CLI clients' uploads do.
    p = tmp_path / "big.bin"
    content = file_bytes(5 * MIB, "curl")
    p.write_bytes(content)
    out = subprocess.run(["curl", "-sS", "--max-time", "60", "-F", "title=report",
                          "-F", "f=@%s;filename=report.bin" % p, "-w", "\n%{http_code}",
                          gw.url + "/upload"], capture_output=True, text=True, timeout=90)
    body, code = out.stdout.rsplit("\n", 1)
    assert code == "200", out.stdout[-500:] + out.stderr
    got = json.loads(body)
    assert got["files"]["f"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert got["fields"] == {"title": ["report"]}


def test_many_files_one_request(gw):
    files = [("f%d" % i, ("n%d.txt" % i, file_bytes(50_000 + i, "many%d" % i)))
             for i in range(20)]
    files.insert(10, ("note", (None, "between")))
    r = requests.post(gw.url + "/upload", files=files, timeout=60)
    assert r.status_code == 200, r.text[:300]
    got = r.json()
    assert got["fields"] == {"note": ["between"]}
    for name, (_, content) in files:
        if name != "note":
            assert got["files"][name]["sha256"] == hashlib.sha256(content).hexdigest()
    # ...and the same with an attack in the file name of the 15th
    files[15] = ("f14", ("<svg onload=alert(1)>.txt", b"x"))
    r = requests.post(gw.url + "/upload", files=files, timeout=60)
    assert r.status_code == 403


def test_detect_mode_logs_once(module_moat, django_up):
    m = module_moat(django_up.url(), waf={"mode": "detect"})
    content = file_bytes(2 * MIB, "detect")
    parts = [("comment", (None, ATTACK)), ("f", ("x.bin", content)), ("z", (None, "y"))]
    r = requests.post(m.url + "/upload", files=parts, timeout=60)
    assert r.status_code == 200
    assert r.json()["files"]["f"]["sha256"] == hashlib.sha256(content).hexdigest()
    rid = r.headers["X-Request-Id"]
    # the access line is written after the security event of the request
    assert m.stdout.wait_for('"request_id":"%s"' % rid, 15)
    ev = [json.loads(line) for line in m.stdout.text.splitlines()
          if line.startswith("{") and rid in line and '"event"' in line]
    assert [e["event"] for e in ev] == ["waf.detected"], ev


def test_form_data_over_limit_pass(module_moat, django_up):
    m = module_moat(django_up.url(), waf={"inspect_bytes": 64 * 1024, "over_limit": "pass"})
    content = file_bytes(2 * MIB, "pass")
    r = upload(m.url, content, fields={"pad": "a" * (100 * 1024)})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["files"]["f"]["sha256"] == hashlib.sha256(content).hexdigest()
    rid = r.headers["X-Request-Id"]
    assert m.stdout.wait_for('"request_id":"%s"' % rid, 15)
    ev = [json.loads(line) for line in m.stdout.text.splitlines()
          if line.startswith("{") and rid in line and '"event"' in line]
    assert [e["event"] for e in ev] == ["waf.uninspected"], ev
    # what was inspected still counts: an attack inside the window is refused
    r = upload(m.url, content, fields={"q": ATTACK, "pad": "a" * (100 * 1024)})
    assert r.status_code == 403


@pytest.mark.parametrize("ctype", ["application/pdf", "video/mp4", "image/png",
                                   "Application/Zip"])
def test_raw_file_body_streams_past_the_window(module_moat, echo, ctype):
    # A raw body of a file type (waf.stream_types) is a file: its first
    # inspect_bytes are inspected, the rest streams; the app gets every byte.
    m = module_moat(echo.url())
    content = file_bytes(5 * MIB + 3, "raw-file")
    r = requests.put(m.url + "/echo/api/blobs/1", data=content, timeout=60,
                     headers={"Content-Type": ctype})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["body_sha256"] == hashlib.sha256(content).hexdigest()

    def gen():
        for i in range(0, len(content), 65536):
            yield content[i:i + 65536]
    r = requests.put(m.url + "/echo/api/blobs/2", data=gen(), timeout=60,
                     headers={"Content-Type": ctype})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["body_sha256"] == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize("ctype", ["application/json", "application/x-www-form-urlencoded",
                                   "text/plain", "application/xml", "application/pdfx",
                                   "imagex/png"])
def test_parsed_body_types_keep_the_limit(module_moat, echo, ctype):
    # Bodies the app parses into parameters (and look-alike type names) stay
    # under waf.over_limit: 413 before the body is read (only the head is
    # sent: moat answers and closes without reading it).
    m = module_moat(echo.url())
    assert head_only_status(m, ctype, 2 * MIB) == 413


def test_stream_types_empty_refuses_raw_files(module_moat, echo):
    m = module_moat(echo.url(), waf={"stream_types": []})
    assert head_only_status(m, "application/pdf", 2 * MIB) == 413


def head_only_status(m, ctype, length):
    with socket.create_connection(("127.0.0.1", m.port), timeout=30) as s:
        s.sendall(("PUT /echo/api/blobs/1 HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (ctype, length)).encode())
        data = b""
        while b"\r\n" not in data:
            piece = s.recv(4096)
            if not piece:
                break
            data += piece
    return int(data.split(b" ", 2)[1])


@pytest.mark.parametrize("bad", ["Image/*", "image/**", "*/*", "image", "image/png; q=1"])
def test_stream_types_checked(run, tmp_path, bad):
    cfg = tmp_path / "moat.toml"
    cfg.write_text('upstream = "http://127.0.0.1:9"\n[waf]\nstream_types = ["%s"]\n' % bad)
    r = run("config", "check", str(cfg))
    assert r.returncode != 0 and "waf.stream_types" in r.stderr, r.stderr


def test_refused_upload_answer_reaches_a_client_still_sending(module_moat, echo):
    # The attack in the first field is refused before the 9 MiB file is
    # read. moat must not close on the client while it is still sending:
    # unread bytes would make the kernel reset the connection, and the
    # client would get "connection reset" instead of the 403 page. A
    # lingering close reads and drops the rest, so the whole body goes out
    # (more than the kernels' buffers hold) and the answer is read after it.
    m = module_moat(echo.url())
    boundary = "b0undary"
    content = file_bytes(9 * MIB, "linger")
    body = ("--%s\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\n%s\r\n"
            "--%s\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
            % (boundary, ATTACK, boundary)).encode() + content + (
            "\r\n--%s--\r\n" % boundary).encode()
    head = ("POST /echo/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            "boundary=%s\r\nContent-Length: %d\r\n\r\n" % (boundary, len(body))).encode()
    with socket.create_connection(("127.0.0.1", m.port), timeout=60) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        s.sendall(head + body)  # a reset here fails the test
        data = b""
        while True:
            piece = s.recv(65536)
            if not piece:
                break
            data += piece
    assert data.startswith(b"HTTP/1.1 403 "), data[:200]
    assert b"Connection: close" in data.split(b"\r\n\r\n", 1)[0]
