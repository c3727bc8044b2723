/* stage_headers.c - the response filter for headers and cookies: banners
 * removed, security headers added, every Set-Cookie checked (cookies.c)
 * and each one mended or dropped recorded as a security event. The app may
 * make a security header stricter, never weaker: the stricter of moat's and
 * the app's value goes out, in one field, and moat's CSP beside the app's
 * (docs/hardening.md); headers.override sends moat's values only. The
 * values built once per config live in the runtime (prepare/release). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool is_tchar(char c)
{
    return c > 0x20 && c < 0x7F && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* The index of the first [[headers.paths]] entry whose route matches the
 * normalised path (moat_route_match, as [[auth.rules]]), or the number of
 * entries (= [headers]). */
static size_t path_rule(const moat_config *cfg, const char *path)
{
    const moat_header_rule *rules = cfg->headers.paths.items;
    size_t i = 0;
    for (; path && i < cfg->headers.paths.len; i++)
        if (moat_route_match(rules[i].path, path, 0)) break;
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

/* The header values built once per config: the CSP sent for each
 * [[headers.paths]] entry, then for [headers] (last), with the report-uri
 * added; and Strict-Transport-Security. */
typedef struct headers_conf {
    size_t ncsp;
    char **csp;
    char *hsts;
} headers_conf;

static int headers_prepare(moat_runtime *rt, void **conf, char **err)
{
    (void)err;
    const moat_config *cfg = rt->cfg;
    size_t n = cfg->headers.paths.len;
    const moat_header_rule *rules = cfg->headers.paths.items;
    headers_conf *hc = moat_xcalloc(1, sizeof(*hc));
    hc->ncsp = n + 1;
    hc->csp = moat_xcalloc(n + 1, sizeof(*hc->csp));
    for (size_t i = 0; i < n; i++)
        hc->csp[i] = csp_value(cfg, PICK(&rules[i], cfg, csp));
    hc->csp[n] = csp_value(cfg, cfg->headers.csp);
    hc->hsts = moat_xasprintf("max-age=%llu%s%s", (unsigned long long)cfg->headers.hsts_max_age,
                              cfg->headers.hsts_include_subdomains ? "; includeSubDomains" : "",
                              cfg->headers.hsts_preload ? "; preload" : "");
    *conf = hc;
    return 0;
}

static void headers_release(moat_runtime *rt, void *conf)
{
    (void)rt;
    headers_conf *hc = conf;
    if (!hc) return;
    for (size_t i = 0; i < hc->ncsp; i++)
        free(hc->csp[i]);
    free(hc->csp);
    free(hc->hsts);
    free(hc);
}

static const headers_conf *conf_of(const moat_request *r)
{
    return moat__conf(r->rt, &moat__stage_headers);
}

/* ---- the app's values against moat's ----
 * The app may make a header stricter, never weaker: for each header moat
 * sends, the stricter of the two values goes out, in one field (CSP aside:
 * every policy sent is enforced, so moat's goes beside the app's). */

static bool off(const char *v)
{
    return !v || !v[0] || strcmp(v, "off") == 0;
}

/* The app's fields of name joined by ", ", as a list header's fields
 * combine (RFC 9110 5.3); NULL when there is none. An arena string. */
static const char *app_value(moat_request *r, moat_http_head *h, const char *name, size_t *count)
{
    size_t nl = strlen(name), n = 0;
    *count = 0;
    if (!moat_http_head_find_n(h, name, nl)) return NULL; /* the head's name filter: no scan */
    moat_buf b;
    moat_buf_init(&b);
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *f = &h->headers[i];
        if (!moat_streq_nocase(f->name, f->name_len, name, nl)) continue;
        if (n++) moat_buf_puts(&b, ", ");
        moat_buf_append(&b, f->value, f->value_len);
    }
    *count = n;
    const char *v = n ? moat_arena_strndup(r->arena, b.data ? b.data : "", b.len) : NULL;
    moat_buf_free(&b);
    return v;
}

