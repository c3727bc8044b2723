/* h2.c - HTTP/2 on a TLS client connection that chose h2 by ALPN: nghttp2's
 * server session runs over the connection's plaintext (client.c hands the
 * connection over after the handshake), and each stream is one
 * moat_request that goes through the pipeline exactly as an HTTP/1.1 one:
 * its header list is written as an HTTP/1.1 head (src/http/h2translate.c)
 * and parsed by the HTTP/1.1 parser, its body is handed to the stages as it
 * comes (held in the stream's flow-control window while they wait), and it
 * is proxied as HTTP/1.1. Its response comes back through a sink of its
 * own that frames HEADERS and DATA. Stages see a per-stream moat_client
 * (peer, worker, arena) whose answers client.c hands back here.
 *
 * The defences the HTTP/1.1 code gets from its parser and timers are per
 * stream here, plus those of the frame layer: concurrent streams, the
 * header list (bytes and fields), resets and frames that carry no request
 * (per connection per 10 s), CONTINUATION runs, and the body, header and
 * send deadlines of each stream (docs/tls.md). */
#include <http_parser.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "metrics.h"

#define FLOOD_WINDOW_MS 10000 /* limits.http2_resets and http2_control_frames count per this */
#define STREAM_WINDOW 65536   /* request body bytes one stream may have waiting for the stages */
#define CONN_WINDOW (1 << 20) /* ... and all streams of a connection together */
#define MAX_CONTINUATIONS 8   /* CONTINUATION frames after one HEADERS (CVE-2024-27316 family) */
#define TICK_MS 1000          /* the session's deadlines are checked this often */
#define WRITE_CHUNK 65536     /* frames collected before one write to the connection */
#define H1_KEEP_BYTES 4096    /* a translated head buffer this small stays for the next stream */
#define SPARE_STREAMS 4       /* closed streams (and their arenas) kept for the next ones */
#define OUT_KEEP_BYTES 4096   /* ... with their response buffer when it is this small */

typedef struct moat__h2_stream h2_stream;

struct moat__h2 {
    moat_client *c; /* the connection; owns this */
    nghttp2_session *ng;
    moat_link streams; /* every stream not yet closed by nghttp2 */
    size_t nstreams;
    h2_stream *spare; /* closed streams kept for reuse (next_spare), at most SPARE_STREAMS */
    size_t nspare;
    moat_http_parser *parser; /* reads the translated heads */
    moat_http_head *parsed;   /* its last head (on_parsed) */
    moat_arena *parse_arena;  /* the arena of the stream being parsed */
    uint64_t window_start;
    uint64_t resets, control;
    unsigned continuations; /* CONTINUATION frames after the current HEADERS */
    uint64_t idle_since, last_write_ms;
    int batch;       /* the upstream's batch: frames leave when it ends */
    bool in_recv;    /* inside nghttp2_session_mem_recv: frames leave after */
    bool flushing;   /* inside flush */
    bool shutting;   /* GOAWAY sent: close once what is queued is written */
    bool draining;   /* GOAWAY NO_ERROR sent: close once the open streams are done */
    moat_buf wbuf;   /* frames of one flush */
    moat_buf h1;     /* the translated head of the stream being parsed (kept small) */
    uv_idle_t *idle; /* runs flush_now once per turn of the loop; freed by its close */
    bool flush_due;
};

struct moat__h2_stream {
    moat_client c; /* what stages see as r->c: peer, worker, arena, req */
    moat_link link;
    moat__h2 *s;
    int32_t id;
    moat_h2_field *fields; /* the header list (arena) until it is translated */
    size_t nfields, capfields, field_bytes;
    const char *refuse_why, *refuse_key; /* the header list is refused at its end */
    int refuse_status;
    moat_buf body_in; /* DATA the stages are not ready for (within the stream window) */
    uint64_t received;
    bool end_in;       /* END_STREAM received */
    bool end_given;    /* ... and handed to the stages */
    bool paused;       /* the stages wait (head stages, a held body) */
    bool backpressure; /* the upstream is slow to take the body */
    bool delivering;
    moat_buf out; /* response body not yet framed */
    size_t out_off;
    bool out_eof;   /* the response body is complete */
    bool submitted; /* the response head went to nghttp2 */
    bool no_body;   /* ... with END_STREAM (HEAD, 204, 304) */
    uint64_t started_ms, last_in_ms, last_out_ms;
    h2_stream *next_spare;
};

void moat__h2_memory(const moat__h2 *s, moat__worker_mem *m)
{
    m->client_bytes += sizeof(*s) + s->wbuf.cap + s->h1.cap;
    for (const h2_stream *st = s->spare; st; st = st->next_spare)
        m->client_bytes += sizeof(*st) + st->out.cap + moat_arena_bytes(st->c.arena);
    for (const moat_link *l = s->streams.next; l != &s->streams; l = l->next) {
        const h2_stream *st = MOAT_CONTAINER_OF(l, h2_stream, link);
        m->client_bytes +=
            sizeof(*st) + st->body_in.cap + st->out.cap + moat_arena_bytes(st->c.arena);
        const moat_request *r = st->c.req;
        if (!r) continue;
        m->client_bytes += r->held_body.cap;
        if (r->up) {
            m->upstream_busy++;
            m->upstream_bytes += moat__upconn_bytes(r->up);
        }
    }
}

