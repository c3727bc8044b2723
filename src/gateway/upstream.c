/* upstream.c - connections to the upstream app: round robin over the
 * configured upstreams with passive failover on connect errors, a per-worker
 * pool of idle keep-alive connections (TCP or unix socket), sending the
 * request (re-chunked when it came chunked), parsing the response strictly
 * and pushing it into the request's sink (it calls no client function).
 * Ambiguous responses become 502, silence becomes 504; nothing half-parsed
 * reaches the client. Sockets are the connection layer's (src/net/conn.c). */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "metrics.h"

static void up_process(moat_upconn *u);
static void up_fail(moat_upconn *u, int status, const char *key, const char *reason);

/* ---- lifetime ---------------------------------------------------------- */

/* The exchange failed: the proxy names its upstream.error event (key: the
 * setting that would change it), then the sink answers or cuts the client. */
static void proxy_abort(moat_request *r, int status, const char *key, const char *reason)
{
    moat__refusal(r, "upstream.error", "proxy", key);
    r->sink->abort(r, status, reason);
}

static void on_up_closed(moat_conn *conn)
{
    moat_upconn *u = conn->owner;
    moat_http_parser_free(u->parser);
    moat_arena_free(u->arena);
    free(u);
}

static void up_close(moat_upconn *u)
{
    if (u->closing) return;
    u->closing = true;
    if (u->idle) {
        moat__list_del(&u->link);
        u->w->nidle[u->upstream_index]--;
        u->idle = false;
    }
    if (u->req) {
        u->req->up = NULL;
        u->req = NULL;
    }
    moat_conn_close(&u->conn);
}

void moat__upstream_detach(moat_request *r)
{
    if (r->waiting) {
        moat__list_del(&r->wait_link);
        r->waiting = false;
    }
    moat_upconn *u = r->up;
    if (!u) return;
    up_close(u);
}

void moat__pool_drop_all(moat_worker *w)
{
    for (size_t i = 0; i < w->nidle_lists; i++) {
        while (!moat__list_empty(&w->idle[i])) {
            moat_upconn *u = MOAT_CONTAINER_OF(w->idle[i].next, moat_upconn, link);
            up_close(u);
        }
    }
}

/* ---- response parser callbacks ------------------------------------------- */

static int on_resp_head(void *ud, moat_http_head *resp)
{
    moat_upconn *u = ud;
    moat_request *r = u->req;
    if (!r) return MOAT_ECLOSED;
    bool interim = resp->status >= 100 && resp->status < 200;
    if (interim && resp->status == 101) {
        if (!r->upgrade) {
            up_fail(u, 502, "upstream", "upstream switched protocols without an upgrade request");
            return MOAT_ECLOSED;
        }
        /* A tunnel opens only on a complete WebSocket handshake: a 101 to
         * anything else would carry bytes no stage can read. */
        if (!moat_http_ws_accept_ok(r->head, resp)) {
            up_fail(u, 502, "upstream", "upstream's 101 is not a valid WebSocket handshake");
            return MOAT_ECLOSED;
        }
        interim = false;
    }
    u->interim = interim;
    if (interim) {
        /* moat answers Expect: 100-continue itself; other 1xx (103) pass. */
        if (resp->status != 100) moat__response_head(r, resp);
        return u->closing ? MOAT_ECLOSED : 0;
    }
    r->upstream_ms = moat_now_ms() - r->upstream_start_ms;
    moat__metrics_upstream(r, r->upstream_ms);
    u->reusable = resp->keep_alive && resp->status != 101;
    if (moat__pipeline_response_head(r, resp) != MOAT_PASS) return MOAT_ECLOSED;
    if (!u->req || u->closing) return MOAT_ECLOSED;
    if (moat__log_refuses(r, false)) {
        /* An event of this request could not be logged: not served. */
        up_close(u);
        moat__refusal(r, "http.rejected", "log", "log.on_failure");
        r->sink->abort(r, 503, MOAT__LOG_REFUSED);
        return MOAT_ECLOSED;
    }
    if (moat__response_head(r, resp) < 0) return MOAT_ECLOSED;
    return u->closing ? MOAT_ECLOSED : 0;
}

