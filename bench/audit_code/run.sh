#!/usr/bin/env bash
# bench/audit_code/run.sh MOAT_BINARY
#
# `moat audit code` against Bandit on the same large real tree (Django's own
# source as Debian's python3-django installs it), with the same rule ids
# enabled on both sides and nothing excluded: wall time, CPU time and peak
# memory from /usr/bin/time -v (medians of the runs of each tool, after the
# tree has been read once), and the number of findings per shared id. The
# tools take turns: ROUNDS (default 3) rounds of moat, Bandit, moat, Ruff,
# and a last moat run (2*ROUNDS+1 runs of moat), so that a change of load on
# a shared machine falls on all of them alike.
# Prints a Markdown report on stdout (progress on stderr).
#
# Environment: TREE (default: the installed django package), BANDIT
# (default /usr/bin/bandit), RUFF_WASM: a folder where `npm install
# @astral-sh/ruff-wasm-nodejs` was run (Ruff's flake8-bandit "S" rules, the
# WebAssembly build under node, one thread: the only Ruff this machine can
# run without a download outside the package registries); without it Ruff is
# left out. As root, the tools run at nice -10 so that other work on a
# shared machine disturbs them less (the same for all).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh

MOAT=${1:?usage: bench/audit_code/run.sh MOAT_BINARY}
MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
BANDIT=${BANDIT:-/usr/bin/bandit}
TREE=${TREE:-$(/usr/bin/python3 -c 'import django, os; print(os.path.dirname(django.__file__))')}
for tool in "$BANDIT" /usr/bin/time; do
    [ -x "$tool" ] || { echo "missing: $tool (deps/debian.txt)" >&2; exit 1; }
done
bench_init moat-audit-bench
NICE=
[ "$(id -u)" -eq 0 ] && NICE="nice -n -10"

# The ids both tools have; moat's other rules are skipped for the run.
BANDIT_IDS=$("$BANDIT" --help 2>&1)
SHARED=$("$MOAT" audit code --list-rules | sed -n 's/^| \(B[0-9]*\) |.*/\1/p' |
    while read -r id; do
        if grep -q "^	$id	" <<<"$BANDIT_IDS"; then echo "$id"; fi
    done | paste -sd, -)
MOAT_ONLY=$("$MOAT" audit code --list-rules | sed -n 's/^| \([A-Z][A-Za-z0-9.-]*\) |.*/\1/p' |
    grep -vxF -f <(tr , '\n' <<<"$SHARED") | paste -sd, -)
printf '[audit]\nexclude = []\n' >"$DIR/moat.toml"
files=$(find "$TREE" -name '*.py' | wc -l)
log "tree: $TREE ($files .py files); shared ids: $SHARED"

measure() { # NAME CMD... -> "wall_s peak_kib cpu_s"
    local name=$1
    shift
    $NICE /usr/bin/time -v -o "$DIR/$name.time" "$@" >"$DIR/$name.out" 2>"$DIR/$name.err" || true
    local wall peak cpu
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$DIR/$name.time" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    peak=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$DIR/$name.time")
    cpu=$(sed -n 's/.*\(User\|System\) time (seconds): //p' "$DIR/$name.time" | awk '{ s += $1 } END { print s }')
    echo "$wall $peak $cpu"
}

# Both tools read the same files: read them once first, so that neither
# pays for the disk (the first tool timed would otherwise pay alone).
find "$TREE" -type f -name '*.py' -exec cat {} + >/dev/null

# median FILE: the median of the numbers in FILE (one per line).
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# run NAME CMD...: one timed run, appended to NAME's walls, peaks and cpus.
run() {
    local name=$1 wall peak cpu
    shift
    read -r wall peak cpu < <(measure "$name" "$@")
    echo "$wall" >>"$DIR/$name.walls"
    echo "$peak" >>"$DIR/$name.peaks"
    echo "$cpu" >>"$DIR/$name.cpus"
}
# medians NAME: sets NAME_wall, NAME_cpu and NAME_peak to the medians of its
# runs (each measured on its own) and NAME_walls to every wall time.
medians() {
    local name=$1
    printf -v "${name}_wall" '%s' "$(median "$DIR/$name.walls")"
    printf -v "${name}_peak" '%s' "$(median "$DIR/$name.peaks")"
    printf -v "${name}_cpu" '%s' "$(median "$DIR/$name.cpus")"
    printf -v "${name}_walls" '%s' "$(paste -sd' ' "$DIR/$name.walls")"
    printf -v "${name}_cpus" '%s' "$(paste -sd' ' "$DIR/$name.cpus")"
}

ROUNDS=${ROUNDS:-3}
MOAT_RUNS=$((2 * ROUNDS + 1))
BANDIT_RUNS=$ROUNDS
RUFF=
if [ -n "${RUFF_WASM:-}" ] && [ -d "$RUFF_WASM/node_modules/@astral-sh/ruff-wasm-nodejs" ]; then
    RUFF=$(cd "$RUFF_WASM" && pwd)
    cat >"$DIR/ruff.js" <<'JS'
