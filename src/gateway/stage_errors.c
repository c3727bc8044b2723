/* stage_errors.c - the errors filter: the app's 5xx responses are replaced by
 * moat's generic page (status kept), and 4xx responses whose body is a Python
 * debug page are held (bounded), recognised and replaced too. Compressed
 * bodies are not inspected (see docs/hardening.md). */
#include <string.h>

#include "internal.h"

static const char *const debug_markers[] = {
    "Traceback (most recent call last)", /* any Python traceback */
    "<code>DEBUG =",                     /* Django technical 404, CSRF 403 help */
    "Using the URLconf defined in",      /* Django technical 404 */
    "Werkzeug Debugger",                 /* Werkzeug interactive debugger */
    "__debugger__",                      /* its endpoints, linked from the page */
    "traceback-container",               /* Starlette / FastAPI debug page */
    "django.core.exceptions",            /* Django exception names in a page */
};

bool moat__is_debug_page(const char *body, size_t len)
{
    for (size_t i = 0; i < MOAT_ARRAY_LEN(debug_markers); i++)
        if (memmem(body, len, debug_markers[i], strlen(debug_markers[i]))) return true;
    return false;
}

static const char *const listing_markers[] = {
    "<title>Index of /",              /* Apache, nginx autoindex */
    "<title>Directory listing for /", /* Python http.server */
    "<h1>Index of /",
    "<h1>Directory listing for /",
};

bool moat__is_listing(const char *body, size_t len)
{
    for (size_t i = 0; i < MOAT_ARRAY_LEN(listing_markers); i++)
        if (memmem(body, len, listing_markers[i], strlen(listing_markers[i]))) return true;
    return false;
}

static bool is_html(moat_http_head *h)
{
    moat_http_header *ct = moat_http_head_find(h, "Content-Type");
    return ct && ct->value_len >= 9 && moat_streq_nocase(ct->value, 9, "text/html", 9);
}

static int errors_response(moat_request *r, moat_http_head *h)
{
    const moat_config *cfg = r->rt->cfg;
    if (h->status >= 500 && cfg->errors.replace_5xx) {
        moat__refusal(r, "response.replaced", "errors", "errors.replace_5xx");
        moat__client_respond_error(r, h->status, "application error page replaced");
        return MOAT_DONE;
    }
    moat_http_header *ce = moat_http_head_find(h, "Content-Encoding");
    bool plain = !ce || moat_strieq_lit(ce->value, ce->value_len, "identity");
    if (h->status >= 400 && h->status < 500 && cfg->errors.debug_pages && !h->no_body && plain) {
        r->hold = true;
        r->hold_limit = 256 * 1024;
    } else if (h->status == 200 && cfg->errors.listings && !h->no_body && plain && is_html(h)) {
        /* A listing names itself in its first bytes: hold only those. */
        r->hold = true;
        r->hold_listing = true;
        r->hold_limit = 2048;
    }
    return MOAT_PASS;
}

const moat_stage moat__stage_errors = {
    .name = "errors",
    .on_response_head = errors_response,
};
