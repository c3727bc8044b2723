"""The WAF (waf stage: libmodsecurity 3 + OWASP CRS + moat's Python rules)
end to end, in front of the Flask echo app:

- every attack of waf_cases.ATTACKS sent in the query, a form body, a JSON
  body, a cookie and a header, and double-URL-encoded and %u-encoded in the
  query, and in a text field (waf.text_fields: a form's "comment", a JSON
  "post.comment"): the detection rate per class and place is measured,
  written to a Markdown table (MOAT_WAF_REPORT, default build/waf-rates.md)
  and held to the thresholds below; blocked requests never reach the app;
- every ordinary request of waf_cases.BENIGN passes untouched (no false
  positive is allowed);
- the 403 page, the security log events, detect and off modes, exclusions,
  the inspection limit both ways, rule files that do not load at start and
  at reload.

One moat per config, keep-alive sessions, no sleeps."""

import json
import os
import re
import signal
import urllib.parse
from pathlib import Path

import pytest
import requests

from waf_cases import ATTACKS, BENIGN

PLACES = ["query", "form", "json", "cookie", "header", "query-double", "query-unicode",
          "form-text", "json-text"]
# In a text field (waf.text_fields) the command-injection rules, Python code
# injection and 941160/942190/942360/921110/921130 do not read the value, on
# purpose (people quote shell and code in posts): there, command injection
# is not held to a rate; every other class is, at its rate in an ordinary
# field (TEXT_SLACK payloads less at most; docs/waf.md, "Text fields").
TEXT_PLACES = {"form-text": "form", "json-text": "json"}
TEXT_NOT_READ = {"cmdi", "python"}
TEXT_SLACK = 1

# Detection thresholds per place (fraction of all attack payloads), below
# what was measured (docs/waf.md has the numbers): a drop means the rules or
# the inspection lost something.
MIN_RATE = {
    "query": 0.97, "form": 0.97, "json": 0.97, "query-double": 0.95, "query-unicode": 0.85,
    "cookie": 0.80, "header": 0.75, "form-text": 0.80, "json-text": 0.80,
}
# Per class in the query, form and JSON: every class must be caught there.
MIN_CLASS_RATE = 0.9

def waf_events(m, name=None):
    out = []
    for line in m.stdout.text.splitlines():
        if not line.startswith("{"):
            continue
        ev = json.loads(line)
        if ev.get("event", "").startswith("waf.") and (name is None or ev["event"] == name):
            out.append(ev)
    return out


def wait_events(m, pattern, name=None, timeout=15):
    """The security log is written by its own thread: waits (bounded) until
    a line matching the regex is out, then returns the waf.* events."""
    assert m.stdout.wait_for(pattern, timeout), "no security log line matching " + pattern
    return waf_events(m, name)


def _header_safe(v):
    try:
        v.encode("latin-1")
    except UnicodeEncodeError:
        return urllib.parse.quote(v)
    if any(c in v for c in "\r\n\x00"):
        return urllib.parse.quote(v)
    return v


def _cookie_safe(v):
    """A cookie value as a client can send it: only what would end or break
    the value (';', ',', quotes, backslashes, controls, non-Latin-1) is
    percent-encoded."""
    out = []
    for c in v:
        if c in ';,"\\' or ord(c) < 0x20 or ord(c) > 0x7e:
            out.append(urllib.parse.quote(c, safe=""))
        else:
            out.append(c)
    return "".join(out)


def _unicode_escape(v):
    """IIS-style %uXXXX for everything but letters and digits."""
    return "".join(c if c.isascii() and c.isalnum() else "%%u%04x" % ord(c) for c in v)


def send_attack(s, base, place, payload):
    url = base + "/echo"
    if place == "query":
        return s.get(url, params={"q": payload})
    if place == "form":
        return s.post(url, data={"name": payload})
    if place == "json":
        return s.post(url, json={"name": payload})
    if place == "form-text":
        return s.post(url, data={"comment": payload})
    if place == "json-text":
        return s.post(url, json={"post": {"comment": payload}})
    if place == "cookie":
        return s.get(url, headers={"Cookie": "pref=" + _cookie_safe(payload)})
    if place == "header":
        return s.get(url, headers={"User-Agent": _header_safe(payload)})
    if place == "query-double":
        q = urllib.parse.quote(urllib.parse.quote(payload, safe=""), safe="")
        return s.get(url + "?q=" + q)
    if place == "query-unicode":
        return s.get(url + "?q=" + _unicode_escape(payload))
    raise ValueError(place)


