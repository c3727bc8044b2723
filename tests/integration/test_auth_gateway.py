"""The gateway side of authentication that exists today: identity headers a
client sends (Remote-User, X-Forwarded-User, ... as Authelia, oauth2-proxy
and Django's RemoteUserMiddleware read them) never reach the app, whatever
their case; from a trusted proxy they pass. Checked on the real echo app
under gunicorn."""

import collections

import pytest

from helpers import Conn

IDENTITY = [
    ("Remote-User", "admin"), ("remote-groups", "admins"), ("REMOTE-EMAIL", "a@x"),
    ("Remote-Name", "Admin"), ("X-Remote-User", "admin"), ("X-Forwarded-User", "admin"),
    ("X-Forwarded-Groups", "admins"), ("X-Forwarded-Email", "a@x"),
    ("X-Forwarded-Preferred-Username", "admin"), ("X-Auth-Request-User", "admin"),
    ("X-Auth-Request-Email", "a@x"), ("X-Auth-Request-Groups", "admins"),
    ("X-Auth-Request-Preferred-Username", "admin"),
    ("Remote_User", "admin"),  # WSGI would read it as REMOTE_USER too
]


def headers_of(echo_json):
    out = collections.defaultdict(list)
    for k, v in echo_json["headers"]:
        out[k.lower()].append(v)
    return out


@pytest.fixture(scope="module")
def proxy(module_moat, echo):
    return module_moat(echo.url(), trusted_proxies=[])


@pytest.fixture(scope="module")
def trusting_proxy(module_moat, echo):
    return module_moat(echo.url(), trusted_proxies=["127.0.0.1/32"])


def test_client_identity_headers_stripped(proxy):
    with Conn(proxy.port) as c:
        r = c.request("GET", "/echo", headers=IDENTITY + [("X-Other", "kept")])
    assert r.status == 200
    h = headers_of(r.json())
    for name, _ in IDENTITY:
        assert name.lower().replace("_", "-") not in h, name
    assert h["x-other"] == ["kept"]


def test_identity_headers_from_trusted_proxy_kept(trusting_proxy):
    with Conn(trusting_proxy.port) as c:
        r = c.request("GET", "/echo", headers=[("Remote-User", "alice"),
                                                ("X-Forwarded-Email", "alice@example.com")])
    h = headers_of(r.json())
    assert h["remote-user"] == ["alice"]
    assert h["x-forwarded-email"] == ["alice@example.com"]
