"""Settings of the test project: DEBUG on, any host, no database. Do not copy
these into a real project: they are the mistakes moat protects against."""

SECRET_KEY = "django-insecure-test-only-not-a-secret"  # noqa: S105 - a test fixture
DEBUG = True
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = []
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "django_app.urls"
WSGI_APPLICATION = "django_app.wsgi.application"
DATABASES = {}
TEMPLATES = []
USE_TZ = True
