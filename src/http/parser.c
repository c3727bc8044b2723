/* parser.c - the incremental message parser. Bytes go through the strict
 * scanner (scan.c) first, then through http-parser, whose callbacks build the
 * head in the caller's arena; check.c judges the head. http-parser's callbacks
 * only record what happened: the caller's callbacks run after each segment,
 * so a pause never leaves http-parser half-way and *consumed is exact. The
 * scanner cuts segments at the end of the head, around each body run and at
 * the end of the message, and the two parsers must agree on all three.
 * After on_end the parser stays paused until moat_http_parser_reset().
 * moat_http_parser_finish() delivers on_end of a read-until-close response
 * even if the caller had paused on its last body bytes. */
#include "internal.h"

#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

typedef enum { TOK_NONE, TOK_URL, TOK_STATUS, TOK_FIELD, TOK_VALUE } tok_kind;

struct moat_http_parser {
    http_parser hp;
    moat_http_kind kind;
    const moat_http_limits *limits;
    const moat_http_parser_cbs *cbs;
    void *ud;
    moat_arena *arena;
    moat_http_head *head;
    moat__http_scanner scan;
    /* the URL, status, name or value http-parser is handing over in pieces */
    moat_buf tok;
    tok_kind tok_kind;
    char *field; /* a complete name waiting for its value */
    size_t field_len;
    bool head_done; /* later header callbacks are trailers */
    /* what the segment just fed produced */
    bool ev_head, ev_end;
    const char *body;
    size_t body_len;
    /* produced but not delivered yet (a callback paused) */
    bool pend_head, pend_end;
    bool paused, ended, expect_no_body;
    int err; /* sticky */
    int status;
    const char *reason;
};

static moat_http_parser *from_hp(http_parser *hp)
{
    return hp->data;
}

/* Keeps the first cause: it is the most specific one. */
static void set_error(moat_http_parser *p, int status, const char *reason)
{
    if (p->status) return;
    p->status = p->kind == MOAT_HTTP_RESPONSE ? 502 : status;
    p->reason = reason;
}

static int disagree(moat_http_parser *p)
{
    set_error(p, 400, "parser disagreement");
    return -1;
}

