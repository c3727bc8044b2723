/* conn.h - a connection of the gateway: the socket handle, its deadline,
 * the bytes received and not yet consumed, the bytes queued for the kernel
 * (watermarks), corking, reading on and off, and closing, over a
 * transport: plain TCP (or a unix socket), or TLS over memory BIOs (Redis'
 * ConnectionType, curl's connection filters). The owner (client.c for a
 * client, upstream.c for an app connection) sees only plaintext in c->in
 * and writes plaintext; it never touches the handle. The rules it keeps
 * are docs/internals/gateway.md's. */
#ifndef MOAT_NET_CONN_H
#define MOAT_NET_CONN_H

#include "net.h"

typedef struct moat_conn moat_conn;

/* How bytes cross the wire. All are called on the loop. HTTP/2 is to be
 * a third entry, chosen by ALPN and stacked on TLS's plaintext: its feed
 * runs the frame layer, its write frames, its shutdown sends GOAWAY, and
 * its owner is a session with one request (and sink) per stream
 * (docs/internals/gateway.md). */
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
    /* Frees c->tp_state. NULL: the transport has no state. */
    void (*free)(void *state);
} moat_transport;

extern const moat_transport moat_transport_plain;
extern const moat_transport moat_transport_tls; /* tp_state: a moat_tls_conn */

/* What the connection tells its owner (c->owner). */
typedef struct moat_conn_cbs {
    /* 0: new bytes are in c->in; or a negative error / UV_EOF: the
     * connection is over (the owner closes it). */
    void (*read)(moat_conn *c, int status);
    /* A queued write completed (write_pending is already lower): status 0,
     * or a negative error (the owner closes). */
    void (*written)(moat_conn *c, int status);
    /* moat_conn_connect's outcome: 0 or a negative error. */
    void (*connected)(moat_conn *c, int status);
    /* Both handles are closed and the connection's buffers freed: the
     * owner may free c now. */
    void (*closed)(moat_conn *c);
} moat_conn_cbs;

/* Queued bytes over the connection's high-water mark (write_high, this
 * unless the owner sets another): the producer stops; under half of it: it
 * starts again. */
#define MOAT_CONN_WRITE_HIGH (256 * 1024)

struct moat_conn {
    union {
        uv_handle_t handle; /* handle.data points to the conn */
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    moat_deadline timer; /* timer.data: the owner */
    uv_connect_t connect;
    uv_shutdown_t shutdown; /* the FIN of a lingering close */
    void *owner;            /* borrowed */
    const moat_conn_cbs *cbs;
    const moat_transport *tp;
    void *tp_state;       /* owned, freed by tp->free */
    moat_buf in;          /* received plaintext, not yet consumed by the owner */
    moat_buf raw;         /* transport bytes read, not yet fed */
    moat_buf out;         /* plaintext written while corked */
    size_t write_pending; /* bytes queued for the kernel */
    size_t write_high;    /* the high-water mark of write_pending (K4) */
    int open_handles;
    bool reading, closing, corked;
    bool lingering, handles_closing;
};

/* Accepts a connection from listener onto c, over tp with tp_state
 * (owned by c from here, even on failure). 0, or a negative error: the
 * handles are then closing and cbs->closed runs. */
int moat_conn_accept(moat_conn *c, uv_loop_t *loop, uv_stream_t *listener, void *owner,
                     const moat_conn_cbs *cbs, const moat_transport *tp, void *tp_state);
/* Connects c to target (TCP or a unix socket, plain): cbs->connected runs
 * with the outcome. A negative error: it failed before starting, the
 * handles are closing, cbs->connected never runs and cbs->closed will. */
int moat_conn_connect(moat_conn *c, uv_loop_t *loop, const moat_upstream_target *target,
                      void *owner, const moat_conn_cbs *cbs);
/* The peer's address without port ("" when unknown) and the local port
 * the connection came in on (0 when unknown). */
void moat_conn_peer(moat_conn *c, char *ip, size_t len);
uint16_t moat_conn_local_port(const moat_conn *c);
/* True when nothing waits to be read on the socket: the peer has neither
 * sent bytes nor closed (FIN or reset) that the loop has not delivered
 * yet. A pooled upstream connection is reused only then, and a client
 * connection is closed as idle only then. */
bool moat_conn_quiet(moat_conn *c);
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
 * close; cbs->closed runs once they have, after the buffers and the
 * transport state are freed. Calling it again does nothing. */
void moat_conn_close(moat_conn *c);
/* Closes the way a client that is still sending expects (nginx's
 * lingering close): the transport's last words and a FIN once what is
 * queued is written, then whatever the peer still sends is read and
 * dropped until it closes its side or ms pass, then both handles close.
 * Without it, unread bytes make the kernel answer with a reset that can
 * destroy the response before the client reads it (a refused upload). The
 * owner sees nothing more but cbs->closed, as after moat_conn_close. */
void moat_conn_close_lingering(moat_conn *c, uint64_t ms);
static inline bool moat_conn_congested(const moat_conn *c)
{
    return c->write_pending > c->write_high;
}
static inline bool moat_conn_drained(const moat_conn *c)
{
    return c->write_pending < c->write_high / 2;
}

#endif
