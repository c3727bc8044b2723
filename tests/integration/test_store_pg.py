"""Users in PostgreSQL (src/store/postgres.c) against a real PostgreSQL 15
the session starts (pgserver.py): every users-role op (tests/tools/
pg_store_tool), `moat store migrate` from an empty database and again, and
two at once; refusal of a database without the schema, with an older one
(then migrated) or a newer one; `moat store copy` SQLite -> PostgreSQL ->
SQLite with every user able to log in after the round trip (password, TOTP,
recovery codes, tokens) and a copy refused whole when a name is taken; a
server that goes away (fail closed, a clear message without the password,
reconnection when it is back, no failed call after a clean restart);
several hosts; TLS with sslmode=verify-full."""

import re
import subprocess
from pathlib import Path

import pyotp
import pytest

from authlib import Users, write_config
from conftest import moat_binary
from helpers import closed_port, wait_for
from pgserver import pg_server  # noqa: F401 (a fixture)

PW = "a perfectly fine passphrase"
TIMEOUT = 120


def pg_tool():
    path = Path(moat_binary()).resolve().parents[1] / "tests" / "tools" / "pg_store_tool"
    assert path.exists(), "pg_store_tool not found at %s (build the tests)" % path
    return str(path)


def tool(*args):
    return subprocess.run([pg_tool(), *args], capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


def store(moat_bin, *args, stdin=""):
    return subprocess.run([moat_bin, "store", *args], capture_output=True, text=True,
                          timeout=TIMEOUT, input=stdin)


def db_of(url):
    return url.rsplit("/", 1)[1].split("?")[0]


def test_every_users_op(pg_server):
    r = tool("ops", pg_server.fresh_url(), pg_server.fresh_url())
    assert r.returncode == 0, r.stdout + r.stderr
    done = re.findall(r"(?m)^ok (\S+)$", r.stdout)
    assert done == ["add_get_case_insensitive", "import_all_or_none", "list_sorted", "roles",
                    "rehash_race", "lock", "totp", "recovery_once", "tokens", "export_import",
                    "delete"]


def test_migrate_from_empty_and_again(moat_bin, pg_server):
    url = pg_server.fresh_url(migrate=False)
    db = db_of(url)
    opened = tool("open", url)
    assert opened.returncode == 1
    assert "no moat schema" in opened.stdout and "run `moat store migrate`" in opened.stdout
    first = store(moat_bin, "migrate", url)
    assert first.returncode == 0, first.stderr
    assert re.search(r"schema version 0 -> 2$", first.stdout.strip()), first.stdout
    assert pg_server.password not in first.stdout + first.stderr
    assert ":***@" in first.stdout
    again = store(moat_bin, "migrate", url)
    assert again.returncode == 0 and "schema version 2, up to date" in again.stdout
    assert pg_server.psql("SELECT version FROM moat_schema", db=db) == "2"
    tables = pg_server.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM "
                            "pg_tables WHERE tablename LIKE 'moat%'", db=db)
    assert tables == "moat_recovery_codes,moat_roles,moat_schema,moat_tokens,moat_users"
    assert tool("open", url).stdout.strip() == "opened"


