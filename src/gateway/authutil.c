/* authutil.c - the pure helpers of the auth stage, kept apart so the unit
 * tests and the fuzzer reach them without a running gateway: matching
 * [[auth.rules]] (methods and hosts; paths with core's route matcher), reading a cookie from a
 * Cookie header, parsing application/x-www-form-urlencoded bodies and query strings, checking a
 * return address (rd) is a same-origin path, escaping text for HTML and URLs, and the client's
 * address behind trusted proxies. No I/O, no store: stage_auth.c does the rest. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- [[auth.rules]] ------------------------------------------------------
 * A rule that guards (any policy but public) is matched generously, a public
 * rule narrowly, so that no reading of the rules ever opens a path one of
 * them meant to guard (docs/auth.md, "Which paths a rule covers"). */

bool moat__auth_path_match(const char *pattern, const char *path, unsigned flags)
{
    return moat_route_match(pattern, path,
                            ((flags & MOAT__MATCH_GUARD) ? MOAT_ROUTE_GUARD : 0) |
                                ((flags & MOAT__MATCH_NOCASE) ? MOAT_ROUTE_NOCASE : 0));
}

/* Methods every framework knows; any other method reaches a view the same
 * way (Django runs a function view for any method), so a guarding rule that
 * lists methods covers it too. */
static bool standard_method(const char *m)
{
    static const char *const std[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(std); i++)
        if (strcmp(std[i], m) == 0) return true;
    return false;
}

static bool method_match(const moat_strlist *methods, const char *method, bool guard)
{
    if (!methods->len) return true;
    if (guard && !standard_method(method)) return true;
    bool head = strcmp(method, "HEAD") == 0; /* HEAD runs the GET view */
    for (size_t k = 0; k < methods->len; k++) {
        if (strcmp(methods->items[k], method) == 0) return true;
        if (head && strcmp(methods->items[k], "GET") == 0) return true;
    }
    return false;
}

/* The Host header without its port, compared without regard to case. */
static bool host_match(const char *want, const char *host)
{
    if (!host) return false;
    size_t n = strlen(host);
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        if (end) n = (size_t)(end - host) + 1;
    } else {
        const char *colon = strchr(host, ':');
        if (colon) n = (size_t)(colon - host);
    }
    return moat_streq_nocase(want, strlen(want), host, n);
}

const char *moat__auth_policy(const moat_config *cfg, const char *host, const char *path,
                              const char *method)
{
    const moat_auth_rule *rules = cfg->auth.rules.items;
    for (size_t i = 0; i < cfg->auth.rules.len; i++) {
        const moat_auth_rule *ru = &rules[i];
        if (ru->host && !host_match(ru->host, host)) continue;
        bool guard = strcmp(ru->policy, "public") != 0;
        if (!method_match(&ru->methods, method, guard)) continue;
        unsigned flags = guard ? MOAT__MATCH_GUARD : 0;
        if (cfg->auth.case_insensitive_paths) flags |= MOAT__MATCH_NOCASE;
        if (!moat__auth_path_match(ru->path, path, flags)) continue;
        return ru->policy;
    }
    return cfg->auth.default_policy;
}

bool moat__auth_enabled(const moat_config *cfg)
{
    return cfg->auth.rules.len > 0 || strcmp(cfg->auth.default_policy, "public") != 0;
}

/* ---- cookies ------------------------------------------------------------- */

int moat__cookie_get(const char *header, size_t hlen, const char *name, const char **val,
                     size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = header, *end = header + hlen;
    int found = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
            p++;
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pair_end = semi ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq + 1, *ve = pair_end;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"') {
                v++;
                ve--;
            }
            if (found) return MOAT_EINVAL; /* twice: ambiguous, take neither */
            *val = v;
            *vlen = (size_t)(ve - v);
            found = 1;
        }
        p = pair_end;
    }
    return found ? 0 : MOAT_ENOENT;
}

/* ---- forms --------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) ('+' is a space) into a NUL-terminated arena string.
 * NULL when a %-escape is malformed or the result holds a NUL byte. */
static char *form_decode(moat_arena *a, const char *s, size_t n)
{
    char *out = moat_arena_alloc(a, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n) return NULL;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0) return NULL;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (c == '\0') return NULL;
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

