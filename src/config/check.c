/* check.c - the value checks behind the settings table: listen addresses,
 * upstream URLs, Host allow-list entries and trusted-proxy networks, plus the
 * size and duration units and their text forms. Checks only judge syntax
 * (inet_pton for addresses); nothing here resolves names or opens sockets,
 * that is the server's job when it starts. */
#include "settings.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

/* ---- units ---------------------------------------------------------------- */

typedef struct unit {
    const char *name; /* lower case */
    uint64_t factor;
} unit;

static const unit size_units[] = {
    {"", 1},      {"b", 1},     {"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000000000},
    {"kib", KIB}, {"mib", MIB}, {"gib", GIB},
};

static const unit duration_units[] = {
    {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000},
};

/* "<digits>[ ]*<unit>" with the unit looked up case-insensitively. */
static int parse_with_unit(const char *s, size_t n, const unit *units, size_t nunits, uint64_t *out)
{
    size_t d = 0;
    while (d < n && s[d] >= '0' && s[d] <= '9')
        d++;
    if (d == 0) return MOAT_EINVAL;
    size_t u = d;
    while (u < n && s[u] == ' ')
        u++;
    if (u > d && u == n) return MOAT_EINVAL; /* trailing blanks but no unit */
    const unit *found = NULL;
    for (size_t i = 0; i < nunits; i++) {
        if (moat_strieq_lit(s + u, n - u, units[i].name)) {
            found = &units[i];
            break;
        }
    }
    if (!found) return MOAT_EINVAL;
    uint64_t v;
    int rc = moat_parse_u64(s, d, &v);
    if (rc) return rc;
    if (v > UINT64_MAX / found->factor) return MOAT_ERANGE;
    *out = v * found->factor;
    return 0;
}

int moat__config_parse_size(const char *s, size_t n, uint64_t *out)
{
    return parse_with_unit(s, n, size_units, MOAT_ARRAY_LEN(size_units), out);
}

int moat__config_parse_duration(const char *s, size_t n, uint64_t *out_ms)
{
    return parse_with_unit(s, n, duration_units, MOAT_ARRAY_LEN(duration_units), out_ms);
}

void moat__config_put_size(moat_buf *b, uint64_t bytes)
{
    if (bytes && bytes % GIB == 0)
        moat_buf_printf(b, "%" PRIu64 "GiB", bytes / GIB);
    else if (bytes && bytes % MIB == 0)
        moat_buf_printf(b, "%" PRIu64 "MiB", bytes / MIB);
    else if (bytes && bytes % KIB == 0)
        moat_buf_printf(b, "%" PRIu64 "KiB", bytes / KIB);
    else
        moat_buf_printf(b, "%" PRIu64 "B", bytes);
}

void moat__config_put_duration(moat_buf *b, uint64_t ms)
{
    if (ms && ms % (60 * 60 * 1000) == 0)
        moat_buf_printf(b, "%" PRIu64 "h", ms / (60 * 60 * 1000));
    else if (ms && ms % (60 * 1000) == 0)
        moat_buf_printf(b, "%" PRIu64 "m", ms / (60 * 1000));
    else if (ms % 1000 == 0)
        moat_buf_printf(b, "%" PRIu64 "s", ms / 1000);
    else
        moat_buf_printf(b, "%" PRIu64 "ms", ms);
}

void moat__config_put_string(moat_buf *b, const char *s, size_t n, bool escape_refs)
{
    moat_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"':
            moat_buf_puts(b, "\\\"");
            break;
        case '\\':
            moat_buf_puts(b, "\\\\");
            break;
        case '\n':
            moat_buf_puts(b, "\\n");
            break;
        case '\t':
            moat_buf_puts(b, "\\t");
            break;
        case '\r':
            moat_buf_puts(b, "\\r");
            break;
        case '$':
            /* The loader reads "$${" as a literal "${". */
            if (escape_refs && i + 1 < n && s[i + 1] == '{') moat_buf_putc(b, '$');
            moat_buf_putc(b, '$');
            break;
        default:
            if (ch < 0x20 || ch == 0x7f)
                moat_buf_printf(b, "\\u%04x", ch);
            else
                moat_buf_putc(b, (char)ch);
        }
    }
    moat_buf_putc(b, '"');
}

