/* listen.c - listening sockets. They are opened by the main thread before the
 * workers start (so a port in use is a clear start-up error, and privileges
 * can be dropped after binding); each worker gets its own SO_REUSEPORT socket
 * per address, and the kernel spreads connections across them. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int moat_listen_fd(const moat_addr *addr, int backlog, int *fd, char *err, size_t errlen)
{
    int s = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return MOAT_EIO;
    }
    int one = 1;
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        snprintf(err, errlen, "setsockopt: %s", strerror(errno));
        close(s);
        return MOAT_EIO;
    }
    if (addr->ss.ss_family == AF_INET6)
        (void)setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(s, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr->text, strerror(errno));
        close(s);
        return MOAT_EIO;
    }
    if (listen(s, backlog) < 0) {
        snprintf(err, errlen, "listen on %s: %s", addr->text, strerror(errno));
        close(s);
        return MOAT_EIO;
    }
    *fd = s;
    return 0;
}
