/* parser.c - the incremental message parser. The strict scanner (scan.c)
 * reads every byte once: it checks it, builds the head in the caller's arena
 * and frames the body; check.c then judges the complete head. The scanner
 * cuts the input at the end of the head, around each body run and at the end
 * of the message, and the caller's callbacks run after each such segment, so
 * a pause never leaves a segment half-read and *consumed is exact.
 * After on_end the parser stays paused until moat_http_parser_reset().
 * moat_http_parser_finish() delivers on_end of a read-until-close response
 * even if the caller had paused on its last body bytes.
 * http-parser, which this file once ran behind the scanner, is the
 * differential oracle of the tests and fuzzers (tests/fuzz/oracle.h). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct moat_http_parser {
    moat_http_kind kind;
    const moat_http_limits *limits;
    const moat_http_parser_cbs *cbs;
    void *ud;
    moat_arena *arena;
    moat_http_head *head;
    moat__http_scanner scan;
    moat_buf tok; /* a token cut by the end of an input (the scanner's) */
    /* produced but not delivered yet (a callback paused) */
    bool pend_head, pend_end;
    bool paused, ended, expect_no_body;
    int err; /* sticky */
    int status;
    const char *reason;
};

/* Keeps the first cause: it is the most specific one. */
static void set_error(moat_http_parser *p, int status, const char *reason)
{
    if (p->status) return;
    p->status = p->kind == MOAT_HTTP_RESPONSE ? 502 : status;
    p->reason = reason;
}

/* The head is complete: judge it and frame its body. */
static int head_done(moat_http_parser *p)
{
    moat_http_head *h = p->head;
    int status = 0, rc;
    const char *reason = NULL;

    h->http_major = p->scan.major;
    h->http_minor = p->scan.minor;
    if (p->kind == MOAT_HTTP_REQUEST) {
        rc = moat__http_check_request(h, p->arena, &p->scan.lim, &status, &reason);
    } else {
        h->status = p->scan.status_code;
        rc = moat__http_check_response(h, p->expect_no_body, &p->scan.lim, &status, &reason);
    }
    if (rc) {
        set_error(p, status, reason);
        return MOAT_EHTTP;
    }
    /* "chunked" followed by HTAB (valid OWS) is read as another coding by
     * parsers that stop at the tab; such a value is not taken. */
    if (h->chunked && p->scan.te_tab) {
        set_error(p, 400, "Transfer-Encoding other than chunked");
        return MOAT_EHTTP;
    }
    moat__http_scan_body(&p->scan, moat__http_body_of(h, p->kind),
                         h->content_length > 0 ? (uint64_t)h->content_length : 0);
    p->pend_head = true;
    p->pend_end = moat__http_scan_done(&p->scan);
    return 0;
}

static int settle(moat_http_parser *p, int rc)
{
    if (rc == MOAT_EAGAIN) {
        p->paused = true;
        return rc;
    }
    p->err = rc;
    return rc;
}

/* Runs the caller's callbacks for what is pending, in order. */
static int deliver(moat_http_parser *p, const char *body, size_t body_len)
{
    const moat_http_parser_cbs *cbs = p->cbs;
    int rc;
    /* A head and a body run never come from the same segment. */
    MOAT_BUG_ON(body_len && p->pend_head);
    if (p->pend_head) {
        p->pend_head = false;
        rc = cbs->on_head ? cbs->on_head(p->ud, p->head) : 0;
        if (rc) return settle(p, rc);
    }
    if (body_len) {
        rc = cbs->on_body ? cbs->on_body(p->ud, body, body_len) : 0;
        if (rc) return settle(p, rc);
    }
    if (p->pend_end) {
        p->pend_end = false;
        p->ended = true;
        rc = cbs->on_end ? cbs->on_end(p->ud) : 0;
        if (rc && rc != MOAT_EAGAIN) return p->err = rc;
        return MOAT_EAGAIN;
    }
    return 0;
}

moat_http_parser *moat_http_parser_new(moat_http_kind kind, const moat_http_limits *limits,
                                       const moat_http_parser_cbs *cbs, void *ud, moat_arena *arena)
{
    MOAT_BUG_ON(!limits || !cbs || !arena);
    moat_http_parser *p = moat_xcalloc(1, sizeof(*p));
    p->kind = kind;
    p->limits = limits;
    p->cbs = cbs;
    p->ud = ud;
    moat_buf_init(&p->tok);
    moat_http_parser_reset(p, arena);
    return p;
}

void moat_http_parser_free(moat_http_parser *p)
{
    if (!p) return;
    moat_buf_free(&p->tok);
    free(p);
}

void moat_http_parser_reset(moat_http_parser *p, moat_arena *arena)
{
    MOAT_BUG_ON(!arena);
    p->arena = arena;
    p->head = moat_arena_calloc(arena, sizeof(*p->head));
    p->head->content_length = -1;
    p->head->method_id = -1;
    /* Limits are read per message, so a reloaded config applies from the next one. */
    moat__http_scan_init(&p->scan, p->kind, p->limits, p->head, arena, &p->tok);
    p->pend_head = p->pend_end = false;
    p->paused = p->ended = false;
    p->err = 0;
    p->status = 0;
    p->reason = NULL;
}

void moat_http_parser_expect_no_body(moat_http_parser *p, bool no_body)
{
    p->expect_no_body = no_body;
}

int moat_http_parser_execute(moat_http_parser *p, const char *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (p->err) return p->err;
    if (p->paused) return MOAT_EAGAIN;
    int rc = deliver(p, NULL, 0);
    if (rc) return rc;
    if (p->ended) return MOAT_EAGAIN;

    size_t pos = 0;
    while (pos < len) {
        int result;
        size_t n = moat__http_scan(&p->scan, data + pos, len - pos, &result);
        if (result == MOAT__SCAN_ERR) {
            set_error(p, p->scan.err_status, p->scan.err_reason);
            return p->err = MOAT_EHTTP;
        }
        MOAT_BUG_ON(n == 0);
        bool body = p->scan.body_run;
        if (result == MOAT__SCAN_HEAD && head_done(p)) return p->err = MOAT_EHTTP;
        if (result == MOAT__SCAN_END) p->pend_end = true;
        pos += n;
        *consumed = pos;
        rc = deliver(p, body ? data + pos - n : NULL, body ? n : 0);
        if (rc) return rc;
    }
    return 0;
}

void moat_http_parser_resume(moat_http_parser *p)
{
    p->paused = false;
}

int moat_http_parser_finish(moat_http_parser *p)
{
    if (p->err) return p->err;
    if (p->ended || moat__http_scan_done(&p->scan) || !p->scan.started) return MOAT_ECLOSED;
    if (!moat__http_scan_at_eof_body(&p->scan)) {
        set_error(p, 400, "connection closed in the middle of a message");
        return p->err = MOAT_EHTTP;
    }
    p->paused = false;
    p->pend_end = true;
    int rc = deliver(p, NULL, 0);
    return rc == MOAT_EAGAIN ? 0 : rc;
}

int moat_http_parser_status(const moat_http_parser *p)
{
    return p->status;
}

const char *moat_http_parser_reason(const moat_http_parser *p)
{
    return p->reason ? p->reason : "";
}

bool moat_http_parser_in_message(const moat_http_parser *p)
{
    return p->scan.started;
}