/* ---- address pieces ------------------------------------------------------- */

/* "1".."65535", digits only. */
static const char *check_port(const char *p)
{
    size_t n = strlen(p);
    uint64_t port;
    if (n == 0) return "the port is missing after ':'";
    if (n > 5 || moat_parse_u64(p, n, &port) || port < 1 || port > 65535)
        return "the port must be a number from 1 to 65535";
    return NULL;
}

static bool parse_ip(int af, const char *s, size_t n, unsigned char addr[16])
{
    char tmp[INET6_ADDRSTRLEN + 1];
    if (n == 0 || n >= sizeof(tmp)) return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(af, tmp, addr) == 1;
}

/* A DNS name: dot-separated labels of letters, digits, '-' and '_' (container
 * and service names use it), 1..63 bytes each, not starting or ending with
 * '-', 253 bytes at most. */
static bool is_hostname(const char *s, size_t n)
{
    if (n == 0 || n > 253) return false;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0 || label > 63) return false;
            if (s[i - 1] == '-' || s[i - label] == '-') return false;
            label = 0;
            continue;
        }
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '-' && ch != '_') return false;
        label++;
    }
    return true;
}

/* True when the last label is all digits: then it is meant as an IPv4
 * address (no top-level domain is numeric). */
static bool looks_numeric(const char *s, size_t n)
{
    size_t i = n;
    while (i > 0 && s[i - 1] != '.')
        i--;
    if (i == n) return false;
    for (size_t j = i; j < n; j++)
        if (s[j] < '0' || s[j] > '9') return false;
    return true;
}

/* "[v6]" + rest: checks the address, returns the text after ']' in *rest. */
static const char *check_bracketed_v6(const char *v, const char **rest)
{
    const char *close = strchr(v, ']');
    unsigned char addr[16];
    if (!close) return "an IPv6 address in brackets is missing its ']'";
    if (!parse_ip(AF_INET6, v + 1, (size_t)(close - v - 1), addr))
        return "not a valid IPv6 address";
    *rest = close + 1;
    return NULL;
}

/* ---- the checks ----------------------------------------------------------- */

const char *moat__config_check_listen(char *v)
{
    const char *port;
    if (v[0] == '[') {
        const char *rest;
        const char *why = check_bracketed_v6(v, &rest);
        if (why) return why;
        if (rest[0] != ':') return "the port is missing: write ADDRESS:PORT, as in [::1]:8080";
        port = rest + 1;
    } else {
        const char *colon = strrchr(v, ':');
        if (!colon) return "the port is missing: write ADDRESS:PORT, as in 127.0.0.1:8080";
        size_t hlen = (size_t)(colon - v);
        if (memchr(v, ':', hlen)) return "an IPv6 address must be in brackets, as in [::1]:8080";
        if (hlen == 0) return "the address is missing (0.0.0.0:PORT listens on every interface)";
        unsigned char addr[16];
        if (!parse_ip(AF_INET, v, hlen, addr)) {
            if (!looks_numeric(v, hlen) && is_hostname(v, hlen))
                return "host names are not accepted here: write an IP address (127.0.0.1 for "
                       "this machine only, 0.0.0.0 for every interface)";
            return "not a valid IPv4 address";
        }
        port = colon + 1;
    }
    return check_port(port);
}

