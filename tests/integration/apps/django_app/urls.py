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
]