static const moat_transport h2_transport = {.name = "h2", .secure = true};

static void flush(moat__h2 *s);
static void flush_now(moat__h2 *s);
static void finish_request(h2_stream *st);

/* ---- events ------------------------------------------------------------- */

/* A connection-level refusal: no request carries it. */
static void conn_event(moat__h2 *s, const char *key, const char *reason)
{
    if (!moat__seclog) return;
    char id[MOAT_REQUEST_ID_LEN + 1];
    moat_request_id(id);
    moat_seclog_event ev = {
        .event = "http.rejected",
        .severity = MOAT_SECLOG_WARNING,
        .request_id = id,
        .client = s->c->peer,
        .reason = reason,
        .stage = "http2",
        .config_key = key,
    };
    moat_seclog_record(moat__seclog, &ev);
}

/* GOAWAY ENHANCE_YOUR_CALM, then the connection closes once it is written. */
static void calm(moat__h2 *s, const char *key, const char *reason)
{
    if (s->shutting) return;
    conn_event(s, key, reason);
    nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s->ng),
                          NGHTTP2_ENHANCE_YOUR_CALM, NULL, 0);
    s->shutting = true;
}

static bool count(moat__h2 *s, uint64_t *counter, uint64_t limit)
{
    uint64_t now = moat_now_ms();
    if (now - s->window_start >= FLOOD_WINDOW_MS) {
        s->window_start = now;
        s->resets = s->control = 0;
    }
    return ++*counter > limit;
}

/* ---- streams and their requests ----------------------------------------- */

static const moat_sink h2_sink;

static h2_stream *stream_new(moat__h2 *s, int32_t id)
{
    h2_stream *st = s->spare;
    moat_arena *arena;
    moat_buf out;
    if (st) { /* as new: zeroed, with its arena's first block and its empty
               * response buffer (stream_free reset both) */
        s->spare = st->next_spare;
        s->nspare--;
        arena = st->c.arena;
        out = st->out;
        memset(st, 0, sizeof(*st));
    } else {
        st = moat_xcalloc(1, sizeof(*st));
        arena = moat_arena_new();
        moat_buf_init(&out);
    }
    moat_client *c = &st->c;
    c->w = s->c->w;
    c->rt = s->c->rt; /* borrowed: the connection outlives its streams */
    c->arena = arena;
    c->h2 = st;
    c->conn.tp = &h2_transport;
    memcpy(c->peer, s->c->peer, sizeof(c->peer));
    c->local_port = s->c->local_port;
    moat__list_init(&c->link);
    st->s = s;
    st->id = id;
    uint64_t now = moat_now_ms();
    st->started_ms = st->last_in_ms = st->last_out_ms = now;
    moat_buf_init(&st->body_in);
    st->out = out;
    moat__list_add(&s->streams, &st->link);
    s->nstreams++;
    moat_request *r = moat_arena_calloc(c->arena, sizeof(*r));
    r->c = c;
    r->w = c->w;
    r->sink = &h2_sink;
    r->sink_owner = s->c;
    r->arena = c->arena;
    r->rt = moat__runtime_ref(c->w->rt);
    r->start_ms = now;
    r->state = REQ_HEAD;
    r->https = true;
    r->log_mark = moat_seclog_recorded_here();
    moat_request_id(r->id);
    c->req = r;
    nghttp2_session_set_stream_user_data(s->ng, id, st);
    return st;
}

static void request_free(h2_stream *st)
{
    moat_request *r = st->c.req;
    if (!r) return;
    if (r->up || r->waiting) moat__upstream_detach(r);
    moat_buf_free(&r->held_body);
    moat__runtime_unref(r->rt);
    st->c.req = NULL;
    moat_arena_reset(st->c.arena);
    st->fields = NULL;
    st->nfields = st->capfields = 0;
}

/* The request is over for the stages (the response was handed to nghttp2,
 * or the stream went away): the access log, then its memory. The stream
 * itself lives until nghttp2 closes it. */
static void finish_request(h2_stream *st)
{
    moat_request *r = st->c.req;
    if (!r) return;
    if (r->resp_head_sent || r->head) moat__pipeline_done(r);
    request_free(st);
}