const char *moat__config_check_upstream(char *v)
{
    if (strncmp(v, "unix:", 5) == 0) {
        const char *path = v + 5;
        if (path[0] != '/') return "a Unix socket path must be absolute, as in unix:/run/app.sock";
        /* sockaddr_un.sun_path holds 108 bytes with the NUL. */
        if (strlen(path) > 107) return "a Unix socket path can be at most 107 bytes long";
        return NULL;
    }
    if (strncmp(v, "https://", 8) == 0)
        return "https:// upstreams are not supported yet: use http://HOST:PORT or unix:/path";
    if (strncmp(v, "http://", 7) != 0) return "expected http://HOST:PORT or unix:/path";
    char *auth = v + 7;
    size_t alen = strcspn(auth, "/?#");
    const char *after = auth + alen;
    if (after[0] && strcmp(after, "/") != 0)
        return "a path, query or fragment after the port is not supported (moat forwards each "
               "request's own path)";
    if (memchr(auth, '@', alen)) return "user names and passwords in the URL are not supported";
    if (alen == 0) return "the host is missing: write http://HOST:PORT";
    const char *port_end = after;
    const char *colon;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        unsigned char addr[16];
        if (!close) return "an IPv6 address in brackets is missing its ']'";
        if (!parse_ip(AF_INET6, auth + 1, (size_t)(close - auth - 1), addr))
            return "not a valid IPv6 address";
        if (close + 1 == port_end || close[1] != ':')
            return "the port is missing: write http://HOST:PORT";
        colon = close + 1;
    } else {
        colon = NULL;
        for (const char *p = auth; p < port_end; p++)
            if (*p == ':') colon = p;
        if (!colon) return "the port is missing: write http://HOST:PORT";
        size_t hlen = (size_t)(colon - auth);
        if (memchr(auth, ':', hlen)) return "an IPv6 address must be in brackets, as in [::1]";
        unsigned char addr[16];
        if (!parse_ip(AF_INET, auth, hlen, addr)) {
            if (looks_numeric(auth, hlen)) return "not a valid IPv4 address";
            if (!is_hostname(auth, hlen)) return "not a valid host name or IP address";
        }
    }
    char port[8];
    size_t plen = (size_t)(port_end - colon - 1);
    if (plen >= sizeof(port)) return "the port must be a number from 1 to 65535";
    memcpy(port, colon + 1, plen);
    port[plen] = '\0';
    return check_port(port);
}

const char *moat__config_check_host(char *v)
{
    for (char *p = v; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strcmp(v, "*") == 0)
        return "\"*\" would accept any host: leave the list empty (hosts = []) if that is "
               "really meant";
    bool wildcard = strncmp(v, "*.", 2) == 0;
    const char *h = wildcard ? v + 2 : v;
    const char *port = NULL;
    size_t hlen;
    if (h[0] == '[') {
        if (wildcard) return "a wildcard needs a host name after \"*.\"";
        const char *rest;
        const char *why = check_bracketed_v6(h, &rest);
        if (why) return why;
        if (rest[0] == ':')
            port = rest + 1;
        else if (rest[0])
            return "unexpected text after the IPv6 address";
        return port ? check_port(port) : NULL;
    }
    const char *colon = strchr(h, ':');
    hlen = colon ? (size_t)(colon - h) : strlen(h);
    if (colon) {
        if (strchr(colon + 1, ':')) return "an IPv6 address must be in brackets, as in [::1]";
        port = colon + 1;
    }
    if (looks_numeric(h, hlen)) {
        unsigned char addr[16];
        if (wildcard) return "a wildcard needs a host name after \"*.\"";
        if (!parse_ip(AF_INET, h, hlen, addr)) return "not a valid IPv4 address";
    } else if (!is_hostname(h, hlen)) {
        if (memchr(h, '*', hlen)) return "a wildcard is only allowed as a first label \"*.\"";
        return "not a valid host name";
    }
    return port ? check_port(port) : NULL;
}

const char *moat__config_check_proxy(char *v)
{
    const char *slash = strchr(v, '/');
    size_t alen = slash ? (size_t)(slash - v) : strlen(v);
    unsigned char addr[16];
    int af = memchr(v, ':', alen) ? AF_INET6 : AF_INET;
    if (!parse_ip(af, v, alen, addr))
        return af == AF_INET6 ? "not a valid IPv6 address" : "not a valid IPv4 address";
    if (!slash) return NULL;
    uint64_t bits, max = af == AF_INET6 ? 128 : 32;
    size_t plen = strlen(slash + 1);
    if (plen == 0 || plen > 3 || moat_parse_u64(slash + 1, plen, &bits) || bits > max)
        return af == AF_INET6 ? "the prefix length must be a number from 0 to 128"
                              : "the prefix length must be a number from 0 to 32";
    size_t nbytes = (size_t)max / 8;
    for (size_t i = 0; i < nbytes; i++) {
        unsigned keep = i * 8 >= bits ? 0 : bits >= (i + 1) * 8 ? 8 : (unsigned)(bits - i * 8);
        unsigned mask = (0xffu << (8 - keep)) & 0xffu;
        if (addr[i] & ~mask & 0xffu)
            return "bits are set after the prefix length: write the network's first address, "
                   "as in 10.0.0.0/8";
    }
    return NULL;
}

