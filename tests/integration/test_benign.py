"""Ordinary traffic passes (issue 14): the benign corpus
(tests/data/benign/corpus.jsonl: browser URLs with brackets, braces and
pipes, JSON APIs, GraphQL, flaskr and Django forms, rich-text posts with
code snippets, multipart uploads of 1-8 MiB, chunked bodies, Referer chains,
framework cookies, common clients) replayed against moat at its defaults in
front of the Flask echo app under gunicorn.

Every request goes first to the app directly (what it refuses itself is left
out), then through moat; a 4xx/5xx from moat, or no answer, is a false
refusal, listed with the cause from moat's security log. What is held:

- moat itself (its parser, limits and upload handling) refuses none of it:
  every refusal is a Core Rule Set match at paranoia 1 (the one exception,
  a code viewer's `/blob/.../app.py`, is `paths.deny`'s `*.py`, on purpose);
- in all, fewer than nginx + ModSecurity + CRS refuse on the same corpus
  (61 of 582, bench/waf_benign/run.sh, recorded in bench/RESULTS.md), and
  at most MAX_REFUSED. Issue 14's target is 1 %; the CRS matches on
  rich-text posts with code (the bulk of what is left) are refused by
  nginx + ModSecurity too, and their way out is `moat waf tune`
  (test_waf_tuning.py).

The corpus file must match its generator (tests/data/benign/gen.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PYTHON

REPO = Path(__file__).resolve().parents[2]
BENIGN = REPO / "tests" / "data" / "benign"
sys.path.insert(0, str(BENIGN))
import replay  # noqa: E402

MAX_REFUSED = 0.01  # issue 14: at most 1 % at the defaults
NGINX_MODSECURITY_REFUSED = 61
# moat's own refusals allowed on the corpus (not the rules'): id -> why
OWN_ALLOWED = {"browser-url-048": "paths.deny *.py: a source file's path"}
# Every upload of the corpus is replayed (1-8 MiB each, about 65 MiB in
# all, twice); this bounds one body so a corpus edit cannot make the run
# unbounded.
MAX_BODY = 9 * 1024 * 1024


def test_corpus_matches_its_generator():
    out = subprocess.run([PYTHON, str(BENIGN / "gen.py"), "--check"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    entries = replay.load()
    assert len(entries) >= 500
    assert len({e["id"] for e in entries}) == len(entries)
    big = [e for e in entries if replay.body_size(e) >= 1024 * 1024]
    assert len(big) >= 10 and any(replay.body_size(e) >= 8 * 1024 * 1024 for e in big)
    assert any("chunked" in e for e in entries)


def test_false_refusals_at_defaults(echo, moat, tmp_path):
    seclog = tmp_path / "security.log"
    m = moat(echo.url(), log={"security": str(seclog)})
    entries = [e for e in replay.load() if replay.body_size(e) <= MAX_BODY]
    assert len(entries) >= 500

    app_refused, refused, total = [], [], 0
    for e in entries:
        direct = replay.send(e, "127.0.0.1", echo.port)
        if direct.status == 0 or direct.status >= 400:
            app_refused.append(e["id"])
            continue
        total += 1
        ans = replay.send(e, "127.0.0.1", m.port)
        if replay.refused(direct, ans):
            refused.append((e, ans))
    # the corpus is ordinary traffic: the app itself takes all of it
    assert not app_refused, app_refused

    events = {}
    for line in seclog.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if d.get("request_id"):
            events.setdefault(d["request_id"], []).append(d)
    lines = []
    for e, ans in refused:
        why = ["%s %s %s" % (d.get("event"), d.get("reason", ""), d.get("rule", ""))
               for d in events.get(ans.request_id or "", [])]
        lines.append("%s %d (%s): %s" % (e["id"], ans.status, e["note"], "; ".join(why)))
    n = len(refused)
    own = [line for (e, ans), line in zip(refused, lines)
           if e["id"] not in OWN_ALLOWED and not any(
               d.get("event") == "waf.blocked" and d.get("rule")
               for d in events.get(ans.request_id or "", []))]
    assert not own, "refused by moat itself, not by a rule:\n" + "\n".join(own)
    assert n < NGINX_MODSECURITY_REFUSED
    assert n <= MAX_REFUSED * total, (
        "%d of %d ordinary requests refused (%.1f %%, at most %.0f %%):\n%s"
        % (n, total, 100.0 * n / total, 100 * MAX_REFUSED,
           "\n".join(lines)))