static void trim_ows(const char **s, size_t *n)
{
    while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static void push_field(moat_http_parser *p, const char *value, size_t value_len)
{
    trim_ows(&value, &value_len);
    /* the scanner has refused any name that is not a token */
    moat__http_head_push(p->head, p->arena, p->field, p->field_len, value, value_len, true);
    p->field = NULL;
    p->field_len = 0;
}

static void tok_flush(moat_http_parser *p)
{
    const char *s = p->tok.data ? p->tok.data : "";
    size_t n = p->tok.len;
    moat_http_head *h = p->head;
    switch (p->tok_kind) {
    case TOK_NONE:
        break;
    case TOK_URL:
        h->target = moat_arena_strndup(p->arena, s, n);
        h->target_len = n;
        break;
    case TOK_STATUS:
        h->reason = moat_arena_strndup(p->arena, s, n);
        break;
    case TOK_FIELD:
        p->field = moat_arena_strndup(p->arena, s, n);
        p->field_len = n;
        break;
    case TOK_VALUE:
        if (!p->field) {
            disagree(p);
            break;
        }
        push_field(p, s, n);
        break;
    }
    moat_buf_reset(&p->tok);
    p->tok_kind = TOK_NONE;
}

static int tok_add(http_parser *hp, tok_kind kind, const char *at, size_t len)
{
    moat_http_parser *p = from_hp(hp);
    if (p->head_done) return 0; /* a trailer field: scanned and limited, then dropped */
    if (p->tok_kind != kind) {
        tok_flush(p);
        p->tok_kind = kind;
    }
    moat_buf_append(&p->tok, at, len);
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    return tok_add(hp, TOK_URL, at, len);
}

static int on_status(http_parser *hp, const char *at, size_t len)
{
    return tok_add(hp, TOK_STATUS, at, len);
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    return tok_add(hp, TOK_FIELD, at, len);
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    return tok_add(hp, TOK_VALUE, at, len);
}

/* The scanner and http-parser must have read the same head and framing. */
static bool agrees(const moat_http_parser *p, const http_parser *hp)
{
    const moat_http_head *h = p->head;
    const moat__http_scanner *s = &p->scan;
    if (h->nheaders != s->head_fields) return false;
    if (((hp->flags & F_CHUNKED) != 0) != h->chunked) return false;
    if (hp->http_major != s->major || hp->http_minor != s->minor) return false;
    if (p->kind == MOAT_HTTP_RESPONSE && (int)hp->status_code != s->status_code) return false;
    bool hp_cl = (hp->flags & F_CONTENTLENGTH) != 0;
    if (hp_cl != (h->content_length >= 0)) return false;
    if (hp_cl && hp->content_length != (uint64_t)h->content_length) return false;
    return true;
}

static int on_headers_complete(http_parser *hp)
{
    moat_http_parser *p = from_hp(hp);
    moat_http_head *h = p->head;
    int status = 0, rc;
    const char *reason = NULL;

    tok_flush(p);
    if (p->field) push_field(p, "", 0);
    p->head_done = true;
    if (p->status) return -1;

    h->http_major = hp->http_major;
    h->http_minor = hp->http_minor;
    if (p->kind == MOAT_HTTP_REQUEST) {
        h->method_id = (int)hp->method;
        h->method = moat_arena_strdup(p->arena, http_method_str((enum http_method)hp->method));
        if (!h->target) h->target = moat_arena_strdup(p->arena, "");
        if (h->target_len != p->scan.target_bytes) return disagree(p);
        rc = moat__http_check_request(h, p->arena, &p->scan.lim, &status, &reason);
    } else {
        h->status = (int)hp->status_code;
        if (!h->reason) h->reason = moat_arena_strdup(p->arena, "");
        rc = moat__http_check_response(h, p->expect_no_body, &p->scan.lim, &status, &reason);
    }
    if (rc) {
        set_error(p, status, reason);
        return -1;
    }
    /* http-parser reads "chunked" followed by HTAB (valid OWS) as some other
     * coding; its reading frames the body, so such a value cannot be taken. */
    if (h->chunked && !(hp->flags & F_CHUNKED)) {
        set_error(p, 400, "Transfer-Encoding other than chunked");
        return -1;
    }
    if (!agrees(p, hp)) return disagree(p);

    moat__http_scan_body(&p->scan, moat__http_body_of(h, p->kind),
                         h->content_length > 0 ? (uint64_t)h->content_length : 0);
    p->ev_head = true;
    /* 1 = no body whatever the headers say (HEAD, 1xx, 204, 304). */
    return p->kind == MOAT_HTTP_RESPONSE && h->no_body ? 1 : 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    moat_http_parser *p = from_hp(hp);
    if (len == 0) return 0; /* http-parser flushes empty marks at chunk ends */
    if (p->body) return disagree(p);
    p->body = at;
    p->body_len = len;
    return 0;
}

static int on_chunk_header(http_parser *hp)
{
    moat_http_parser *p = from_hp(hp);
    if (hp->content_length != p->scan.chunk_size) return disagree(p);
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    from_hp(hp)->ev_end = true;
    return 0;
}

static const http_parser_settings hp_settings = {
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

static bool has_transfer_encoding(moat_http_parser *p)
{
    if (!p->head_done) tok_flush(p);
    if (p->field && moat_strieq_lit(p->field, p->field_len, "Transfer-Encoding")) return true;
    return moat_http_head_count(p->head, "Transfer-Encoding") > 0;
}

/* Why http-parser stopped, when the scanner and check.c let the bytes by. */
static void map_errno(moat_http_parser *p, enum http_errno he)
{
    switch (he) {
    case HPE_INVALID_METHOD:
        set_error(p, 501, "unknown method");
        break;
    case HPE_HEADER_OVERFLOW:
        set_error(p, 431, "header section too large");
        break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        set_error(p, 400,
                  has_transfer_encoding(p) ? "Content-Length with Transfer-Encoding"
                                           : "duplicate Content-Length");
        break;
    case HPE_INVALID_CONTENT_LENGTH:
        set_error(p, 400, "invalid Content-Length");
        break;
    case HPE_INVALID_TRANSFER_ENCODING:
        set_error(p, 400, "Transfer-Encoding other than chunked");
        break;
    case HPE_INVALID_CHUNK_SIZE:
        set_error(p, 400, "invalid chunk size");
        break;
    case HPE_INVALID_URL:
    case HPE_INVALID_HOST:
    case HPE_INVALID_PORT:
    case HPE_INVALID_PATH:
    case HPE_INVALID_QUERY_STRING:
    case HPE_INVALID_FRAGMENT:
        set_error(p, 400, "invalid request target");
        break;
    default:
        set_error(p, 400, http_errno_description(he));
        break;
    }
}

/* Hands n scanned bytes to http-parser and checks it saw what the scanner saw. */
static int feed(moat_http_parser *p, const char *data, size_t n, int result)
{
    p->ev_head = p->ev_end = false;
    p->body = NULL;
    p->body_len = 0;
    size_t used = http_parser_execute(&p->hp, &hp_settings, data, n);
    enum http_errno he = HTTP_PARSER_ERRNO(&p->hp);
    if (he != HPE_OK) {
        map_errno(p, he); /* no-op if a callback already said why */
        return MOAT_EHTTP;
    }
    if (p->status) return MOAT_EHTTP;
    if (used != n || (result == MOAT__SCAN_HEAD) != p->ev_head ||
        moat__http_scan_done(&p->scan) != p->ev_end) {
        disagree(p);
        return MOAT_EHTTP;
    }
    p->pend_head = p->ev_head;
    p->pend_end = p->ev_end;
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
    http_parser_init(&p->hp, p->kind == MOAT_HTTP_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE);
    p->hp.data = p;
    /* Limits are read per message, so a reloaded config applies from the next one. */
    moat__http_scan_init(&p->scan, p->kind, p->limits);
    p->head = moat_arena_calloc(arena, sizeof(*p->head));
    p->head->content_length = -1;
    p->head->method_id = -1;
    moat_buf_reset(&p->tok);
    p->tok_kind = TOK_NONE;
    p->field = NULL;
    p->field_len = 0;
    p->head_done = false;
    p->ev_head = p->ev_end = false;
    p->body = NULL;
    p->body_len = 0;
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
            /* The earliest bad byte decides, whoever finds it, so that the
             * verdict does not depend on where the input was cut. The bytes
             * before the bad one hold no event (events end segments). */
            if (n) http_parser_execute(&p->hp, &hp_settings, data + pos, n);
            enum http_errno he = HTTP_PARSER_ERRNO(&p->hp);
            if (he != HPE_OK)
                map_errno(p, he);
            else
                set_error(p, p->scan.err_status, p->scan.err_reason);
            return p->err = MOAT_EHTTP;
        }
        MOAT_BUG_ON(n == 0);
        rc = feed(p, data + pos, n, result);
        if (rc) return p->err = rc;
        pos += n;
        *consumed = pos;
        rc = deliver(p, p->body, p->body_len);
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
    p->ev_end = false;
    http_parser_execute(&p->hp, &hp_settings, NULL, 0);
    if (HTTP_PARSER_ERRNO(&p->hp) != HPE_OK || !p->ev_end) {
        disagree(p);
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
