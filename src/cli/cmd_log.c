/* cmd_log.c - `moat log init | verify | why`: creating the sealing key and
 * showing the verification key once, verifying log files (found in folders,
 * mapped read-only, handed to the seclog verifier), and explaining in plain
 * words every event of one request with the settings that decide it. The
 * log format and the checks themselves belong to src/seclog. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "config/config.h"
#include "core.h"
#include "seclog/seclog.h"
#include "waf/waf.h"

static const char usage_log[] =
    "usage: moat log init [--config FILE] [--force]\n"
    "       moat log verify FILE|DIR... --key KEY [--anchor SEQ:MAC]\n"
    "       moat log why REQUEST_ID [--config FILE] [--file LOG]\n"
    "\n"
    "init    creates the sealing key ([log] seal_key) and prints the verification key once\n"
    "verify  checks that no entry of the security log was changed, inserted, deleted,\n"
    "        duplicated or reordered; exit status 0 intact, 1 tampered, 2 cannot check\n"
    "why     explains every security event of one request: which stage refused it, why,\n"
    "        and the setting that would change it\n"
    "\n"
    "Run 'moat log COMMAND --help' for the options of each.\n";

static const char usage_init[] =
    "usage: moat log init [--config FILE] [--force]\n"
    "\n"
    "Creates the sealing key file named by [log] seal_key (mode 0600) and prints the\n"
    "verification key. The verification key is shown this once and stored nowhere:\n"
    "keep it off this machine (a password manager, paper). With it, 'moat log verify'\n"
    "proves the log was not rewritten, even by someone who later takes the machine.\n"
    "\n"
    "  -c, --config FILE  moat.toml, or pyproject.toml with [tool.moat]\n"
    "  -f, --force        replace an existing key file (stop moat first; older logs\n"
    "                     stay verifiable with the old verification key only)\n"
    "  -h, --help         this help\n";

static const char usage_verify[] =
    "usage: moat log verify FILE|DIR... [--key KEY | --key-file FILE] [--anchor SEQ:MAC]\n"
    "\n"
    "Verifies the security log: every entry's MAC (or hash, for an unsealed log), its\n"
    "sequence number and epoch, and the links between rotated files, which may be given\n"
    "in any order (a folder stands for the log files in it). Exit status 0 and 'OK' when\n"
    "intact; 1 naming the first line changed, inserted, deleted, duplicated or reordered,\n"
    "a missing file, or a wrong key; 2 when it cannot check (unreadable file, bad key).\n"
    "\n"
    "  -k, --key KEY        the verification key 'moat log init' printed (- reads stdin)\n"
    "      --key-file FILE  read the verification key from FILE\n"
    "  -a, --anchor SEQ:MAC an anchor an earlier verify printed: fails if the log was cut\n"
    "                       or rewritten up to that entry\n"
    "  -q, --quiet          print only the verdict line\n"
    "  -h, --help           this help\n";

static const char usage_why[] =
    "usage: moat log why REQUEST_ID [--config FILE] [--file LOG]...\n"
    "\n"
    "Prints, in plain words, every security event of the request: what happened, which\n"
    "stage refused it and why, and the setting that would change it with its current\n"
    "value. The request id is on the error page the client saw and in the access log.\n"
    "\n"
    "  -c, --config FILE  the config moat runs with (finds the log and shows values)\n"
    "  -f, --file LOG     read this log file instead (repeatable; rotated siblings of\n"
    "                     the configured log are read too)\n"
    "  -h, --help         this help\n";

/* ---- output ------------------------------------------------------------------
 * Log files hold what clients sent, and file names are whatever is on disk:
 * nothing from either reaches the terminal unescaped (moat_term_escape). */

static void put_term(FILE *f, const char *s, unsigned flags)
{
    moat_buf b;
    moat_buf_init(&b);
    moat_term_escape(&b, s, strlen(s), flags);
    fwrite(b.data, 1, b.len, f);
    moat_buf_free(&b);
}

/* "moat log: PATH: WHAT\n" on stderr. */
static void path_error(const char *prefix, const char *path, const char *what)
{
    fprintf(stderr, "%s: ", prefix);
    put_term(stderr, path, 0);
    fprintf(stderr, ": %s\n", what);
}

/* ---- init ------------------------------------------------------------------- */

