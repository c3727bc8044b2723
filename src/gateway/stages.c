/* stages.c - the foundation's stages: limits (body size, refused methods),
 * forwarded (X-Forwarded-* and X-Request-Id as ProxyFix and Django's
 * SECURE_PROXY_SSL_HEADER expect), proxy (hands the request to upstream.c)
 * and the access log. Head-size limits live in the HTTP parser because they
 * must hold while bytes arrive; body size is counted here. */
#include <http_parser.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ---- limits ---- */

static int limits_head(moat_request *r)
{
    const moat_config *cfg = r->rt->cfg;
    if (r->head->method_id == HTTP_TRACE || r->head->method_id == HTTP_CONNECT) {
        moat__refuse(r, 405, "http.rejected", NULL, "method not allowed through the gateway");
        return MOAT_DONE;
    }
    if (r->head->content_length > 0 && (uint64_t)r->head->content_length > cfg->limits.body_bytes) {
        moat__refuse(r, 413, "http.rejected", "limits.body_bytes",
                     "Content-Length over limits.body_bytes");
        return MOAT_DONE;
    }
    return MOAT_PASS;
}

static int limits_body(moat_request *r, const char *data, size_t len)
{
    (void)data;
    r->body_in += len;
    if (r->body_in > r->rt->cfg->limits.body_bytes) {
        moat__refuse(r, 413, "http.rejected", "limits.body_bytes",
                     "request body over limits.body_bytes");
        return MOAT_DONE;
    }
    return MOAT_PASS;
}

const moat_stage moat__stage_limits = {
    .name = "limits",
    .on_request_head = limits_head,
    .on_request_body = limits_body,
};

/* ---- host allow-list ---- */

/* Does the parsed Host (lower-case name without a trailing dot, port or -1)
 * match the entry? An entry without a port accepts any port;
 * "*.example.com" stands for exactly one more label. Config entries are
 * stored lower-case; they are taken apart here, as the Host was, so the
 * comparison is of names and ports, never of raw strings. */
static bool host_matches(const char *name, size_t nlen, int port, const char *entry)
{
    size_t elen = strlen(entry), ename = elen;
    const char *eport = NULL;
    if (entry[0] == '[') {
        const char *rb = strchr(entry, ']');
        ename = rb ? (size_t)(rb - entry) + 1 : elen;
    } else {
        const char *colon = strchr(entry, ':');
        if (colon) ename = (size_t)(colon - entry);
    }
    if (ename < elen) eport = entry + ename + 1;
    if (eport) {
        char digits[12];
        if (port < 0) return false;
        snprintf(digits, sizeof(digits), "%d", port);
        if (strcmp(eport, digits) != 0) return false;
    }
    if (ename > 1 && entry[ename - 1] == '.') ename--;
    if (ename > 2 && entry[0] == '*' && entry[1] == '.') {
        /* one label, then the suffix */
        size_t suffix = ename - 1; /* ".example.com" */
        if (nlen <= suffix || memcmp(name + nlen - suffix, entry + 1, suffix) != 0) return false;
        return memchr(name, '.', nlen - suffix) == NULL;
    }
    return nlen == ename && memcmp(name, entry, ename) == 0;
}

static int hosts_head(moat_request *r)
{
    const moat_runtime *rt = r->rt;
    if (rt->nhosts == 0) return MOAT_PASS;
    const moat_http_head *h = r->head;
    if (h->host_name) {
        for (size_t i = 0; i < rt->nhosts; i++)
            if (host_matches(h->host_name, h->host_name_len, h->host_port, rt->hosts[i]))
                return MOAT_PASS;
    }
    moat__refuse(r, 421, "host.denied", "hosts", "Host not in the 'hosts' allow-list");
    return MOAT_DONE;
}

const moat_stage moat__stage_hosts = {
    .name = "host-allowlist",
    .event = "hosts",
    .on_request_head = hosts_head,
};

/* ---- https-redirect ---- */

/* Plain HTTP when TLS is on: 308 to the same path and query over HTTPS. The
 * host comes from a Host header the allow-list has already accepted. */
static int https_redirect_head(moat_request *r)
{
    const moat_runtime *rt = r->rt;
    const moat_config *cfg = rt->cfg;
    if (!rt->tls || r->https || !cfg->tls.redirect) return MOAT_PASS;
    if (r->head->target[0] != '/') return MOAT_PASS; /* OPTIONS *: nothing to redirect to */
    /* Behind a TLS-terminating proxy we trust, the client already used HTTPS. */
    moat_http_header *xfp = moat_http_head_find(r->head, "X-Forwarded-Proto");
    if (xfp && moat_strieq_lit(xfp->value, xfp->value_len, "https") && r->c->peer[0] &&
        moat_ip_in_list(r->c->peer, cfg->trusted_proxies.items, cfg->trusted_proxies.len))
        return MOAT_PASS;
    for (size_t i = 0; i < cfg->tls.redirect_exempt.len; i++) {
        const char *p = cfg->tls.redirect_exempt.items[i];
        if (moat_route_match(p, r->path ? r->path : "/", 0)) return MOAT_PASS;
    }
    const moat_http_head *h = r->head;
    if (!h->host_name) {
        moat__refuse(r, 400, "http.rejected", NULL, "no Host to redirect to");
        return MOAT_DONE;
    }
    char port[8] = "";
    if (rt->https_port && rt->https_port != 443)
        snprintf(port, sizeof(port), ":%u", rt->https_port);
    const char *loc = moat_arena_printf(r->arena, "https://%s%s%s", h->host_name, port, h->target);
    moat__client_redirect(r, loc);
    return MOAT_DONE;
}

