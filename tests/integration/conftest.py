"""Fixtures for the integration tests: the moat binary, the echo app under
Debian's gunicorn, moat processes started from a config dict, and the
raw-socket upstreams. Every wait is a bounded readiness check, never a fixed
sleep; nothing listens beyond 127.0.0.1.

    MOAT_BIN             the binary (default: $MOAT_BUILD/src/moat, and MOAT_BUILD
                         defaults to <repo>/build)
    MOAT_TEST_PYTHON     python that runs gunicorn (default: /usr/bin/python3)
    MOAT_TEST_STORE      sqlite (default) | redis | redis+pg: where the auth tests'
                         stores go (helpers.adapt_store)
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "apps"))

from helpers import (HOST, deep_merge, free_port, port_accepts, toml_dumps,  # noqa: E402
                     unix_accepts, wait_for)
# A real redis-server (the Redis state backend's tests, and MOAT_TEST_STORE=redis:
# see helpers.adapt_store, which the configs written below go through).
from redisserver import close_shared as close_shared_redis, redis_server  # noqa: E402,F401

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
REPO = HERE.parents[1]
PYTHON = os.environ.get("MOAT_TEST_PYTHON", "/usr/bin/python3")
START_TIMEOUT = 15.0   # moat and gunicorn must be ready within this
STOP_TIMEOUT = 20.0    # after SIGTERM, beyond the configured drain_timeout


SANITIZER_MARKS = ("Sanitizer", "runtime error:")


def moat_binary():
    if os.environ.get("MOAT_BIN"):
        return os.environ["MOAT_BIN"]
    build = os.environ.get("MOAT_BUILD") or str(REPO / "build")
    return str(Path(build) / "src" / "moat")


@pytest.fixture(scope="session")
def moat_bin():
    path = moat_binary()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("moat binary not found at %s (build it, or set MOAT_BIN)" % path)
    return path


def short_tmpdir(prefix):
    """A short directory for unix sockets (sun_path holds 108 bytes), which
    moat can reach once it has dropped root (see serving_dir)."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


def pytest_configure(config):
    """Every session gets its own temp root: pytest's shared
    /tmp/pytest-of-USER is reset to 0700 by each new session, which would
    lock moat's serving account (below) out of a concurrent session's
    folders."""
    if not config.option.basetemp:
        config.option.basetemp = tempfile.mkdtemp(prefix="moat-pytest-", dir="/tmp")
        config._moat_basetemp = config.option.basetemp


def pytest_unconfigure(config):
    made = getattr(config, "_moat_basetemp", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)
    close_shared_redis()


# Started as root (as CI runs the tests), moat serves as nobody:nogroup
# (settings 'user' and 'group'). What it reads or writes after that -- the
# config on reload, its logs -- must be reachable by that account, as in a
# real deployment.
AS_ROOT = os.geteuid() == 0
if AS_ROOT:
    import grp
    import pwd
    SERVING_UID = pwd.getpwnam("nobody").pw_uid
    SERVING_GID = grp.getgrnam("nogroup").gr_gid


def serving_dir(path):
    """Makes a test folder moat's serving account can read and write, and
    the folders above it (pytest makes them 0700) traversable."""
    path = Path(path)
    if AS_ROOT:
        for parent in list(path.parents)[:2]:
            if str(parent).startswith(tempfile.gettempdir() + "/"):
                os.chmod(parent, 0o755)
        os.chown(path, SERVING_UID, SERVING_GID)
        os.chmod(path, 0o755)
    return path


def serving_file(path):
    """A file only moat's serving account (and root) may read: no warning
    about its mode, and readable again on reload."""
    if AS_ROOT:
        os.chown(path, SERVING_UID, SERVING_GID)
    os.chmod(path, 0o600)
    return path


# --------------------------------------------------------------- processes

