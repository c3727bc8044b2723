"""Password hashes and TOTP made by the Python ecosystem verify in moat.

Hashes are made here, in-process, by Debian's python3-argon2 (argon2-cffi),
python3-bcrypt, python3-passlib, python3-werkzeug and Django's hashers (with
settings configured in-process); moat verifies them through
tests/tools/auth_tool (the auth module's code, as the gateway calls it) and
must refuse wrong passwords. The other way round, argon2-cffi and passlib
verify moat's own Argon2id hashes. Users imported with `moat user import`
log in with their old hashes, which are then replaced by Argon2id. TOTP codes
are checked against python3-pyotp."""

import base64
import hashlib
import json
import os
import re
import secrets
import time

import argon2
import bcrypt
import pyotp
import pytest
from passlib import hash as plh
from werkzeug.security import generate_password_hash

from authlib import Users, tool, write_config

PASSWORDS = ["correct horse battery", "pässwörd ünïcode ✓", "x" * 72 + "tail"]


def _django():
    import django
    from django.conf import settings
    if not settings.configured:
        settings.configure(PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
            "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
            "django.contrib.auth.hashers.Argon2PasswordHasher",
            "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
            "django.contrib.auth.hashers.BCryptPasswordHasher",
        ])
        django.setup()
    from django.contrib.auth.hashers import make_password
    return make_password


def werkzeug_scrypt(pw, n=16384, r=8, p=1):
    # Werkzeug >= 2.3 writes scrypt:N:r:p$SALT$HEX; Debian's 2.2 cannot, so
    # the same format is built with hashlib.scrypt exactly as Werkzeug does.
    salt = secrets.token_urlsafe(12)[:16]
    dk = hashlib.scrypt(pw.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p)
    return "scrypt:%d:%d:%d$%s$%s" % (n, r, p, salt, dk.hex())


GENERATORS = {
    "argon2-cffi": lambda pw: argon2.PasswordHasher(memory_cost=16384, parallelism=2).hash(pw),
    "argon2-cffi-argon2i": lambda pw: argon2.PasswordHasher(memory_cost=8192,
                                                            type=argon2.Type.I).hash(pw),
    "bcrypt-2b": lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(5)).decode(),
    "bcrypt-2a": lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(5, prefix=b"2a")).decode(),
    "passlib-pbkdf2-sha256": lambda pw: plh.pbkdf2_sha256.hash(pw),
    "passlib-pbkdf2-sha512": lambda pw: plh.pbkdf2_sha512.using(rounds=10000).hash(pw),
    "passlib-pbkdf2-sha1": lambda pw: plh.pbkdf2_sha1.hash(pw),
    "passlib-argon2": lambda pw: plh.argon2.hash(pw),
    "passlib-bcrypt": lambda pw: plh.bcrypt.using(rounds=5).hash(pw),
    "werkzeug-pbkdf2-sha256": lambda pw: generate_password_hash(pw),
    "werkzeug-pbkdf2-sha512": lambda pw: generate_password_hash(pw, "pbkdf2:sha512:10000"),
    "werkzeug-scrypt": werkzeug_scrypt,
    "django-pbkdf2-sha256": lambda pw: _django()(pw, hasher="pbkdf2_sha256"),
    "django-pbkdf2-sha1": lambda pw: _django()(pw, hasher="pbkdf2_sha1"),
    "django-argon2": lambda pw: _django()(pw, hasher="argon2"),
    "django-bcrypt-sha256": lambda pw: _django()(pw, hasher="bcrypt_sha256"),
    "django-bcrypt": lambda pw: _django()(pw, hasher="bcrypt"),
}

