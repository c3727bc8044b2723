/* stage_paths.c - the deny-paths stage: normalises the request path (one
 * spelling for matching and for the app), refuses sensitive files and
 * folders (paths.deny, except paths.allow prefixes) and the Werkzeug
 * debugger's endpoints with 404, as if they did not exist. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The deny patterns, taken apart once per config: the shapes the list is
 * made of ("name", "*.ext", "prefix*") are compared directly, anything else
 * goes to fnmatch. This runs for every pattern and segment of every
 * request. */
typedef enum { PAT_EXACT, PAT_SUFFIX, PAT_PREFIX, PAT_GLOB } pat_kind;

typedef struct deny_pat {
    const char *text; /* the pattern as configured (borrowed from the config) */
    const char *lit;  /* the literal part compared (points into text) */
    size_t lit_len;
    char *glob; /* PAT_GLOB: the pattern without its trailing '/' (owned) */
    pat_kind kind;
    bool dir; /* ends in '/': matches only segments followed by more path */
} deny_pat;

/* paths.deny taken apart once per config. */
typedef struct paths_conf {
    deny_pat *deny;
    size_t ndeny;
} paths_conf;

static int paths_prepare(moat_runtime *rt, void **conf, char **err)
{
    (void)err;
    const moat_strlist *deny = &rt->cfg->paths.deny;
    paths_conf *pc = moat_xcalloc(1, sizeof(*pc));
    pc->deny = moat_xcalloc(deny->len ? deny->len : 1, sizeof(*pc->deny));
    pc->ndeny = deny->len;
    *conf = pc;
    for (size_t i = 0; i < deny->len; i++) {
        deny_pat *d = &pc->deny[i];
        const char *pat = deny->items[i];
        size_t pl = strlen(pat);
        d->text = pat;
        d->dir = pl && pat[pl - 1] == '/';
        if (d->dir) pl--;
        size_t wild = strcspn(pat, "*?[\\");
        if (wild >= pl) {
            d->kind = PAT_EXACT;
            d->lit = pat;
            d->lit_len = pl;
        } else if (wild == 0 && pat[0] == '*' && strcspn(pat + 1, "*?[\\") >= pl - 1) {
            d->kind = PAT_SUFFIX;
            d->lit = pat + 1;
            d->lit_len = pl - 1;
        } else if (wild == pl - 1 && pat[wild] == '*') {
            d->kind = PAT_PREFIX;
            d->lit = pat;
            d->lit_len = wild;
        } else {
            d->kind = PAT_GLOB;
            d->glob = moat_xstrndup(pat, pl);
        }
    }
    return 0;
}

static void paths_release(moat_runtime *rt, void *conf)
{
    (void)rt;
    paths_conf *pc = conf;
    if (!pc) return;
    for (size_t i = 0; i < pc->ndeny; i++)
        free(pc->deny[i].glob);
    free(pc->deny);
    free(pc);
}

/* Whether d matches the segment seg[0..n) (case-insensitively); a is for
 * the NUL-terminated copy fnmatch needs. */
static bool pat_match(const deny_pat *d, moat_arena *a, const char *seg, size_t n)
{
    switch (d->kind) {
    case PAT_EXACT:
        return moat_streq_nocase(d->lit, d->lit_len, seg, n);
    case PAT_SUFFIX:
        return n >= d->lit_len &&
               moat_streq_nocase(d->lit, d->lit_len, seg + n - d->lit_len, d->lit_len);
    case PAT_PREFIX:
        return n >= d->lit_len && moat_streq_nocase(d->lit, d->lit_len, seg, d->lit_len);
    case PAT_GLOB:
        return fnmatch(d->glob, moat_arena_strndup(a, seg, n), FNM_CASEFOLD) == 0;
    }
    return false;
}

/* Does one of the patterns match a segment of path? Returns its text. */
static const char *match_segment(moat_arena *a, const char *path, const paths_conf *pc)
{
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0) break;
        bool more = end && end[1] != '\0';
        for (size_t i = 0; i < pc->ndeny; i++) {
            const deny_pat *d = &pc->deny[i];
            if (d->dir && !more) continue;
            if (pat_match(d, a, p, n)) return d->text;
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
        moat__refuse(r, 400, "http.rejected", NULL, why);
        return MOAT_DONE;
    }
    const char *q = memchr(h->target, '?', h->target_len);
    if (is_debugger(r->arena, decoded, q)) {
        moat__refuse(r, 404, "path.denied", NULL, "Werkzeug debugger endpoint refused");
        return MOAT_DONE;
    }
    if (!allowed(decoded, &cfg->paths.allow)) {
        const char *pat = match_segment(r->arena, decoded, moat__conf(r->rt, &moat__stage_paths));
        if (pat) {
            r->error_reason = moat_arena_printf(r->arena, "path matches paths.deny '%s'", pat);
            moat__refuse(r, 404, "path.denied", "paths.deny", r->error_reason);
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
    .prepare = paths_prepare,
    .release = paths_release,
    .on_request_head = paths_head,
};
