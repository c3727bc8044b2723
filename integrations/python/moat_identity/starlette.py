"""Single sign-on from moat into a FastAPI or Starlette app (any ASGI app).

    from moat_identity.starlette import MoatIdentityMiddleware, require

    app = FastAPI()
    app.add_middleware(MoatIdentityMiddleware, secret=open("/etc/moat/identity.key").read().strip())

    @app.get("/whoami")
    def whoami(request: Request):
        return {"user": request.user.display_name if request.user.is_authenticated else None}

    @app.get("/admin", dependencies=[Depends(require(role="admin", mfa=True))])
    def admin(): ...

The middleware is plain ASGI (no Starlette needed to run it). For each HTTP
or WebSocket request it checks moat's signed X-Moat-Identity exactly as
moat_identity.verify does (HMAC-SHA256 under auth.identity_secret, signed
within max_age seconds) and sets, in the ASGI scope:

    scope["moat_identity"]   the verified Identity, or None
    scope["user"]            a MoatUser (or Starlette's UnauthenticatedUser)
    scope["auth"]            AuthCredentials: "authenticated", the roles, and
                             "mfa" with a second factor (scopes_of)

so `request.user`, `request.auth.scopes` and Starlette's `@requires("admin")`
work as with Starlette's AuthenticationMiddleware (use one or the other, not
both). `identity(request)` is a FastAPI dependency giving the Identity or
None; `require(role=None, mfa=False)` one that refuses with 401 without an
identity and 403 without the role or second factor.

The unsigned Remote-User / Remote-Groups headers are never read; a header
that does not verify (another secret, older than max_age, altered,
malformed, or sent twice) is no identity, and is logged as a warning.
"""

import logging

from . import DEFAULT_MAX_AGE, HEADER, Identity, _key, verify

try:  # Starlette's types when it is installed (FastAPI brings it)
    from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
    from starlette.exceptions import HTTPException
    from starlette.requests import HTTPConnection
except ImportError:  # a bare ASGI app: the middleware still runs
    AuthCredentials = None
    BaseUser = object
    UnauthenticatedUser = None
    HTTPException = None
    HTTPConnection = None

__all__ = ["MoatIdentityMiddleware", "MoatUser", "identity", "require"]

log = logging.getLogger("moat_identity")
_RAW = HEADER.lower().encode("ascii")
SCOPE_KEY = "moat_identity"


class MoatUser(BaseUser):
    """What request.user is for a request moat vouches for."""

    def __init__(self, ident: Identity):
        self.moat_identity = ident
        self.name = ident.user
        self.roles = frozenset(ident.groups)
        self.mfa = ident.mfa
        self.via = ident.via

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def identity(self) -> str:  # Starlette's name for the user's unique id
        return self.name

    def has_role(self, role) -> bool:
        return role in self.roles

    def __repr__(self):
        return "<MoatUser %s>" % self.name


class MoatIdentityMiddleware:
    """ASGI middleware: the user moat vouches for, in the scope."""

    def __init__(self, app, secret, max_age=DEFAULT_MAX_AGE):
        _key(secret)  # a missing or short secret fails at start, not per request
        self.app = app
        self.secret = secret
        self.max_age = max_age

    def _identity(self, scope):
        raw = [v for k, v in scope.get("headers") or () if k.lower() == _RAW]
        if not raw:
            return None
        ident = None
        if len(raw) == 1:  # moat sends one; two did not both come from moat
            ident = verify(raw[0].decode("latin-1"), self.secret, self.max_age)
        if ident is None:
            log.warning("X-Moat-Identity refused (bad signature, stale or malformed)")
        return ident

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            ident = self._identity(scope)
            scope[SCOPE_KEY] = ident
            if ident is not None:
                scope["user"] = MoatUser(ident)
                if AuthCredentials is not None:
                    scope["auth"] = AuthCredentials(scopes_of(ident))
            else:
                # never a user or credentials set before us (another middleware, the server)
                if UnauthenticatedUser is not None:
                    scope["user"] = UnauthenticatedUser()
                    scope["auth"] = AuthCredentials()
                else:
                    scope.pop("user", None)
                    scope.pop("auth", None)
        await self.app(scope, receive, send)


def scopes_of(ident):
    """Starlette's scopes for an identity: "authenticated", the roles, and
    "mfa" for a second factor. A role that happens to be named "mfa" or
    "authenticated" is left out (request.user.roles keeps it): it must not
    stand for what moat did not check."""
    roles = sorted(set(ident.groups) - {"authenticated", "mfa"})
    return ["authenticated"] + roles + (["mfa"] if ident.mfa else [])


def identity(request: HTTPConnection):
    """A FastAPI dependency: the verified Identity of this request, or None.
    Refuses to run without the middleware (a mistake to show, not hide)."""
    scope = request.scope
    if SCOPE_KEY not in scope:
        raise RuntimeError("moat_identity.starlette: add MoatIdentityMiddleware to the app")
    return scope[SCOPE_KEY]


def require(role=None, mfa=False):
    """A FastAPI dependency that needs a user: 401 without an identity, 403
    without the role or second factor. moat's [[auth.rules]] should guard
    the path too; this is the app's own second check."""
    if HTTPException is None:
        raise RuntimeError("moat_identity.starlette.require needs Starlette (or FastAPI)")

    def dependency(request: HTTPConnection):
        ident = identity(request)
        if ident is None:
            raise HTTPException(status_code=401)
        if (role and role not in ident.groups) or (mfa and not ident.mfa):
            raise HTTPException(status_code=403)
        return ident

    return dependency
