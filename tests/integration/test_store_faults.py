"""A damaged auth store never takes the gateway down (issue 21, items 2 and
3), with the real binary in front of the Flask echo app under gunicorn: the
SQLite file truncated, overwritten with garbage, made unreadable, deleted,
or with a truncated -shm beside it. While it is broken, protected paths
answer 503 (fail closed), public paths keep answering, and a
store.unavailable event says why; once the file is repaired or replaced,
moat uses it again without a restart. `moat user lock` run while the
gateway serves reaches it (the session cache included) within a bound.
Every wait is a bounded poll: no timing is asserted."""
import os
import signal
import time

import pytest
import requests

from helpers import TEST_STORE
from test_auth_portal import FAST, api_login, start_site

BOUND = 20  # seconds: generous for a busy machine; the store checks every second


def poll(fn, want, bound=BOUND):
    """Calls fn until it returns want (or the bound passes); returns the last value."""
    deadline = time.time() + bound
    got = fn()
    while got != want and time.time() < deadline:
        time.sleep(0.1)
        got = fn()
    return got


@pytest.fixture
def site(moat_bin, moat, echo, tmp_path_factory):
    s = start_site(moat_bin, moat, echo, tmp_path_factory, FAST, [("alice", []), ("bob", [])])
    s.db = s.dir / "moat.db"
    return s


def logged_in(site, user="alice"):
    s, r = api_login(site, user)
    assert r.status_code == 200
    return s


def private(site, s):
    return lambda: s.get(site.url + "/echo/private", allow_redirects=False).status_code


def public(site):
    return requests.get(site.url + "/echo/public").status_code


def unavailable_events(site):
    deadline = time.time() + BOUND  # the security log's writer thread
    while time.time() < deadline:
        evs = [e for e in site.events() if e.get("event") == "store.unavailable"]
        if evs:
            return evs
        time.sleep(0.1)
    return []


def put_back(site, data, owner):
    """Writes a new file and renames it over the store's path, owned as the
    store was (moat may serve as another user than the tests)."""
    tmp = site.dir / "restore.db"
    tmp.write_bytes(data)
    os.chown(tmp, owner.st_uid, owner.st_gid)
    os.chmod(tmp, 0o600)
    os.rename(tmp, site.db)


def broken_then_repaired(site, s, damage, repair, reason=None):
    """The common path: works, damage() -> 503 and public 200 and an event,
    repair() -> works again; the process never died."""
    check = private(site, s)
    assert check() == 200
    assert check() == 200  # now from the session cache too
    damage()
    assert poll(check, 503) == 503
    assert public(site) == 200
    assert site.m.alive()
    evs = unavailable_events(site)
    assert evs, "no store.unavailable event"
    assert evs[0]["severity"] == "error" and evs[0]["config_key"] == "store.url"
    if reason:
        assert any(reason in e.get("reason", "") for e in evs), [e.get("reason") for e in evs]
    # the login portal refuses too, rather than pretending the user is unknown
    r = requests.post(site.url + "/.moat/api/login", json={"username": "bob", "password": "x"})
    assert r.status_code == 503
    repair()
    assert poll(check, 200) == 200
    assert public(site) == 200
    assert site.m.alive()


