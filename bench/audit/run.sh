#!/usr/bin/env bash
# bench/audit/run.sh MOAT_BINARY [ADVISORIES.ndjson]
#
# The dependency auditor's speed, printed as a Markdown report on stdout
# (progress on stderr):
#
# 1. `moat db import` of the whole advisory file into a fresh database:
#    records/s (best and median of BENCH_RUNS runs).
# 2. `moat audit deps` of a uv.lock with 1,000 packages against that
#    database: wall time per run (median and best of BENCH_RUNS), as a user
#    runs it (process start, database open, every package looked up, JSON
#    report written). The lock holds every package the data has advisories
#    for, each at a version its advisories list (so the lookups do real
#    work), plus made-up clean packages up to 1,000; and a more usual lock
#    of 50 packages with advisories and 950 without.
#
# The advisory file defaults to the shared PyPA data (../shared/data/
# osv-pypi/advisories.ndjson beside the repository). Environment: BENCH_RUNS
# [7]. Needs python3. Everything runs in a temporary folder, removed on exit.
set -euo pipefail

MOAT=${1:?usage: bench/audit/run.sh MOAT_BINARY [ADVISORIES.ndjson]}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${2:-$ROOT/../shared/data/osv-pypi/advisories.ndjson}
RUNS=${BENCH_RUNS:-7}
[ -x "$MOAT" ] || { echo "not an executable: $MOAT" >&2; exit 1; }
[ -f "$DATA" ] || { echo "no advisory file: $DATA" >&2; exit 1; }
MOAT=$(realpath "$MOAT")
DATA=$(realpath "$DATA")

. "$(dirname "$0")/../lib.sh"
bench_init moat-bench-audit

log "writing a 1000-package uv.lock"
python3 - "$DATA" "$DIR/uv.lock" <<'PY'
import json, re, sys
data, out = sys.argv[1], sys.argv[2]
pkgs = {}
for line in open(data, encoding="utf-8"):
    r = json.loads(line)
    for a in r.get("affected", []):
        name = re.sub(r"[-_.]+", "-", a["package"]["name"]).lower()
        vs = [v for v in a.get("versions", []) if re.fullmatch(r"[0-9]+(\.[0-9]+)*", v)]
        if vs and name not in pkgs:
            pkgs[name] = vs[len(vs) // 2]
names = sorted(pkgs)[:1000]
with open(out, "w") as f:
    f.write('version = 1\nrequires-python = ">=3.8"\n')
    for n in names:
        f.write('\n[[package]]\nname = "%s"\nversion = "%s"\n' % (n, pkgs[n]))
    for i in range(1000 - len(names)):
        f.write('\n[[package]]\nname = "clean-package-%d"\nversion = "1.%d.0"\n' % (i, i))
print(len(names), file=sys.stderr)
# a more usual lock: 50 packages with advisories, 950 without
import os
os.makedirs(os.path.join(os.path.dirname(out), "usual"), exist_ok=True)
with open(os.path.join(os.path.dirname(out), "usual", "uv.lock"), "w") as f:
    f.write('version = 1\nrequires-python = ">=3.8"\n')
    for n in names[:50]:
        f.write('\n[[package]]\nname = "%s"\nversion = "%s"\n' % (n, pkgs[n]))
    for i in range(950):
        f.write('\n[[package]]\nname = "clean-package-%d"\nversion = "1.%d.0"\n' % (i, i))
PY

python3 - "$MOAT" "$DATA" "$DIR" "$RUNS" <<'PY'
import os, platform, statistics, subprocess, sys, time
moat, data, d, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
records = sum(1 for _ in open(data, encoding="utf-8"))

import resource

cpu_times = []

def timed(args):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_times.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    if p.returncode not in (0, 1):
        sys.exit("failed: %s\n%s" % (" ".join(args), p.stderr.decode()))
    return dt

imp = []
for i in range(runs):
    db = os.path.join(d, "import%d.db" % i)
    imp.append(timed([moat, "db", "import", data, "--db", db, "-q"]))
db = os.path.join(d, "import0.db")
lock = os.path.join(d, "uv.lock")
table = [moat, "audit", "deps", lock, "--db", db, "-q", "--python-version", "3.11"]
args = table[:3] + [lock, "--db", db, "-f", "json", "-q", "--python-version", "3.11"]
timed(table)  # warm-up: page cache
cpu_times.clear()
tab = [timed(table) for _ in range(runs)]
tab_cpu = list(cpu_times)
cpu_times.clear()
aud = [timed(args) for _ in range(runs)]
aud_cpu = list(cpu_times)
usual = table[:3] + [os.path.join(d, "usual", "uv.lock")] + table[4:]
cpu_times.clear()
usu = [timed(usual) for _ in range(runs)]
usu_cpu = list(cpu_times)
out = subprocess.run(args, capture_output=True, text=True).stdout
import json
doc = json.loads(out)
nv = sum(len(x.get("vulns", [])) for x in doc["dependencies"])
nd = sum(1 for x in doc["dependencies"] if x.get("vulns"))

cpu = "?"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip(); break
except OSError:
    pass
print("Machine: %d CPUs, %s, Linux %s." % (os.cpu_count(), cpu, platform.release()))
print()
print("| measurement | median | best |")
print("|---|---:|---:|")
print("| import %d records (records/s) | %.0f | %.0f |" % (
    records, records / statistics.median(imp), records / min(imp)))
print("| import %d records (s) | %.2f | %.2f |" % (records, statistics.median(imp), min(imp)))
print("| audit a 1,000-package uv.lock, table (ms, wall) | %.1f | %.1f |" % (
    statistics.median(tab) * 1000, min(tab) * 1000))
print("| the same, CPU time (user+sys, ms) | %.1f | %.1f |" % (
    statistics.median(tab_cpu) * 1000, min(tab_cpu) * 1000))
print("| audit a 1,000-package uv.lock, `-f json` (ms, wall) | %.1f | %.1f |" % (
    statistics.median(aud) * 1000, min(aud) * 1000))
print("| the same, CPU time (user+sys, ms) | %.1f | %.1f |" % (
    statistics.median(aud_cpu) * 1000, min(aud_cpu) * 1000))
print("| a usual 1,000-package lock (50 with advisories), table (ms, wall) | %.1f | %.1f |" % (
    statistics.median(usu) * 1000, min(usu) * 1000))
print("| the same, CPU time (user+sys, ms) | %.1f | %.1f |" % (
    statistics.median(usu_cpu) * 1000, min(usu_cpu) * 1000))
with open("/proc/loadavg") as f:
    load = f.read().split()[0]
print()
print("Load average when the run ended: %s." % load)
print()
print("The audit found %d advisories in %d of the 1,000 packages; %d runs each." % (nv, nd, runs))
PY