/* waf.exclude: "PATH_PREFIX" or "PATH_PREFIX PARAM". Both go into generated
 * SecLang, so only characters that cannot end a quoted string or an action
 * list are allowed. */
/* ---- waf.exclude ------------------------------------------------------ */

/* Rule tags an exclusion may name: the CRS's and moat's families. */
static const char *const tag_prefixes[] = {"attack-",      "language-",       "platform-",
                                           "application-", "paranoia-level/", "moat-python"};
/* Tags (and ids) the blocking evaluation carries: removing them would turn
 * the WAF off on the route while reading as a narrow exclusion. */
static const char *const blocking_tags[] = {"attack-generic", "language-multi", "platform-multi",
                                            "application-multi"};
static const char *const target_collections[] = {
    "ARGS:", "ARGS_NAMES:", "REQUEST_HEADERS:", "REQUEST_COOKIES:", "REQUEST_COOKIES_NAMES:"};

/* Letters, digits and _ - . [ ] (and / in tags): what goes into generated
 * SecLang unquoted. */
static bool name_chars(const char *p, bool slash)
{
    if (!*p) return false;
    for (; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!(isalnum(ch) || ch == '_' || ch == '-' || ch == '.' || ch == '[' || ch == ']' ||
              (slash && ch == '/')))
            return false;
    }
    return true;
}

void moat_waf_exclusion_free(moat_waf_exclusion *e)
{
    free(e->buf);
    memset(e, 0, sizeof(*e));
}

const char *moat_waf_exclusion_parse(const char *entry, moat_waf_exclusion *out)
{
    memset(out, 0, sizeof(*out));
    out->buf = moat_xstrdup(entry);
    char *p = out->buf;
    const char *why = NULL;
    char *sp = strchr(p, ' ');
    if (sp) *sp = '\0';
    out->route = p;
    why = moat_route_check(p);
    p = sp ? sp + 1 : NULL;
    while (!why && p) {
        while (*p == ' ')
            p++;
        if (!*p) break;
        char *tok = p;
        sp = strchr(p, ' ');
        if (sp) *sp = '\0';
        p = sp ? sp + 1 : NULL;
        size_t n = strlen(tok);
        bool digits = n && n <= 9 && strspn(tok, "0123456789") == n;
        bool tag = false;
        for (size_t i = 0; i < MOAT_ARRAY_LEN(tag_prefixes); i++)
            tag = tag || strncmp(tok, tag_prefixes[i], strlen(tag_prefixes[i])) == 0;
        const char *colon = strchr(tok, ':');
        if (out->nids + out->ntags + out->ntargets >= MOAT_WAF_EXCL_MAX) {
            why = "too many rule ids, tags and targets in one entry (at most 16): split it";
        } else if (digits) {
            out->ids[out->nids++] = tok;
        } else if (tag) {
            if (!name_chars(tok, true)) why = "a rule tag is letters, digits, '-', '_' and '/'";
            out->tags[out->ntags++] = tok;
        } else if (colon) {
            bool known = false;
            size_t cl = (size_t)(colon - tok) + 1; /* the collection and its ':' */
            for (size_t i = 0; i < MOAT_ARRAY_LEN(target_collections); i++)
                if (strlen(target_collections[i]) == cl &&
                    strncmp(tok, target_collections[i], cl) == 0)
                    known = true;
            if (!known)
                why = "a target is ARGS:NAME, ARGS_NAMES:NAME, REQUEST_HEADERS:NAME, "
                      "REQUEST_COOKIES:NAME or REQUEST_COOKIES_NAMES:NAME";
            else if (!name_chars(colon + 1, false))
                why = "the name in a target is letters, digits and '_', '-', '.', '[', ']'";
            out->targets[out->ntargets++] = tok;
        } else if (name_chars(tok, false)) {
            out->bare[out->ntargets] = true;
            out->targets[out->ntargets++] = tok;
        } else {
            why = "after the route (one space), each item is a rule id (942100), a rule tag "
                  "(attack-rce), a target (ARGS:body, REQUEST_HEADERS:Referer) or a parameter "
                  "name (body)";
        }
    }
    if (!why && !out->ntargets) {
        for (size_t i = 0; i < out->nids && !why; i++)
            if (strncmp(out->ids[i], "949", 3) == 0 || strncmp(out->ids[i], "901", 3) == 0)
                why = "rules 901xxx and 949xxx set up and decide the anomaly score: removing them "
                      "turns the WAF off; write the route alone for that";
        for (size_t i = 0; i < out->ntags && !why; i++)
            for (size_t k = 0; k < MOAT_ARRAY_LEN(blocking_tags); k++)
                if (strcmp(out->tags[i], blocking_tags[k]) == 0)
                    why = "the blocking evaluation (949110) carries this tag: removing it turns "
                          "the WAF off; name a narrower tag (attack-rce) or write the route alone";
    }
    if (why) moat_waf_exclusion_free(out);
    return why;
}