static int load_config(const char *path, moat_config **cfg, const char *cmd)
{
    moat_config_source src = {.path = path};
    char *err = NULL;
    if (moat_config_load(&src, cfg, &err) < 0) {
        fprintf(stderr, "moat log %s: %s\n", cmd, err);
        free(err);
        return -1;
    }
    return 0;
}

static int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    bool force = false;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            fputs(usage_init, stdout);
            return 0;
        default:
            fputs(usage_init, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "moat log init: unexpected argument '%s'\n%s", argv[optind], usage_init);
        return 2;
    }
    moat_config *cfg = NULL;
    if (load_config(config, &cfg, "init") < 0) return 2;
    if (!cfg->log.seal_key || !cfg->log.seal_key[0]) {
        fprintf(stderr,
                "moat log init: [log] seal_key is not set in %s: add, for instance,\n\n"
                "    [log]\n    seal_key = \"/var/lib/moat/seal.key\"\n\n"
                "then run 'moat log init' again.\n",
                cfg->source ? cfg->source : "the configuration (none found)");
        moat_config_free(cfg);
        return 2;
    }
    char *vkey = NULL, *err = NULL;
    int rc = moat_seclog_keygen(cfg->log.seal_key, force, &vkey, &err);
    if (rc < 0) {
        fprintf(stderr, "moat log init: %s\n", err);
        free(err);
        moat_config_free(cfg);
        return 1;
    }
    printf("Sealing key written to %s (mode 0600). It evolves as moat runs; back it up "
           "nowhere.\n\n"
           "Verification key -- shown this once, stored nowhere. Keep it OFF this machine:\n\n"
           "    %s\n\n"
           "Check the security log with:\n\n"
           "    moat log verify %s --key %s\n",
           cfg->log.seal_key, vkey,
           cfg->log.security && cfg->log.security[0] && strcmp(cfg->log.security, "-") != 0
               ? cfg->log.security
               : "FILE",
           vkey);
    fflush(stdout);
    memset(vkey, 0, strlen(vkey));
    free(vkey);
    const char *mine[] = {cfg->log.seal_key, NULL};
    moat_cli_give(cfg, mine);
    moat_config_free(cfg);
    return 0;
}

/* ---- verify ------------------------------------------------------------------- */

typedef struct mapped {
    char *name;
    void *map;
    size_t len;
} mapped;

typedef struct mapped_list {
    mapped *items;
    size_t n, cap;
} mapped_list;

static int map_file(mapped_list *l, const char *path, bool quiet_if_not_log)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        path_error("moat log", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        path_error("moat log", path, "not a regular file");
        close(fd);
        return -1;
    }
    void *map = NULL;
    size_t len = (size_t)st.st_size;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            path_error("moat log", path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    close(fd);
    if (quiet_if_not_log && (len < 7 || memcmp(map, "{\"seq\":", 7) != 0)) {
        if (map) munmap(map, len);
        return 0;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->items = moat_xrealloc(l->items, l->cap * sizeof(mapped));
    }
    l->items[l->n].name = moat_xstrdup(path);
    l->items[l->n].map = map;
    l->items[l->n].len = len;
    l->n++;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A folder stands for the log files in it (those that start like one). */
static int map_path(mapped_list *l, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        path_error("moat log", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) return map_file(l, path, false);
    DIR *d = opendir(path);
    if (!d) {
        path_error("moat log", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            names = moat_xrealloc(names, cap * sizeof(char *));
        }
        names[n++] = moat_xasprintf("%s/%s", path, de->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof(char *), cmp_names);
    size_t before = l->n;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat fst;
        if (rc == 0 && stat(names[i], &fst) == 0 && S_ISREG(fst.st_mode))
            rc = map_file(l, names[i], true);
        free(names[i]);
    }
    free(names);
    if (rc == 0 && l->n == before) {
        path_error("moat log", path, "no security log files in this folder");
        return -1;
    }
    return rc;
}

static void unmap_all(mapped_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->items[i].map) munmap(l->items[i].map, l->items[i].len);
        free(l->items[i].name);
    }
    free(l->items);
}

static char *read_key_line(FILE *f)
{
    char buf[256];
    if (!fgets(buf, sizeof(buf), f)) return NULL;
    buf[strcspn(buf, "\r\n")] = '\0';
    char *k = moat_xstrdup(buf);
    memset(buf, 0, sizeof(buf));
    return k;
}

