/* conn.h - a connection of the gateway: the socket handle, its deadline,
 * the bytes received and not yet consumed, the bytes queued for the kernel
 * (watermarks), reading on and off, and closing, over a transport: plain
 * TCP, or TLS over memory BIOs (Redis' ConnectionType, curl's connection
 * filters). The owner (client.c) sees only plaintext in c->in and writes
 * plaintext; a third transport (HTTP/2 framing) slots in the same way. */
#ifndef MOAT_NET_CONN_H
#define MOAT_NET_CONN_H

#include "net.h"

typedef struct moat_conn moat_conn;

/* How bytes cross the wire. All three are called on the loop. */
typedef struct moat_transport {
    const char *name;
    bool secure; /* the peer's bytes are encrypted (the client's scheme is https) */
    /* Bytes read off the socket, raw[0..n): what they carry for the owner
     * is appended to c->in, anything to send back (a handshake) is written.
     * 0, or a negative error (the connection must close: a bad record,
     * close_notify). NULL: the bytes are the owner's as read (zero copy). */
    int (*feed)(moat_conn *c, const char *raw, size_t n);
    /* Puts the owner's bytes on the wire (copied when the kernel does not
     * take them at once): 0 or a negative error. */
    int (*write)(moat_conn *c, const uv_buf_t *bufs, unsigned n);
    /* Last words before the handle closes, with nothing queued
     * (close_notify); best effort. NULL: none. */
    void (*shutdown)(moat_conn *c);
    /* Frees c->tp_state. */
    void (*free)(void *state);
} moat_transport;

extern const moat_transport moat_transport_plain;
extern const moat_transport moat_transport_tls; /* tp_state: a moat_tls_conn */

/* Called with 0 when new bytes are in c->in, or a negative error / UV_EOF
 * when the connection is over (the owner closes it). */
typedef void (*moat_conn_read_cb)(moat_conn *c, int status);
typedef void (*moat_conn_closed_cb)(moat_conn *c);

/* Queued bytes over this: the producer stops (WRITE_HIGH); under half of
 * it: it starts again. */
#define MOAT_CONN_WRITE_HIGH (256 * 1024)

struct moat_conn {
    uv_tcp_t tcp;        /* tcp.data points to the conn */
    moat_deadline timer; /* timer.data: the owner */
    void *owner;         /* borrowed */
    const moat_transport *tp;
    void *tp_state;       /* owned, freed by tp->free */
    moat_buf in;          /* received plaintext, not yet consumed by the owner */
    moat_buf raw;         /* transport bytes read, not yet fed */
    moat_buf out;         /* plaintext written while corked */
    size_t write_pending; /* bytes queued for the kernel */
    size_t read_limit;    /* reading stops while in holds this many bytes (0: no limit) */
    moat_conn_read_cb on_read;
    moat_write_cb on_written; /* a queued write completed (owner as ud) */
    moat_conn_closed_cb on_closed;
    int open_handles;
    bool reading, closing, corked;
};

/* Accepts a connection from listener onto c, over tp with state (owned by
 * c from here, even on failure). 0, or a negative error: the handles are
 * then closing and on_closed runs (set them before). */
int moat_conn_accept(moat_conn *c, uv_loop_t *loop, uv_stream_t *listener, void *owner,
                     const moat_transport *tp, void *tp_state, moat_conn_read_cb on_read,
                     moat_write_cb on_written, moat_conn_closed_cb on_closed);
/* The peer's address without port ("" when unknown) and the local port
 * the connection came in on (0 when unknown). */
void moat_conn_peer(moat_conn *c, char *ip, size_t len);
uint16_t moat_conn_local_port(const moat_conn *c);
/* Starts or stops reading. */
void moat_conn_read(moat_conn *c, bool on);
/* Writes plaintext through the transport: 0 or a negative error (the
 * owner closes). While corked the bytes are only collected. */
int moat_conn_write(moat_conn *c, const uv_buf_t *bufs, unsigned n);
/* Writes between cork and uncork go through the transport as one (a head
 * and a small body in one segment and one TLS record). uncork: 0 or the
 * write's error; on a closing connection the bytes are dropped. */
void moat_conn_cork(moat_conn *c);
int moat_conn_uncork(moat_conn *c);
/* The transport's last words (when nothing is queued), then both handles
 * close; on_closed runs once they have, after the buffers and the
 * transport state are freed. Calling it again does nothing. */
void moat_conn_close(moat_conn *c);
static inline bool moat_conn_congested(const moat_conn *c)
{
    return c->write_pending > MOAT_CONN_WRITE_HIGH;
}
static inline bool moat_conn_drained(const moat_conn *c)
{
    return c->write_pending < MOAT_CONN_WRITE_HIGH / 2;
}

#endif
