"""Views of the test project."""

from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponse, HttpResponseNotFound, JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt

PAGE = ("<!doctype html><html><head><title>django page</title></head>"
        "<body><h1>hello from django</h1></body></html>")


def page(request):
    return HttpResponse(PAGE)


def own_csp(request):
    resp = HttpResponse(PAGE)
    resp["Content-Security-Policy"] = "default-src 'none'; style-src 'self'"
    return resp


def boom(request):
    raise RuntimeError("secret detail: postgres://admin:hunter2-django@db/prod")


def missing(request):
    # DEBUG: Django answers with its technical 404 page ("Raised by", settings hint)
    raise Http404("no such object: secret-object-42")


def plain404(request):
    return HttpResponseNotFound("nothing here\n", content_type="text/plain")


def cookies(request):
    get_token(request)  # CsrfViewMiddleware sets csrftoken (SameSite=Lax, no HttpOnly)
    resp = JsonResponse({"ok": True})
    resp.set_cookie("prefs", "compact")                         # no flags at all
    resp.set_cookie("sessionid", "s3ss10n", httponly=True, samesite="Strict")
    return resp


@csrf_exempt
def echo(request):
    return JsonResponse({
        "path": request.path,
        "scheme": request.scheme,
        "is_secure": request.is_secure(),
        "host": request.get_host(),
        "x_forwarded_proto": request.META.get("HTTP_X_FORWARDED_PROTO"),
    })


def form(request):
    # POST without a CSRF token: with DEBUG, Django's 403 page explains CSRF
    # and says "DEBUG = True" in your settings.
    return HttpResponse("posted\n" if request.method == "POST" else PAGE)


@csrf_exempt
def whoami(request, q=None, rest=None):
    # A function view: Django runs it for any method (HEAD, PROPFIND, ...);
    # it honours X-HTTP-Method-Override as hand-written API code does.
    return JsonResponse({
        "method": request.META.get("HTTP_X_HTTP_METHOD_OVERRIDE") or request.method,
        "path": request.path,
        "remote_user": request.META.get("HTTP_REMOTE_USER"),
        "headers": [[k, v] for k, v in request.headers.items()],
    })


# For the compressed / oversized error page tests (settings_gzip): pages of
# 200 bytes or more, so that GZipMiddleware compresses them.
LONG_PAGE = ("<!doctype html><html><head><title>django long page</title></head><body>"
             + "<p>an ordinary paragraph of an ordinary page</p>" * 100 + "</body></html>")
NOT_FOUND_PAGE = ("<!doctype html><html><head><title>Not found</title></head><body>"
                  + "<p>We looked everywhere and found nothing.</p>" * 20 + "</body></html>")


def long_page(request):
    return HttpResponse(LONG_PAGE)


def clean404(request):
    return HttpResponseNotFound(NOT_FOUND_PAGE)


def bad(request):
    # DEBUG: Django answers 400 with its technical (traceback) page
    raise SuspiciousOperation("secret detail: hunter2 in a suspicious request")


def bad_padded(request):
    # The same, past 256 KiB: the message is shown (twice) above the traceback.
    raise SuspiciousOperation("secret detail: hunter2 " + "p" * int(request.GET.get("n", "300000")))


UPLOADS_DONE = []


@csrf_exempt
def upload(request):
    # Saves every uploaded file (Django spools those over 2.5 MiB to a
    # temporary file) and answers what it saved: name, size, sha256, and the
    # ordinary fields. GET: how many uploads the view completed, and their
    # field names.
    if request.method == "GET":
        return JsonResponse({"done": UPLOADS_DONE})
    import hashlib
    import os
    import tempfile
    from django.core.files.storage import FileSystemStorage

    with tempfile.TemporaryDirectory(prefix="moat-upload-") as d:
        storage = FileSystemStorage(location=d)
        files = {}
        for field, f in request.FILES.items():
            saved = storage.save(os.path.basename(f.name) or "upload", f)
            h = hashlib.sha256()
            with open(storage.path(saved), "rb") as fh:
                for block in iter(lambda: fh.read(1 << 16), b""):
                    h.update(block)
            files[field] = {"name": f.name, "size": storage.size(saved),
                            "sha256": h.hexdigest()}
    fields = {k: request.POST.getlist(k) for k in request.POST}
    UPLOADS_DONE.append(sorted(list(fields) + list(files)))
    return JsonResponse({"fields": fields, "files": files})