static int on_resp_body(void *ud, const char *data, size_t len)
{
    moat_upconn *u = ud;
    if (!u->req) return MOAT_ECLOSED;
    if (moat__response_body(u->req, data, len) < 0) return MOAT_ECLOSED;
    return u->closing ? MOAT_ECLOSED : 0;
}

static int on_resp_end(void *ud)
{
    moat_upconn *u = ud;
    (void)u;
    return MOAT_EAGAIN;
}

static const moat_http_parser_cbs resp_cbs = {on_resp_head, on_resp_body, on_resp_end};

static void on_up_read(moat_conn *conn, int status);
static void on_up_written(moat_conn *conn, int status);
static void on_connect(moat_conn *conn, int status);
static void on_up_closed(moat_conn *conn);
static const moat_conn_cbs conn_cbs = {
    .read = on_up_read,
    .written = on_up_written,
    .connected = on_connect,
    .closed = on_up_closed,
};

/* ---- pool ---------------------------------------------------------------- */

/* How long a connection given back past limits.upstream_keepalive stays
 * pooled. h2 clients keep hundreds of streams in flight, and how many of
 * them the upstream holds swings by more than the pool between turns of
 * the loop: closed at once, most such requests opened a new connection
 * (0.7 a request under h2load -m100; 0.3 with 10 ms here, 0.03 with 100).
 * The pool never holds more than the requests of the last POOL_GRACE_MS
 * held open at once. */
#define POOL_GRACE_MS 100

/* Idle for limits.upstream_idle_timeout, or past limits.upstream_keepalive
 * for POOL_GRACE_MS: closed. */
static void on_idle_timer(moat_deadline *d)
{
    moat_upconn *u = d->data;
    moat_worker *w = u->w;
    uint64_t now = uv_now(&w->loop), timeout = w->rt->cfg->limits.upstream_idle_timeout_ms;
    if (u->idle && w->nidle[u->upstream_index] <= w->rt->cfg->limits.upstream_keepalive &&
        now - u->idle_since < timeout) {
        moat_deadline_set(&u->conn.timer, u->idle_since + timeout - now, on_idle_timer);
        return;
    }
    up_close(u);
}

static void up_set_reading(moat_upconn *u, bool on)
{
    if (!u->closing) moat_conn_read(&u->conn, on);
}

static void on_pool_turn(uv_idle_t *h);

static void pool_turn_due(moat_worker *w)
{
    if (!uv_is_active((uv_handle_t *)&w->pool_turn)) uv_idle_start(&w->pool_turn, on_pool_turn);
}

/* Back to the pool, even past limits.upstream_keepalive: a request of the
 * next moments may take it instead of opening a connection; what is past
 * the limit closes after POOL_GRACE_MS unless taken. */
static void up_release(moat_upconn *u)
{
    moat_worker *w = u->w;
    moat_request *r = u->req;
    if (r) r->up = NULL;
    u->req = NULL;
    const moat_runtime *rt = w->rt;
    size_t keep = rt->cfg->limits.upstream_keepalive;
    if (!u->reusable || u->conn.in.len > 0 || u->conn.out.len > 0 || w->draining ||
        u->generation != rt->generation || keep == 0) {
        up_close(u);
        return;
    }
    bool over = w->nidle[u->upstream_index] >= keep;
    u->idle = true;
    u->idle_since = uv_now(&w->loop);
    u->reused = false;
    u->backpressured = false;
    moat__list_add(&w->idle[u->upstream_index], &u->link);
    w->nidle[u->upstream_index]++;
    /* Dropped before the app's own keep-alive ends (gunicorn: 2 s), so moat
     * does not send a request on a connection the app is closing. */
    moat_deadline_set(&u->conn.timer,
                      over && POOL_GRACE_MS < rt->cfg->limits.upstream_idle_timeout_ms
                          ? POOL_GRACE_MS
                          : rt->cfg->limits.upstream_idle_timeout_ms,
                      on_idle_timer);
    up_set_reading(u, true); /* to notice the upstream closing it */
}

