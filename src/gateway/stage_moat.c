/* stage_moat.c - moat's own endpoints under the reserved prefix /.moat/,
 * answered by moat and never forwarded: POST /.moat/csp-report takes the
 * browsers' Content-Security-Policy violation reports (report-uri, JSON,
 * bounded to 64 KiB) into the security log as csp.violation. Any other
 * /.moat/ path is 404 (the prefix is reserved for the login portal), but
 * the stylesheet and logo of moat's pages, served to anyone with GET.
 * Anyone may post a report, so their logging is rate-limited per client
 * address and overall: a flood cannot push real events out of the log. */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "auth/portal/portal.h"
#include "internal.h"

#define REPORT_MAX (64 * 1024)

/* csp.violation events per minute: per client address, and in all. */
#define REPORTS_PER_ADDR 20
#define REPORTS_TOTAL 200
#define WINDOW_MS 60000
#define SLOTS 1024

/* Fixed-size table of per-address counters (a collision shares a counter:
 * that can only make the limit stricter). Shared by every worker thread. */
static struct {
    uv_once_t once;
    uv_mutex_t lock;
    uint64_t window; /* start of the current minute window */
    unsigned total, suppressed;
    unsigned count[SLOTS]; /* reports this window, by address hash */
} limiter = {.once = UV_ONCE_INIT};

static void limiter_init(void)
{
    if (uv_mutex_init(&limiter.lock) != 0) abort();
}

static uint64_t addr_hash(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

typedef enum { REPORT_LOG, REPORT_FIRST_SUPPRESSED, REPORT_DROP } report_verdict;

/* Whether this report is logged; *suppressed: how many the previous window
 * left unlogged (to be told once). */
static report_verdict report_admit(const char *peer, unsigned *suppressed)
{
    uv_once(&limiter.once, limiter_init);
    uint64_t now = moat_now_ms(), h = addr_hash(peer);
    report_verdict v;
    *suppressed = 0;
    uv_mutex_lock(&limiter.lock);
    if (now - limiter.window >= WINDOW_MS) {
        *suppressed = limiter.suppressed;
        limiter.window = now;
        limiter.total = limiter.suppressed = 0;
        memset(limiter.count, 0, sizeof(limiter.count));
    }
    unsigned n = ++limiter.count[h % SLOTS];
    if (n <= REPORTS_PER_ADDR && limiter.total < REPORTS_TOTAL) {
        limiter.total++;
        v = REPORT_LOG;
    } else {
        v = limiter.suppressed++ == 0 ? REPORT_FIRST_SUPPRESSED : REPORT_DROP;
    }
    uv_mutex_unlock(&limiter.lock);
    return v;
}

static bool is_report(moat_request *r)
{
    return strcmp(r->path ? r->path : "", MOAT_CSP_REPORT_PATH) == 0;
}

static int moat_head(moat_request *r)
{
    if (!r->path || strncmp(r->path, "/.moat/", 7) != 0) return MOAT_PASS;
    const char *body, *ctype;
    size_t len;
    if (moat_portal_look_asset(r->rt->look, r->path, &body, &len, &ctype)) {
        if (r->head->method_id != HTTP_GET && r->head->method_id != HTTP_HEAD) {
            moat__refuse(r, 405, "http.rejected", NULL, "moat's page assets are read with GET");
            return MOAT_DONE;
        }
        /* moat's answers are no-store: a few KiB per page view, and a
         * reload's new look shows at once */
        moat__client_respond(r, 200, "moat page asset", ctype, body, len, NULL, 0);
        return MOAT_DONE;
    }
    if (!is_report(r)) {
        if (r->rt->store && moat__auth_portal_path(r->path)) return MOAT_PASS; /* stage_auth */
        moat__refuse(r, 404, "path.denied", NULL, "unknown moat endpoint");
        return MOAT_DONE;
    }
    if (r->head->method_id != HTTP_POST) {
        moat__refuse(r, 405, "http.rejected", NULL, "CSP reports are POSTed");
        return MOAT_DONE;
    }
    if (r->head->content_length > REPORT_MAX) {
        moat__refuse(r, 413, "http.rejected", NULL, "CSP report over 64 KiB");
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
        moat__refuse(r, 413, "http.rejected", NULL, "CSP report over 64 KiB");
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

static void record_suppressed(moat_request *r, unsigned count, bool starting)
{
    char num[24];
    snprintf(num, sizeof(num), "%u", count);
    moat_seclog_field f[] = {{"suppressed", starting ? NULL : num}};
    moat_seclog_event ev = {
        .event = "csp.suppressed",
        .severity = MOAT_SECLOG_NOTICE,
        .request_id = r->id,
        .client = r->c->peer,
        .reason = starting ? "more CSP reports than the rate limit allows: the rest of this "
                             "minute's reports are answered but not logged"
                           : "CSP reports that the rate limit kept out of the log last minute",
        .stage = "moat-endpoints",
        .fields = f,
        .nfields = starting ? 0 : 1,
    };
    moat_seclog_record(moat__seclog, &ev);
}

static int moat_end(moat_request *r)
{
    if (!r->internal) return MOAT_PASS;
    unsigned suppressed;
    report_verdict v = report_admit(r->c->peer, &suppressed);
    if (moat__seclog && suppressed) record_suppressed(r, suppressed, false);
    if (v != REPORT_LOG) {
        if (moat__seclog && v == REPORT_FIRST_SUPPRESSED) record_suppressed(r, 0, true);
        moat_buf_free(&r->held_body);
        moat__client_respond_error(r, 204, "CSP report not logged (rate limit)");
        return MOAT_DONE;
    }
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
