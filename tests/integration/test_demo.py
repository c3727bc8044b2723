"""`make run`'s demo (scripts/demo.sh), as a newcomer runs it: the example
Flask app under gunicorn on a unix socket, moat in front with a development
certificate, serving as nobody once started as root. It must come up, answer
what the README and the demo's own message promise, and stop cleanly."""

import os
import signal
import subprocess

import pytest
import requests
import urllib3

from conftest import REPO
from helpers import free_port, wait_for

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


@pytest.mark.skipif(os.geteuid() != 0, reason="the demo is run as root (make run)")
def test_demo_serves_what_it_promises(moat_bin):
    port, tls_port = free_port(), free_port()
    env = dict(os.environ, MOAT_DEMO_PORT=str(port), MOAT_DEMO_TLS_PORT=str(tls_port))
    p = subprocess.Popen(["bash", str(REPO / "scripts" / "demo.sh"), moat_bin], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    base = "https://localhost:%d" % tls_port

    def up():
        if p.poll() is not None:
            raise AssertionError("the demo stopped:\n" + p.stdout.read())
        try:
            return requests.get(base + "/", verify=False, timeout=5).status_code == 200
        except requests.ConnectionError:
            return False
    try:
        wait_for(up, 60, interval=0.2, what="the demo to serve")
        r = requests.get("http://127.0.0.1:%d/admin" % port, allow_redirects=False, timeout=5)
        assert r.status_code == 308
        assert r.headers["Location"].startswith("https://")
        r = requests.get(base + "/", verify=False, timeout=5)
        assert "Strict-Transport-Security" in r.headers
        assert requests.get(base + "/.git/config", verify=False, timeout=5).status_code == 404
        assert requests.get(base + "/?q=%7B%7B7*7%7D%7D", verify=False,
                            timeout=5).status_code == 403
        # what browsers send raw in a query
        assert requests.get(base + "/?filter[name]=x&a[]=1&q={a|b}", verify=False,
                            timeout=5).status_code == 200
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        out, _ = p.communicate(timeout=60)
    assert "moat error" not in out, out
