/* net.h - the network layer's public header: listen and upstream address
 * parsing, listening sockets bound before the workers start (SO_REUSEPORT,
 * one per worker), and write helpers on libuv streams that try the write at
 * once and queue only what the kernel did not take. TLS will stack here as a
 * transport; the gateway never touches sockets directly. */
#ifndef MOAT_NET_H
#define MOAT_NET_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include "core.h"

typedef struct moat_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[INET6_ADDRSTRLEN + 16]; /* "127.0.0.1:8080", "[::1]:8080" */
    uint16_t port;
} moat_addr;

/* Parses "IPV4:PORT" or "[IPV6]:PORT" (no host names). */
int moat_addr_parse(const char *s, moat_addr *out);

typedef struct moat_upstream_target {
    bool is_unix;
    char path[108]; /* unix socket path when is_unix */
    char host[256]; /* host name or address literal (no brackets) */
    char port[8];
    moat_addr addr; /* resolved at load time for TCP */
    char text[300]; /* as configured, for logs */
} moat_upstream_target;

/* Parses "http://HOST:PORT[/]" or "unix:/path" and resolves HOST with
 * getaddrinfo (blocking: call at config load, never on a loop). */
int moat_upstream_parse(const char *url, moat_upstream_target *out, char *err, size_t errlen);

/* Opens a TCP listening socket with SO_REUSEPORT and SO_REUSEADDR, bound to
 * addr; returns 0 and the fd, or a negative MOAT_E* with errno text in err. */
int moat_listen_fd(const moat_addr *addr, int backlog, int *fd, char *err, size_t errlen);

/* Fills out with the peer's address without port ("127.0.0.1", "::1"). */
void moat_peer_ip(uv_tcp_t *tcp, char *out, size_t outlen);

/* True if the textual IP address ip lies in one of the CIDRs/addresses. */
bool moat_ip_in_list(const char *ip, char *const *cidrs, size_t n);

/* ---- TLS (tls.c) ----------------------------------------------------------
 * OpenSSL over memory BIOs: the caller moves bytes between the socket and
 * these functions. A context holds one certificate per (cert, key) pair; SNI
 * picks by the names in each certificate, certs[0] is the default. */
typedef struct moat_tls_ctx moat_tls_ctx;
typedef struct moat_tls_conn moat_tls_conn;

/* Loads n PEM certificate chains and keys; modern = TLS 1.3 only, else
 * Mozilla intermediate (TLS 1.2 + 1.3). Blocking file reads: config load only. */
int moat_tls_ctx_new(char *const *certs, char *const *keys, size_t n, bool modern,
                     moat_tls_ctx **out, char *err, size_t errlen);
void moat_tls_ctx_free(moat_tls_ctx *t);
/* Borrowed DNS names of all certificates (for the default Host allow-list). */
size_t moat_tls_ctx_names(const moat_tls_ctx *t, const char **names, size_t max);

/* Session tickets for the contexts made from now on: on or off, and how
 * often their key rotates (ms > 0). Keys are process-wide, never on disk,
 * shared by every context and thread; default on, 12 h. Call before the
 * workers start (moat serve reads [tls] session_tickets/ticket_rotation). */
void moat_tls_tickets_configure(bool enabled, uint64_t rotation_ms);
/* The clock ticket rotation reads (moat_now_ms); unit tests replace it. */
extern uint64_t (*moat_tls__ticket_clock)(void);

/* The managed (ACME) certificate, process-wide: moat_tls_managed_set loads
 * cert and key (cert NULL: no certificate yet; only acme-tls/1 handshakes
 * complete) and swaps them in for new connections, from any thread.
 * moat_tls_ctx_new_managed makes a context that serves it (MOAT_EINVAL
 * before the first moat_tls_managed_set). */
