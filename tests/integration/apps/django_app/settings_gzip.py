"""The test project with GZipMiddleware outermost, as many deployments have
it: every response of 200 bytes or more, error pages included, is gzipped for
a client that sends Accept-Encoding: gzip (every browser)."""

from .settings import *  # noqa: F401,F403 - a settings variant
from .settings import MIDDLEWARE

MIDDLEWARE = ["django.middleware.gzip.GZipMiddleware"] + MIDDLEWARE
