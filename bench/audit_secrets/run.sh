#!/usr/bin/env bash
# bench/audit_secrets/run.sh MOAT_BINARY
#
# Recall of `moat audit secrets` on examples of gitleaks' rules for the
# providers moat claims (bench/audit_secrets/examples.py writes them from the
# rules' documented formats, in the assignment shapes of several languages),
# and its findings on the negative examples. Prints a Markdown report.
# A true positive counts when a finding's line holds the example's secret
# (any moat rule: the generic detectors may be the ones that find it).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
MOAT=${1:?usage: bench/audit_secrets/run.sh MOAT_BINARY}
bench_init moat-secrets-bench
/usr/bin/python3 bench/audit_secrets/examples.py "$DIR/ex" "${SEED:-20261207}"
"$MOAT" audit secrets "$DIR/ex" --format json --output "$DIR/moat.json" || true
/usr/bin/python3 - "$DIR/ex" "$DIR/moat.json" <<'PY'
import collections, json, os, sys
root, rep = sys.argv[1], json.load(open(sys.argv[2]))
exp = json.load(open(os.path.join(root, "expect.json")))
hit = collections.defaultdict(list)
for f in rep["findings"]:
    hit[os.path.relpath(f["path"], root)].append(f)
tp = collections.Counter(); tot = collections.Counter(); fam = {}; fps = collections.Counter(); negs = collections.Counter()
missed = []
for rel, e in sorted(exp.items()):
    if e["rule"] is None:
        negs[e["family"]] += 1
        fps[e["family"]] += bool(hit.get(rel))
        continue
    tot[e["rule"]] += 1
    fam[e["rule"]] = e["family"]
    if hit.get(rel):
        tp[e["rule"]] += 1
    else:
        missed.append(rel)
print("| gitleaks rule | moat family | found | examples | recall |")
print("|---|---|---:|---:|---:|")
for r in sorted(tot):
    print("| %s | %s | %d | %d | %.0f %% |" % (r, fam[r], tp[r], tot[r], 100.0 * tp[r] / tot[r]))
T, N = sum(tot.values()), sum(tp.values())
print("| **all** | | **%d** | **%d** | **%.1f %%** |" % (N, T, 100.0 * N / T))
print()
print("Negative examples reported: %d of %d (%s)." % (sum(fps.values()), sum(negs.values()),
      ", ".join("%s %d/%d" % (k, fps[k], negs[k]) for k in sorted(negs))))
if missed:
    print("\nMissed: " + ", ".join(missed[:40]))
PY