static void stream_free(h2_stream *st)
{
    finish_request(st);
    moat__list_del(&st->link);
    st->s->nstreams--;
    if (st->s->nstreams == 0) {
        st->s->idle_since = moat_now_ms();
        if (st->s->draining) st->s->shutting = true; /* flush closes once it is written */
    }
    moat_buf_free(&st->body_in);
    moat__h2 *s = st->s;
    if (s->nspare < SPARE_STREAMS) {
        moat_arena_reset(st->c.arena);
        moat_buf_reset(&st->out);
        if (st->out.cap > OUT_KEEP_BYTES) moat_buf_free(&st->out);
        st->next_spare = s->spare;
        s->spare = st;
        s->nspare++;
        return;
    }
    moat_buf_free(&st->out);
    moat_arena_free(st->c.arena);
    free(st);
}

static void spares_free(moat__h2 *s)
{
    while (s->spare) {
        h2_stream *st = s->spare;
        s->spare = st->next_spare;
        moat_buf_free(&st->out);
        moat_arena_free(st->c.arena);
        free(st);
    }
    s->nspare = 0;
}

static void reset_stream(h2_stream *st, uint32_t code)
{
    if (st->c.closing) return;
    st->c.closing = true;
    nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id, code);
    finish_request(st);
    flush(st->s);
}

/* Body bytes and the end, as far as the stages take them (client.c's
 * parser callbacks on_body and on_end). */
static void deliver(h2_stream *st)
{
    if (st->delivering) return;
    st->delivering = true;
    moat__h2 *s = st->s;
    for (;;) {
        moat_request *r = st->c.req;
        if (!r || r->resp_done || st->paused || st->backpressure || !r->head) break;
        if (st->body_in.len) {
            size_t len = st->body_in.len;
            int rc = moat__pipeline_request_body(r, st->body_in.data, len);
            moat_buf_consume(&st->body_in, len);
            nghttp2_session_consume(s->ng, st->id, len);
            if (!st->c.req || st->c.req != r || r->resp_done) break;
            if (rc == MOAT_AGAIN) {
                st->paused = true;
                break;
            }
            if (rc != MOAT_PASS) break;
            continue;
        }
        if (st->end_in && !st->end_given) {
            st->end_given = true;
            if (r->head->content_length >= 0 && st->received != (uint64_t)r->head->content_length) {
                moat__refusal(r, "http.rejected", "http", NULL);
                moat__client_respond_error(r, 400, "Content-Length disagrees with the DATA sent");
                break;
            }
            r->state = REQ_DONE;
            moat__pipeline_request_end(r);
        }
        break;
    }
    st->delivering = false;
}

/* ---- the head ----------------------------------------------------------- */

static int on_parsed(void *ud, moat_http_head *head)
{
    moat__h2 *s = ud;
    s->parsed = head;
    return MOAT_EAGAIN; /* the body is the stream's, not the parser's */
}

static int on_parsed_body(void *ud, const char *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
    return MOAT_EAGAIN;
}

static int on_parsed_end(void *ud)
{
    (void)ud;
    return MOAT_EAGAIN;
}

static const moat_http_parser_cbs parse_cbs = {on_parsed, on_parsed_body, on_parsed_end};

/* client.c's drop_underscore_headers: WSGI reads '_' as '-'. */
static void drop_underscore_headers(moat_http_head *head)
{
    size_t w = 0;
    for (size_t i = 0; i < head->nheaders; i++) {
        if (memchr(head->headers[i].name, '_', head->headers[i].name_len)) continue;
        head->headers[w++] = head->headers[i];
    }
    head->nheaders = w;
}

static void refuse(moat_request *r, int status, const char *key, const char *reason)
{
    moat__refusal(r, "http.rejected", key ? "limits" : "http", key);
    moat__client_respond_error(r, status, reason);
}

/* The header list is complete: the HTTP/1.1 head it stands for, then the
 * request-head stages (client.c's on_head). */
