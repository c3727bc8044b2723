"""`moat user ...`: adding users with the password on stdin or typed twice at
a real terminal (a pty, echo off), the NIST policy, passwd, list, del, lock
and unlock, roles, lockout after failed logins and its end by unlock, MFA
enrollment (URI, QR code, recovery codes used once) and reset, import from
CSV and JSON (all or nothing, errors with file and line), tokens (shown once,
stored hashed, expiry, revoke), logout everywhere, and the store file itself
(mode 0600, no secret in clear)."""

import os
import pty
import re
import select
import sqlite3
import subprocess
import time

import pyotp
import pytest

from authlib import Users, write_config
from helpers import TEST_STORE

# These read or write the SQLite file's sessions and counters directly: with
# MOAT_TEST_STORE=redis those live in Redis (tests/unit/store/test_store_redis.c
# and test_store_redis.py cover them there).
sqlite_state_only = pytest.mark.skipif(TEST_STORE != "sqlite",
                                       reason="reads the SQLite store's state tables")
# ... and with MOAT_TEST_STORE=redis+pg the users are in PostgreSQL
# (test_store_pg.py covers the users role there).
sqlite_users_only = pytest.mark.skipif(TEST_STORE == "redis+pg",
                                       reason="reads the SQLite store's users tables")

PW = "a perfectly fine passphrase"


@pytest.fixture
def users(moat_bin, tmp_path):
    return Users(moat_bin, write_config(tmp_path))


def db(tmp_path):
    return sqlite3.connect(str(tmp_path / "moat.db"))


@sqlite_users_only
def test_add_list_del(users, tmp_path):
    r = users("add", "alice", "--role", "admin", "--role", "staff", stdin=PW + "\n")
    assert r.returncode == 0, r.stderr
    assert PW not in r.stdout + r.stderr
    assert users("add", "bob", stdin=PW + "\r\nignored second line\n").returncode == 0
    assert users("add", "ALICE", stdin=PW + "\n").returncode == 1  # names ignore case
    listing = users("list")
    assert listing.returncode == 0
    assert re.search(r"(?m)^alice\s+admin,staff\s+no\s+0\s+argon2\s+active$", listing.stdout)
    assert re.search(r"(?m)^bob\s+-\s+no\s+0\s+argon2\s+active$", listing.stdout)
    # the second line of stdin was not part of bob's password
    assert users.login("bob", PW).returncode == 0
    assert users("del", "bob").returncode == 0
    assert users("del", "bob").returncode == 1
    assert "bob" not in users("list").stdout
    assert os.stat(tmp_path / "moat.db").st_mode & 0o777 == 0o600
    h = db(tmp_path).execute("SELECT password_hash FROM users WHERE name='alice'").fetchone()[0]
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize("pw,why", [
    ("shrt12", "too short"),
    ("password123", "commonly used"),
    ("Qwerty123", "commonly used"),
    ("dave-the-user", None),
    ("zzzzzzzzzzzz", "repeated"),
    ("", "too short"),
])
def test_policy(users, pw, why):
    r = users("add", "dave-the-user" if why is None else "dave", stdin=pw + "\n")
    assert r.returncode == 1
    # the lines that name the store (and, as root, hand it to the serving
    # account) name the test's folder, whose name holds the password
    err = "\n".join(l for l in r.stderr.splitlines()
                     if not l.startswith(("moat user: store ", "moat: ")))
    assert "password refused" in err
    assert pw not in err or not pw
    if why:
        assert why in err
    assert "dave" not in users("list").stdout


def test_policy_long_and_unicode_ok(users):
    assert users("add", "u1", stdin="é" * 8 + "\n").returncode == 0
    assert users("add", "u2", stdin="é" * 7 + "\n").returncode == 1
    assert users("add", "u3", stdin="long " * 200 + "\n").returncode == 0  # 1000 bytes
    assert users("add", "u4", stdin="x" + "y" * 1024 + "\n").returncode == 1
    assert users.login("u3", "long " * 200).returncode == 0


def test_no_password_on_stdin(users):
    r = users("add", "erin", stdin="")
    assert r.returncode == 2
    assert "standard input" in r.stderr


