/* stage_headers.c - response filters for headers and cookies: security
 * headers added (kept when the app set its own, unless headers.override),
 * banners removed, and every Set-Cookie checked (RFC 6265bis syntax) and
 * hardened with HttpOnly, SameSite and, on HTTPS, Secure. A malformed
 * Set-Cookie is dropped, never passed on half-parsed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* name is a literal; value is the runtime's (or its config's), which
 * outlives the request: neither is copied. */
static void put(moat_request *r, moat_http_head *h, const char *name, const char *value,
                bool override)
{
    if (!value || !value[0] || strcmp(value, "off") == 0) return;
    if (override)
        moat_http_head_set_static(h, r->arena, name, value);
    else if (!moat_http_head_find(h, name))
        moat_http_head_add_static(h, r->arena, name, value);
}

/* The index of the first [[headers.paths]] entry whose prefix starts the
 * normalised path, or the number of entries (= [headers]). */
static size_t path_rule(const moat_config *cfg, const char *path)
{
    const moat_header_rule *rules = cfg->headers.paths.items;
    size_t i = 0;
    for (; path && i < cfg->headers.paths.len; i++)
        if (strncmp(path, rules[i].path, strlen(rules[i].path)) == 0) break;
    return path ? i : cfg->headers.paths.len;
}

/* The entry's value when it sets one, else [headers]'. */
#define PICK(rule, cfg, f) ((rule) && (rule)->f ? (rule)->f : (cfg)->headers.f)

static char *csp_value(const moat_config *cfg, const char *policy)
{
    if (cfg->headers.csp_report && policy[0] && !strstr(policy, "report-uri"))
        return moat_xasprintf("%s; report-uri " MOAT_CSP_REPORT_PATH, policy);
    return moat_xstrdup(policy);
}

void moat__headers_prepare(moat_runtime *rt)
{
    const moat_config *cfg = rt->cfg;
    size_t n = cfg->headers.paths.len;
    const moat_header_rule *rules = cfg->headers.paths.items;
    rt->csp = moat_xcalloc(n + 1, sizeof(*rt->csp));
    for (size_t i = 0; i < n; i++)
        rt->csp[i] = csp_value(cfg, PICK(&rules[i], cfg, csp));
    rt->csp[n] = csp_value(cfg, cfg->headers.csp);
    rt->hsts = moat_xasprintf("max-age=%llu%s%s", (unsigned long long)cfg->headers.hsts_max_age,
                              cfg->headers.hsts_include_subdomains ? "; includeSubDomains" : "",
                              cfg->headers.hsts_preload ? "; preload" : "");
}

void moat__headers_release(moat_runtime *rt)
{
    if (!rt->cfg || !rt->csp) {
        free(rt->hsts);
        return;
    }
    for (size_t i = 0; i <= rt->cfg->headers.paths.len; i++)
        free(rt->csp[i]);
    free(rt->csp);
    free(rt->hsts);
}

void moat__security_headers(moat_request *r, moat_http_head *h)
{
    const moat_config *cfg = r->rt->cfg;
    size_t idx = path_rule(cfg, r->path);
    const moat_header_rule *rule = idx < cfg->headers.paths.len
                                       ? &((const moat_header_rule *)cfg->headers.paths.items)[idx]
                                       : NULL;
    bool ov = cfg->headers.override;
    for (size_t i = 0; i < cfg->headers.remove.len; i++)
        moat_http_head_remove(h, cfg->headers.remove.items[i]);
    put(r, h,
        cfg->headers.csp_report_only ? "Content-Security-Policy-Report-Only"
                                     : "Content-Security-Policy",
        r->rt->csp[idx], ov);
    put(r, h, "X-Frame-Options", PICK(rule, cfg, frame_options), ov);
    if (cfg->headers.nosniff) put(r, h, "X-Content-Type-Options", "nosniff", ov);
    put(r, h, "Referrer-Policy", PICK(rule, cfg, referrer_policy), ov);
    put(r, h, "Permissions-Policy", PICK(rule, cfg, permissions_policy), ov);
    put(r, h, "Cross-Origin-Opener-Policy", PICK(rule, cfg, coop), ov);
    put(r, h, "Cross-Origin-Resource-Policy", PICK(rule, cfg, corp), ov);
    if (r->https && r->c->tls && cfg->headers.hsts_max_age > 0)
        put(r, h, "Strict-Transport-Security", r->rt->hsts, ov);
}

/* ---- cookies ---- */

