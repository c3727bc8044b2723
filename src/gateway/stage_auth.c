/* stage_auth.c - the gateway side of authentication. Today it does one
 * thing: identity headers a client sends (Remote-User and the other names
 * Authelia, oauth2-proxy and Django's RemoteUserMiddleware read) are removed
 * before the request reaches the app, unless the peer is a trusted proxy, so
 * nobody can claim an identity by sending a header. Sessions, the login
 * portal and [[auth.rules]] are not built yet (docs/auth.md); when they are,
 * they live here and set these headers themselves. */
#include <string.h>

#include "internal.h"

/* The dashed spellings; underscore spellings are dropped for every header
 * by the client parser already (WSGI would merge them). */
static const char *const identity_headers[] = {
    "Remote-User",
    "Remote-Groups",
    "Remote-Email",
    "Remote-Name",
    "X-Remote-User",
    "X-Forwarded-User",
    "X-Forwarded-Groups",
    "X-Forwarded-Email",
    "X-Forwarded-Preferred-Username",
    "X-Auth-Request-User",
    "X-Auth-Request-Email",
    "X-Auth-Request-Groups",
    "X-Auth-Request-Preferred-Username",
};

static int auth_head(moat_request *r)
{
    const moat_config *cfg = r->rt->cfg;
    moat_client *c = r->c;
    if (c->peer[0] &&
        moat_ip_in_list(c->peer, cfg->trusted_proxies.items, cfg->trusted_proxies.len))
        return MOAT_PASS;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(identity_headers); i++)
        moat_http_head_remove(r->head, identity_headers[i]);
    return MOAT_PASS;
}

const moat_stage moat__stage_auth = {
    .name = "auth",
    .on_request_head = auth_head,
};