const char *moat__config_check_waf_exclude(char *v)
{
    moat_waf_exclusion e;
    const char *why = moat_waf_exclusion_parse(v, &e);
    moat_waf_exclusion_free(&e);
    return why;
}

const char *moat__config_check_content_type(char *v)
{
    const char *slash = strchr(v, '/');
    if (!slash || slash == v || !slash[1]) return "expected a media type such as \"text/csv\"";
    for (char *p = v; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!(islower(ch) || isdigit(ch) || strchr("/.+-_", ch)))
            return "a media type is lower-case letters, digits and '/', '.', '+', '-', '_' "
                   "(no parameters such as charset)";
    }
    return NULL;
}

/* "type/subtype" as above, or a range ("image/" and a star) for every subtype. */
const char *moat__config_check_media_range(char *v)
{
    size_t n = strlen(v);
    if (n > 2 && strcmp(v + n - 2, "/*") == 0) {
        v[n - 1] = 'x';
        const char *err = moat__config_check_content_type(v);
        v[n - 1] = '*';
        return err ? "expected a media type (\"application/pdf\") or a type's range (\"image/*\")"
                   : NULL;
    }
    return moat__config_check_content_type(v);
}

const char *moat__config_check_route(char *v)
{
    return moat_route_check(v);
}

/* A parameter name as waf.text_fields names it: letters, digits, '_', '-'
 * (it becomes part of a regular expression in the generated rules). */
const char *moat__config_check_param_name(char *v)
{
    if (!*v) return "must not be empty";
    if (strlen(v) > 64) return "must be at most 64 characters";
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (!(isalnum(*p) || *p == '_' || *p == '-'))
            return "a parameter name is letters, digits, '_' and '-' (the last part of a JSON "
                   "member's path, without dots)";
    return NULL;
}

const char *moat__config_check_rule_set(char *v)
{
    static const char *const sets[] = {"php", "932140", "932150", "920350"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(sets); i++)
        if (strcmp(v, sets[i]) == 0) return NULL;
    return "expected \"php\", \"932140\", \"932150\" or \"920350\" (the rules moat leaves out)";
}

const char *moat__config_check_path_prefix(char *v)
{
    if (v[0] != '/') return "must be a path prefix starting with '/'";
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#')
            return "must be a path without spaces, control characters, '?' or '#'";
    return NULL;
}

const char *moat__config_check_glob(char *v)
{
    if (!*v) return "must not be empty (an empty glob matches nothing)";
    for (const char *p = v; *p; p++) {
        if (*p == '\\') {
            if (!p[1]) return "ends with a lone '\\' (escape nothing, or write '\\\\')";
            p++;
        } else if (*p == '[') {
            /* a class: '!' or '^' and a first ']' are members, then up to ']' */
            const char *q = p + 1;
            if (*q == '!' || *q == '^') q++;
            if (*q == ']') q++;
            while (*q && *q != ']')
                q++;
            if (!*q) return "has a '[' without its ']' (write '[[]' for a literal '[')";
            p = q;
        }
    }
    return NULL;
}

