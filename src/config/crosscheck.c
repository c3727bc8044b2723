/* crosscheck.c - rules that involve more than one setting (each setting's
 * own type and range are checked by the table): TLS needs certificates and
 * keys in pairs, no address may be both a plain and a TLS listener, and
 * moat never serves as root. */
#include <stdlib.h>
#include <string.h>

#include "settings.h"

char *moat__config_crosscheck(const moat_config *c)
{
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
    const moat_rate_rule *rate = c->limits.rate.items;
    for (size_t i = 0; i < c->limits.rate.len; i++) {
        if (!rate[i].requests)
            return moat_xasprintf("[[limits.rate]] entry %zu (path \"%s\") needs 'requests'", i + 1,
                                  rate[i].path);
        if (!rate[i].window_ms)
            return moat_xasprintf("[[limits.rate]] entry %zu (path \"%s\") needs 'window'", i + 1,
                                  rate[i].path);
    }
    for (size_t i = 0; i < c->tls.listen.len; i++)
        for (size_t j = 0; j < c->listen.len; j++)
            if (strcmp(c->tls.listen.items[i], c->listen.items[j]) == 0)
                return moat_xasprintf("'%s' is in both 'listen' and 'tls.listen'",
                                      c->listen.items[j]);
    return NULL;
}