def _pty_run(args, inputs, timeout=30):
    """Runs args with a pty as stdin/stderr; writes each input after the
    next prompt ('password: '). Returns (returncode, everything the pty
    showed)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdin=slave, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    pending = list(inputs)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if pending and seen.lower().count(b"password: ") > len(inputs) - len(pending):
                os.write(master, pending.pop(0).encode() + b"\n")
            rl, _, _ = select.select([master], [], [], 0.2)
            if rl:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            elif p.poll() is not None:
                break
        if p.poll() is None:
            p.kill()  # stuck waiting for input: fail below, never hang
        out = p.stdout.read().decode()
        rc = p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
    return rc, seen.decode(errors="replace"), out


def test_password_at_terminal_twice_no_echo(users, moat_bin):
    rc, shown, out = _pty_run([moat_bin, "user", "add", "tty", "--create", "--config", users.cfg],
                              [PW, PW])
    assert rc == 0, shown
    assert "New password: " in shown and "Repeat the password: " in shown
    assert PW not in shown  # echo was off
    assert "added user tty" in out
    assert users.login("tty", PW).returncode == 0
    rc, shown, _ = _pty_run([moat_bin, "user", "passwd", "tty", "--config", users.cfg],
                            [PW + "2", PW + "3"])
    assert rc == 2
    assert "differ" in shown
    assert users.login("tty", PW).returncode == 0  # unchanged


@sqlite_users_only
def test_passwd(users, tmp_path):
    users("add", "frank", stdin=PW + "\n")
    con = db(tmp_path)
    uid = con.execute("SELECT id FROM users WHERE name='frank'").fetchone()[0]
    con.execute("INSERT INTO sessions VALUES('h1', ?, 1, 1, 9999999999, 0, 'c')", (uid,))
    con.commit()
    r = users("passwd", "frank", stdin="another good passphrase\n")
    assert r.returncode == 0, r.stderr
    assert users.login("frank", PW).stdout.split()[:2] == ["bad", "bad_password"]
    assert users.login("frank", "another good passphrase").returncode == 0
    # a password change ends the user's sessions
    assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    assert users("passwd", "nobody", stdin=PW + "\n").returncode == 1


@sqlite_state_only
def test_lock_unlock_and_lockout(users, tmp_path):
    users("add", "gina", stdin=PW + "\n")
    assert users("lock", "gina").returncode == 0
    assert re.search(r"(?m)^gina\s.*\slocked$", users("list").stdout)
    assert users.login("gina", PW).stdout.split()[:2] == ["locked", "admin_locked"]
    assert users("unlock", "gina").returncode == 0
    assert users.login("gina", PW).returncode == 0
    # brute force: 100 wrong passwords; the account locks after 5 and stays
    # locked; the right password is refused while locked; unlock ends it
    results = [users.login("gina", "wrong %d" % i).stdout.split()[0] for i in range(12)]
    assert results[:5] == ["bad"] * 5 and set(results[5:]) == {"locked"}
    con = db(tmp_path)
    # the remaining attempts straight into the store's counters would be the
    # same; what matters is that the lock holds for the right password
    assert users.login("gina", PW).stdout.split()[:2] == ["locked", "locked"]
    assert re.search(r"(?m)^gina\s.*locked until \d{4}-", users("list").stdout)
    until = con.execute("SELECT locked_until FROM users WHERE name='gina'").fetchone()[0]
    assert 14 * 60 <= until - time.time() <= 15 * 60 + 5
    assert users("unlock", "gina").returncode == 0
    assert users.login("gina", PW).returncode == 0
    assert users("lock", "nobody").returncode == 1


def test_address_throttle(users):
    users("add", "hank", stdin=PW + "\n")
    for i in range(20):
        users.login("user%d" % i, "spray", addr="203.0.113.5")
    assert users.login("hank", PW, addr="203.0.113.5").stdout.split()[0] == "throttled"
    assert users.login("hank", PW, addr="203.0.113.6").returncode == 0


def test_roles(users):
    users("add", "ivy", "--role", "a", stdin=PW + "\n")
    assert users("roles", "ivy", "x", "y").returncode == 0
    assert re.search(r"(?m)^ivy\s+x,y\s", users("list").stdout)
    assert users("roles", "ivy").returncode == 0
    assert re.search(r"(?m)^ivy\s+-\s", users("list").stdout)
    assert users("roles", "ivy", "bad role").returncode == 2
    assert users("add", "jo", "--role", "no/slash", stdin=PW + "\n").returncode == 2


@sqlite_users_only
def test_mfa_enroll_recovery_reset(users, tmp_path):
    users("add", "kim", stdin=PW + "\n")
    r = users("mfa", "enroll", "kim")
    assert r.returncode == 0, r.stderr
    uri = re.search(r"(?m)^otpauth://totp/moat:kim\?secret=([A-Z2-7]{32})&issuer=moat\S*$",
                    r.stdout)
    assert uri, r.stdout
    assert "\u2588" in r.stdout  # the QR code, drawn with block characters
    codes = re.findall(r"(?m)^    ([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})$", r.stdout)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert re.search(r"(?m)^kim\s+-\s+yes\s+10\s", users("list").stdout)
    assert users("mfa", "enroll", "kim").returncode == 1  # already enrolled
    # recovery codes: stored hashed, each works once, case and dashes ignored
    raw = (tmp_path / "moat.db").read_bytes()
    for c in codes:
        assert c.encode() not in raw and c.replace("-", "").encode() not in raw
    assert users.login("kim", PW, code=codes[0].upper().replace("-", "")).stdout.split()[:3] \
        == ["ok", "-", "mfa=1"]
    assert users.login("kim", PW, code=codes[0]).stdout.split()[:2] == ["bad", "bad_code"]
    assert re.search(r"(?m)^kim\s+-\s+yes\s+9\s", users("list").stdout)
    # new codes replace the old ones
    r2 = users("recovery", "kim")
    new = re.findall(r"(?m)^    ([a-z2-7-]{19})$", r2.stdout)
    assert len(new) == 10
    assert users.login("kim", PW, code=codes[1]).stdout.split()[0] == "bad"
    assert users.login("kim", PW, code=new[1]).returncode == 0
    totp = pyotp.TOTP(uri.group(1))
    assert users.login("kim", PW, code=totp.now()).returncode == 0
    assert users("mfa", "reset", "kim").returncode == 0
    assert re.search(r"(?m)^kim\s+-\s+no\s+0\s", users("list").stdout)
    assert users.login("kim", PW, code=new[2]).stdout.split()[0] == "bad"
    assert users("recovery", "kim").returncode == 1
    assert users("mfa", "enable", "kim").returncode == 2


CSV = '''username,password_hash,roles
lee,"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$KbSXmfWJq5DwL+nI9Wf6CUjAy7iTMuT4aBXbkKcqwE8",admin staff

mo,pbkdf2:sha256:260000$abcdefgh$0000000000000000000000000000000000000000000000000000000000000000,
'''


def test_import_csv(users):
    from passlib.hash import argon2
    h = argon2.using(memory_cost=8192).hash("lee's password")
    text = CSV.replace(CSV.split('"')[1], h)
    f = users.cfg.replace("moat.toml", "u.csv")
    with open(f, "w") as fh:
        fh.write(text)
    r = users("import", f)
    assert r.returncode == 0, r.stderr
    assert "imported 2 users" in r.stdout
    assert re.search(r"(?m)^lee\s+admin,staff\s", users("list").stdout)
    assert users.login("lee", "lee's password").returncode == 0
    assert users.login("mo", "anything").stdout.split()[:2] == ["bad", "bad_password"]


@pytest.mark.parametrize("text,where", [
    ("username,password_hash\nok1,$2b$04$quNBF5L5jOwV9hTzDZSFz.lpxufbNTFKGfVXkCMsiD3c0jpAu/8sy\n"
     "bad,plaintext\n", ":3: user bad: not a password hash"),
    ("username,password_hash\nok1,$2b$04$quNBF5L5jOwV9hTzDZSFz.lpxufbNTFKGfVXkCMsiD3c0jpAu/8sy\n"
     "ok1,$2b$04$quNBF5L5jOwV9hTzDZSFz.lpxufbNTFKGfVXkCMsiD3c0jpAu/8sy\n", ":3: user ok1 is listed twice"),
    ("name,hash\nx,y\n", ":1: the first line must name the columns"),
    ('username,password_hash\n"unterminated,x\n', ":2: malformed CSV record"),
    ('[{"username": "ok1", "password_hash": "$2b$04$quNBF5L5jOwV9hTzDZSFz.lpxufbNTFKGfVXkCMsiD3c0jpAu/8sy"},'
     ' {"username": "no way", "password_hash": "x"}]', ": user 2: invalid user name"),
    ('[{"username": "ok1"}', ":1:"),
    ('[{"username": "ok1", "password_hash": 5}]', ": user 1: expected"),
])
def test_import_refuses_bad_files_whole(users, tmp_path, text, where):
    f = tmp_path / ("bad.json" if text.startswith("[") else "bad.csv")
    f.write_text(text)
    r = users("import", str(f))
    assert r.returncode == 2, r.stdout + r.stderr
    assert str(f) + where in r.stderr, r.stderr
    assert "nothing imported" in r.stderr
    assert "ok1" not in users("list").stdout  # all or nothing


def test_import_csv_with_bom_and_crlf(users, tmp_path):
    import bcrypt
    h = bcrypt.hashpw(b"bom user pass", bcrypt.gensalt(4)).decode()
    f = tmp_path / "excel.csv"
    f.write_bytes(("\ufeffusername,password_hash\r\n\"r\u00e9mi\",%s\r\nsam,%s\r\n"
                   % (h, h)).encode())
    r = users("import", str(f))
    # the BOM is skipped; a name outside the allowed characters is refused by line
    assert r.returncode == 2 and str(f) + ":2: invalid user name" in r.stderr
    f.write_bytes(("\ufeffusername,password_hash\r\nremi,%s\r\n" % h).encode())
    assert users("import", str(f)).returncode == 0
    assert users.login("remi", "bom user pass").returncode == 0


def test_import_existing_user_refused(users, tmp_path):
    users("add", "nina", stdin=PW + "\n")
    f = tmp_path / "u.json"
    f.write_text('{"users": [{"username": "new1", "password_hash": '
                 '"$2b$04$quNBF5L5jOwV9hTzDZSFz.lpxufbNTFKGfVXkCMsiD3c0jpAu/8sy"},'
                 '{"username": "NINA", "password_hash": '
                 '"$2b$04$quNBF5L5jOwV9hTzDZSFz.lpxufbNTFKGfVXkCMsiD3c0jpAu/8sy"}]}')
    r = users("import", str(f))
    assert r.returncode == 1
    assert "user NINA exists already" in r.stderr
    assert "new1" not in users("list").stdout
    assert users("import", str(tmp_path / "missing.csv")).returncode == 2


@sqlite_users_only
def test_tokens(users, tmp_path):
    users("add", "olga", stdin=PW + "\n")
    r = users("token", "create", "olga", "--expires", "7")
    assert r.returncode == 0, r.stderr
    tok = re.search(r"(?m)^    (moat_[A-Za-z0-9_-]{43})$", r.stdout).group(1)
    r2 = users("token", "create", "olga")
    tok2 = re.search(r"(?m)^    (moat_\S+)$", r2.stdout).group(1)
    assert tok != tok2
    listing = users("token", "list")
    assert listing.returncode == 0
    assert tok not in listing.stdout and tok[:12] in listing.stdout
    assert re.search(r"(?m)^1\s+olga\s", listing.stdout)
    assert re.search(r"(?m)^2\s+olga\s.*never", listing.stdout)
    raw = (tmp_path / "moat.db").read_bytes()
    assert tok.encode() not in raw
    import hashlib
    stored = db(tmp_path).execute("SELECT token_hash, expires - created FROM tokens "
                                  "ORDER BY id").fetchall()
    assert stored[0] == (hashlib.sha256(tok.encode()).hexdigest(), 7 * 86400)
    assert users("token", "revoke", "1").returncode == 0
    assert users("token", "revoke", "1").returncode == 1
    assert users("token", "revoke", "x").returncode == 2
    assert not re.search(r"(?m)^1\s", users("token", "list", "olga").stdout)
    assert users("token", "create", "olga", "--expires", "0").returncode == 2
    assert users("token", "create", "nobody").returncode == 1


@sqlite_state_only
def test_logout_everywhere(users, tmp_path):
    users("add", "pia", stdin=PW + "\n")
    users("add", "quinn", stdin=PW + "\n")
    con = db(tmp_path)
    ids = dict(con.execute("SELECT name, id FROM users"))
    for i, name in enumerate(["pia", "pia", "quinn"]):
        con.execute("INSERT INTO sessions VALUES(?, ?, 1, 1, 9999999999, 0, 'c')",
                    ("h%d" % i, ids[name]))
    con.commit()
    r = users("logout", "pia")
    assert r.returncode == 0
    assert "2 sessions of pia ended" in r.stdout
    assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    # an admin lock ends sessions too
    users("lock", "quinn")
    assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


@sqlite_users_only
def test_usage_and_config_errors(moat_bin, tmp_path, run):
    r = run("user")
    assert r.returncode == 2
    r = run("user", "--help")
    assert r.returncode == 0 and "mfa enroll NAME" in r.stdout
    assert run("user", "frobnicate").returncode == 2
    assert run("user", "add").returncode == 2
    assert run("user", "add", "a", "b").returncode == 2
    bad = tmp_path / "bad.toml"
    bad.write_text('[store]\nurl = "redis://localhost"\n')
    r = run("user", "list", "--config", str(bad))
    assert r.returncode == 2
    assert "bad.toml:2:" in r.stderr and "sqlite:PATH" in r.stderr
    for bad_auth, key in (('totp_issuer = "a:b"', ":2:"), ("password_min = 7", ":2:"),
                          ('argon2_memory = "512KiB"', ":2:")):
        bad.write_text("[auth]\n%s\n" % bad_auth)
        r = run("user", "list", "--config", str(bad))
        assert r.returncode == 2 and "bad.toml" + key in r.stderr, r.stderr
    nowhere = tmp_path / "nowhere.toml"
    nowhere.write_text('[store]\nurl = "sqlite:%s"\n' % (tmp_path / "no" / "such" / "dir.db"))
    r = run("user", "list", "--config", str(nowhere))
    assert r.returncode == 1 and "does not exist" in r.stderr and "--create" in r.stderr
    r = run("user", "list", "--create", "--config", str(nowhere))
    assert r.returncode == 1 and "store:" in r.stderr
    # a store from a newer moat is refused, not misread
    cfg = write_config(tmp_path)
    assert run("user", "list", "--create", "--config", str(cfg)).returncode == 0
    con = db(tmp_path)
    con.execute("PRAGMA user_version = 7")
    con.commit()
    r = run("user", "list", "--config", str(cfg))
    assert r.returncode == 1 and "schema version 7" in r.stderr


def test_store_is_named_and_never_created_silently(moat_bin, tmp_path):
    """`moat user` says which store it uses, refuses a missing one unless
    --create, and finds the store of a relative sqlite: path beside its
    configuration file, wherever it runs."""
    d = tmp_path / "etc"
    d.mkdir()
    cfg = d / "moat.toml"
    cfg.write_text('[store]\nurl = "sqlite:users.db"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cases = [  # (args, exit status, what stderr says, whether the store exists after)
        (("list",), 1, "does not exist", False),
        (("add", "ann"), 1, "--create", False),
        (("add", "ann", "--create"), 0, ", created", True),
        (("list",), 0, "store sqlite:%s (%s)" % (d / "users.db", cfg), True),
    ]
    for args, status, says, exists in cases:
        r = subprocess.run([moat_bin, "user", *args, "--config", str(cfg)], input=PW + "\n",
                           capture_output=True, text=True, timeout=60, cwd=str(elsewhere))
        assert r.returncode == status, (args, r.stderr)
        assert says in r.stderr, (args, r.stderr)
        assert (d / "users.db").exists() == exists, args
        assert not (elsewhere / "users.db").exists()
