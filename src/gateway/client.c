/* client.c - a client connection: reading and parsing requests, the timers
 * (head, body idle, keep-alive), writing responses with the right framing,
 * moat's own error answers, keep-alive and pipelining, and WebSocket tunnels,
 * over the connection layer (src/net/conn.c: the socket, TLS, buffers).
 * Parsing and pipeline work never re-enter: anything that ends a request
 * while the parser runs is finished after the parser returns. The rules it
 * keeps are docs/internals/gateway.md's C and R rules. */
#include <http_parser.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "metrics.h"

#define READ_CHUNK 65536 /* what update_reading lets wait in conn.in beyond a head */
#define LINGER_MS 5000   /* a lingering close reads and drops the client's bytes this long */
/* On SIGTERM a connection between requests is closed once idle this long
 * since its last response: a keep-alive client in the middle of a run sends
 * its next request first and gets it answered with Connection: close. */
#define DRAIN_IDLE_MS 1000

static void process(moat_client *c);
static void update_reading(moat_client *c);
static void watch_send(moat_client *c);
static bool finish_request(moat_client *c);
static void arm(moat_client *c, uint64_t ms);

/* ---- quiet connections (no request bytes yet) ---------------------------- */

static void quiet_add(moat_client *c)
{
    if (c->quiet) return;
    c->quiet = true;
    c->quiet_ms = moat_now_ms();
    moat__list_add(&c->w->quiet, &c->quiet_link);
}

static void quiet_del(moat_client *c)
{
    if (!c->quiet) return;
    c->quiet = false;
    moat__list_del(&c->quiet_link);
}

/* One event and one warning per episode of pressure, not one per
 * connection: an episode ends when the worker is down to half its cap. */
static void crowded_begin(moat_worker *w)
{
    if (w->crowded) return;
    w->crowded = true;
    uint64_t cap = w->rt->cfg->limits.connections;
    moat_warn("worker %u: limits.connections (%llu) reached: closing connections that sent "
              "nothing, oldest first",
              w->index, (unsigned long long)cap);
    if (!moat__seclog) return;
    char limit[24], worker[16];
    snprintf(limit, sizeof(limit), "%llu", (unsigned long long)cap);
    snprintf(worker, sizeof(worker), "%u", w->index);
    moat_seclog_field f[] = {{"limit", limit}, {"worker", worker}};
    moat_seclog_event ev = {
        .event = "connections.crowded",
        .severity = MOAT_SECLOG_WARNING,
        .reason = "a worker reached limits.connections: connections that have sent nothing "
                  "are closed, oldest first, to admit new ones",
        .stage = "limits",
        .config_key = "limits.connections",
        .fields = f,
        .nfields = 2,
    };
    moat_seclog_record(moat__seclog, &ev);
}

/* Over the cap: closes the oldest connection that has sent nothing (not
 * one whose first bytes wait unread). False when there is none. */
static bool make_room(moat_worker *w)
{
    crowded_begin(w);
    moat_link *l = w->quiet.prev;
    for (int tries = 0; tries < 16 && l != &w->quiet; tries++) {
        moat_client *old = MOAT_CONTAINER_OF(l, moat_client, quiet_link);
        l = l->prev;
        if (!moat_conn_quiet(&old->conn)) continue;
        moat__client_close(old);
        return true;
    }
    return false;
}

/* ---- lifetime ---------------------------------------------------------- */

static void request_free(moat_client *c)
{
    moat_request *r = c->req;
    if (!r) return;
    if (r->up || r->waiting) moat__upstream_detach(r);
    moat_buf_free(&r->held_body);
    moat__runtime_unref(r->rt);
    c->req = NULL;
    moat_arena_reset(c->arena);
}

static const moat_sink client_sink;

static moat_request *request_new(moat_client *c)
{
    MOAT_BUG_ON(c->req || c->closing); /* C3: one request at a time */
    moat_request *r = moat_arena_calloc(c->arena, sizeof(*r));
    r->c = c;
    r->w = c->w;
    r->sink = &client_sink;
    r->sink_owner = c;
    r->arena = c->arena;
    r->rt = moat__runtime_ref(c->w->rt);
    r->start_ms = moat_now_ms();
    r->state = REQ_HEAD;
    r->https = c->conn.tp->secure;
    r->log_mark = moat_seclog_recorded_here();
    moat_request_id(r->id);
    c->req = r;
    return r;
}