def send_benign(s, base, how, value):
    url = base + "/echo"
    if how == "query":
        return s.get(url, params={"q": value})
    if how == "form":
        return s.post(url, data={"message": value, "title": "note"})
    if how == "json":
        return s.post(url, json={"message": value, "tags": ["a", "b"], "n": 3})
    if how == "upload":
        name, content = value
        return s.post(url, data={"description": "my file"},
                      files={"file": (name, content.encode("utf-8", "surrogateescape"))})
    if how == "path":
        return s.get(url + "/" + value)
    if how == "header":
        return s.get(url, headers={"User-Agent": value})
    raise ValueError(how)


@pytest.fixture(scope="module")
def blocking(module_moat, echo):
    return module_moat(echo.url())


@pytest.fixture(scope="module")
def measured(blocking, echo):
    """Sends every attack everywhere once; returns {(class, place): [blocked?]}."""
    echo.clear_seen()
    s = requests.Session()
    res = {}
    statuses = set()
    for cls, payloads in ATTACKS.items():
        for p in payloads:
            for place in PLACES:
                r = send_attack(s, blocking.url, place, p)
                statuses.add(r.status_code)
                res.setdefault((cls, place), []).append((p, r.status_code in (400, 403, 404)))
    s.close()
    return res, statuses, echo.seen()


def _rate(items):
    return sum(1 for _, b in items if b) / len(items)


def write_report(res, benign_fp):
    path = os.environ.get("MOAT_WAF_REPORT") or str(
        Path(os.environ.get("MOAT_BUILD") or Path(__file__).resolve().parents[2] / "build")
        / "waf-rates.md")
    lines = ["| class | payloads | " + " | ".join(PLACES) + " |",
             "|---|---:|" + "---:|" * len(PLACES)]
    for cls in ATTACKS:
        cells = ["%.0f%%" % (100 * _rate(res[(cls, p)])) for p in PLACES]
        lines.append("| %s | %d | %s |" % (cls, len(ATTACKS[cls]), " | ".join(cells)))
    total = ["%.1f%%" % (100 * _rate([x for c in ATTACKS for x in res[(c, p)]])) for p in PLACES]
    lines.append("| **all** | %d | %s |" % (sum(len(v) for v in ATTACKS.values()),
                                           " | ".join(total)))
    lines.append("")
    lines.append("| ordinary requests | sent | false positives |")
    lines.append("|---|---:|---:|")
    for kind, (n, fp) in benign_fp.items():
        lines.append("| %s | %d | %d |" % (kind, n, fp))
    try:
        Path(path).write_text("\n".join(lines) + "\n")
    except OSError:
        pass
    return "\n".join(lines)


# ------------------------------------------------------------- the tables

def test_tables_are_big_enough():
    assert sum(len(v) for v in ATTACKS.values()) >= 150
    assert len(BENIGN) >= 150


def test_attacks_detected(measured):
    res, statuses, _ = measured
    assert statuses <= {200, 400, 403, 404}, statuses
    misses = {}
    for place in PLACES:
        items = [x for c in ATTACKS for x in res[(c, place)]]
        rate = _rate(items)
        if rate < MIN_RATE[place]:
            misses[place] = (rate, [p for p, b in items if not b][:20])
    for cls in ATTACKS:
        for place in ("query", "form", "json"):
            rate = _rate(res[(cls, place)])
            if rate < MIN_CLASS_RATE:
                misses["%s/%s" % (cls, place)] = (rate, [p for p, b in res[(cls, place)]
                                                         if not b])
        for place, plain in TEXT_PLACES.items():
            if cls in TEXT_NOT_READ:
                continue
            lost = [p for (p, b), (_, b0) in zip(res[(cls, place)], res[(cls, plain)])
                    if b0 and not b]
            if len(lost) > TEXT_SLACK:
                misses["%s/%s" % (cls, place)] = ("caught in %s, not here" % plain, lost)
    assert not misses, misses


