/* crosscheck.c - rules that involve more than one setting (each setting's
 * own type and range are checked by the table): TLS needs certificates and
 * keys in pairs, no address may be both a plain and a TLS listener, and
 * moat never serves as root. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "settings.h"

const char *moat_config_store_users(const moat_config *c)
{
    return c->store.users && c->store.users[0] ? c->store.users : c->store.url;
}

const char *moat_config_store_state(const moat_config *c)
{
    return c->store.state && c->store.state[0] ? c->store.state : moat_config_store_users(c);
}

static bool is_sqlite(const char *u)
{
    return u && strncmp(u, "sqlite:", 7) == 0;
}

/* The supported pairs: one SQLite file for both roles, or users in SQLite
 * or PostgreSQL with the state in Redis. */
static char *store_pair(const moat_config *c)
{
    const char *users = moat_config_store_users(c), *state = moat_config_store_state(c);
    if (!users || !state) return NULL;
    if (!is_sqlite(users) && strncmp(state, "redis://", 8) != 0 &&
        strncmp(state, "rediss://", 9) != 0)
        return moat_xstrdup("'store.users' is PostgreSQL: 'store.state' must be Redis "
                            "(store.state = \"redis://HOST:6379/0\"), where every instance "
                            "shares sessions and counters");
    if (is_sqlite(state) && strcmp(users, state) != 0)
        return moat_xstrdup("'store.state' names another SQLite file than 'store.users': "
                            "an SQLite state lives in the users' file (leave store.state "
                            "empty), and state shared between instances goes to Redis "
                            "(store.state = \"redis://HOST:6379/0\")");
    return NULL;
}

/* True when the listeners a and b ("ADDR:PORT", "[v6]:PORT") would share
 * a socket: the same text, or the same port where either is a wildcard. */
static bool same_socket(const char *a, const char *b)
{
    if (strcmp(a, b) == 0) return true;
    const char *pa = strrchr(a, ':'), *pb = strrchr(b, ':');
    if (!pa || !pb || strcmp(pa, pb) != 0) return false;
    size_t la = (size_t)(pa - a), lb = (size_t)(pb - b);
    static const char *const any[] = {"0.0.0.0", "[::]"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(any[i]);
        if ((la == n && strncmp(a, any[i], n) == 0) || (lb == n && strncmp(b, any[i], n) == 0))
            return true;
    }
    return false;
}

char *moat__config_crosscheck(const moat_config *c)
{
    char *pair = store_pair(c);
    if (pair) return pair;
    if (c->tls.cert.len != c->tls.key.len)
        return moat_xasprintf("'tls.cert' has %zu entries and 'tls.key' %zu: each certificate "
                              "needs its key, in the same order",
                              c->tls.cert.len, c->tls.key.len);
    if (c->tls.acme.on) {
        if (c->tls.cert.len)
            return moat_xstrdup("'tls.cert' is set and [tls.acme] is given: the ACME "
                                "certificate is the only one (remove one of them)");
        if (c->tls.listen.len == 0)
            return moat_xstrdup("[tls.acme] needs 'tls.listen' (where the certificate is "
                                "served, e.g. tls.listen = [\"0.0.0.0:443\"])");
        if (strcmp(c->tls.acme.challenge, "http-01") == 0 && c->listen.len == 0)
            return moat_xstrdup("tls.acme.challenge = \"http-01\" needs a plain 'listen' "
                                "address (port 80) for the CA to fetch the challenge from");
        if (c->tls.acme.domains.len == 0 && c->hosts.len == 0)
            return moat_xstrdup("[tls.acme] needs names: set 'tls.acme.domains' or 'hosts'");
        const moat_strlist *d = c->tls.acme.domains.len ? &c->tls.acme.domains : &c->hosts;
        for (size_t i = 0; i < d->len; i++)
            if (strchr(d->items[i], '*') || strchr(d->items[i], ':') || d->items[i][0] == '[' ||
                strspn(d->items[i], "0123456789.") == strlen(d->items[i]))
                return moat_xasprintf("[tls.acme]: '%s' cannot be certified by ACME here (a "
                                      "DNS name is needed: no wildcard, address or port)",
                                      d->items[i]);
        for (size_t i = 0; c->hosts.len && i < d->len; i++) {
            bool allowed = false;
            for (size_t j = 0; j < c->hosts.len && !allowed; j++) {
                const char *h = c->hosts.items[j], *n = d->items[i];
                const char *dot = strchr(n, '.');
                allowed = strcasecmp(h, n) == 0 ||
                          (h[0] == '*' && h[1] == '.' && dot && strcasecmp(h + 1, dot) == 0);
            }
            if (!allowed)
                return moat_xasprintf("tls.acme.domains: '%s' is not in 'hosts': moat would "
                                      "refuse the CA's validation requests (421)",
                                      d->items[i]);
        }
        if (!c->tls.acme.eab_kid[0] != !c->tls.acme.eab_hmac[0])
            return moat_xstrdup("'tls.acme.eab_kid' and 'tls.acme.eab_hmac' go together");
        if (c->tls.acme.eab_hmac[0] && !moat__config_from_ref(c, "tls.acme.eab_hmac"))
            return moat_xstrdup("'tls.acme.eab_hmac' is a secret: give it as \"${env:NAME}\" "
                                "or \"${file:PATH}\", not in the file");
    }
    if (c->tls.listen.len && c->tls.cert.len == 0 && !c->tls.acme.on)
        return moat_xstrdup("'tls.listen' is set but 'tls.cert' is empty: HTTPS needs a "
                            "certificate (moat cert selfsigned writes one for development)");
    if (c->tls.cert.len && c->tls.listen.len == 0)
        return moat_xstrdup("'tls.cert' is set but 'tls.listen' is empty: say where to serve "
                            "HTTPS (e.g. tls.listen = [\"0.0.0.0:443\"])");
    if (strcmp(c->user, "root") == 0 || strcmp(c->group, "root") == 0)
        return moat_xstrdup("'user' and 'group' name the account moat serves as once started "
                            "as root: moat does not serve as root (choose an unprivileged "
                            "account, e.g. adduser --system moat)");
    const moat_rate_rule *rate = c->limits.rate.items;
    for (size_t i = 0; i < c->limits.rate.len; i++) {
        if (!rate[i].requests)
            return moat_xasprintf("[[limits.rate]] entry %zu (path \"%s\") needs 'requests'", i + 1,
                                  rate[i].path);
        if (!rate[i].window_ms)
            return moat_xasprintf("[[limits.rate]] entry %zu (path \"%s\") needs 'window'", i + 1,
                                  rate[i].path);
    }
    for (size_t i = 0; i < c->admin.listen.len; i++) {
        const char *a = c->admin.listen.items[i];
        for (size_t j = 0; j < c->listen.len + c->tls.listen.len; j++) {
            const char *p =
                j < c->listen.len ? c->listen.items[j] : c->tls.listen.items[j - c->listen.len];
            if (same_socket(a, p))
                return moat_xasprintf("'admin.listen' has '%s', which the public listener "
                                      "'%s' also takes: metrics are never served on a public "
                                      "address (give the admin listener a port of its own)",
                                      a, p);
        }
    }
    for (size_t i = 0; i < c->tls.listen.len; i++)
        for (size_t j = 0; j < c->listen.len; j++)
            if (strcmp(c->tls.listen.items[i], c->listen.items[j]) == 0)
                return moat_xasprintf("'%s' is in both 'listen' and 'tls.listen'",
                                      c->listen.items[j]);
    return NULL;
}
