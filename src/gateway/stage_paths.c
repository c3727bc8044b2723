/* stage_paths.c - the deny-paths stage: normalises the request path (one
 * spelling for matching and for the app), refuses sensitive files and
 * folders (paths.deny, except paths.allow prefixes) and the Werkzeug
 * debugger's endpoints with 404, as if they did not exist. */
#include <fnmatch.h>
#include <string.h>

#include "internal.h"

/* fnmatch(pat[0..pl), seg[0..n), FNM_CASEFOLD) == 0, with the shapes the
 * deny list is made of ("name", "*.ext", "prefix*") compared directly: this
 * runs for every pattern and segment of every request. */
static bool glob_match(const char *pat, size_t pl, const char *seg, size_t n)
{
    size_t wild = strcspn(pat, "*?[\\");
    if (wild >= pl) return moat_streq_nocase(pat, pl, seg, n);
    if (wild == 0 && pat[0] == '*' && strcspn(pat + 1, "*?[\\") >= pl - 1)
        return n >= pl - 1 && moat_streq_nocase(pat + 1, pl - 1, seg + n - (pl - 1), pl - 1);
    if (wild == pl - 1 && pat[wild] == '*')
        return n >= wild && moat_streq_nocase(pat, wild, seg, wild);
    char p[256];
    if (pl >= sizeof(p)) return false;
    memcpy(p, pat, pl);
    p[pl] = '\0';
    return fnmatch(p, seg, FNM_CASEFOLD) == 0; /* seg is NUL-terminated at n */
}

/* Does one of the patterns match a segment of path (case-insensitively)? A
 * pattern ending in '/' matches only segments followed by more path. */
static const char *match_segment(moat_arena *a, const char *path, const moat_strlist *deny)
{
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0) break;
        bool more = end && end[1] != '\0';
        char *seg = moat_arena_strndup(a, p, n);
        for (size_t i = 0; i < deny->len; i++) {
            const char *pat = deny->items[i];
            size_t pl = strlen(pat);
            if (pl && pat[pl - 1] == '/') {
                if (more && glob_match(pat, pl - 1, seg, n)) return pat;
            } else if (glob_match(pat, pl, seg, n)) {
                return pat;
            }
        }
        p += n;
    }
    return NULL;
}

static bool allowed(const char *path, const moat_strlist *allow)
{
    for (size_t i = 0; i < allow->len; i++)
        if (strncmp(path, allow->items[i], strlen(allow->items[i])) == 0) return true;
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The query as the app's form parser reads it: %XX and '+' decoded. */
static char *decode_query(moat_arena *a, const char *q)
{
    size_t n = strlen(q);
    char *out = moat_arena_alloc(a, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = i + 2 < n ? hexval(q[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(q[i + 2]) : -1;
        if (q[i] == '%' && hi >= 0 && lo >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = q[i] == '+' ? ' ' : q[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* The Werkzeug debugger answers "?__debugger__=yes&cmd=..." on any path and
 * serves its console at /console; both run code in the app's process. */
static bool is_debugger(moat_arena *a, const char *path, const char *query)
{
    if (strcmp(path, "/console") == 0) return true;
    if (strstr(path, "__debugger__")) return true;
    return query && strstr(decode_query(a, query), "__debugger__") != NULL;
}

static int paths_head(moat_request *r)
{
    moat_http_head *h = r->head;
    const moat_config *cfg = r->rt->cfg;
    char *decoded, *encoded;
    const char *why;
    if (moat_http_normalize_path(h->target, h->target_len, r->arena, &decoded, &encoded, &why) <
        0) {
        moat__refusal(r, "http.rejected", "deny-paths", NULL);
        moat__client_respond_error(r, 400, why);
        return MOAT_DONE;
    }
    const char *q = memchr(h->target, '?', h->target_len);
    if (is_debugger(r->arena, decoded, q)) {
        moat__refusal(r, "path.denied", "deny-paths", NULL);
        moat__client_respond_error(r, 404, "Werkzeug debugger endpoint refused");
        return MOAT_DONE;
    }
    if (!allowed(decoded, &cfg->paths.allow)) {
        const char *pat = match_segment(r->arena, decoded, &cfg->paths.deny);
        if (pat) {
            r->error_reason = moat_arena_printf(r->arena, "path matches paths.deny '%s'", pat);
            moat__refusal(r, "path.denied", "deny-paths", "paths.deny");
            moat__client_respond_error(r, 404, r->error_reason);
            return MOAT_DONE;
        }
    }
    h->target = encoded;
    h->target_len = strlen(encoded);
    r->path = decoded;
    return MOAT_PASS;
}

const moat_stage moat__stage_paths = {
    .name = "deny-paths",
    .on_request_head = paths_head,
};
