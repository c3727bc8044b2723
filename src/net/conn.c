/* conn.c - a connection over a transport (conn.h): the plain one hands the
 * bytes read to the owner where they landed; the TLS one feeds them to
 * OpenSSL's memory BIOs and hands on the plaintext. Accepting, connecting,
 * reading, writing, corking, the write watermarks and closing are the same
 * for both. Leaves to the owner what the bytes mean and when to close. */
#include "conn.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>

#define READ_CHUNK 65536
/* An empty buffer larger than this is given back after each read or
 * uncork: an idle or slow connection keeps no read chunk (K9). */
#define KEEP_BYTES 4096
/* Writes collected while corked up to this; a larger one goes out at once. */
#define CORK_BYTES 16384

static void buf_release(moat_buf *b)
{
    if (b->cap <= KEEP_BYTES) return;
    if (b->len == 0) {
        moat_buf_free(b);
        moat_buf_reserve(b, 0); /* data stays a string */
        return;
    }
    /* A few bytes waiting (a pipelined request) keep no 64 KiB chunk
     * either. Nobody holds pointers into it across reads (on_alloc moves
     * it too). */
    size_t cap = KEEP_BYTES;
    while (cap < b->len + 1)
        cap *= 2;
    if (cap * 2 > b->cap) return;
    b->data = moat_xrealloc(b->data, cap);
    b->cap = cap;
}

/* ---- transports ---- */

static void written_cb(void *ud, int status)
{
    moat_conn *c = ud;
    c->cbs->written(c, status);
}

static int plain_write(moat_conn *c, const uv_buf_t *bufs, unsigned n)
{
    return moat_stream_write(&c->h.stream, bufs, n, &c->write_pending, written_cb, c);
}

const moat_transport moat_transport_plain = {
    .name = "tcp",
    .write = plain_write,
};

static int tls_feed(moat_conn *c, const char *raw, size_t n)
{
    moat_buf send;
    moat_buf_init(&send);
    int rc = moat_tls_conn_feed(c->tp_state, raw, n, &c->in, &send);
    if (send.len) {
        uv_buf_t b = uv_buf_init(send.data, (unsigned)send.len);
        if (plain_write(c, &b, 1) < 0) rc = MOAT_EIO;
    }
    moat_buf_free(&send);
    return rc;
}

/* Encrypts into one buffer of records, written at once. */
static int tls_write(moat_conn *c, const uv_buf_t *bufs, unsigned n)
{
    moat_buf rec;
    moat_buf_init(&rec);
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++)
        rc = moat_tls_conn_write(c->tp_state, bufs[i].base, bufs[i].len, &rec);
    if (rc == 0) {
        uv_buf_t b = uv_buf_init(rec.data, (unsigned)rec.len);
        rc = plain_write(c, &b, 1);
    }
    moat_buf_free(&rec);
    return rc;
}

/* close_notify, so the peer can tell a complete response from a cut one. */
static void tls_shutdown(moat_conn *c)
{
    moat_buf alert;
    moat_buf_init(&alert);
    moat_tls_conn_shutdown(c->tp_state, &alert);
    if (alert.len) {
        uv_buf_t b = uv_buf_init(alert.data, (unsigned)alert.len);
        (void)uv_try_write(&c->h.stream, &b, 1);
    }
    moat_buf_free(&alert);
}

static void tls_free(void *state)
{
    moat_tls_conn_free(state);
}

