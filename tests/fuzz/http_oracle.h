/* http_oracle.h - http-parser (libhttp-parser) as the differential oracle
 * of moat's own HTTP/1.1 parser (src/http), for the fuzz targets and the
 * unit tests. moat's scanner reads every byte once and is stricter than
 * http-parser by design (it refuses bare LF, obs-fold, "Name :", HTTP/0.9,
 * loose chunk lines, CL+TE ...), so the property is one-way: every message
 * moat hands on, http-parser must read the same way (method, target,
 * version, status, reason, fields, Content-Length, chunked, body bytes, and
 * where it ends). Both sides write each complete message in one canonical
 * form (oracle_put_head, then the body, then "<end>"); the stories must
 * agree as far as both go, and http-parser may stop first only where it
 * stops by design (an upgrade, or a connection its keep-alive rules close).
 * The few readings moat does on purpose are mirrored here: an absolute-form
 * target becomes origin-form and a "#fragment" is dropped; values are
 * trimmed of OWS; trailer fields are dropped. One http-parser quirk is
 * stepped around: a field whose name merely starts with "Transfer-Encoding"
 * ("Transfer-Encodingx") counts for it as a Transfer-Encoding (it sets its
 * flag on the name's prefix), so from such a message on its reading is not
 * compared; and it refuses a fragment right after an absolute-form
 * authority ("http://a#f"), which moat reads as "/", and it reads a
 * Content-Length in a trailer section, which moat drops unread, and it
 * refuses a tab after a Content-Length's digits (OWS is SP or HTAB): nor
 * are those compared. */
#ifndef MOAT_TESTS_HTTP_ORACLE_H
#define MOAT_TESTS_HTTP_ORACLE_H

#include <http_parser.h>
#include <string.h>

#include "http/http.h"

/* One message's head, canonically. */
static inline void oracle_put_head(moat_buf *o, moat_http_kind kind, const moat_http_head *h)
{
    if (kind == MOAT_HTTP_REQUEST)
        moat_buf_printf(o, "<req %s %s", h->method ? h->method : "-", h->target ? h->target : "-");
    else
        moat_buf_printf(o, "<res %d %s", h->status, h->reason ? h->reason : "-");
    moat_buf_printf(o, " %d.%d cl=%lld ch=%d n=%zu>", h->http_major, h->http_minor,
                    (long long)h->content_length, h->chunked, h->nheaders);
    for (size_t i = 0; i < h->nheaders; i++) {
        moat_buf_printf(o, "[%zu:", h->headers[i].name_len);
        moat_buf_append(o, h->headers[i].name, h->headers[i].name_len);
        moat_buf_printf(o, "=%zu:", h->headers[i].value_len);
        moat_buf_append(o, h->headers[i].value, h->headers[i].value_len);
        moat_buf_putc(o, ']');
    }
}

typedef struct oracle {
    http_parser hp;
    moat_http_kind kind;
    bool head_request;
    moat_arena *arena;
    moat_http_head head;
    moat_buf msg;   /* the message being read */
    moat_buf story; /* complete messages */
    moat_buf url, field, value;
    int last; /* 0 none, 1 field, 2 value */
    bool in_head;
    bool stopped; /* an upgrade, or its keep-alive rules closed the connection */
    bool failed;  /* http-parser refused the input */
    bool quirk;   /* a "Transfer-Encoding..." field name was read */
    bool in_trailers;
    size_t mark; /* story length when the current message began */
    size_t quirk_mark;
    size_t messages;
} oracle;

static inline oracle *oracle_of(http_parser *hp)
{
    return hp->data;
}

