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

/* ---- writes ----------------------------------------------------------------
 * moat_stream_write() copies what the kernel does not take at once into a
 * queued uv_write, so the caller's buffer may be reused immediately. cb (may
 * be NULL) is called for queued writes when they complete; *pending counts
 * queued bytes (for backpressure) and is decremented before cb runs. */
typedef void (*moat_write_cb)(void *ud, int status);
int moat_stream_write(uv_stream_t *s, const uv_buf_t *bufs, unsigned nbufs, size_t *pending,
                      moat_write_cb cb, void *ud);

#endif
