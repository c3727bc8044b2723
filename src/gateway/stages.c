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
        moat__client_respond_error(r, 405, "method not allowed through the gateway");
        return MOAT_DONE;
    }
    if (r->head->content_length > 0 &&
        (uint64_t)r->head->content_length > cfg->limits.body_bytes) {
        moat__client_respond_error(r, 413, "Content-Length over limits.body_bytes");
        return MOAT_DONE;
    }
    return MOAT_PASS;
}

static int limits_body(moat_request *r, const char *data, size_t len)
{
    (void)data;
    r->body_in += len;
    if (r->body_in > r->rt->cfg->limits.body_bytes) {
        moat__client_respond_error(r, 413, "request body over limits.body_bytes");
        return MOAT_DONE;
    }
    return MOAT_PASS;
}

const moat_stage moat__stage_limits = {
    .name = "limits",
    .on_request_head = limits_head,
    .on_request_body = limits_body,
};

/* ---- forwarded ---- */

/* Headers through which a client could claim another address, scheme or
 * host; dropped unless the peer is a trusted proxy. */
static const char *const spoofable[] = {"Forwarded", "X-Real-IP", "X-Forwarded-Server",
                                        "X-Forwarded-Prefix", "X-Client-IP", "True-Client-IP"};

static int forwarded_head(moat_request *r)
{
    moat_http_head *h = r->head;
    const moat_config *cfg = r->rt->cfg;
    moat_client *c = r->c;
    bool trusted = c->peer[0] && moat_ip_in_list(c->peer, cfg->trusted_proxies.items,
                                                 cfg->trusted_proxies.len);
    /* X-Forwarded-For: a trusted proxy's list is extended, anyone else's replaced. */
    moat_buf xff;
    moat_buf_init(&xff);
    if (trusted) {
        for (size_t i = 0; i < h->nheaders; i++) {
            moat_http_header *f = &h->headers[i];
            if (!moat_strieq_lit(f->name, f->name_len, "X-Forwarded-For")) continue;
            if (xff.len) moat_buf_puts(&xff, ", ");
            moat_buf_append(&xff, f->value, f->value_len);
        }
    }
    if (xff.len) moat_buf_puts(&xff, ", ");
    moat_buf_puts(&xff, c->peer);
    moat_http_head_set(h, r->arena, "X-Forwarded-For", xff.data);
    moat_buf_free(&xff);

    if (!trusted) {
        for (size_t i = 0; i < MOAT_ARRAY_LEN(spoofable); i++)
            moat_http_head_remove(h, spoofable[i]);
    }
    if (!trusted || !moat_http_head_find(h, "X-Forwarded-Proto"))
        moat_http_head_set(h, r->arena, "X-Forwarded-Proto", "http");
    if (!trusted || !moat_http_head_find(h, "X-Forwarded-Host")) {
        moat_http_header *host = moat_http_head_find(h, "Host");
        if (host)
            moat_http_head_set(h, r->arena, "X-Forwarded-Host", host->value);
        else
            moat_http_head_remove(h, "X-Forwarded-Host");
    }
    if (!trusted || !moat_http_head_find(h, "X-Forwarded-Port")) {
        char port[8];
        snprintf(port, sizeof(port), "%u", c->local_port);
        moat_http_head_set(h, r->arena, "X-Forwarded-Port", port);
    }
    moat_http_head_set(h, r->arena, "X-Request-Id", r->id);
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
    return moat__upstream_send_body(r, data, len) < 0 ? MOAT_DONE : MOAT_PASS;
}

static int proxy_end(moat_request *r)
{
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