int moat__form_parse(moat_arena *a, const char *body, size_t len, moat__form *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        if (pe > p) {
            if (out->n == MOAT__FORM_MAX) return MOAT_ETOOBIG;
            const char *eq = memchr(p, '=', (size_t)(pe - p));
            const char *ke = eq ? eq : pe;
            char *k = form_decode(a, p, (size_t)(ke - p));
            char *v = eq ? form_decode(a, eq + 1, (size_t)(pe - eq - 1)) : moat_arena_strdup(a, "");
            if (!k || !v) return MOAT_EINVAL;
            for (size_t i = 0; i < out->n; i++)
                if (strcmp(out->keys[i], k) == 0) return MOAT_EINVAL; /* given twice */
            out->keys[out->n] = k;
            out->vals[out->n] = v;
            out->n++;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

const char *moat__form_get(const moat__form *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], key) == 0) return f->vals[i];
    return NULL;
}

/* ---- return addresses ------------------------------------------------------ */

bool moat__auth_rd_ok(const char *rd)
{
    /* A path on this site: "/x", never "//host", "/\host" or a scheme. */
    if (!rd || rd[0] != '/' || rd[1] == '/' || rd[1] == '\\') return false;
    size_t n = strlen(rd);
    if (n > 2048) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rd[i];
        if (c <= 0x20 || c == 0x7f || c == '\\' || c >= 0x80) return false;
    }
    /* %2F%2F and friends: the browser may decode before it resolves. */
    if (strncmp(rd, "/%2f", 4) == 0 || strncmp(rd, "/%2F", 4) == 0 || strncmp(rd, "/%5c", 4) == 0 ||
        strncmp(rd, "/%5C", 4) == 0)
        return false;
    return true;
}

/* ---- escaping ------------------------------------------------------------ */

void moat__html_escape(moat_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            moat_buf_puts(b, "&amp;");
            break;
        case '<':
            moat_buf_puts(b, "&lt;");
            break;
        case '>':
            moat_buf_puts(b, "&gt;");
            break;
        case '"':
            moat_buf_puts(b, "&quot;");
            break;
        case '\'':
            moat_buf_puts(b, "&#39;");
            break;
        default:
            moat_buf_putc(b, *s);
        }
    }
}

void moat__url_escape(moat_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
            moat_buf_putc(b, (char)c);
        } else {
            moat_buf_putc(b, '%');
            moat_buf_putc(b, hex[c >> 4]);
            moat_buf_putc(b, hex[c & 15]);
        }
    }
}

/* ---- the client's address ------------------------------------------------- */

/* True when s[0..n) is an IPv4 or IPv6 address (copied into out). */
static bool ip_text(const char *s, size_t n, char *out, size_t cap)
{
    if (n == 0 || n >= cap) return false;
    memcpy(out, s, n);
    out[n] = '\0';
    unsigned char buf[16];
    return inet_pton(AF_INET, out, buf) == 1 || inet_pton(AF_INET6, out, buf) == 1;
}

void moat__auth_client_addr(const moat_config *cfg, const char *peer, moat_http_head *h, char *out,
                            size_t cap)
{
    snprintf(out, cap, "%s", peer);
    if (!peer[0] || !moat_ip_in_list(peer, cfg->trusted_proxies.items, cfg->trusted_proxies.len))
        return;
    /* Right to left through every X-Forwarded-For field: the first address
     * that is not one of our proxies is the client. */
    for (size_t k = h->nheaders; k-- > 0;) {
        moat_http_header *f = &h->headers[k];
        if (f->name_len != sizeof("X-Forwarded-For") - 1 ||
            !moat_strieq_lit(f->name, f->name_len, "X-Forwarded-For"))
            continue;
        const char *v = f->value;
        size_t end = f->value_len;
        while (end > 0) {
            size_t start = end;
            while (start > 0 && v[start - 1] != ',')
                start--;
            size_t a = start, b = end;
            while (a < b && (v[a] == ' ' || v[a] == '\t'))
                a++;
            while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
                b--;
            char ip[INET6_ADDRSTRLEN];
            if (!ip_text(v + a, b - a, ip, sizeof(ip))) return; /* garbage: keep what we have */
            snprintf(out, cap, "%s", ip);
            if (!moat_ip_in_list(ip, cfg->trusted_proxies.items, cfg->trusted_proxies.len)) return;
            end = start ? start - 1 : 0;
        }
    }
}