def test_two_migrations_at_once(moat_bin, pg_server):
    url = pg_server.fresh_url(migrate=False)
    procs = [subprocess.Popen([moat_bin, "store", "migrate", url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=TIMEOUT) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    said = [o for o, _ in outs]
    assert sum("0 -> 2" in o for o in said) == 1, said
    assert sum("up to date" in o for o in said) == 2, said


def test_older_schema_refused_then_migrated(moat_bin, pg_server):
    url = pg_server.fresh_url()
    db = db_of(url)
    pg_server.psql("DROP INDEX moat_tokens_user; UPDATE moat_schema SET version = 1", db=db)
    r = tool("open", url)
    assert r.returncode == 1 and r.stdout.startswith("EINVAL ")
    assert "schema version 1 is older than this moat's (2): run `moat store migrate`" in r.stdout
    m = store(moat_bin, "migrate", url)
    assert m.returncode == 0 and "schema version 1 -> 2" in m.stdout, m.stdout + m.stderr
    assert pg_server.psql("SELECT count(*) FROM pg_indexes WHERE indexname = "
                          "'moat_tokens_user'", db=db) == "1"
    assert tool("open", url).stdout.strip() == "opened"


def test_newer_schema_refused(moat_bin, pg_server):
    url = pg_server.fresh_url()
    db = db_of(url)
    pg_server.psql("UPDATE moat_schema SET version = 9", db=db)
    r = tool("open", url)
    assert r.returncode == 1 and "schema version 9 is from a newer moat" in r.stdout
    m = store(moat_bin, "migrate", url)
    assert m.returncode == 1
    assert "schema version 9 is from a newer moat (this one knows version 2): not changed" \
        in m.stderr
    assert pg_server.psql("SELECT version FROM moat_schema", db=db) == "9"


def test_migrate_config_and_usage(moat_bin, tmp_path):
    cfg = write_config(tmp_path)
    r = store(moat_bin, "migrate", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    # the SQLite schema's version is sqlite.c's own
    db = re.escape(str(tmp_path / "moat.db"))
    assert re.fullmatch(r"sqlite:%s: schema version 0 -> \d+\n" % db, r.stdout), r.stdout
    assert store(moat_bin, "migrate", "--config", str(cfg)).stdout.endswith("up to date\n")
    assert store(moat_bin, "migrate", "sqlite:x", "--config", str(cfg)).returncode == 2
    assert store(moat_bin, "copy", "sqlite:x").returncode == 2
    assert store(moat_bin, "copy", "sqlite:x", "sqlite:x").returncode == 2
    assert store(moat_bin, "copy", "mysql://x", "sqlite:y").returncode == 2
    missing = store(moat_bin, "copy", "sqlite:%s" % (tmp_path / "none.db"),
                    "sqlite:%s" % (tmp_path / "to.db"))
    assert missing.returncode == 1 and "no such store file" in missing.stderr
    assert not (tmp_path / "none.db").exists()


def test_copy_sqlite_to_postgresql_and_back(moat_bin, pg_server, tmp_path):
    """Every user crosses to PostgreSQL and back with what logging in needs:
    after the round trip, the password, the TOTP secret, the unused recovery
    codes and the tokens still work, and the used code still does not."""
    users = Users(moat_bin, write_config(tmp_path))
    assert users("add", "kim", "--role", "admin", "--role", "staff", stdin=PW + "\n")\
        .returncode == 0
    assert users("add", "Lou", stdin=PW + " 2\n").returncode == 0
    assert users("lock", "lou").returncode == 0
    r = users("mfa", "enroll", "kim")
    secret = re.search(r"secret=([A-Z2-7]{32})", r.stdout).group(1)
    codes = re.findall(r"(?m)^    ([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})$", r.stdout)
    assert users.login("kim", PW, code=codes[0]).returncode == 0  # used: not copied
    tok = re.search(r"(?m)^    (moat_\S+)$", users("token", "create", "kim").stdout).group(1)

    pg = pg_server.fresh_url()
    c = store(moat_bin, "copy", "sqlite:%s" % (tmp_path / "moat.db"), pg)
    assert c.returncode == 0, c.stderr
    assert "2 users (9 unused recovery codes, 1 tokens) copied" in c.stdout
    assert pg_server.password not in c.stdout + c.stderr
    db = db_of(pg)
    assert pg_server.psql("SELECT string_agg(name || ':' || locked, ',' ORDER BY name) "
                          "FROM moat_users", db=db) == "Lou:true,kim:false"
    assert pg_server.psql("SELECT string_agg(role, ',' ORDER BY role) FROM moat_roles",
                          db=db) == "admin,staff"
    assert pg_server.psql("SELECT count(*) FROM moat_tokens", db=db) == "1"
    assert tok not in pg_server.psql("SELECT string_agg(token_hash || prefix, ',') FROM "
                                     "moat_tokens", db=db)

    back = tmp_path / "back"
    back.mkdir()
    c2 = store(moat_bin, "copy", pg, "sqlite:%s" % (back / "moat.db"))
    assert c2.returncode == 0, c2.stderr
    assert "2 users (9 unused recovery codes, 1 tokens) copied" in c2.stdout
    again = Users(moat_bin, write_config(back))
    listing = again("list").stdout
    assert re.search(r"(?m)^kim\s+admin,staff\s+yes\s+9\s", listing), listing
    assert re.search(r"(?m)^Lou\s", listing) and "locked" in listing
    assert again.login("kim", PW, code=pyotp.TOTP(secret).now()).returncode == 0
    assert again.login("kim", PW, code=codes[1]).returncode == 0
    assert again.login("kim", PW, code=codes[0]).stdout.split()[0] == "bad"
    assert again.login("kim", "not the password", code=codes[2]).returncode != 0
    assert re.search(r"(?m)^1\s+kim\s", again("token", "list").stdout)


def test_copy_refused_whole_when_a_name_is_taken(moat_bin, pg_server, tmp_path):
    users = Users(moat_bin, write_config(tmp_path))
    for name in ("ann", "bea", "cy"):
        assert users("add", name, stdin=PW + "\n").returncode == 0
    pg = pg_server.fresh_url()
    pre = tmp_path / "pre"
    pre.mkdir()
    Users(moat_bin, write_config(pre))("add", "BEA", stdin=PW + "\n")
    assert store(moat_bin, "copy", "sqlite:%s" % (pre / "moat.db"), pg).returncode == 0
    r = store(moat_bin, "copy", "sqlite:%s" % (tmp_path / "moat.db"), pg)
    assert r.returncode == 1
    assert "already has 1 of the users" in r.stderr and " bea" in r.stderr
    assert "nothing copied" in r.stderr
    assert pg_server.psql("SELECT string_agg(name, ',') FROM moat_users", db=db_of(pg)) == "BEA"


def test_server_down_fails_closed_and_reconnects(pg_server):
    url = pg_server.fresh_url()
    assert tool("ops", url, pg_server.fresh_url()).returncode == 0  # leaves a user "alice"
    p = subprocess.Popen([pg_tool(), "watch", url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def get(name="alice"):
        p.stdin.write("get %s\n" % name)
        p.stdin.flush()
        return p.stdout.readline().strip()
    try:
        assert p.stdout.readline().strip() == "ready"
        assert get().startswith("0 ")
        assert get("nobody-here") == "no such file or entry"
        # a clean restart: the idle connection is found closed and replaced,
        # no call fails
        pg_server.stop()
        pg_server.start()
        assert get().startswith("0 ")
        # down: every call fails, saying why, without the password
        pg_server.stop()
        down = get()
        assert down.startswith("EIO down: postgresql://moat:***@127.0.0.1:%d/"
                               % pg_server.port), down
        assert "Connection refused" in down
        assert pg_server.password not in down
        for _ in range(3):
            assert get().startswith("EIO down: ")
        pg_server.start()
        wait_for(lambda: get().startswith("0 "), 20, interval=0.2,
                 what="the users store to reconnect")
        assert get().startswith("0 ")
    finally:
        if pg_server.proc is None:
            pg_server.start()
        p.stdin.close()
        p.wait(timeout=30)
    err = p.stderr.read()
    assert pg_server.password not in err
    assert "users store unavailable" in err and "reachable again" in err


def test_password_never_in_messages(pg_server):
    bad = pg_server.url.replace(pg_server.password, "wrong-" + pg_server.password)
    r = tool("open", bad)
    assert r.returncode == 1 and "password authentication failed" in r.stdout
    assert pg_server.password not in r.stdout + r.stderr
    malformed = "postgresql://moat:se%%zzcret-%s@127.0.0.1:%d/moat" % (pg_server.password,
                                                                     pg_server.port)
    r = tool("open", malformed)
    assert r.returncode == 1 and r.stdout.startswith("EINVAL ")
    assert pg_server.password not in r.stdout + r.stderr and "zzcret" not in r.stdout
    q = "postgresql://moat@127.0.0.1:%d/moat?password=%s&sslmode=bogus" % (
        pg_server.port, pg_server.password)
    r = tool("open", q)
    assert r.returncode == 1 and pg_server.password not in r.stdout + r.stderr
    assert "password=***" in r.stdout


def test_several_hosts_first_one_down(pg_server):
    url = pg_server.fresh_url()
    hosts = "postgresql://moat:%s@127.0.0.1:%d,127.0.0.1:%d/%s?target_session_attrs=read-write" \
        % (pg_server.password, closed_port(), pg_server.port, db_of(url))
    assert tool("open", hosts).stdout.strip() == "opened"


def test_tls_verify_full(pg_server, tmp_path):
    pg_server.psql("CREATE DATABASE moat_tls OWNER moat")
    pg_server.migrate(pg_server.url_for("moat_tls", extra="?sslmode=require"))
    ok = pg_server.url_for("moat_tls", extra="?sslmode=verify-full&sslrootcert=%s"
                           % pg_server.ca)
    assert tool("open", ok).stdout.strip() == "opened"
    # the database takes TLS connections only (pg_hba), so that was TLS
    plain = tool("open", pg_server.url_for("moat_tls", extra="?sslmode=disable"))
    assert plain.returncode == 1 and "no encryption" in plain.stdout
    # verify-full checks the name: the certificate is for 127.0.0.1 only
    wrong_name = tool("open", pg_server.url_for("moat_tls", host="localhost",
                                                extra="?sslmode=verify-full&sslrootcert=%s"
                                                % pg_server.ca))
    assert wrong_name.returncode == 1 and "does not match host name" in wrong_name.stdout
    # ... and the issuer: another CA is refused
    other = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(other), "-days", "1", "-subj", "/CN=someone else"],
                   check=True, capture_output=True, timeout=60)
    wrong_ca = tool("open", pg_server.url_for("moat_tls", extra="?sslmode=verify-full&"
                                              "sslrootcert=%s" % other))
    assert wrong_ca.returncode == 1 and "certificate verify failed" in wrong_ca.stdout
    assert pg_server.password not in wrong_ca.stdout + wrong_name.stdout + plain.stdout


def test_copy_failing_halfway_removes_what_it_wrote(moat_bin, pg_server, tmp_path):
    """A write that fails after others succeeded (here: a token whose hash
    TO already holds, which the name check cannot see) leaves TO as it was."""
    import sqlite3
    users = Users(moat_bin, write_config(tmp_path))
    assert users("add", "zed", stdin=PW + "\n").returncode == 0
    assert users("token", "create", "zed").returncode == 0
    pg = pg_server.fresh_url()
    src = "sqlite:%s" % (tmp_path / "moat.db")
    assert store(moat_bin, "copy", src, pg).returncode == 0
    con = sqlite3.connect(str(tmp_path / "moat.db"))
    con.execute("UPDATE users SET name = 'bo' WHERE name = 'zed'")
    con.commit()
    con.close()
    assert users("add", "amy", stdin=PW + "\n").returncode == 0
    r = store(moat_bin, "copy", src, pg)
    assert r.returncode == 1
    assert "user bo: its name or one of its tokens is taken in TO" in r.stderr
    assert "nothing copied; 1 of the 1 users written were removed again" in r.stderr
    assert pg_server.psql("SELECT string_agg(name, ',') FROM moat_users", db=db_of(pg)) == "zed"


def test_a_refused_statement_is_the_problem_until_a_call_works(pg_server):
    url = pg_server.fresh_url()
    assert tool("ops", url, pg_server.fresh_url()).returncode == 0
    p = subprocess.Popen([pg_tool(), "watch", url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def get(name="alice"):
        p.stdin.write("get %s\n" % name)
        p.stdin.flush()
        return p.stdout.readline().strip()
    try:
        assert p.stdout.readline().strip() == "ready"
        assert get().startswith("0 ")
        pg_server.psql("ALTER TABLE moat_roles RENAME TO moat_roles_away", db=db_of(url))
        failed = get()
        assert failed.startswith("EIO down: postgresql://moat:***@"), failed
        assert 'relation "moat_roles" does not exist' in failed
        pg_server.psql("ALTER TABLE moat_roles_away RENAME TO moat_roles", db=db_of(url))
        assert get().startswith("0 ")
        assert get("nobody-here") == "no such file or entry"  # not down any more
    finally:
        p.stdin.close()
        p.wait(timeout=30)