static int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},    {"key-file", required_argument, NULL, 'K'},
        {"anchor", required_argument, NULL, 'a'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    char *key = NULL;
    const char *anchor = NULL;
    bool quiet = false;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "k:a:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            free(key);
            key = strcmp(optarg, "-") == 0 ? read_key_line(stdin) : moat_xstrdup(optarg);
            if (!key) {
                fputs("moat log verify: no key on standard input\n", stderr);
                return 2;
            }
            break;
        case 'K': {
            FILE *f = fopen(optarg, "r");
            free(key);
            key = f ? read_key_line(f) : NULL;
            if (f) fclose(f);
            if (!key) {
                fprintf(stderr, "moat log verify: %s: cannot read a key: %s\n", optarg,
                        f ? "empty" : strerror(errno));
                return 2;
            }
            break;
        }
        case 'a':
            anchor = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(usage_verify, stdout);
            free(key);
            return 0;
        default:
            fputs(usage_verify, stderr);
            free(key);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "moat log verify: which log file(s)?\n%s", usage_verify);
        free(key);
        return 2;
    }
    mapped_list files = {0};
    int status = 2;
    for (int i = optind; i < argc; i++)
        if (map_path(&files, argv[i]) < 0) goto out;
    moat_seclog_input *in = moat_xcalloc(files.n, sizeof(*in));
    for (size_t i = 0; i < files.n; i++) {
        in[i].name = files.items[i].name;
        in[i].data = files.items[i].map ? files.items[i].map : "";
        in[i].len = files.items[i].len;
    }
    moat_seclog_verify_opts vo = {.key = key, .anchor = anchor};
    moat_seclog_verdict v;
    int rc = moat_seclog_verify(in, files.n, &vo, &v);
    if (rc < 0) {
        fputs("moat log verify: ", stderr);
        put_term(stderr, v.message ? v.message : "cannot verify", 0);
        fputc('\n', stderr);
        status = 2;
    } else if (v.ok) {
        put_term(stdout, v.message, 0);
        putchar('\n');
        if (!quiet && v.detail) put_term(stdout, v.detail, MOAT_TERM_TEXT);
        status = 0;
    } else {
        fputs("TAMPERED: ", stdout);
        put_term(stdout, v.message, 0);
        putchar('\n');
        status = 1;
    }
    moat_seclog_verdict_free(&v);
    free(in);
out:
    unmap_all(&files);
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    return status;
}

/* ---- why ----------------------------------------------------------------------- */

/* The value of a dotted key in the TOML the config dump prints, as text. */
static void toml_text(moat_buf *b, const moat_toml_value *v)
{
    switch (v->type) {
    case MOAT_TOML_STRING:
        moat_buf_putc(b, '"');
        moat_buf_append(b, v->u.str.ptr, v->u.str.len);
        moat_buf_putc(b, '"');
        break;
    case MOAT_TOML_INTEGER:
        moat_buf_printf(b, "%" PRId64, v->u.integer);
        break;
    case MOAT_TOML_BOOL:
        moat_buf_puts(b, v->u.boolean ? "true" : "false");
        break;
    case MOAT_TOML_ARRAY:
        moat_buf_putc(b, '[');
        for (size_t i = 0; i < v->u.array.len; i++) {
            if (i) moat_buf_puts(b, ", ");
            toml_text(b, v->u.array.items[i]);
        }
        moat_buf_putc(b, ']');
        break;
    default:
        moat_buf_puts(b, "...");
    }
}

static char *setting_value(const moat_config *cfg, const char *key)
{
    if (!cfg) return NULL;
    moat_buf dump;
    moat_buf_init(&dump);
    moat_config_dump(cfg, &dump);
    moat_toml_value *root = NULL;
    moat_toml_error terr;
    char *out = NULL;
    if (moat_toml_parse(dump.data ? dump.data : "", dump.len, &root, &terr) == 0) {
        const moat_toml_value *v = root;
        char *copy = moat_xstrdup(key);
        for (char *part = copy, *dot; v && part; part = dot ? dot + 1 : NULL) {
            dot = strchr(part, '.');
            if (dot) *dot = '\0';
            v = v->type == MOAT_TOML_TABLE ? moat_toml_get(v, part) : NULL;
        }
        free(copy);
        if (v) {
            moat_buf b;
            moat_buf_init(&b);
            toml_text(&b, v);
            out = moat_buf_steal(&b);
        }
        moat_toml_free(root);
    }
    moat_buf_free(&dump);
    return out;
}

