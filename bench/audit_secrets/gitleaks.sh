#!/usr/bin/env bash
# bench/audit_secrets/gitleaks.sh GITLEAKS_CHECKOUT MOAT_BINARY
#
# Recall of `moat audit secrets` on gitleaks' own rule examples (not only
# their formats, as run.sh): gitleaks_examples.py reads the rules' Go
# sources in a gitleaks checkout you provide (nothing of gitleaks is in this
# repository) and writes every true and false positive each rule of a
# provider moat claims is validated against, one file each. A true
# positive counts when moat reports anything in its file; a false positive
# when it reports anything in a negative's file (gitleaks reports none of
# them: its rules are validated against these lists). Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
SRC=${1:?usage: bench/audit_secrets/gitleaks.sh GITLEAKS_CHECKOUT MOAT_BINARY}
MOAT=${2:?usage: bench/audit_secrets/gitleaks.sh GITLEAKS_CHECKOUT MOAT_BINARY}
bench_init moat-gitleaks-bench
/usr/bin/python3 bench/audit_secrets/gitleaks_examples.py "$SRC" "$DIR/ex"
"$MOAT" audit secrets "$DIR/ex" --format json --output "$DIR/moat.json" || true
rev=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo "unknown")
echo "gitleaks checkout $rev; $("$MOAT" --version 2>&1 | head -1)"
echo
/usr/bin/python3 - "$DIR/ex" "$DIR/moat.json" <<'PY'
import collections, json, os, re, sys, warnings
warnings.simplefilter("ignore", FutureWarning)
root, rep = sys.argv[1], json.load(open(sys.argv[2]))
exp = json.load(open(os.path.join(root, "expect.json")))
hit = {}
for f in rep["findings"]:
    hit.setdefault(os.path.relpath(f["path"], root), f["rule"])
rx = {}
for rule, pat in json.load(open(os.path.join(root, "regexes.json"))).items():
    inline = re.match(r"\(\?i\)", pat)
    try:  # Go's (?i) inside a pattern: the whole pattern case-insensitive here
        rx[rule] = re.compile(pat.replace("(?i)", "").replace("(?-i:", "(?:"), re.I if "(?i)" in pat else 0)
    except re.error:
        pass
claimed = {e["rule"] for e in exp.values()}
def sibling(rule, text):
    """Another claimed rule's format: an example of it, not a false positive."""
    return any(r != rule and r in rx and rx[r].search(text) for r in claimed)
tp, tot, fp, neg = (collections.Counter() for _ in range(4))
other = []
missed, wrong = [], []
for rel, e in sorted(exp.items()):
    if e["kind"] == "fp" and rel in hit and sibling(e["rule"], e["text"]):
        other.append("%s: %s" % (e["rule"], e["text"]))
        continue
    if e["kind"] == "fp":
        neg[e["rule"]] += 1
        if rel in hit:
            fp[e["rule"]] += 1
            wrong.append("%s (%s)" % (e["text"], hit[rel]))
    else:
        tot[e["rule"]] += 1
        if rel in hit:
            tp[e["rule"]] += 1
        else:
            missed.append(e["text"])
print("| gitleaks rule | found | examples | recall | negatives reported |")
print("|---|---:|---:|---:|---:|")
for r in sorted(tot):
    print("| %s | %d | %d | %.1f %% | %d / %d |" % (r, tp[r], tot[r], 100.0 * tp[r] / tot[r], fp[r], neg[r]))
T, N = sum(tot.values()), sum(neg.values())
print("| **all** | **%d** | **%d** | **%.1f %%** | **%d / %d** |" % (sum(tp.values()), T, 100.0 * sum(tp.values()) / T, sum(fp.values()), N))
for label, lst in (("missed", missed), ("negatives reported", wrong),
                   ("negatives left out (another claimed rule's format)", other)):
    if lst:
        print("\n%s:" % label)
        for t in lst[:20]:
            print("    " + repr(t[:120]))
PY
