#!/usr/bin/env python3
"""Write gitleaks' own rule examples (true and false positives) to files.

usage: gitleaks_examples.py GITLEAKS_CHECKOUT OUT_DIR

Reads the Go sources of gitleaks' rules (cmd/generate/config/rules/*.go) for
the providers moat claims and writes every example each rule validates
against: the literal true positives, the ones gitleaks expands through its
GenerateSampleSecrets templates (every shape of utils/generate.go, with the
random parts drawn here from the same alphabets, seeded), and the literal
false positives. OUT_DIR/expect.json maps each file to its rule and kind.
Nothing of gitleaks is copied into moat's repository: this reads a checkout
the user provides.
"""
import json
import os
import random
import re
import sys

RULES = {  # gitleaks' file -> the rule ids moat claims in it (None: all)
    "aws": ["aws-access-token"],
    "gcp": ["gcp-api-key"],
    "github": None,
    "gitlab": None,
    "jwt": ["jwt"],
    "privatekey": ["private-key"],
    "sendgrid": None,
    "stripe": None,
    "twilio": None,
    "slack": None,
}
ALPHABETS = {
    "Numeric": "0123456789",
    "Hex": "0123456789abcdef",
    "AlphaNumeric": "abcdefghijklmnopqrstuvwxyz0123456789",
    "AlphaNumericExtendedShort": "abcdefghijklmnopqrstuvwxyz0123456789_-",
    "AlphaNumericExtended": "abcdefghijklmnopqrstuvwxyz0123456789=_-",
    "AlphaNumericExtendedLong": "abcdefghijklmnopqrstuvwxyz0123456789/=_+-",
}
STRING = r'(`[^`]*`|"(?:[^"\\]|\\.)*")'


def go_string(tok):
    return tok[1:-1] if tok.startswith("`") else json.loads(tok)


def outside(s, start=0, depth=0):
    """(index, character, parenthesis depth) of s's characters outside
    string literals, from start."""
    quote = None
    for i in range(start, len(s)):
        ch = s[i]
        if quote:
            if ch == quote and s[i - 1] != "\\":
                quote = None
            continue
        if ch in "`\"":
            quote = ch
            continue
        depth += (ch == "(") - (ch == ")")
        yield i, ch, depth


def split_top(s, sep):
    """s split at sep outside strings and parentheses."""
    cuts = [i for i, ch, depth in outside(s) if ch == sep and depth == 0]
    bounds = [-1] + cuts + [len(s)]
    parts = (s[x + 1 : y].strip() for x, y in zip(bounds, bounds[1:]))
    return [p for p in parts if p]


def char_class(cls):
    cls = cls.replace("\\w", "a-zA-Z0-9_")
    chars, k = "", 0
    while k < len(cls):
        if k + 2 < len(cls) and cls[k + 1] == "-":
            chars += "".join(chr(c) for c in range(ord(cls[k]), ord(cls[k + 2]) + 1))
            k += 3
        else:
            chars += cls[k]
            k += 1
    return chars


def evaluate(expr, rnd):
    """A Go string expression: literals and secrets.NewSecret(...) joined by +."""
    out = ""
    for part in split_top(expr, "+"):
        if part.startswith(("`", '"')):
            out += go_string(part)
            continue
        m = re.match(r'secrets\.NewSecret\(utils\.(\w+)\("(\d+)"\)\)$', part)
        if m:
            out += "".join(rnd.choice(ALPHABETS[m.group(1)]) for _ in range(int(m.group(2))))
            continue
        m = re.match(r'secrets\.NewSecret\((["`])(\w*)\[([^\]]+)\]\{(\d+)\}\1\)$', part)
        if m:
            chars = char_class(m.group(3))
            out += m.group(2) + "".join(rnd.choice(chars) for _ in range(int(m.group(4))))
            continue
        raise ValueError(part)
    return out


def calls(text, name):
    """The argument text of every call of name(...)."""
    res, i = [], 0
    while True:
        i = text.find(name + "(", i)
        if i < 0:
            return res
        start = i + len(name) + 1
        end = next((j for j, _, depth in outside(text, start, 1) if depth == 0), len(text))
        res.append(text[start:end])
        i = end + 1


def templates(root):
    gen = open(os.path.join(root, "cmd/generate/config/utils/generate.go")).read()
    body = gen[gen.index("func GenerateSampleSecrets") :]
    body = body[: body.index("replacer :=")]
    out = []
    for line in body.splitlines():
        m = re.match(r'"[^"]*":\s*(.*),\s*$', line.strip())
        if m and not line.strip().startswith("//"):
            out.append(go_string(m.group(1)))
    return out


def list_items(block, rnd):
    """Items of a Go []string literal, one per line (multi-line raw strings too)."""
    items = []
    for m in re.finditer(r"^\s*(" + STRING + r"[^\n]*?),?\s*(?://[^\n]*)?$", block, re.M | re.S):
        expr = m.group(1).rstrip().rstrip(",")
        if "Sprintf" in expr:
            continue
        try:
            items.append(evaluate(expr, rnd))
        except (ValueError, json.JSONDecodeError):
            pass
    return items


def main():
    root, out = sys.argv[1], sys.argv[2]
    rnd = random.Random(20261207)
    shapes = templates(root)
    expect, n = {}, 0
    for fname, wanted in RULES.items():
        src = open(os.path.join(root, "cmd/generate/config/rules/%s.go" % fname)).read()
        for fn in re.split(r"\nfunc ", src):
            m = re.search(r'RuleID:\s*"([^"]+)"', fn)
            if not m or (wanted is not None and m.group(1) not in wanted):
                continue
            rule = m.group(1)
            t0 = fn.find("tps :=")
            cut = min(i for i in (fn.find("fps :="), fn.find("return utils.Validate"), len(fn)) if i >= 0)
            tpart, fpart = fn[max(t0, 0) : cut], fn[cut:]
            tpart, fpart = (x.replace("[]string{", "[]string{\n") for x in (tpart, fpart))
            tps = []
            for args in calls(tpart, "utils.GenerateSampleSecrets"):
                a = split_top(args, ",")
                try:
                    ident, secret = go_string(a[0]), evaluate(a[1], rnd)
                except ValueError as e:  # a generator regex this script does not draw from
                    print("%s: skipped %s" % (rule, e), file=sys.stderr)
                    continue
                tps += [t.replace("{i}", ident).replace("{I}", ident.upper()).replace("{s}", secret) for t in shapes]
            for args in calls(tpart, "utils.GenerateSampleSecret"):
                a = split_top(args, ",")
                tps.append('%s_token = "%s"' % (go_string(a[0]), evaluate(a[1], rnd)))
            tps += list_items(re.sub(r"utils\.GenerateSampleSecrets?\([^\n]*", "", tpart), rnd)
            fps = list_items(fpart[: fpart.find("\n\t}") + 1] if "fps :=" in fpart else "", rnd)
            for kind, examples in (("tp", tps), ("fp", fps)):
                for text in examples:
                    n += 1
                    rel = "%s/%s-%04d.txt" % (kind, rule, n)
                    os.makedirs(os.path.join(out, kind), exist_ok=True)
                    with open(os.path.join(out, rel), "w") as f:
                        f.write(text + "\n")
                    expect[rel] = {"rule": rule, "kind": kind, "text": text}
    with open(os.path.join(out, "expect.json"), "w") as f:
        json.dump(expect, f, indent=1)


if __name__ == "__main__":
    main()
