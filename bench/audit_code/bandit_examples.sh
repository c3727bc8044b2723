#!/usr/bin/env bash
# bench/audit_code/bandit_examples.sh MOAT_BINARY BANDIT_SOURCE
#
# moat against today's Bandit on Bandit's own examples: BANDIT_SOURCE is a
# checkout of Bandit's main branch (its bandit/ package, examples/ and
# setup.cfg). Bandit is run from that source with the system's stevedore and
# PyYAML (its progress bar, from rich, is stubbed; its plugins are registered
# from setup.cfg in a temporary dist-info), moat on the same examples folder.
# A Bandit finding counts as found when moat reports the same id (or has it
# as an alias) on a line of the finding's range. Prints a Markdown report:
# recall per id and overall, and moat's findings under Bandit ids that Bandit
# does not report. Nothing of Bandit's is copied into the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
MOAT=$(realpath "${1:?usage: bench/audit_code/bandit_examples.sh MOAT_BINARY BANDIT_SOURCE}")
SRC=$(realpath "${2:?usage: bench/audit_code/bandit_examples.sh MOAT_BINARY BANDIT_SOURCE}")
bench_init moat-bandit-examples
mkdir -p "$DIR/py/rich" "$DIR/deps"
printf 'def track(seq, *a, **k):\n    return seq\n' >"$DIR/py/rich/progress.py"
: >"$DIR/py/rich/__init__.py"
for m in stevedore yaml _yaml pbr; do
    [ -e "/usr/lib/python3/dist-packages/$m" ] && ln -s "/usr/lib/python3/dist-packages/$m" "$DIR/deps/"
done
ver=$(cd "$SRC" && git describe --tags --always 2>/dev/null || echo main)
/usr/bin/python3 - "$SRC/setup.cfg" "$DIR/py" <<'PY'
import configparser, os, sys
cp = configparser.ConfigParser(interpolation=None)
cp.read(sys.argv[1])
d = os.path.join(sys.argv[2], "bandit-99.dist-info")
os.makedirs(d)
open(os.path.join(d, "METADATA"), "w").write("Metadata-Version: 2.1\nName: bandit\nVersion: 99\n")
with open(os.path.join(d, "entry_points.txt"), "w") as f:
    for k, v in cp["entry_points"].items():
        f.write("[%s]\n%s\n\n" % (k, "\n".join(l.strip() for l in v.strip().splitlines())))
PY
cp -r "$SRC/examples" "$DIR/examples"
log "bandit (source: $ver)"
(cd "$DIR" && PYTHONPATH="$SRC:$DIR/py:$DIR/deps" /usr/bin/python3 -S -c \
    "import sys; sys.argv = ['bandit', '-r', 'examples', '-f', 'json', '-q', '-o', 'bandit.json']
from bandit.cli.main import main; main()" 2>/dev/null || true)
log "moat"
printf '[audit]\nexclude = []\n' >"$DIR/moat.toml"
(cd "$DIR" && "$MOAT" audit code examples --config moat.toml --format json --output moat.json || true)
/usr/bin/python3 - "$DIR" "$ver" <<'PY'
import collections, json, os, sys
d, ver = sys.argv[1], sys.argv[2]
b = json.load(open(os.path.join(d, "bandit.json")))["results"]
m = json.load(open(os.path.join(d, "moat.json")))["findings"]
norm = lambda p: os.path.normpath(p)
ours = collections.defaultdict(list)
for f in m:
    ours[norm(f["path"])].append(f)
tot, hit, missed = collections.Counter(), collections.Counter(), []
used = set()
for r in b:
    tid, path = r["test_id"], norm(r["filename"])
    lines = set(r.get("line_range") or [r["line_number"]]) | {r["line_number"]}
    tot[tid] += 1
    ok = False
    for i, f in enumerate(ours[path]):
        ids = [f["rule"]] + (f.get("aliases") or [])
        if tid in ids and any(f["line"] <= l <= f["end_line"] for l in lines):
            ok = True
            used.add((path, i))
    if ok:
        hit[tid] += 1
    else:
        missed.append("%s:%d %s" % (path, r["line_number"], tid))
bandit_at = {(norm(r["filename"]), r["test_id"]) for r in b}
extra = [f for p, fs in ours.items() for i, f in enumerate(fs)
         if f["rule"].startswith("B") and (p, i) not in used]
T, H = sum(tot.values()), sum(hit.values())
print("Bandit %s on its examples/ (%d findings); moat on the same files.\n" % (ver, T))
print("| id | Bandit | moat found | recall |")
print("|---|---:|---:|---:|")
for k in sorted(tot):
    print("| %s | %d | %d | %.0f %% |" % (k, tot[k], hit[k], 100.0 * hit[k] / tot[k]))
print("| **all** | **%d** | **%d** | **%.1f %%** |" % (T, H, 100.0 * H / T))
print("\nmoat findings under Bandit ids that Bandit does not report: %d" % len(extra))
for f in extra[:60]:
    print("- %s:%d %s (%s)" % (os.path.relpath(f["path"], d) if f["path"].startswith("/") else f["path"],
                               f["line"], f["rule"], f["message"][:70]))
print("\nMissed: %d" % len(missed))
for x in missed[:80]:
    print("- " + x)
PY
