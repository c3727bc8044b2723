/* redis.c - the state role (backend.h) in Redis: sessions, lockout and
 * throttling counters, TOTP replay marks, rate limits, strikes and bans,
 * shared by every moat instance that names the same Redis in store.state.
 *
 * Wire: hiredis' RESP formatter (redisFormatCommandArgv) and reply reader
 * (redisReader) over our own socket, plain or TLS (OpenSSL: "rediss://"
 * verifies the server's certificate against the system's roots or ?ca=FILE,
 * and its name or address against the URL's host; ?cert=&key= present a
 * client certificate). The hiredis of Debian bookworm has no TLS, and its
 * connection code would not give us one socket for both.
 *
 * Why not hiredis' libuv adapter: every store call of store.h is
 * synchronous and already runs on the libuv thread pool (the CLI calls them
 * directly), so a blocking request/reply on a pooled connection is the
 * whole need; an asynchronous client on each worker's loop would turn every
 * caller into callbacks for nothing. The one call made ON the event loop is
 * data_version, and it never blocks: it drains, without waiting, what the
 * SUBSCRIBE connection already received.
 *
 * Connections: a small pool (POOL) of blocking connections with I/O
 * timeouts, each used by one thread at a time. A connection idle in the
 * pool that the server closed (a restart) is seen before use and replaced.
 * When a connection cannot be made, the backend is down: every op answers
 * MOAT_EIO and problem() says why, and a new connection is tried at most
 * once a second. Outage and recovery are logged (and the gateway records
 * store.unavailable / store.available in the security log).
 *
 * Atomicity: every read-modify-write is one Lua script (EVAL), atomic in
 * Redis whatever the number of instances: counters, the TOTP step's
 * compare-and-set, the rate limit's sliding log, strikes and bans.
 *
 * Keys, all under "moat:":
 *   moat:s:<id hash>   hash u c l e m x (user, created, last seen, expires,
 *                      mfa, csrf); expires at the session's absolute expiry
 *   moat:us:<user id>  set of the user's session id hashes
 *   moat:u:<user id>   hash of the account's counters and TOTP step
 *   moat:a:<address>   hash of the address's failure counter (a day's TTL)
 *   moat:r:<key>       sorted set of a rate limit's allowed hits (+ :n)
 *   moat:k:<address>   hash of the address's strikes
 *   moat:bans          sorted set address -> ban end; moat:banwhy: why
 * Changes other instances' caches must see (a session ended, a user's
 * counters forgotten, bans, every users-role change through bump) PUBLISH
 * on moat:changes in the same script; data_version counts the messages. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "backend.h"

#define POOL 4
#define IO_TIMEOUT_MS 3000
#define MAX_LOCK_SECONDS (24 * 3600)
#define CHANNEL "moat:changes"

typedef struct rconn {
    int fd; /* -1: not connected */
    SSL *ssl;
    redisReader *rd;
} rconn;

struct moat__backend {
    char *host, *port, *user, *pass, *ca, *cert, *key;
    char *shown; /* the URL without its password, for messages */
    int db;
    SSL_CTX *ctx; /* rediss:// */

    pthread_mutex_t mu; /* the pool and the state below */
    pthread_cond_t cv;
    rconn conns[POOL];
    bool busy[POOL];
    bool down;         /* the last connection attempt or command failed */
    uint64_t retry_ms; /* when a connection was last tried while down */
    char problem[256];

    /* the subscription (data_version) */
    pthread_mutex_t smu;
    pthread_cond_t scv;
    rconn sub;
    bool sub_up, started, stopping;
    pthread_t thread;
    uint64_t generation, messages;
    bool sub_down_said;
};