static void stream_head(h2_stream *st, bool end_stream)
{
    moat__h2 *s = st->s;
    moat_request *r = st->c.req;
    if (!r) return;
    if (st->refuse_status) {
        refuse(r, st->refuse_status, st->refuse_key, st->refuse_why);
        return;
    }
    moat_buf *h1 = &s->h1; /* the parser copies what it keeps into the arena */
    moat_buf_reset(h1);
    moat_buf_reserve(h1, 1024); /* once per connection: most heads fit */
    const char *why = NULL;
    int rc = moat_h2_request_translate(st->fields, st->nfields, h1, &why);
    if (rc == 0) {
        s->parsed = NULL;
        moat_http_parser_reset(s->parser, st->c.arena);
        size_t used = 0;
        rc = moat_http_parser_execute(s->parser, h1->data, h1->len, &used);
    }
    /* Reused by the next stream, unless a large head grew it. */
    if (h1->cap > H1_KEEP_BYTES) moat_buf_free(h1);
    if (why) {
        refuse(r, 400, NULL, why);
        return;
    }
    moat_http_head *head = s->parsed;
    if (!head) {
        int status = rc == MOAT_EHTTP ? moat_http_parser_status(s->parser) : 400;
        const char *reason = rc == MOAT_EHTTP ? moat_http_parser_reason(s->parser) : NULL;
        const char *key = status == 413   ? "limits.body_bytes"
                          : status == 414 ? "limits.url_bytes"
                          : status == 431 ? (reason && strncmp(reason, "too many", 8) == 0
                                                 ? "limits.headers"
                                                 : "limits.header_bytes")
                                          : NULL;
        refuse(r, status, key, reason ? reason : "request head refused");
        return;
    }
    st->fields = NULL; /* arena memory; no longer needed */
    r->head = head;
    const char *q = memchr(head->target, '?', head->target_len);
    r->path =
        q ? moat_arena_strndup(r->arena, head->target, (size_t)(q - head->target)) : head->target;
    /* A body of unknown length goes to the app chunked, as HTTP/1.1 would. */
    r->body_chunked = !end_stream && head->content_length < 0;
    r->expect_continue = false; /* no interim answer over h2: the body comes anyway */
    head->expect_continue = false;
    r->upgrade = false;
    r->nsent_headers = head->nheaders;
    if (head->nheaders && r->rt->waf) {
        moat_http_header *copy =
            moat_arena_alloc(r->arena, head->nheaders * sizeof(moat_http_header));
        memcpy(copy, head->headers, head->nheaders * sizeof(moat_http_header));
        r->sent_headers = copy;
    }
    moat_http_head_strip_hop_by_hop(head);
    drop_underscore_headers(head);
    r->state = end_stream ? REQ_HEAD : REQ_BODY;
    st->paused = true; /* until the head stages pass (moat__h2_continue) */
    moat__pipeline_request_head(r);
}

/* ---- the response ------------------------------------------------------- */

