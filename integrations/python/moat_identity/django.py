"""Single sign-on from moat into a Django project.

    MIDDLEWARE = [
        ...
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "moat_identity.django.MoatIdentityMiddleware",   # after it
        ...
    ]
    AUTHENTICATION_BACKENDS = [
        "moat_identity.django.MoatIdentityBackend",
        "django.contrib.auth.backends.ModelBackend",     # optional: see below
    ]
    MOAT_IDENTITY_SECRET = os.environ["MOAT_IDENTITY_SECRET"]  # auth.identity_secret

Settings (all optional but the secret):

    MOAT_IDENTITY_MAX_AGE = 60              # seconds
    MOAT_STAFF_ROLES = ["admin", "staff"]   # moat roles that make is_staff
    MOAT_SUPERUSER_ROLES = ["admin"]        # moat roles that make is_superuser
    MOAT_STAFF_REQUIRE_MFA = True           # is_staff/is_superuser only with mfa=1
    MOAT_SYNC_GROUPS = True                 # user.groups = the moat roles
    MOAT_CREATE_USERS = True                # create a user moat knows on first sight
    MOAT_LOGOUT_URL = "/.moat/logout"       # where Django's own logout sends them; None: off

Each request with a valid X-Moat-Identity logs its user in (creating them
with an unusable password on first sight); a request without one logs out
a user this backend logged in, so logging out at moat logs out of Django.
Django's own logout (the admin's "Log out" link, any LogoutView or URL named
"logout") for a user moat vouches for ends Django's session and sends them
to moat's logout (303 to MOAT_LOGOUT_URL), which asks them to confirm with
one button and ends moat's session: the next request would otherwise log
them in again. The unsigned Remote-User header is never read.
"""

import logging

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import LogoutView
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseRedirect

from . import DEFAULT_MAX_AGE, WSGI_KEY, verify

log = logging.getLogger("moat_identity")
BACKEND = "moat_identity.django.MoatIdentityBackend"


def _setting(name, default):
    return getattr(settings, name, default)


class MoatIdentityBackend(ModelBackend):
    """Authenticates the user of a verified moat Identity (never a password)."""

    def authenticate(self, request, moat_identity=None, **kwargs):
        if moat_identity is None:
            return None
        User = get_user_model()
        field = User.USERNAME_FIELD
        if _setting("MOAT_CREATE_USERS", True):
            user, created = User._default_manager.get_or_create(**{field: moat_identity.user})
            if created:
                user.set_unusable_password()
                user.save()
        else:
            try:
                user = User._default_manager.get_by_natural_key(moat_identity.user)
            except User.DoesNotExist:
                return None
        self.sync(user, moat_identity)
        return user if self.user_can_authenticate(user) else None

    def sync(self, user, ident):
        roles = set(ident.groups)
        staff_ok = ident.mfa or not _setting("MOAT_STAFF_REQUIRE_MFA", True)
        is_staff = staff_ok and bool(roles & set(_setting("MOAT_STAFF_ROLES", ["admin", "staff"])))
        is_super = staff_ok and bool(roles & set(_setting("MOAT_SUPERUSER_ROLES", ["admin"])))
        changed = []
        if hasattr(user, "is_staff") and user.is_staff != is_staff:
            user.is_staff = is_staff
            changed.append("is_staff")
        if hasattr(user, "is_superuser") and user.is_superuser != is_super:
            user.is_superuser = is_super
            changed.append("is_superuser")
        if changed:
            user.save(update_fields=changed)
        if _setting("MOAT_SYNC_GROUPS", True) and hasattr(user, "groups"):
            from django.contrib.auth.models import Group
            want = [Group.objects.get_or_create(name=r)[0] for r in sorted(roles)]
            if {g.pk for g in user.groups.all()} != {g.pk for g in want}:
                user.groups.set(want)


class MoatIdentityMiddleware:
    """Logs in the user moat vouches for; place after AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.secret = _setting("MOAT_IDENTITY_SECRET", "")
        if not self.secret or len(self.secret) < 32:
            raise ImproperlyConfigured(
                "MOAT_IDENTITY_SECRET: set it to moat's auth.identity_secret (32+ characters)")
        self.max_age = _setting("MOAT_IDENTITY_MAX_AGE", DEFAULT_MAX_AGE)

    def __call__(self, request):
        self.process_request(request)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        """Django's own logout, for a user moat vouches for: end Django's
        session and send them to moat's logout, which ends moat's."""
        url = _setting("MOAT_LOGOUT_URL", "/.moat/logout")
        if not url or getattr(request, "moat_identity", None) is None:
            return None
        if not _is_logout(request, view_func):
            return None
        auth.logout(request)
        response = HttpResponseRedirect(url)
        response.status_code = 303  # the admin's logout may be a POST (Django 4.1+)
        return response

    def process_request(self, request):
        if not hasattr(request, "user"):
            raise ImproperlyConfigured(
                "MoatIdentityMiddleware needs django.contrib.auth.middleware."
                "AuthenticationMiddleware before it in MIDDLEWARE")
        raw = request.META.get(WSGI_KEY)
        ident = verify(raw, self.secret, self.max_age) if raw else None
        request.moat_identity = ident
        if raw and ident is None:
            log.warning("X-Moat-Identity refused (bad signature, stale or malformed)")
        if ident is None:
            # moat logged the user out (or the request did not come through
            # moat): end a login this backend made, keep others
            if (request.user.is_authenticated
                    and request.session.get(auth.BACKEND_SESSION_KEY) == BACKEND):
                auth.logout(request)
            return
        user = request.user
        if user.is_authenticated and user.get_username() == ident.user:
            MoatIdentityBackend().sync(user, ident)  # roles may have changed at moat
            return
        user = auth.authenticate(request, moat_identity=ident)
        if user is None:
            if request.user.is_authenticated:
                auth.logout(request)
            return
        auth.login(request, user, backend=BACKEND)  # rotates Django's session key


def _is_logout(request, view_func):
    """Django's logout: a LogoutView, or a URL named "logout" (the admin's
    admin:logout is a method of the AdminSite, not a LogoutView)."""
    view_class = getattr(view_func, "view_class", None)
    if isinstance(view_class, type) and issubclass(view_class, LogoutView):
        return True
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name == "logout"
