# expect: security.W004, security.W008, security.W016
import os

SECRET_KEY = "django-insecure-q9$x!r0^b7k@0e#n2w3l%t8u(z6y+m5v4c1a)s-d_f=g&h*j"  # expect: security.W009
DEBUG = True  # expect: security.W018
ALLOWED_HOSTS = ["*"]  # expect: MOAT-S101
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.sessions"]
MIDDLEWARE = [  # expect: security.W001, security.W002, security.W003
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
]
SESSION_COOKIE_SECURE = os.environ.get("COOKIE_SECURE") == "1"
SESSION_COOKIE_HTTPONLY = False  # expect: security.W013
SECURE_CONTENT_TYPE_NOSNIFF = False  # expect: security.W006
SECURE_REFERRER_POLICY = None  # expect: security.W022