static bool is_token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7F && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static bool is_cookie_octet(unsigned char c)
{
    /* RFC 6265bis cookie-octet, widened to what browsers accept: no CTL,
     * no ';', no '"' inside, no whitespace */
    return c > 0x20 && c != 0x7F && c != ';' && c != '"' && c != '\\' && c != ',';
}

static const char *trim(const char *s, const char *end, const char **out_end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *out_end = end;
    return s;
}

/* Validates one Set-Cookie value; returns false if it must be dropped. Sets
 * the attribute flags it finds and the cookie name. */
static bool parse_set_cookie(const char *v, size_t len, const char **name, size_t *name_len,
                             bool *httponly, bool *secure, bool *samesite)
{
    const char *end = v + len;
    const char *semi = memchr(v, ';', len);
    const char *pair_end = semi ? semi : end;
    const char *eq = memchr(v, '=', (size_t)(pair_end - v));
    if (!eq) return false;
    const char *ne;
    const char *n = trim(v, eq, &ne);
    if (n == ne) return false;
    for (const char *p = n; p < ne; p++)
        if (!is_token_char((unsigned char)*p)) return false;
    const char *ve;
    const char *val = trim(eq + 1, pair_end, &ve);
    if (ve - val >= 2 && val[0] == '"' && ve[-1] == '"') {
        val++;
        ve--;
    }
    for (const char *p = val; p < ve; p++)
        if (!is_cookie_octet((unsigned char)*p)) return false;
    *name = n;
    *name_len = (size_t)(ne - n);
    const char *p = semi;
    while (p && p < end) {
        p++;
        const char *next = memchr(p, ';', (size_t)(end - p));
        const char *ae = next ? next : end;
        const char *an_end;
        const char *an = trim(p, ae, &an_end);
        const char *aeq = memchr(an, '=', (size_t)(an_end - an));
        const char *aname_end = aeq ? aeq : an_end;
        const char *tn_end;
        const char *tn = trim(an, aname_end, &tn_end);
        for (const char *q = an; q < an_end; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7F) return false;
        size_t tl = (size_t)(tn_end - tn);
        if (moat_streq_nocase(tn, tl, "HttpOnly", 8)) *httponly = true;
        if (moat_streq_nocase(tn, tl, "Secure", 6)) *secure = true;
        if (moat_streq_nocase(tn, tl, "SameSite", 8)) *samesite = true;
        p = next;
    }
    return true;
}

static bool listed(const moat_strlist *l, const char *name, size_t n)
{
    for (size_t i = 0; i < l->len; i++)
        if (strlen(l->items[i]) == n && memcmp(l->items[i], name, n) == 0) return true;
    return false;
}

static int cookies_response(moat_request *r, moat_http_head *h)
{
    const moat_config *cfg = r->rt->cfg;
    size_t w = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        moat_http_header *f = &h->headers[i];
        if (f->name_len != sizeof("Set-Cookie") - 1 ||
            !moat_strieq_lit(f->name, f->name_len, "Set-Cookie")) {
            h->headers[w++] = *f;
            continue;
        }
        const char *name;
        size_t nlen;
        bool httponly = false, secure = false, samesite = false;
        if (!parse_set_cookie(f->value, f->value_len, &name, &nlen, &httponly, &secure,
                              &samesite)) {
            moat_warn("request %s: malformed Set-Cookie from the upstream dropped", r->id);
            continue;
        }
        moat_buf b;
        moat_buf_init(&b);
        moat_buf_append(&b, f->value, f->value_len);
        if (cfg->cookies.httponly && !httponly &&
            !listed(&cfg->cookies.httponly_except, name, nlen))
            moat_buf_puts(&b, "; HttpOnly");
        if (cfg->cookies.secure && !secure && r->https) moat_buf_puts(&b, "; Secure");
        if (!samesite && strcmp(cfg->cookies.samesite, "off") != 0)
            moat_buf_printf(&b, "; SameSite=%s", cfg->cookies.samesite);
        f->value = moat_arena_strndup(r->arena, b.data, b.len);
        f->value_len = b.len;
        moat_buf_free(&b);
        h->headers[w++] = *f;
    }
    h->nheaders = w;
    return MOAT_PASS;
}

static int headers_response(moat_request *r, moat_http_head *h)
{
    cookies_response(r, h);
    moat__security_headers(r, h);
    return MOAT_PASS;
}

const moat_stage moat__stage_headers = {
    .name = "headers",
    .on_response_head = headers_response,
};
