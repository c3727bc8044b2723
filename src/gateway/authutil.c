/* authutil.c - the pure helpers of the auth stage, kept apart so the unit
 * tests and the fuzzer reach them without a running gateway: matching
 * [[auth.rules]] (methods and hosts; paths with core's route matcher) and the
 * client's address behind trusted proxies. No I/O, no store: stage_auth.c
 * does the rest; cookies and forms are src/http's (form.c), the portal
 * src/auth's. */
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
