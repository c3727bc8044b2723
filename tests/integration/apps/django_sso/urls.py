from django.contrib import admin
from django.http import JsonResponse
from django.urls import path


def whoami(request):
    u = request.user
    return JsonResponse({
        "user": u.get_username() if u.is_authenticated else None,
        "staff": bool(getattr(u, "is_staff", False)),
        "superuser": bool(getattr(u, "is_superuser", False)),
        "groups": sorted(g.name for g in u.groups.all()) if u.is_authenticated else [],
        "usable_password": u.has_usable_password() if u.is_authenticated else None,
    })


urlpatterns = [
    path("admin/", admin.site.urls),
    path("whoami", whoami),
]
