/* identity.c - the headers that say who the user is. Those a client may not
 * send: every identity header a proxy in front of an application might set
 * (and moat's own), and those that make the application run another method
 * than the one [[auth.rules]] matched. Those moat sets for the application
 * once a rule let a user through: Remote-User, Remote-Groups and the signed
 * X-Moat-Identity. Pure header edits: when to apply them (trusted proxies,
 * the rule's decision) is the gateway's (stage_auth.c). */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"

/* Headers through which a proxy in front of an application tells it who the
 * user is (Authelia, oauth2-proxy, Apache's mod_auth, Grafana's and Kong's
 * auth proxies, Cloudflare Access, Google IAP, AWS ALB, Azure App Service),
 * and moat's own; a trailing '*' is a prefix. Underscore spellings are
 * dropped for every header by the client parser already (WSGI would merge
 * them). docs/auth.md lists them; auth.strip_headers adds more. */
static const char *const identity_headers[] = {
    "Remote-*",
    "X-Remote-User",
    "X-Remote-Groups",
    "X-Remote-Email",
    "X-User",
    "X-User-Id",
    "X-User-Name",
    "X-User-Email",
    "X-User-Groups",
    "X-User-Roles",
    "X-Email",
    "X-Groups",
    "X-Auth-User",
    "X-Webauth-*",
    "X-Authenticated-*",
    "X-Forwarded-User",
    "X-Forwarded-Email",
    "X-Forwarded-Groups",
    "X-Forwarded-Preferred-Username",
    "X-Forwarded-Access-Token",
    "X-Auth-Request-*",
    "Cf-Access-Authenticated-User-Email",
    "Cf-Access-Jwt-Assertion",
    "X-Goog-Authenticated-User-*",
    "X-Goog-Iap-Jwt-Assertion",
    "X-Amzn-Oidc-*",
    "X-Ms-Client-Principal*",
    "X-Moat-*",
};

/* Headers that make an application run another method than the request's
 * (werkzeug's and Django's snippets, Symfony, Laravel, Express's
 * method-override). A `_method` form or query field is the application's
 * own business: moat does not rewrite bodies (docs/auth.md). */
static const char *const method_override_headers[] = {
    "X-HTTP-Method-Override",
    "X-HTTP-Method",
    "X-Method-Override",
};

/* Does the header name[0..n) match entry: a name, or a prefix ending in
 * '*' (any case)? */
static bool header_listed(const char *entry, const char *name, size_t n)
{
    /* Runs for every entry and request header: most differ at the first
     * byte, and then no strlen is needed. */
    if (entry[0] && entry[0] != '*') {
        unsigned char a = (unsigned char)entry[0], b = n ? (unsigned char)name[0] : 0;
        if ((a | 0x20) != (b | 0x20) || !n) return false;
    }
    size_t el = strlen(entry);
    if (el && entry[el - 1] == '*')
        return n >= el - 1 && moat_streq_nocase(entry, el - 1, name, el - 1);
    return moat_streq_nocase(entry, el, name, n);
}

bool moat_auth_identity_header(const char *name, size_t n, const moat_strlist *more)
{
    for (size_t k = 0; k < MOAT_ARRAY_LEN(identity_headers); k++)
        if (header_listed(identity_headers[k], name, n)) return true;
    for (size_t k = 0; more && k < more->len; k++)
        if (header_listed(more->items[k], name, n)) return true;
    return false;
}

void moat_auth_identity_strip(moat_http_head *h, const moat_strlist *more, bool keep_csrf)
{
    size_t w = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *f = &h->headers[i];
        bool csrf = keep_csrf && moat_strieq_lit(f->name, f->name_len, "X-Moat-Csrf");
        if (csrf || !moat_auth_identity_header(f->name, f->name_len, more)) h->headers[w++] = *f;
    }
    h->nheaders = w; /* head.c's name filter may keep stale bits: lookups only scan */
}

void moat_auth_method_override_strip(moat_http_head *h)
{
    for (size_t i = 0; i < MOAT_ARRAY_LEN(method_override_headers); i++)
        moat_http_head_remove(h, method_override_headers[i]);
}

void moat_auth_identity_set(moat_http_head *h, moat_arena *a, const moat_user *u,
                            const moat_auth_identity *id)
{
    moat_buf groups;
    moat_buf_init(&groups);
    for (size_t i = 0; i < u->nroles; i++) {
        if (i) moat_buf_putc(&groups, ',');
        moat_buf_puts(&groups, u->roles[i]);
    }
    const char *g = groups.len ? groups.data : "";
    moat_http_head_set(h, a, "Remote-User", u->name);
    moat_http_head_set(h, a, "Remote-Groups", g);
    if (id->secret && id->secret[0]) {
        char *msg =
            moat_arena_printf(a, "v1;user=%s;groups=%s;mfa=%d;via=%s;ts=%lld", u->name, g,
                              id->mfa ? 1 : 0, id->token ? "token" : "session", (long long)id->now);
        unsigned char mac[32];
        unsigned int maclen = 0;
        HMAC(EVP_sha256(), id->secret, (int)strlen(id->secret), (const unsigned char *)msg,
             strlen(msg), mac, &maclen);
        char hex[65];
        for (unsigned i = 0; i < maclen && i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", mac[i]);
        moat_http_head_set(h, a, "X-Moat-Identity", moat_arena_printf(a, "%s;sig=%s", msg, hex));
    }
    moat_buf_free(&groups);
}