typedef struct why_ctx {
    const char *id;
    const moat_config *cfg;
    moat_config *defaults;
    size_t found;
    size_t damaged; /* lines naming the request that do not parse */
} why_ctx;

/* Every value shown comes from the log, which holds what clients sent (user
 * names, paths, reports): each is escaped for the terminal (T). */
static void print_event(why_ctx *w, const moat_seclog_entry *e)
{
    moat_arena *a = moat_arena_new();
#define T(s) moat_term_str(a, (s))
    const char *ev = T(moat_seclog_entry_get(e, "event"));
    const char *sev = T(moat_seclog_entry_get(e, "severity"));
    const char *time = T(moat_seclog_entry_get(e, "time"));
    const char *stage = T(moat_seclog_entry_get(e, "stage"));
    const char *reason = T(moat_seclog_entry_get(e, "reason"));
    const char *rawkey = moat_seclog_entry_get(e, "config_key");
    const char *key = T(rawkey);
    const char *status = moat_seclog_entry_get(e, "status");
    const char *method = T(moat_seclog_entry_get(e, "method"));
    const char *path = T(moat_seclog_entry_get(e, "path"));
    const char *client = T(moat_seclog_entry_get(e, "client"));
    const char *user = T(moat_seclog_entry_get(e, "user"));
    const moat_seclog_event_info *info =
        moat_seclog_event_lookup(moat_seclog_entry_get(e, "event"));
    printf("\n%s  %s (%s)\n", time ? time : "?", ev ? ev : "?", sev ? sev : "?");
    const char *rawev = moat_seclog_entry_get(e, "event");
    bool waf_ev =
        rawev && (strcmp(rawev, "waf.blocked") == 0 || strcmp(rawev, "waf.detected") == 0);
    bool over_limit = waf_ev && rawkey && strcmp(rawkey, "waf.over_limit") == 0;
    if (over_limit)
        printf("  what happened:  the request body was larger than waf.inspect_bytes: the web "
               "application\n                  firewall refused it uninspected (no rule "
               "matched)\n");
    else if (info)
        printf("  what happened:  %s\n", info->summary);
    if (method || path || client || user) {
        printf("  the request:    %s %s", method ? method : "", path ? path : "");
        if (client) printf(" from %s", client);
        if (user) printf(" (user %s)", user);
        printf("\n");
    }
    long st = status ? strtol(status, NULL, 10) : 0;
    if (stage && st >= 400)
        printf("  refused:        with %ld, by the '%s' stage\n", st, stage);
    else if (st >= 400)
        printf("  refused:        with %ld\n", st);
    else if (stage)
        printf("  stage:          %s\n", stage);
    if (reason) printf("  why:            %s\n", reason);
    if (key) {
        /* An array of tables has no one value to show ([[limits.rate]]: the
         * entry is in the details). */
        bool array = strcmp(rawkey, "limits.rate") == 0;
        char *cur = array ? NULL : setting_value(w->cfg, rawkey);
        char *def = array ? NULL : setting_value(w->defaults, rawkey);
        printf("  setting:        %s", key);
        if (cur) {
            printf(" = %s", T(cur));
            if (def && strcmp(cur, def) == 0)
                printf(" (the default)");
            else if (def)
                printf(" (the default is %s)", T(def));
            if (w->cfg && w->cfg->source) printf(" in %s", T(w->cfg->source));
        }
        printf("\n                  changing it changes this outcome; see docs/configuration.md"
               "\n");
        free(cur);
        free(def);
    } else if (st >= 400) {
        printf("  setting:        none: moat refuses this whatever the configuration\n");
    }
    static const char *const shown[] = {"seq",      "epoch",      "mac",    "time",   "event",
                                        "severity", "request_id", "client", "user",   "method",
                                        "path",     "status",     "stage",  "reason", "config_key"};
    bool first = true;
    for (size_t i = 0; i < e->n; i++) {
        bool skip = false;
        for (size_t k = 0; k < MOAT_ARRAY_LEN(shown); k++)
            skip |= strcmp(e->names[i], shown[k]) == 0;
        if (skip) continue;
        printf("%s%s=%s", first ? "  details:        " : ", ", T(e->names[i]), T(e->values[i]));
        first = false;
    }
    if (!first) printf("\n");
    const char *rules = moat_seclog_entry_get(e, "rule");
    moat_buf fix;
    moat_buf_init(&fix);
    if (over_limit) {
        printf("  narrowest fix:  if bodies this large are expected, inspect more of them, or "
               "let the\n                  rest through uninspected (logged as "
               "waf.uninspected):\n"
               "                    [waf]\n"
               "                    inspect_bytes = \"8MiB\"   # or: over_limit = \"pass\"\n");
    } else if (waf_ev && rules &&
               moat_waf_suggest(moat_seclog_entry_get(e, "path"), rules,
                                moat_seclog_entry_get(e, "targets"), &fix) > 0) {
        printf("  narrowest fix:  if the request was legitimate, paste into moat.toml (these "
               "rules, this\n                  route, this parameter only):\n"
               "                    [waf]\n                    exclude = [");
        size_t k = 0;
        for (char *l = fix.data, *nl; l && *l; l = nl, k++) {
            nl = strchr(l, '\n');
            if (nl) *nl++ = '\0';
            moat_buf q;
            moat_buf_init(&q);
            moat_buf_put_json_string(&q, l, strlen(l));
            printf("%s%s", k ? ", " : "", T(q.data));
            moat_buf_free(&q);
        }
        printf("]\n");
        moat_buf name;
        moat_buf_init(&name);
        const moat_config *tc = w->cfg ? w->cfg : w->defaults;
        if (tc && moat_waf_suggest_text_field(rules, moat_seclog_entry_get(e, "targets"), &name)) {
            printf("                  or, if '%s' holds what people write (posts, comments, "
                   "markdown,\n                  HTML from an editor), make it a text field "
                   "(docs/waf.md,\n                  \"Text fields\"):\n"
                   "                    [waf]\n                    text_fields = [",
                   T(name.data));
            for (size_t i = 0; i < tc->waf.text_fields.len; i++)
                printf("\"%s\", ", T(tc->waf.text_fields.items[i]));
            printf("\"%s\"]\n", T(name.data));
        }
        moat_buf_free(&name);
    }
    if (rawev && strcmp(rawev, "rate.limited") == 0) {
        const char *rp = T(moat_seclog_entry_get(e, "rule_path"));
        printf("  narrowest fix:  if these requests were legitimate, raise 'requests' or 'burst' "
               "of the\n                  [[limits.rate]] entry with path = \"%s\", or narrow "
               "its path or methods\n",
               rp ? rp : "?");
    } else if (rawev && (strcmp(rawev, "ban.added") == 0 || strcmp(rawev, "ban.refused") == 0)) {
        printf("  narrowest fix:  'moat ban remove %s' lifts this ban at once; "
               "limits.ban_strikes and\n                  limits.ban_on decide which refusals "
               "ban\n",
               client ? client : "ADDRESS");
    }
    moat_buf_free(&fix);
#undef T
    moat_arena_free(a);
}

