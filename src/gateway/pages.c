/* pages.c - moat's own answers: short generic pages that carry the request
 * id and nothing about the internals, in HTML or, for API clients, JSON.
 * The HTML template is the runtime's: errors.page, or the portal's look
 * (templates/error.html in templates/layout.html, rendered at load). */
#include <string.h>

#include "internal.h"

bool moat__wants_json(moat_http_head *h)
{
    moat_http_header *a = moat_http_head_find(h, "Accept");
    if (!a) return false;
    return strstr(a->value, "application/json") && !strstr(a->value, "text/html");
}

static const char *explain(int status)
{
    switch (status) {
    case 308:
        return "This page is only served over HTTPS.";
    case 400:
        return "The request was not valid HTTP.";
    case 404:
        return "There is nothing at this address.";
    case 405:
        return "This method is not allowed.";
    case 408:
        return "The request took too long to arrive.";
    case 413:
        return "The request body is too large.";
    case 414:
        return "The request target is too long.";
    case 421:
        return "This server does not answer for that host name.";
    case 431:
        return "The request headers are too large.";
    case 502:
        return "The application is not reachable right now.";
    case 504:
        return "The application took too long to answer.";
    default:
        return status >= 500 ? "The server could not complete the request."
                             : "The request was refused.";
    }
}

/* Fills a configured template; unknown {names} are left as they are. The
 * values are fixed ASCII text (no markup), so they need no escaping. */
static void fill(moat_buf *out, const char *tmpl, int status, const char *reason,
                 const char *message, const char *request_id)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p == '{') {
            if (strncmp(p, "{status}", 8) == 0) {
                moat_buf_printf(out, "%d", status);
                p += 7;
                continue;
            }
            if (strncmp(p, "{reason}", 8) == 0) {
                moat_buf_puts(out, reason);
                p += 7;
                continue;
            }
            if (strncmp(p, "{message}", 9) == 0) {
                moat_buf_puts(out, message);
                p += 8;
                continue;
            }
            if (strncmp(p, "{request_id}", 12) == 0) {
                moat_buf_puts(out, request_id);
                p += 11;
                continue;
            }
        }
        moat_buf_putc(out, *p);
    }
}

void moat__error_page(moat_buf *out, const char *tmpl, int status, const char *request_id,
                      bool json)
{
    const char *reason = moat_http_reason(status);
    if (!json && tmpl) {
        fill(out, tmpl, status, reason, explain(status), request_id);
        return;
    }
    if (json) {
        moat_buf_printf(out, "{\"error\":\"%s\",\"status\":%d,\"request_id\":\"%s\"}\n", reason,
                        status, request_id);
        return;
    }
    moat_buf_printf(out,
                    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<title>%d %s</title></head>\n<body><h1>%d %s</h1>\n<p>%s</p>\n"
                    "<p>Request id: <code>%s</code></p></body></html>\n",
                    status, reason, status, reason, explain(status), request_id);
}