static inline void oracle_trim(const char **s, size_t *n)
{
    while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static inline void oracle_flush_field(oracle *o)
{
    if (o->last == 0) return;
    const char *v = o->value.data ? o->value.data : "";
    size_t vn = o->value.len;
    oracle_trim(&v, &vn);
    char *val = moat_arena_strndup(o->arena, v, vn);
    char *name = moat_arena_strndup(o->arena, o->field.data ? o->field.data : "", o->field.len);
    moat_http_head_add_static(&o->head, o->arena, name, val);
    moat_buf_reset(&o->field);
    moat_buf_reset(&o->value);
    o->last = 0;
}

static inline int oracle_on_begin(http_parser *hp)
{
    oracle *o = oracle_of(hp);
    moat_arena_reset(o->arena);
    memset(&o->head, 0, sizeof(o->head));
    moat_buf_reset(&o->msg);
    moat_buf_reset(&o->url);
    moat_buf_reset(&o->field);
    moat_buf_reset(&o->value);
    o->last = 0;
    o->in_head = true;
    o->mark = o->story.len;
    o->in_trailers = false;
    return 0;
}

static inline int oracle_on_url(http_parser *hp, const char *at, size_t n)
{
    moat_buf_append(&oracle_of(hp)->url, at, n);
    return 0;
}

static inline int oracle_on_status(http_parser *hp, const char *at, size_t n)
{
    /* the reason phrase, kept in url's buffer (a response has no URL) */
    moat_buf_append(&oracle_of(hp)->url, at, n);
    return 0;
}

static inline int oracle_on_field(http_parser *hp, const char *at, size_t n)
{
    oracle *o = oracle_of(hp);
    if (!o->in_head) {
        o->in_trailers = true;
        return 0; /* trailers are dropped */
    }
    if (o->last == 2) oracle_flush_field(o);
    moat_buf_append(&o->field, at, n);
    o->last = 1;
    if (!o->quirk && o->field.len > 17 &&
        moat_streq_nocase(o->field.data, 17, "transfer-encoding", 17)) {
        o->quirk = true;
        o->quirk_mark = o->mark;
    }
    return 0;
}

static inline int oracle_on_value(http_parser *hp, const char *at, size_t n)
{
    oracle *o = oracle_of(hp);
    if (!o->in_head) return 0;
    moat_buf_append(&o->value, at, n);
    o->last = 2;
    return 0;
}

static inline bool oracle_prefix_nocase(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && moat_streq_nocase(s, pl, p, pl);
}

/* moat's reading of a target: absolute-form as origin-form, no fragment. */
static inline char *oracle_target(oracle *o)
{
    const char *t = o->url.data ? o->url.data : "";
    size_t n = o->url.len;
    const char *hash = memchr(t, '#', n);
    if (hash) n = (size_t)(hash - t);
    size_t skip = oracle_prefix_nocase(t, n, "http://")    ? 7
                  : oracle_prefix_nocase(t, n, "https://") ? 8
                                                           : 0;
    if (!skip) return moat_arena_strndup(o->arena, t, n);
    size_t i = skip;
    while (i < n && t[i] != '/' && t[i] != '?')
        i++;
    if (i < n && t[i] == '/') return moat_arena_strndup(o->arena, t + i, n - i);
    char *r = moat_arena_alloc(o->arena, n - i + 2);
    r[0] = '/';
    memcpy(r + 1, t + i, n - i);
    r[n - i + 1] = '\0';
    return r;
}

static inline int oracle_on_headers(http_parser *hp)
{
    oracle *o = oracle_of(hp);
    moat_http_head *h = &o->head;
    oracle_flush_field(o);
    o->in_head = false;
    h->http_major = hp->http_major;
    h->http_minor = hp->http_minor;
    if (o->kind == MOAT_HTTP_REQUEST) {
        h->method = moat_arena_strdup(o->arena, http_method_str((enum http_method)hp->method));
        h->target = oracle_target(o);
    } else {
        h->status = (int)hp->status_code;
        h->reason = moat_arena_strndup(o->arena, o->url.data ? o->url.data : "", o->url.len);
    }
    h->content_length = (hp->flags & F_CONTENTLENGTH) ? (int64_t)hp->content_length : -1;
    h->chunked = (hp->flags & F_CHUNKED) != 0;
    oracle_put_head(&o->msg, o->kind, h);
    if (o->kind == MOAT_HTTP_RESPONSE) {
        unsigned s = hp->status_code;
        if (o->head_request || (s >= 100 && s < 200) || s == 204 || s == 304) return 1;
    }
    return 0;
}

static inline int oracle_on_body(http_parser *hp, const char *at, size_t n)
{
    moat_buf_append(&oracle_of(hp)->msg, at, n);
    return 0;
}

static inline int oracle_on_complete(http_parser *hp)
{
    oracle *o = oracle_of(hp);
    moat_buf_append(&o->story, o->msg.data ? o->msg.data : "", o->msg.len);
    moat_buf_puts(&o->story, "<end>\n");
    moat_buf_reset(&o->msg);
    o->messages++;
    return 0;
}

static const http_parser_settings oracle_settings = {
    .on_message_begin = oracle_on_begin,
    .on_url = oracle_on_url,
    .on_status = oracle_on_status,
    .on_header_field = oracle_on_field,
    .on_header_value = oracle_on_value,
    .on_headers_complete = oracle_on_headers,
    .on_body = oracle_on_body,
    .on_message_complete = oracle_on_complete,
};

/* Reads data (one connection's bytes, then its end) as http-parser does;
 * o->story gets every complete message. Free with oracle_free. */
static inline void oracle_read(oracle *o, moat_http_kind kind, bool head_request, const char *data,
                               size_t len)
{
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->head_request = head_request;
    o->arena = moat_arena_new();
    moat_buf_init(&o->msg);
    moat_buf_init(&o->story);
    moat_buf_init(&o->url);
    moat_buf_init(&o->field);
    moat_buf_init(&o->value);
    http_parser_init(&o->hp, kind == MOAT_HTTP_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE);
    o->hp.data = o;
    size_t used = http_parser_execute(&o->hp, &oracle_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&o->hp);
    if (e == HPE_INVALID_URL && !o->quirk) {
        size_t at = used < len ? used : len, start = at;
        while (start > 0 && data[start - 1] != '\n')
            start--;
        if (memchr(data + start, '#', at - start + (at < len))) {
            o->quirk = true;
            o->quirk_mark = o->mark;
        }
    }
    if (e == HPE_INVALID_CONTENT_LENGTH && !o->quirk) {
        /* http-parser takes only SP as whitespace after a Content-Length's
         * digits; RFC 9110's OWS is SP or HTAB, which moat trims */
        size_t at = used < len ? used : len, start = at;
        while (start > 0 && data[start - 1] != '\n')
            start--;
        if (memchr(data + start, '\t', at - start + (at < len))) {
            o->quirk = true;
            o->quirk_mark = o->mark;
        }
    }
    if ((e == HPE_INVALID_CONTENT_LENGTH || e == HPE_UNEXPECTED_CONTENT_LENGTH) && o->in_trailers &&
        !o->quirk) {
        o->quirk = true;
        o->quirk_mark = o->mark;
    }
    if (o->quirk) {
        o->story.len = o->quirk_mark;
        o->stopped = true;
        return;
    }
    if (o->hp.upgrade || (e == HPE_CLOSED_CONNECTION && o->messages)) {
        o->stopped = true;
        return;
    }
    if (e != HPE_OK) {
        o->failed = true;
        return;
    }
    (void)used;
    http_parser_execute(&o->hp, &oracle_settings, NULL, 0); /* the end of the connection */
}

static inline void oracle_free(oracle *o)
{
    moat_buf_free(&o->msg);
    moat_buf_free(&o->story);
    moat_buf_free(&o->url);
    moat_buf_free(&o->field);
    moat_buf_free(&o->value);
    moat_arena_free(o->arena);
}

/* True when moat's story of complete messages (same canonical form) is what
 * http-parser read, as far as both go. */
static inline bool oracle_agrees(const oracle *o, const moat_buf *moat_story)
{
    size_t lm = moat_story->len, lo = o->story.len;
    size_t common = lm < lo ? lm : lo;
    if (common && memcmp(moat_story->data, o->story.data, common) != 0) return false;
    return lm <= lo || o->stopped;
}

#endif
