"""Prometheus metrics on the admin listener ([admin] listen): off by default
(no socket at all), served only there and never on a public listener, in a
text exposition (format 0.0.4) this file parses by the format's rules, with
counters that move by exactly what known traffic does: N requests, a WAF
block, a paths.deny hit, N upstream responses. An admin address that a
public listener also takes is refused by `moat config check`."""

import math
import os
import re
import socket
import threading

import pytest
import requests

from helpers import HOST, free_port, wait_for
from raw_upstreams import read_request

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|\Z)')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_exposition(text):
    """The samples of a text exposition as {(name, ((label, value), ...)): float},
    checking the format's rules: HELP/TYPE lines name valid metrics, one TYPE
    per family before its samples, every sample of a declared family (a
    histogram's _bucket/_sum/_count), label syntax, float values, the text
    ends with a newline; and each histogram's buckets are cumulative, end in
    le="+Inf" and equal its _count."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    types, samples = {}, {}
    for line in text.split("\n")[:-1]:
        assert line.strip(), "empty line in the exposition"
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                assert NAME.match(parts[2]), line
                if parts[1] == "TYPE":
                    assert parts[2] not in types, "second TYPE for " + parts[2]
                    assert parts[3] in TYPES, line
                    assert not any(k[0].startswith(parts[2]) for k in samples), \
                        "TYPE after samples: " + line
                    types[parts[2]] = parts[3]
                else:
                    assert len(parts) == 4 and parts[3], "HELP without text: " + line
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)\Z", line)
        assert m, "not a sample line: %r" % line
        name, labels_text, value = m.groups()
        labels = []
        if labels_text:
            rest = labels_text[1:-1]
            while rest:
                lm = LABEL.match(rest)
                assert lm, "bad labels in %r" % line
                labels.append((lm.group(1), lm.group(2)))
                rest = rest[lm.end():]
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                family = name[:-len(suffix)]
        assert family in types, "sample of an undeclared family: %r" % line
        v = float(value)  # raises on anything but a Prometheus float
        key = (name, tuple(sorted(labels)))
        assert key not in samples, "duplicate sample %r" % line
        samples[key] = v
    for family, t in types.items():
        if t != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == family + "_bucket":
                le = dict(labels)["le"]
                rest = tuple(l for l in labels if l[0] != "le")
                series.setdefault(rest, []).append((math.inf if le == "+Inf" else float(le), v))
        for rest, buckets in series.items():
            buckets.sort()
            assert buckets[-1][0] == math.inf, "%s%r has no +Inf bucket" % (family, rest)
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), "%s%r buckets not cumulative" % (family, rest)
            assert samples[(family + "_count", rest)] == counts[-1]
            assert (family + "_sum", rest) in samples
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(port, path="/metrics"):
    r = requests.get("http://%s:%d%s" % (HOST, port, path), timeout=10)
    return r


def listening_ports(pid):
    """The TCP ports process pid listens on (its sockets in /proc/net/tcp*)."""
    import os
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for row in f:
                cols = row.split()
                if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.fixture(scope="module")
def metered(module_moat, echo):
    admin = free_port()
    m = module_moat(echo.url(), admin={"listen": ["%s:%d" % (HOST, admin)]})
    m.admin_port = admin
    wait_for(lambda: scrape(admin).status_code == 200, 15, what="the metrics endpoint")
    return m


def test_off_by_default(moat, echo):
    m = moat(echo.url())
    assert "metrics on" not in m.stderr.text
    # no admin socket: the public port is the only one moat listens on
    assert listening_ports(m.proc.pid) == {m.port}
    r = requests.get(m.url + "/metrics", timeout=10)
    assert "# TYPE moat_" not in r.text


def test_exposition_parses(metered):
    r = scrape(metered.admin_port)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    s = parse_exposition(r.text)
    for name in ("moat_requests_total", "moat_connections_open",
                 "moat_connections_accepted_total", "moat_upstream_response_seconds_count"):
        assert any(k[0] == name for k in s), name
    assert "# HELP moat_refusals_total " in r.text
    assert "# TYPE moat_upstream_response_seconds histogram" in r.text


def test_counters_follow_traffic(metered):
    port = metered.admin_port
    before = parse_exposition(scrape(port).text)
    n = 5
    for i in range(n):
        assert requests.get(metered.url + "/echo?i=%d" % i, timeout=10).status_code == 200
    waf = requests.get(metered.url + "/echo", params={"q": "<script>alert(1)</script>"},
                       timeout=10)
    assert waf.status_code == 403
    deny = requests.get(metered.url + "/.git/config", timeout=10)
    assert deny.status_code == 404

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    # the counters are updated as each request ends, which may be just after
    # its response reached us: wait (bounded) for the total, then compare
    after = None

    def settled():
        nonlocal after
        after = parse_exposition(scrape(port).text)
        return delta("moat_requests_total") >= n + 2
    wait_for(settled, 15, what="moat_requests_total to count the requests")
    assert delta("moat_requests_total") == n + 2
    assert delta("moat_responses_total", code="2xx") == n
    assert delta("moat_responses_total", code="4xx") == 2
    assert delta("moat_refusals_total", stage="waf", reason="waf.blocked") == 1
    assert delta("moat_refusals_total", stage="deny-paths", reason="path.denied") == 1
    refusals = sum(v - before.get(k, 0) for k, v in after.items()
                   if k[0] == "moat_refusals_total")
    assert refusals == 2
    # only the n allowed requests reached the app
    assert delta("moat_upstream_response_seconds_count") == n
    assert delta("moat_upstream_response_seconds_bucket", le="+Inf") == n
    assert delta("moat_stage_seconds_count", stage="waf") == n + 1  # the deny hit stops before
    assert delta("moat_connections_accepted_total") >= 1
    assert after[("moat_connections_open", ())] >= 0


def test_public_listener_never_serves_metrics(metered, echo):
    for path in ("/metrics", "/metrics?x=1", "//metrics", "/.moat/metrics"):
        r = requests.get(metered.url + path, timeout=10)
        assert "# TYPE moat_" not in r.text and "moat_requests_total" not in r.text, path
    # what moat forwarded came from the app, not from moat
    seen = requests.get(echo.url() + "/seen", timeout=10)
    assert seen.status_code == 200


def test_admin_answers_only_get_metrics(metered):
    port = metered.admin_port
    assert scrape(port, "/").status_code == 404
    assert scrape(port, "/metricsx").status_code == 404
    assert scrape(port, "/other/metrics").status_code == 404
    r = requests.post("http://%s:%d/metrics" % (HOST, port), data="x", timeout=10)
    assert r.status_code == 404
    assert "moat_" not in r.text
    # a client that sends half a head and stops is dropped; the endpoint serves on
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(b"GET /metr")
        with socket.create_connection((HOST, port), timeout=10) as s2:
            s2.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = s2.recv(65536)
                if not chunk:
                    break
                data += chunk
    assert data.startswith(b"HTTP/1.1 200 ")
    assert b"moat_requests_total" in data


@pytest.mark.parametrize("admin", ["{public}", "0.0.0.0:{port}", "[::]:{port}"])
def test_config_refuses_admin_on_public_address(run, tmp_path, admin):
    port = free_port()
    public = "%s:%d" % (HOST, port)
    cfg = tmp_path / "moat.toml"
    cfg.write_text('listen = ["%s"]\nupstream = ["http://127.0.0.1:9"]\n\n[admin]\nlisten = ["%s"]\n'
                   % (public, admin.format(public=public, port=port)))
    r = run("config", "check", str(cfg))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "admin.listen" in r.stderr and "public" in r.stderr


def test_config_refuses_admin_on_tls_address(run, tmp_path):
    port = free_port()
    cfg = tmp_path / "moat.toml"
    cfg.write_text('listen = ["127.0.0.1:%d"]\nupstream = ["http://127.0.0.1:9"]\n\n'
                   '[admin]\nlisten = ["127.0.0.1:%d"]\n\n[tls]\nlisten = ["127.0.0.1:%d"]\n'
                   'cert = ["c.pem"]\nkey = ["k.pem"]\n' % (free_port(), port, port))
    r = run("config", "check", str(cfg))
    assert r.returncode == 1
    assert "admin.listen" in r.stderr


def test_config_accepts_admin_on_own_port(run, tmp_path):
    cfg = tmp_path / "moat.toml"
    cfg.write_text('listen = ["127.0.0.1:%d"]\nupstream = ["http://127.0.0.1:9"]\n\n'
                   '[admin]\nlisten = ["127.0.0.1:%d"]\n' % (free_port(), free_port()))
    r = run("config", "check", str(cfg))
    assert r.returncode == 0, r.stderr


def test_waf_body_inspection_is_timed(metered):
    port = metered.admin_port

    def jobs(samples):
        return sum(v for k, v in samples.items() if k[0] == "moat_job_seconds_count")
    before = parse_exposition(scrape(port).text)
    # a body past the size the WAF inspects inline (stage_waf.c INLINE_BYTES)
    r = requests.post(metered.url + "/echo", data={"comment": "hello there " * 2000},
                      timeout=10)
    assert r.status_code == 200
    # the WAF inspected the body on the thread pool: one job more, under the
    # stage that queued it
    wait_for(lambda: jobs(parse_exposition(scrape(port).text)) > jobs(before), 15,
             what="a WAF job to be counted")
    after = parse_exposition(scrape(port).text)
    stages = {dict(k[1])["stage"] for k, v in after.items()
              if k[0] == "moat_job_seconds_count" and v > before.get(k, 0)}
    assert stages <= {"waf", "waf-body"} and stages, stages


def test_serve_refuses_listen_override_on_admin_address(run, tmp_path):
    """--listen replaces 'listen' before the check: it cannot put the
    public listener on the admin address either."""
    port = free_port()
    cfg = tmp_path / "moat.toml"
    cfg.write_text('listen = ["127.0.0.1:%d"]\nupstream = ["http://127.0.0.1:9"]\n\n'
                   '[admin]\nlisten = ["127.0.0.1:%d"]\n' % (free_port(), port))
    r = run("serve", "--config", str(cfg), "--listen", "127.0.0.1:%d" % port, timeout=30)
    assert r.returncode != 0
    assert "admin.listen" in r.stderr
    assert "listening on" not in r.stderr


def test_auth_store_work_is_timed(moat, echo, tmp_path):
    """A bearer token checked against the store: the auth stage's job is
    timed, and its refusal counted under the auth stage."""
    from conftest import serving_dir
    d = serving_dir(tmp_path)
    admin = free_port()
    m = moat(echo.url(), store={"url": "sqlite:%s" % (d / "moat.db")},
             auth={"default": "authenticated"}, admin={"listen": ["%s:%d" % (HOST, admin)]})
    wait_for(lambda: scrape(admin).status_code == 200, 15, what="the metrics endpoint")
    r = requests.get(m.url + "/echo", headers={"Authorization": "Bearer moat_" + "A" * 43,
                                                "Accept": "application/json"},
                     timeout=10, allow_redirects=False)
    assert r.status_code == 401, (r.status_code, r.headers)
    after = {}

    def counted():
        after.update(parse_exposition(scrape(admin).text))
        return value(after, "moat_requests_total") >= 1
    wait_for(counted, 15, what="the request to be counted")
    assert value(after, "moat_job_seconds_count", stage="auth") >= 1
    assert value(after, "moat_stage_seconds_count", stage="auth") == 1
    refused = {dict(k[1])["stage"]: v for k, v in after.items() if k[0] == "moat_refusals_total"}
    assert refused == {"auth": 1}, refused
    assert value(after, "moat_refusals_total", stage="auth", reason="authz.denied") == 1
    assert value(after, "moat_upstream_response_seconds_count") == 0


def test_memory_gauges_count_what_is_held_and_return(moat, raw_upstream):
    """moat_memory_*, moat_waf_transactions and moat_malloc_*: a request held
    by the app (its client connection, its upstream connection, its WAF
    transaction) and 6 silent connections are counted while they are open,
    and every gauge returns to its level once they close, as held memory
    that leaked would not."""
    release = threading.Event()

    def hold(conn, server):
        req = read_request(conn)
        if not req:
            return
        release.wait(30)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        read_request(conn)  # keep-alive: until moat closes it

    up = raw_upstream(hold)
    admin = free_port()
    m = moat(up.url, workers=1, admin={"listen": ["%s:%d" % (HOST, admin)]})
    wait_for(lambda: scrape(admin).status_code == 200, 15, what="the metrics endpoint")

    def gauges():
        s = parse_exposition(scrape(admin).text)
        return {k: value(s, "moat_memory_connections", kind=k)
                for k in ("client", "client_quiet", "upstream_busy", "upstream_idle")} | {
            "client_bytes": value(s, "moat_memory_bytes", kind="client"),
            "upstream_bytes": value(s, "moat_memory_bytes", kind="upstream"),
            "waf_tx": value(s, "moat_waf_transactions"),
            "jobs": value(s, "moat_jobs"),
            "arena": value(s, "moat_malloc_bytes", state="arena"),
            "in_use": value(s, "moat_malloc_bytes", state="in_use"),
            "free": value(s, "moat_malloc_bytes", state="free"),
            "arenas": value(s, "moat_malloc_arenas"),
        }

    # the workers count once a second: wait for a count of nothing held
    wait_for(lambda: gauges()["client"] == 0, 15, what="no client connection counted")
    answer = {}
    held = threading.Thread(target=lambda: answer.update(
        r=requests.get(m.url + "/held?q=hello", timeout=60)))
    held.start()
    silent = [socket.create_connection((HOST, m.port), timeout=10) for _ in range(6)]
    try:
        g = wait_for(lambda: (lambda g: g if g["client"] >= 7 and g["client_quiet"] >= 6
                              and g["upstream_busy"] == 1 and g["waf_tx"] == 1 else None)(
            gauges()), 20, what="the held request and the silent connections counted")
        assert g["client_bytes"] > 0 and g["upstream_bytes"] > 0
        if not os.environ.get("MOAT_SANITIZED"):
            # glibc's own accounting (ASan's allocator replaces glibc's, whose
            # mallinfo2 then counts nothing)
            assert g["arenas"] >= 1 and g["in_use"] > 0
            assert g["in_use"] + g["free"] == g["arena"]
    finally:
        for s in silent:
            s.close()
        release.set()
        held.join(60)
    assert answer["r"].status_code == 200 and answer["r"].text == "ok"
    g = wait_for(lambda: (lambda g: g if g["client"] == 0 and g["client_quiet"] == 0
                          and g["upstream_busy"] == 0 and g["waf_tx"] == 0
                          and g["jobs"] == 0 else None)(gauges()),
                 20, what="every gauge back to nothing held")
    assert g["upstream_idle"] <= 1  # the pooled one, until limits.upstream_idle_timeout
    assert g["client_bytes"] == 0


def tls_moat_with_metrics(moat, moat_bin, upstream, tmp_path, **settings):
    """One worker in front of upstream with a self-signed certificate for
    localhost and the admin listener: (moat, admin port, TLS port, cert)."""
    import subprocess
    c, k = tmp_path / "c.pem", tmp_path / "k.pem"
    r = subprocess.run([moat_bin, "cert", "selfsigned", "--cert", str(c), "--key", str(k),
                        "localhost", "127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    admin, port = free_port(), free_port()
    m = moat(upstream, workers=1, admin={"listen": ["%s:%d" % (HOST, admin)]},
             tls={"listen": ["%s:%d" % (HOST, port)], "cert": [str(c)], "key": [str(k)]},
             **settings)
    wait_for(lambda: scrape(admin).status_code == 200, 15, what="the metrics endpoint")
    return m, admin, port, c


def test_memory_gauges_count_http2_streams_and_their_upstreams(moat, moat_bin, raw_upstream,
                                                                tmp_path):
    """An HTTP/2 stream's request held by the app: its session (kind h2),
    the stream's upstream connection (upstream_busy) and the bytes both hold
    are counted, and return to nothing once the stream ends."""
    import subprocess
    release = threading.Event()

    def hold(conn, server):
        if not read_request(conn):
            return
        release.wait(30)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        read_request(conn)

    up = raw_upstream(hold)
    m, admin, port, c = tls_moat_with_metrics(moat, moat_bin, up.url, tmp_path)

    def gauges():
        s = parse_exposition(scrape(admin).text)
        return {kind: value(s, "moat_memory_connections", kind=kind)
                for kind in ("client", "h2", "upstream_busy")} | {
            "upstream_bytes": value(s, "moat_memory_bytes", kind="upstream")}

    wait_for(lambda: gauges()["client"] == 0, 15, what="no client connection counted")
    p = subprocess.Popen(["curl", "-s", "--http2", "--cacert", str(c), "--max-time", "50",
                          "https://localhost:%d/held" % port], stdout=subprocess.PIPE)
    try:
        g = wait_for(lambda: (lambda g: g if g["h2"] == 1 and g["upstream_busy"] == 1
                              else None)(gauges()), 20, what="the held h2 stream counted")
        assert g["upstream_bytes"] > 0
    finally:
        release.set()
        out, _ = p.communicate(timeout=60)
    assert out == b"ok"
    wait_for(lambda: (lambda g: g if g["h2"] == 0 and g["upstream_busy"] == 0 else None)(
        gauges()), 20, what="the h2 gauges back to nothing held")


def test_pool_past_upstream_keepalive_after_an_h2_burst_closes(moat, moat_bin, raw_upstream,
                                                               tmp_path):
    """Twenty streams of one h2 connection held at the upstream at once
    open twenty upstream connections; once answered, moat keeps at most
    limits.upstream_keepalive of them (2 here) beyond a moment's grace:
    the idle gauge and the upstream's own count of open connections come
    back to 2, and every stream got its answer."""
    import subprocess
    n = 20
    lock = threading.Lock()
    state = {"arrived": 0, "open": 0}
    all_in = threading.Event()

    def serve(conn, server):
        with lock:
            state["open"] += 1
        try:
            first = True
            while True:
                if not read_request(conn):
                    return
                if first:  # the first request of each connection waits for all n
                    first = False
                    with lock:
                        state["arrived"] += 1
                        if state["arrived"] >= n:
                            all_in.set()
                    all_in.wait(30)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            return
        finally:
            with lock:
                state["open"] -= 1

    up = raw_upstream(serve)
    m, admin, port, c = tls_moat_with_metrics(
        moat, moat_bin, up.url, tmp_path,
        limits={"upstream_keepalive": 2, "upstream_idle_timeout": "60s"})
    out = subprocess.run(["nghttp", "-nv", "-m", str(n), "https://localhost:%d/burst" % port],
                         capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(":status: 200") == n, out.stdout[-2000:]
    assert all_in.is_set() and state["arrived"] == n  # n upstream connections at once
    wait_for(lambda: state["open"] <= 2, 20, what="the upstream connections past the pool closed")

    def idle():
        s = parse_exposition(scrape(admin).text)
        return value(s, "moat_memory_connections", kind="upstream_idle")

    wait_for(lambda: idle() == 2, 20, what="two pooled upstream connections counted")
    assert state["open"] == 2  # the pooled ones stay (limits.upstream_idle_timeout)
    assert m.proc.poll() is None
