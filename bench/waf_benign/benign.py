#!/usr/bin/env python3
"""bench/waf_benign/benign.py: replays the benign corpus (tests/data/benign/
corpus.jsonl) against the application directly and through each proxy, and
prints a Markdown report of the false refusals: any 4xx/5xx (or no answer)
from a proxy for a request the application itself answered below 400.
Requests go one at a time, each on a new connection, so every line a proxy
logs belongs to the request just sent.

    benign.py --app http://127.0.0.1:P \
              --proxy moat=http://127.0.0.1:P --moat-log SECURITY_LOG \
              --proxy nginx-modsecurity=http://127.0.0.1:P --modsec-log NGINX_ERROR_LOG \
              [--details refusals.json] [--category C ...] [--max-body BYTES]

run.sh starts everything and calls it. The first proxy is the one the ratio
divides (moat / the second).
"""

import argparse
import collections
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "data" / "benign"))
import replay  # noqa: E402


def hostport(url):
    u = urlsplit(url)
    return u.hostname, u.port


class MoatLog:
    """moat's security log: the events of a request, by request id."""

    def __init__(self, path):
        self.path = path
        self.events = None

    def why(self, rid):
        if self.events is None:
            self.events = collections.defaultdict(list)
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        d = json.loads(line)
                    except ValueError:
                        continue
                    if d.get("request_id"):
                        self.events[d["request_id"]].append(d)
        out = []
        for d in self.events.get(rid or "", []):
            out.append({k: d[k] for k in ("event", "status", "stage", "reason", "rule", "message",
                                          "matched", "data", "config_key") if k in d})
        return out


class ModsecLog:
    """nginx's error log: the lines written while one request was served."""

    RX_ID = re.compile(r'\[id "(\d+)"\]')
    RX_MSG = re.compile(r'\[msg "([^"]*)"\]')

    def __init__(self, path):
        self.path = Path(path)
        self.mark()

    def mark(self):
        self.pos = self.path.stat().st_size if self.path.exists() else 0

    def since_mark(self):
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            text = f.read().decode("utf-8", "replace")
        out = []
        for line in text.splitlines():
            ids = self.RX_ID.findall(line)
            msg = self.RX_MSG.findall(line)
            if ids:
                out.append({"rule": ids[0], "message": msg[0] if msg else ""})
            elif "too large body" in line:
                out.append({"rule": "nginx", "message": "client_max_body_size"})
            elif "[error]" in line or "[warn]" in line:
                out.append({"rule": "nginx", "message": line.split("] ", 1)[-1][:160]})
        return out


def cause_of(events):
    """A short grouping key for a refusal: moat's event/reason and rule ids,
    or ModSecurity's rule ids (the 949110/980130 totals left out)."""
    if not events:
        return "(nothing logged)"
    if "event" in events[0]:
        e = events[0]
        rules = e.get("rule")
        return "%s: %s%s" % (e["event"], e.get("reason", ""), " [%s]" % rules if rules else "")
    ids = sorted({e["rule"] for e in events if e["rule"] not in ("949110", "980130", "959100")})
    return "rules " + ",".join(ids) if ids else "; ".join(e["message"] for e in events[:2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--proxy", action="append", default=[], help="NAME=URL")
    ap.add_argument("--moat-log")
    ap.add_argument("--modsec-log")
    ap.add_argument("--corpus", default=str(replay.CORPUS))
    ap.add_argument("--details", help="write every refusal as JSON here")
    ap.add_argument("--category", action="append", default=[])
    ap.add_argument("--max-body", type=int, default=0, help="skip bodies larger than this")
    args = ap.parse_args()

    proxies = [p.split("=", 1) for p in args.proxy]
    entries = replay.load(args.corpus)
    if args.category:
        entries = [e for e in entries if e["category"] in args.category]
    if args.max_body:
        entries = [e for e in entries if replay.body_size(e) <= args.max_body]
    moat_log = MoatLog(args.moat_log) if args.moat_log else None
    modsec_log = ModsecLog(args.modsec_log) if args.modsec_log else None

    app = hostport(args.app)
    cats = collections.OrderedDict()
    refusals = {name: [] for name, _ in proxies}
    app_refused = []
    pending = []
    for n, e in enumerate(entries):
        direct = replay.send(e, *app)
        if direct.status == 0 or direct.status >= 400:
            app_refused.append((e, direct.status))
            continue
        c = cats.setdefault(e["category"], {"requests": 0, **{name: 0 for name, _ in proxies}})
        c["requests"] += 1
        for name, url in proxies:
            if name.startswith("nginx") and modsec_log:
                modsec_log.mark()
            ans = replay.send(e, *hostport(url))
            if replay.refused(direct, ans):
                c[name] += 1
                r = {"id": e["id"], "category": e["category"], "note": e["note"],
                     "method": e["method"], "target": e["target"], "status": ans.status,
                     "error": ans.error, "request_id": ans.request_id}
                if name.startswith("nginx") and modsec_log:
                    r["log"] = modsec_log.since_mark()
                elif moat_log:
                    pending.append(r)
                refusals[name].append(r)
        if (n + 1) % 100 == 0:
            print("benign: %d/%d" % (n + 1, len(entries)), file=sys.stderr)
    for r in pending:  # moat's log is read once everything is sent
        r["log"] = moat_log.why(r["request_id"])

    names = [name for name, _ in proxies]
    total = sum(c["requests"] for c in cats.values())
    print("| category | requests | " + " | ".join("%s refused" % n for n in names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for cat, c in cats.items():
        print("| %s | %d | %s |" % (cat, c["requests"], " | ".join(str(c[n]) for n in names)))
    sums = {n: sum(c[n] for c in cats.values()) for n in names}
    print("| **all** | **%d** | %s |" % (total, " | ".join(
        "**%d (%.1f %%)**" % (sums[n], 100.0 * sums[n] / total if total else 0) for n in names)))
    if len(names) >= 2:
        a, b = sums[names[0]], sums[names[1]]
        print()
        print("False refusals %s / %s: **%s** (%d / %d)." % (
            names[0], names[1], "%.2f" % (a / b) if b else "n/a (%s refused none)" % names[1],
            a, b))
    if app_refused:
        print()
        print("Left out, the application itself refused them: " + ", ".join(
            "%s (%d)" % (e["id"], s) for e, s in app_refused))
    for n in names:
        groups = collections.OrderedDict()
        for r in refusals[n]:
            groups.setdefault("%d %s" % (r["status"], cause_of(r.get("log"))), []).append(r)
        print()
        print("%s's refusals by cause:" % n)
        print()
        for key, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            print("- %d x %s: %s" % (len(rs), key, ", ".join(r["id"] for r in rs)))
    if args.details:
        Path(args.details).write_text(json.dumps(refusals, indent=1, ensure_ascii=False) + "\n",
                                      encoding="utf-8")


if __name__ == "__main__":
    main()
