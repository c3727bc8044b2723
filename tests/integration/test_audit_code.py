"""`moat audit code` and `moat audit settings` through the real binary: every
rule against its positive and negative fixtures (the expected findings are
written in the fixtures as `# expect: ID[:confidence]` comments on the line
each finding starts on), data-flow paths, suppression comments, syntax
errors, the three output formats, the baseline, [tool.moat.audit], exit
codes, masking, and parity with Debian's Bandit on the shared rule ids."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CODE = HERE / "fixtures" / "audit_code"
SETTINGS = HERE / "fixtures" / "audit_settings"
BANDIT = "/usr/bin/bandit"

EXPECT_RE = re.compile(r"expect:\s*([A-Za-z0-9_.:\-]+(?:\s*,\s*[A-Za-z0-9_.:\-]+)*)")

# Bandit 1.6.2 findings moat does not report, on purpose (docs/audit-code.md
# lists the same): (file relative to the fixture root, line, id) -> why.
INTENTIONAL = {
    ("rules/B303_good.py", 10, "B303"):
        "hashlib.md5(usedforsecurity=False) declares the hash is no security control",
    ("rules/B324_good.py", 10, "B303"):
        "hashlib.md5(usedforsecurity=False), as above (today's Bandit agrees)",
    ("taint/suppressed.py", 11, "B602"):
        "suppressed with `# moat: ignore[B602]` on the statement's first line",
    ("taint/suppressed.py", 17, "B605"): "suppressed with `# moat: ignore`",
    ("rules/B506_good.py", 10, "B506"): "a positional SafeLoader: today's Bandit accepts it",
    ("rules/B506_good.py", 11, "B506"): "a positional CSafeLoader: today's Bandit accepts it",
    ("rules/B701_good.py", 9, "B701"):
        "jinja2.select_autoescape(...) spelled with its module: today's Bandit accepts it",
    ("rules/B321_good.py", 7, "B321"):
        "ftplib.FTP_TLS: today's Bandit lists ftplib.FTP only (1.6.2 had ftplib.*)",
}


def expectations(root):
    """{relative path: {(line, id): confidence or None}} from the comments."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = str(p.relative_to(root))
        exp = {}
        for n, line in enumerate(p.read_text().splitlines(), 1):
            m = EXPECT_RE.search(line)
            if not m:
                continue
            for item in re.split(r"\s*,\s*", m.group(1)):
                rule, _, conf = item.partition(":")
                exp[(n, rule)] = conf or None
        out[rel] = exp
    return out


def audit(run, mode, root, *args, cwd=None):
    r = run("audit", mode, str(root), "--format", "json", *args, cwd=cwd)
    assert r.returncode in (0, 1), r.stderr
    return r, json.loads(r.stdout)


def relpath(root, path):
    return str(Path(path).resolve().relative_to(root))


def found(root, report):
    got = {}
    for f in report["findings"]:
        got.setdefault(relpath(root, f["path"]), []).append(f)
    return got


