"""Every auditor's SARIF comes from the one findings writer
(src/audit/report/render.c) and validates against the SARIF 2.1.0 schema
(fixtures/schemas): code, settings, secrets, and deps (whose advisories become
findings). Also: `moat audit` runs the analysers of the registry on one tree
with the same results as the sub-commands one by one."""
import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

HERE = Path(__file__).resolve().parent
FIX = HERE / "fixtures"
SCHEMA = json.loads((FIX / "schemas" / "sarif-schema-2.1.0.json").read_text())

# One advisory, written here so that the test needs no shared data.
OSV = {
    "schema_version": "1.6.0",
    "id": "PYSEC-2099-1",
    "aliases": ["CVE-2099-0001"],
    "modified": "2026-01-01T00:00:00Z",
    "published": "2026-01-01T00:00:00Z",
    "summary": "SQL injection in the demo package",
    "details": "A crafted query string reaches raw SQL.",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [{
        "package": {"ecosystem": "PyPI", "name": "demo-pkg"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.4"}]}],
    }],
}


def run(moat_bin, *args, cwd=None):
    return subprocess.run([moat_bin, *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=cwd)


def validate(text):
    doc = json.loads(text)
    jsonschema.validate(doc, SCHEMA)
    assert doc["version"] == "2.1.0"
    return doc["runs"][0]


@pytest.fixture(scope="module")
def db(moat_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("osv")
    (d / "rec.json").write_text(json.dumps(OSV))
    p = run(moat_bin, "db", "import", str(d / "rec.json"), "--db", str(d / "osv.db"), "-q")
    assert p.returncode == 0, p.stderr
    return d / "osv.db"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "requirements.txt").write_text("flask>=2\ndemo-pkg==1.2.3\n")
    return tmp_path


def test_schema_rejects_a_broken_report():
    """The validator is live: a result without a message fails."""
    doc = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "moat"}},
                                          "results": [{"ruleId": "X"}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


@pytest.mark.parametrize("sub, path", [
    ("code", FIX / "audit_code" / "taint"),
    ("code", FIX / "audit_code" / "templates"),
    ("settings", FIX / "audit_settings" / "django_bad"),
    ("settings", FIX / "audit_settings" / "flask"),
    ("secrets", FIX / "audit_secrets"),
])
def test_sarif_of_each_analyser_validates(moat_bin, sub, path):
    r = run(moat_bin, "audit", sub, str(path), "--format", "sarif")
    assert r.returncode == 1, r.stderr
    run0 = validate(r.stdout)
    assert run0["results"]
    ids = [x["id"] for x in run0["tool"]["driver"]["rules"]]
    for res in run0["results"]:
        assert ids[res["ruleIndex"]] == res["ruleId"]


def test_clean_sarif_validates(moat_bin, tmp_path):
    (tmp_path / "ok.py").write_text("print('hello')\n")
    for sub in ("code", "settings", "secrets"):
        r = run(moat_bin, "audit", sub, str(tmp_path), "--format", "sarif")
        assert r.returncode == 0, (sub, r.stdout, r.stderr)
        assert validate(r.stdout)["results"] == []


def test_deps_sarif_comes_from_the_shared_writer(moat_bin, db, project):
    r = run(moat_bin, "audit", "deps", str(project / "requirements.txt"), "--db", str(db),
            "-f", "sarif", "-q")
    assert r.returncode == 1, r.stderr
    run0 = validate(r.stdout)
    rules = run0["tool"]["driver"]["rules"]
    assert [x["id"] for x in rules] == ["PYSEC-2099-1"]
    rule = rules[0]
    assert rule["helpUri"] == "https://osv.dev/vulnerability/PYSEC-2099-1"
    assert {"security", "vulnerability", "dependency"} <= set(rule["properties"]["tags"])
    assert rule["properties"]["security-severity"] == "9.8"
    (res,) = run0["results"]
    assert res["ruleId"] == "PYSEC-2099-1" and res["ruleIndex"] == 0
    assert res["level"] == "error"  # critical
    assert "demo-pkg 1.2.3 is affected by PYSEC-2099-1 (CVE-2099-0001)" in res["message"]["text"]
    assert "Upgrade to 1.2.4 or later." in res["message"]["text"]
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("requirements.txt")
    assert loc["region"]["startLine"] == 2
    # the shared writer's fingerprint, as code and secrets findings have
    assert len(res["partialFingerprints"]["moat/v1"]) == 64


def test_audit_all_runs_the_registry_like_the_sub_commands(moat_bin, db, project):
    (project / "app.py").write_text(
        "from flask import Flask, request\napp = Flask(__name__)\n\n"
        "@app.route('/')\ndef index():\n    return eval(request.args['q'])\n")
    everything = run(moat_bin, "audit", str(project), "--db", str(db))
    assert everything.returncode == 1, everything.stderr
    for sub, extra in (("deps", ["--db", str(db)]), ("code", []), ("settings", []),
                       ("secrets", [])):
        one = run(moat_bin, "audit", sub, str(project), *extra)
        part = everything.stdout.split("== moat audit %s\n" % sub, 1)[1]
        part = part.split("\n== moat audit", 1)[0]
        assert part.strip() == one.stdout.strip(), sub
    assert "deps      findings" in everything.stdout
    assert "code      findings" in everything.stdout
    assert "secrets   clean" in everything.stdout


def test_audit_all_skips_deps_with_nothing_to_read(moat_bin, db, tmp_path):
    (tmp_path / "app.py").write_text("print('hello')\n")
    r = run(moat_bin, "audit", str(tmp_path), "--db", str(db))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "deps      nothing to audit" in r.stdout
