from django.urls import path, re_path

from . import views

urlpatterns = [
    path("page", views.page),
    path("own-csp", views.own_csp),
    path("boom", views.boom),
    path("missing", views.missing),
    path("plain404", views.plain404),
    path("cookies", views.cookies),
    path("echo", views.echo),
    path("form", views.form),
    path("whoami", views.whoami),
    # case-insensitive, optional trailing slash, any sub-path: as sloppy
    # regex routes are written
    re_path(r"(?i)^reports/(?P<q>[^/]+)/export(/.*)?$", views.whoami),
    path("long-page", views.long_page),
    path("clean404", views.clean404),
    path("bad", views.bad),
    path("bad-padded", views.bad_padded),
    path("upload", views.upload),
]