static moat_upconn *pool_take(moat_worker *w, size_t idx)
{
    if (w->idle_generation != w->rt->generation) return NULL;
    while (!moat__list_empty(&w->idle[idx])) {
        moat_upconn *u = MOAT_CONTAINER_OF(w->idle[idx].next, moat_upconn, link);
        moat__list_del(&u->link);
        w->nidle[idx]--;
        u->idle = false;
        /* The app may have closed it (or sent stray bytes) in this turn of
         * the loop, before its read callback ran: a request sent on it now
         * would fail, and a POST could not be retried. */
        if (u->generation != w->rt->generation || !moat_conn_quiet(&u->conn)) {
            up_close(u);
            continue;
        }
        moat_deadline_stop(&u->conn.timer);
        return u;
    }
    return NULL;
}

/* ---- sending the request ------------------------------------------------- */

static moat_upconn *up_connect(moat_worker *w, moat_request *r, size_t idx);

/* A pooled connection that turns out dead (the upstream restarted or closed
 * it while idle: EOF, reset or a failed write before any response byte) is
 * no verdict on the upstream. An idempotent, bodiless request is sent once
 * more on a fresh connection to the same upstream (its connect failing
 * fails over as usual); anything else gets its 502, since the app may have
 * acted on it. Returns true when the request was handed on. */
static bool retry_fresh(moat_upconn *u)
{
    moat_request *r = u->req;
    if (!r || !u->reused || u->response_started || r->tunnel || r->state != REQ_DONE ||
        r->body_in != 0 || r->body_chunked || r->head->content_length > 0)
        return false;
    switch (r->head->method_id) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_OPTIONS:
    case HTTP_TRACE:
    case HTTP_PUT:
    case HTTP_DELETE:
        break;
    default:
        return false;
    }
    up_close(u);
    if (!up_connect(r->w, r, r->upstream_index))
        proxy_abort(r, 502, "upstream", "cannot reconnect to the upstream");
    return true;
}

static void on_up_written(moat_conn *conn, int status)
{
    moat_upconn *u = conn->owner;
    if (u->closing) return;
    if (status < 0) {
        if (retry_fresh(u)) return;
        up_fail(u, 502, "upstream", "writing to the upstream failed");
        return;
    }
    moat_request *r = u->req;
    if (r && moat_conn_drained(&u->conn)) r->sink->pause(r, false);
}

static int up_write(moat_upconn *u, const uv_buf_t *bufs, unsigned n)
{
    if (u->req && u->req->sink->parsing(u->req)) {
        /* Inside the client's parse: collected, moat__upstream_flush writes
         * them once after it. Bytes collected earlier keep their order. */
        moat_conn_cork(&u->conn);
        return moat_conn_write(&u->conn, bufs, n);
    }
    int rc = moat_conn_write(&u->conn, bufs, n);
    if (rc == 0 && u->conn.corked) rc = moat_conn_uncork(&u->conn);
    if (rc < 0) {
        if (retry_fresh(u)) return MOAT_ECLOSED;
        up_fail(u, 502, "upstream", "writing to the upstream failed");
        return rc;
    }
    if (u->req && moat_conn_congested(&u->conn)) u->req->sink->pause(u->req, true);
    return 0;
}

static void on_up_timer(moat_deadline *d)
{
    moat_upconn *u = d->data;
    if (!u->connected)
        up_fail(u, 504, "limits.upstream_connect_timeout",
                "upstream connect timed out (limits.upstream_connect_timeout)");
    else
        up_fail(u, 504, "limits.upstream_timeout",
                "upstream did not answer in limits.upstream_timeout");
}