static ssize_t data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *source, void *ud)
{
    (void)ng;
    (void)id;
    (void)ud;
    h2_stream *st = source->ptr;
    size_t avail = st->out.len - st->out_off;
    if (avail == 0 && !st->out_eof) return NGHTTP2_ERR_DEFERRED;
    size_t n = avail < length ? avail : length;
    memcpy(buf, st->out.data + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out.len) {
        moat_buf_reset(&st->out);
        st->out_off = 0;
        if (st->out_eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    st->last_out_ms = moat_now_ms();
    moat_request *r = st->c.req;
    size_t high = (size_t)st->s->c->rt->cfg->limits.client_buffer_bytes;
    if (r && r->up && st->out.len - st->out_off < high / 2) moat__upstream_resume_reading(r->up);
    return (ssize_t)n;
}

/* Writes a head as HEADERS, names lower-cased (RFC 9113 8.2.2). The head
 * has no hop-by-hop field left (moat_http_head_strip_hop_by_hop ran). */
static int submit(h2_stream *st, moat_http_head *resp, bool body)
{
    moat_arena *a = st->c.arena;
    nghttp2_nv *nv = moat_arena_alloc(a, (resp->nheaders + 1) * sizeof(*nv));
    size_t total = 0;
    for (size_t i = 0; i < resp->nheaders; i++)
        total += resp->headers[i].name_len;
    char *names = moat_arena_alloc(a, total + 1), *p = names;
    char status[8];
    if (resp->status >= 100 && resp->status <= 999) { /* always, from the parser or moat */
        status[0] = (char)('0' + resp->status / 100);
        status[1] = (char)('0' + resp->status / 10 % 10);
        status[2] = (char)('0' + resp->status % 10);
        status[3] = '\0';
    } else {
        snprintf(status, sizeof(status), "%d", resp->status);
    }
    size_t n = 0;
    nv[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, strlen(status), 0};
    for (size_t i = 0; i < resp->nheaders; i++) {
        moat_http_header *f = &resp->headers[i];
        for (size_t k = 0; k < f->name_len; k++) {
            char ch = f->name[k];
            p[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
        }
        /* A value new in every response (X-Request-Id) would only push the
         * headers every response repeats out of the HPACK table. */
        uint8_t flags = f->name_len == 12 && memcmp(p, "x-request-id", 12) == 0
                            ? NGHTTP2_NV_FLAG_NO_INDEX
                            : NGHTTP2_NV_FLAG_NONE;
        nv[n++] = (nghttp2_nv){(uint8_t *)p, (uint8_t *)f->value, f->name_len, f->value_len, flags};
        p += f->name_len;
    }
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = data_read};
    st->submitted = true;
    st->last_out_ms = moat_now_ms();
    return nghttp2_submit_response(st->s->ng, st->id, nv, n, body ? &dp : NULL) == 0 ? 0 : MOAT_EIO;
}

static int sink_head(moat_request *r, moat_http_head *resp)
{
    h2_stream *st = r->c->h2;
    if (resp->status < 200) return 0; /* interim heads stay with the app (no 101 over h2) */
    MOAT_BUG_ON(r->hold || r->resp_head_sent); /* R6, R8 */
    moat_http_head_strip_hop_by_hop(resp);
    moat_http_head_set_static(resp, r->arena, "X-Request-Id", r->id);
    r->status = resp->status;
    r->resp_head_sent = true;
    bool body = !resp->no_body && r->head->method_id != HTTP_HEAD;
    if (!body) st->out_eof = st->no_body = true;
    int rc = submit(st, resp, body);
    flush(st->s);
    return rc;
}

static int sink_body(moat_request *r, const char *data, size_t len)
{
    h2_stream *st = r->c->h2;
    if (st->c.closing) return MOAT_ECLOSED;
    if (len == 0 || st->no_body) return 0; /* HEAD, 204, 304: HEADERS ended the stream */
    r->bytes_out += len;
    moat_buf_append(&st->out, data, len);
    nghttp2_session_resume_data(st->s->ng, st->id);
    /* C5 per stream: a stream its client does not read holds this much. */
    if (st->out.len - st->out_off > st->s->c->rt->cfg->limits.client_buffer_bytes && r->up)
        r->up->backpressured = true;
    flush(st->s);
    return 0;
}

static void sink_end(moat_request *r)
{
    h2_stream *st = r->c->h2;
    st->out_eof = true;
    r->resp_done = true;
    nghttp2_session_resume_data(st->s->ng, st->id);
    finish_request(st);
    flush(st->s);
}

static void sink_abort(moat_request *r, int status, const char *reason)
{
    moat__client_respond_error(r, status, reason); /* resets the stream once a head went out */
}

static void sink_pause(moat_request *r, bool on)
{
    h2_stream *st = r->c->h2;
    st->backpressure = on;
    if (!on) deliver(st);
    flush(st->s);
}

static void sink_batch(void *owner, bool on)
{
    moat_client *c = owner;
    if (!c->h2s) return;
    c->h2s->batch += on ? 1 : -1;
    if (!on) flush(c->h2s);
}

static void sink_tunnel(moat_request *r, const char *data, size_t len)
{
    (void)r;
    (void)data;
    (void)len; /* no upgrade over HTTP/2: r->upgrade is never set */
}

static bool sink_parsing(const moat_request *r)
{
    (void)r;
    return false;
}

static const moat_sink h2_sink = {
    .head = sink_head,
    .body = sink_body,
    .end = sink_end,
    .abort = sink_abort,
    .pause = sink_pause,
    .batch = sink_batch,
    .tunnel = sink_tunnel,
    .parsing = sink_parsing,
};

/* moat__client_respond for a stream: moat's own answer (client.c's, with
 * HEADERS and DATA instead of a serialized head). */
void moat__h2_respond(moat_request *r, int status, const char *reason, const char *ctype,
                      const char *body, size_t len, const char *const *hdrs, size_t nhdrs)
{
    h2_stream *st = r->c->h2;
    if (st->c.closing) return;
    if (status != 503 && !r->resp_head_sent && moat__log_refuses(r, false)) {
        moat__client_respond_error(r, 503, MOAT__LOG_REFUSED);
        return;
    }
    if (r->up || r->waiting) moat__upstream_detach(r);
    if (r->resp_head_sent) {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    r->status = status;
    r->error_reason = reason;
    moat_http_head *h = moat__answer_head_new(r, status, ctype, len, hdrs, nhdrs, NULL);
    moat_http_head_strip_hop_by_hop(h);
    bool head_only = r->head && r->head->method_id == HTTP_HEAD;
    if (status == 204 || status == 304) len = 0;
    r->resp_head_sent = true;
    r->bytes_out = head_only ? 0 : len;
    if (!head_only && len) moat_buf_append(&st->out, body, len);
    st->out_eof = true;
    if (submit(st, h, !head_only && len) < 0) {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    r->resp_done = true;
    finish_request(st);
    flush(st->s);
}

void moat__h2_continue(moat_client *c)
{
    h2_stream *st = c->h2;
    if (!st->paused || st->c.closing) return;
    st->paused = false;
    deliver(st);
    flush(st->s);
}

void moat__h2_stream_close(moat_client *c)
{
    reset_stream(c->h2, NGHTTP2_INTERNAL_ERROR);
}

/* ---- nghttp2 callbacks -------------------------------------------------- */

static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *ud)
{
    (void)ng;
    moat__h2 *s = ud;
    if (hd->type == NGHTTP2_HEADERS) s->continuations = 0;
    if (hd->type == NGHTTP2_CONTINUATION && ++s->continuations > MAX_CONTINUATIONS) {
        calm(s, "limits.header_bytes", "HTTP/2 CONTINUATION flood");
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (hd->length == 0 &&
        (hd->type == NGHTTP2_CONTINUATION ||
         (hd->type == NGHTTP2_DATA && !(hd->flags & NGHTTP2_FLAG_END_STREAM)) ||
         (hd->type == NGHTTP2_HEADERS && !(hd->flags & NGHTTP2_FLAG_END_STREAM)))) {
        if (count(s, &s->control, s->c->rt->cfg->limits.http2_control_frames)) {
            calm(s, "limits.http2_control_frames", "HTTP/2 flood of empty frames");
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
    }
    return 0;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    (void)ng;
    moat__h2 *s = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    if (s->shutting) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    stream_new(s, frame->hd.stream_id);
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (!st || !st->c.req) return 0;
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0; /* trailers are dropped */
    if (st->refuse_status) return 0;
    const moat_limits *lim = &st->s->c->rt->cfg->limits;
    /* The decoded list, as RFC 9113 counts it: an HPACK bomb (a small block
     * naming a large table entry many times) ends here. */
    st->field_bytes += namelen + valuelen + 32;
    if (st->field_bytes > lim->header_bytes) {
        st->refuse_status = 431;
        st->refuse_key = "limits.header_bytes";
        st->refuse_why = "HTTP/2 header list over limits.header_bytes";
        return 0;
    }
    if (st->nfields >= lim->headers + 4) { /* the four pseudo-headers are not fields */
        st->refuse_status = 431;
        st->refuse_key = "limits.headers";
        st->refuse_why = "too many header fields";
        return 0;
    }
    if (st->nfields == st->capfields) {
        size_t cap = st->capfields ? st->capfields * 2 : 16;
        moat_h2_field *f = moat_arena_alloc(st->c.arena, cap * sizeof(*f));
        if (st->nfields) memcpy(f, st->fields, st->nfields * sizeof(*f));
        st->fields = f;
        st->capfields = cap;
    }
    st->fields[st->nfields++] = (moat_h2_field){
        .name = moat_arena_strndup(st->c.arena, (const char *)name, namelen),
        .name_len = namelen,
        .value = moat_arena_strndup(st->c.arena, (const char *)value, valuelen),
        .value_len = valuelen,
    };
    return 0;
}

/* A field nghttp2 finds invalid (RFC 9113 8.2: connection-specific, TE
 * other than trailers, bytes a field may not hold): the request is refused
 * with 400 and its event once its header list ends, as an HTTP/1.1 one
 * would be (nghttp2 drops the field; refuse_status makes sure the request
 * never goes on without it). */
static int on_invalid_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                             size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                             void *ud)
{
    (void)value;
    (void)valuelen;
    (void)flags;
    (void)ud;
    h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (!st) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (st->refuse_status) return 0;
    moat_h2_field f = {
        .name = (const char *)name, .name_len = namelen, .value = "", .value_len = 0};
    moat_h2_field list[] = {{":method", "GET", 7, 3},
                            {":scheme", "https", 7, 5},
                            {":path", "/", 5, 1},
                            {":authority", "a", 10, 1},
                            f};
    moat_buf tmp;
    moat_buf_init(&tmp);
    const char *why = NULL;
    /* the translator's words for it when it names one, else nghttp2's verdict */
    if (moat_h2_request_translate(list, 5, &tmp, &why) == 0 || !why)
        why = "field value HTTP/1.1 forbids";
    moat_buf_free(&tmp);
    st->refuse_status = 400;
    st->refuse_why = why;
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (!st || !st->c.req || st->c.req->resp_done) {
        nghttp2_session_consume(ng, id, len); /* answered already: dropped */
        return 0;
    }
    st->received += len;
    st->last_in_ms = moat_now_ms();
    moat_buf_append(&st->body_in, data, len);
    deliver(st);
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    moat__h2 *s = ud;
    const moat_limits *lim = &s->c->rt->cfg->limits;
    switch (frame->hd.type) {
    case NGHTTP2_RST_STREAM:
        if (count(s, &s->resets, lim->http2_resets)) {
            calm(s, "limits.http2_resets", "HTTP/2 rapid reset: too many streams cancelled");
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        return 0;
    case NGHTTP2_SETTINGS:
    case NGHTTP2_PING:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) return 0;
        /* fall through */
    case NGHTTP2_PRIORITY:
        if (count(s, &s->control, lim->http2_control_frames)) {
            calm(s, "limits.http2_control_frames", "HTTP/2 SETTINGS, PING or PRIORITY flood");
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        return 0;
    case NGHTTP2_WINDOW_UPDATE:
        if (frame->window_update.window_size_increment == 0 &&
            count(s, &s->control, lim->http2_control_frames)) {
            calm(s, "limits.http2_control_frames", "HTTP/2 empty WINDOW_UPDATE flood");
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        return 0;
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA:
        break;
    default:
        return 0;
    }
    h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (!st) return 0;
    bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        st->last_in_ms = moat_now_ms();
        st->end_in = end;
        stream_head(st, end);
        if (end) deliver(st);
        return 0;
    }
    if (end) {
        st->end_in = true;
        deliver(st);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    (void)ud;
    h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (!st) return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    /* nghttp2 reset it itself (RFC 9113 8.1.1, 8.2, 8.3: pseudo-headers,
     * field names, a Content-Length DATA contradicts): an event all the
     * same. Its error text may quote a value, so only the kind is logged. */
    moat_request *r = st->c.req;
    if (code == NGHTTP2_PROTOCOL_ERROR && r && !st->c.closing && !r->resp_head_sent) {
        moat__refusal(r, "http.rejected", "http", NULL);
        moat__security_event(r, 400,
                             "HTTP/2 stream reset: a request HTTP/1.1 cannot carry unambiguously "
                             "(pseudo-headers, field names, or Content-Length against DATA)");
    }
    stream_free(st);
    return 0;
}

/* ---- the connection ----------------------------------------------------- */

/* Frames leave once per turn of the loop (H3): what the reads of one poll
 * produced (many streams' responses from many upstream reads) goes out in
 * one write, at the next idle phase. */
static void on_idle(uv_idle_t *h)
{
    moat__h2 *s = h->data;
    uv_idle_stop(h);
    if (!s) return;
    s->flush_due = false;
    flush_now(s);
}

static void flush(moat__h2 *s)
{
    if (s->flush_due || s->c->closing) return;
    s->flush_due = true;
    uv_idle_start(s->idle, on_idle);
}

static void idle_closed(uv_handle_t *h)
{
    free(h);
}

static void flush_now(moat__h2 *s)
{
    moat_client *c = s->c;
    if (s->in_recv || s->batch > 0 || s->flushing || c->closing) return;
    s->flushing = true;
    int rc = 0;
    while (rc == 0 && !moat_conn_congested(&c->conn)) { /* K4: stop producing */
        const uint8_t *data;
        ssize_t n;
        while (s->wbuf.len < WRITE_CHUNK && (n = nghttp2_session_mem_send(s->ng, &data)) > 0)
            moat_buf_append(&s->wbuf, data, (size_t)n);
        if (s->wbuf.len == 0) break;
        uv_buf_t b = uv_buf_init(s->wbuf.data, (unsigned)s->wbuf.len);
        rc = moat_conn_write(&c->conn, &b, 1);
        moat_buf_reset(&s->wbuf);
        if (c->conn.write_pending == 0) s->last_write_ms = moat_now_ms();
    }
    s->flushing = false;
    if (rc < 0 || (!nghttp2_session_want_read(s->ng) && !nghttp2_session_want_write(s->ng)) ||
        (s->shutting && !nghttp2_session_want_write(s->ng) && c->conn.write_pending == 0)) {
        moat__client_abort(c);
    }
}

static void on_tick(moat_deadline *d);

static void arm_tick(moat__h2 *s)
{
    moat_deadline_set(&s->c->conn.timer, TICK_MS, on_tick);
}

/* The deadlines of the connection and of each stream (C2 per stream). */
static void on_tick(moat_deadline *d)
{
    moat_client *c = d->data;
    moat__h2 *s = c->h2s;
    if (c->closing || !s) return;
    const moat_limits *lim = &c->rt->cfg->limits;
    uint64_t now = moat_now_ms();
    if (c->conn.write_pending && now - s->last_write_ms > lim->send_timeout_ms) {
        conn_event(s, "limits.send_timeout",
                   "client did not read the response in limits.send_timeout");
        moat__client_abort(c);
        return;
    }
    if (s->nstreams == 0 && !s->flushing && s->wbuf.len == 0) {
        /* No stream open at a tick: what is kept for the next ones is given
         * back, so an idle connection holds no more than before its first. */
        spares_free(s);
        moat_buf_free(&s->h1);
        moat_buf_free(&s->wbuf);
    }
    if (s->nstreams == 0 && now - s->idle_since > lim->keepalive_timeout_ms) {
        nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(s->ng), NGHTTP2_NO_ERROR,
                              NULL, 0);
        s->shutting = true;
        flush_now(s);
        if (c->closing) return;
        moat__client_abort(c);
        return;
    }
    moat_link *l = s->streams.next;
    while (l != &s->streams) {
        h2_stream *st = MOAT_CONTAINER_OF(l, h2_stream, link);
        l = l->next;
        moat_request *r = st->c.req;
        if (st->c.closing) continue;
        if (r && !r->head && !r->resp_head_sent && now - st->started_ms > lim->header_timeout_ms) {
            refuse(r, 408, "limits.header_timeout",
                   "request head not received in limits.header_timeout");
            /* A header block never ended holds the connection (nothing may
             * come between its frames): it closes once the 408 is out. */
            nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(s->ng), NGHTTP2_NO_ERROR,
                                  NULL, 0);
            s->shutting = true;
        } else if (r && r->head && r->state == REQ_BODY && !st->end_in && !st->paused &&
                   !st->backpressure && !r->resp_done &&
                   now - st->last_in_ms > lim->body_timeout_ms) {
            refuse(r, 408, "limits.body_timeout", "request body idle over limits.body_timeout");
        } else if (!r && st->out_eof && st->out.len == st->out_off && !st->end_in &&
                   now - st->last_in_ms > lim->body_timeout_ms) {
            /* Answered before the request was read whole (a refused
             * upload) and the client goes on sending nothing: the stream
             * is let go (RFC 9113 8.1: RST_STREAM NO_ERROR after the
             * response). Not at once: some clients take that for a failure. */
            reset_stream(st, NGHTTP2_NO_ERROR);
        } else if (st->submitted && st->out.len > st->out_off &&
                   now - st->last_out_ms > lim->send_timeout_ms) {
            /* The stream's window stays shut: its client does not read it. */
            if (r) {
                moat__refusal(r, "http.rejected", "limits", "limits.send_timeout");
                moat__security_event(r, r->status,
                                     "client did not read the response in limits.send_timeout");
            } else {
                conn_event(s, "limits.send_timeout",
                           "client did not read a stream's response in limits.send_timeout");
            }
            reset_stream(st, NGHTTP2_CANCEL);
        }
        if (c->closing) return;
    }
    flush(s);
    if (!c->closing) arm_tick(s);
}

bool moat__h2_wanted(moat_client *c)
{
    return c->conn.tp == &moat_transport_tls && c->conn.tp_state &&
           moat_tls_conn_h2(c->conn.tp_state);
}

void moat__h2_start(moat_client *c)
{
    moat__h2 *s = moat_xcalloc(1, sizeof(*s));
    s->c = c;
    c->h2s = s;
    moat__list_init(&s->streams);
    moat_buf_init(&s->wbuf);
    moat_buf_init(&s->h1);
    s->idle = moat_xcalloc(1, sizeof(*s->idle));
    uv_idle_init(&c->w->loop, s->idle);
    s->idle->data = s;
    s->idle_since = s->last_write_ms = s->window_start = moat_now_ms();
    s->parser =
        moat_http_parser_new(MOAT_HTTP_REQUEST, &c->rt->req_limits, &parse_cbs, s, c->arena);
    const moat_limits *lim = &c->rt->cfg->limits;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_invalid_header_callback(cb, on_invalid_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 1); /* given back as the stages take it */
    nghttp2_option_set_no_closed_streams(opt, 1);
    nghttp2_option_set_max_continuations(opt, MAX_CONTINUATIONS * 2); /* ours fires first */
    /* nghttp2's own rapid-reset bucket, behind ours (which logs). */
    nghttp2_option_set_stream_reset_rate_limit(opt, lim->http2_resets * 2,
                                               lim->http2_resets / 5 + 1);
    nghttp2_option_set_max_outbound_ack(opt, 100);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    nghttp2_session_server_new2(&s->ng, cb, s, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)lim->http2_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)lim->header_bytes},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 4096},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, MOAT_ARRAY_LEN(iv));
    nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
    arm_tick(s);
}

