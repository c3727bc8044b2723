"""`moat audit deps` and `moat db`: the real binary against the shared PyPA
advisory data (../shared/data/osv-pypi, resolved from this file), with the
expected answers computed here independently with python3-packaging, and
fixtures for every input format. No network: `moat db update` is tested
with a file:// URL and with a closed local port."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from helpers import closed_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIX = HERE / "fixtures" / "audit_deps"
DATA = (REPO / ".." / "shared" / "data" / "osv-pypi" / "advisories.ndjson").resolve()
PY = "/usr/bin/python3"

needs_data = pytest.mark.skipif(not DATA.is_file(), reason="shared advisory data not present")


def run(moat_bin, *args, cwd=None, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([moat_bin, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                       env=e)
    for mark in ("Sanitizer", "runtime error:"):
        assert mark not in p.stderr, p.stderr
    return p


@pytest.fixture(scope="module")
def shared_db(moat_bin, tmp_path_factory):
    """The whole shared data set imported once."""
    db = tmp_path_factory.mktemp("osvdb") / "osv.db"
    p = run(moat_bin, "db", "import", str(DATA), "--db", str(db))
    assert p.returncode == 0, p.stderr
    return db


def audit_json(moat_bin, db, *paths, extra=()):
    p = run(moat_bin, "audit", "deps", *map(str, paths), "--db", str(db), "-f", "json",
            "--python-version", "3.11", *extra)
    assert p.returncode in (0, 1, 2), p.stderr
    return p, json.loads(p.stdout)


def vulns_by_dep(doc):
    return {(d["name"], d.get("version")): sorted(v["id"] for v in d.get("vulns", []))
            for d in doc["dependencies"]}


# ---------------------------------------------------------------- reference
# An independent implementation of the OSV schema's evaluation with
# packaging.version, used to compute what moat must report.

def load_records():
    with open(DATA, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def ref_affected(rec, name, version):
    if rec.get("withdrawn"):
        return False
    v = Version(version)
    for a in rec.get("affected", []):
        pkg = a.get("package", {})
        if pkg.get("ecosystem") != "PyPI" or canonicalize_name(pkg.get("name", "")) != name:
            continue
        for r in a.get("ranges", []):
            if r["type"] not in ("ECOSYSTEM", "SEMVER"):
                continue  # GIT: skipped, the other ranges still count
            events = []
            for e in r["events"]:
                (kind, val), = e.items()
                if kind == "introduced" and val == "0":
                    key = None
                else:
                    try:
                        key = Version(val)
                    except InvalidVersion:
                        continue
                events.append((key, kind))
            events.sort(key=lambda ev: (ev[0] is not None, ev[0] or Version("0")))
            state = False
            for key, kind in events:
                if kind == "introduced" and (key is None or v >= key):
                    state = True
                elif kind in ("fixed", "limit") and v >= key:
                    state = False
                elif kind == "last_affected" and v > key:
                    state = False
            if state:
                return True
        for s in a.get("versions", []):
            try:
                if Version(s) == v:
                    return True
            except InvalidVersion:
                if s.lower() == version.lower():
                    return True
    return False


def ref_report(records, name, version):
    """Primary ids (aliases merged, PYSEC first) of the advisories."""
    hits = [r for r in records if ref_affected(r, name, version)]
    groups = []
    for r in hits:
        names = {r["id"], *r.get("aliases", [])}
        merged = [g for g in groups if g[0] & names]
        for g in merged:
            groups.remove(g)
            names |= g[0]
        ids = [r["id"]] + [i for g in merged for i in g[1]]
        groups.append((names, ids))

    def rank(i):
        return (0 if i.startswith("PYSEC-") else 1 if i.startswith("GHSA-") else 2, i)
    return sorted(min(ids, key=rank) for _, ids in groups)


# ---------------------------------------------------------------- PEP 440

def test_pep440_table_is_what_packaging_computes():
    """The table the C unit test checks was computed by packaging, and still is."""
    table = REPO / "tests" / "unit" / "audit" / "pep440_cases.tsv"
    p = subprocess.run([PY, str(REPO / "tests" / "tools" / "pep440_table.py"), "--check",
                        str(table)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert len(table.read_text().splitlines()) >= 300


# ---------------------------------------------------------------- database

@needs_data
def test_db_import_and_info(moat_bin, shared_db, tmp_path):
    p = run(moat_bin, "db", "info", "--db", str(shared_db))
    assert p.returncode == 0, p.stderr
    assert "advisories:      2661 (10 withdrawn)" in p.stdout
    assert "packages:        664" in p.stdout
    assert "newest advisory: 2024-10-10" in p.stdout
    # the snapshot is from 2024: old data draws a warning
    assert "warning" in p.stderr and "days old" in p.stderr
    # importing the same data again replaces, never duplicates
    p = run(moat_bin, "db", "import", str(DATA), "--db", str(shared_db), "-q")
    assert p.returncode == 0
    assert "2661 records read, 2661 stored (10 withdrawn), 0 skipped" in p.stdout


def test_db_info_without_database(moat_bin, tmp_path):
    p = run(moat_bin, "db", "info", "--db", str(tmp_path / "none.db"))
    assert p.returncode == 2
    assert "no advisory database" in p.stderr
    assert not (tmp_path / "none.db").exists()


@needs_data
def test_real_world_cross_check(moat_bin, shared_db, tmp_path):
    pins = [("django", "3.2.0"), ("flask", "0.12"), ("jinja2", "2.10"),
            ("requests", "2.19.0"), ("urllib3", "1.24"), ("pyyaml", "5.3"),
            ("werkzeug", "0.15")]
    req = tmp_path / "requirements.txt"
    req.write_text("Django==3.2.0\nFlask==0.12\nJinja2==2.10\nrequests==2.19.0\n"
                   "urllib3==1.24\nPyYAML==5.3\nWerkzeug==0.15\n")
    p, doc = audit_json(moat_bin, shared_db, req)
    assert p.returncode == 1
    got = vulns_by_dep(doc)
    records = load_records()
    total = 0
    for name, version in pins:
        want = ref_report(records, name, version)
        assert want, "the reference found nothing for %s %s" % (name, version)
        assert got[(name, version)] == want, name
        total += len(want)
    assert total >= 30
    # every advisory carries its aliases and fix versions as pip-audit does
    for d in doc["dependencies"]:
        for v in d["vulns"]:
            assert set(v) == {"id", "fix_versions", "aliases", "description"}
    assert doc["fixes"] == []


@needs_data
def test_clean_and_exit_codes(moat_bin, shared_db, tmp_path):
    clean = tmp_path / "requirements.txt"
    clean.write_text("Django==5.1.2\nsix==1.16.0\n")
    p = run(moat_bin, "audit", "deps", str(clean), "--db", str(shared_db), "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 known vulnerabilities in 0 of 2 pinned packages" in p.stdout
    bad = tmp_path / "bad" / "requirements.txt"
    bad.parent.mkdir()
    bad.write_text("six==1.16.0\nnot valid ===\n")
    p = run(moat_bin, "audit", "deps", str(bad), "--db", str(shared_db), "-q")
    assert p.returncode == 2
    assert "requirements.txt:2:" in p.stderr
    p = run(moat_bin, "audit", "deps", str(clean), "--db", str(tmp_path / "missing.db"))
    assert p.returncode == 2 and "no advisory database" in p.stderr
    p = run(moat_bin, "audit", "deps", str(clean), "--db", str(shared_db), "-f", "xml")
    assert p.returncode == 2


# ---------------------------------------------------------------- OSV rules

def osv(id_, events=None, versions=None, aliases=(), extra=None, name="demo-pkg", git=False):
    ranges = []
    if git:
        ranges.append({"type": "GIT", "repo": "https://example.invalid/r",
                       "events": [{"introduced": "0"}, {"fixed": "abcdef"}]})
    if events is not None:
        ranges.append({"type": "ECOSYSTEM", "events": events})
    aff = {"package": {"ecosystem": "PyPI", "name": name}, "ranges": ranges}
    if versions is not None:
        aff["versions"] = versions
    rec = {"id": id_, "modified": "2026-01-01T00:00:00Z", "aliases": list(aliases),
           "details": "Details of %s." % id_, "affected": [aff]}
    rec.update(extra or {})
    return rec


def test_osv_evaluation_rules(moat_bin, tmp_path):
    recs = [
        osv("T-INTRO-FIX", [{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"},
                            {"fixed": "2.1"}]),
        osv("T-LAST", [{"introduced": "0"}, {"last_affected": "0.9"}]),
        osv("T-LIST", versions=["3.0", "3.0.1", "not a version!"]),
        osv("T-GIT-THEN-ECO", [{"introduced": "4.0"}, {"fixed": "4.2"}], git=True),
        osv("T-WITHDRAWN", [{"introduced": "0"}], extra={"withdrawn": "2026-01-02T00:00:00Z"}),
        osv("T-PRE", [{"introduced": "5.0a1"}, {"fixed": "5.0"}]),
        osv("T-LIMIT", [{"introduced": "6.0"}, {"limit": "6.5"}]),
        osv("PYSEC-X-1", [{"introduced": "7.0"}, {"fixed": "7.1"}], aliases=["CVE-X-1"]),
        osv("GHSA-xxxx-1", [{"introduced": "7.0"}, {"fixed": "7.2"}], aliases=["CVE-X-1"]),
        osv("T-OTHER-ECO", [{"introduced": "0"}], name="demo-pkg") | {
            "affected": [{"package": {"ecosystem": "npm", "name": "demo-pkg"},
                          "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]},
    ]
    src = tmp_path / "recs.ndjson"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    db = tmp_path / "osv.db"
    p = run(moat_bin, "db", "import", str(src), "--db", str(db))
    assert p.returncode == 0, p.stderr
    assert "1 without a PyPI package" in p.stdout
    assert "1 version strings that are not PEP 440" in p.stdout
    cases = {
        "0.5": ["T-LAST"], "0.9": ["T-LAST"], "0.9.1": [],
        "1.0": ["T-INTRO-FIX"], "1.4.99": ["T-INTRO-FIX"], "1.5": [],
        "2.0.5": ["T-INTRO-FIX"], "2.1": [],
        "3.0.0": ["T-LIST"], "3.0.1": ["T-LIST"], "3.0.2": [],
        "4.1": ["T-GIT-THEN-ECO"], "4.2": [],
        # no pre-release exclusion when matching advisories
        "5.0b2": ["T-PRE"], "5.0": [],
        "6.4": ["T-LIMIT"], "6.5": [],
        # one vulnerability under two ids: reported once, PYSEC first
        "7.0": ["PYSEC-X-1"], "7.1.5": ["GHSA-xxxx-1"],
    }
    req = tmp_path / "requirements.txt"
    for ver, want in cases.items():
        req.write_text("Demo_Pkg==%s\n" % ver)
        p, doc = audit_json(moat_bin, db, req)
        assert vulns_by_dep(doc) == {("demo-pkg", ver): want}, ver
        assert p.returncode == (1 if want else 0)
        if want == ["PYSEC-X-1"]:
            v = doc["dependencies"][0]["vulns"][0]
            assert v["aliases"] == ["CVE-X-1", "GHSA-xxxx-1"]
            assert v["fix_versions"] == ["7.1", "7.2"]


def test_fixing_upgrade_is_clean_and_final(moat_bin, tmp_path):
    """The advised upgrade is clean against every known advisory, not only
    the reported ones (waitress 1.4.0 -> 2.1.1 was hit by PYSEC-2022-205),
    and never a pre-release unless the pin is one (issue 18)."""
    recs = [
        osv("T-FIRST", [{"introduced": "0"}, {"fixed": "2.1.1"}]),
        osv("T-LATER", [{"introduced": "2.0"}, {"fixed": "2.1.2"}]),
        osv("T-LATER-2", [{"introduced": "2.1.2"}, {"fixed": "2.2"}]),
        osv("T-RC", [{"introduced": "0"}, {"fixed": "24.7.0rc1"}], name="rc-pkg"),
    ]
    src = tmp_path / "recs.ndjson"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    db = tmp_path / "osv.db"
    assert run(moat_bin, "db", "import", str(src), "--db", str(db)).returncode == 0
    req = tmp_path / "requirements.txt"
    cases = [("demo-pkg==1.4.0", "demo-pkg 1.4.0 -> 2.2"),
             ("rc-pkg==24.3.0", "rc-pkg 24.3.0 -> 24.7.0\n"),
             ("rc-pkg==24.7.0rc0", "rc-pkg 24.7.0rc0 -> 24.7.0rc1\n")]
    for line, want in cases:
        req.write_text(line + "\n")
        p = run(moat_bin, "audit", "deps", str(req), "--db", str(db), "-q")
        assert p.returncode == 1, p.stderr
        assert want in p.stdout, (line, p.stdout)


def test_unpinned_safe_floor_and_strict(moat_bin, tmp_path):
    """An unpinned requirement whose range allows affected versions gets the
    safe floor (the smallest clean version above every affected one) and,
    with --strict, a failing exit (issue 18)."""
    recs = [osv("T-OLD", [{"introduced": "0"}, {"fixed": "2.0"}], versions=["1.0", "1.5"]),
            osv("T-NEW", [{"introduced": "2.0"}, {"fixed": "2.2"}], versions=["2.0", "2.1"])]
    src = tmp_path / "recs.ndjson"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    db = tmp_path / "osv.db"
    assert run(moat_bin, "db", "import", str(src), "--db", str(db)).returncode == 0
    req = tmp_path / "requirements.txt"
    req.write_text("demo-pkg>=1.0\n")
    p = run(moat_bin, "audit", "deps", str(req), "--db", str(db), "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "demo-pkg >=1.0" in p.stdout and "safe floor: >=2.2" in p.stdout
    p = run(moat_bin, "audit", "deps", str(req), "--db", str(db), "-q", "--strict")
    assert p.returncode == 1, p.stdout + p.stderr
    p, doc = audit_json(moat_bin, db, req)
    assert "safe floor: >=2.2" in doc["dependencies"][0]["skip_reason"]
    # a range above the floor is clean, even with --strict
    req.write_text("demo-pkg>=2.2\n")
    p = run(moat_bin, "audit", "deps", str(req), "--db", str(db), "-q", "--strict")
    assert p.returncode == 0, p.stdout + p.stderr


def test_malformed_records_are_skipped(moat_bin, tmp_path):
    good = osv("T-GOOD", [{"introduced": "0"}, {"fixed": "1.0"}])
    src = tmp_path / "mixed.ndjson"
    src.write_text("\n".join([
        json.dumps(good),
        "{not json",
        json.dumps({"no_id": True}),
        json.dumps({"id": "T-BAD-RANGE", "affected": [{"package": {"ecosystem": "PyPI",
                    "name": "x"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"oops": "1"}]}]}]}),
        json.dumps({"id": "T-BAD-AFF", "affected": "nope"}),
        "[1, 2]",
    ]) + "\n")
    db = tmp_path / "osv.db"
    p = run(moat_bin, "db", "import", str(src), "--db", str(db))
    assert p.returncode == 1
    assert "mixed.ndjson:2: record skipped: invalid JSON" in p.stderr
    assert "mixed.ndjson:3: record skipped: no 'id'" in p.stderr
    assert "mixed.ndjson:4: record T-BAD-RANGE skipped" in p.stderr
    assert "mixed.ndjson:5: record T-BAD-AFF skipped" in p.stderr
    assert "1 stored" in p.stdout
    req = tmp_path / "requirements.txt"
    req.write_text("demo-pkg==0.5\n")
    _, doc = audit_json(moat_bin, db, req)
    assert vulns_by_dep(doc) == {("demo-pkg", "0.5"): ["T-GOOD"]}


@needs_data
def test_import_json_dir_yaml_zip_agree(moat_bin, tmp_path):
    """The same records as one JSON array, a tree of YAML files (the PyPA
    advisory-database layout) and an OSV zip export give the same audit."""
    records = [r for r in load_records()
               if canonicalize_name(r["affected"][0]["package"]["name"])
               in ("django", "pyyaml", "jinja2")]
    arr = tmp_path / "all.json"
    arr.write_text(json.dumps(records))
    tree = tmp_path / "advisory-database"
    for r in records:
        d = tree / "vulns" / r["affected"][0]["package"]["name"]
        d.mkdir(parents=True, exist_ok=True)
        (d / (r["id"] + ".yaml")).write_text(yaml.safe_dump(r, sort_keys=False))
    (tree / ".github").mkdir()
    (tree / ".github" / "ci.yaml").write_text("on: push\n")
    zpath = tmp_path / "all.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for r in records:
            z.writestr(r["id"] + ".json", json.dumps(r))
    req = tmp_path / "requirements.txt"
    req.write_text("Django==3.2.0\nPyYAML==5.3\nJinja2==2.10\n")
    results = []
    for src in (arr, tree, zpath):
        db = tmp_path / (src.name + ".db")
        p = run(moat_bin, "db", "import", str(src), "--db", str(db))
        assert p.returncode == 0, p.stderr
        assert "%d records read, %d stored" % (len(records), len(records)) in p.stdout
        _, doc = audit_json(moat_bin, db, req)
        results.append(doc)
    assert results[0] == results[1] == results[2]
    assert len(results[0]["dependencies"][0]["vulns"]) > 10


def test_db_update_without_network_fails_clearly(moat_bin, tmp_path):
    url = "http://127.0.0.1:%d/all.zip" % closed_port()
    db = tmp_path / "osv.db"
    p = run(moat_bin, "db", "update", "--db", str(db), "--url", url)
    assert p.returncode == 2
    assert "cannot download" in p.stderr and "moat db import" in p.stderr
    assert list(tmp_path.glob("*.download-*")) == []


def test_db_update_from_file_url(moat_bin, tmp_path):
    zpath = tmp_path / "all.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("T-1.json", json.dumps(osv("T-1", [{"introduced": "0"}])))
    db = tmp_path / "osv.db"
    p = run(moat_bin, "db", "update", "--db", str(db), "--url", zpath.as_uri())
    assert p.returncode == 0, p.stderr
    p = run(moat_bin, "db", "info", "--db", str(db))
    assert "advisories:      1 (0 withdrawn)" in p.stdout
    assert "imported from:   file://" in p.stdout


# ---------------------------------------------------------------- inputs

@needs_data
def test_requirements_syntax(moat_bin, shared_db):
    p, doc = audit_json(moat_bin, shared_db, FIX / "reqs" / "requirements.txt")
    deps = {(d["name"], d.get("version")): d for d in doc["dependencies"]}
    # -r include, --hash continuation lines, extras, a marker that holds, a -c pin
    for key in [("django", "3.2.0"), ("flask", "0.12"), ("requests", "2.19.0"),
                ("pyyaml", "5.3"), ("urllib3", "1.24")]:
        assert key in deps, key
        assert deps[key]["vulns"], key
    # a marker that does not hold for Python 3.11
    assert not any(n == "werkzeug" for n, _ in deps)
    assert "not pinned" in deps[("jinja2", None)]["skip_reason"]
    for name in ("mylib", "other", "localpkg"):
        assert "not audited" in deps[(name, None)]["skip_reason"]
    # problems are reported with file:line and the rest is audited
    assert "requirements.txt:17:" in p.stderr
    assert "requirements.txt:18: unknown option '--frobnicate'" in p.stderr
    assert "requirements-base.txt:2: " in p.stderr and "include cycle" in p.stderr
    assert p.returncode == 1


@pytest.mark.parametrize("folder,want", [
    ("poetry", {("django", "3.2.0"), ("six", "1.16.0")}),
    ("pipenv", {("flask", "0.12"), ("werkzeug", "0.15"), ("pyyaml", "5.3"), ("mylib", None)}),
    ("uv", {("jinja2", "2.10"), ("markupsafe", "2.1.5")}),
    ("pdm", {("requests", "2.19.0"), ("urllib3", "1.24")}),
    ("pylock", {("pyyaml", "5.3"), ("attrs", "23.1.0"), ("mylib", None)}),
    ("pep621", {("django", "3.2.0"), ("requests", None), ("pyyaml", "5.3")}),
    ("site/site-packages", {("django", "3.2.0"), ("pyyaml", "5.3"), ("six", "1.16.0")}),
])
@needs_data
def test_input_formats(moat_bin, shared_db, folder, want):
    records = load_records()
    p, doc = audit_json(moat_bin, shared_db, FIX / folder)
    got = vulns_by_dep(doc)
    assert set(got) == want, p.stderr
    for (name, version), ids in got.items():
        if version is None:
            continue
        expect = ref_report(records, name, version)
        if folder == "pep621" and name == "pyyaml":
            # [tool.moat.audit] ignores CVE-2020-1747 (an alias of PYSEC-2020-96)
            expect = [i for i in expect if i != "PYSEC-2020-96"]
        assert ids == expect, (name, version)


@needs_data
def test_sarif_points_at_the_pinning_line(moat_bin, shared_db):
    p = run(moat_bin, "audit", "deps", str(FIX / "poetry" / "poetry.lock"), "--db",
            str(shared_db), "-f", "sarif", "-q")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["version"] == "2.1.0"
    run0 = doc["runs"][0]
    assert run0["tool"]["driver"]["name"] == "moat"
    rule_ids = {r["id"] for r in run0["tool"]["driver"]["rules"]}
    assert run0["results"]
    for res in run0["results"]:
        assert res["ruleId"] in rule_ids
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith("poetry.lock")
        assert loc["region"]["startLine"] == 3  # django's [[package]]
        assert res["level"] in ("error", "warning", "note")


SCHEMAS = HERE / "fixtures" / "schemas"


def validate_cyclonedx(bom):
    """Against the official CycloneDX 1.5 JSON schema (with the SPDX and JSF
    schemas it refers to), as python3-jsonschema reads them."""
    import jsonschema
    store = {}
    for name in ("bom-1.5.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"):
        doc = json.loads((SCHEMAS / name).read_text())
        store[doc["$id"]] = doc
    schema = store["http://cyclonedx.org/schema/bom-1.5.schema.json"]
    resolver = jsonschema.RefResolver.from_schema(schema, store=store)
    jsonschema.Draft7Validator(schema, resolver=resolver).validate(bom)


def test_cyclonedx_schema_catches_old_output():
    """The validation can fail: the 1.4-era output (a tool without type)."""
    import jsonschema
    bad = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
           "metadata": {"tools": {"components": [{"name": "moat", "version": "1"}]}}}
    with pytest.raises(jsonschema.ValidationError):
        validate_cyclonedx(bad)


@needs_data
def test_cyclonedx_many_advisories_validate(moat_bin, shared_db, tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("flask==0.12\ndjango==2.2\npyyaml==5.3\nrequests==2.19.0\n"
                   "urllib3==1.24\njinja2==2.10\nwaitress==1.4.0\nnot-a-known-pkg==1.0\n")
    p = run(moat_bin, "audit", "deps", str(req), "--db", str(shared_db), "-f", "cyclonedx", "-q")
    assert p.returncode == 1, p.stderr
    bom = json.loads(p.stdout)
    validate_cyclonedx(bom)
    ids = [v["id"] for v in bom["vulnerabilities"]]
    assert len(ids) == len(set(ids)) and len(ids) > 20


@needs_data
def test_markdown_and_cyclonedx(moat_bin, shared_db):
    lock = FIX / "pdm" / "pdm.lock"
    p = run(moat_bin, "audit", "deps", str(lock), "--db", str(shared_db), "-f", "markdown", "-q")
    assert p.returncode == 1
    assert "| Package | Version | Advisory |" in p.stdout
    assert "| urllib3 | 1.24 | [PYSEC-2019-132]" in p.stdout
    assert "### Upgrades" in p.stdout
    p = run(moat_bin, "audit", "deps", str(lock), "--db", str(shared_db), "-f", "cyclonedx", "-q")
    assert p.returncode == 1
    bom = json.loads(p.stdout)
    validate_cyclonedx(bom)
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5"
    assert bom["serialNumber"].startswith("urn:uuid:") and bom["metadata"]["timestamp"]
    assert all(v["ratings"] for v in bom["vulnerabilities"])
    # a new serial number per BOM
    p2 = run(moat_bin, "audit", "deps", str(lock), "--db", str(shared_db), "-f", "cyclonedx", "-q")
    assert json.loads(p2.stdout)["serialNumber"] != bom["serialNumber"]
    refs = {c["bom-ref"] for c in bom["components"]}
    assert refs == {"pkg:pypi/requests@2.19.0", "pkg:pypi/urllib3@1.24"}
    assert bom["vulnerabilities"]
    for v in bom["vulnerabilities"]:
        assert v["affects"][0]["ref"] in refs


@needs_data
def test_table_output_and_upgrades(moat_bin, shared_db, tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("PyYAML==5.3\nDjango>=3.2,<3.2.2\n")
    p = run(moat_bin, "audit", "deps", str(req), "--db", str(shared_db), "-q")
    assert p.returncode == 1
    assert "pyyaml 5.3  (" in p.stdout and "requirements.txt:1)" in p.stdout
    assert "PYSEC-2020-96" in p.stdout and "CVE-2020-1747" in p.stdout
    assert "pyyaml 5.3 -> 5.4" in p.stdout
    # the unpinned range: which known versions in it are affected
    assert "django <3.2.2,>=3.2" in p.stdout
    assert "3.2.1" in p.stdout


@needs_data
def test_ignores_and_min_severity(moat_bin, shared_db, tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("PyYAML==5.3\n")
    # by alias on the command line
    _, doc = audit_json(moat_bin, shared_db, req, extra=["--ignore", "CVE-2020-14343"])
    assert vulns_by_dep(doc) == {("pyyaml", "5.3"): ["PYSEC-2020-96"]}
    # from [tool.moat.audit], with a reason; an expired one applies no more
    (tmp_path / "pyproject.toml").write_text(
        '[tool.moat.audit]\nignore = [\n'
        '  { id = "PYSEC-2020-96", reason = "trusted input only", expires = 2999-01-01 },\n'
        '  { id = "GHSA-8q59-q68h-6hv4", reason = "old", expires = "2001-01-01" },\n]\n')
    p, doc = audit_json(moat_bin, shared_db, req)
    assert vulns_by_dep(doc) == {("pyyaml", "5.3"): ["PYSEC-2021-142"]}
    assert "expired on 2001-01-01" in p.stderr
    # an ignore without a reason is refused, with its line
    (tmp_path / "pyproject.toml").write_text(
        '[tool.moat.audit]\nignore = [\n  { id = "PYSEC-2020-96" },\n]\n')
    p, doc = audit_json(moat_bin, shared_db, req)
    assert "pyproject.toml:3:" in p.stderr and "reason" in p.stderr
    assert vulns_by_dep(doc) == {("pyyaml", "5.3"): ["PYSEC-2020-96", "PYSEC-2021-142"]}
    (tmp_path / "pyproject.toml").unlink()
    # --min-severity: only rated advisories below the bar are hidden
    req.write_text("urllib3==1.24\n")
    _, all_doc = audit_json(moat_bin, shared_db, req)
    _, high = audit_json(moat_bin, shared_db, req, extra=["--min-severity", "high"])
    all_ids = vulns_by_dep(all_doc)[("urllib3", "1.24")]
    high_ids = vulns_by_dep(high)[("urllib3", "1.24")]
    assert set(high_ids) < set(all_ids)
    assert "PYSEC-2023-212" in all_ids and "PYSEC-2023-212" not in high_ids  # medium 4.2


def test_markers_follow_python_version(moat_bin, tmp_path):
    db = tmp_path / "osv.db"
    src = tmp_path / "r.ndjson"
    src.write_text(json.dumps(osv("T-1", [{"introduced": "0"}])) + "\n")
    assert run(moat_bin, "db", "import", str(src), "--db", str(db)).returncode == 0
    req = tmp_path / "requirements.txt"
    req.write_text('demo-pkg==1.0; python_version < "3.8"\n')
    _, doc = audit_json(moat_bin, db, req, extra=["--python-version", "3.7"])
    assert vulns_by_dep(doc) == {("demo-pkg", "1.0"): ["T-1"]}
    p = run(moat_bin, "audit", "deps", str(req), "--db", str(db), "--python-version", "3.12",
            "-f", "json")
    assert p.returncode == 0 and json.loads(p.stdout)["dependencies"] == []
    # by default the environment is the local /usr/bin/python3's
    p = run(moat_bin, "audit", "deps", str(req), "--db", str(db), "-f", "json")
    local_old = sys.version_info < (3, 8)
    assert p.returncode == (1 if local_old else 0)


def test_cli_errors(moat_bin, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    p = run(moat_bin, "db", "import", str(empty), "--db", str(tmp_path / "osv.db"))
    assert p.returncode == 1 and "no OSV records found" in p.stderr
    p = run(moat_bin, "db", "import", str(tmp_path / "missing.json"), "--db",
            str(tmp_path / "osv.db"))
    assert p.returncode == 2 and "nothing imported" in p.stderr
    p = run(moat_bin, "audit", "deps", "--bogus")
    assert p.returncode == 2 and "moat audit deps" in p.stderr
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not an SQLite file at all, just text\n" * 20)
    for args in (["db", "info"], ["audit", "deps", str(tmp_path)]):
        p = run(moat_bin, *args, "--db", str(bad))
        assert p.returncode == 2 and "not a database" in p.stderr
    p = run(moat_bin, "audit", "deps", str(tmp_path), "--db", str(tmp_path / "osv.db"),
            "--python-version", "three")
    assert p.returncode == 2 and "--python-version" in p.stderr
    # a folder with nothing to audit is an input error
    src = tmp_path / "r.ndjson"
    src.write_text(json.dumps(osv("T-1", [{"introduced": "0"}])) + "\n")
    assert run(moat_bin, "db", "import", str(src), "--db", str(tmp_path / "osv.db")).returncode == 0
    p = run(moat_bin, "audit", "deps", str(empty), "--db", str(tmp_path / "osv.db"))
    assert p.returncode == 2 and "no requirements" in p.stderr


def test_gateway_config_leaves_audit_table_alone(moat_bin):
    """[tool.moat.audit] is the auditor's: the gateway's loader accepts it."""
    p = run(moat_bin, "config", "check", str(FIX / "pep621" / "pyproject.toml"))
    assert p.returncode == 0, p.stderr
    assert "configuration OK" in p.stderr
