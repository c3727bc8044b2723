/* cmd_waf.c - `moat waf tune LOG...`: the CRS false-positive tuning
 * workflow in one command. Reads security logs (written with waf.mode =
 * "detect", or blocked traffic known to be legitimate), turns each
 * waf.detected / waf.blocked event into the narrowest waf.exclude entries
 * (moat_waf_suggest: rule ids + route + parameter), groups them by route
 * and parameter, counts the requests behind each and prints a [waf] TOML
 * snippet, narrowest first. It proposes; a person decides: nothing is
 * written. The log is read as text; `moat log verify` checks its chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "core.h"
#include "seclog/seclog.h"
#include "waf/waf.h"

static const char usage_waf[] =
    "usage: moat waf tune LOG...\n"
    "\n"
    "tune    reads security logs written in detect mode (waf.mode = \"detect\") and prints\n"
    "        the waf.exclude entries that would let the matched requests through, grouped\n"
    "        by route and parameter, counted, narrowest first, as TOML to paste into\n"
    "        moat.toml. Review each: an entry is right only for legitimate traffic.\n";

typedef struct proposal {
    char *route_target; /* "ROUTE\tTARGET" (TARGET may be empty) */
    moat_buf ids;       /* " ID ID" */
    size_t count;
    char example[160]; /* method, path and request id of one request */
} proposal;

typedef struct tune {
    proposal *p;
    size_t n, cap;
    size_t events, over_limit, other;
    moat_buf text; /* " NAME NAME": parameters that look like text fields */
} tune;

/* Appends " word" to b ("" or " W W ...") unless it holds it already. */
static void add_once(moat_buf *b, const char *word)
{
    char *have = moat_xasprintf("%s ", b->data ? b->data : "");
    char *needle = moat_xasprintf(" %s ", word);
    if (!strstr(have, needle)) moat_buf_printf(b, " %s", word);
    free(have);
    free(needle);
}

static void add_entry(tune *t, const char *entry, const char *example)
{
    /* entry: "ROUTE ID... [TARGET]"; the target is the last word when it
     * has a ':' */
    char *copy = moat_xstrdup(entry);
    char *sp = strchr(copy, ' ');
    if (!sp) {
        free(copy);
        return;
    }
    *sp = '\0';
    char *rest = sp + 1;
    char *last = strrchr(rest, ' ');
    const char *target = "";
    char *lastword = last ? last + 1 : rest;
    if (strchr(lastword, ':')) {
        target = lastword;
        if (last)
            *last = '\0';
        else
            rest = (char *)"";
    }
    char *key = moat_xasprintf("%s\t%s", copy, target);
    size_t i = 0;
    while (i < t->n && strcmp(t->p[i].route_target, key) != 0)
        i++;
    if (i == t->n) {
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 16;
            t->p = moat_xrealloc(t->p, t->cap * sizeof(*t->p));
        }
        memset(&t->p[i], 0, sizeof(t->p[i]));
        t->p[i].route_target = key;
        moat_buf_init(&t->p[i].ids);
        snprintf(t->p[i].example, sizeof(t->p[i].example), "%s", example);
        t->n++;
    } else {
        free(key);
    }
    proposal *p = &t->p[i];
    p->count++;
    for (char *id = rest, *next; id && *id; id = next) {
        next = strchr(id, ' ');
        if (next) *next++ = '\0';
        add_once(&p->ids, id);
    }
    free(copy);
}

static void read_log(tune *t, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);
        moat_seclog_entry e;
        if (ll && memmem(p, ll, "\"waf.", 5) && moat_seclog_entry_parse(p, ll, &e) == 0) {
            const char *ev = moat_seclog_entry_get(&e, "event");
            const char *key = moat_seclog_entry_get(&e, "config_key");
            if (ev && (strcmp(ev, "waf.detected") == 0 || strcmp(ev, "waf.blocked") == 0)) {
                t->events++;
                const char *path = moat_seclog_entry_get(&e, "path");
                const char *method = moat_seclog_entry_get(&e, "method");
                const char *rid = moat_seclog_entry_get(&e, "request_id");
                moat_buf out;
                moat_buf_init(&out);
                size_t n = 0;
                if (key && strcmp(key, "waf.over_limit") == 0)
                    t->over_limit++;
                else
                    n = moat_waf_suggest(path, moat_seclog_entry_get(&e, "rule"),
                                         moat_seclog_entry_get(&e, "targets"), &out);
                if (!n && !(key && strcmp(key, "waf.over_limit") == 0)) t->other++;
                moat_buf name;
                moat_buf_init(&name);
                if (n && moat_waf_suggest_text_field(moat_seclog_entry_get(&e, "rule"),
                                                     moat_seclog_entry_get(&e, "targets"), &name)) {
                    add_once(&t->text, name.data);
                }
                moat_buf_free(&name);
                char example[160];
                snprintf(example, sizeof(example), "%s %.100s, request %s", method ? method : "?",
                         path ? path : "?", rid ? rid : "?");
                for (char *l = out.data, *nl; n && l && *l; l = nl) {
                    nl = strchr(l, '\n');
                    if (nl) *nl++ = '\0';
                    add_entry(t, l, example);
                }
                moat_buf_free(&out);
            }
            moat_seclog_entry_free(&e);
        }
        p = eol ? eol + 1 : end;
    }
}

