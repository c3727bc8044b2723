"""A minimal Django project for the hardening tests (test_hardening.py), run
under gunicorn the way a deployment would:

    cd tests/integration/apps
    /usr/bin/python3 -m gunicorn -w 1 -k gthread --bind 127.0.0.1:8000 django_app.wsgi

DEBUG is on on purpose: its technical 404 and 500 pages (settings, URL
patterns, tracebacks) are what moat must keep from the client.
"""
