"""Helpers for the auth tests: running `moat user ...` and tests/tools/auth_tool
with a password on stdin, and writing a config whose store is in a temporary
directory. No test logic lives here."""

import os
import subprocess
from pathlib import Path

from conftest import moat_binary
from helpers import toml_dumps

TIMEOUT = 60


def auth_tool():
    path = Path(moat_binary()).resolve().parents[1] / "tests" / "tools" / "auth_tool"
    assert path.exists(), "auth_tool not found at %s (build the tests)" % path
    return str(path)


def run(args, stdin="", cwd=None):
    return subprocess.run(args, input=stdin, capture_output=True, text=True, cwd=cwd,
                          timeout=TIMEOUT)


def tool(*args, password=""):
    return run([auth_tool(), *args], stdin=password + "\n")


def write_config(d, extra=""):
    cfg = Path(d) / "moat.toml"
    store = toml_dumps({"store": {"url": "sqlite:%s" % (Path(d) / "moat.db")}}).lstrip("\n")
    cfg.write_text(store + extra)
    return cfg


class Users:
    """`moat user ...` against one config."""

    def __init__(self, moat_bin, cfg):
        self.bin = moat_bin
        self.cfg = str(cfg)

    def __call__(self, *args, stdin=""):
        # the first add or import starts the store (moat user refuses a
        # missing store without --create)
        create = ["--create"] if args and args[0] in ("add", "import") else []
        return run([self.bin, "user", *args, *create, "--config", self.cfg], stdin=stdin)

    def login(self, name, password, code=None, addr=None):
        args = ["login", self.cfg, name]
        if code is not None or addr is not None:
            args.append(code or "")
        if addr is not None:
            args.append(addr)
        return tool(*args, password=password)


def env_clean():
    return dict(os.environ)
