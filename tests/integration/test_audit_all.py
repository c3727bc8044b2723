"""`moat audit` with no sub-command: the four auditors on one tree, each with
its report, then one summary; the exit status is the worst of them."""
import re
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = (REPO / ".." / "shared" / "data" / "osv-pypi" / "advisories.ndjson").resolve()

pytestmark = pytest.mark.skipif(not DATA.is_file(), reason="shared advisory data not present")


def run(moat_bin, *args):
    return subprocess.run([moat_bin, *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def db(moat_bin, tmp_path_factory):
    path = tmp_path_factory.mktemp("osv") / "osv.db"
    p = run(moat_bin, "db", "import", str(DATA), "--db", str(path), "-q")
    assert p.returncode == 0, p.stderr
    return path


def summary(out):
    m = re.search(r"== moat audit: summary for .*\n((?:  .*\n?)+)", out)
    assert m, out
    return dict(re.findall(r"^  (\w+)\s+(.+)$", m.group(1), re.M))


def test_everything_found_in_one_run(moat_bin, db, tmp_path):
    (tmp_path / "requirements.txt").write_text("flask==0.12\n")
    (tmp_path / "app.py").write_text(
        "from flask import Flask, request\napp = Flask(__name__)\n\n"
        "@app.route('/')\ndef index():\n    return eval(request.args['q'])\n")
    (tmp_path / "settings.py").write_text(
        "DEBUG = True\nSECRET_KEY = 'django-insecure-0123456789abcdef'\nALLOWED_HOSTS = ['*']\n")
    key = "AKIA" + "Q2RT7Y5W8ZK3P9NH"  # made up, in the format of an access key id
    (tmp_path / ".env").write_text("AWS_ACCESS_KEY_ID=%s\n" % key)
    p = run(moat_bin, "audit", str(tmp_path), "--db", str(db))
    assert p.returncode == 1, p.stdout + p.stderr
    for part in ("deps", "code", "settings", "secrets"):
        assert "== moat audit %s\n" % part in p.stdout
    assert summary(p.stdout) == {"deps": "findings", "code": "findings",
                                 "settings": "findings", "secrets": "findings"}
    assert "flask" in p.stdout.lower()
    assert "B307" in p.stdout  # eval
    assert key not in p.stdout + p.stderr, "the secret is masked"


def test_clean_tree_without_dependency_files(moat_bin, db, tmp_path):
    (tmp_path / "main.py").write_text("print('hello')\n")
    p = run(moat_bin, "audit", str(tmp_path), "--db", str(db))
    assert p.returncode == 0, p.stdout + p.stderr
    assert summary(p.stdout) == {"deps": "nothing to audit", "code": "clean",
                                 "settings": "clean", "secrets": "clean"}


def test_no_database_audits_the_rest(moat_bin, tmp_path):
    """No advisory database (a first run): deps says how to get it, the
    others run, and the exit status is theirs (issue 18; it was 2)."""
    (tmp_path / "requirements.txt").write_text("flask==2.3.3\n")
    (tmp_path / "main.py").write_text("print('hello')\n")
    p = run(moat_bin, "audit", str(tmp_path), "--db", str(tmp_path / "missing.db"))
    assert p.returncode == 0, p.stdout + p.stderr
    s = summary(p.stdout)
    assert s["deps"].startswith("not checked") and s["code"] == "clean" and s["secrets"] == "clean"
    assert "moat db update" in p.stderr and "dependencies not checked" in p.stderr
    assert not (tmp_path / "missing.db").exists()
    (tmp_path / "main.py").write_text("eval(input())\n")
    p = run(moat_bin, "audit", str(tmp_path), "--db", str(tmp_path / "missing.db"))
    assert p.returncode == 1, p.stdout + p.stderr
    # on its own, deps cannot do its one job: that stays an error
    p = run(moat_bin, "audit", "deps", str(tmp_path), "--db", str(tmp_path / "missing.db"))
    assert p.returncode == 2, p.stdout + p.stderr


def test_an_error_wins(moat_bin, tmp_path):
    """A database that cannot be read is a real error: exit 2, the others run."""
    (tmp_path / "requirements.txt").write_text("flask==2.3.3\n")
    (tmp_path / "main.py").write_text("print('hello')\n")
    (tmp_path / "broken.db").write_text("not a database\n" * 100)
    p = run(moat_bin, "audit", str(tmp_path), "--db", str(tmp_path / "broken.db"))
    assert p.returncode == 2, p.stdout + p.stderr
    s = summary(p.stdout)
    assert s["deps"] == "error" and s["code"] == "clean" and s["secrets"] == "clean"


def test_sub_commands_and_usage(moat_bin, tmp_path):
    (tmp_path / "main.py").write_text("print('hello')\n")
    assert run(moat_bin, "audit", "code", str(tmp_path)).returncode == 0
    assert run(moat_bin, "audit", "secrets", str(tmp_path)).returncode == 0
    p = run(moat_bin, "audit", "--help")
    assert p.returncode == 0 and "deps|code|settings|secrets" in p.stdout
    p = run(moat_bin, "audit", str(tmp_path), str(tmp_path))
    assert p.returncode == 2 and "one PATH at most" in p.stderr
    p = run(moat_bin, "audit", "--bogus")
    assert p.returncode == 2


def vulnerable_tree(tmp_path):
    (tmp_path / "requirements.txt").write_text("flask==0.12\n")
    (tmp_path / "app.py").write_text(
        "from flask import Flask, request\napp = Flask(__name__)\n\n"
        "@app.route('/')\ndef index():\n    return eval(request.args['q'])\n")
    (tmp_path / "settings.py").write_text("DEBUG = True\nALLOWED_HOSTS = ['*']\n")
    return tmp_path


def test_one_sarif_log_with_a_run_per_auditor(moat_bin, db, tmp_path):
    """`moat audit --format sarif -o FILE`: one file for one code-scanning
    upload, one run per auditor, valid SARIF 2.1.0."""
    import json
    import jsonschema
    schema = json.loads((HERE / "fixtures" / "schemas" / "sarif-schema-2.1.0.json").read_text())
    tree = vulnerable_tree(tmp_path / "tree") if (tmp_path / "tree").mkdir() is None else None
    out = tmp_path / "moat.sarif"
    p = run(moat_bin, "audit", str(tree), "--db", str(db), "--format", "sarif", "-o", str(out))
    assert p.returncode == 1, p.stderr
    assert p.stdout == ""
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, schema)
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) == 4  # deps, code, settings, secrets
    ids = {r["ruleId"] for run_ in doc["runs"] for r in run_.get("results", [])}
    assert "B307" in ids  # eval, from code
    assert any(i.startswith(("PYSEC-", "GHSA-", "CVE-")) for i in ids), ids  # deps