const moat_transport moat_transport_tls = {
    .name = "tls",
    .secure = true,
    .feed = tls_feed,
    .write = tls_write,
    .shutdown = tls_shutdown,
    .free = tls_free,
};

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    moat_conn *c = h->data;
    moat_buf *b = c->tp->feed ? &c->raw : &c->in;
    moat_buf_reserve(b, READ_CHUNK - 1); /* one chunk with its NUL, not two */
    buf->base = b->data + b->len;
    buf->len = b->cap - b->len - 1;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    moat_conn *c = s->data;
    MOAT_BUG_ON(!c->reading); /* K3 */
    if (nread == 0 || c->closing) return;
    if (nread < 0) {
        c->cbs->read(c, (int)nread);
        return;
    }
    if (c->tp->feed) {
        c->raw.len += (size_t)nread;
        int rc = c->tp->feed(c, c->raw.data, c->raw.len);
        moat_buf_reset(&c->raw);
        buf_release(&c->raw);
        if (rc < 0) {
            c->cbs->read(c, rc);
            return;
        }
        if (c->in.len == 0) return; /* handshake bytes only */
    } else {
        c->in.len += (size_t)nread;
        c->in.data[c->in.len] = '\0';
    }
    c->cbs->read(c, 0);
    buf_release(&c->in); /* the owner consumed it all: K9 */
}

void moat_conn_read(moat_conn *c, bool on)
{
    if (c->closing || on == c->reading) return;
    if (on) {
        c->reading = uv_read_start(&c->h.stream, on_alloc, read_cb) == 0;
    } else {
        uv_read_stop(&c->h.stream);
        c->reading = false;
    }
}

bool moat_conn_quiet(moat_conn *c)
{
    if (c->closing || c->in.len || c->raw.len) return false;
    uv_os_fd_t fd;
    if (uv_fileno(&c->h.handle, &fd) != 0) return false;
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* ---- writing ---- */

int moat_conn_write(moat_conn *c, const uv_buf_t *bufs, unsigned n)
{
    if (c->closing) return MOAT_ECLOSED; /* K5 */
    if (c->corked) {
        size_t total = c->out.len;
        for (unsigned i = 0; i < n; i++)
            total += bufs[i].len;
        if (total <= CORK_BYTES || (c->out.len && n >= 8)) {
            for (unsigned i = 0; i < n; i++)
                moat_buf_append(&c->out, bufs[i].base, bufs[i].len);
            return 0;
        }
        /* Large: what was collected and these go out together now, not
         * copied into one more buffer first (K6 is for heads and small
         * bodies). Still corked for what follows. */
        if (c->out.len == 0) return c->tp->write(c, bufs, n);
        uv_buf_t all[8];
        all[0] = uv_buf_init(c->out.data, (unsigned)c->out.len);
        for (unsigned i = 0; i < n; i++)
            all[i + 1] = bufs[i];
        int rc = c->tp->write(c, all, n + 1);
        moat_buf_reset(&c->out);
        buf_release(&c->out);
        return rc;
    }
    return c->tp->write(c, bufs, n);
}

void moat_conn_cork(moat_conn *c)
{
    c->corked = true;
}

int moat_conn_uncork(moat_conn *c)
{
    c->corked = false;
    if (c->closing || c->out.len == 0) {
        moat_buf_reset(&c->out);
        return c->closing ? MOAT_ECLOSED : 0;
    }
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    int rc = c->tp->write(c, &b, 1);
    moat_buf_reset(&c->out);
    buf_release(&c->out);
    return rc;
}

/* ---- addresses ---- */

void moat_conn_peer(moat_conn *c, char *ip, size_t len)
{
    moat_peer_ip(&c->h.tcp, ip, len);
}

uint16_t moat_conn_local_port(const moat_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getsockname(&c->h.tcp, (struct sockaddr *)&ss, &len) != 0) return 0;
    return ntohs(ss.ss_family == AF_INET ? ((const struct sockaddr_in *)&ss)->sin_port
                                         : ((const struct sockaddr_in6 *)&ss)->sin6_port);
}

/* ---- lifetime ---- */

static void on_handle_closed(uv_handle_t *h)
{
    moat_conn *c = h->data;
    MOAT_BUG_ON(!c->closing || c->open_handles <= 0);
    if (--c->open_handles > 0) return;
    moat_buf_free(&c->in);
    moat_buf_free(&c->raw);
    moat_buf_free(&c->out);
    if (c->tp->free) c->tp->free(c->tp_state);
    c->tp_state = NULL;
    c->cbs->closed(c);
}

static void close_handles(moat_conn *c)
{
    if (c->handles_closing) return;
    c->handles_closing = true;
    uv_close((uv_handle_t *)&c->timer.timer, on_handle_closed);
    uv_close(&c->h.handle, on_handle_closed);
}