static void send_head(moat_upconn *u)
{
    moat_request *r = u->req;
    moat_http_head *h = r->head;
    /* Hop-by-hop headers were removed when the head arrived; framing is
     * set again here (this may run twice when a pooled connection is retried). */
    moat_http_head_remove(h, "Expect");
    moat_http_head_remove(h, "Content-Length");
    moat_http_head_remove(h, "Transfer-Encoding");
    moat_http_head_remove(h, "Connection");
    moat_http_head_remove(h, "Upgrade");
    if (r->body_chunked)
        moat_http_head_add(h, r->arena, "Transfer-Encoding", "chunked");
    else if (h->content_length >= 0) {
        char cl[24];
        snprintf(cl, sizeof(cl), "%lld", (long long)h->content_length);
        moat_http_head_add(h, r->arena, "Content-Length", cl);
    }
    if (r->upgrade) {
        moat_http_head_add(h, r->arena, "Connection", "upgrade");
        moat_http_head_add(h, r->arena, "Upgrade", r->upgrade_value);
    }
    r->upstream_start_ms = moat_now_ms();
    moat_arena_reset(u->arena); /* the previous response's head, if pooled */
    moat_http_parser_reset(u->parser, u->arena);
    moat_http_parser_expect_no_body(u->parser, h->method_id == HTTP_HEAD);
    moat_deadline_set(&u->conn.timer, r->rt->cfg->limits.upstream_timeout_ms, on_up_timer);
    up_set_reading(u, true);
    moat_buf out;
    moat_buf_init(&out);
    moat_http_request_serialize(h, &out);
    uv_buf_t b = uv_buf_init(out.data, (unsigned)out.len);
    int rc = up_write(u, &b, 1);
    moat_buf_free(&out);
    if (rc < 0 || u->closing) return;
    moat__pipeline_resume(r, MOAT_PASS);
}

static void attach(moat_upconn *u, moat_request *r)
{
    MOAT_BUG_ON(r->up && r->up != u);
    MOAT_BUG_ON(u->req && u->req != r);
    u->req = r;
    r->up = u;
    u->response_started = false;
    u->reusable = false;
    u->backpressured = false; /* a pooled connection's last client may have been slow */
    moat_buf_reset(&u->conn.in);
}

static void start_attempt(moat_request *r);

static void on_connect(moat_conn *conn, int status)
{
    moat_upconn *u = conn->owner;
    if (u->closing) return;
    if (status < 0) {
        moat_request *r = u->req;
        /* At most one warning a second per worker: a down app under load
         * must not flood the log (each request still gets its 502). */
        uint64_t now = moat_now_ms();
        if (now - u->w->last_connect_warn_ms >= 1000) {
            u->w->last_connect_warn_ms = now;
            moat_warn("upstream %s: connect failed: %s",
                      r ? r->rt->upstreams[u->upstream_index].text : "?", uv_strerror(status));
        }
        up_close(u);
        if (!r) return;
        if (r->tries < r->rt->nupstreams) {
            start_attempt(r); /* passive failover to the next upstream */
            return;
        }
        proxy_abort(r, 502, "upstream", "no upstream accepted the connection");
        return;
    }
    u->connected = true;
    moat_deadline_stop(&u->conn.timer);
    if (!u->req) {
        up_close(u);
        return;
    }
    send_head(u);
}

static moat_upconn *up_connect(moat_worker *w, moat_request *r, size_t idx)
{
    const moat_upstream_target *t = &r->rt->upstreams[idx];
    moat_upconn *u = moat_xcalloc(1, sizeof(*u));
    u->w = w;
    u->upstream_index = idx;
    u->generation = r->rt->generation;
    u->arena = moat_arena_new();
    u->parser =
        moat_http_parser_new(MOAT_HTTP_RESPONSE, &r->rt->resp_limits, &resp_cbs, u, u->arena);
    moat__list_init(&u->link);
    int rc = moat_conn_connect(&u->conn, &w->loop, t, u, &conn_cbs);
    attach(u, r);
    if (rc < 0) {
        up_close(u);
        return NULL;
    }
    moat_deadline_set(&u->conn.timer, r->rt->cfg->limits.upstream_connect_timeout_ms, on_up_timer);
    return u;
}

/* True when the request was sent on a pooled connection. */
static bool send_pooled(moat_worker *w, moat_request *r, size_t idx)
{
    if (idx >= w->nidle_lists) return false; /* a request from before a reload */
    moat_upconn *u = pool_take(w, idx);
    if (!u) return false;
    u->reused = true;
    attach(u, r);
    send_head(u);
    return true;
}