const char *moat__config_check_header_value(char *v)
{
    /* A header value reaches the wire as written: a line break would start
     * a new header (response splitting). */
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return "must not contain line breaks or control characters";
    return NULL;
}

const char *moat__config_check_account(char *v)
{
    /* What useradd/groupadd accept (Debian's NAME_REGEX, plus upper case). */
    if (!v[0] || v[0] == '-') return "must be a user or group name";
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return "must be a user or group name (letters, digits, '_', '-', '.')";
    if (strlen(v) > 32) return "must be a user or group name of at most 32 characters";
    return NULL;
}

/* ---- Content-Security-Policy ------------------------------------------------ */

/* CSP Level 3 (and the directives browsers still act on). */
static const char *const csp_directives[] = {"default-src",
                                             "script-src",
                                             "script-src-elem",
                                             "script-src-attr",
                                             "style-src",
                                             "style-src-elem",
                                             "style-src-attr",
                                             "img-src",
                                             "font-src",
                                             "connect-src",
                                             "media-src",
                                             "object-src",
                                             "frame-src",
                                             "child-src",
                                             "worker-src",
                                             "manifest-src",
                                             "prefetch-src",
                                             "fenced-frame-src",
                                             "base-uri",
                                             "form-action",
                                             "frame-ancestors",
                                             "navigate-to",
                                             "sandbox",
                                             "plugin-types",
                                             "report-uri",
                                             "report-to",
                                             "upgrade-insecure-requests",
                                             "block-all-mixed-content",
                                             "require-trusted-types-for",
                                             "trusted-types",
                                             "require-sri-for",
                                             "webrtc"};

static const char *const csp_keywords[] = {"'self'",
                                           "'none'",
                                           "'unsafe-inline'",
                                           "'unsafe-eval'",
                                           "'strict-dynamic'",
                                           "'unsafe-hashes'",
                                           "'report-sample'",
                                           "'unsafe-allow-redirects'",
                                           "'wasm-unsafe-eval'",
                                           "'inline-speculation-rules'"};

static _Thread_local char csp_why[320];

static const char *csp_fail(const char *fmt, const char *a, size_t alen, const char *b)
{
    snprintf(csp_why, sizeof(csp_why), fmt, (int)(alen > 60 ? 60 : alen), a, b ? b : "");
    return csp_why;
}

static bool is_source_directive(const char *name, size_t n)
{
    return (n > 4 && memcmp(name + n - 4, "-src", 4) == 0) ||
           (n > 9 && memcmp(name + n - 9, "-src-elem", 9) == 0) ||
           (n > 9 && memcmp(name + n - 9, "-src-attr", 9) == 0) ||
           (n == 8 && memcmp(name, "base-uri", 8) == 0) ||
           (n == 11 && memcmp(name, "form-action", 11) == 0) ||
           (n == 15 && memcmp(name, "frame-ancestors", 15) == 0);
}

static bool b64_token(const char *p, size_t n)
{
    size_t i = 0;
    for (; i < n && (isalnum((unsigned char)p[i]) || strchr("+/-_", p[i])); i++) {
    }
    if (i == 0) return false;
    for (; i < n && p[i] == '='; i++) {
    }
    return i == n;
}

/* One source expression: a quoted keyword, nonce or hash, a scheme
 * ("https:"), or a host source ("*.example.com:443/path", "*"). */