class _Output:
    """Collects a pipe in a thread so the child never blocks on it and tests
    can wait for a line."""

    def __init__(self, pipe):
        self._chunks = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self._thread.start()

    def _pump(self, pipe):
        for line in iter(pipe.readline, b""):
            with self._cond:
                self._chunks.append(line.decode("utf-8", "replace"))
                self._cond.notify_all()
        pipe.close()

    @property
    def text(self):
        with self._cond:
            return "".join(self._chunks)

    def wait_for(self, pattern, timeout, start=0, alive=None):
        """Waits until the text from offset start matches the regex; returns
        the match. alive() returning False ends the wait early."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search("".join(self._chunks)[start:])
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or (alive is not None and not alive()):
                    return None
                self._cond.wait(min(left, 0.1))

    def join(self, timeout=5):
        self._thread.join(timeout)


class Gunicorn:
    """The echo app (or another app) under Debian's gunicorn: one worker
    process, gthread so upstream keep-alive works, several binds."""

    def __init__(self, module="flask_echo:app", tcp_ports=1, unix=True, name="echo",
                 chdir=APPS, extra_args=()):
        self.dir = short_tmpdir("moat-gu-")
        self.ports = [free_port() for _ in range(tcp_ports)]
        self.sock_path = os.path.join(self.dir, "app.sock") if unix else None
        self.module = module
        self.name = name
        self.chdir = str(chdir)
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(self.dir, "gunicorn.log")

    @property
    def port(self):
        return self.ports[0]

    def url(self, i=0):
        return "http://%s:%d" % (HOST, self.ports[i])

    @property
    def unix_url(self):
        return "unix:" + self.sock_path

    def start(self):
        cmd = [PYTHON, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread",
               "--threads", "16", "--keep-alive", "120", "--timeout", "120",
               "--graceful-timeout", "2",
               # moat enforces the limits; gunicorn's own must not get in the way
               "--limit-request-line", "0", "--limit-request-fields", "1000",
               "--limit-request-field_size", "0",
               "--chdir", self.chdir, "--error-logfile", self.log_path]
        for p in self.ports:
            cmd += ["--bind", "%s:%d" % (HOST, p)]
        if self.sock_path:
            cmd += ["--bind", "unix:" + self.sock_path]
        cmd += self.extra_args + [self.module]
        env = dict(os.environ, ECHO_NAME=self.name, PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("gunicorn exited")
            return (all(port_accepts(p) for p in self.ports)
                    and (not self.sock_path or unix_accepts(self.sock_path)))
        try:
            wait_for(ready, START_TIMEOUT, what="gunicorn to accept")
        except (AssertionError, RuntimeError):
            self.stop()
            pytest.fail("gunicorn did not start:\n" + self.log())
        return self

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)

    # Direct access to the app, bypassing moat, for assertions.
    def get(self, path, **kw):
        kw.setdefault("timeout", 10)
        return requests.get(self.url() + path, **kw)

    def seen(self):
        r = self.get("/seen")
        r.raise_for_status()
        return r.json()

    def clear_seen(self):
        self.get("/seen/clear").raise_for_status()


class Moat:
    """One `moat serve` process. stderr and stdout are collected; stop() sends
    SIGTERM and returns the exit code."""

    def __init__(self, binary, workdir, config=None, args=(), env=None, cwd=None,
                 config_name="moat.toml", port=None):
        self.binary = binary
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.config = config
        self.config_path = None
        self.args = list(args)
        self.env = env
        self.cwd = cwd or str(self.workdir)
        self.config_name = config_name
        self.proc = None
        self.stderr = None
        self.stdout = None
        self.expected_exit = 0
        self.stopped = False

    @property
    def url(self):
        return "http://%s:%d" % (HOST, self.port)

    @property
    def access_log(self):
        return self.workdir / "access.log"

    def write_config(self, config):
        """(Re)writes the config file; a str is written as is (bad configs)."""
        self.config = config
        self.config_path = self.workdir / self.config_name
        text = config if isinstance(config, str) else toml_dumps(config)
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        serving_file(tmp)
        os.replace(tmp, self.config_path)
        return self.config_path

    def start(self, wait=True):
        cmd = [self.binary, "serve"]
        if self.config is not None:
            cmd += ["--config", str(self.write_config(self.config))]
        cmd += self.args
        env = dict(os.environ)
        env.update(self.env or {})
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stderr = _Output(self.proc.stderr)
        self.stdout = _Output(self.proc.stdout)
        if wait:
            self.wait_ready()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=START_TIMEOUT):
        m = self.stderr.wait_for(r"listening on http://([0-9.]+):(\d+)", timeout, alive=self.alive)
        if not m:
            self.kill()
            pytest.fail("moat did not print 'listening on' within %.0fs (exit %r). stderr:\n%s"
                        % (timeout, self.proc.returncode, self.stderr.text))
        try:
            wait_for(lambda: port_accepts(self.port), timeout, what="moat to accept")
        except AssertionError:
            self.kill()
            pytest.fail("moat printed 'listening on' but port %d does not accept. stderr:\n%s"
                        % (self.port, self.stderr.text))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self, config):
        """Writes the new config and sends SIGHUP; returns the stderr offset
        from before the signal (to wait for what the reload logs)."""
        mark = len(self.stderr.text)
        self.write_config(config)
        self.signal(signal.SIGHUP)
        return mark

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then wait for the exit; returns the exit code."""
        if self.stopped:
            return self.proc.returncode
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.stderr.join()
                raise AssertionError("moat did not exit within %.0fs of SIGTERM. stderr:\n%s"
                                     % (timeout, self.stderr.text))
        self.stderr.join()
        self.stdout.join()
        return self.proc.returncode

    def kill(self):
        self.stopped = True
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def access_lines(self):
        try:
            text = self.access_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return [l for l in text.splitlines() if l.strip()]


def base_config(port, upstream, workdir, **overrides):
    """The config the tests start from: one listener, the given upstream(s),
    two workers, a short drain, a JSON access log in the work dir, the
    security log on stdout."""
    cfg = {
        "listen": ["%s:%d" % (HOST, port)],
        "upstream": upstream if isinstance(upstream, list) else [upstream],
        "workers": 2,
        "limits": {"drain_timeout": "5s"},
        # the security log on stdout, where the tests read it (the default
        # is a file beside the store)
        "log": {"access": str(Path(workdir) / "access.log"), "access_format": "json",
                "security": "-"},
    }
    return deep_merge(cfg, overrides)