static int why_file(why_ctx *w, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    int rc = moat_read_file(path, &data, &len);
    if (rc < 0) {
        if (rc == MOAT_ENOENT) return 0;
        path_error("moat log why", path, moat_strerror(rc));
        return -1;
    }
    char *needle = moat_xasprintf("\"request_id\":\"%s\"", w->id);
    size_t nl = strlen(needle);
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (memmem(p, ll, needle, nl)) {
            moat_seclog_entry e;
            if (moat_seclog_entry_parse(p, ll, &e) == 0) {
                const char *rid = moat_seclog_entry_get(&e, "request_id");
                if (rid && strcmp(rid, w->id) == 0) {
                    if (w->found == 0) {
                        fputs("Request ", stdout);
                        put_term(stdout, w->id, 0);
                        fputs(":\n", stdout);
                    }
                    w->found++;
                    print_event(w, &e);
                }
                moat_seclog_entry_free(&e);
            } else {
                /* Never skip silently a line that names the request. */
                w->damaged++;
            }
        }
        p = eol ? eol + 1 : end;
    }
    free(needle);
    free(data);
    return 0;
}

/* The configured log's rotated siblings (oldest first), then the log. */
static char **log_files(const char *path, size_t *count)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? moat_xstrndup(path, (size_t)(slash - path + (slash == path))) : NULL;
    const char *base = slash ? slash + 1 : path;
    size_t bl = strlen(base);
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir ? dir : ".");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strncmp(de->d_name, base, bl) != 0 || de->d_name[bl] != '.' ||
                !(de->d_name[bl + 1] >= '0' && de->d_name[bl + 1] <= '9'))
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                names = moat_xrealloc(names, (cap + 1) * sizeof(char *));
            }
            names[n++] = dir ? moat_xasprintf("%s/%s", strcmp(dir, "/") ? dir : "", de->d_name)
                             : moat_xstrdup(de->d_name);
        }
        closedir(d);
    }
    if (n) qsort(names, n, sizeof(char *), cmp_names);
    names = moat_xrealloc(names, (n + 1) * sizeof(char *));
    names[n++] = moat_xstrdup(path);
    free(dir);
    *count = n;
    return names;
}