static const char *csp_source(const char *t, size_t n, const char *dir, size_t dn)
{
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)(dn < 63 ? dn : 63), dir);
    if (t[0] == '\'') {
        if (n < 3 || t[n - 1] != '\'')
            return csp_fail("%.*s in %s: a quoted keyword needs its closing quote", t, n, name);
        for (size_t i = 0; i < MOAT_ARRAY_LEN(csp_keywords); i++)
            if (strlen(csp_keywords[i]) == n && strncasecmp(t, csp_keywords[i], n) == 0)
                return NULL;
        if (n > 8 && strncasecmp(t, "'nonce-", 7) == 0 && b64_token(t + 7, n - 8)) return NULL;
        if (n > 9 &&
            (strncasecmp(t, "'sha256-", 8) == 0 || strncasecmp(t, "'sha384-", 8) == 0 ||
             strncasecmp(t, "'sha512-", 8) == 0) &&
            b64_token(t + 8, n - 9))
            return NULL;
        return csp_fail("unknown keyword %.*s in %s (expected 'self', 'none', 'unsafe-inline', "
                        "'strict-dynamic', 'nonce-...', 'sha256-...', ...)",
                        t, n, name);
    }
    static const char *const bare[] = {
        "self",           "none",          "unsafe-inline", "unsafe-eval",
        "strict-dynamic", "unsafe-hashes", "report-sample", "wasm-unsafe-eval"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(bare); i++)
        if (strlen(bare[i]) == n && strncasecmp(t, bare[i], n) == 0)
            return csp_fail("'%.*s' in %s is a host name without quotes: keywords need single "
                            "quotes, as in 'self'",
                            t, n, name);
    for (size_t i = 0; i < MOAT_ARRAY_LEN(csp_directives); i++)
        if (strlen(csp_directives[i]) == n && strncasecmp(t, csp_directives[i], n) == 0)
            return csp_fail("'%.*s' in %s is a directive name: end each directive with ';', as "
                            "in \"default-src 'self'; img-src data:\"",
                            t, n, name);
    /* scheme-source: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    size_t i = 0;
    if (isalpha((unsigned char)t[0])) {
        for (i = 1; i < n && (isalnum((unsigned char)t[i]) || strchr("+-.", t[i])); i++) {
        }
        if (i == n - 1 && t[i] == ':') return NULL;
        if (i + 2 < n && t[i] == ':' && t[i + 1] == '/' && t[i + 2] == '/')
            i += 3; /* scheme:// host... */
        else
            i = 0;
    }
    /* host-source: host-part [ ":" port ] [ path ] */
    size_t h = i;
    if (i < n && t[i] == '*') {
        i++;
        if (i < n && t[i] == '.')
            i++;
        else if (i < n && t[i] != ':' && t[i] != '/')
            return csp_fail("'%.*s' in %s: a wildcard host is '*' or '*.example.com'", t, n, name);
    }
    for (; i < n && (isalnum((unsigned char)t[i]) || t[i] == '-' || t[i] == '.'); i++) {
    }
    if (i == h || (i > h && t[i - 1] == '.' && t[h] != '*'))
        return csp_fail("'%.*s' in %s is not a source: expected a host (example.com, "
                        "*.example.com), a scheme (https:) or a quoted keyword ('self')",
                        t, n, name);
    if (i < n && t[i] == ':') {
        size_t p = ++i;
        if (i < n && t[i] == '*')
            i++;
        else
            for (; i < n && isdigit((unsigned char)t[i]); i++) {
            }
        if (i == p) return csp_fail("'%.*s' in %s: the port after ':' is missing", t, n, name);
    }
    if (i < n && t[i] != '/')
        return csp_fail("'%.*s' in %s is not a source: expected a host (example.com, "
                        "*.example.com), a scheme (https:) or a quoted keyword ('self')",
                        t, n, name);
    for (; i < n; i++)
        if (t[i] == '\'' || t[i] == '"' || t[i] == '\\')
            return csp_fail("'%.*s' in %s: quotes and backslashes do not belong in a path", t, n,
                            name);
    return NULL;
}

/* A policy as browsers parse it (CSP Level 3, "parse a serialized CSP"),
 * stricter where a browser would silently drop part of it: an unknown or
 * repeated directive, a source expression no browser understands, 'none'
 * beside other sources, a value where none is allowed. "" and "off" turn the
 * header off. A comma separates policies that are all enforced. */
