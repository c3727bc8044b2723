/* stage_moat.c - moat's own endpoints under the reserved prefix /.moat/,
 * answered by moat and never forwarded: POST /.moat/csp-report takes the
 * browsers' Content-Security-Policy violation reports (report-uri, JSON,
 * bounded to 64 KiB) into the security log as csp.violation. Any other
 * /.moat/ path is 404 (the prefix is reserved for the login portal). */
#include <http_parser.h>
#include <string.h>

#include "internal.h"

#define REPORT_MAX (64 * 1024)

static bool is_report(moat_request *r)
{
    return strcmp(r->path ? r->path : "", MOAT_CSP_REPORT_PATH) == 0;
}

static int moat_head(moat_request *r)
{
    if (!r->path || strncmp(r->path, "/.moat/", 7) != 0) return MOAT_PASS;
    if (!is_report(r)) {
        if (r->rt->store && moat__auth_portal_path(r->path)) return MOAT_PASS; /* stage_auth */
        moat__refusal(r, "path.denied", "moat-endpoints", NULL);
        moat__client_respond_error(r, 404, "unknown moat endpoint");
        return MOAT_DONE;
    }
    if (r->head->method_id != HTTP_POST) {
        moat__refusal(r, "http.rejected", "moat-endpoints", NULL);
        moat__client_respond_error(r, 405, "CSP reports are POSTed");
        return MOAT_DONE;
    }
    if (r->head->content_length > REPORT_MAX) {
        moat__refusal(r, "http.rejected", "moat-endpoints", NULL);
        moat__client_respond_error(r, 413, "CSP report over 64 KiB");
        return MOAT_DONE;
    }
    r->internal = true;
    moat__client_continue(r->c); /* read the body here; the proxy stage never runs */
    return MOAT_AGAIN;
}

static int moat_body(moat_request *r, const char *data, size_t len)
{
    if (!r->internal) return MOAT_PASS;
    if (r->held_body.len + len > REPORT_MAX) {
        moat__refusal(r, "http.rejected", "moat-endpoints", NULL);
        moat__client_respond_error(r, 413, "CSP report over 64 KiB");
        return MOAT_DONE;
    }
    moat_buf_append(&r->held_body, data, len);
    return MOAT_PASS;
}

/* The string value of "key" in a flat JSON object, or NULL: enough for the
 * three fields worth logging; the whole report is logged (bounded) too. */
static char *json_field(moat_arena *a, const char *json, size_t len, const char *key)
{
    char pat[64];
    int n = snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *p = memmem(json, len, pat, (size_t)n);
    if (!p) return NULL;
    const char *end = json + len;
    p += n;
    while (p < end && (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    if (p >= end || *p != '"') return NULL;
    const char *s = ++p;
    while (p < end && *p != '"')
        p += (*p == '\\' && p + 1 < end) ? 2 : 1;
    size_t l = (size_t)(p - s);
    return moat_arena_strndup(a, s, l > 512 ? 512 : l);
}

static int moat_end(moat_request *r)
{
    if (!r->internal) return MOAT_PASS;
    const char *b = r->held_body.data ? r->held_body.data : "";
    size_t n = r->held_body.len;
    moat_seclog_field fields[4] = {
        {"directive", json_field(r->arena, b, n, "violated-directive")},
        {"blocked_uri", json_field(r->arena, b, n, "blocked-uri")},
        {"document_uri", json_field(r->arena, b, n, "document-uri")},
        {"report", moat_arena_strndup(r->arena, b, n > 2048 ? 2048 : n)},
    };
    moat_seclog_event ev = {.event = "csp.violation",
                            .severity = MOAT_SECLOG_NOTICE,
                            .request_id = r->id,
                            .client = r->c->peer,
                            .method = r->head->method,
                            .path = r->path,
                            .reason = "a browser reported a Content-Security-Policy violation",
                            .stage = "moat-endpoints",
                            .config_key = "headers.csp",
                            .fields = fields,
                            .nfields = 4};
    if (moat__seclog) moat_seclog_record(moat__seclog, &ev);
    moat_buf_free(&r->held_body);
    moat__client_respond_error(r, 204, "CSP report recorded");
    return MOAT_DONE;
}

const moat_stage moat__stage_moat = {
    .name = "moat-endpoints",
    .on_request_head = moat_head,
    .on_request_body = moat_body,
    .on_request_end = moat_end,
};