/* After a burst of connections (slow readers, a flood) glibc keeps the
 * freed memory in its arenas: give it back to the system once the worker's
 * clients fall to a quarter of their peak (at most once a second) or to
 * none. Asked here, done at the worker's next wakeup, after the close
 * callbacks of this turn of the loop freed the upstream connections too. */
static void trim_memory(moat_worker *w)
{
#ifdef __GLIBC__
    if (w->nclients > w->trim_peak) w->trim_peak = w->nclients;
    if (w->trim_peak < 16 || w->nclients > w->trim_peak / 4) return;
    uint64_t now = moat_now_ms();
    if (w->nclients > 0 && now - w->trim_ms < 1000) return;
    w->trim_ms = now;
    w->trim_peak = w->nclients;
    if (w->draining || uv_is_closing((uv_handle_t *)&w->wakeup)) return;
    w->trim_due = true;
    uv_async_send(&w->wakeup);
#else
    (void)w;
#endif
}

void moat__worker_trim(moat_worker *w)
{
    if (!w->trim_due) return;
    w->trim_due = false;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* ---- what the connections hold (metrics) ------------------------------- */

static uint64_t conn_bytes(const moat_conn *c)
{
    return c->in.cap + c->raw.cap + c->out.cap + c->write_pending;
}

uint64_t moat__upconn_bytes(const moat_upconn *u)
{
    return sizeof(*u) + conn_bytes(&u->conn) + moat_arena_bytes(u->arena);
}

/* O(connections + HTTP/2 streams) on the worker's loop, once a
 * MOAT__METRICS_MEM_MS: a few cache misses each. h2.c counts what a
 * session's streams hold, their upstream connections included. */
void moat__worker_memory(moat_worker *w, moat__worker_mem *m)
{
    memset(m, 0, sizeof(*m));
    for (moat_link *l = w->clients.next; l != &w->clients; l = l->next) {
        const moat_client *c = MOAT_CONTAINER_OF(l, moat_client, link);
        m->clients++;
        m->clients_quiet += c->quiet;
        m->h2_sessions += c->h2s != NULL;
        if (c->h2s) moat__h2_memory(c->h2s, m);
        m->client_bytes += sizeof(*c) + conn_bytes(&c->conn) + moat_arena_bytes(c->arena);
        if (!c->req) continue;
        m->client_bytes += c->req->held_body.cap;
        if (c->req->up) {
            m->upstream_busy++;
            m->upstream_bytes += moat__upconn_bytes(c->req->up);
        }
    }
    for (size_t i = 0; i < w->nidle_lists; i++)
        for (moat_link *l = w->idle[i].next; l != &w->idle[i]; l = l->next) {
            m->upstream_idle++;
            m->upstream_bytes += moat__upconn_bytes(MOAT_CONTAINER_OF(l, moat_upconn, link));
        }
}

static void on_conn_closed(moat_conn *conn)
{
    moat_client *c = conn->owner;
    moat_worker *w = c->w;
    moat_http_parser_free(c->parser);
    moat_arena_free(c->arena);
    moat__runtime_unref(c->rt);
    free(c);
    trim_memory(w);
}

void moat__client_close(moat_client *c)
{
    if (c->h2) {
        moat__h2_stream_close(c); /* a stream's stand-in: its stream is reset */
        return;
    }
    if (c->closing) return;
    c->closing = true;
    if (c->h2s) moat__h2_close(c);
    if (c->req) {
        if (c->req->resp_head_sent || c->req->head) moat__pipeline_done(c->req);
        request_free(c);
    }
    moat__list_del(&c->link);
    quiet_del(c);
    c->w->nclients--;
    if (c->w->crowded && c->w->nclients <= c->w->rt->cfg->limits.connections / 2)
        c->w->crowded = false;
    moat__metrics_conn(c->w, -1);
    if (c->linger)
        moat_conn_close_lingering(&c->conn, LINGER_MS);
    else
        moat_conn_close(&c->conn);
    MOAT_BUG_ON(c->req); /* C7 */
    moat__worker_check_drained(c->w);
}

/* Closes once everything queued has been written. */
static void close_when_flushed(moat_client *c)
{
    c->close_after = true;
    if (c->conn.write_pending == 0 && !c->conn.corked)
        moat__client_close(c); /* else: at uncork/written */
}

void moat__client_abort(moat_client *c)
{
    c->linger = false;
    moat__client_close(c);
}

static void on_client_written(moat_conn *conn, int status)
{
    moat_client *c = conn->owner;
    if (status < 0) {
        moat__client_close(c);
        return;
    }
    if (c->closing) return;
    if (c->h2s) {
        moat__h2_written(c);
        return;
    }
    if (c->close_after && c->conn.write_pending == 0 && !c->req) {
        moat__client_close(c);
        return;
    }
    watch_send(c); /* progress */
    if (c->req && c->req->up && moat_conn_drained(&c->conn))
        moat__upstream_resume_reading(c->req->up);
}

static int client_write(moat_client *c, const uv_buf_t *bufs, unsigned n)
{
    if (c->closing) return MOAT_ECLOSED;
    int rc = moat_conn_write(&c->conn, bufs, n); /* collected while corked */
    if (rc < 0)
        moat__client_close(c);
    else if (!c->send_wait && c->conn.write_pending)
        watch_send(c);
    return rc;
}

/* ---- timers ------------------------------------------------------------ */

static void on_timer(moat_deadline *d)
{
    moat_client *c = d->data;
    moat_request *r = c->req;
    if (c->closing) return;
    if (!r || (!c->got_bytes && r->state == REQ_HEAD)) {
        if (!moat_conn_quiet(&c->conn)) {
            /* a request's first bytes came as it timed out: read them */
            arm(c, c->rt->cfg->limits.header_timeout_ms);
            return;
        }
        moat__client_close(c); /* idle keep-alive connection: close quietly */
        return;
    }
    c->timed_out = true; /* a client too slow to send gets no lingering close */
    if (r->state == REQ_HEAD) {
        moat__refusal(r, "http.rejected", "limits", "limits.header_timeout");
        moat__client_respond_error(r, 408, "request head not received in limits.header_timeout");
    } else if (r->state == REQ_BODY) {
        moat__refusal(r, "http.rejected", "limits", "limits.body_timeout");
        moat__client_respond_error(r, 408, "request body idle over limits.body_timeout");
    }
}

static void arm(moat_client *c, uint64_t ms)
{
    c->send_wait = false;
    moat_deadline_set(&c->conn.timer, ms, on_timer);
}

/* The client left what is queued for it unread for limits.send_timeout. */
static void on_send_timer(moat_deadline *d)
{
    moat_client *c = d->data;
    if (c->closing) return;
    moat_request *r = c->req;
    if (r) {
        moat__refusal(r, "http.rejected", "limits", "limits.send_timeout");
        moat__security_event(r, r->resp_head_sent ? r->status : 408,
                             "client did not read the response in limits.send_timeout");
    }
    moat__client_close(c);
}

/* While bytes wait for the client and the deadline is not counting
 * anything else (C2: the app works, or the response is going out), it
 * counts limits.send_timeout from the last progress. */
static void watch_send(moat_client *c)
{
    if (c->closing) return;
    if (c->conn.write_pending == 0) {
        if (c->send_wait) {
            c->send_wait = false;
            moat_deadline_stop(&c->conn.timer);
        }
        return;
    }
    if (!c->send_wait && c->conn.timer.due != 0) return;
    c->send_wait = true;
    moat_deadline_set(&c->conn.timer, c->rt->cfg->limits.send_timeout_ms, on_send_timer);
}

/* ---- parser callbacks -------------------------------------------------- */

/* WSGI servers map '-' and '_' to the same environ key, so "X_Forwarded_For"
 * would reach the app as X-Forwarded-For (and "Remote_User" as Remote-User)
 * past every check made on the dashed name. Like nginx by default, such
 * headers are dropped. */
static void drop_underscore_headers(moat_http_head *head)
{
    size_t w = 0;
    for (size_t i = 0; i < head->nheaders; i++) {
        if (memchr(head->headers[i].name, '_', head->headers[i].name_len)) continue;
        head->headers[w++] = head->headers[i];
    }
    head->nheaders = w;
}

static int on_head(void *ud, moat_http_head *head)
{
    moat_client *c = ud;
    moat_request *r = c->req;
    r->head = head;
    const char *q = memchr(head->target, '?', head->target_len);
    r->path =
        q ? moat_arena_strndup(r->arena, head->target, (size_t)(q - head->target)) : head->target;
    r->body_chunked = head->chunked;
    r->expect_continue = head->expect_continue;
    r->upgrade = head->upgrade; /* a WebSocket handshake (http/check.c) */
    r->upgrade_value = r->upgrade ? "websocket" : NULL;
    if (head->upgrade_refused) moat__upgrade_refused(r);
    /* Hop-by-hop headers go before any stage runs, so a client cannot name
     * a header a stage sets (Connection: X-Forwarded-For) and have it
     * stripped on the way out. The WAF inspects them all the same (920210
     * reads Connection, 920180 Transfer-Encoding): it gets the list as sent. */
    r->nsent_headers = head->nheaders;
    if (head->nheaders && r->rt->waf) { /* only the WAF reads them */
        moat_http_header *copy =
            moat_arena_alloc(r->arena, head->nheaders * sizeof(moat_http_header));
        memcpy(copy, head->headers, head->nheaders * sizeof(moat_http_header));
        r->sent_headers = copy;
    } else {
        r->sent_headers = NULL;
    }
    moat_http_head_strip_hop_by_hop(head);
    drop_underscore_headers(head);
    r->state = (head->chunked || head->content_length > 0) ? REQ_BODY : REQ_HEAD;
    arm(c, 0);
    c->parse_paused = true;
    moat__pipeline_request_head(r);
    if (c->closing || !c->req || c->req->resp_done) return MOAT_ECLOSED;
    return c->parse_paused ? MOAT_EAGAIN : 0;
}

static int on_body(void *ud, const char *data, size_t len)
{
    moat_client *c = ud;
    moat_request *r = c->req;
    int rc = moat__pipeline_request_body(r, data, len);
    if (c->closing || r->resp_done) return MOAT_ECLOSED;
    if (rc == MOAT_AGAIN) {
        /* a stage holds the body: read no more until it resumes us */
        c->parse_paused = true;
        return MOAT_EAGAIN;
    }
    if (rc != MOAT_PASS) return MOAT_ECLOSED;
    return 0;
}

static int on_end(void *ud)
{
    moat_client *c = ud;
    moat_request *r = c->req;
    r->state = REQ_DONE;
    arm(c, 0);
    if (moat__pipeline_request_end(r) != MOAT_PASS) return MOAT_ECLOSED;
    if (c->closing) return MOAT_ECLOSED;
    return MOAT_EAGAIN;
}

static const moat_http_parser_cbs parser_cbs = {on_head, on_body, on_end};

/* ---- reading ----------------------------------------------------------- */

static void on_conn_read(moat_conn *conn, int status)
{
    moat_client *c = conn->owner;
    if (status < 0) {
        /* EOF, a reset, a bad TLS record or close_notify: nothing to answer
         * (a request cut mid-body drops its upstream with the client). */
        moat__client_close(c);
        return;
    }
    if (c->h2s) {
        moat__h2_read(c);
        return;
    }
    if (!c->req && !c->got_bytes && c->requests == 0 && moat__h2_wanted(c)) {
        moat__h2_start(c); /* ALPN chose h2: the session owns the connection from here */
        moat__h2_read(c);
        return;
    }
    moat_request *r = c->req;
    if (r && r->tunnel) {
        if (r->up) moat__upstream_tunnel_data(r->up, c->conn.in.data, c->conn.in.len);
        moat_buf_reset(&c->conn.in);
        return;
    }
    process(c);
}

/* The parser refused the request: a limit it enforces, or bytes that are
 * not clean HTTP/1.1. */
static void parser_refused(moat_request *r)
{
    const moat_http_parser *p = r->c->parser;
    int status = moat_http_parser_status(p);
    const char *reason = moat_http_parser_reason(p), *key = NULL;
    /* A client speaking another protocol, or a method or expectation moat
     * does not serve, is named apart from broken HTTP (docs/events.md). */
    static const char preface[] = "PRI * HTTP/2.0";
    const moat_buf *in = &r->c->conn.in;
    const char *event = NULL;
    if (status == 501 && in->len >= 4 &&
        memcmp(in->data, preface, in->len < sizeof(preface) - 1 ? in->len : sizeof(preface) - 1) ==
            0) {
        event = "http.h2_refused";
        reason = "HTTP/2 connection preface (prior knowledge) on an HTTP/1.1 listener";
    } else if (status == 501 || status == 405) {
        event = "http.method_refused";
    } else if (status == 505) {
        event = "http.version_refused";
    } else if (status == 417) {
        event = "http.expect_refused";
    }
    if (event) {
        moat__refusal(r, event, "http", NULL);
        moat__client_respond_error(r, status, reason);
        return;
    }
    switch (status) {
    case 413:
        key = "limits.body_bytes";
        break;
    case 414:
        key = "limits.url_bytes";
        break;
    case 431:
        /* The parser says which of its two head limits this was only in
         * words (scan.c: "too many header fields"). */
        key = reason && strncmp(reason, "too many", 8) == 0 ? "limits.headers"
                                                            : "limits.header_bytes";
        break;
    }
    moat__refusal(r, "http.rejected", key ? "limits" : "http", key);
    moat__client_respond_error(r, status, reason);
}

static void update_reading(moat_client *c)
{
    if (c->closing) return;
    moat_request *r = c->req;
    /* Keep reading while a request waits (no epoll change per request, and a
     * client that goes away is noticed); what arrives early waits in c->conn.in,
     * bounded by in_cap. */
    size_t in_cap = (size_t)c->rt->cfg->limits.header_bytes + READ_CHUNK;
    bool want = !c->backpressured && !c->close_after && c->conn.in.len < in_cap;
    if (r && r->tunnel) want = !c->backpressured;
    moat_conn_read(&c->conn, want);
}

static void process(moat_client *c)
{
    if (c->in_parser) return; /* the running loop below picks the change up */
    for (;;) {
        if (c->closing) return;
        moat_request *r = c->req;
        if (!r && c->close_after) break; /* closing once the last response is out */
        if (r && r->resp_done) {
            if (!finish_request(c)) return;
            continue;
        }
        /* After a pause the parser may hold events (a bodiless request's end)
         * that it delivers on an empty execute: the kick. */
        if ((c->conn.in.len == 0 && !c->kick) || c->parse_paused) break;
        c->kick = false;
        if (r && (r->tunnel || r->state == REQ_DONE)) break;
        if (!r) r = request_new(c);
        if (!c->got_bytes) {
            c->got_bytes = true;
            quiet_del(c);
            arm(c, r->rt->cfg->limits.header_timeout_ms);
        }
        size_t used = 0;
        c->in_parser = true;
        int rc = moat_http_parser_execute(c->parser, c->conn.in.data, c->conn.in.len, &used);
        c->in_parser = false;
        if (c->closing) return;
        moat__upstream_flush(r);
        if (c->closing) return;
        moat_buf_consume(&c->conn.in, used);
        if (r->expect_continue && r->state == REQ_BODY && !c->parse_paused && r->body_in == 0 &&
            c->conn.in.len == 0 && !r->resp_done) {
            /* Every stage passed and the upstream is ready: ask for the body. */
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            uv_buf_t b = uv_buf_init((char *)cont, sizeof(cont) - 1);
            r->expect_continue = false;
            if (client_write(c, &b, 1) < 0) return;
        }
        if (rc == 0) {
            if (r->state == REQ_BODY && !c->parse_paused)
                arm(c, r->rt->cfg->limits.body_timeout_ms);
            continue;
        }
        if (rc == MOAT_EHTTP && !r->resp_done) {
            c->close_after = true;
            parser_refused(r);
        }
        /* MOAT_EAGAIN: paused by the pipeline or after the message; any
         * other code: a callback answered. The loop head sorts it out. */
    }
    update_reading(c);
}

/* ---- called by the pipeline and the upstream side ------------------------ */

void moat__client_continue(moat_client *c)
{
    if (c->h2) {
        moat__h2_continue(c);
        return;
    }
    moat_request *r = c->req;
    if (!c->parse_paused || c->closing) return;
    c->parse_paused = false;
    moat_http_parser_resume(c->parser);
    c->kick = true;
    if (r && r->state == REQ_BODY) arm(c, r->rt->cfg->limits.body_timeout_ms);
    process(c);
}

void moat__client_cork(moat_client *c)
{
    moat_conn_cork(&c->conn);
}

void moat__client_uncork(moat_client *c)
{
    int rc = moat_conn_uncork(&c->conn);
    if (c->closing) return;
    if (!c->send_wait && c->conn.write_pending) watch_send(c);
    if (rc < 0 || (c->close_after && !c->req && c->conn.write_pending == 0)) moat__client_close(c);
}

void moat__client_backpressure(moat_client *c, bool on)
{
    c->backpressured = on;
    update_reading(c);
}

void moat__client_tunnel_data(moat_client *c, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    client_write(c, &b, 1);
    if (!c->closing && moat_conn_congested(&c->conn) && c->req && c->req->up)
        c->req->up->backpressured = true;
}

/* The whole request has been read: its end was parsed, or its head was and
 * it has no body (the parser holds only the end event, which a reset drops).
 * Only then can the next request on the connection be found. */
static bool request_read(const moat_request *r)
{
    return r->state == REQ_DONE || (r->state == REQ_HEAD && r->head && !r->upgrade);
}

/* Whether the response to r may keep the connection. While the worker
 * stops, the response to the last request read says Connection: close (a
 * pipelined one already read is answered too). */
static bool keep_alive(moat_request *r)
{
    moat_client *c = r->c;
    if (c->close_after || !request_read(r)) return false;
    if (c->w->draining && c->conn.in.len == 0) return false;
    if (!r->head || !r->head->keep_alive) return false;
    return r->rt->cfg->limits.keepalive_timeout_ms > 0;
}

int moat__client_send_head(moat_request *r, moat_http_head *resp)
{
    moat_client *c = r->c;
    bool interim = resp->status >= 100 && resp->status < 200 && resp->status != 101;
    moat_http_head_strip_hop_by_hop(resp);
    moat_http_head_set_static(resp, r->arena, "X-Request-Id", r->id); /* r outlives resp */
    if (interim) {
        if (!r->head || r->head->http_minor == 0) return 0;
        moat_buf out;
        moat_buf_init(&out);
        moat_http_response_serialize(resp, &out);
        uv_buf_t b = uv_buf_init(out.data, (unsigned)out.len);
        int rc = client_write(c, &b, 1);
        moat_buf_free(&out);
        return rc;
    }
    MOAT_BUG_ON(r->hold || r->resp_head_sent); /* R6, R8: held heads wait in pipeline.c */
    r->status = resp->status;
    if (resp->status == 101) {
        moat_http_head_set(resp, r->arena, "Connection", "upgrade");
        if (r->upgrade_value) moat_http_head_set(resp, r->arena, "Upgrade", r->upgrade_value);
        r->tunnel = true;
    } else if (!resp->no_body && resp->content_length < 0) {
        if (r->head->http_minor >= 1) {
            moat_http_head_set(resp, r->arena, "Transfer-Encoding", "chunked");
            r->resp_chunked_out = true;
        } else {
            r->resp_close_delimited = true;
            c->close_after = true;
        }
    }
    if (r->tunnel) {
        /* Connection: upgrade already set. */
    } else if (keep_alive(r) && !r->resp_close_delimited) {
        if (r->head->http_minor == 0)
            moat_http_head_set(resp, r->arena, "Connection", "keep-alive");
    } else {
        c->close_after = true;
        moat_http_head_set(resp, r->arena, "Connection", "close");
    }
    r->resp_head_sent = true;
    moat_buf out;
    moat_buf_init(&out);
    moat_http_response_serialize(resp, &out);
    uv_buf_t b = uv_buf_init(out.data, (unsigned)out.len);
    int rc = client_write(c, &b, 1);
    moat_buf_free(&out);
    if (rc == 0 && r->tunnel) {
        arm(c, 0);
        c->parse_paused = false;
        if (c->conn.in.len && r->up)
            moat__upstream_tunnel_data(r->up, c->conn.in.data, c->conn.in.len);
        moat_buf_reset(&c->conn.in);
        update_reading(c);
    }
    return rc;
}

int moat__client_send_body(moat_request *r, const char *data, size_t len)
{
    moat_client *c = r->c;
    if (len == 0) return 0;
    r->bytes_out += len;
    int rc;
    if (r->resp_chunked_out) {
        char size[24];
        int n = snprintf(size, sizeof(size), "%zx\r\n", len);
        uv_buf_t b[3] = {uv_buf_init(size, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                         uv_buf_init((char *)"\r\n", 2)};
        rc = client_write(c, b, 3);
    } else {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        rc = client_write(c, &b, 1);
    }
    if (rc == 0 && moat_conn_congested(&c->conn) && r->up) r->up->backpressured = true;
    return rc;
}

void moat__client_response_end(moat_request *r)
{
    moat_client *c = r->c;
    if (r->resp_chunked_out && !c->closing) {
        uv_buf_t b = uv_buf_init((char *)"0\r\n\r\n", 5);
        client_write(c, &b, 1);
    }
    r->resp_done = true;
    process(c);
}

/* The response is complete: log, then keep the connection for the next
 * request (returns true) or close it (returns false). */
static bool finish_request(moat_client *c)
{
    moat_request *r = c->req;
    MOAT_BUG_ON(!r->resp_done); /* R8 */
    /* A response that announced keep-alive keeps its promise, even when
     * the worker began to stop since: the connection then closes between
     * requests (moat__client_drain), not under one crossing the answer. */
    bool keep = !c->close_after && request_read(r) && r->head && r->head->keep_alive &&
                r->rt->cfg->limits.keepalive_timeout_ms > 0;
    /* answered before its body was read (a refused upload): the client
     * is still sending, and must get to read the answer */
    if (!keep && !request_read(r) && !c->timed_out) c->linger = true;
    moat__pipeline_done(r);
    request_free(c);
    if (!keep) {
        close_when_flushed(c);
        return false;
    }
    c->requests++;
    c->got_bytes = false;
    c->parse_paused = false;
    c->kick = false;
    c->backpressured = false; /* that request's upstream is done with us */
    moat_http_parser_reset(c->parser, c->arena);
    arm(c, c->w->rt->cfg->limits.keepalive_timeout_ms);
    quiet_add(c);
    if (c->w->draining) moat__client_drain(c);
    return !c->closing;
}

void moat__client_drain(moat_client *c)
{
    if (c->closing || (c->req && c->got_bytes)) return; /* answered with Connection: close */
    if (!moat_conn_quiet(&c->conn)) return;             /* a request's bytes wait: read them */
    uint64_t idle = moat_now_ms() - c->quiet_ms;
    if (!c->quiet || idle >= DRAIN_IDLE_MS) {
        moat__client_close(c);
        return;
    }
    arm(c, DRAIN_IDLE_MS - idle);
}

/* The head of an answer moat makes itself (the HTTP/1.1 path and h2.c):
 * status, Content-Type and Content-Length (none for 204/304), the request
 * id, no-store, Connection when connection is not NULL, Location, then
 * hdrs (nhdrs name/value pairs); the pipeline's response stages applied. */
moat_http_head *moat__answer_head_new(moat_request *r, int status, const char *ctype, size_t len,
                                      const char *const *hdrs, size_t nhdrs, const char *connection)
{
    moat_http_head *h = moat_arena_calloc(r->arena, sizeof(*h));
    h->status = status;
    h->reason = (char *)moat_http_reason(status);
    h->http_major = h->http_minor = 1;
    char lenbuf[24];
    snprintf(lenbuf, sizeof(lenbuf), "%zu", len);
    if (status != 204 && status != 304) {
        if (ctype) moat_http_head_add(h, r->arena, "Content-Type", ctype);
        moat_http_head_add(h, r->arena, "Content-Length", lenbuf);
    }
    moat_http_head_add(h, r->arena, "X-Request-Id", r->id);
    moat_http_head_add(h, r->arena, "Cache-Control", "no-store");
    if (connection) moat_http_head_add(h, r->arena, "Connection", connection);
    if (r->location) moat_http_head_add(h, r->arena, "Location", r->location);
    for (size_t i = 0; i + 1 < nhdrs * 2; i += 2)
        moat_http_head_add(h, r->arena, hdrs[i], hdrs[i + 1]);
    moat__pipeline_answer_head(r, h);
    return h;
}

void moat__client_respond(moat_request *r, int status, const char *reason, const char *ctype,
                          const char *body, size_t len, const char *const *hdrs, size_t nhdrs)
{
    moat_client *c = r->c;
    if (c->h2) {
        moat__h2_respond(r, status, reason, ctype, body, len, hdrs, nhdrs);
        return;
    }
    if (c->closing) return;
    if (status != 503 && !r->resp_head_sent && moat__log_refuses(r, false)) {
        moat__client_respond_error(r, 503, MOAT__LOG_REFUSED); /* its event was not logged */
        return;
    }
    if (r->up || r->waiting) moat__upstream_detach(r);
    if (r->resp_head_sent) {
        moat__client_close(c);
        return;
    }
    r->status = status;
    r->error_reason = reason;
    if (!request_read(r)) c->close_after = true;
    moat_buf head;
    moat_buf_init(&head);
    bool keep = keep_alive(r) && !c->close_after;
    if (!keep) c->close_after = true;
    moat_http_head *h =
        moat__answer_head_new(r, status, ctype, len, hdrs, nhdrs, keep ? "keep-alive" : "close");
    moat_http_response_serialize(h, &head);
    bool head_only = r->head && r->head->method_id == HTTP_HEAD;
    if (status == 204 || status == 304) len = 0;
    uv_buf_t b[2] = {uv_buf_init(head.data, (unsigned)head.len),
                     uv_buf_init((char *)body, (unsigned)len)};
    r->resp_head_sent = true;
    r->bytes_out = head_only ? 0 : len;
    client_write(c, b, head_only || len == 0 ? 1 : 2);
    moat_buf_free(&head);
    r->resp_done = true;
    process(c);
}

void moat__client_respond_error(moat_request *r, int status, const char *reason)
{
    moat_client *c = r->c;
    if (c->closing) return;
    if (r->resp_head_sent) {
        if (r->up || r->waiting) moat__upstream_detach(r);
        moat__client_close(c);
        return;
    }
    if (status != 503 && status != 308 && status != 204 && moat__log_refuses(r, true)) {
        moat__refusal(r, "http.rejected", "log", "log.on_failure");
        status = 503;
        reason = MOAT__LOG_REFUSED;
    }
    moat__security_event(r, status, reason);
    bool json = r->head && moat__wants_json(r->head);
    moat_buf body;
    moat_buf_init(&body);
    if (status != 204) moat__error_page(&body, r->rt->page_template, status, r->id, json);
    moat__client_respond(r, status, reason, json ? "application/json" : "text/html; charset=utf-8",
                         body.data, body.len, NULL, 0);
    moat_buf_free(&body);
}

void moat__client_redirect(moat_request *r, const char *location)
{
    r->location = location;
    moat__client_respond_error(r, 308, "plain HTTP redirected to HTTPS");
}

/* ---- the response sink of the upstream side ---- */

static void sink_end(moat_request *r)
{
    moat__client_response_end(r);
}

static void sink_abort(moat_request *r, int status, const char *reason)
{
    moat__client_respond_error(r, status, reason); /* cuts the client once a head went out */
}

static void sink_pause(moat_request *r, bool on)
{
    if (on || r->c->backpressured) moat__client_backpressure(r->c, on);
}

static void sink_batch(void *owner, bool on)
{
    if (on)
        moat__client_cork(owner);
    else
        moat__client_uncork(owner);
}

static void sink_tunnel(moat_request *r, const char *data, size_t len)
{
    moat__client_tunnel_data(r->c, data, len);
}

static bool sink_parsing(const moat_request *r)
{
    return r->c->in_parser;
}

static const moat_sink client_sink = {
    .head = moat__client_send_head,
    .body = moat__client_send_body,
    .end = sink_end,
    .abort = sink_abort,
    .pause = sink_pause,
    .batch = sink_batch,
    .tunnel = sink_tunnel,
    .parsing = sink_parsing,
};

/* ---- accept ------------------------------------------------------------ */

static const moat_conn_cbs conn_cbs = {
    .read = on_conn_read,
    .written = on_client_written,
    .closed = on_conn_closed,
};

void moat__client_accept(moat_worker *w, uv_stream_t *listener, bool tls)
{
    moat_client *c = moat_xcalloc(1, sizeof(*c));
    c->w = w;
    moat__list_add(&w->clients, &c->link);
    w->nclients++;
    moat__metrics_conn(w, +1);
    if (w->nclients > w->trim_peak) w->trim_peak = w->nclients;
    c->rt = moat__runtime_ref(w->rt);
    c->arena = moat_arena_new();
    c->parser =
        moat_http_parser_new(MOAT_HTTP_REQUEST, &c->rt->req_limits, &parser_cbs, c, c->arena);
    /* A TLS listener without a certificate (a reload removed it) refuses. */
    void *tls_conn = tls && c->rt->tls ? moat_tls_conn_new(c->rt->tls) : NULL;
    int rc = moat_conn_accept(&c->conn, &w->loop, listener, c, &conn_cbs,
                              tls ? &moat_transport_tls : &moat_transport_plain, tls_conn);
    /* Accepted while the worker stops (it was in the listen queue): served,
     * with Connection: close. */
    uint64_t cap = w->rt->cfg->limits.connections;
    if (rc < 0 || (w->nclients > cap && !make_room(w))) {
        moat__client_close(c);
        return;
    }
    c->conn.write_high = (size_t)c->rt->cfg->limits.client_buffer_bytes; /* K4 */
    moat_conn_peer(&c->conn, c->peer, sizeof(c->peer));
    c->local_port = moat_conn_local_port(&c->conn);
    /* Near the cap a new connection gets limits.crowded_header_timeout for
     * its first byte (when header_timeout is longer); its first byte re-arms
     * the whole header_timeout (process). */
    uint64_t first_byte = w->rt->cfg->limits.header_timeout_ms;
    uint64_t crowded_ms = w->rt->cfg->limits.crowded_header_timeout_ms;
    if ((w->crowded || w->nclients * 4 >= cap * 3) && first_byte > crowded_ms)
        first_byte = crowded_ms;
    arm(c, first_byte);
    quiet_add(c);
    update_reading(c);
    if (w->draining) moat__client_drain(c); /* the grace of a connection between requests */
}
