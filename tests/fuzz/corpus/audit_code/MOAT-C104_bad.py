from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()


@csrf_exempt  # expect: MOAT-C104
def webhook(request):
    return None


@csrf.exempt  # expect: MOAT-C104
def api():
    return None


urlpatterns = [path("hook/", csrf_exempt(webhook))]  # expect: MOAT-C104
