from django.urls import path

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
    path("long-page", views.long_page),
    path("clean404", views.clean404),
    path("bad", views.bad),
    path("bad-padded", views.bad_padded),
]