def test_text_fields_not_read_for_command_injection_only(measured):
    """What a text field is not read for is exactly command injection: the
    same payloads in a query parameter of the text field's name, and every
    other class in the text field itself, are still refused."""
    res, _, _ = measured
    cmdi_text = _rate(res[("cmdi", "form-text")])
    cmdi_plain = _rate(res[("cmdi", "form")])
    assert cmdi_plain >= MIN_CLASS_RATE
    # not read in the text field (if this fails, update docs/waf.md's numbers)
    assert cmdi_text < 0.5


def test_blocked_attacks_never_reach_the_app(measured):
    res, _, seen = measured
    # The app saw only the requests that were let through: count them.
    passed = sum(1 for items in res.values() for _, b in items if not b)
    assert len([line for line in seen if "/echo" in line]) == passed


def test_ordinary_requests_pass(blocking, echo):
    s = requests.Session()
    fps = []
    per_kind = {}
    for kind, how, value in BENIGN:
        r = send_benign(s, blocking.url, how, value)
        n, fp = per_kind.get(kind, (0, 0))
        ok = r.status_code == 200
        per_kind[kind] = (n + 1, fp + (0 if ok else 1))
        if not ok:
            fps.append((kind, how, value, r.status_code))
        elif how in ("json", "form", "query"):
            # the app got the value as sent
            j = r.json()
            assert j["method"] in ("GET", "POST")
    s.close()
    pytest.waf_benign = per_kind
    # the form and JSON values are in `message`, a text field: code, markdown
    # and shell in it pass (docs/waf.md, "Text fields"); nothing is refused
    assert not fps, fps


def test_report(measured, blocking):
    # Runs after the two tables (pytest keeps file order): writes the table.
    res, _, _ = measured
    per_kind = getattr(pytest, "waf_benign", {})
    text = write_report(res, per_kind)
    assert "| sqli |" in text


# ------------------------------------------------------------- the answer

def test_block_page_and_event(blocking, echo):
    s = requests.Session()
    r = s.get(blocking.url + "/echo", params={"q": "1' UNION SELECT password FROM users--"})
    assert r.status_code == 403
    rid = r.headers["X-Request-Id"]
    assert rid in r.text and "<html" in r.text
    # nothing of the rules reaches the client
    for secret in ("942", "SQL", "UNION", "password", "ARGS", "anomaly", "ModSecurity"):
        assert secret.lower() not in r.text.lower()
    r = s.get(blocking.url + "/echo", params={"q": "<script>alert(1)</script>"},
              headers={"Accept": "application/json"})
    assert r.status_code == 403
    assert r.headers["Content-Type"].startswith("application/json")
    j = r.json()
    assert j == {"error": "Forbidden", "status": 403, "request_id": r.headers["X-Request-Id"]}
    s.close()
    ev = [e for e in wait_events(blocking, '"request_id":"%s"' % rid, "waf.blocked")
          if e["request_id"] == rid]
    assert len(ev) == 1
    ev = ev[0]
    assert ev["status"] == 403 and ev["stage"] == "waf" and ev["config_key"] == "waf.mode"
    assert "942100" in ev["rule"].split(",")
    assert int(ev["score"]) >= 5
    assert ev["matched"] == "ARGS:q"
    assert "SQL Injection" in ev["message"]
    assert len(ev.get("data", "")) <= 96


def test_secret_values_not_logged(blocking):
    r = requests.post(blocking.url + "/login", data={"username": "bob",
                                                    "password": "' OR 1=1 -- hunter2"})
    assert r.status_code == 403
    rid = r.headers["X-Request-Id"]
    ev = [e for e in wait_events(blocking, '"request_id":"%s"' % rid)
          if e["request_id"] == rid]
    assert ev and "hunter2" not in json.dumps(ev)


