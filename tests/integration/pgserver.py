"""A real PostgreSQL 15 for the tests: initdb in its own folder under /tmp,
listening on 127.0.0.1 on a free port (and a unix socket in that folder),
TLS on with a certificate authority the fixture makes, fsync off. Started
once per session by the `pg_server` fixture and stopped at its end.

PostgreSQL refuses to run as root: when the tests run as root, the server
runs as nobody:nogroup in a folder it owns.

    from pgserver import pg_server  # noqa: F401 (a fixture)

    def test_x(pg_server):
        url = pg_server.fresh_url()   # a new empty database, migrated
        ...

Outside a fixture (a conftest hook), pgserver.shared() is the same server.
pg_server.url is the session's shared database (role `moat`, password in
the URL); fresh_url() makes a new database owned by that role (migrated with
`moat store migrate` unless migrate=False), so tests never see each
other's users. pg_server.ca is the CA file for sslmode=verify-full.
"""

import atexit
import grp
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from helpers import HOST, free_port, port_accepts, wait_for

PG_BIN = Path(os.environ.get("MOAT_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PSQL = shutil.which("psql") or str(PG_BIN / "psql")
AS_ROOT = os.geteuid() == 0
START_TIMEOUT = 30.0


def _as_server(kw):
    if AS_ROOT:
        kw.update(user=pwd.getpwnam("nobody").pw_uid, group=grp.getgrnam("nogroup").gr_gid,
                  extra_groups=[])
    return kw


class PgServer:
    def __init__(self, moat_bin=None):
        self.moat_bin = moat_bin
        self.dir = Path(tempfile.mkdtemp(prefix="moat-pg-", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self.data = self.dir / "data"
        self.sock = self.dir / "sock"
        self.port = free_port()
        self.password = "pw-" + secrets.token_hex(12)
        self.proc = None
        self.log = self.dir / "postgres.log"
        self._n = 0
        self.ca = self.dir / "ca.pem"

    # ------------------------------------------------------------ set-up

    def _make_tls(self):
        """A CA and a server certificate for 127.0.0.1 only (not for the
        name 'localhost': verify-full to that name must fail)."""
        d = self.dir
        run = lambda *a: subprocess.run(a, check=True, capture_output=True, timeout=60)  # noqa
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(d / "ca.key"), "-out", str(self.ca), "-days", "2",
            "-subj", "/CN=moat test PostgreSQL CA")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"),
            "-subj", "/CN=127.0.0.1")
        ext = d / "ext.cnf"
        ext.write_text("subjectAltName=IP:127.0.0.1\n")
        run("openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(self.ca),
            "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "server.pem"),
            "-days", "2", "-extfile", str(ext))
        os.chmod(d / "server.key", 0o600)
        os.chmod(self.ca, 0o644)
        if AS_ROOT:
            os.chown(d / "server.key", pwd.getpwnam("nobody").pw_uid,
                     grp.getgrnam("nogroup").gr_gid)

    def init(self):
        if AS_ROOT:
            os.chown(self.dir, pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
        self.sock.mkdir()
        if AS_ROOT:
            os.chown(self.sock, pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
        self._make_tls()
        subprocess.run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                        "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                        "--locale=C.UTF-8", "--no-sync"],
                       check=True, capture_output=True, timeout=120, cwd=str(self.dir),
                       **_as_server({}))
        # the database moat_tls takes TLS connections only (the TLS test)
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostnossl moat_tls all 127.0.0.1/32 reject\n"
            "host all all 127.0.0.1/32 scram-sha-256\n")
        return self

    def start(self):
        """Starts (or starts again) the server on the same port and data."""
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-c", "listen_addresses=" + HOST, "-c", "unix_socket_directories=" + str(self.sock),
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=60", "-c", "shared_buffers=16MB",
             "-c", "ssl=on", "-c", "ssl_cert_file=" + str(self.dir / "server.pem"),
             "-c", "ssl_key_file=" + str(self.dir / "server.key"),
             "-c", "log_min_messages=warning"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=str(self.dir),
            start_new_session=True, **_as_server({}))
        log.close()
        wait_for(lambda: self.proc.poll() is None and port_accepts(self.port) and
                 self.psql("SELECT 1") == "1", START_TIMEOUT, interval=0.1,
                 what="PostgreSQL on port %d (log: %s)" % (self.port, self.log))
        return self

    def stop(self):
        """Fast shutdown (clients are told, as on a real restart)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------ use

    def psql(self, sql, db="postgres"):
        """Runs sql as the superuser over the unix socket; stdout stripped.
        Raises CalledProcessError on an SQL error."""
        r = subprocess.run([PSQL, "-h", str(self.sock), "-p", str(self.port), "-U", "postgres",
                            "-d", db, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-c", sql],
                           capture_output=True, text=True, timeout=60, check=True,
                           env=dict(os.environ, PGCONNECT_TIMEOUT="5"))
        return r.stdout.strip()

    def url_for(self, db, host=HOST, extra=""):
        return "postgresql://moat:%s@%s:%d/%s%s" % (self.password, host, self.port, db, extra)

    def create_role(self):
        self.psql("CREATE ROLE moat LOGIN PASSWORD '%s'" % self.password)
        self.psql("CREATE DATABASE moat OWNER moat")
        self.url = self.url_for("moat")
        return self

    def fresh_url(self, migrate=True, extra=""):
        """A new empty database owned by the role moat uses: its URL."""
        self._n += 1
        db = "moat_t%d" % self._n
        self.psql("CREATE DATABASE %s OWNER moat" % db)
        url = self.url_for(db, extra=extra)
        if migrate:
            self.migrate(url)
        return url

    def migrate(self, url):
        r = subprocess.run([self.moat_bin, "store", "migrate", url], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise AssertionError("moat store migrate failed: %s%s" % (r.stdout, r.stderr))
        return r


_SHARED = None


def shared(moat_bin=None):
    """The session's server, started at its first use and stopped when the
    test process exits: for hooks that are not fixtures, e.g. in conftest
    `users = pgserver.shared().fresh_url()`."""
    global _SHARED
    if _SHARED is None:
        if not (PG_BIN / "postgres").exists():
            pytest.fail("PostgreSQL 15 not found in %s (Debian package postgresql)" % PG_BIN)
        if moat_bin is None:
            from conftest import moat_binary
            moat_bin = moat_binary()
        srv = PgServer(moat_bin).init()
        try:
            srv.start().create_role()
        except BaseException:
            srv.close()
            raise
        atexit.register(srv.close)
        _SHARED = srv
    return _SHARED


@pytest.fixture(scope="session")
def pg_server(moat_bin):
    """A PostgreSQL 15 for the whole session: PgServer (url, fresh_url())."""
    srv = shared(moat_bin)
    yield srv
    if srv.proc is None:  # a test stopped it and failed before starting it again
        srv.start()


_USERS_DBS = {}


def users_url_for(sqlite_path):
    """MOAT_TEST_STORE=redis+pg (helpers.adapt_store): the PostgreSQL users
    store standing in for the SQLite file sqlite_path, one fresh migrated
    database per path on the session's server."""
    key = os.path.realpath(str(sqlite_path))
    if key not in _USERS_DBS:
        _USERS_DBS[key] = shared().fresh_url()
    return _USERS_DBS[key]