void moat_conn_close(moat_conn *c)
{
    if (c->closing) return;
    c->closing = true;
    c->reading = false;
    if (c->tp->shutdown && c->tp_state && c->write_pending == 0) c->tp->shutdown(c);
    close_handles(c);
}

/* ---- lingering close ---- */

static _Thread_local char linger_sink[16384]; /* what is read is dropped */

static void linger_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = linger_sink;
    buf->len = sizeof(linger_sink);
}

static void linger_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread < 0) close_handles(s->data); /* the peer closed its side, or an error */
}

static void linger_shut(uv_shutdown_t *req, int status)
{
    if (status < 0) close_handles(req->data);
}

static void linger_over(moat_deadline *d)
{
    close_handles((moat_conn *)(void *)((char *)d - offsetof(moat_conn, timer)));
}

void moat_conn_close_lingering(moat_conn *c, uint64_t ms)
{
    if (c->closing) return;
    if (c->tp->shutdown && c->tp_state && c->write_pending == 0) c->tp->shutdown(c);
    c->closing = c->lingering = true;
    if (c->reading) uv_read_stop(&c->h.stream);
    c->reading = false;
    moat_buf_free(&c->in); /* nothing more is the owner's */
    moat_buf_free(&c->raw);
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, &c->h.stream, linger_shut) < 0 ||
        uv_read_start(&c->h.stream, linger_alloc, linger_read) < 0) {
        close_handles(c);
        return;
    }
    moat_deadline_set(&c->timer, ms, linger_over);
}

/* After the handle's init: the rest of c, and its deadline. */
static void conn_init(moat_conn *c, uv_loop_t *loop, void *owner, const moat_conn_cbs *cbs,
                      const moat_transport *tp, void *tp_state)
{
    c->owner = owner;
    c->cbs = cbs;
    c->tp = tp;
    c->tp_state = tp_state;
    moat_buf_init(&c->in);
    moat_buf_init(&c->raw);
    moat_buf_init(&c->out);
    c->h.handle.data = c;
    moat_deadline_init(loop, &c->timer, owner);
    c->timer.timer.data = c; /* for on_handle_closed; the deadline keeps owner in data */
    c->write_high = MOAT_CONN_WRITE_HIGH;
    c->open_handles = 2;
}

int moat_conn_accept(moat_conn *c, uv_loop_t *loop, uv_stream_t *listener, void *owner,
                     const moat_conn_cbs *cbs, const moat_transport *tp, void *tp_state)
{
    uv_tcp_init(loop, &c->h.tcp);
    conn_init(c, loop, owner, cbs, tp, tp_state);
    int rc = uv_accept(listener, &c->h.stream);
    if (rc < 0 || (tp->free && !tp_state)) {
        moat_conn_close(c);
        return rc < 0 ? rc : MOAT_ENOMEM;
    }
    uv_tcp_nodelay(&c->h.tcp, 1);
    return 0;
}

static void connect_cb(uv_connect_t *req, int status)
{
    moat_conn *c = req->data;
    c->cbs->connected(c, status);
}

int moat_conn_connect(moat_conn *c, uv_loop_t *loop, const moat_upstream_target *target,
                      void *owner, const moat_conn_cbs *cbs)
{
    if (target->is_unix) {
        uv_pipe_init(loop, &c->h.pipe, 0);
    } else {
        uv_tcp_init(loop, &c->h.tcp);
        uv_tcp_nodelay(&c->h.tcp, 1);
    }
    conn_init(c, loop, owner, cbs, &moat_transport_plain, NULL);
    c->connect.data = c;
    int rc = 0;
    if (target->is_unix)
        uv_pipe_connect(&c->connect, &c->h.pipe, target->path, connect_cb); /* fails in the cb */
    else
        rc = uv_tcp_connect(&c->connect, &c->h.tcp, (const struct sockaddr *)&target->addr.ss,
                            connect_cb);
    if (rc < 0) moat_conn_close(c);
    return rc;
}
