#!/usr/bin/env python3
"""Reads scripts/lint-waivers.txt (format in that file) for scripts/lint.sh.

  lint-waivers.py check FILE       every waiver names a known tool, a file
                                   that exists and a reason
  lint-waivers.py cppcheck FILE    the cppcheck waivers as a suppressions list
  lint-waivers.py clang-tidy FILE [BUILD]
                                   reads clang-tidy's output on stdin, prints
                                   the findings no waiver covers; exit 1 if any
                                   (relative paths in it are BUILD's)
"""
import os
import re
import sys

TOOLS = ("cppcheck", "clang-tidy")
ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))


def waivers(path):
    out, bad = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 3)
            if len(parts) < 4 or parts[0] not in TOOLS:
                bad.append("%s:%d: want TOOL CHECK-ID FILE[:LINE] REASON" % (path, n))
                continue
            tool, check, where, reason = parts
            file, _, ln = where.partition(":")
            if not os.path.isfile(os.path.join(ROOT, file)):
                bad.append("%s:%d: %s does not exist" % (path, n, file))
            if ln and not ln.isdigit():
                bad.append("%s:%d: bad line number %r" % (path, n, ln))
            out.append({"tool": tool, "check": check, "file": file,
                        "line": int(ln) if ln else None, "reason": reason, "used": False})
    return out, bad


DIAG = re.compile(r"^(\S+?):(\d+):(\d+): (warning|error): (.*?)(?: \[([^\]]+)\])?$")


def clang_tidy(ws, build):
    text = re.sub(r"\x1b\[[0-9;]*m", "", sys.stdin.read())
    seen, left = set(), []
    for line in text.splitlines():
        m = DIAG.match(line)
        if not m:
            continue
        path, ln, _, kind, msg, checks = m.groups()
        if not os.path.isabs(path):
            path = os.path.join(build, path)
        rel = os.path.relpath(os.path.realpath(path), ROOT)
        key = (rel, ln, msg)
        if key in seen:
            continue
        seen.add(key)
        checks = (checks or "clang-diagnostic-error").split(",")
        waived = False
        for w in ws:
            if (w["tool"] == "clang-tidy" and w["check"] in checks and w["file"] == rel
                    and w["line"] in (None, int(ln))):
                w["used"] = waived = True
        if not waived:
            left.append("%s:%s: clang-tidy %s: %s" % (rel, ln, ",".join(checks), msg))
    for line in left:
        print(line)
    for w in ws:
        if w["tool"] == "clang-tidy" and not w["used"]:
            print("lint: note: waiver no longer needed: %s %s" % (w["check"], w["file"]))
    return 1 if left else 0


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    mode, path = argv[1], argv[2]
    ws, bad = waivers(path)
    if mode == "check":
        for b in bad:
            print(b)
        return 1 if bad else 0
    if mode == "cppcheck":
        for w in ws:
            if w["tool"] == "cppcheck":
                print("%s:%s%s" % (w["check"], w["file"], ":%d" % w["line"] if w["line"] else ""))
        return 0
    if mode == "clang-tidy":
        return clang_tidy(ws, os.path.join(ROOT, argv[3]) if len(argv) == 4 else ROOT)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