const char *moat__config_check_csp(char *v)
{
    const char *bad = moat__config_check_header_value(v);
    if (bad) return bad;
    if (!v[0] || strcmp(v, "off") == 0) return NULL;
    const char *p = v;
    bool any = false;
    while (*p) {
        /* one policy, up to ',' */
        const char *end = p + strcspn(p, ",");
        char seen[MOAT_ARRAY_LEN(csp_directives)] = {0};
        const char *d = p;
        while (d < end) {
            const char *dend = d;
            while (dend < end && *dend != ';')
                dend++;
            while (d < dend && (*d == ' ' || *d == '\t'))
                d++;
            const char *name = d;
            while (d < dend && *d != ' ' && *d != '\t')
                d++;
            size_t nn = (size_t)(d - name);
            if (nn) {
                any = true;
                for (size_t i = 0; i < nn; i++)
                    if (!isalnum((unsigned char)name[i]) && name[i] != '-')
                        return csp_fail("'%.*s' is not a directive name (directives are separated "
                                        "by ';', as in \"default-src 'self'; img-src data:\")%s",
                                        name, nn, NULL);
                size_t k = 0;
                for (; k < MOAT_ARRAY_LEN(csp_directives); k++)
                    if (strlen(csp_directives[k]) == nn &&
                        strncasecmp(name, csp_directives[k], nn) == 0)
                        break;
                if (k == MOAT_ARRAY_LEN(csp_directives)) {
                    char got[64];
                    snprintf(got, sizeof(got), "%.*s", (int)(nn < 63 ? nn : 63), name);
                    const char *best = NULL;
                    size_t bestd = 3;
                    for (size_t j = 0; j < MOAT_ARRAY_LEN(csp_directives); j++) {
                        size_t dist = moat_edit_distance(got, csp_directives[j]);
                        if (dist < bestd) {
                            bestd = dist;
                            best = csp_directives[j];
                        }
                    }
                    if (best) {
                        char hint[96];
                        snprintf(hint, sizeof(hint), " (did you mean '%s'?)", best);
                        return csp_fail("unknown directive '%.*s'%s", name, nn, hint);
                    }
                    return csp_fail("unknown directive '%.*s'%s", name, nn, NULL);
                }
                if (seen[k])
                    return csp_fail("'%.*s' is given twice: browsers ignore the second "
                                    "(join the sources into one directive)%s",
                                    name, nn, NULL);
                seen[k] = 1;
                /* the value: whitespace-separated tokens */
                size_t ntok = 0;
                bool none = false;
                const char *t = d;
                while (t < dend) {
                    while (t < dend && (*t == ' ' || *t == '\t'))
                        t++;
                    const char *te = t;
                    while (te < dend && *te != ' ' && *te != '\t')
                        te++;
                    if (te == t) break;
                    size_t tn = (size_t)(te - t);
                    ntok++;
                    if (tn == 6 && strncasecmp(t, "'none'", 6) == 0) none = true;
                    if (is_source_directive(name, nn)) {
                        const char *why = csp_source(t, tn, name, nn);
                        if (why) return why;
                    } else if (strncasecmp(name, "upgrade-insecure-requests", nn) == 0 ||
                               strncasecmp(name, "block-all-mixed-content", nn) == 0) {
                        return csp_fail("'%.*s' takes no value%s", name, nn, NULL);
                    } else if (strncasecmp(name, "sandbox", nn) == 0 &&
                               (tn < 7 || strncasecmp(t, "allow-", 6) != 0)) {
                        return csp_fail("'%.*s' in sandbox: expected a flag such as "
                                        "allow-scripts or allow-forms%s",
                                        t, tn, NULL);
                    }
                    t = te;
                }
                if (none && ntok > 1)
                    return csp_fail("'none' in %.*s beside other sources: browsers ignore it "
                                    "there; write 'none' alone, or only the sources%s",
                                    name, nn, NULL);
                if (ntok == 0 && (strncasecmp(name, "report-uri", nn) == 0 ||
                                  strncasecmp(name, "report-to", nn) == 0))
                    return csp_fail("'%.*s' needs a value%s", name, nn, NULL);
            }
            d = dend < end ? dend + 1 : dend;
        }
        p = *end ? end + 1 : end;
    }
    if (!any) return "has no directive (\"\" turns the header off)";
    return NULL;
}
