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
    "aws": None,
    "gcp": ["gcp-api-key"],
    "github": None,
    "gitlab": None,
    "jwt": ["jwt"],
    "privatekey": ["private-key"],
    "sendgrid": None,
    "stripe": None,
    "twilio": None,
    "slack": None,
    # providers.def
    "openai": None,
    "anthropic": None,
    "huggingface": None,
    "pypi": None,
    "npm": None,
    "rubygems": None,
    "clojars": None,
    "artifactory": None,
    "azure": ["azure-ad-client-secret"],
    "alibaba": ["alibaba-access-key-id"],
    "digitalocean": None,
    "cloudflare": ["cloudflare-origin-ca-key"],
    "flyio": None,
    "heroku": ["heroku-api-key-v2"],
    "scalingo": None,
    "openshift": None,
    "hashicorp_vault": None,
    "hashicorp": ["hashicorp-tf-api-token"],
    "pulumi": None,
    "doppler": None,
    "1password": None,
    "databricks": None,
    "dynatrace": None,
    "grafana": None,
    "sentry": ["sentry-org-token", "sentry-user-token"],
    "prefect": None,
    "readme": None,
    "infracost": None,
    "postman": None,
    "linear": ["linear-api-key"],
    "atlassian": None,
    "notion": None,
    "airtable": ["airtable-personnal-access-token"],
    "shopify": None,
    "square": None,
    "shippo": None,
    "easypost": None,
    "duffel": None,
    "sendinblue": None,
    "perplexity": None,
    "planetscale": None,
    "facebook": ["facebook-page-access-token"],
    "adobe": ["adobe-client-secret"],
    "frameio": None,
    "maxmind": None,
    "clickhouse": None,
    "settlemint": None,
}
CLASSES = {  # gitleaks' utils/patterns.go
    "Numeric": "[0-9]",
    "Hex": "[a-f0-9]",
    "AlphaNumeric": "[a-z0-9]",
    "AlphaNumericExtendedShort": "[a-z0-9_-]",
    "AlphaNumericExtended": "[a-z0-9=_\\-]",
    "AlphaNumericExtendedLong": "[a-z0-9\\/=_\\+\\-]",
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


WORD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
ESCAPES = {"w": WORD, "d": "0123456789", "s": " "}


def class_chars(body):
    """The characters of a regex class body such as a-z0-9_\-."""
    chars, k = "", 0
    while k < len(body):
        ch = body[k]
        if ch == "\\":
            nxt = body[k + 1]
            chars += ESCAPES.get(nxt, nxt)
            k += 2
        elif k + 2 < len(body) and body[k + 1] == "-":
            chars += "".join(chr(c) for c in range(ord(ch), ord(body[k + 2]) + 1))
            k += 3
        else:
            chars += ch
            k += 1
    return chars


def draw(pattern, rnd):
    """A random string the (simple) regex pattern matches: literals, escapes,
    classes, groups with alternatives, and the quantifiers gitleaks' secret
    generators use (an open repetition draws its minimum)."""

    def alternatives(i):
        alts, cur = [], []
        while i < len(pattern) and pattern[i] != ")":
            if pattern[i] == "|":
                alts.append(cur)
                cur, i = [], i + 1
                continue
            item, i = atom(i)
            item, i = quantified(item, i)
            cur.append(item)
        alts.append(cur)
        return alts, i

    def atom(i):
        ch = pattern[i]
        if ch == "(":
            i += 1
            if pattern.startswith("?", i):
                i = pattern.index(":", i) + 1 if pattern[i + 1] not in ")" and ":" in pattern[i : i + 4] else pattern.index(")", i) + 1
                if pattern[i - 1] == ")":  # a flag group such as (?i)
                    return ("lit", ""), i
            alts, i = alternatives(i)
            return ("alt", alts), i + 1
        if ch == "[":
            j = i + 1
            while pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            return ("set", class_chars(pattern[i + 1 : j])), j + 1
        if ch == "\\":
            nxt = pattern[i + 1]
            if nxt == "b":
                return ("lit", ""), i + 2
            return (("set", ESCAPES[nxt]) if nxt in ESCAPES else ("lit", nxt)), i + 2
        return ("lit", ch), i + 1

    def quantified(item, i):
        if i < len(pattern) and pattern[i] == "{":
            j = pattern.index("}", i)
            lo = int(pattern[i + 1 : j].split(",")[0])
            return ("rep", item, lo), j + 1
        if i < len(pattern) and pattern[i] in "?*":
            return ("rep", item, 0), i + 1
        if i < len(pattern) and pattern[i] == "+":
            return ("rep", item, 1), i + 1
        return item, i

    def render(item):
        kind = item[0]
        if kind == "lit":
            return item[1]
        if kind == "set":
            return rnd.choice(item[1])
        if kind == "rep":
            return "".join(render(item[1]) for _ in range(item[2]))
        return "".join(render(x) for x in rnd.choice(item[1]))

    alts, _ = alternatives(0)
    return "".join(render(x) for x in rnd.choice(alts))


def evaluate(expr, rnd):
    """A Go string expression: literals and secrets.NewSecret(...) joined by +."""
    out = ""
    for part in split_top(expr, "+"):
        if part.startswith(("`", '"')):
            out += go_string(part)
            continue
        m = re.match(r"secrets\.NewSecret\((.*)\)$", part, re.S)
        if m:  # the argument is a regex, built from literals and utils' classes
            regex = ""
            for piece in split_top(m.group(1), "+"):
                u = re.match(r'utils\.(\w+)\("([\d,]+)"\)$', piece)
                regex += "%s{%s}" % (CLASSES[u.group(1)], u.group(2)) if u else go_string(piece)
            out += draw(regex, rnd)
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
    block = re.sub(r"\+[ \t]*(?://[^\n]*)?\n\s*", "+", block)  # "prefix"+\n NewSecret(...)
    for m in re.finditer(r"^\s*(" + STRING + r"[^\n]*?),?\s*(?://[^\n]*)?$", block, re.M | re.S):
        expr = m.group(1).rstrip().rstrip(",")
        if "Sprintf" in expr or re.search(r"\\[dw]|\{\d+,\d*\}", expr):
            continue  # formatted, or a fragment of a generator's regex
        try:
            items.append(evaluate(expr, rnd))
        except (ValueError, json.JSONDecodeError):
            pass
    return items


def main():
    root, out = sys.argv[1], sys.argv[2]
    rnd = random.Random(20261207)
    shapes = templates(root)
    expect, n, regexes = {}, 0, {}
    for fname, wanted in RULES.items():
        src = open(os.path.join(root, "cmd/generate/config/rules/%s.go" % fname)).read()
        for fn in re.split(r"\nfunc ", src):
            m = re.search(r'RuleID:\s*"([^"]+)"', fn)
            if not m or (wanted is not None and m.group(1) not in wanted):
                continue
            rule = m.group(1)
            rx = re.search(r"Regex:\s*(?:regexp\.MustCompile|utils\.GenerateUniqueTokenRegex)\((`[^`]*`)", fn)
            if rx:
                regexes[rule] = go_string(rx.group(1)).replace("\\z", "\\Z")
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
    with open(os.path.join(out, "regexes.json"), "w") as f:
        json.dump(regexes, f, indent=1)


if __name__ == "__main__":
    main()