# The prefix each generator must produce: proves the test covers the format.
PREFIX = {
    "argon2-cffi": "$argon2id$v=19$", "argon2-cffi-argon2i": "$argon2i$v=19$",
    "bcrypt-2b": "$2b$05$", "bcrypt-2a": "$2a$05$",
    "passlib-pbkdf2-sha256": "$pbkdf2-sha256$", "passlib-pbkdf2-sha512": "$pbkdf2-sha512$",
    "passlib-pbkdf2-sha1": "$pbkdf2$", "passlib-argon2": "$argon2id$", "passlib-bcrypt": "$2b$",
    "werkzeug-pbkdf2-sha256": "pbkdf2:sha256:", "werkzeug-pbkdf2-sha512": "pbkdf2:sha512:",
    "werkzeug-scrypt": "scrypt:16384:8:1$", "django-pbkdf2-sha256": "pbkdf2_sha256$",
    "django-pbkdf2-sha1": "pbkdf2_sha1$", "django-argon2": "argon2$argon2id$",
    "django-bcrypt-sha256": "bcrypt_sha256$$2b$", "django-bcrypt": "bcrypt$$2b$",
}


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_foreign_hash_verifies(kind):
    pw = PASSWORDS[0] if "bcrypt" in kind and "sha256" not in kind else PASSWORDS[1]
    h = GENERATORS[kind](pw)
    assert h.startswith(PREFIX[kind]), h
    ok = tool("verify", h, password=pw)
    assert ok.returncode == 0, (h, ok.stdout, ok.stderr)
    assert "match" in ok.stdout.split()
    assert "rehash" in ok.stdout.split()  # not moat's current Argon2id parameters
    for wrong in (pw[:-1], pw.upper(), ""):
        bad = tool("verify", h, password=wrong)
        assert bad.returncode == 1, (kind, wrong, bad.stdout)
        assert bad.stdout.strip() == "mismatch"


def test_bcrypt_72_byte_limit_is_bcrypts():
    # bcrypt reads 72 bytes: both libraries agree on what a longer password means.
    pw = PASSWORDS[2]
    h = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode()
    assert tool("verify", h, password=pw).returncode == 0
    assert tool("verify", h, password=pw[:72]).returncode == 0
    assert tool("verify", h, password=pw[:71]).returncode == 1
    # Django's bcrypt_sha256 exists for exactly this: the whole password counts.
    h = GENERATORS["django-bcrypt-sha256"](pw)
    assert tool("verify", h, password=pw).returncode == 0
    assert tool("verify", h, password=pw[:72]).returncode == 1


@pytest.mark.parametrize("bad", [
    "plaintext",
    "md5$salt$5f4dcc3b5aa765d61d8327deb882cf99",
    "$argon2id$v=19$m=2097152,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",  # 2 GiB
    "pbkdf2_sha256$100000000$salt$9PMGprQnVi/3Sd9H+CW3KsTLYok6qa6ZWT+HVQZJOwE=",
    "scrypt:4194304:8:1$salt$00112233445566778899aabbccddeeff",
    "$2b$04$truncated",
])
def test_malformed_or_unbounded_hashes_refused(bad):
    r = tool("verify", bad, password="whatever")
    assert r.returncode == 2, (bad, r.stdout)
    assert r.stdout.strip() == "invalid"


def test_moats_hash_verifies_in_python():
    for pw in PASSWORDS:
        r = tool("hash", password=pw)
        assert r.returncode == 0
        h = r.stdout.strip()
        assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert argon2.PasswordHasher().verify(h, pw)
        assert plh.argon2.verify(pw, h)
        assert not plh.argon2.verify(pw + "x", h)
        assert tool("verify", h, password=pw).stdout.split() == ["match"]  # no rehash