@pytest.mark.parametrize("size", ["half", "zero"])
def test_truncated_store(site, size):
    s = logged_in(site)
    good = site.db.read_bytes()
    assert len(good) >= 4 * 4096

    def damage():
        os.truncate(site.db, len(good) // 2 if size == "half" else 0)

    broken_then_repaired(site, s, damage, lambda: site.db.write_bytes(good))


def test_corrupted_store(site):
    s = logged_in(site)
    good = site.db.read_bytes()

    def damage():
        site.db.write_bytes(os.urandom(len(good)))

    broken_then_repaired(site, s, damage, lambda: site.db.write_bytes(good))


def test_corrupted_pages_behind_a_sound_header(site):
    """Page 1 stays (with a changed change counter, as a writer leaves it);
    every other page is garbage."""
    s = logged_in(site)
    good = site.db.read_bytes()
    counter = int.from_bytes(good[24:28], "big")
    page = int.from_bytes(good[16:18], "big")
    bad = bytearray(good[:page]) + os.urandom(len(good) - page)
    bad[24:28] = ((counter + 1) & 0xFFFFFFFF).to_bytes(4, "big")

    def damage():
        site.db.write_bytes(bytes(bad))

    broken_then_repaired(site, s, damage, lambda: site.db.write_bytes(good))


def test_unreadable_store(site):
    """(Started as root, moat serves as an unprivileged user, for whom mode
    000 is unreadable.)"""
    s = logged_in(site)
    broken_then_repaired(site, s, lambda: os.chmod(site.db, 0),
                         lambda: os.chmod(site.db, 0o600), reason="not readable")


def test_deleted_store_then_replaced(site, moat_bin):
    """The server does not go on from the unlinked file; `moat user` does
    not start a fresh store the server would not be using; a store put back
    (a new file) is used again, and a reload after it keeps working."""
    s = logged_in(site)
    good = site.db.read_bytes()
    owner = os.stat(site.db)

    def damage():
        os.unlink(site.db)

    def repair():
        # moat user refuses to create the missing store...
        from test_auth_portal import user_cmd
        r = user_cmd(moat_bin, site.cfg, "lock", "alice")
        assert r.returncode != 0 and not site.db.exists()
        # ...the operator restores the backup: a new inode
        put_back(site, good, owner)

    broken_then_repaired(site, s, damage, repair, reason="deleted")
    site.m.signal(signal.SIGHUP)
    assert poll(private(site, s), 200) == 200
    assert site.m.alive()


@pytest.mark.skipif(TEST_STORE != "sqlite",
                    reason="the replacing file's sessions are the test's point; with "
                           "MOAT_TEST_STORE=redis sessions are in Redis")
def test_store_replaced_by_another_is_used(site):
    """A replaced file (rename over it) is the store from then on: a user
    only the old file knew is unknown to the server at once."""
    s = logged_in(site)
    check = private(site, s)
    assert check() == 200
    other = site.dir / "other.db"
    # an empty-of-sessions copy: the same users, no sessions
    import sqlite3
    con = sqlite3.connect(str(site.db))
    con.execute("VACUUM INTO ?", (str(other),))
    con.close()
    con = sqlite3.connect(str(other))
    con.execute("DELETE FROM sessions")
    con.commit()
    con.close()
    put_back(site, other.read_bytes(), os.stat(site.db))
    assert poll(check, 302) == 302, [e.get("reason") for e in site.events() if e["event"] == "store.unavailable"]
    assert site.m.alive()


@pytest.mark.parametrize("size", [0, 10])
def test_truncated_shm_is_harmless(site, size):
    """No shared-memory wal-index is used, so a -shm file (truncated, as the
    SIGBUS report had it) is never mapped."""
    s = logged_in(site)
    check = private(site, s)
    assert check() == 200
    assert not (site.dir / "moat.db-shm").exists()
    (site.dir / "moat.db-shm").write_bytes(b"\0" * size)
    for _ in range(20):
        assert check() == 200
    s2 = logged_in(site, "bob")  # a write (a new session)
    assert private(site, s2)() == 200
    assert public(site) == 200
    assert site.m.alive()


def test_cli_lock_reaches_the_server(site):
    s = logged_in(site)
    check = private(site, s)
    for _ in range(5):
        assert check() == 200  # the session is in the gateway's cache
    site.user("lock", "alice")
    assert poll(check, 302, bound=10) == 302
    # and the lock holds for a new login
    _, r = api_login(site, "alice")
    assert r.status_code != 200
    site.user("unlock", "alice")
    s = logged_in(site)
    assert private(site, s)() == 200


def test_stray_wal_file_fails_closed(site):
    """A -wal file beside the store (moat keeps a rollback journal) would
    make SQLite map a -shm wal-index: moat refuses it instead, says so, and
    goes on once it is removed."""
    s = logged_in(site)
    wal = site.dir / "moat.db-wal"

    def damage():
        wal.write_bytes(b"garbage" * 100)

    def repair():
        # moat user does not replay it either (the file is not in WAL mode)
        from test_auth_portal import user_cmd
        r = user_cmd(site.bin, site.cfg, "list")
        assert r.returncode != 0 and "WAL" in r.stderr
        wal.unlink()

    broken_then_repaired(site, s, damage, repair, reason="WAL file")
    assert not (site.dir / "moat.db-shm").exists()


def test_store_left_in_wal_mode_is_converted(moat_bin, moat, echo, tmp_path_factory):
    """A store an older moat kept in WAL mode (with a WAL to replay) opens,
    and is a rollback-journal store from then on."""
    import sqlite3
    site = start_site(moat_bin, moat, echo, tmp_path_factory, FAST, [("alice", [])])
    db = site.dir / "moat.db"
    site.m.stop()
    con = sqlite3.connect(str(db))
    assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("UPDATE users SET created = 12345")
    con.commit()
    # what a crash leaves: the file and a WAL holding the last commit
    left = {p: (site.dir / p).read_bytes() for p in ("moat.db", "moat.db-wal")}
    con.close()
    for p, data in left.items():
        (site.dir / p).write_bytes(data)
    r = site.user("list")  # converts (reading the WAL first)
    assert "alice" in r.stdout
    assert not (site.dir / "moat.db-wal").exists()
    con = sqlite3.connect(str(db))
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert con.execute("SELECT created FROM users").fetchone()[0] == 12345
    con.close()