/* ---- URL ------------------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [p, p+n) into an owned string (NULL on a bad escape). */
static char *decode(const char *p, size_t n)
{
    char *out = moat_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') {
            *o++ = p[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(p[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(p[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

static int parse_url(moat__backend *b, const char *url, char **errmsg)
{
    bool tls = strncmp(url, "rediss://", 9) == 0;
    const char *p = url + (tls ? 9 : 8);
    const char *end = p + strcspn(p, "/?");
    const char *at = memchr(p, '@', (size_t)(end - p));
    /* a password may hold '@': the host starts after the last one */
    for (const char *q = at; q && q < end; q = memchr(q + 1, '@', (size_t)(end - q - 1)))
        at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            b->user = colon > p ? decode(p, (size_t)(colon - p)) : NULL;
            b->pass = decode(colon + 1, (size_t)(at - colon - 1));
            if (!b->pass || (colon > p && !b->user)) goto bad;
        } else {
            b->pass = decode(p, (size_t)(at - p)); /* redis://PASSWORD@host */
            if (!b->pass) goto bad;
        }
        p = at + 1;
    }
    const char *hend = end;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) goto bad;
        b->host = moat_xstrndup(p + 1, (size_t)(rb - p - 1));
        p = rb + 1;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        hend = colon ? colon : end;
        b->host = moat_xstrndup(p, (size_t)(hend - p));
        p = hend;
    }
    if (!b->host[0]) goto bad;
    if (*p == ':') {
        p++;
        if (p == end || (size_t)(end - p) > 5 || strspn(p, "0123456789") < (size_t)(end - p))
            goto bad;
        uint64_t port = 0;
        if (moat_parse_u64(p, (size_t)(end - p), &port) < 0 || port < 1 || port > 65535) goto bad;
        b->port = moat_xstrndup(p, (size_t)(end - p));
    } else if (p != end) {
        goto bad;
    } else {
        b->port = moat_xstrdup("6379");
    }
    p = end;
    if (*p == '/') {
        p++;
        size_t n = strcspn(p, "?");
        if (n) {
            uint64_t db = 0;
            if (n > 4 || moat_parse_u64(p, n, &db) < 0) goto bad;
            b->db = (int)db;
        }
        p += n;
    }
    if (*p == '?') {
        p++;
        while (*p) {
            size_t n = strcspn(p, "&");
            const char *eq = memchr(p, '=', n);
            size_t klen = eq ? (size_t)(eq - p) : n;
            char *val = eq ? decode(eq + 1, n - klen - 1) : NULL;
            char **dst = NULL;
            if (klen == 2 && strncmp(p, "ca", 2) == 0)
                dst = &b->ca;
            else if (klen == 4 && strncmp(p, "cert", 4) == 0)
                dst = &b->cert;
            else if (klen == 3 && strncmp(p, "key", 3) == 0)
                dst = &b->key;
            if (!dst || !val || !val[0] || !tls) {
                *errmsg = moat_xasprintf(
                    "store.state %s: unknown or misplaced option '%.*s' (rediss:// takes "
                    "ca=FILE, cert=FILE and key=FILE)",
                    b->shown, (int)klen, p);
                free(val);
                return MOAT_EINVAL;
            }
            free(*dst);
            *dst = val;
            p += n;
            if (*p == '&') p++;
        }
    }
    if ((b->cert == NULL) != (b->key == NULL)) {
        *errmsg = moat_xasprintf("store.state %s: cert= and key= go together", b->shown);
        return MOAT_EINVAL;
    }
    return 0;
bad:
    *errmsg = moat_xasprintf("store.state %s: expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] "
                             "or rediss://... (TLS)",
                             b->shown);
    return MOAT_EINVAL;
}

/* The URL with the password replaced by "***". */
static char *shown_url(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    /* any '@': all before the last one is user and password, even one
     * with an unescaped '/' or '?' in it (a malformed URL is shown too) */
    const char *at = strrchr(p, '@');
    if (!at) return moat_xstrndup(url, (size_t)(p - url) + strcspn(p, "?"));
    const char *colon = memchr(p, ':', (size_t)(at - p));
    int user = colon ? (int)(colon - p) : 0;
    return moat_xasprintf("%.*s%.*s:***%.*s", (int)(p - url), url, user, p, (int)strcspn(at, "?"),
                          at);
}

/* ---- one connection ------------------------------------------------------- */

static void conn_close(rconn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    if (c->rd) redisReaderFree(c->rd);
    c->rd = NULL;
}

static void ssl_why(char *why, size_t n, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[160] = "";
    if (e) ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    snprintf(why, n, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

static int wait_fd(int fd, short ev, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = ev};
    int r;
    do
        r = poll(&pfd, 1, ms);
    while (r < 0 && errno == EINTR);
    return r;
}

/* Writes all of [p, p+n) (blocking with the socket's timeouts). */
static int conn_write(rconn *c, const char *p, size_t n, char *why, size_t wn)
{
    while (n > 0) {
        ssize_t w;
        if (c->ssl) {
            size_t done = 0;
            int r = SSL_write_ex(c->ssl, p, n, &done);
            w = r == 1 ? (ssize_t)done : -1;
            if (w < 0) {
                ssl_why(why, wn, "TLS write failed");
                return MOAT_EIO;
            }
        } else {
            w = send(c->fd, p, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                snprintf(why, wn, "write: %s", strerror(errno));
                return MOAT_EIO;
            }
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads what is there into the reader: >0 bytes read, 0 at end of stream,
 * MOAT_EAGAIN when nothing is readable (non-blocking), MOAT_EIO. */
static int conn_fill(rconn *c, char *why, size_t wn)
{
    char buf[16384];
    ssize_t r;
    if (c->ssl) {
        size_t got = 0;
        int ok = SSL_read_ex(c->ssl, buf, sizeof(buf), &got);
        if (ok != 1) {
            int e = SSL_get_error(c->ssl, ok);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return MOAT_EAGAIN;
            if (e == SSL_ERROR_ZERO_RETURN) return 0;
            if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return MOAT_EAGAIN;
                return 0;
            }
            ssl_why(why, wn, "TLS read failed");
            return MOAT_EIO;
        }
        r = (ssize_t)got;
    } else {
        do
            r = recv(c->fd, buf, sizeof(buf), 0);
        while (r < 0 && errno == EINTR);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return MOAT_EAGAIN;
        if (r < 0) {
            snprintf(why, wn, "read: %s", strerror(errno));
            return MOAT_EIO;
        }
        if (r == 0) return 0;
    }
    if (redisReaderFeed(c->rd, buf, (size_t)r) != REDIS_OK) {
        snprintf(why, wn, "bad reply from the server");
        return MOAT_EIO;
    }
    return (int)(r > 0 ? 1 : 0);
}

/* The next reply, waiting for it. */
static int conn_reply(rconn *c, redisReply **out, char *why, size_t wn)
{
    for (;;) {
        void *rep = NULL;
        if (redisReaderGetReply(c->rd, &rep) != REDIS_OK) {
            snprintf(why, wn, "bad reply from the server");
            return MOAT_EIO;
        }
        if (rep) {
            *out = rep;
            return 0;
        }
        int r = conn_fill(c, why, wn);
        if (r == 0) {
            snprintf(why, wn, "the server closed the connection");
            return MOAT_EIO;
        }
        if (r == MOAT_EAGAIN) { /* a blocking socket: its timeout */
            snprintf(why, wn, "no answer within %d ms", IO_TIMEOUT_MS);
            return MOAT_EIO;
        }
        if (r < 0) return r;
    }
}

/* Sends one command and reads its reply. An error reply is returned as a
 * reply (type REDIS_REPLY_ERROR), for the caller to judge. */
static int conn_cmd(rconn *c, int argc, const char **argv, const size_t *lens, redisReply **out,
                    char *why, size_t wn)
{
    *out = NULL;
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (len < 0) {
        snprintf(why, wn, "out of memory");
        return MOAT_EIO;
    }
    int rc = conn_write(c, cmd, (size_t)len, why, wn);
    free(cmd);
    if (rc == 0) rc = conn_reply(c, out, why, wn);
    return rc;
}

static int set_timeouts(int fd, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
        return -1;
    return 0;
}

static int tcp_connect(moat__backend *b, char *why, size_t wn)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(b->host, b->port, &hints, &res);
    if (g != 0) {
        snprintf(why, wn, "%s: %s", b->shown, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    snprintf(why, wn, "%s: cannot connect", b->shown);
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) continue;
        int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (r < 0 && errno == EINPROGRESS) {
            int err = 0;
            socklen_t el = sizeof(err);
            if (wait_fd(fd, POLLOUT, IO_TIMEOUT_MS) <= 0)
                err = ETIMEDOUT;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
                err = errno;
            r = err ? -1 : 0;
            errno = err;
        }
        if (r < 0) {
            snprintf(why, wn, "%s: cannot connect: %s", b->shown, strerror(errno));
            close(fd);
            fd = -1;
            continue;
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
            set_timeouts(fd, IO_TIMEOUT_MS) < 0) {
            snprintf(why, wn, "%s: %s", b->shown, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static bool is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int tls_start(moat__backend *b, rconn *c, char *why, size_t wn)
{
    c->ssl = SSL_new(b->ctx);
    if (!c->ssl) {
        ssl_why(why, wn, "TLS");
        return MOAT_EIO;
    }
    SSL_set_fd(c->ssl, c->fd);
    X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
    if (is_ip(b->host)) {
        X509_VERIFY_PARAM_set1_ip_asc(vp, b->host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, b->host);
        SSL_set1_host(c->ssl, b->host);
    }
    if (SSL_connect(c->ssl) != 1) {
        long v = SSL_get_verify_result(c->ssl);
        if (v != X509_V_OK) {
            snprintf(why, wn, "%s: the server's certificate is refused: %s", b->shown,
                     X509_verify_cert_error_string(v));
            ERR_clear_error();
            return MOAT_EINVAL;
        } else {
            char tmp[200];
            ssl_why(tmp, sizeof(tmp), "TLS handshake failed");
            snprintf(why, wn, "%s: %s", b->shown, tmp);
        }
        ERR_clear_error();
        return MOAT_EIO;
    }
    return 0;
}

/* A reply that is not an error; else why (the server's message: no secret
 * in it, Redis never echoes a password). */
static int reply_ok(moat__backend *b, redisReply *r, const char *what, char *why, size_t wn)
{
    if (r && r->type != REDIS_REPLY_ERROR) return 0;
    snprintf(why, wn, "%s: %s: %.*s", b->shown, what, r ? (int)r->len : 0, r ? r->str : "");
    return MOAT_EIO;
}

/* Connects c: TCP, TLS, AUTH, SELECT. */
static int conn_open(moat__backend *b, rconn *c, char *why, size_t wn)
{
    c->fd = tcp_connect(b, why, wn);
    if (c->fd < 0) return MOAT_EIO;
    c->rd = redisReaderCreate();
    int rc = b->ctx ? tls_start(b, c, why, wn) : 0;
    redisReply *r = NULL;
    if (rc == 0 && b->pass) {
        const char *argv[] = {"AUTH", b->user ? b->user : b->pass, b->pass};
        size_t lens[] = {4, strlen(argv[1]), strlen(b->pass)};
        rc = conn_cmd(c, b->user ? 3 : 2, argv, lens, &r, why, wn);
        if (rc == 0 && reply_ok(b, r, "AUTH", why, wn) < 0) rc = MOAT_EINVAL;
        freeReplyObject(r);
        r = NULL;
    }
    if (rc == 0 && b->db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", b->db);
        const char *argv[] = {"SELECT", db};
        size_t lens[] = {6, strlen(db)};
        rc = conn_cmd(c, 2, argv, lens, &r, why, wn);
        if (rc == 0 && reply_ok(b, r, "SELECT", why, wn) < 0) rc = MOAT_EINVAL;
        freeReplyObject(r);
    }
    if (rc < 0) {
        if (!strstr(why, b->shown)) {
            char tmp[256];
            snprintf(tmp, sizeof(tmp), "%.120s: %.130s", b->shown, why);
            snprintf(why, wn, "%s", tmp);
        }
        conn_close(c);
    }
    return rc;
}

/* Did the server close an idle connection (a restart)? Readable while no
 * command is pending means end of stream or an error. */
static bool conn_stale(rconn *c)
{
    if (wait_fd(c->fd, POLLIN, 0) == 0 && !(c->ssl && SSL_pending(c->ssl) > 0)) return false;
    if (!c->ssl) return true;
    /* TLS: records with no data (a TLS 1.3 session ticket) are not the end */
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0) return true;
    char byte;
    size_t got = 0;
    int ok = SSL_peek_ex(c->ssl, &byte, 1, &got);
    bool stale = ok == 1 || SSL_get_error(c->ssl, ok) != SSL_ERROR_WANT_READ;
    ERR_clear_error();
    if (fcntl(c->fd, F_SETFL, fl) < 0) stale = true;
    return stale;
}

/* ---- the pool ------------------------------------------------------------- */

static void set_down(moat__backend *b, const char *why)
{
    if (!b->down) moat_error("auth store unavailable: %s", why);
    b->down = true;
    snprintf(b->problem, sizeof(b->problem), "%s", why);
}

/* Takes a connected connection: its index, or MOAT_EIO while down. */
static int acquire(moat__backend *b)
{
    pthread_mutex_lock(&b->mu);
    int i;
    for (;;) {
        for (i = 0; i < POOL && b->busy[i]; i++)
            ;
        if (i < POOL) break;
        pthread_cond_wait(&b->cv, &b->mu);
    }
    b->busy[i] = true;
    rconn *c = &b->conns[i];
    if (c->fd >= 0 && conn_stale(c)) conn_close(c);
    if (c->fd >= 0) {
        pthread_mutex_unlock(&b->mu);
        return i;
    }
    uint64_t now = moat_now_ms();
    if (b->down && b->retry_ms && now - b->retry_ms < 1000) {
        b->busy[i] = false;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return MOAT_EIO;
    }
    b->retry_ms = now;
    pthread_mutex_unlock(&b->mu);
    char why[256];
    int rc = conn_open(b, c, why, sizeof(why));
    pthread_mutex_lock(&b->mu);
    if (rc < 0) {
        set_down(b, why);
        b->busy[i] = false;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return MOAT_EIO;
    }
    /* still down until a command succeeds (a replica after a failover
     * accepts the connection and refuses writes: READONLY) */
    pthread_mutex_unlock(&b->mu);
    return i;
}

static void release(moat__backend *b, int i, int rc, const char *why)
{
    pthread_mutex_lock(&b->mu);
    if (rc == MOAT_EIO) {
        conn_close(&b->conns[i]);
        /* The first failure after being up: the next call tries a new
         * connection at once (a restarted server). While down: at most
         * one attempt a second. */
        if (!b->down) b->retry_ms = 0;
        set_down(b, why);
    } else if (b->down) {
        moat_warn("auth store %s: available again", b->shown);
        b->down = false;
        b->problem[0] = '\0';
    }
    b->busy[i] = false;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Runs one command on a pooled connection: *out the reply (the caller
 * frees it). An error reply is MOAT_EIO (and the backend's problem). */
static int run(moat__backend *b, int argc, const char **argv, const size_t *lens, redisReply **out)
{
    *out = NULL;
    int i = acquire(b);
    if (i < 0) return i;
    char why[256] = "";
    int rc = conn_cmd(&b->conns[i], argc, argv, lens, out, why, sizeof(why));
    if (rc == 0 && (*out)->type == REDIS_REPLY_ERROR) {
        snprintf(why, sizeof(why), "%s: %.*s", b->shown, (int)(*out)->len, (*out)->str);
        freeReplyObject(*out);
        *out = NULL;
        rc = MOAT_EIO;
    } else if (rc < 0) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "%.120s: %.130s", b->shown, why);
        memcpy(why, tmp, sizeof(why));
    }
    release(b, i, rc, why);
    return rc;
}

/* Arguments of a command: at most 16, each a string or a number. */
typedef struct args {
    int n;
    const char *v[16];
    size_t len[16];
    char num[16][24];
} args;

static void arg_s(args *a, const char *s)
{
    a->v[a->n] = s;
    a->len[a->n] = strlen(s);
    a->n++;
}

static void arg_i(args *a, int64_t x)
{
    snprintf(a->num[a->n], sizeof(a->num[a->n]), "%" PRId64, x);
    arg_s(a, a->num[a->n]);
}

/* EVAL script numkeys, then a's arguments (its keys first). */
static int eval(moat__backend *b, const char *script, const args *a, int numkeys, redisReply **out)
{
    args full = {0};
    arg_s(&full, "EVAL");
    arg_s(&full, script);
    arg_i(&full, numkeys);
    for (int i = 0; i < a->n && full.n < 16; i++) {
        if (a->v[i] == a->num[i]) { /* a number: its text lives in a */
            memcpy(full.num[full.n], a->num[i], sizeof(a->num[i]));
            full.v[full.n] = full.num[full.n];
        } else {
            full.v[full.n] = a->v[i];
        }
        full.len[full.n] = a->len[i];
        full.n++;
    }
    return run(b, full.n, full.v, full.len, out);
}

static int64_t rint_(redisReply *r)
{
    if (!r) return 0;
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    if (r->type == REDIS_REPLY_STRING) return strtoll(r->str, NULL, 10);
    return 0;
}

/* Runs a script that answers one integer. */
static int eval_int(moat__backend *b, const char *script, const args *a, int numkeys, int64_t *v)
{
    redisReply *r = NULL;
    int rc = eval(b, script, a, numkeys, &r);
    if (rc == 0 && v) *v = rint_(r);
    freeReplyObject(r);
    return rc;
}

static void key(char *buf, size_t n, const char *kind, const char *id)
{
    snprintf(buf, n, "moat:%s:%s", kind, id);
}

static void key_id(char *buf, size_t n, const char *kind, int64_t id)
{
    snprintf(buf, n, "moat:%s:%" PRId64, kind, id);
}

/* ---- open / close / problem ------------------------------------------------ */

static void *sub_main(void *arg);

static void rd_close(moat__backend *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->smu);
    b->stopping = true;
    pthread_cond_broadcast(&b->scv);
    bool started = b->started;
    pthread_mutex_unlock(&b->smu);
    if (started) pthread_join(b->thread, NULL);
    conn_close(&b->sub);
    for (int i = 0; i < POOL; i++)
        conn_close(&b->conns[i]);
    if (b->ctx) SSL_CTX_free(b->ctx);
    if (b->pass) {
        memset(b->pass, 0, strlen(b->pass));
        free(b->pass);
    }
    free(b->host);
    free(b->port);
    free(b->user);
    free(b->ca);
    free(b->cert);
    free(b->key);
    free(b->shown);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->smu);
    pthread_cond_destroy(&b->scv);
    free(b);
}

static int make_ctx(moat__backend *b, char **errmsg)
{
    b->ctx = SSL_CTX_new(TLS_client_method());
    if (!b->ctx) goto fail;
    SSL_CTX_set_min_proto_version(b->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(b->ctx, SSL_VERIFY_PEER, NULL);
    if (b->ca ? SSL_CTX_load_verify_locations(b->ctx, b->ca, NULL) != 1
              : SSL_CTX_set_default_verify_paths(b->ctx) != 1) {
        char tmp[200];
        ssl_why(tmp, sizeof(tmp), "cannot load the CA certificates");
        *errmsg = moat_xasprintf("store.state %s: %s%s%s", b->shown, b->ca ? b->ca : "",
                                 b->ca ? ": " : "", tmp);
        return MOAT_EINVAL;
    }
    if (b->cert && (SSL_CTX_use_certificate_chain_file(b->ctx, b->cert) != 1 ||
                    SSL_CTX_use_PrivateKey_file(b->ctx, b->key, SSL_FILETYPE_PEM) != 1 ||
                    SSL_CTX_check_private_key(b->ctx) != 1)) {
        char tmp[200];
        ssl_why(tmp, sizeof(tmp), "cannot load the client certificate");
        *errmsg = moat_xasprintf("store.state %s: %s", b->shown, tmp);
        return MOAT_EINVAL;
    }
    return 0;
fail:
    *errmsg = moat_xasprintf("store.state %s: cannot set up TLS", b->shown);
    return MOAT_EINVAL;
}

/* A write to a connection the server closed must be an error, not a
 * SIGPIPE: send() says MSG_NOSIGNAL, but OpenSSL writes with write(2).
 * The gateway ignores SIGPIPE already; the CLI (moat user) too, from here. */
static void ignore_sigpipe(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
}

int moat__redis_open(const char *url, bool watch, moat__backend **out, char **errmsg)
{
    (void)watch; /* the subscription starts at the first data_version */
    *out = NULL;
    *errmsg = NULL;
    moat__backend *b = moat_xcalloc(1, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    pthread_mutex_init(&b->smu, NULL);
    pthread_cond_init(&b->scv, NULL);
    b->sub.fd = -1;
    for (int i = 0; i < POOL; i++)
        b->conns[i].fd = -1;
    b->shown = shown_url(url);
    b->generation = 1;
    ignore_sigpipe();
    int rc = parse_url(b, url, errmsg);
    if (rc == 0 && strncmp(url, "rediss://", 9) == 0) rc = make_ctx(b, errmsg);
    if (rc == 0) {
        /* Connect once now: a wrong address or password is a clear error at
         * start, not a 503 later. */
        char why[256];
        rc = conn_open(b, &b->conns[0], why, sizeof(why));
        if (rc == MOAT_EINVAL) {
            *errmsg = moat_xasprintf("store.state: %s", why);
        } else if (rc < 0) {
            /* unreachable now: start down (protected paths answer 503)
             * and keep trying, at most once a second */
            set_down(b, why);
            b->retry_ms = moat_now_ms();
            rc = 0;
        }
    }
    if (rc < 0) {
        rd_close(b);
        return rc;
    }
    *out = b;
    return 0;
}

static bool rd_problem(moat__backend *b, char *buf, size_t n)
{
    pthread_mutex_lock(&b->mu);
    bool down = b->down;
    if (n) snprintf(buf, n, "%s", down ? b->problem : "");
    pthread_mutex_unlock(&b->mu);
    return down;
}

/* ---- the subscription: data_version ------------------------------------------
 * A thread keeps a SUBSCRIBE connection to moat:changes (connecting again at
 * most once a second while it is down) and hands it over, non-blocking, to
 * data_version, which drains what has arrived and counts the messages. */

static int sub_connect(moat__backend *b, rconn *c, char *why, size_t wn)
{
    int rc = conn_open(b, c, why, wn);
    if (rc < 0) return rc;
    const char *argv[] = {"SUBSCRIBE", CHANNEL};
    size_t lens[] = {9, strlen(CHANNEL)};
    redisReply *r = NULL;
    rc = conn_cmd(c, 2, argv, lens, &r, why, wn);
    if (rc == 0 && (!r || r->type != REDIS_REPLY_ARRAY)) rc = reply_ok(b, r, "SUBSCRIBE", why, wn);
    freeReplyObject(r);
    int fl = fcntl(c->fd, F_GETFL);
    if (rc == 0 && (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)) rc = MOAT_EIO;
    if (rc < 0) conn_close(c);
    return rc;
}

static void *sub_main(void *arg)
{
    moat__backend *b = arg;
    pthread_mutex_lock(&b->smu);
    while (!b->stopping) {
        if (!b->sub_up) {
            pthread_mutex_unlock(&b->smu);
            rconn c = {.fd = -1};
            char why[256];
            int rc = sub_connect(b, &c, why, sizeof(why));
            pthread_mutex_lock(&b->smu);
            if (rc == 0 && !b->stopping) {
                b->sub = c;
                b->sub_up = true;
                b->generation++; /* messages may have been missed: caches start over */
                if (b->sub_down_said) moat_warn("auth store %s: subscribed again", b->shown);
                b->sub_down_said = false;
            } else if (rc == 0) {
                conn_close(&c);
            } else if (!b->sub_down_said) {
                moat_error("auth store: no change notifications: %s", why);
                b->sub_down_said = true;
            }
        }
        if (b->stopping) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&b->scv, &b->smu, &ts);
    }
    pthread_mutex_unlock(&b->smu);
    return NULL;
}

static int rd_data_version(moat__backend *b, uint64_t *out)
{
    pthread_mutex_lock(&b->smu);
    if (!b->started) {
        b->started = pthread_create(&b->thread, NULL, sub_main, b) == 0;
        pthread_mutex_unlock(&b->smu);
        return MOAT_EAGAIN;
    }
    int rc = 0;
    if (!b->sub_up) rc = MOAT_EAGAIN;
    while (rc == 0) {
        void *rep = NULL;
        if (redisReaderGetReply(b->sub.rd, &rep) != REDIS_OK) {
            rc = MOAT_EIO;
            break;
        }
        if (rep) {
            redisReply *r = rep;
            if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                r->element[0]->type == REDIS_REPLY_STRING &&
                strcmp(r->element[0]->str, "message") == 0)
                b->messages++;
            freeReplyObject(r);
            continue;
        }
        char why[256];
        int f = conn_fill(&b->sub, why, sizeof(why));
        if (f == MOAT_EAGAIN) break;
        if (f <= 0) rc = MOAT_EIO;
    }
    if (rc == MOAT_EIO) {
        conn_close(&b->sub);
        b->sub_up = false;
        pthread_cond_signal(&b->scv);
        rc = MOAT_EAGAIN;
    }
    if (rc == 0) *out = b->generation << 32 | (b->messages & 0xffffffffu);
    pthread_mutex_unlock(&b->smu);
    return rc;
}

static const char lua_publish[] = "return redis.call('PUBLISH', '" CHANNEL "', '1')";

static int rd_bump(moat__backend *b)
{
    args a = {0};
    return eval_int(b, lua_publish, &a, 0, NULL);
}

/* HMGET of n fields of the hash at k: run()'s answer. */
static int hmget(moat__backend *b, const char *k, const char *const *f, size_t n, redisReply **r)
{
    args a = {0};
    arg_s(&a, "HMGET");
    arg_s(&a, k);
    for (size_t i = 0; i < n; i++)
        arg_s(&a, f[i]);
    return run(b, a.n, a.v, a.len, r);
}

/* ---- per-user state ------------------------------------------------------------ */

static int rd_user_state(moat__backend *b, int64_t id, moat__user_state *out)
{
    memset(out, 0, sizeof(*out));
    char k[64];
    key_id(k, sizeof(k), "u", id);
    static const char *const f[] = {"lu", "f", "fs", "lc", "ts", "mlu"};
    redisReply *r = NULL;
    int rc = hmget(b, k, f, 6, &r);
    if (rc < 0) return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 6) {
        out->locked_until = rint_(r->element[0]);
        out->failures = (uint32_t)rint_(r->element[1]);
        out->failure_start = rint_(r->element[2]);
        out->lock_count = (uint32_t)rint_(r->element[3]);
        out->totp_last_step = (uint64_t)rint_(r->element[4]);
        out->mfa_locked_until = rint_(r->element[5]);
    }
    freeReplyObject(r);
    return 0;
}

static int rd_user_forget(moat__backend *b, int64_t id)
{
    char k[64];
    key_id(k, sizeof(k), "u", id);
    args a = {0};
    arg_s(&a, k);
    return eval_int(b,
                    "redis.call('DEL', KEYS[1]) redis.call('PUBLISH', '" CHANNEL "', '1') "
                    "return 0",
                    &a, 1, NULL);
}

static int rd_totp_forget(moat__backend *b, int64_t id)
{
    char k[64];
    key_id(k, sizeof(k), "u", id);
    args a = {0};
    arg_s(&a, k);
    return eval_int(b,
                    "redis.call('HDEL', KEYS[1], 'ts') redis.call('PUBLISH', '" CHANNEL "', '1') "
                    "return 0",
                    &a, 1, NULL);
}

/* Compare-and-set of the last TOTP step used. */
static int rd_totp_use(moat__backend *b, int64_t id, uint64_t step)
{
    char k[64];
    key_id(k, sizeof(k), "u", id);
    args a = {0};
    arg_s(&a, k);
    arg_i(&a, (int64_t)step);
    int64_t ok = 0;
    int rc = eval_int(b,
                      "local last = tonumber(redis.call('HGET', KEYS[1], 'ts') or '0') "
                      "local step = tonumber(ARGV[1]) "
                      "if step > last then redis.call('HSET', KEYS[1], 'ts', ARGV[1]) return 1 end "
                      "return 0",
                      &a, 1, &ok);
    return rc < 0 ? rc : ok ? 0 : MOAT_ENOENT;
}

/* count_failure of sqlite.c, in one script: failures within the window;
 * reaching the limit locks for a time that doubles with every lock (at most
 * a day). ARGV: field prefix, limit, window, duration, now, max, ttl (0 =
 * none). Answers the new lock's end, or 0. */
static const char lua_failure[] =
    "local p = ARGV[1] "
    "local f = tonumber(redis.call('HGET', KEYS[1], p..'f') or '0') "
    "local s = tonumber(redis.call('HGET', KEYS[1], p..'fs') or '0') "
    "local c = tonumber(redis.call('HGET', KEYS[1], p..'lc') or '0') "
    "local u = tonumber(redis.call('HGET', KEYS[1], p..'lu') or '0') "
    "local limit, window, dur = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]) "
    "local now, maxl, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]) "
    "if s == 0 or now - s >= window then f = 0 s = now end "
    "f = f + 1 "
    "local locked = 0 "
    "if limit > 0 and f >= limit then "
    "  local d = dur local i = 0 "
    "  while i < c and d < maxl do d = d * 2 i = i + 1 end "
    "  if d > maxl then d = maxl end "
    "  u = now + d c = c + 1 f = 0 s = 0 locked = u "
    "end "
    "redis.call('HSET', KEYS[1], p..'f', f, p..'fs', s, p..'lc', c, p..'lu', u) "
    "if ttl > 0 then "
    "  local keep = ttl if u > now then keep = keep + (u - now) end "
    "  redis.call('EXPIRE', KEYS[1], keep) "
    "end "
    "return locked";

static int failure(moat__backend *b, const char *k, const char *prefix, uint32_t limit,
                   const moat_lockout_params *p, int64_t now, int64_t ttl, int64_t *until)
{
    *until = 0;
    args a = {0};
    arg_s(&a, k);
    arg_s(&a, prefix);
    arg_i(&a, limit);
    arg_i(&a, p->window);
    arg_i(&a, p->duration);
    arg_i(&a, now);
    arg_i(&a, MAX_LOCK_SECONDS);
    arg_i(&a, ttl);
    return eval_int(b, lua_failure, &a, 1, until);
}

static int rd_login_failed(moat__backend *b, int64_t id, const moat_lockout_params *p, int64_t now,
                           int64_t *locked_until)
{
    char k[64];
    key_id(k, sizeof(k), "u", id);
    return failure(b, k, "", p->failures, p, now, 0, locked_until);
}

static int rd_mfa_failed(moat__backend *b, int64_t id, const moat_lockout_params *p, int64_t now,
                         int64_t *locked_until)
{
    char k[64];
    key_id(k, sizeof(k), "u", id);
    return failure(b, k, "m", p->mfa_failures, p, now, 0, locked_until);
}

static int reset(moat__backend *b, int64_t id, const char *prefix)
{
    char k[64], f[3][8];
    key_id(k, sizeof(k), "u", id);
    args a = {0};
    arg_s(&a, "HSET");
    arg_s(&a, k);
    const char *names[] = {"f", "fs", "lc"};
    for (int i = 0; i < 3; i++) {
        snprintf(f[i], sizeof(f[i]), "%s%s", prefix, names[i]);
        arg_s(&a, f[i]);
        arg_s(&a, "0");
    }
    redisReply *r = NULL;
    int rc = run(b, a.n, a.v, a.len, &r);
    freeReplyObject(r);
    return rc;
}

static int rd_login_ok(moat__backend *b, int64_t id)
{
    return reset(b, id, "");
}

static int rd_mfa_ok(moat__backend *b, int64_t id)
{
    return reset(b, id, "m");
}

static int rd_addr_failed(moat__backend *b, const char *addr, const moat_lockout_params *p,
                          int64_t now, int64_t *blocked_until)
{
    char k[128];
    key(k, sizeof(k), "a", addr);
    /* forgotten a day after its last failure or block, as in sqlite.c */
    return failure(b, k, "", p->addr_failures, p, now, MAX_LOCK_SECONDS, blocked_until);
}

static int rd_addr_blocked(moat__backend *b, const char *addr, int64_t now, int64_t *until)
{
    *until = 0;
    char k[128];
    key(k, sizeof(k), "a", addr);
    args a = {0};
    arg_s(&a, "HGET");
    arg_s(&a, k);
    arg_s(&a, "lu");
    redisReply *r = NULL;
    int rc = run(b, a.n, a.v, a.len, &r);
    if (rc == 0 && rint_(r) > now) *until = rint_(r);
    freeReplyObject(r);
    return rc;
}

/* ---- sessions ----------------------------------------------------------------- */

static bool hash_ok(const char *h)
{
    size_t n = strlen(h);
    return n > 0 && n < 65;
}

static int rd_session_create(moat__backend *b, const moat_session *x)
{
    if (!hash_ok(x->id_hash)) return MOAT_EINVAL;
    char k[96], us[64];
    key(k, sizeof(k), "s", x->id_hash);
    key_id(us, sizeof(us), "us", x->user_id);
    args a = {0};
    arg_s(&a, k);
    arg_s(&a, us);
    arg_s(&a, x->id_hash);
    arg_i(&a, x->user_id);
    arg_i(&a, x->created);
    arg_i(&a, x->last_seen);
    arg_i(&a, x->expires);
    arg_i(&a, x->mfa);
    arg_s(&a, x->csrf);
    int64_t ok = 0;
    int rc = eval_int(
        b,
        "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
        "redis.call('HSET', KEYS[1], 'u', ARGV[2], 'c', ARGV[3], 'l', ARGV[4], 'e', ARGV[5],"
        " 'm', ARGV[6], 'x', ARGV[7]) "
        "redis.call('EXPIREAT', KEYS[1], ARGV[5]) "
        "for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do "
        "  if redis.call('EXISTS', 'moat:s:'..id) == 0 then redis.call('SREM', KEYS[2], id) end "
        "end "
        "redis.call('SADD', KEYS[2], ARGV[1]) "
        /* the set lives as long as the user's longest session */
        "local t = redis.call('TTL', KEYS[2]) "
        "local want = tonumber(ARGV[5]) - tonumber(ARGV[4]) "
        "if want > 0 and t < want then redis.call('EXPIRE', KEYS[2], want) end "
        "return 1",
        &a, 2, &ok);
    return rc < 0 ? rc : ok ? 0 : MOAT_EINVAL;
}

static void copy_str(char *dst, size_t cap, redisReply *r)
{
    size_t n = r && r->type == REDIS_REPLY_STRING ? r->len : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, r->str, n);
    dst[n] = '\0';
}

static int rd_session_get(moat__backend *b, const char *id_hash, moat_session *out)
{
    memset(out, 0, sizeof(*out));
    if (!hash_ok(id_hash)) return MOAT_ENOENT;
    char k[96];
    key(k, sizeof(k), "s", id_hash);
    static const char *const f[] = {"u", "c", "l", "e", "m", "x"};
    redisReply *r = NULL;
    int rc = hmget(b, k, f, 6, &r);
    if (rc < 0) return rc;
    rc = MOAT_ENOENT;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 6 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        snprintf(out->id_hash, sizeof(out->id_hash), "%s", id_hash);
        out->user_id = rint_(r->element[0]);
        out->created = rint_(r->element[1]);
        out->last_seen = rint_(r->element[2]);
        out->expires = rint_(r->element[3]);
        out->mfa = rint_(r->element[4]) != 0;
        copy_str(out->csrf, sizeof(out->csrf), r->element[5]);
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

static int rd_session_touch(moat__backend *b, const char *id_hash, int64_t now)
{
    if (!hash_ok(id_hash)) return MOAT_ENOENT;
    char k[96];
    key(k, sizeof(k), "s", id_hash);
    args a = {0};
    arg_s(&a, k);
    arg_i(&a, now);
    int64_t ok = 0;
    int rc = eval_int(b,
                      "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
                      "redis.call('HSET', KEYS[1], 'l', ARGV[1]) return 1",
                      &a, 1, &ok);
    return rc < 0 ? rc : ok ? 0 : MOAT_ENOENT;
}

static int rd_session_delete(moat__backend *b, const char *id_hash)
{
    if (!hash_ok(id_hash)) return MOAT_ENOENT;
    char k[96];
    key(k, sizeof(k), "s", id_hash);
    args a = {0};
    arg_s(&a, k);
    arg_s(&a, id_hash);
    int64_t ok = 0;
    int rc = eval_int(b,
                      "local u = redis.call('HGET', KEYS[1], 'u') "
                      "if not u then return 0 end "
                      "redis.call('DEL', KEYS[1]) "
                      "redis.call('SREM', 'moat:us:'..u, ARGV[1]) "
                      "redis.call('PUBLISH', '" CHANNEL "', '1') return 1",
                      &a, 1, &ok);
    return rc < 0 ? rc : ok ? 0 : MOAT_ENOENT;
}

static int rd_sessions_end_user(moat__backend *b, int64_t id, size_t *n)
{
    if (n) *n = 0;
    char us[64];
    key_id(us, sizeof(us), "us", id);
    args a = {0};
    arg_s(&a, us);
    int64_t ended = 0;
    int rc = eval_int(b,
                      "local n = 0 "
                      "for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
                      "  n = n + redis.call('DEL', 'moat:s:'..id) "
                      "end "
                      "redis.call('DEL', KEYS[1]) "
                      "redis.call('PUBLISH', '" CHANNEL "', '1') return n",
                      &a, 1, &ended);
    if (rc == 0 && n) *n = (size_t)ended;
    return rc;
}

/* Sessions expire by their keys' TTL; an idle session is refused by the
 * caller and then deleted. Nothing to sweep. */
static int rd_purge(moat__backend *b, int64_t now, int64_t idle)
{
    (void)b;
    (void)now;
    (void)idle;
    return 0;
}

/* ---- rate limits, strikes, bans ------------------------------------------------ */

static int rd_rate_hit(moat__backend *b, const char *k, const moat_rate_params *p, int64_t now_ms,
                       moat_rate_result *out)
{
    memset(out, 0, sizeof(*out));
    char zk[320], nk[330];
    if (strlen(k) > 300) return MOAT_EINVAL;
    key(zk, sizeof(zk), "r", k);
    snprintf(nk, sizeof(nk), "%s:n", zk);
    args a = {0};
    arg_s(&a, zk);
    arg_s(&a, nk);
    arg_i(&a, now_ms);
    arg_i(&a, p->window_ms);
    arg_i(&a, (int64_t)p->requests + p->burst);
    redisReply *r = NULL;
    int rc = eval(b,
                  "local now, w, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) "
                  "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - w) "
                  "local n = redis.call('ZCARD', KEYS[1]) "
                  "if n < cap then "
                  "  local seq = redis.call('INCR', KEYS[2]) "
                  "  redis.call('ZADD', KEYS[1], now, seq) "
                  "  redis.call('PEXPIRE', KEYS[1], w) redis.call('PEXPIRE', KEYS[2], w) "
                  "  return {1, n + 1, 0} "
                  "end "
                  "local first = redis.call('ZRANGE', KEYS[1], n - cap, n - cap, 'WITHSCORES') "
                  "return {0, n + 1, tonumber(first[2]) + w - now}",
                  &a, 2, &r);
    if (rc < 0) return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        out->allowed = rint_(r->element[0]) == 1;
        int64_t c = rint_(r->element[1]);
        out->count = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
        out->retry_after_ms = rint_(r->element[2]);
        if (!out->allowed && out->retry_after_ms < 1) out->retry_after_ms = 1;
    } else {
        rc = MOAT_EIO;
    }
    freeReplyObject(r);
    return rc;
}

/* Forgets bans that are over (and their reasons). ARGV[1] = now. */
#define LUA_SWEEP_BANS                                                                             \
    "for _, a in ipairs(redis.call('ZRANGEBYSCORE', 'moat:bans', '-inf', ARGV[1])) do "            \
    "  redis.call('HDEL', 'moat:banwhy', a) end "                                                  \
    "redis.call('ZREMRANGEBYSCORE', 'moat:bans', '-inf', ARGV[1]) "

static int rd_strike(moat__backend *b, const char *addr, const moat_strike_params *p, int64_t now,
                     int64_t *banned_until)
{
    *banned_until = 0;
    char k[128], why[64];
    key(k, sizeof(k), "k", addr);
    snprintf(why, sizeof(why), "%" PRIu32 " strikes within %" PRId64 " s", p->strikes, p->window);
    args a = {0};
    arg_s(&a, k);
    arg_i(&a, now);
    arg_i(&a, p->strikes);
    arg_i(&a, p->window);
    arg_i(&a, p->duration);
    arg_s(&a, addr);
    arg_s(&a, why);
    return eval_int(b,
                    LUA_SWEEP_BANS
                    "local now, limit, window, dur = tonumber(ARGV[1]), tonumber(ARGV[2]),"
                    " tonumber(ARGV[3]), tonumber(ARGV[4]) "
                    "local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0') "
                    "local s = tonumber(redis.call('HGET', KEYS[1], 's') or '0') "
                    "if s == 0 or now - s >= window then n = 0 s = now end "
                    "n = n + 1 "
                    "if limit > 0 and n >= limit then "
                    "  redis.call('DEL', KEYS[1]) "
                    "  local untl = now + dur "
                    "  local cur = tonumber(redis.call('ZSCORE', 'moat:bans', ARGV[5]) or '0') "
                    "  if cur < untl then "
                    "    redis.call('ZADD', 'moat:bans', untl, ARGV[5]) "
                    "    redis.call('HSET', 'moat:banwhy', ARGV[5], ARGV[6]) "
                    "  end "
                    "  redis.call('PUBLISH', '" CHANNEL "', '1') "
                    "  return untl "
                    "end "
                    "redis.call('HSET', KEYS[1], 'n', n, 's', s) "
                    "redis.call('EXPIRE', KEYS[1], window) "
                    "return 0",
                    &a, 1, banned_until);
}

static int rd_ban_add(moat__backend *b, const char *addr, int64_t until, const char *why)
{
    args a = {0};
    arg_i(&a, 0);
    arg_s(&a, addr);
    arg_i(&a, until);
    arg_s(&a, why ? why : "");
    return eval_int(b,
                    "redis.call('ZADD', 'moat:bans', ARGV[3], ARGV[2]) "
                    "redis.call('HSET', 'moat:banwhy', ARGV[2], ARGV[4]) "
                    "redis.call('PUBLISH', '" CHANNEL "', '1') return 0",
                    &a, 0, NULL);
}

static int rd_ban_check(moat__backend *b, const char *addr, int64_t now, int64_t *until)
{
    *until = 0;
    args a = {0};
    arg_s(&a, "ZSCORE");
    arg_s(&a, "moat:bans");
    arg_s(&a, addr);
    redisReply *r = NULL;
    int rc = run(b, a.n, a.v, a.len, &r);
    if (rc == 0 && rint_(r) > now) *until = rint_(r);
    freeReplyObject(r);
    return rc;
}

static int rd_ban_remove(moat__backend *b, const char *addr)
{
    args a = {0};
    arg_s(&a, addr);
    int64_t n = 0;
    int rc = eval_int(b,
                      "local n = redis.call('ZREM', 'moat:bans', ARGV[1]) "
                      "redis.call('HDEL', 'moat:banwhy', ARGV[1]) "
                      "if n > 0 then redis.call('PUBLISH', '" CHANNEL "', '1') end return n",
                      &a, 0, &n);
    return rc < 0 ? rc : n ? 0 : MOAT_ENOENT;
}

static int ban_cmp(const void *x, const void *y)
{
    return strcmp(((const moat_ban *)x)->addr, ((const moat_ban *)y)->addr);
}

static int rd_ban_list(moat__backend *b, int64_t now, moat_ban **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    args a = {0};
    arg_i(&a, now);
    redisReply *r = NULL;
    int rc = eval(b,
                  "local out = {} "
                  "local l = redis.call('ZRANGEBYSCORE', 'moat:bans', '(' .. ARGV[1], '+inf',"
                  " 'WITHSCORES') "
                  "for i = 1, #l, 2 do "
                  "  out[#out + 1] = l[i] out[#out + 1] = l[i + 1] "
                  "  out[#out + 1] = redis.call('HGET', 'moat:banwhy', l[i]) or '' "
                  "end return out",
                  &a, 0, &r);
    if (rc < 0) return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements % 3 == 0 && r->elements) {
        *out = moat_xcalloc(r->elements / 3, sizeof(moat_ban));
        for (size_t i = 0; i + 2 < r->elements; i += 3) {
            moat_ban *x = &(*out)[(*n)++];
            copy_str(x->addr, sizeof(x->addr), r->element[i]);
            x->until = rint_(r->element[i + 1]);
            copy_str(x->why, sizeof(x->why), r->element[i + 2]);
        }
        qsort(*out, *n, sizeof(moat_ban), ban_cmp);
    }
    freeReplyObject(r);
    return 0;
}

const moat__backend_ops moat__redis_ops = {
    .scheme = "redis",
    .close = rd_close,
    .problem = rd_problem,
    .user_state = rd_user_state,
    .user_forget = rd_user_forget,
    .totp_forget = rd_totp_forget,
    .totp_use = rd_totp_use,
    .login_failed = rd_login_failed,
    .login_ok = rd_login_ok,
    .mfa_failed = rd_mfa_failed,
    .mfa_ok = rd_mfa_ok,
    .addr_failed = rd_addr_failed,
    .addr_blocked = rd_addr_blocked,
    .session_create = rd_session_create,
    .session_get = rd_session_get,
    .session_touch = rd_session_touch,
    .session_delete = rd_session_delete,
    .sessions_end_user = rd_sessions_end_user,
    .purge = rd_purge,
    .rate_hit = rd_rate_hit,
    .ban_add = rd_ban_add,
    .ban_check = rd_ban_check,
    .ban_remove = rd_ban_remove,
    .ban_list = rd_ban_list,
    .strike = rd_strike,
    .data_version = rd_data_version,
    .bump = rd_bump,
};