def test_imported_users_log_in_and_are_rehashed(moat_bin, tmp_path):
    pw = {"dj": "django pass 1", "wz": "werkzeug pass 2", "pl": "passlib pass 3",
          "bc": "bcrypt pass 4", "sc": "scrypt pass 5"}
    users = [
        {"username": "dj", "password_hash": GENERATORS["django-pbkdf2-sha256"](pw["dj"]),
         "roles": ["admin", "staff"]},
        {"username": "wz", "password_hash": GENERATORS["werkzeug-pbkdf2-sha256"](pw["wz"])},
        {"username": "pl", "password_hash": GENERATORS["passlib-pbkdf2-sha256"](pw["pl"]),
         "roles": "ops"},
        {"username": "bc", "password_hash": GENERATORS["bcrypt-2b"](pw["bc"])},
        {"username": "sc", "password_hash": GENERATORS["werkzeug-scrypt"](pw["sc"])},
    ]
    f = tmp_path / "users.json"
    f.write_text(json.dumps(users))
    u = Users(moat_bin, write_config(tmp_path))
    r = u("import", str(f))
    assert r.returncode == 0, r.stderr
    assert "imported 5 users" in r.stdout
    listing = u("list").stdout
    assert re.search(r"(?m)^dj\s+admin,staff\s+no\s+0\s+django-pbkdf2\s+active$", listing)
    assert re.search(r"(?m)^pl\s+ops\s", listing)
    for name, p in pw.items():
        assert u.login(name, p + "!").stdout.split()[:2] == ["bad", "bad_password"]
        first = u.login(name, p)
        assert first.returncode == 0, first.stdout + first.stderr
        assert first.stdout.split() == ["ok", "-", "mfa=0", "rehashed=1"]
        again = u.login(name, p)
        assert again.stdout.split() == ["ok", "-", "mfa=0", "rehashed=0"]
    listing = u("list").stdout
    assert len(re.findall(r"\bargon2\b", listing)) == 5, listing
    assert "pbkdf2" not in listing


# ---- TOTP ------------------------------------------------------------------

def test_totp_codes_match_pyotp():
    for _ in range(5):
        secret = pyotp.random_base32()
        totp = pyotp.TOTP(secret)
        for t in (0, 59, 1111111109, 1234567890, 2000000000, int(time.time())):
            r = tool("totp", secret, str(t))
            assert r.stdout.strip() == totp.at(t), (secret, t)


def test_enrolled_secret_works_with_pyotp(moat_bin, tmp_path):
    u = Users(moat_bin, write_config(tmp_path, '[auth]\ntotp_issuer = "Example Co"\n'))
    assert u("add", "carol", stdin="a long enough passphrase\n").returncode == 0
    r = u("mfa", "enroll", "carol")
    assert r.returncode == 0, r.stderr
    uri = re.search(r"(?m)^otpauth://\S+$", r.stdout).group(0)
    totp = pyotp.parse_uri(uri)
    assert totp.issuer == "Example Co" and totp.name == "carol"
    assert totp.digits == 6 and totp.interval == 30
    secret = re.search(r"secret=([A-Z2-7]+)", uri).group(1)
    assert base64.b32decode(secret + "=" * (-len(secret) % 8))  # valid base32, 160 bits
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20
    pw = "a long enough passphrase"
    # A code is accepted once; a later step after it, not an earlier one; a
    # code two steps or more ahead never (window 1). Steps are computed from
    # one reading of the clock, so a step boundary passing meanwhile changes
    # nothing below.
    now = int(time.time())
    far = totp.at(now + 90)
    assert u.login("carol", pw, code=far).stdout.split()[:2] == ["bad", "bad_code"]
    code = totp.at(now)
    ok = u.login("carol", pw, code=code)
    assert ok.stdout.split() == ["ok", "-", "mfa=1", "rehashed=0"], ok.stdout
    replay = u.login("carol", pw, code=code)
    assert replay.stdout.split()[:2] == ["bad", "bad_code"]
    nxt = totp.at(now + 30)
    assert u.login("carol", pw, code=nxt).stdout.split()[:3] == ["ok", "-", "mfa=1"]
    # an earlier step than the last used one is a replay too
    assert u.login("carol", pw, code=totp.at(now)).stdout.split()[:2] == ["bad", "bad_code"]