_SHARED_FACTORIES = []


class MoatFactory:
    """Starts moat processes and, at teardown, stops each with SIGTERM and
    checks it exited 0 (or what the test said to expect)."""

    def __init__(self, binary, tmp_factory, shared=False):
        self.binary = binary
        self.tmp_factory = tmp_factory
        self.procs = []
        self.shared = shared
        if shared:
            _SHARED_FACTORIES.append(self)

    def check_alive(self):
        """For shared (module-scoped) instances: if one died during a test,
        restart it for the tests after, and return what happened."""
        died = []
        for m in self.procs:
            if m.proc is not None and not m.stopped and not m.alive():
                m.stderr.join()
                died.append("shared moat on port %d died (exit %r) during this test. stderr:\n%s"
                            % (m.port, m.proc.returncode, m.stderr.text[-4000:]))
                m.start()
        return died

    def workdir(self):
        return serving_dir(self.tmp_factory())

    def __call__(self, upstream=None, config=None, args=(), env=None, cwd=None, wait=True,
                 port=None, **overrides):
        """moat(upstream, limits={...}) starts from base_config; config=dict
        or str uses exactly that (listen is still filled in when missing);
        config=False passes no --config at all (give --listen in args and
        the port)."""
        wd = self.workdir()
        port = port or free_port()
        if config is None:
            config = base_config(port, upstream, wd, **overrides)
        elif isinstance(config, dict) and "listen" not in config:
            config = dict(config, listen=["%s:%d" % (HOST, port)])
        if isinstance(config, dict):
            port = int(config["listen"][0].rsplit(":", 1)[1])
        m = Moat(self.binary, wd, config=config if config is not False else None, args=args,
                 env=env, cwd=cwd, port=port)
        self.procs.append(m)
        return m.start(wait=wait)

    def close(self):
        failures = []
        for m in self.procs:
            if m.proc is None:
                continue
            try:
                rc = m.stop()
            except AssertionError as exc:
                failures.append(str(exc))
                continue
            if m.expected_exit is not None and rc != m.expected_exit:
                failures.append("moat exited %r after SIGTERM (expected %r). stderr:\n%s"
                                % (rc, m.expected_exit, m.stderr.text[-4000:]))
            elif any(mark in m.stderr.text for mark in SANITIZER_MARKS):
                failures.append("sanitizer report on moat's stderr:\n" + m.stderr.text[-8000:])
        self.procs = []
        if self in _SHARED_FACTORIES:
            _SHARED_FACTORIES.remove(self)
        if failures:
            raise AssertionError("\n\n".join(failures))


@pytest.fixture
def moat(moat_bin, tmp_path_factory):
    """Function-scoped: moat(upstream, **config overrides) -> Moat."""
    f = MoatFactory(moat_bin, lambda: tmp_path_factory.mktemp("moat"))
    yield f
    f.close()


@pytest.fixture(scope="module")
def module_moat(moat_bin, tmp_path_factory):
    """Module-scoped twin of `moat`, for instances shared by many tests."""
    f = MoatFactory(moat_bin, lambda: tmp_path_factory.mktemp("moat"), shared=True)
    yield f
    f.close()


@pytest.fixture(autouse=True)
def _tmp_path_serving(request):
    """Every test's tmp_path is a folder moat can use after dropping root."""
    if "tmp_path" in request.fixturenames:
        serving_dir(request.getfixturevalue("tmp_path"))


@pytest.fixture(autouse=True)
def _shared_moats_survive():
    """A test that crashes a shared moat fails itself, with moat's stderr;
    the instance is restarted so the tests after it still mean something."""
    yield
    died = []
    for f in list(_SHARED_FACTORIES):
        died += f.check_alive()
    if died:
        pytest.fail("\n\n".join(died), pytrace=False)


@pytest.fixture(scope="module")
def echo():
    """The echo app under gunicorn: two TCP ports (to tell round-robin
    targets apart) and a unix socket, one process (shared /seen)."""
    g = Gunicorn(tcp_ports=2, unix=True).start()
    yield g
    g.stop()


@pytest.fixture
def raw_upstream():
    """raw_upstream(handler) -> a started RawUpstream, stopped at teardown."""
    from raw_upstreams import RawUpstream
    started = []

    def make(handler):
        srv = RawUpstream(handler).start()
        started.append(srv)
        return srv
    yield make
    for s in started:
        s.stop()


def run_moat(moat_bin, *args, cwd=None, env=None, timeout=30):
    """Runs a short moat command (not serve); returns CompletedProcess."""
    full_env = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    return subprocess.run([moat_bin, *args], cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def run(moat_bin):
    def _run(*args, **kw):
        return run_moat(moat_bin, *args, **kw)
    return _run