def test_one_json_report_with_every_verdict(moat_bin, db, tmp_path):
    import json
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "main.py").write_text("print('hello')\n")
    p = run(moat_bin, "audit", str(tree), "--db", str(db), "-f", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["path"] == str(tree)
    verdicts = {k: v["verdict"] for k, v in doc["auditors"].items()}
    assert verdicts == {"deps": "nothing to audit", "code": "clean", "settings": "clean",
                        "secrets": "clean"}
    assert doc["auditors"]["deps"]["report"] is None
    assert isinstance(doc["auditors"]["code"]["report"], dict)


# The same option names across the auditors, and pip-audit's and Bandit's
# spellings where they mean the same: (args, exit status, what stdout holds).
FLAGS = [
    (("audit", "deps", "-r", "{req}", "--db", "{db}", "--format", "text"), 1, "flask"),
    (("audit", "deps", "{req}", "--db", "{db}", "--severity", "critical", "-f", "json"), None,
     "{"),
    (("audit", "code", "{tree}", "-x", "app.py"), 0, None),
    (("audit", "code", "{tree}", "--severity-level", "high", "--confidence-level", "high"), 1,
     "B307"),
    (("audit", "secrets", "{tree}", "-x", "app.py", "-f", "json"), 0, "{"),
    (("audit", "deps", "--bogus"), 2, None),
    (("audit", "code", "--bogus"), 2, None),
    (("audit", "secrets", "--bogus"), 2, None),
    (("audit", "--format", "yaml"), 2, None),
    (("reload", "--bogus"), 2, None),
    (("config", "check", "--bogus"), 2, None),
    (("version", "extra"), 2, None),
]


@pytest.mark.parametrize("args, status, says", FLAGS, ids=[" ".join(a[:3]) for a, _, _ in FLAGS])
def test_common_flags(moat_bin, db, tmp_path, args, status, says):
    tree = vulnerable_tree(tmp_path)
    fill = {"req": str(tree / "requirements.txt"), "db": str(db), "tree": str(tree)}
    p = run(moat_bin, *[a.format(**fill) for a in args])
    if status is not None:
        assert p.returncode == status, p.stdout + p.stderr
    else:
        assert p.returncode in (0, 1), p.stdout + p.stderr
    if says:
        assert says in p.stdout, p.stdout


@pytest.mark.parametrize("sub, fmt", [("deps", "json"), ("code", "sarif"), ("secrets", "json")])
def test_output_flag_writes_the_report_to_a_file(moat_bin, db, tmp_path, sub, fmt):
    import json
    tree = vulnerable_tree(tmp_path / "t") if (tmp_path / "t").mkdir() is None else None
    out = tmp_path / "report.out"
    extra = ["--db", str(db)] if sub == "deps" else []
    p = run(moat_bin, "audit", sub, str(tree), "-f", fmt, "-o", str(out), *extra)
    assert p.returncode in (0, 1), p.stderr
    assert p.stdout == ""
    json.loads(out.read_text())


def test_ignore_vuln_as_pip_audit_spells_it(moat_bin, db, tmp_path):
    import json
    tree = vulnerable_tree(tmp_path)
    p = run(moat_bin, "audit", "deps", "-r", str(tree / "requirements.txt"), "--db", str(db),
            "-f", "json")
    assert p.returncode == 1, p.stderr
    ids = [v["id"] for d in json.loads(p.stdout)["dependencies"] for v in d.get("vulns", [])]
    assert ids
    ignore = sum((["--ignore-vuln", i] for i in ids), [])
    p = run(moat_bin, "audit", "deps", "-r", str(tree / "requirements.txt"), "--db", str(db),
            *ignore)
    assert p.returncode == 0, p.stdout + p.stderr