/* Narrowest first: a parameter named before none; then a longer route
 * (more literal text) before a shorter; then the most requests. */
static int cmp_proposal(const void *a, const void *b)
{
    const proposal *x = a, *y = b;
    bool xt = strchr(x->route_target, '\t')[1] != '\0';
    bool yt = strchr(y->route_target, '\t')[1] != '\0';
    if (xt != yt) return xt ? -1 : 1;
    size_t xl = (size_t)(strchr(x->route_target, '\t') - x->route_target);
    size_t yl = (size_t)(strchr(y->route_target, '\t') - y->route_target);
    if (xl != yl) return xl > yl ? -1 : 1;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->route_target, y->route_target);
}

static void put_toml_string(const char *s)
{
    moat_buf q;
    moat_buf_init(&q);
    moat_buf_put_json_string(&q, s, strlen(s));
    fputs(q.data, stdout);
    moat_buf_free(&q);
}

static int cmd_tune(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_waf, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    tune t = {0};
    for (int i = 1; i < argc; i++) {
        char *data = NULL;
        size_t len = 0;
        int rc = moat_read_file(argv[i], &data, &len);
        if (rc < 0) {
            fprintf(stderr, "moat waf tune: %s: %s\n", argv[i], moat_strerror(rc));
            for (size_t k = 0; k < t.n; k++) {
                free(t.p[k].route_target);
                moat_buf_free(&t.p[k].ids);
            }
            free(t.p);
            moat_buf_free(&t.text);
            return 2;
        }
        read_log(&t, data, len);
        free(data);
    }
    if (t.n) qsort(t.p, t.n, sizeof(*t.p), cmp_proposal);
    printf("# moat waf tune: %zu WAF events, %zu proposed exclusions (narrowest first).\n"
           "# Keep an entry only if the requests behind it were legitimate traffic.\n",
           t.events, t.n);
    if (t.over_limit)
        printf("# %zu requests were refused for a body over waf.inspect_bytes (no rule matched):\n"
               "# raise waf.inspect_bytes, or set waf.over_limit = \"pass\".\n",
               t.over_limit);
    if (t.other)
        printf("# %zu events name no rule an exclusion could switch off (a body that does not\n"
               "# parse as its Content-Type says, or the engine failing): fix the client.\n",
               t.other);
    if (t.text.len) {
        /* every rule that matched in these parameters is one text fields
         * switch off: offered as the alternative to their entries */
        moat_config *def = moat_config_default();
        printf("# Only the rules that waf.text_fields switches off matched in:%s.\n"
               "# If they hold text people write (posts, comments, markdown, HTML from an\n"
               "# editor), make them text fields instead of excluding them (docs/waf.md,\n"
               "# \"Text fields\"): in [waf],\n#   text_fields = [",
               t.text.data);
        for (size_t i = 0; def && i < def->waf.text_fields.len; i++)
            printf("\"%s\", ", def->waf.text_fields.items[i]);
        for (char *w = t.text.data + 1, *sp; w && *w; w = sp) {
            sp = strchr(w, ' ');
            if (sp) *sp++ = '\0';
            printf("\"%s\"%s", w, sp ? ", " : "");
        }
        printf("]\n");
        moat_config_free(def);
    }
    if (t.n) {
        printf("[waf]\nexclude = [\n");
        for (size_t i = 0; i < t.n; i++) {
            proposal *p = &t.p[i];
            char *tab = strchr(p->route_target, '\t');
            *tab = '\0';
            const char *target = tab + 1;
            printf("    # %zu request%s, e.g. ", p->count, p->count == 1 ? "" : "s");
            moat_buf ex;
            moat_buf_init(&ex);
            moat_term_escape(&ex, p->example, strlen(p->example), 0);
            fputs(ex.data, stdout);
            moat_buf_free(&ex);
            printf("\n    ");
            char *entry =
                moat_xasprintf("%s%s%s%s", p->route_target, p->ids.data ? p->ids.data : "",
                               *target ? " " : "", target);
            put_toml_string(entry);
            printf(",\n");
            free(entry);
        }
        printf("]\n");
    }
    for (size_t k = 0; k < t.n; k++) {
        free(t.p[k].route_target);
        moat_buf_free(&t.p[k].ids);
    }
    free(t.p);
    moat_buf_free(&t.text);
    return 0;
}

int moat_cmd_waf(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_waf, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "tune") == 0) return cmd_tune(argc - 1, argv + 1);
    fprintf(stderr, "moat waf: unknown command '%s'\n%s", argv[1], usage_waf);
    return 2;
}