/* A pool with no idle connection: the request waits for the end of the
 * loop's turn, where a response of the same turn may have given one back
 * (h2: a hundred streams a connection start and finish in the same turns).
 * Not when nothing is pooled, nor across a config change, nor draining. */
static bool may_wait(const moat_worker *w, const moat_request *r)
{
    return r->tries == 1 && r->rt == w->rt && !w->draining &&
           w->rt->cfg->limits.upstream_keepalive > 0 && w->idle_generation == w->rt->generation;
}

static void connect_from(moat_request *r, size_t idx)
{
    moat_worker *w = r->w;
    size_t n = r->rt->nupstreams;
    for (;;) {
        if (up_connect(w, r, idx)) return;
        if (r->tries >= n) break;
        idx = (r->upstream_index + 1) % n;
        r->upstream_index = idx;
        r->tries++;
        if (send_pooled(w, r, idx)) return;
    }
    proxy_abort(r, 502, "upstream", "cannot connect to any upstream");
}

static void start_attempt(moat_request *r)
{
    moat_worker *w = r->w;
    size_t n = r->rt->nupstreams;
    size_t idx = r->tries == 0 ? (w->rr++ % n) : (r->upstream_index + 1) % n;
    r->upstream_index = idx;
    r->tries++;
    if (send_pooled(w, r, idx)) return;
    if (may_wait(w, r)) {
        moat__list_add(w->waiting.prev, &r->wait_link); /* last: first come, first served */
        r->waiting = true;
        pool_turn_due(w);
        return;
    }
    connect_from(r, idx);
}

void moat__upstream_start(moat_request *r)
{
    r->tries = 0;
    start_attempt(r);
}

/* The end of a turn of the loop: the waiting requests take the connections
 * the turn's responses gave back, in order; the rest connect. */
static void on_pool_turn(uv_idle_t *h)
{
    moat_worker *w = h->data;
    uv_idle_stop(h);
    moat_link todo;
    moat__list_init(&todo);
    if (!moat__list_empty(&w->waiting)) { /* taken whole: ones added meanwhile wait a turn */
        todo.next = w->waiting.next;
        todo.prev = w->waiting.prev;
        todo.next->prev = todo.prev->next = &todo;
        moat__list_init(&w->waiting);
    }
    while (!moat__list_empty(&todo)) {
        /* A request that goes away meanwhile (its client closed) leaves
         * the list by moat__upstream_detach. */
        moat_request *r = MOAT_CONTAINER_OF(todo.next, moat_request, wait_link);
        moat__list_del(&r->wait_link);
        r->waiting = false;
        size_t idx = r->upstream_index;
        if (r->rt != w->rt || !send_pooled(w, r, idx)) connect_from(r, idx);
    }
}

void moat__pool_init(moat_worker *w)
{
    moat__list_init(&w->waiting);
    uv_idle_init(&w->loop, &w->pool_turn);
    w->pool_turn.data = w;
}

void moat__pool_close(moat_worker *w)
{
    uv_close((uv_handle_t *)&w->pool_turn, NULL);
}

