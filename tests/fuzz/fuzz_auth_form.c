/* fuzz_auth_form.c - libFuzzer target for what the auth stage parses from
 * clients: the input is split at the first NUL byte into a form body (login,
 * MFA, enrollment forms; the query of a portal page) and the rest, used as a
 * Cookie header, an X-Forwarded-For header from a trusted proxy, a return
 * address (rd) and a path matched against glob patterns. Crashes, sanitizer reports and timeouts
 * are the findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/portal/portal.h"
#include "gateway/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    const char *nul = memchr(d, '\0', size);
    size_t blen = nul ? (size_t)(nul - d) : size;
    const char *rest = nul ? nul + 1 : "";
    size_t rlen = nul ? size - blen - 1 : 0;

    moat_arena *a = moat_arena_new();
    moat_http_form f;
    int rc = moat_http_form_parse(a, d, blen, &f);
    MOAT_BUG_ON(rc != 0 && rc != MOAT_EINVAL && rc != MOAT_ETOOBIG);
    if (rc == 0) {
        MOAT_BUG_ON(f.n > MOAT_HTTP_FORM_MAX);
        for (size_t i = 0; i < f.n; i++) {
            MOAT_BUG_ON(moat_http_form_get(&f, f.keys[i]) != f.vals[i]);
            moat_buf b;
            moat_buf_init(&b);
            moat_portal_html_escape(&b, f.vals[i]);
            MOAT_BUG_ON(b.len && memchr(b.data, '<', b.len));
            moat_http_url_escape(&b, f.vals[i]);
            moat_buf_free(&b);
        }
        const char *rd = moat_http_form_get(&f, "rd");
        if (rd && moat_portal_rd_ok(rd)) MOAT_BUG_ON(rd[0] != '/' || rd[1] == '/');
    }
    const char *v;
    size_t vlen;
    if (moat_http_cookie_get(rest, rlen, "moat_session", &v, &vlen) == 0)
        MOAT_BUG_ON(v < rest || v + vlen > rest + rlen);
    char *s = moat_xstrndup(rest, rlen);
    (void)moat_portal_rd_ok(s);
    /* The rest as an X-Forwarded-For header from a trusted proxy. */
    static char *proxies[] = {"10.0.0.0/8", "127.0.0.1"};
    static moat_config cfg; /* only trusted_proxies is read */
    cfg.trusted_proxies.items = proxies;
    cfg.trusted_proxies.len = 2;
    moat_http_head *h = moat_arena_calloc(a, sizeof(*h));
    moat_http_head_add(h, a, "X-Forwarded-For", moat_arena_strndup(a, rest, rlen));
    char addr[64];
    moat__auth_client_addr(&cfg, "10.9.9.9", h, addr, sizeof(addr));
    MOAT_BUG_ON(strlen(addr) >= sizeof(addr));
    char *pat = moat_xstrndup(d, blen < 256 ? blen : 256);
    (void)moat__auth_path_match(pat, s, 0);
    (void)moat__auth_path_match(pat, s, MOAT__MATCH_GUARD | MOAT__MATCH_NOCASE);
    free(pat);
    free(s);
    moat_arena_free(a);
    return 0;
}