def check_against_fixtures(root, report):
    exp = expectations(root)
    got = found(root, report)
    problems = []
    for rel in sorted(set(exp) | set(got)):
        want = exp.get(rel, {})
        have = {(f["line"], f["rule"]): f for f in got.get(rel, [])}
        # a finding stands for its aliases too (one finding per problem)
        aliased = {(f["line"], a) for f in got.get(rel, []) for a in f.get("aliases", [])}
        for key in sorted(set(want) - set(have) - aliased):
            problems.append("%s:%d: expected %s, not reported" % (rel, key[0], key[1]))
        for key in sorted(set(have) - set(want)):
            problems.append("%s:%d: unexpected %s (%s)" % (rel, key[0], key[1],
                                                          have[key]["message"]))
        for key in sorted(set(want) & set(have)):
            if want[key] and have[key]["confidence"] != want[key]:
                problems.append("%s:%d: %s confidence %s, expected %s" % (
                    rel, key[0], key[1], have[key]["confidence"], want[key]))
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def code_report(moat_bin):
    r = subprocess.run([moat_bin, "audit", "code", str(CODE), "--format", "json"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    return json.loads(r.stdout)


def test_every_rule_against_its_fixtures(code_report):
    check_against_fixtures(CODE, code_report)


def test_every_rule_has_positive_and_negative_fixtures(run):
    r = run("audit", "code", "--list-rules")
    assert r.returncode == 0
    ids = re.findall(r"(?m)^\| ([A-Z][A-Za-z0-9.\-]+) \|", r.stdout)
    assert len(ids) >= 40
    exp = expectations(CODE)
    for rule in ids:
        bad = [rel for rel in exp if Path(rel).stem == rule + "_bad"]
        good = [rel for rel in exp if Path(rel).stem == rule + "_good"]
        assert bad and good, "no fixtures for " + rule
        assert any(k[1] == rule for k in exp[bad[0]]), rule + "_bad expects no " + rule
        assert not any(k[1] == rule for k in exp[good[0]]), rule + "_good expects " + rule


def test_taint_paths_name_source_and_sink(code_report):
    by = {(relpath(CODE, f["path"]), f["line"], f["rule"]): f for f in code_report["findings"]}
    f = by[("taint/flask_flows.py", 16, "B608")]
    assert f["severity"] == "high" and f["confidence"] == "high"
    lines = [s["line"] for s in f["steps"]]
    assert lines[0] == 14 and "request.args" in f["steps"][0]["what"]
    assert "assigned to cleaned" in " ".join(s["what"] for s in f["steps"])
    sink = by[("taint/flask_flows.py", 17, "MOAT-C110")]
    assert [s["line"] for s in sink["steps"]][0] == 14 and sink["steps"][-1]["line"] == 17
    route = by[("taint/flask_flows.py", 45, "B605")]
    assert "route parameter name" in route["steps"][0]["what"]
    # the same sink with a constant or an int(): no path, lower confidence
    for line in (18, 20):
        assert by[("taint/flask_flows.py", line, "B608")]["steps"] == []
    assert by[("taint/flask_flows.py", 44, "B605")]["confidence"] == "medium"
    assert by[("taint/flask_flows.py", 44, "B605")]["steps"] == []


def test_taint_through_a_helper_function(code_report):
    by = {(relpath(CODE, f["path"]), f["line"], f["rule"]): f for f in code_report["findings"]}
    steps = by[("taint/helpers.py", 19, "B605")]["steps"]
    assert [s["line"] for s in steps] == [9, 9, 10, 19, 19]
    assert steps[-2]["what"] == "returned by search_term()"
    assert steps[-1]["what"] == "reaches os.system()"


def test_taint_through_calls_methods_and_modules(code_report, run, tmp_path):
    """Call summaries: request data passed to a function of the module, a
    method (self.m()), a request object passed to a helper, self.x set in
    one method and used in another, and a function of another module of the
    project; each reported at the call with the path through the helper."""
    by = {(relpath(CODE, f["path"]), f["line"], f["rule"]): f for f in code_report["findings"]}
    what = lambda f: [(s["line"], s["what"]) for s in f["steps"]]
    f = by[("taint/calls.py", 15, "MOAT-C110")]
    assert what(f) == [(15, "request data: request.args"),
                       (15, "the data passed to run_query() as term"),
                       (20, "assigned to sql"), (21, "reaches db.execute()")]
    f = by[("taint/calls.py", 35, "B602")]
    assert (f["severity"], f["confidence"]) == ("high", "high")
    assert what(f)[-2:] == [(35, "the data passed to archive() as name"),
                            (25, "reaches subprocess.call()")]
    # the request object into a helper: its .values is the source there
    f = by[("taint/calls.py", 58, "B608")]
    assert what(f)[:2] == [(58, "the request object passed to lookup() as req"),
                           (52, "request data: req.values")]
    # ... and a helper returning request data read from the object it got
    f = by[("taint/calls.py", 48, "B608")]
    assert (47, "returned by search_term()") in what(f)
    # self.title set in __init__, used in render()
    f = by[("taint/calls.py", 67, "MOAT-C101")]
    assert what(f)[:2] == [(63, "request data: request.args"), (63, "assigned to self.title")]
    assert by[("taint/calls.py", 70, "MOAT-C101")]["steps"] == []
    f = by[("taint/calls.py", 78, "MOAT-C107")]
    assert (78, "the data passed to self.export() as path") in what(f)
    # across modules: the sink's step names the other file
    for line in (8, 9):
        f = by[("taint/project/app/views.py", line, "B608")]
        assert f["steps"][-1]["path"].endswith("taint/project/app/db.py"), f["steps"]
        assert f["steps"][-1]["line"] == 2 and f["steps"][-1]["what"] == "reaches the query"
        assert "raw_search() as term" in f["steps"][-2]["what"]
    # the text report shows the other file in the path; SARIF's codeFlow points at it
    r = run("audit", "code", str(CODE / "taint" / "project"))
    assert "db.py line 2: reaches the query" in r.stdout, r.stdout
    r = run("audit", "code", str(CODE / "taint" / "project"), "--format", "sarif")
    locs = [l["location"]["physicalLocation"]["artifactLocation"]["uri"]
            for res in json.loads(r.stdout)["runs"][0]["results"] for cf in res.get("codeFlows", [])
            for tf in cf["threadFlows"] for l in tf["locations"]]
    assert any(u.endswith("app/db.py") for u in locs) and any(u.endswith("app/views.py") for u in locs)
    # a helper suppressed at its sink is suppressed for its callers too
    app = tmp_path / "app"
    app.mkdir()
    (app / "v.py").write_text(
        "import os\nfrom flask import request\n\n\ndef run(cmd):\n"
        "    os.system(cmd)  # nosec B605\n\n\ndef view():\n    run(request.args['c'])\n")
    r, rep = audit(run, "code", app)
    assert [f for f in rep["findings"] if f["rule"] == "B605"] == [], rep["findings"]


def test_suppressions_and_syntax_errors(code_report):
    assert code_report["summary"]["suppressed"] >= 5
    errs = [e for e in code_report["errors"] if "broken.py" in e]
    assert len(errs) == 1 and re.search(r"broken\.py:8:\d+: syntax error", errs[0]), errs


def test_one_finding_per_problem(code_report, run, tmp_path):
    """SECRET_KEY = "dev": one finding (MOAT-C109) carrying B105 and, in
    `moat audit PATH`, the settings analyser's security.W009 as aliases;
    a comment naming any alias suppresses it."""
    by = {}
    for f in code_report["findings"]:
        by.setdefault((relpath(CODE, f["path"]), f["line"]), []).append(f)
    fs = by[("rules/MOAT-C109_bad.py", 5)]
    assert [f["rule"] for f in fs] == ["MOAT-C109"] and "B105" in fs[0]["aliases"]
    (tmp_path / "settings.py").write_text(
        'INSTALLED_APPS = []\nSECRET_KEY = "dev"\nDEBUG = False\n'
        'SECURE_SSL_REDIRECT = True\nSESSION_COOKIE_SECURE = True\n'
        'CSRF_COOKIE_SECURE = True\nSECURE_HSTS_SECONDS = 0\n')
    r = run("audit", "--db", str(tmp_path / "none.db"), str(tmp_path))
    heads = re.findall(r"(?m)^  \d+:\d+  (MOAT-C109|security\.W009|B105) ", r.stdout)
    assert heads == ["MOAT-C109"], r.stdout
    assert "MOAT-C109  high severity, high confidence  CWE-798  (also security.W009,B105)" in r.stdout
    # on its own, the settings analyser still reports it
    r = run("audit", "settings", str(tmp_path), "--format", "json")
    assert [f["rule"] for f in json.loads(r.stdout)["findings"]].count("security.W009") == 1
    # suppressed by any of its ids
    for nosec in ("# nosec B105", "# nosec: security.W009", "# moat: ignore[MOAT-C109]"):
        (tmp_path / "settings.py").write_text('SECRET_KEY = "dev"  %s\n' % nosec)
        r = run("audit", "code", str(tmp_path), "--format", "json")
        doc = json.loads(r.stdout)
        assert doc["findings"] == [] and doc["summary"]["suppressed"] >= 1, (nosec, r.stdout)


def test_text_report_has_caret_and_summary(run):
    r = run("audit", "code", str(CODE / "rules" / "B608_bad.py"))
    assert r.returncode == 1
    out = r.stdout
    assert out.startswith(str(CODE / "rules" / "B608_bad.py") + "\n")
    assert "  3:20  B608  medium severity, medium confidence  CWE-89\n" in out
    caret = re.search(r"\n    3 \| (.*)\n      \| ( *)\^\n", out)
    assert caret and caret.group(1).startswith("    cursor.execute(")
    assert len(caret.group(2)) == 19
    assert re.search(r"\n6 findings \(0 high, 6 medium, 0 low\) in 1 of 1 file\n$", out)


def test_sarif_report(run):
    r = run("audit", "code", str(CODE / "taint"), "--format", "sarif")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["version"] == "2.1.0"
    run0 = doc["runs"][0]
    rules = run0["tool"]["driver"]["rules"]
    for res in run0["results"]:
        rule = rules[res["ruleIndex"]]
        assert rule["id"] == res["ruleId"]
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert res["level"] in ("error", "warning", "note")
        loc = res["locations"][0]["physicalLocation"]
        assert loc["region"]["startLine"] >= 1
        assert len(res["partialFingerprints"]["moat/v1"]) == 64
    flows = [res for res in run0["results"] if "codeFlows" in res]
    assert flows
    locs = flows[0]["codeFlows"][0]["threadFlows"][0]["locations"]
    assert len(locs) >= 2 and all("message" in x["location"] for x in locs)
    b608 = next(x for x in rules if x["id"] == "B608")
    assert "external/cwe/cwe-89" in b608["properties"]["tags"]
    notes = run0["invocations"][0]["toolExecutionNotifications"]
    assert any("broken.py" in n["message"]["text"] for n in notes)


def test_baseline_reports_only_new_findings(run, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    src = (CODE / "rules" / "B602_bad.py").read_text()
    (app / "tasks.py").write_text(src)
    r = run("audit", "code", str(app), "--format", "json")
    assert r.returncode == 1
    base = tmp_path / "baseline.json"
    base.write_text(r.stdout)
    # lines move and get re-indented: still known
    (app / "tasks.py").write_text("# a new comment\n\n" + src.replace("    subprocess", "    subprocess"))
    r = run("audit", "code", str(app), "--baseline", str(base))
    assert r.returncode == 0, r.stdout
    assert "3 in the baseline" in r.stdout  # two B602, the B404 of its import
    # a second identical call is new
    (app / "tasks.py").write_text(src + "    subprocess.call(cmd, shell=True)\n")
    r = run("audit", "code", str(app), "--baseline", str(base), "--format", "json")
    assert r.returncode == 1
    new = json.loads(r.stdout)["findings"]
    assert [(f["rule"], f["line"]) for f in new] == [("B602", 7)]
    # a baseline that is not one is an input error
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    r = run("audit", "code", str(app), "--baseline", str(bad))
    assert r.returncode == 2 and str(bad) in r.stderr


def test_config_thresholds_skips_and_excludes(run, tmp_path):
    proj = tmp_path / "proj"
    for d in ("app", "tests", "app/migrations", "venv"):
        (proj / d).mkdir(parents=True)
    (proj / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    bad = (CODE / "rules" / "B602_bad.py").read_text()
    for d in ("app", "tests", "app/migrations", "venv"):
        (proj / d / "jobs.py").write_text(bad)
    (proj / "app" / "rand.py").write_text((CODE / "rules" / "B311_bad.py").read_text())
    _, rep = audit(run, "code", proj)
    assert sorted({relpath(proj, f["path"]) for f in rep["findings"]}) == ["app/jobs.py", "app/rand.py"]
    _, rep = audit(run, "code", proj, "--confidence", "high")
    assert sorted((f["rule"], f["line"]) for f in rep["findings"]) == [
        ("B311", 5), ("B311", 9), ("B311", 11), ("B404", 1), ("B602", 6)]
    _, rep = audit(run, "code", proj, "--severity", "high")
    assert sorted((f["rule"], f["line"]) for f in rep["findings"]) == [("B602", 5)]
    (proj / "pyproject.toml").write_text(
        '[tool.moat.audit]\nseverity = "medium"\nskip = ["B602"]\nexclude = ["rand.py"]\n')
    r, rep = audit(run, "code", proj)
    assert r.returncode == 0 and rep["findings"] == []
    # flags on top of the file; a file named on the command line is analysed
    r, rep = audit(run, "code", proj / "app" / "rand.py", "--severity", "low", "--skip", "B602")
    assert {f["rule"] for f in rep["findings"]} == {"B311"}
    (proj / "pyproject.toml").write_text('[tool.moat.audit]\nseverity = "urgent"\n')
    r = run("audit", "code", str(proj))
    assert r.returncode == 2 and "pyproject.toml:2:" in r.stderr


def test_exit_codes_and_masking(run, tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "ok.py").write_text("print('hello')\n")
    r = run("audit", "code", str(clean))
    assert r.returncode == 0 and "0 findings" in r.stdout
    assert run("audit", "code", str(tmp_path / "missing")).returncode == 2
    assert run("audit", "code", str(clean), "--format", "xml").returncode == 2
    assert run("audit", "code", str(clean), "--severity", "urgent").returncode == 2
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "s.py").write_text('password = "Tr0ub4dor&3"\nSECRET_KEY = "abcdefgh-ijkl-mnop"\n')
    for fmt in ("text", "json", "sarif"):
        r = run("audit", "code", str(secret), "--format", fmt)
        assert r.returncode == 1
        assert "Tr0ub4dor" not in r.stdout and "ijkl" not in r.stdout, fmt
    out = tmp_path / "report.json"
    r = run("audit", "code", str(secret), "--format", "json", "--output", str(out))
    assert r.returncode == 1 and r.stdout == ""
    assert {f["rule"] for f in json.loads(out.read_text())["findings"]} == {"B105", "MOAT-C109"}


def test_settings_against_fixtures(run):
    r, rep = audit(run, "settings", SETTINGS)
    assert r.returncode == 1
    check_against_fixtures(SETTINGS, rep)
    notes = rep["not_checkable"]
    # folded with the variable unset: reported on the default (fixtures),
    # and a note where no default decides (a failing read, decouple without one)
    assert not any("django_bad/settings.py:12:" in n for n in notes), notes
    assert any("django_env/settings.py:17: SECURE_CONTENT_TYPE_NOSNIFF comes from the "
               "environment" in n for n in notes), notes
    by = {(relpath(SETTINGS, f["path"]), f["line"]): f for f in rep["findings"]}
    assert by[("django_env/settings.py", 12)]["message"] == (
        "DEBUG is True when DJANGO_DEBUG is not set (the default in the code).")
    # the passwords are masked
    for pw in ("Winter2024Blue", "CachePw9x", "MailPw7x"):
        assert pw not in r.stdout
    assert any("django_split/settings/base.py:3: SECRET_KEY is computed" in n for n in notes)
    # the .env SECRET_KEY is masked, the settings module's too
    assert "SECRET_KEY=abc" not in r.stdout
    assert "django-insecure-q9" not in r.stdout


def test_parity_with_bandit(code_report, tmp_path):
    assert os.access(BANDIT, os.X_OK), "Debian's bandit is a test dependency (deps/debian.txt)"
    r = subprocess.run([BANDIT, "-r", "-f", "json", "-q", str(CODE)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode in (0, 1), r.stderr
    bandit = json.loads(r.stdout)["results"]
    shared = set()
    ids = subprocess.run([os.environ.get("MOAT_BIN") or str(
        Path(os.environ.get("MOAT_BUILD", HERE.parent.parent / "build")) / "src" / "moat"),
        "audit", "code", "--list-rules"], capture_output=True, text=True).stdout
    shared = set(re.findall(r"(?m)^\| (B\d+) \|", ids))
    ours = found(CODE, code_report)
    missing = []
    checked = 0
    for b in bandit:
        if b["test_id"] not in shared:
            continue
        rel = relpath(CODE, b["filename"])
        line = b["line_number"]
        key = (rel, line, b["test_id"])
        if key in INTENTIONAL:
            continue
        checked += 1
        if not any(b["test_id"] in [f["rule"]] + f["aliases"] and f["line"] <= line <= f["end_line"]
                   for f in ours.get(rel, [])):
            missing.append("%s:%d: %s %s" % (rel, line, b["test_id"], b["issue_text"]))
    assert not missing, "Bandit reports what moat does not:\n" + "\n".join(missing)
    assert checked >= 40
    # every intentional difference is still one (Bandit reports it, moat not)
    for (rel, line, rule) in INTENTIONAL:
        assert any(relpath(CODE, b["filename"]) == rel and b["line_number"] == line
                   and b["test_id"] == rule for b in bandit), (rel, line, rule)


def test_docs_list_the_rules_as_the_binary_does(run):
    docs = (HERE.parent.parent / "docs" / "audit-code.md").read_text()
    for mode in ("code", "settings"):
        r = run("audit", mode, "--list-rules")
        assert r.returncode == 0
        assert r.stdout in docs, "docs/audit-code.md: rules table of `%s` is stale" % mode


def test_docs_are_generated_from_the_rule_table(run):
    """docs/audit-code.md is `moat audit rules --markdown`, byte for byte (as
    docs/configuration.md is `moat config docs`): a rule added to the table
    is documented, with its severity, confidence and CWE, or this fails."""
    r = run("audit", "rules", "--markdown")
    assert r.returncode == 0, r.stderr
    docs = (HERE.parent.parent / "docs" / "audit-code.md").read_text()
    assert r.stdout == docs, ("docs/audit-code.md is stale: "
                              "build/src/moat audit rules --markdown > docs/audit-code.md")
    # every rule of the binary is in it, each with its CWE link
    r = run("audit", "rules")
    assert r.returncode == 0
    rows = [line.split() for line in r.stdout.splitlines()]
    assert len(rows) >= 100
    for rid, sev, conf, cwe, name in rows:
        assert "| %s | %s | %s | %s | [%s]" % (rid, name, sev, conf, cwe) in docs, rid
    # today's Bandit, B614/B615 included; ids Bandit removed are not reused
    ids = {row[0] for row in rows}
    for rid in ("B103", "B108", "B324", "B413", "B505", "B613", "B614", "B615", "B702"):
        assert rid in ids
    for rid in ("B309", "B320", "B322", "B325", "B410"):
        assert rid not in ids
    assert run("audit", "rules", "--bogus").returncode == 2