/* The next element of a comma-separated list, OWS trimmed; false at the end. */
static bool next_elem(const char **p, const char **s, size_t *n)
{
    const char *q = *p;
    if (!*q) return false;
    const char *c = strchr(q, ',');
    const char *e = c ? c : q + strlen(q);
    const char *te;
    const char *t = q;
    while (t < e && (*t == ' ' || *t == '\t'))
        t++;
    te = e;
    while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
        te--;
    *s = t;
    *n = (size_t)(te - t);
    *p = c ? c + 1 : e;
    return true;
}

typedef struct level {
    const char *token;
    int rank; /* 0 = strictest */
} level;

static int rank_of(const level *t, const char *s, size_t n, bool nocase)
{
    for (; t->token; t++)
        if (strlen(t->token) == n &&
            (nocase ? moat_streq_nocase(s, n, t->token, n) : memcmp(s, t->token, n) == 0))
            return t->rank;
    return -1;
}

static const char *token_of(const level *t, int rank)
{
    for (; t->token; t++)
        if (t->rank == rank) return t->token;
    return NULL;
}

/* Ranked by what leaves the site: nothing, nothing cross-origin, the origin
 * only on HTTPS, ..., the whole URL everywhere. */
static const level referrer_levels[] = {
    {"no-referrer", 0},
    {"same-origin", 1},
    {"strict-origin", 2},
    {"strict-origin-when-cross-origin", 3},
    {"origin", 4},
    {"origin-when-cross-origin", 5},
    {"no-referrer-when-downgrade", 6},
    {"unsafe-url", 7},
    {NULL, 0},
};
static const level frame_levels[] = {{"DENY", 0}, {"SAMEORIGIN", 1}, {NULL, 0}};
static const level coop_levels[] = {
    {"same-origin", 0},
    {"same-origin-allow-popups", 1},
    {"noopener-allow-popups", 1},
    {"unsafe-none", 2},
    {NULL, 0},
};
static const level corp_levels[] = {
    {"same-origin", 0},
    {"same-site", 1},
    {"cross-origin", 2},
    {NULL, 0},
};

/* Referrer-Policy: the last token browsers know of the whole list (the
 * Referrer Policy spec's parsing); -1 when none. */
static int referrer_rank(const char *v)
{
    int rank = -1;
    const char *s;
    size_t n;
    for (const char *p = v; next_elem(&p, &s, &n);) {
        int k = rank_of(referrer_levels, s, n, true);
        if (k >= 0) rank = k;
    }
    return rank;
}

/* X-Frame-Options (HTML's processing model): one value, repeated or not,
 * else invalid (-1). ALLOW-FROM and ALLOWALL are invalid. */
static int frame_rank(const char *v)
{
    int rank = -1;
    const char *s;
    size_t n;
    for (const char *p = v; next_elem(&p, &s, &n);) {
        int k = rank_of(frame_levels, s, n, true);
        if (k < 0 || (rank >= 0 && k != rank)) return -1;
        rank = k;
    }
    return rank;
}

/* COOP and CORP are one token (COOP a structured item, perhaps with
 * parameters); two fields, or anything else, do not parse: -1. */
static int item_rank(const level *t, const char *v)
{
    if (strchr(v, ',')) return -1;
    const char *e = strchr(v, ';');
    size_t n = e ? (size_t)(e - v) : strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return rank_of(t, v, n, false);
}

/* Sends value as the only field of name. */
static void set(moat_request *r, moat_http_head *h, const char *name, const char *value)
{
    moat_http_head_set_static(h, r->arena, name, value);
}

/* One header ranked by levels: the app's value when it is stricter than
 * moat's, else moat's. app_token (an arena string or NULL) is what to send
 * for the app's value. */
static void stricter(moat_request *r, moat_http_head *h, const char *name, const char *mine,
                     int mine_rank, int app_rank, const char *app_token)
{
    if (app_rank >= 0 && mine_rank >= 0 && app_rank < mine_rank && app_token)
        set(r, h, name, app_token);
    else
        set(r, h, name, mine);
}

/* ---- Strict-Transport-Security (RFC 6797 6.1) ---- */

typedef struct hsts {
    unsigned long long max_age;
    bool subdomains, preload;
} hsts;

