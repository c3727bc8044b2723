"""`moat audit secrets` end to end: the real binary on a fixture tree of
.env, .ini, .yaml, .json, .toml, .py, .cfg, PEM and notebook files holding
made-up secrets of the right shapes. Each run copies the tree to a fresh
folder and adds what the walk must skip (.git, node_modules, a virtualenv,
a binary file, a file over the size limit). Checks: every expected finding
at its file:line with its rule, nothing else, no raw secret in any output
format, the exit codes, suppression, the baseline, and SARIF's shape."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "audit_secrets"
ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 60

# (path, line, rule) the fixture tree must give, and nothing else.
EXPECTED = {
    (".env", 3, "MOAT-S-PASSWORD"),
    (".env", 4, "MOAT-S-GITHUB"),
    ("analysis.ipynb", 30, "MOAT-S-STRIPE"),
    ("app.py", 6, "MOAT-S-SENDGRID"),
    ("app.py", 8, "MOAT-S-AZURE"),
    ("app.py", 9, "MOAT-S-JWT"),
    ("config.ini", 2, "MOAT-S-AWS"),
    ("config.ini", 3, "MOAT-S-AWS-SECRET"),
    ("deploy/gitlab.cfg", 3, "MOAT-S-GITLAB"),
    ("deploy/id_ed25519", 1, "MOAT-S-PRIVKEY"),
    ("pyproject.toml", 5, "MOAT-S-ENTROPY"),
    ("pyproject.toml", 6, "MOAT-S-GCP-API"),
    ("service-account.json", 5, "MOAT-S-GCP-SA"),
    ("settings.yaml", 2, "MOAT-S-SLACK"),
    ("settings.yaml", 6, "MOAT-S-URL-PASSWORD"),
}

# The secret part of each fixture value (its public prefix cut off): none of
# these may appear in any output.
SECRETS = [
    "Winter2024Blue",
    "YisDMi9sRu23RKcIFwF9fG6SptB3WDHN3sMO",
    "MzeNd9BeolA7Z60Zx3UGv3K7awxT",
    "SXTvPDT1OCdd37SUA7Bibt",
    "v7XlvomXJjXa1UYjpdo2PUCh4w7fEQaCwF7rtE06hGF",
    "CHT4Y0bP1FTIb/R/WEpasItkJImwUIF36Eg6BqBn",
    "8dsuoN5w_betzAp3-WsEjAryFpEI9EU2JosLx8fbr2C",
    "0R1C0OR3F85JLVUO",
    "VJJjOxzefUC/NALmvCUz+oQBQhCpZ4BoXW7YrFZi",
    "GqQJVqnrQCL0VfAZDvxf",
    "NxQD0g1HiwsTxqeIb7Q2fPyZCE1DIQRv7ckMkLbH",
    "HwxZcqiarxLaw6MqJh2AFTeVIwLovW15yhm",
    "Upa7hrCkUzoVFxITaX",
    "IuDJtcZfMeoBhZP3gcWABkCN",
    "Kq7vR2xLm9Ts",
]

SKIPPED_TOKEN = "ghp_" + "Qw3rTy7UiOp9AsDfGh2JkLzXcVbNm4Q1W2E3"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "app"
    shutil.copytree(FIXTURES, root)
    line = "token = '%s'\n" % SKIPPED_TOKEN
    for rel in (".git/config", "node_modules/pkg/index.js", "__pycache__/x.py",
                "env/lib/site.py"):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(line)
    (root / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + line.encode())
    (root / "dump.sql").write_text(line + "-- filler\n" * 30000)  # over the limit below
    return root


LIMIT = ["--max-file-size", "200000"]  # dump.sql is over it


def run(moat_bin, *args, cwd):
    return subprocess.run([moat_bin, "audit", "secrets", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)


def assert_no_secrets(text):
    for s in SECRETS + [SKIPPED_TOKEN[4:]]:
        assert s not in text, "raw secret %s... in the output" % s[:6]


def rel(path):
    return path[2:] if path.startswith("./") else path


def test_json_report(moat_bin, tree):
    r = run(moat_bin, ".", "--format", "json", *LIMIT, cwd=tree)
    assert r.returncode == 1, r.stderr
    assert_no_secrets(r.stdout + r.stderr)
    doc = json.loads(r.stdout)
    got = {(rel(f["path"]), f["line"], f["rule"]) for f in doc["findings"]}
    assert got == EXPECTED
    for f in doc["findings"]:
        assert f["kind"] == "secrets" and f["cwe"] == 798
        assert len(f["fingerprint"]) == 64
        # masked, but for a PEM file's BEGIN line, which holds no key bytes
        assert "*" in f["snippet"] or f["rule"] == "MOAT-S-PRIVKEY"
    by = {(rel(f["path"]), f["line"]): f for f in doc["findings"]}
    # columns are byte columns of the secret, in the notebook file itself
    assert by[("analysis.ipynb", 30)]["col"] == 25
    assert by[("config.ini", 2)]["col"] == 21
    assert by[("config.ini", 2)]["snippet"] == "aws_access_key_id = AKIA" + "*" * 16
    summary = doc["summary"]
    assert summary["findings"] == len(EXPECTED)
    assert summary["suppressed"] == 1  # app.py's pragma: allowlist secret
    assert summary["files"] == 9       # the fixtures; skipped folders and files not counted
    assert any("dump.sql: skipped" in e and "200000-byte limit" in e for e in doc["errors"])


def test_text_report(moat_bin, tree):
    r = run(moat_bin, *LIMIT, cwd=tree)  # PATH defaults to the current directory
    assert r.returncode == 1, r.stderr
    assert_no_secrets(r.stdout + r.stderr)
    out = r.stdout
    assert "\nconfig.ini\n" in out
    assert "MOAT-S-AWS  high severity, high confidence  CWE-798" in out
    assert "ghp_************************************" in out
    assert "15 findings" in out and "1 suppressed by comments" in out
    assert "\ndump.sql: skipped, " in out and "1 file not analysed" in out


def test_sarif_report(moat_bin, tree):
    r = run(moat_bin, str(tree), "--format", "sarif", *LIMIT, cwd=tree.parent)
    assert r.returncode == 1, r.stderr
    assert_no_secrets(r.stdout)
    doc = json.loads(r.stdout)
    assert doc["version"] == "2.1.0"
    run0 = doc["runs"][0]
    rules = {x["id"] for x in run0["tool"]["driver"]["rules"]}
    assert {rule for _, _, rule in EXPECTED} <= rules
    assert "MOAT-S-TWILIO-TOKEN" in rules
    assert len(run0["results"]) == len(EXPECTED)
    for res in run0["results"]:
        assert res["ruleId"].startswith("MOAT-S-")
        region = res["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_baseline_only_new_secrets_fail(moat_bin, tree, tmp_path):
    base = tmp_path / "baseline.json"
    r = run(moat_bin, ".", "--format", "json", *LIMIT, cwd=tree)
    base.write_text(r.stdout)
    r = run(moat_bin, ".", "--baseline", str(base), *LIMIT, cwd=tree)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 findings" in r.stdout and "15 in the baseline" in r.stdout
    # lines moved: still known; a new secret: reported alone
    env = tree / ".env"
    env.write_text("# moved down\n\n" + env.read_text())
    (tree / "new.env").write_text("STRIPE=sk_live_" + "Zr8Kd2Wq9Lm4Xt7Vb3Np6Hs1Jc5\n")
    r = run(moat_bin, ".", "--baseline", str(base), "--format", "json", *LIMIT, cwd=tree)
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert [(rel(f["path"]), f["rule"]) for f in doc["findings"]] == [("new.env", "MOAT-S-STRIPE")]


def test_exclude(moat_bin, tree):
    r = run(moat_bin, ".", "--format", "json", "--exclude", "deploy", "--exclude", "*.ipynb",
            "--exclude", "app.p?", *LIMIT, cwd=tree)
    assert r.returncode == 1
    got = {(rel(f["path"]), f["line"], f["rule"]) for f in json.loads(r.stdout)["findings"]}
    assert got == {e for e in EXPECTED
                   if not e[0].startswith("deploy/") and e[0] not in ("analysis.ipynb", "app.py")}


def test_clean_tree_and_single_file(moat_bin, tmp_path):
    (tmp_path / "app.py").write_text("import os\nSECRET_KEY = os.environ['SECRET_KEY']\n")
    (tmp_path / ".env.example").write_text("SECRET_KEY=changeme\nDB_PASSWORD=\n")
    r = run(moat_bin, str(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert "0 findings" in r.stdout
    r = run(moat_bin, str(FIXTURES / "config.ini"), "--format", "json", cwd=tmp_path)
    assert r.returncode == 1
    assert [f["line"] for f in json.loads(r.stdout)["findings"]] == [2, 3]


def test_list_rules(moat_bin, tmp_path):
    r = run(moat_bin, "--list-rules", cwd=tmp_path)
    assert r.returncode == 0
    rows = [l for l in r.stdout.splitlines() if l.startswith("| MOAT-S-")]
    assert {l.split(" | ")[0][2:] for l in rows} >= {rule for _, _, rule in EXPECTED}
    # 20 detectors of their own and one per provider of providers.def
    providers = (ROOT / "src/audit/secrets/providers.def").read_text().count("\nMOAT_SECRET_PROVIDER(")
    assert providers >= 40
    assert len(rows) == 20 + providers and all("CWE-798" in l for l in rows)
    assert {"MOAT-S-OPENAI", "MOAT-S-PYPI", "MOAT-S-AIRTABLE"} <= {l.split(" | ")[0][2:] for l in rows}


@pytest.mark.parametrize("args, message", [
    (["/nonexistent/moat-tree"], "/nonexistent/moat-tree: No such file"),
    ([".", "--format", "xml"], "unknown format 'xml'"),
    ([".", "--max-file-size", "lots"], "--max-file-size"),
    ([".", "extra"], "unexpected argument 'extra'"),
    ([".", "--baseline", "/nonexistent/base.json"], "base.json"),
])
def test_usage_errors(moat_bin, tmp_path, args, message):
    r = run(moat_bin, *args, cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stdout == ""
