"""toml-test conformance of moat's TOML reader, through build/tests/tools/toml2json.

Every valid/**/*.toml must decode (exit 0) to the tagged JSON in the .json
beside it, compared by meaning (integers and floats by value, nan and inf as
toml-test spells them, date-times with their fractional seconds and offsets
normalised). Every invalid/**/*.toml must be rejected with exit code 1 and a
"FILE:LINE:COL: message" line on stderr.

The suite lives in <repo>/../shared/data/toml-test (MOAT_SHARED replaces
<repo>/../shared); the build in <repo>/build (or MOAT_BUILD).
"""

import json
import math
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MOAT_SHARED") or REPO.parent / "shared")
SUITE = SHARED / "data" / "toml-test"
BUILD = Path(os.environ.get("MOAT_BUILD") or REPO / "build")
TOML2JSON = BUILD / "tests" / "tools" / "toml2json"

SANITIZER_MARKS = ("Sanitizer", "runtime error:", "LeakSanitizer")


def _cases(kind):
    if not SUITE.is_dir():
        return []
    return sorted((SUITE / kind).rglob("*.toml"))


VALID = _cases("valid")
INVALID = _cases("invalid")


def _ids(paths):
    return [str(p.relative_to(SUITE)) for p in paths]


def _run(path):
    if not TOML2JSON.is_file():
        pytest.fail(f"{TOML2JSON} is missing: build it with `ninja -C {BUILD}`")
    proc = subprocess.run(
        [str(TOML2JSON), str(path)], capture_output=True, timeout=30, check=False
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    for mark in SANITIZER_MARKS:
        assert mark not in stderr, f"sanitizer report for {path}:\n{stderr}"
    return proc.returncode, proc.stdout, stderr


# ---- semantic comparison of tagged JSON --------------------------------------

DATE = r"(\d{4})-(\d{2})-(\d{2})"
TIME = r"(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
OFFSET = r"([Zz]|[+-]\d{2}:\d{2})"
DT_PATTERNS = {
    "datetime": re.compile(DATE + "[Tt ]" + TIME + OFFSET),
    "datetime-local": re.compile(DATE + "[Tt ]" + TIME),
    "date-local": re.compile(DATE),
    "time-local": re.compile(TIME),
}


def _fraction_ns(frac):
    # toml-test requires millisecond precision; compare to the nanosecond.
    return int((frac or "0").ljust(9, "0")[:9])


def _offset_minutes(off):
    if off in ("Z", "z"):
        return 0
    sign = -1 if off[0] == "-" else 1
    return sign * (int(off[1:3]) * 60 + int(off[4:6]))


def _scalar(type_, value):
    """Normalises a tagged scalar into something == compares by meaning."""
    if type_ == "integer":
        return (type_, int(value))
    if type_ == "float":
        f = float(value)  # accepts inf, +inf, -inf, nan, +nan, -nan
        return (type_, "nan") if math.isnan(f) else (type_, f)
    if type_ in DT_PATTERNS:
        m = DT_PATTERNS[type_].fullmatch(value)
        if not m:
            return (type_, "malformed", value)
        g = list(m.groups())
        if type_ == "datetime":
            return (type_, tuple(g[:6]), _fraction_ns(g[6]), _offset_minutes(g[7]))
        if type_ == "datetime-local":
            return (type_, tuple(g[:6]), _fraction_ns(g[6]))
        if type_ == "date-local":
            return (type_, tuple(g))
        return (type_, tuple(g[:3]), _fraction_ns(g[3]))
    return (type_, value)  # string, bool


def _is_tagged(v):
    return (
        isinstance(v, dict)
        and set(v) == {"type", "value"}
        and isinstance(v["type"], str)
        and isinstance(v["value"], str)
    )


def _first_difference(got, want, path="$"):
    """Returns a description of the first difference, or None."""
    if _is_tagged(want) or _is_tagged(got):
        if not (_is_tagged(want) and _is_tagged(got)):
            return f"{path}: got {got!r}, want {want!r}"
        a = _scalar(got["type"], got["value"])
        b = _scalar(want["type"], want["value"])
        return None if a == b else f"{path}: got {got!r}, want {want!r}"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{path}: got {type(got).__name__}, want a table"
        if set(got) != set(want):
            return (
                f"{path}: keys differ: missing {sorted(set(want) - set(got))}, "
                f"extra {sorted(set(got) - set(want))}"
            )
        for k in want:
            d = _first_difference(got[k], want[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list):
        if not isinstance(got, list):
            return f"{path}: got {type(got).__name__}, want an array"
        if len(got) != len(want):
            return f"{path}: got {len(got)} elements, want {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            d = _first_difference(g, w, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if got == want else f"{path}: got {got!r}, want {want!r}"


# ---- tests -------------------------------------------------------------------


def test_suite_is_present():
    if not SUITE.is_dir():
        pytest.skip(f"toml-test data not found at {SUITE}")
    assert VALID and INVALID


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_valid(path):
    rc, out, err = _run(path)
    assert rc == 0, f"rejected a valid document:\n{err}"
    got = json.loads(out)
    want = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    diff = _first_difference(got, want)
    assert diff is None, diff


@pytest.mark.parametrize("path", INVALID, ids=_ids(INVALID))
def test_invalid(path):
    rc, out, err = _run(path)
    assert rc == 1, f"exit code {rc} (want 1); stdout: {out[:300]!r}; stderr: {err[:300]!r}"
    assert out == b"", "printed a document for an invalid input"
    m = re.match(re.escape(str(path)) + r":(\d+):(\d+): (.+)", err)
    assert m, f"error is not FILE:LINE:COL: message: {err!r}"
    line, col = int(m.group(1)), int(m.group(2))
    nlines = path.read_bytes().count(b"\n") + 1
    assert 1 <= line <= nlines and col >= 1, f"position {line}:{col} outside the file"
    assert m.group(3).strip(), "empty error message"
