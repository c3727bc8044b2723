"""moat_identity: the identity moat vouches for, checked in the application.

moat (the gateway in front of the app) logs the user in at its own portal
and forwards each of their requests with

    X-Moat-Identity: v1;user=alice;groups=admin,staff;mfa=1;via=session;ts=1796004786;sig=HEX

where sig is HMAC-SHA256, under `auth.identity_secret`, of everything before
";sig=". This module checks that header and nothing else: the unsigned
Remote-User / Remote-Groups headers are never trusted here, so a request
that reached the app without passing through moat (another port, another
proxy) carries no identity.

    from moat_identity import verify
    ident = verify(request.headers.get("X-Moat-Identity"), secret)
    if ident: ident.user, ident.groups, ident.mfa

The Django middleware is in moat_identity.django, the Flask extension in
moat_identity.flask, the ASGI middleware and FastAPI dependencies (FastAPI,
Starlette) in moat_identity.starlette. Only the standard library is used
here.
"""

import hashlib
import hmac
import time
from typing import NamedTuple, Optional, Tuple

__all__ = ["Identity", "verify", "HEADER", "WSGI_KEY"]

HEADER = "X-Moat-Identity"
WSGI_KEY = "HTTP_X_MOAT_IDENTITY"
DEFAULT_MAX_AGE = 60  # seconds either side of the app's clock
MAX_HEADER = 4096


class Identity(NamedTuple):
    user: str
    groups: Tuple[str, ...]
    mfa: bool  # the session presented a second factor
    via: str  # "session" or "token" (a bearer token)
    ts: int


def _key(secret):
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not secret or len(secret) < 32:
        # moat refuses a shorter auth.identity_secret; a short or empty one
        # here is a misconfiguration: trust nothing rather than everything
        raise ValueError("the moat identity secret must be at least 32 characters")
    return secret


def verify(header, secret, max_age=DEFAULT_MAX_AGE, now=None) -> Optional[Identity]:
    """The Identity in header if moat signed it with secret within max_age
    seconds, else None. Raises ValueError only for a bad secret."""
    key = _key(secret)
    if not header or not isinstance(header, str) or len(header) > MAX_HEADER:
        return None
    if not header.isascii():  # moat's user and role names are ASCII
        return None
    msg, sep, sig = header.rpartition(";sig=")
    if not sep:
        return None
    want = hmac.new(key, msg.encode("ascii"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig.lower()):
        return None
    parts = msg.split(";")
    if parts[0] != "v1":
        return None
    fields = {}
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        if not eq or name in fields:
            return None
        fields[name] = value
    try:
        ts = int(fields["ts"])
        user = fields["user"]
        groups = tuple(g for g in fields["groups"].split(",") if g)
        mfa = fields["mfa"] == "1"
        via = fields["via"]
    except (KeyError, ValueError):
        return None
    if not user:
        return None
    now = time.time() if now is None else now
    if abs(now - ts) > max_age:
        return None
    return Identity(user, groups, mfa, via, ts)
