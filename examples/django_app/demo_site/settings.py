"""The example Django project behind moat (make run APP=django): the stock
admin, with no login form of its own in use. moat's portal logs users in;
moat_identity.django (integrations/python) turns moat's signed
X-Moat-Identity into a Django login (docs/integrate-django.md).

Settings from the environment (make run sets them): DJANGO_SECRET_KEY,
DJANGO_DB (the SQLite file), MOAT_IDENTITY_KEY (the file with the key moat
signs with, auth.identity_secret)."""

import os

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
CSRF_TRUSTED_ORIGINS = []  # Django 3.2 checks the Referer against the Host on HTTPS

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "moat_identity.django.MoatIdentityMiddleware",  # moat's login is Django's
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
AUTHENTICATION_BACKENDS = ["moat_identity.django.MoatIdentityBackend"]
with open(os.environ["MOAT_IDENTITY_KEY"], encoding="utf-8") as _f:
    MOAT_IDENTITY_SECRET = _f.read().strip()

# moat terminates HTTPS and says so in X-Forwarded-Proto
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ["DJANGO_DB"]}}
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