static int cmd_why(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"file", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    const char *files[64];
    size_t nfiles = 0;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "c:f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            if (nfiles == MOAT_ARRAY_LEN(files)) {
                fputs("moat log why: too many --file\n", stderr);
                return 2;
            }
            files[nfiles++] = optarg;
            break;
        case 'h':
            fputs(usage_why, stdout);
            return 0;
        default:
            fputs(usage_why, stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "moat log why: give one request id\n%s", usage_why);
        return 2;
    }
    why_ctx w = {.id = argv[optind]};
    for (const char *p = w.id; *p; p++) {
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) {
            fputs("moat log why: '", stderr);
            put_term(stderr, w.id, 0);
            fputs("' is not a request id\n", stderr);
            return 2;
        }
    }
    moat_config *cfg = NULL;
    if (config) {
        if (load_config(config, &cfg, "why") < 0) return 2;
    } else {
        moat_config_source src = {0};
        char *err = NULL;
        if (moat_config_load(&src, &cfg, &err) < 0) {
            free(err); /* no usable config here: explain without values */
            cfg = NULL;
        }
    }
    w.cfg = cfg;
    w.defaults = moat_config_default();
    int status = 1;
    moat_buf searched;
    moat_buf_init(&searched);
    if (nfiles) {
        for (size_t i = 0; i < nfiles; i++) {
            if (why_file(&w, files[i]) < 0) {
                status = 2;
                goto out;
            }
            moat_buf_printf(&searched, "%s%s", i ? ", " : "", files[i]);
        }
    } else {
        const char *sec = cfg ? cfg->log.security : NULL;
        if (!sec || !sec[0] || strcmp(sec, "-") == 0) {
            fprintf(stderr,
                    "moat log why: %s: give the log file with --file (and the config with "
                    "--config)\n",
                    !cfg ? "no configuration found here"
                    : !sec || !sec[0]
                        ? "the security log is off in this configuration ([log] security)"
                        : "this configuration sends the security log to standard output");
            status = 2;
            goto out;
        }
        size_t n;
        char **names = log_files(sec, &n);
        for (size_t i = 0; i < n; i++) {
            if (status != 2 && why_file(&w, names[i]) < 0) status = 2;
            free(names[i]);
        }
        free(names);
        if (status == 2) goto out;
        moat_buf_printf(&searched, "%s and its rotated files", sec);
    }
    if (w.damaged)
        printf("%s%zu line%s naming this request could not be read (damaged, or not a security "
               "log entry): check the log with 'moat log verify'.\n",
               w.found ? "\n" : "", w.damaged, w.damaged == 1 ? "" : "s");
    if (w.found == 0 && w.damaged == 0) {
        fputs("No security event for request ", stdout);
        put_term(stdout, w.id, 0);
        fputs(" in ", stdout);
        put_term(stdout, searched.data ? searched.data : "the log", 0);
        fputs(".\nA request moat let through without incident leaves none; look for it in the "
              "access log.\n",
              stdout);
        status = 1;
    } else {
        status = w.found ? 0 : 1;
    }
out:
    moat_buf_free(&searched);
    moat_config_free(cfg);
    moat_config_free(w.defaults);
    return status;
}

int moat_cmd_log(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_log, stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        fputs(usage_log, stdout);
        return 0;
    }
    if (strcmp(sub, "init") == 0) return cmd_init(argc - 1, argv + 1);
    if (strcmp(sub, "verify") == 0) return cmd_verify(argc - 1, argv + 1);
    if (strcmp(sub, "why") == 0) return cmd_why(argc - 1, argv + 1);
    fprintf(stderr, "moat log: unknown command '%s'\n\n%s", sub, usage_log);
    return 2;
}