int moat_tls_managed_set(const char *cert, const char *key, bool modern, char *err, size_t errlen);
int moat_tls_ctx_new_managed(moat_tls_ctx **out);
/* TLS-ALPN-01 (RFC 8737): fn gives the challenge certificate and key for a
 * host (new references) or a negative code. Called on worker threads. */
struct x509_st;
struct evp_pkey_st;
typedef int (*moat_tls_challenge_fn)(const char *host, struct x509_st **cert,
                                     struct evp_pkey_st **key);
void moat_tls_set_challenge(moat_tls_challenge_fn fn);
/* OCSP stapling: the DER OCSP response to staple, until the Unix time
 * until, to handshakes that serve the certificate whose leaf has SHA-256
 * fp and ask for its status (every context, SNI and ACME alike). der NULL
 * removes it. Thread-safe; at most 64 certificates. */
void moat_tls_staple_set(const unsigned char fp[32], const unsigned char *der, size_t len,
                         int64_t until);

moat_tls_conn *moat_tls_conn_new(moat_tls_ctx *t);
void moat_tls_conn_free(moat_tls_conn *c);
/* Ciphertext from the peer in; decrypted bytes appended to plain, bytes to
 * send back (handshake, alerts) appended to send. Returns 0, MOAT_ECLOSED
 * (close_notify) or MOAT_EIO (handshake or record error). */
int moat_tls_conn_feed(moat_tls_conn *c, const char *cipher, size_t n, moat_buf *plain,
                       moat_buf *send);
/* Encrypts plain; the records are appended to send. */
int moat_tls_conn_write(moat_tls_conn *c, const char *plain, size_t n, moat_buf *send);
/* Appends a close_notify alert to send (if the handshake had finished). */
void moat_tls_conn_shutdown(moat_tls_conn *c, moat_buf *send);
bool moat_tls_conn_ready(const moat_tls_conn *c);
/* ALPN: offer h2 before http/1.1 on t's connections (off by default); set
 * before the workers use t. moat_tls_conn_h2: the handshake chose h2. */
void moat_tls_ctx_set_http2(moat_tls_ctx *t, bool on);
bool moat_tls_conn_h2(const moat_tls_conn *c);

/* Writes a self-signed ECDSA P-256 certificate for names (the first is also
 * the subject CN) valid for days, and its key (mode 0600), as PEM. */
int moat_cert_selfsigned(const char *cert_path, const char *key_path, char *const *names, size_t n,
                         unsigned days, char *err, size_t errlen);

/* ---- writes ----------------------------------------------------------------
 * moat_stream_write() copies what the kernel does not take at once into a
 * queued uv_write, so the caller's buffer may be reused immediately. cb (may
 * be NULL) is called for queued writes when they complete; *pending counts
 * queued bytes (for backpressure) and is decremented before cb runs. */
typedef void (*moat_write_cb)(void *ud, int status);
int moat_stream_write(uv_stream_t *s, const uv_buf_t *bufs, unsigned nbufs, size_t *pending,
                      moat_write_cb cb, void *ud);

/* ---- deadlines -------------------------------------------------------------
 * A timeout that can be set and stopped on every event at the cost of a
 * store (deadline.c). cb runs once the due time passes on the loop's clock.
 * The timer handle is the caller's to close (uv_close(&d->timer)). */
typedef struct moat_deadline moat_deadline;
typedef void (*moat_deadline_cb)(moat_deadline *d);
struct moat_deadline {
    uv_timer_t timer;  /* first; timer.data is the owner's, as data */
    void *data;        /* the owner's (borrowed) */
    uint64_t due;      /* loop time it is due; 0: not set */
    uint64_t armed_at; /* loop time the uv timer fires; 0: not armed */
    moat_deadline_cb cb;
};
void moat_deadline_init(uv_loop_t *loop, moat_deadline *d, void *data);
/* Due ms from now (ms 0 stops it). */
void moat_deadline_set(moat_deadline *d, uint64_t ms, moat_deadline_cb cb);
void moat_deadline_stop(moat_deadline *d);

#endif