// Ruff's flake8-bandit (S) rules over every .py file of a tree, one thread.
const fs = require('fs'), path = require('path');
const { Workspace, PositionEncoding } = require(process.argv[2] + '/node_modules/@astral-sh/ruff-wasm-nodejs');
const ws = new Workspace({ lint: { select: ['S'] } }, PositionEncoding.Utf16);
const counts = {}; let total = 0;
(function walk(d) {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.isFile() && p.endsWith('.py'))
      for (const x of ws.check(fs.readFileSync(p, 'utf8'))) { counts[x.code] = (counts[x.code] || 0) + 1; total++; }
  }
})(process.argv[3]);
console.log(JSON.stringify({ version: Workspace.version(), total, counts }));
JS
fi
MOAT_CMD=("$MOAT" audit code "$TREE" --config "$DIR/moat.toml" --skip "$MOAT_ONLY" --format json --output "$DIR/moat.json")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
    log "round $round of $ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))"
    run moat "${MOAT_CMD[@]}"
    run bandit "$BANDIT" -r "$TREE" -t "$SHARED" -f json -q -o "$DIR/bandit.json"
    run moat "${MOAT_CMD[@]}"
    if [ -n "$RUFF" ]; then run ruff node "$DIR/ruff.js" "$RUFF" "$TREE"; fi
done
run moat "${MOAT_CMD[@]}"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
medians moat
medians bandit
RUFF_ROW= RUFF_NOTE="Ruff: not run (set RUFF_WASM to a folder with @astral-sh/ruff-wasm-nodejs installed)."
if [ -n "$RUFF" ]; then
    medians ruff
    ruff_version=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$DIR/ruff.out")
    ruff_total=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$DIR/ruff.out")
    RUFF_ROW="| ruff $ruff_version (wasm, S rules) | $ruff_wall | $ruff_cpu | $(awk "BEGIN { printf \"%.1f\", $ruff_peak / 1024 }") |
| **ruff/moat** | **$(awk "BEGIN { printf \"%.1f\", $ruff_wall / $moat_wall }")×** | $(awk "BEGIN { printf \"%.1f\", $ruff_cpu / $moat_cpu }")× | |"
    RUFF_NOTE="Ruff $ruff_version as @astral-sh/ruff-wasm-nodejs under node $(node --version) (the native binary is not installable here from the package registries used), all of its flake8-bandit rules (select S: $ruff_total findings), one thread; wall times, s: $ruff_walls."
fi

counts=$(/usr/bin/python3 - "$DIR/moat.json" "$DIR/bandit.json" <<'PY'
import collections, json, sys
m = collections.Counter(f["rule"] for f in json.load(open(sys.argv[1]))["findings"])
b = collections.Counter(r["test_id"] for r in json.load(open(sys.argv[2]))["results"])
print("| id | moat | bandit |")
print("|---|---:|---:|")
for k in sorted(set(m) | set(b)):
    print("| %s | %d | %d |" % (k, m[k], b[k]))
print("| **all** | **%d** | **%d** |" % (sum(m.values()), sum(b.values())))
PY
)

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cat <<MD
## Source audit: moat audit code vs Bandit (bench/audit_code)

$(date -u +%Y-%m-%d). Machine: $(nproc) CPUs, $cpu, Linux $(uname -r).
moat $("$MOAT" --version | cut -d' ' -f2); $("$BANDIT" --version 2>&1 | head -1);
tree: Django $(/usr/bin/python3 -c 'import django; print(django.__version__)' 2>/dev/null || echo "?")
as installed by python3-django, $files .py files, same rule ids. Files read
once before the runs (both tools then read them from the page cache); the
medians of $MOAT_RUNS runs of moat and $BANDIT_RUNS of Bandit, taking turns (wall, CPU
and peak memory each a median of its own).

| tool | wall s | CPU s (user+sys) | peak RSS MiB |
|---|---:|---:|---:|
| moat | $moat_wall | $moat_cpu | $(awk "BEGIN { printf \"%.1f\", $moat_peak / 1024 }") |
| bandit | $bandit_wall | $bandit_cpu | $(awk "BEGIN { printf \"%.1f\", $bandit_peak / 1024 }") |
| **bandit/moat** | **$(awk "BEGIN { printf \"%.1f\", $bandit_wall / $moat_wall }")×** | $(awk "BEGIN { printf \"%.1f\", $bandit_cpu / $moat_cpu }")× | $(awk "BEGIN { printf \"%.1f\", $bandit_peak / $moat_peak }")× |
$RUFF_ROW

$RUFF_NOTE

Wall times, s, in run order: moat $moat_walls; Bandit $bandit_walls.
CPU times, s: moat $moat_cpus; Bandit $bandit_cpus.
Load average before the runs: $load_before; after: $load_after (other work
on the machine slows both tools; moat analyses files on one thread per CPU,
Bandit on one).
Priority: ${NICE:-default}.

Findings per id:

$counts

Commands (DIR is a temporary directory; moat.toml there sets \`[audit] exclude = []\` so
that nothing is skipped, as Bandit skips nothing):

    moat audit code TREE --config DIR/moat.toml --skip MOAT_ONLY_IDS --format json --output DIR/moat.json
    bandit -r TREE -t SHARED_IDS -f json -q -o DIR/bandit.json
MD