/* max-age's value: digits, perhaps quoted; at most 12 of them (a value
 * longer than any sensible max-age is refused rather than wrapped). */
static bool parse_age(const char *d, size_t n, unsigned long long *out)
{
    if (n >= 2 && d[0] == '"' && d[n - 1] == '"') {
        d++;
        n -= 2;
    }
    if (n == 0 || n > 12) return false;
    unsigned long long a = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] < '0' || d[i] > '9') return false;
        a = a * 10 + (unsigned)(d[i] - '0');
    }
    *out = a;
    return true;
}

/* Parses the first field's value as browsers do; false when they would
 * ignore it (no max-age, a directive twice, bad syntax). */
static bool hsts_parse(const char *v, hsts *out)
{
    memset(out, 0, sizeof(*out));
    bool have_age = false;
    for (const char *p = v;;) {
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *s = p, *end = p + len;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (s < end) {
            const char *eq = memchr(s, '=', (size_t)(end - s));
            const char *ne = eq ? eq : end;
            while (ne > s && (ne[-1] == ' ' || ne[-1] == '\t'))
                ne--;
            size_t nl = (size_t)(ne - s);
            if (moat_streq_nocase(s, nl, "max-age", 7)) {
                if (have_age || !eq) return false;
                const char *d = eq + 1;
                while (d < end && (*d == ' ' || *d == '\t'))
                    d++;
                if (!parse_age(d, (size_t)(end - d), &out->max_age)) return false;
                have_age = true;
            } else if (moat_streq_nocase(s, nl, "includeSubDomains", 17)) {
                if (out->subdomains || eq) return false;
                out->subdomains = true;
            } else if (moat_streq_nocase(s, nl, "preload", 7)) {
                if (out->preload) return false;
                out->preload = true;
            }
        }
        if (!e) break;
        p = e + 1;
    }
    return have_age;
}

/* localhost, a name under .localhost, or an IP literal: includeSubDomains
 * there would pin every other development site on the machine to HTTPS
 * (browsers treat *.localhost as localhost), and means nothing for an IP. */
