"""Single sign-on from moat into a Flask app.

    from moat_identity.flask import MoatIdentity
    moat = MoatIdentity(app)          # reads app.config["MOAT_IDENTITY_SECRET"]

Before each request, `g.moat_identity` is the verified Identity (user,
groups, mfa, via) or None, and `g.user` is a MoatUser (or None). With
Flask-Login:

    login_manager = LoginManager(app)
    moat.init_login_manager(login_manager, loader=lambda ident: User.get_or_create(ident.user))

makes `current_user` the loader's user for requests moat vouches for (no
login form, nothing stored in Flask's session). `moat.require(role=None,
mfa=False)` decorates a view that needs a user. The unsigned Remote-User
header is never read.

Settings: MOAT_IDENTITY_SECRET (required), MOAT_IDENTITY_MAX_AGE (60).
"""

import functools
import logging

from flask import abort, g, request

from . import DEFAULT_MAX_AGE, HEADER, _key, verify

log = logging.getLogger("moat_identity")


class MoatUser:
    """What g.user is: the name and roles moat vouches for."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, ident):
        self.name = ident.user
        self.roles = frozenset(ident.groups)
        self.mfa = ident.mfa
        self.via = ident.via

    def get_id(self):
        return self.name

    def has_role(self, role):
        return role in self.roles

    def __repr__(self):
        return "<MoatUser %s>" % self.name


class MoatIdentity:
    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        _key(app.config.get("MOAT_IDENTITY_SECRET", ""))  # fail at start, not per request
        app.config.setdefault("MOAT_IDENTITY_MAX_AGE", DEFAULT_MAX_AGE)
        app.before_request(self._load)
        app.extensions["moat_identity"] = self

    @staticmethod
    def current():
        """The verified Identity of this request, or None."""
        from flask import current_app
        if "moat_identity" not in g:
            raw = request.headers.get(HEADER)
            ident = None
            if raw:
                ident = verify(raw, current_app.config["MOAT_IDENTITY_SECRET"],
                               current_app.config["MOAT_IDENTITY_MAX_AGE"])
                if ident is None:
                    log.warning("X-Moat-Identity refused (bad signature, stale or malformed)")
            g.moat_identity = ident
        return g.moat_identity

    def _load(self):
        ident = self.current()
        g.user = MoatUser(ident) if ident else None

    def init_login_manager(self, login_manager, loader=MoatUser):
        """current_user = loader(identity) for requests moat vouches for."""
        def from_moat(_request):
            ident = self.current()
            return loader(ident) if ident else None
        login_manager.request_loader(from_moat)

    def require(self, role=None, mfa=False):
        """A view decorator: 401 without an identity, 403 without role/mfa.
        moat's [[auth.rules]] should guard the path too; this is the app's
        own second check."""
        def deco(view):
            @functools.wraps(view)
            def wrapped(*a, **kw):
                ident = self.current()
                if ident is None:
                    abort(401)
                if (role and role not in ident.groups) or (mfa and not ident.mfa):
                    abort(403)
                return view(*a, **kw)
            return wrapped
        return deco
