/* addr.c - listen and upstream address parsing, peer addresses, and CIDR
 * matching for trusted proxies. Name resolution (getaddrinfo) blocks, so it
 * happens only while a config is loaded, never on a worker loop. */
#include "net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

static int parse_port(const char *s, uint16_t *port)
{
    uint64_t v;
    if (moat_parse_u64(s, strlen(s), &v) < 0 || v == 0 || v > 65535) return MOAT_EINVAL;
    *port = (uint16_t)v;
    return 0;
}

int moat_addr_parse(const char *s, moat_addr *out)
{
    memset(out, 0, sizeof(*out));
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host)) return MOAT_EINVAL;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host)) return MOAT_EINVAL;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        if (strchr(host, ':')) return MOAT_EINVAL; /* IPv6 needs [brackets] */
    }
    if (parse_port(colon + 1, &out->port) < 0) return MOAT_EINVAL;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(out->port);
        out->len = sizeof(*in4);
        snprintf(out->text, sizeof(out->text), "%s:%u", host, out->port);
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(out->port);
        out->len = sizeof(*in6);
        snprintf(out->text, sizeof(out->text), "[%s]:%u", host, out->port);
    } else {
        return MOAT_EINVAL;
    }
    return 0;
}

int moat_upstream_parse(const char *url, moat_upstream_target *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->text, sizeof(out->text), "%s", url);
    if (strncmp(url, "unix:", 5) == 0) {
        const char *path = url + 5;
        if (path[0] != '/' || strlen(path) >= sizeof(out->path)) {
            snprintf(err, errlen, "unix socket path must be absolute and under 108 bytes");
            return MOAT_EINVAL;
        }
        out->is_unix = true;
        snprintf(out->path, sizeof(out->path), "%s", path);
        return 0;
    }
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "upstream must be http://HOST:PORT or unix:/PATH");
        return MOAT_EINVAL;
    }
    const char *h = url + 7;
    const char *end = h + strcspn(h, "/");
    if (*end && strcmp(end, "/") != 0) {
        snprintf(err, errlen, "upstream URL must not have a path");
        return MOAT_EINVAL;
    }
    const char *colon;
    size_t hlen;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb || rb + 1 >= end || rb[1] != ':') {
            snprintf(err, errlen, "upstream URL needs [IPV6]:PORT");
            return MOAT_EINVAL;
        }
        hlen = (size_t)(rb - h - 1);
        if (hlen >= sizeof(out->host)) return MOAT_EINVAL;
        memcpy(out->host, h + 1, hlen);
        colon = rb + 1;
    } else {
        colon = NULL;
        for (const char *p = h; p < end; p++)
            if (*p == ':') colon = p;
        if (!colon) {
            snprintf(err, errlen, "upstream URL needs a port (http://HOST:PORT)");
            return MOAT_EINVAL;
        }
        hlen = (size_t)(colon - h);
        if (hlen == 0 || hlen >= sizeof(out->host)) {
            snprintf(err, errlen, "upstream URL has no host");
            return MOAT_EINVAL;
        }
        memcpy(out->host, h, hlen);
    }
    size_t plen = (size_t)(end - colon - 1);
    if (plen == 0 || plen >= sizeof(out->port)) {
        snprintf(err, errlen, "upstream URL has an invalid port");
        return MOAT_EINVAL;
    }
    memcpy(out->port, colon + 1, plen);
    uint16_t port;
    if (parse_port(out->port, &port) < 0) {
        snprintf(err, errlen, "upstream port must be 1..65535");
        return MOAT_EINVAL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(out->host, out->port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve upstream host '%s': %s", out->host, gai_strerror(rc));
        return MOAT_EINVAL;
    }
    memcpy(&out->addr.ss, res->ai_addr, res->ai_addrlen);
    out->addr.len = res->ai_addrlen;
    out->addr.port = port;
    freeaddrinfo(res);
    return 0;
}

void moat_peer_ip(uv_tcp_t *tcp, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    out[0] = '\0';
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, out, outlen);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, out, outlen);
}

static bool match_cidr(const char *ip, const char *cidr)
{
    char net[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(cidr, '/');
    size_t nlen = slash ? (size_t)(slash - cidr) : strlen(cidr);
    if (nlen >= sizeof(net)) return false;
    memcpy(net, cidr, nlen);
    net[nlen] = '\0';
    unsigned char a[16], b[16];
    int fam = strchr(net, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(fam, net, b) != 1 || inet_pton(fam, ip, a) != 1) return false;
    unsigned maxbits = fam == AF_INET ? 32 : 128;
    uint64_t bits = maxbits;
    if (slash && (moat_parse_u64(slash + 1, strlen(slash + 1), &bits) < 0 || bits > maxbits))
        return false;
    size_t full = (size_t)bits / 8;
    if (memcmp(a, b, full) != 0) return false;
    unsigned rem = (unsigned)bits % 8;
    if (rem == 0) return true;
    unsigned char mask = (unsigned char)(0xFFu << (8 - rem));
    return (a[full] & mask) == (b[full] & mask);
}

bool moat_ip_in_list(const char *ip, char *const *cidrs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (match_cidr(ip, cidrs[i])) return true;
    return false;
}
