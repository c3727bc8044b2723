#!/usr/bin/python3
"""Writes the PEP 440 case table that tests/unit/audit/test_pep440.c checks
moat against, with every expected answer computed by Debian's
python3-packaging (the reference implementation), never typed by hand.

    pep440_table.py            print the table
    pep440_table.py --check F  exit 1 if F differs from what packaging says

Lines (tab-separated):
    norm  INPUT  NORMALISED | INVALID
    cmp   A  B  -1 | 0 | 1
    spec  SPECIFIERS  VERSION  PRERELEASES(-1 default, 0, 1)  1 | 0
"""
import sys

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

NORM = [
    "1.0", "1", "01.02.003", "v1.0", "V1.0", " 1.0 ", "1.0.0.0.0", "0", "00",
    "1!1.0", "0!1.0", "01!1.0", "1.0a1", "1.0A1", "1.0alpha1", "1.0.alpha.1", "1.0-a-1",
    "1.0_a_1", "1.0a", "1.0b2", "1.0beta2", "1.0c3", "1.0rc3", "1.0pre3", "1.0preview3",
    "1.0-rc.3", "1.0.post1", "1.0post1", "1.0-post1", "1.0_post1", "1.0-1", "1.0-r1",
    "1.0rev1", "1.0.post", "1.0.r", "1.0.dev1", "1.0dev1", "1.0-dev-1", "1.0.dev",
    "1.0a1.post2.dev3", "1.0rc1-1", "1.0+abc", "1.0+ABC.5", "1.0+abc-5_x", "1.0+0005",
    "1.0+1.2.3", "1.0a.", "1.0-", "1.0.", "1..0", ".1", "a1.0", "1.0+", "1.0+a..b",
    "1.0.post1.post2", "1.0a1a2", "1.0dev1dev2", "1.0+a+b", "1.0 1", "", "  ", "1.*",
    "1.0-foo", "1.0_", "2024.01.01", "20240101123456789012345678901234567890",
    "1.0.99999999999999999999999999999999", "1!", "!1", "1.0a-1", "1.0a--1", "1.0rc",
    "1.0c", "1.0r", "1.0post", "1.0.dev.1", "1.0-dev1", "1.0a1.dev", "1.0.a1",
    "1.0RC1", "1.0Post1", "1.0DEV1", "v", "1.0.0-alpha", "1.2.3.4.5.6.7.8.9.10",
    "7!1.0.post0.dev0+0", "1.0+local.0", "1.0+ubuntu1", "1.0\t", "\t1.0", "1.0rc1+x",
]

# Versions ordered by hand only to give the comparison grid variety; the
# expected answers come from packaging.
ORDERED = [
    "1.0.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
    "1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0b2-346",
    "1.0c1.dev456", "1.0c1", "1.0rc2", "1.0c3", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5",
    "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1", "1.0.0", "1.0.0.0",
    "1.0+abc", "1.0+ABC", "1.0+0", "1.0+00", "1.0+a.0", "1.0+a.b", "1.0+1.a", "1.0+a.1",
    "2!0.1", "1!1.0", "0!1.0", "99999999999999999999.0", "100000000000000000000.0",
    "1.99999999999999999999", "1.100000000000000000000", "2024.1.1", "2024.01.01",
    "1.0rc1.post1", "1.0.post1.dev1", "1.0.post0", "1.0-0", "0.9", "1.0a0", "1.0.dev",
    "1.0alpha", "1.0pre", "1.0b0", "v1.0", "1.0.1a1", "1.0.1.dev1", "1.0.1",
]

SPECS = [
    "==1.0", "==1.0.0", "==1", "!=1.0", "==1.0+abc", "!=1.0+abc", "==1.0.*", "==1.*",
    "!=1.0.*", "==1.0.0.*", "==2.*", ">=1.0", ">1.0", "<1.0", "<=1.0", ">1.0.post456",
    "<1.0rc1", ">=1.0a1", "<=1.0b2", "~=1.0", "~=1.0.0", "~=1.0.post1", "~=1.0a1",
    "~=2.2", "~=1!1.0", ">=1.0,<2.0", ">=1.0,!=1.0.15", ">=0.9,<1.0", "===1.0",
    "===1.0+abc", ">1.0a1", "<2.0", ">=1.0.dev0", "==1.0.post456",
    "", ">=1.0rc1,<1.1", "<1.0.1", ">1.0.1a1", "==1.0a1", ">=2024.1", "<100000000000000000000",
    ">99999999999999999999", "==1!1.*", "!=1.0.post456", "<=1.0.dev456", "~=1.0.1",
    ">=1!0", "<1!2", "==1.0+5", ">1.0.0", "<1.0.15", ">=1.0a0",
]
SPEC_VERSIONS = [
    "1.0", "1.0.0", "1.0+abc", "1.0+5", "1.0a1", "1.0rc1", "1.0.dev0", "1.0.post456",
    "1.0.15", "1.1", "1.1a1", "0.9", "2.0", "2.0.dev1", "1!1.0", "1!1.5", "2024.1.1",
    "99999999999999999999.0", "100000000000000000000.0", "1.0.1", "1.0.1a1", "1.0b2",
    "2.2", "2.9", "3.0",
]
# A smaller grid with explicit prerelease flags (0 and 1).
PRE_SPECS = [">=1.0", "<2.0", "==1.0.*", "~=1.0", ">1.0a1", "", "===foobar", "===1.0a1"]
PRE_VERSIONS = ["1.0a1", "1.5.dev1", "1.0rc1", "1.0", "2.0a1"]


def norm(s):
    try:
        return str(Version(s))
    except InvalidVersion:
        return "INVALID"


def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t")


def rows():
    out = []
    for s in NORM:
        out.append(("norm", esc(s), norm(s)))
    vs = ORDERED
    for i, a in enumerate(vs):
        for b in vs[i::3]:
            va, vb = Version(a), Version(b)
            out.append(("cmp", a, b, str((va > vb) - (va < vb))))
    for sp in SPECS:
        ss = SpecifierSet(sp)
        for v in SPEC_VERSIONS:
            out.append(("spec", sp, v, "-1", "1" if ss.contains(v) else "0"))
    for sp in PRE_SPECS:
        for v in PRE_VERSIONS:
            for pre in (0, 1):
                got = SpecifierSet(sp).contains(v, prereleases=bool(pre))
                out.append(("spec", sp, v, str(pre), "1" if got else "0"))
    return ["\t".join(r) for r in out]


def main():
    text = "\n".join(rows()) + "\n"
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2], encoding="utf-8") as f:
            have = f.read()
        if have != text:
            sys.stderr.write("%s differs from what packaging computes; regenerate it\n"
                             % sys.argv[2])
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