def test_unparsable_json_body_refused(blocking):
    r = requests.post(blocking.url + "/echo", data=b'{"a": [1, 2',
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_multipart_file_name_inspected(blocking):
    r = requests.post(blocking.url + "/echo",
                      files={"f": ("../../../../etc/passwd", b"x")})
    assert r.status_code == 403
    r = requests.post(blocking.url + "/echo",
                      files={"f": ("<script>alert(1)</script>.txt", b"x")})
    assert r.status_code == 403


def test_large_body_inspected_off_loop(blocking):
    # 900 KiB: over the inline size, inspected on the thread pool.
    pad = "a" * (900 * 1024)
    r = requests.post(blocking.url + "/echo", data={"pad": pad, "q": "<script>alert(1)</script>"})
    assert r.status_code == 403
    r = requests.post(blocking.url + "/echo", data={"pad": pad, "q": "hello"})
    assert r.status_code == 200
    assert r.json()["body_len"] > 900 * 1024


def test_concurrent_large_inspections_on_one_worker(moat, echo):
    # One worker: large bodies go to the thread pool while small requests
    # keep being answered on the loop; every answer is the right one.
    import concurrent.futures
    m = moat(echo.url(), workers=1)
    pad = "b" * (600 * 1024)

    def big(i):
        q = "<script>alert(%d)</script>" % i if i % 2 else "hello %d" % i
        r = requests.post(m.url + "/echo", data={"pad": pad, "q": q}, timeout=60)
        return i, r.status_code

    def small(i):
        r = requests.get(m.url + "/echo", params={"q": "x%d" % i}, timeout=60)
        return i, r.status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as ex:
        bigs = [ex.submit(big, i) for i in range(6)]
        smalls = [ex.submit(small, i) for i in range(30)]
        for f in bigs:
            i, status = f.result()
            assert status == (403 if i % 2 else 200), (i, status)
        for f in smalls:
            assert f.result()[1] == 200


def test_chunked_body_inspected(blocking):
    def gen():
        yield b"comment=" + urllib.parse.quote("{{ cycler.__init__.__globals__ }}").encode()
        yield b"&x=1"
    r = requests.post(blocking.url + "/echo", data=gen(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 403

    def gen2():
        yield b"comment=hello+there"
        yield b"&x=1"
    r = requests.post(blocking.url + "/echo", data=gen2(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    assert r.json()["body_len"] == len(b"comment=hello+there&x=1")


# ------------------------------------------------------------- modes

def test_detect_mode_passes_and_logs(moat, echo):
    m = moat(echo.url(), waf={"mode": "detect"})
    r = requests.get(m.url + "/echo", params={"q": "{{7*7}}"})
    assert r.status_code == 200
    rid = r.headers["X-Request-Id"]
    ev = [e for e in wait_events(m, '"request_id":"%s"' % rid, "waf.detected")
          if e["request_id"] == rid]
    assert len(ev) == 1 and "1901110" in ev[0]["rule"]
    assert not waf_events(m, "waf.blocked")


def test_off_mode(moat, echo):
    m = moat(echo.url(), waf={"mode": "off"})
    r = requests.get(m.url + "/echo", params={"q": "' OR 1=1--"})
    assert r.status_code == 200
    assert not waf_events(m)


def test_exclusions(moat, echo):
    m = moat(echo.url(), waf={"exclude": ["/echo/cms/pages/ body_html", "/echo/raw/"]})
    html = "<p>Hello</p><script>alert(1)</script>"
    s = requests.Session()
    # the excluded parameter on the path: passes, as a form field and a JSON key
    r = s.post(m.url + "/echo/cms/pages/1", data={"body_html": html})
    assert r.status_code == 200 and r.json()["path"] == "/echo/cms/pages/1"
    r = s.post(m.url + "/echo/cms/pages/1", json={"body_html": html})
    assert r.status_code == 200
    # another parameter on the same path, or the same parameter elsewhere: blocked
    assert s.post(m.url + "/echo/cms/pages/1", data={"title": html}).status_code == 403
    assert s.post(m.url + "/echo/blog/1", data={"body_html": html}).status_code == 403
    # a whole path excluded, and only that path
    assert s.get(m.url + "/echo/raw/x", params={"q": "' OR 1=1--"}).status_code == 200
    assert s.get(m.url + "/echo/rawx", params={"q": "' OR 1=1--"}).status_code == 403
    s.close()


def test_higher_threshold_lets_single_matches_through(moat, echo):
    m = moat(echo.url(), waf={"inbound_threshold": 1000})
    assert requests.get(m.url + "/echo", params={"q": "{{7*7}}"}).status_code == 200


# ------------------------------------------------------------- the limit

def test_over_limit_refused(moat, echo):
    m = moat(echo.url(), waf={"inspect_bytes": "64KiB"})
    body = b"x" * (65 * 1024)
    r = requests.post(m.url + "/echo", data=body)
    assert r.status_code == 413
    ev = [e for e in wait_events(m, '"config_key":"waf.over_limit"', "waf.blocked")
          if e["config_key"] == "waf.over_limit"]
    assert ev and ev[0]["status"] == 413

    def gen():
        for _ in range(20):
            yield b"y" * 4096
    r = requests.post(m.url + "/echo", data=gen())
    assert r.status_code == 413
    r = requests.post(m.url + "/echo", data=b"x" * (60 * 1024))
    assert r.status_code == 200


def test_over_limit_pass(moat, echo):
    m = moat(echo.url(), waf={"inspect_bytes": "64KiB", "over_limit": "pass"})
    s = requests.Session()
    tail_attack = "a" * (70 * 1024)
    r = s.post(m.url + "/echo", data={"pad": tail_attack, "q": "<script>alert(1)</script>"})
    assert r.status_code == 200  # the attack is past the inspected part
    assert r.json()["body_len"] > 70 * 1024
    r = s.post(m.url + "/echo", data={"q": "<script>alert(1)</script>", "pad": tail_attack})
    assert r.status_code == 403  # within the inspected part
    body = os.urandom(300 * 1024)
    r = s.post(m.url + "/echo", data=body, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200
    assert r.json()["body_len"] == len(body)
    s.close()
    m.stdout.wait_for(r'waf\.uninspected(.|\n)*waf\.uninspected', 15)
    ev = waf_events(m, "waf.uninspected")
    assert len(ev) >= 2 and ev[0]["config_key"] == "waf.over_limit"


# ------------------------------------------------------------- rule files

BAD_RULES = """SecRule ARGS "@rx evil" "id:10001,phase:2,deny,status:403"
SecRuel ARGS "@rx x" "id:10002,phase:2,deny"
"""
GOOD_RULES = """SecRule ARGS:q "@streq moat-custom-marker" \\
    "id:10001,phase:2,deny,status:403,log,msg:'custom rule'"
"""


def test_bad_rule_file_stops_start(moat, echo, tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text(BAD_RULES)
    m = moat(echo.url(), waf={"rules": [str(bad)]}, wait=False)
    m.expected_exit = None
    rc = m.proc.wait(30)
    assert rc != 0
    err = m.stderr.text
    assert "%s:2:" % bad in err, err


def test_missing_rule_file_stops_start(moat, echo, tmp_path):
    m = moat(echo.url(), waf={"rules": [str(tmp_path / "nope.conf")]}, wait=False)
    m.expected_exit = None
    assert m.proc.wait(30) != 0
    assert "nope.conf" in m.stderr.text


def test_reload_with_bad_rules_keeps_the_old(moat, echo, tmp_path):
    good = tmp_path / "good.conf"
    good.write_text(GOOD_RULES)
    m = moat(echo.url(), waf={"rules": [str(good)]})
    s = requests.Session()
    assert s.get(m.url + "/echo", params={"q": "moat-custom-marker"}).status_code == 403
    assert s.get(m.url + "/echo", params={"q": "other"}).status_code == 200
    bad = tmp_path / "bad.conf"
    bad.write_text(BAD_RULES)
    cfg = dict(m.config)
    cfg["waf"] = {"rules": [str(bad)]}
    mark = m.reload(cfg)
    got = m.stderr.wait_for(r"reload failed.*", 30, start=mark)
    assert got and "%s:2:" % bad in got.group(0), m.stderr.text[mark:]
    # the old rules still run
    assert s.get(m.url + "/echo", params={"q": "moat-custom-marker"}).status_code == 403
    assert s.get(m.url + "/echo", params={"q": "' OR 1=1--"}).status_code == 403
    # a good reload applies new rules: the custom rule gone
    cfg["waf"] = {"mode": "block"}
    mark = m.reload(cfg)
    assert m.stderr.wait_for(r"config reloaded", 30, start=mark)
    s.close()
    # The workers take the new rules on their next loop turn: bounded retry.
    s = requests.Session()
    for _ in range(50):
        if s.get(m.url + "/echo", params={"q": "moat-custom-marker"}).status_code == 200:
            break
    assert s.get(m.url + "/echo", params={"q": "moat-custom-marker"}).status_code == 200
    s.close()


def test_config_check_rejects_bad_exclusion(moat_bin, tmp_path):
    import subprocess
    cfg = tmp_path / "moat.toml"
    cfg.write_text('[waf]\nexclude = ["no-slash x"]\n')
    r = subprocess.run([moat_bin, "config", "check", str(cfg)], capture_output=True, text=True)
    assert r.returncode != 0
    assert re.search(r"moat.toml:2:\d+", r.stderr + r.stdout)
