/* crosscheck.c - rules that involve more than one setting (each setting's
 * own type and range are checked by the table): TLS needs certificates and
 * keys in pairs, no address may be both a plain and a TLS listener, and
 * moat never serves as root. */
#include <stdlib.h>
#include <string.h>

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

char *moat__config_crosscheck(const moat_config *c)
{
    char *pair = store_pair(c);
    if (pair) return pair;
    if (c->tls.cert.len != c->tls.key.len)
        return moat_xasprintf("'tls.cert' has %zu entries and 'tls.key' %zu: each certificate "
                              "needs its key, in the same order",
                              c->tls.cert.len, c->tls.key.len);
    if (c->tls.listen.len && c->tls.cert.len == 0)
        return moat_xstrdup("'tls.listen' is set but 'tls.cert' is empty: HTTPS needs a "
                            "certificate (moat cert selfsigned writes one for development)");
    if (c->tls.cert.len && c->tls.listen.len == 0)
        return moat_xstrdup("'tls.cert' is set but 'tls.listen' is empty: say where to serve "
                            "HTTPS (e.g. tls.listen = [\"0.0.0.0:443\"])");
    if (strcmp(c->user, "root") == 0 || strcmp(c->group, "root") == 0)
        return moat_xstrdup("'user' and 'group' name the account moat serves as once started "
                            "as root: moat does not serve as root (choose an unprivileged "
                            "account, e.g. adduser --system moat)");
    for (size_t i = 0; i < c->tls.listen.len; i++)
        for (size_t j = 0; j < c->listen.len; j++)
            if (strcmp(c->tls.listen.items[i], c->listen.items[j]) == 0)
                return moat_xasprintf("'%s' is in both 'listen' and 'tls.listen'",
                                      c->listen.items[j]);
    return NULL;
}