const moat_stage moat__stage_https_redirect = {
    .name = "https-redirect",
    .on_request_head = https_redirect_head,
};

/* ---- forwarded ---- */

/* Headers through which a client could claim another address, scheme,
 * host or path (X-Original-URL and X-Rewrite-URL: the path Symfony, Laravel
 * and IIS-style apps route by, past [[auth.rules]]); dropped unless the
 * peer is a trusted proxy. */
static const char *const spoofable[] = {"Forwarded",          "X-Real-IP",    "X-Forwarded-Server",
                                        "X-Forwarded-Prefix", "X-Client-IP",  "True-Client-IP",
                                        "X-Original-URL",     "X-Rewrite-URL"};

/* "NAME:PORT" in the arena (printf costs ~2,000 instructions here, a
 * sixteenth of a proxied request). */
static const char *host_port(moat_request *r, const moat_http_head *h)
{
    size_t n = strlen(h->host_name);
    char *out = moat_arena_alloc(r->arena, n + 8), *p = out + n + 7;
    unsigned v = (unsigned)h->host_port; /* 0..65535: five digits at most */
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    *--p = ':';
    memmove(out, h->host_name, n);
    memmove(out + n, p, (size_t)(out + n + 7 - p) + 1);
    return out;
}

static int forwarded_head(moat_request *r)
{
    moat_http_head *h = r->head;
    const moat_config *cfg = r->rt->cfg;
    moat_client *c = r->c;
    bool trusted = c->peer[0] &&
                   moat_ip_in_list(c->peer, cfg->trusted_proxies.items, cfg->trusted_proxies.len);
    /* X-Forwarded-For: a trusted proxy's list is extended, anyone else's replaced. */
    if (!trusted) {
        /* the usual case: the peer alone (the client outlives the request) */
        moat_http_head_set_static(h, r->arena, "X-Forwarded-For", c->peer);
    } else {
        moat_buf xff;
        moat_buf_init(&xff);
        for (size_t i = 0; i < h->nheaders; i++) {
            moat_http_header *f = &h->headers[i];
            if (f->name_len != sizeof("X-Forwarded-For") - 1 ||
                !moat_strieq_lit(f->name, f->name_len, "X-Forwarded-For"))
                continue;
            if (xff.len) moat_buf_puts(&xff, ", ");
            moat_buf_append(&xff, f->value, f->value_len);
        }
        if (xff.len) moat_buf_puts(&xff, ", ");
        moat_buf_puts(&xff, c->peer);
        moat_http_head_set(h, r->arena, "X-Forwarded-For", xff.data);
        moat_buf_free(&xff);
    }

    if (!trusted) {
        for (size_t i = 0; i < MOAT_ARRAY_LEN(spoofable); i++)
            moat_http_head_remove(h, spoofable[i]);
    }
    moat_http_header *xfp = moat_http_head_find(h, "X-Forwarded-Proto");
    if (!trusted || !xfp)
        moat_http_head_set_static(h, r->arena, "X-Forwarded-Proto",
                                  c->conn.tp->secure ? "https" : "http");
    else
        r->https = moat_strieq_lit(xfp->value, xfp->value_len, "https");
    if (!trusted || !moat_http_head_find(h, "X-Forwarded-Host")) {
        /* From the parsed Host the allow-list accepted, never the raw bytes. */
        if (h->host_name) {
            const char *xfh = h->host_port < 0 ? h->host_name : host_port(r, h);
            moat_http_head_set_static(h, r->arena, "X-Forwarded-Host", xfh);
        } else {
            moat_http_head_remove(h, "X-Forwarded-Host");
        }
    }
    if (!trusted || !moat_http_head_find(h, "X-Forwarded-Port")) {
        char port[8], *p = port + sizeof(port) - 1; /* digits written backwards */
        unsigned v = c->local_port;
        *p = '\0';
        do {
            *--p = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        moat_http_head_set(h, r->arena, "X-Forwarded-Port", p);
    }
    moat_http_head_set_static(h, r->arena, "X-Request-Id", r->id); /* r outlives its head */
    return MOAT_PASS;
}

const moat_stage moat__stage_forwarded = {
    .name = "forwarded",
    .on_request_head = forwarded_head,
};

/* ---- proxy ---- */

static int proxy_head(moat_request *r)
{
    moat__upstream_start(r);
    return MOAT_AGAIN;
}

static int proxy_body(moat_request *r, const char *data, size_t len)
{
    if (r->internal) return MOAT_PASS;
    return moat__upstream_send_body(r, data, len) < 0 ? MOAT_DONE : MOAT_PASS;
}

static int proxy_end(moat_request *r)
{
    if (r->internal) return MOAT_PASS;
    return moat__upstream_send_end(r) < 0 ? MOAT_DONE : MOAT_PASS;
}

const moat_stage moat__stage_proxy = {
    .name = "proxy",
    .on_request_head = proxy_head,
    .on_request_body = proxy_body,
    .on_request_end = proxy_end,
};

/* ---- access log ---- */

const moat_stage moat__stage_access_log = {
    .name = "access-log",
    .on_done = moat__access_log,
};