static bool local_host(const char *host)
{
    if (!host || host[0] == '[') return host != NULL;
    size_t n = strlen(host);
    if (strcmp(host, "localhost") == 0 || (n > 10 && strcmp(host + n - 10, ".localhost") == 0))
        return true;
    unsigned char addr[16];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

static void hsts_header(moat_request *r, moat_http_head *h, bool ov)
{
    const moat_config *cfg = r->rt->cfg;
    moat_http_header *f = ov ? NULL : moat_http_head_find(h, "Strict-Transport-Security");
    /* moat's own value: includeSubDomains only where the operator asked for
     * it and the host is a real name */
    hsts m = {cfg->headers.hsts_max_age,
              cfg->headers.hsts_include_subdomains && !local_host(r->head->host_name),
              cfg->headers.hsts_preload};
    hsts app = {0, false, false};
    if (f && !hsts_parse(f->value, &app)) app = (hsts){0, false, false};
    /* RFC 6797 8.1: browsers read the first field only; the one sent holds
     * the longer max-age and every directive either side asked for */
    if (m.subdomains == cfg->headers.hsts_include_subdomains && app.max_age <= m.max_age &&
        (!app.subdomains || m.subdomains) && (!app.preload || m.preload)) {
        set(r, h, "Strict-Transport-Security", conf_of(r)->hsts);
        return;
    }
    char buf[96];
    snprintf(buf, sizeof(buf), "max-age=%llu%s%s",
             app.max_age > m.max_age ? app.max_age : m.max_age,
             app.subdomains || m.subdomains ? "; includeSubDomains" : "",
             app.preload || m.preload ? "; preload" : "");
    set(r, h, "Strict-Transport-Security", moat_arena_strdup(r->arena, buf));
}

/* ---- Permissions-Policy: a structured dictionary (RFC 8941) ---- */

#define PP_MAX 64

typedef struct pp_member {
    const char *s; /* the member as written, trimmed */
    size_t n;
    size_t key_len; /* s[0..key_len) is the key */
} pp_member;

static bool sf_key_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || c == '*' ||
           (!first && ((c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'));
}

/* A token or a string at *p; advances past it. */
static bool sf_bare_item(const char **p, const char *end)
{
    const char *q = *p;
    if (q < end && *q == '"') {
        for (q++; q < end && *q != '"'; q++) {
            if (*q == '\\') {
                if (++q == end || (*q != '"' && *q != '\\')) return false;
            } else if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7E) {
                return false;
            }
        }
        if (q == end) return false;
        *p = q + 1;
        return true;
    }
    if (q == end || !((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '*'))
        return false;
    for (q++; q < end && (is_tchar(*q) || *q == ':' || *q == '/'); q++)
        ;
    *p = q;
    return true;
}

static bool sf_params(const char **p, const char *end)
{
    const char *q = *p;
    while (q < end && *q == ';') {
        q++;
        while (q < end && *q == ' ')
            q++;
        if (q == end || !sf_key_char(*q, true)) return false;
        while (q < end && sf_key_char(*q, false))
            q++;
        if (q < end && *q == '=') {
            q++;
            if (!sf_bare_item(&q, end)) return false;
        }
    }
    *p = q;
    return true;
}

/* key=item or key=(items) with parameters, nothing else: a member that
 * parses on its own, so joining it to moat's cannot break moat's. */
static bool pp_member_ok(const char *s, size_t n, size_t *key_len)
{
    const char *p = s, *end = s + n;
    if (p == end || !sf_key_char(*p, true)) return false;
    while (p < end && sf_key_char(*p, false))
        p++;
    *key_len = (size_t)(p - s);
    if (p == end || *p != '=') return false;
    p++;
    if (p < end && *p == '(') {
        p++;
        while (p < end && *p == ' ')
            p++;
        while (p < end && *p != ')') {
            if (!sf_bare_item(&p, end) || !sf_params(&p, end)) return false;
            if (p < end && *p != ' ' && *p != ')') return false;
            while (p < end && *p == ' ')
                p++;
        }
        if (p == end) return false;
        p++;
    } else if (!sf_bare_item(&p, end)) {
        return false;
    }
    return sf_params(&p, end) && p == end;
}

/* Splits a dictionary at the commas outside strings and lists. */
static size_t pp_split(const char *v, pp_member *m, bool check)
{
    size_t k = 0;
    const char *p = v;
    while (*p && k < PP_MAX) {
        const char *q = p;
        bool str = false;
        int depth = 0;
        for (; *q && (str || depth || *q != ','); q++) {
            if (str && *q == '\\' && q[1])
                q++;
            else if (*q == '"')
                str = !str;
            else if (!str && *q == '(')
                depth++;
            else if (!str && *q == ')' && depth)
                depth--;
        }
        const char *s = p, *e = q;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        size_t kl = 0;
        if (s < e) {
            if (!check) {
                const char *eq = memchr(s, '=', (size_t)(e - s));
                kl = eq ? (size_t)(eq - s) : (size_t)(e - s);
                m[k++] = (pp_member){s, (size_t)(e - s), kl};
            } else if (pp_member_ok(s, (size_t)(e - s), &kl)) {
                m[k++] = (pp_member){s, (size_t)(e - s), kl};
            }
        }
        p = *q ? q + 1 : q;
    }
    return k;
}

static const pp_member *pp_last(const pp_member *m, size_t n, const char *key, size_t kl)
{
    const pp_member *found = NULL;
    for (size_t i = 0; i < n; i++)
        if (m[i].key_len == kl && memcmp(m[i].s, key, kl) == 0) found = &m[i];
    return found;
}

/* moat's members, where the app denies a feature to everyone (`=()`) its
 * member instead; then the app's members for the features moat does not
 * name, each the last of its key (a dictionary's last duplicate wins). */
static void permissions_header(moat_request *r, moat_http_head *h, const char *mine,
                               const char *app)
{
    pp_member mm[PP_MAX], am[PP_MAX];
    size_t nm = pp_split(mine, mm, false), na = pp_split(app, am, true);
    moat_buf b;
    moat_buf_init(&b);
    for (size_t i = 0; i < nm; i++) {
        const pp_member *a = pp_last(am, na, mm[i].s, mm[i].key_len);
        const pp_member *use =
            a && a->n == a->key_len + 3 && memcmp(a->s + a->key_len, "=()", 3) == 0 ? a : &mm[i];
        if (b.len) moat_buf_puts(&b, ", ");
        moat_buf_append(&b, use->s, use->n);
    }
    for (size_t i = 0; i < na; i++) {
        if (pp_last(mm, nm, am[i].s, am[i].key_len)) continue;
        if (pp_last(am, na, am[i].s, am[i].key_len) != &am[i]) continue;
        if (b.len) moat_buf_puts(&b, ", ");
        moat_buf_append(&b, am[i].s, am[i].n);
    }
    set(r, h, "Permissions-Policy", moat_arena_strndup(r->arena, b.data ? b.data : "", b.len));
    moat_buf_free(&b);
}

/* ---- Content-Security-Policy ---- */

/* moat's policy goes beside the app's: browsers enforce every policy they
 * get, so the app's can only take more away. */
static void csp_header(moat_request *r, moat_http_head *h, const char *name, const char *mine,
                       bool ov)
{
    if (ov) {
        set(r, h, name, mine);
        return;
    }
    size_t nl = strlen(name), ml = strlen(mine);
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *f = &h->headers[i];
        if (moat_streq_nocase(f->name, f->name_len, name, nl) && f->value_len == ml &&
            memcmp(f->value, mine, ml) == 0)
            return; /* already there, word for word */
    }
    moat_http_head_add_static(h, r->arena, name, mine);
}

static void security_headers(moat_request *r, moat_http_head *h)
{
    const moat_config *cfg = r->rt->cfg;
    size_t idx = path_rule(cfg, r->path);
    const moat_header_rule *rule = idx < cfg->headers.paths.len
                                       ? &((const moat_header_rule *)cfg->headers.paths.items)[idx]
                                       : NULL;
    bool ov = cfg->headers.override;
    for (size_t i = 0; i < cfg->headers.remove.len; i++)
        moat_http_head_remove(h, cfg->headers.remove.items[i]);

    const char *csp = conf_of(r)->csp[idx];
    if (!off(csp))
        csp_header(r, h,
                   cfg->headers.csp_report_only ? "Content-Security-Policy-Report-Only"
                                                : "Content-Security-Policy",
                   csp, ov);

    if (cfg->headers.nosniff) set(r, h, "X-Content-Type-Options", "nosniff");

    size_t n;
    const char *mine = PICK(rule, cfg, frame_options);
    const char *app = app_value(r, h, "X-Frame-Options", &n);
    if (!off(mine)) {
        int ar = ov || !app ? -1 : frame_rank(app);
        stricter(r, h, "X-Frame-Options", mine, frame_rank(mine), ar,
                 ar >= 0 ? token_of(frame_levels, ar) : NULL);
    }

    mine = PICK(rule, cfg, referrer_policy);
    app = app_value(r, h, "Referrer-Policy", &n);
    if (!off(mine)) {
        int ar = ov || !app ? -1 : referrer_rank(app);
        stricter(r, h, "Referrer-Policy", mine, referrer_rank(mine), ar,
                 ar >= 0 ? token_of(referrer_levels, ar) : NULL);
    }

    mine = PICK(rule, cfg, permissions_policy);
    app = app_value(r, h, "Permissions-Policy", &n);
    if (!off(mine)) {
        if (ov || !app)
            set(r, h, "Permissions-Policy", mine);
        else
            permissions_header(r, h, mine, app);
    }

    mine = PICK(rule, cfg, coop);
    app = app_value(r, h, "Cross-Origin-Opener-Policy", &n);
    if (!off(mine))
        stricter(r, h, "Cross-Origin-Opener-Policy", mine, item_rank(coop_levels, mine),
                 ov || !app ? -1 : item_rank(coop_levels, app), app);

    mine = PICK(rule, cfg, corp);
    app = app_value(r, h, "Cross-Origin-Resource-Policy", &n);
    if (!off(mine))
        stricter(r, h, "Cross-Origin-Resource-Policy", mine, item_rank(corp_levels, mine),
                 ov || !app ? -1 : item_rank(corp_levels, app), app);

    /* Behind a trusted TLS-terminating proxy (X-Forwarded-Proto: https) the
     * proxy owns HSTS and moat adds none; but an HSTS the app sends there
     * reaches the browser over HTTPS, so it too may only tighten moat's. */
    bool own_tls = r->c->conn.tp->secure;
    if (r->https && cfg->headers.hsts_max_age > 0 &&
        (own_tls || moat_http_head_find(h, "Strict-Transport-Security")))
        hsts_header(r, h, ov);
}

/* ---- cookies ---- */

/* One security event for a cookie moat mended or dropped. */
static void cookie_event(moat_request *r, moat_http_head *h, bool dropped, const char *name,
                         size_t nlen, const moat_buf *why)
{
    if (!moat__seclog) return;
    moat_seclog_field fields[2];
    size_t nf = 0;
    if (nlen)
        fields[nf++] =
            (moat_seclog_field){"name", moat_arena_strndup(r->arena, name, nlen > 64 ? 64 : nlen)};
    fields[nf++] = (moat_seclog_field){
        "change", moat_arena_strndup(r->arena, why->data ? why->data : "", why->len)};
    const char *event = dropped ? "response.cookie.dropped" : "response.cookie.fixed";
    const moat_seclog_event_info *info = moat_seclog_event_lookup(event);
    moat_seclog_event ev = {
        .event = event,
        .severity = info ? info->severity : MOAT_SECLOG_WARNING,
        .request_id = r->id,
        .client = r->c->peer,
        .method = r->head ? r->head->method : NULL,
        .path = r->head ? r->head->target : NULL,
        .reason = dropped ? "the application set a cookie browsers would refuse; it was dropped"
                          : "the application set a cookie browsers would refuse or misread; "
                            "moat mended it",
        .stage = "headers",
        .config_key = strstr(why->data ? why->data : "", "SameSite") ? "cookies.samesite" : NULL,
        .status = h->status,
        .fields = fields,
        .nfields = nf,
    };
    moat_seclog_record(moat__seclog, &ev);
}

static int cookies_response(moat_request *r, moat_http_head *h)
{
    const moat_config *cfg = r->rt->cfg;
    moat__cookie_policy pol = {
        .https = r->https,
        .add_secure = cfg->cookies.secure,
        .httponly = cfg->cookies.httponly,
        .httponly_except = &cfg->cookies.httponly_except,
        .samesite = cfg->cookies.samesite,
    };
    size_t w = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        moat_http_header *f = &h->headers[i];
        if (f->name_len != sizeof("Set-Cookie") - 1 ||
            !moat_strieq_lit(f->name, f->name_len, "Set-Cookie")) {
            h->headers[w++] = *f;
            continue;
        }
        moat_buf b, why;
        moat_buf_init(&b);
        moat_buf_init(&why);
        size_t nlen;
        int verdict = moat__cookie_harden(&pol, f->value, f->value_len, &b, &nlen, &why);
        if (verdict == MOAT__COOKIE_DROPPED) {
            moat_warn("request %s: Set-Cookie from the upstream dropped: %.*s", r->id, (int)why.len,
                      why.data ? why.data : "");
        } else {
            f->value = moat_arena_strndup(r->arena, b.data, b.len);
            f->value_len = b.len;
            h->headers[w++] = *f;
        }
        if (verdict != MOAT__COOKIE_KEPT)
            cookie_event(r, h, verdict == MOAT__COOKIE_DROPPED, f->value, nlen, &why);
        moat_buf_free(&b);
        moat_buf_free(&why);
    }
    h->nheaders = w;
    return MOAT_PASS;
}

/* Moat's own answers (r->answering) get the security headers only: their
 * cookies are moat's, set as they must be. */
static int headers_response(moat_request *r, moat_http_head *h)
{
    if (!r->answering) cookies_response(r, h);
    security_headers(r, h);
    return MOAT_PASS;
}

const moat_stage moat__stage_headers = {
    .name = "headers",
    .prepare = headers_prepare,
    .release = headers_release,
    .on_response_head = headers_response,
};