void moat__h2_read(moat_client *c)
{
    moat__h2 *s = c->h2s;
    if (s->shutting) { /* read and dropped until GOAWAY is out */
        moat_buf_reset(&c->conn.in);
        return;
    }
    s->in_recv = true;
    ssize_t n = nghttp2_session_mem_recv(s->ng, (const uint8_t *)c->conn.in.data, c->conn.in.len);
    s->in_recv = false;
    if (c->closing) return;
    moat_buf_reset(&c->conn.in);
    if (n < 0) {
        if (!s->shutting) conn_event(s, NULL, nghttp2_strerror((int)n));
        s->shutting = true;
        /* nghttp2 queued GOAWAY for a protocol error; a callback failure needs one */
        if (n == NGHTTP2_ERR_CALLBACK_FAILURE)
            nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(s->ng),
                                  NGHTTP2_ENHANCE_YOUR_CALM, NULL, 0);
    }
    flush(s);
}

void moat__h2_written(moat_client *c)
{
    moat__h2 *s = c->h2s;
    s->last_write_ms = moat_now_ms();
    if (moat_conn_drained(&c->conn)) flush(s);
}

/* The connection closes: every stream's request ends (C7), then the session. */
void moat__h2_close(moat_client *c)
{
    moat__h2 *s = c->h2s;
    if (!s) return;
    while (!moat__list_empty(&s->streams)) {
        h2_stream *st = MOAT_CONTAINER_OF(s->streams.next, h2_stream, link);
        st->c.closing = true;
        nghttp2_session_set_stream_user_data(s->ng, st->id, NULL);
        stream_free(st);
    }
    spares_free(s);
    nghttp2_session_del(s->ng);
    s->idle->data = NULL;
    uv_close((uv_handle_t *)s->idle, idle_closed);
    moat_http_parser_free(s->parser);
    moat_buf_free(&s->wbuf);
    moat_buf_free(&s->h1);
    free(s);
    c->h2s = NULL;
}

/* The worker drains: no new stream, the open ones finish (GOAWAY with the
 * last stream taken). */
void moat__h2_drain(moat_client *c)
{
    moat__h2 *s = c->h2s;
    if (s->draining || s->shutting) return;
    s->draining = true;
    nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
    if (s->nstreams == 0) s->shutting = true;
    flush(s);
}