int moat__upstream_send_body(moat_request *r, const char *data, size_t len)
{
    moat_upconn *u = r->up;
    if (!u) return r->resp_done ? 0 : MOAT_ECLOSED;
    if (len == 0) return 0;
    if (r->body_chunked) {
        char size[24];
        int n = snprintf(size, sizeof(size), "%zx\r\n", len);
        uv_buf_t b[3] = {uv_buf_init(size, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                         uv_buf_init((char *)"\r\n", 2)};
        return up_write(u, b, 3);
    }
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    return up_write(u, &b, 1);
}

void moat__upstream_flush(moat_request *r)
{
    moat_upconn *u = r->up;
    if (!u || !u->conn.corked || u->closing) return;
    up_write(u, NULL, 0);
}

int moat__upstream_send_end(moat_request *r)
{
    moat_upconn *u = r->up;
    if (!u || !r->body_chunked) return 0;
    uv_buf_t b = uv_buf_init((char *)"0\r\n\r\n", 5);
    return up_write(u, &b, 1);
}

/* ---- receiving the response ---------------------------------------------- */

/* Fails the exchange: 502/504 when the client has seen nothing yet,
 * otherwise the client connection is cut (its response is incomplete). */
static void up_fail(moat_upconn *u, int status, const char *key, const char *reason)
{
    moat_request *r = u->req;
    up_close(u);
    if (!r) return;
    moat_debug("request %s: %s", r->id, reason); /* also an upstream.error event */
    proxy_abort(r, status, key, reason);
}

static void response_complete(moat_upconn *u)
{
    moat_request *r = u->req;
    moat_deadline_stop(&u->conn.timer);
    if (r->state != REQ_DONE) u->reusable = false;
    up_release(u);
    moat__response_end(r);
}

static void up_process(moat_upconn *u)
{
    while (!u->closing && u->req && u->conn.in.len > 0) {
        moat_request *r = u->req;
        if (r->tunnel) {
            r->sink->tunnel(r, u->conn.in.data, u->conn.in.len);
            moat_buf_reset(&u->conn.in);
            return;
        }
        size_t used = 0;
        u->response_started = true;
        int rc = moat_http_parser_execute(u->parser, u->conn.in.data, u->conn.in.len, &used);
        if (u->closing) return;
        moat_buf_consume(&u->conn.in, used);
        if (rc == 0) break;
        if (rc == MOAT_EAGAIN) {
            if (!u->req) return;
            if (r->tunnel) continue; /* 101: the rest is the new protocol */
            if (u->interim) {
                /* an interim 1xx ended: parse the final response next */
                moat_http_parser_reset(u->parser, u->arena);
                moat_http_parser_expect_no_body(u->parser, r->head->method_id == HTTP_HEAD);
                continue;
            }
            response_complete(u);
            return;
        }
        if (rc == MOAT_EHTTP) {
            char why[160];
            snprintf(why, sizeof(why), "invalid upstream response: %s",
                     moat_http_parser_reason(u->parser));
            up_fail(u, 502, "upstream", why);
            return;
        }
        return; /* a callback stopped it (client gone) */
    }
}

static void on_up_read(moat_conn *conn, int nread)
{
    moat_upconn *u = conn->owner;
    if (u->closing) return;
    if (u->idle) {
        up_close(u); /* closed by the upstream, or bytes nobody asked for */
        return;
    }
    moat_request *r = u->req;
    if (nread < 0) {
        if (!r) {
            up_close(u);
            return;
        }
        if (r->tunnel) {
            up_close(u);
            proxy_abort(r, 502, "upstream", "upstream closed the tunnel");
            return;
        }
        if (nread == UV_EOF && u->response_started) {
            int rc = moat_http_parser_finish(u->parser);
            if (rc == 0 && r->resp_head_sent) {
                u->reusable = false;
                response_complete(u);
                return;
            }
        }
        if (retry_fresh(u)) return;
        up_fail(u, 502, "upstream",
                nread == UV_EOF ? "upstream closed the connection" : "upstream connection reset");
        return;
    }
    if (r) moat_deadline_set(&u->conn.timer, r->rt->cfg->limits.upstream_timeout_ms, on_up_timer);
    if (!r) {
        up_close(u);
        return;
    }
    const moat_sink *sink = r->sink;
    void *owner = r->sink_owner; /* r may be gone after up_process */
    sink->batch(owner, true);
    up_process(u);
    sink->batch(owner, false);
    if (!u->closing && u->req && u->backpressured) {
        /* The client is slow to read (C5): the app is not silent, it waits
         * for us. The client's limits.send_timeout counts meanwhile. */
        up_set_reading(u, false);
        moat_deadline_stop(&u->conn.timer);
    }
}

void moat__upstream_resume_reading(moat_upconn *u)
{
    if (u->closing || !u->backpressured) return;
    u->backpressured = false;
    up_set_reading(u, true);
    if (u->req)
        moat_deadline_set(&u->conn.timer, u->req->rt->cfg->limits.upstream_timeout_ms, on_up_timer);
}

void moat__upstream_tunnel_data(moat_upconn *u, const char *data, size_t len)
{
    if (u->closing) return;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    up_write(u, &b, 1);
}
