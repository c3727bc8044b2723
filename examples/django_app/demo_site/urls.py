from django.contrib import admin
from django.contrib.staticfiles.views import serve
from django.http import HttpResponse
from django.urls import path, re_path
from django.utils.html import escape


def home(request):
    u = request.user
    if u.is_authenticated:
        who = ('<strong id="who">%s</strong> (groups: %s; staff: %s) &mdash; signed in by '
               'moat_identity from moat\'s <code>X-Moat-Identity</code> &mdash; '
               '<a href="/.moat/">your account, log out</a>'
               % (escape(u.get_username()),
                  escape(", ".join(sorted(g.name for g in u.groups.all())) or "none"),
                  "yes" if u.is_staff else "no"))
    else:
        who = '<span id="who">not logged in</span> &mdash; <a href="/.moat/login?rd=/">log in</a>'
    return HttpResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>moat demo (Django)</title>"
        "</head><body><h1>moat demo: a Django project</h1><p>Who you are: %s</p>"
        '<p>The <a href="/admin/">Django admin</a> needs moat\'s role admin and a second '
        "factor; Django then signs you in without its own form.</p></body></html>" % who)


urlpatterns = [
    path("", home),
    path("admin/", admin.site.urls),
    # the admin's CSS and JS, served by Django for the demo only: in production
    # let WhiteNoise or a file server do it (docs/integrate-django.md)
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
]
