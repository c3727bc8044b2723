/* cmd_store.c - `moat store migrate | copy`: bring the stores' schemas to
 * this moat's version, and move every user from one users store to another
 * (SQLite to PostgreSQL and back). Argument handling, the all-or-nothing
 * logic of a copy and printing; reading and writing are the backends'
 * (src/store/backend.h). URLs are printed with their password cut out. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cmd.h"
#include "config/config.h"
#include "core.h"
#include "store/backend.h"
#include "store/store_config.h" /* MOAT_HAVE_PG */
#ifdef MOAT_HAVE_PG
#include "store/pg.h"
#endif

static const char usage_store[] =
    "usage: moat store migrate [URL...] [--config FILE]\n"
    "       moat store copy FROM TO\n"
    "\n"
    "migrate  brings the schema of each store to this moat's version and prints the\n"
    "         version before and after: the URLs named, or else the stores of the\n"
    "         configuration ([store]). A PostgreSQL store is only ever changed by this\n"
    "         command: moat refuses to use one whose schema is missing or older, and\n"
    "         says to run it. An SQLite store is brought up to date when opened.\n"
    "         Safe to run again, and from two machines at once.\n"
    "copy     copies every user of the users store FROM into TO (each \"sqlite:PATH\"\n"
    "         or \"postgresql://...\"): password hash, roles, administrator's lock, TOTP\n"
    "         secret, unused recovery codes and tokens. Sessions, lockout counters and\n"
    "         TOTP replay marks are state, not copied. The whole copy or nothing: it is\n"
    "         refused, with nothing written, when a name of FROM is taken in TO, and\n"
    "         when a write fails halfway the users already written are removed again.\n"
    "         TO must exist and be migrated (a new SQLite file is created).\n"
    "\n"
    "  -c, --config FILE  moat.toml, or pyproject.toml with [tool.moat] ([store])\n"
    "  -h, --help         this help\n"
    "\n"
    "A PostgreSQL URL is a libpq URI: postgresql://USER:PASSWORD@HOST:PORT/DB, with\n"
    "?sslmode=verify-full&sslrootcert=FILE for TLS and host1:port1,host2:port2 with\n"
    "&target_session_attrs=read-write for a primary among replicas.\n";

static moat_arena *out_arena;

/* s escaped for the terminal (a URL or name from argv, a config or a store). */
static const char *T(const char *s)
{
    if (!out_arena) out_arena = moat_arena_new();
    return moat_term_str(out_arena, s);
}

/* One users store opened by URL, whatever its kind. */
typedef struct end {
    const moat__backend_ops *ops;
    moat__backend *b;
    const char *url;
    const char *shown; /* the URL without its password */
} end;

static bool is_sqlite(const char *url)
{
    return strncmp(url, "sqlite:", 7) == 0;
}

static bool is_pg(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

/* Opens url's users backend; migrate: a PostgreSQL schema of any version.
 * 0, or an exit status with the reason printed. */
static int open_end(const char *what, const char *url, bool migrate, bool must_exist, end *e)
{
    memset(e, 0, sizeof(*e));
    e->url = e->shown = url;
    char *err = NULL;
    int rc;
    if (is_sqlite(url)) {
        struct stat st;
        if (must_exist && url[7] && lstat(url + 7, &st) < 0 && errno == ENOENT) {
            fprintf(stderr, "moat store %s: %s: no such store file\n", what, T(url + 7));
            return 1;
        }
        e->ops = &moat__sqlite_ops;
        rc = moat__sqlite_open(url, false, &e->b, &err);
    } else if (is_pg(url)) {
#ifdef MOAT_HAVE_PG
        e->ops = &moat__pg_ops;
        rc = migrate ? moat__pg_open_migrate(url, &e->b, &err) : moat__pg_open(url, &e->b, &err);
        if (rc == 0) e->shown = moat__pg_shown(e->b);
#else
        fprintf(stderr, "moat store %s: postgresql:// support is not built in this moat\n", what);
        return 1;
#endif
    } else {
        fprintf(stderr,
                "moat store %s: a users store is \"sqlite:PATH\" or \"postgresql://...\" "
                "(a Redis state store holds no users and needs no migration)\n",
                what);
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "moat store %s: %s\n", what, T(err ? err : moat_strerror(rc)));
        free(err);
        return 1;
    }
    return 0;
}

static void close_end(end *e)
{
    if (e->b) e->ops->close(e->b);
    e->b = NULL;
}

/* ---- migrate ---------------------------------------------------------------- */

static int migrate_one(const char *url)
{
    if (strncmp(url, "redis://", 8) == 0 || strncmp(url, "rediss://", 9) == 0) {
        printf("%s: Redis keeps no schema: nothing to migrate\n", T(url));
        return 0;
    }
    end e;
    int status = open_end("migrate", url, true, false, &e);
    if (status) return status;
    int from = 0, to = 0;
    int rc = e.ops->migrate(e.b, &from, &to);
    if (rc == 0 && from == to)
        printf("%s: schema version %d, up to date\n", T(e.shown), to);
    else if (rc == 0)
        printf("%s: schema version %d -> %d\n", T(e.shown), from, to);
    else if (rc == MOAT_EINVAL && from > to)
        fprintf(stderr,
                "moat store migrate: %s: schema version %d is from a newer moat (this one "
                "knows version %d): not changed\n",
                T(e.shown), from, to);
    else {
        char why[512] = "";
        e.ops->problem(e.b, why, sizeof(why));
        fprintf(stderr, "moat store migrate: %s: %s (nothing changed)\n", T(e.shown),
                T(why[0] ? why : moat_strerror(rc)));
    }
    close_end(&e);
    return rc == 0 ? 0 : 1;
}

/* The two roles' stores as configured (store.users and store.state, or
 * store.url for both). */
static const char *configured_users(const moat_config *cfg)
{
    return moat_config_store_users(cfg);
}

static const char *configured_state(const moat_config *cfg)
{
    return moat_config_store_state(cfg);
}

static int cmd_migrate(int nargs, char **args, const char *config)
{
    if (nargs > 0) {
        if (config) {
            fprintf(stderr, "moat store migrate: name URLs or --config, not both\n");
            return 2;
        }
        int status = 0;
        for (int i = 0; i < nargs; i++) {
            int s = migrate_one(args[i]);
            if (s > status) status = s;
        }
        return status;
    }
    moat_config_source src = {.path = config};
    moat_config *cfg = NULL;
    char *err = NULL;
    if (moat_config_load(&src, &cfg, &err) < 0) {
        fprintf(stderr, "moat store migrate: %s\n", T(err));
        free(err);
        return 2;
    }
    fprintf(stderr, "moat store migrate: the stores of %s\n",
            T(cfg->source ? cfg->source : "the default, no configuration file"));
    const char *users = configured_users(cfg), *state = configured_state(cfg);
    int status = migrate_one(users);
    if (strcmp(state, users) != 0) {
        int s = migrate_one(state);
        if (s > status) status = s;
    }
    moat_config_free(cfg);
    return status;
}

/* ---- copy ------------------------------------------------------------------- */

typedef struct copy_ctx {
    end *to;
    char **names; /* pass 1: names taken in TO; pass 2: names written */
    size_t n;
    size_t users, codes, tokens;
    int err;
} copy_ctx;

static void add_name(copy_ctx *c, const char *name)
{
    c->names = moat_xrealloc(c->names, (c->n + 1) * sizeof(char *));
    c->names[c->n++] = moat_xstrdup(name);
}

static int check_one(const moat__user_export *row, void *arg)
{
    copy_ctx *c = arg;
    moat_user u;
    int rc = c->to->ops->user_get(c->to->b, row->user->name, &u);
    if (rc == 0) {
        add_name(c, row->user->name);
        moat_user_clear(&u);
    } else if (rc != MOAT_ENOENT) {
        c->err = rc;
        return 1;
    }
    c->users++;
    return 0;
}

static int copy_one(const moat__user_export *row, void *arg)
{
    copy_ctx *c = arg;
    int rc = c->to->ops->import_user(c->to->b, row);
    if (rc < 0) {
        c->err = rc;
        fprintf(stderr, "moat store copy: user %s: %s\n", T(row->user->name),
                rc == MOAT_EINVAL
                    ? "its name or one of its tokens is taken in TO, or its name is not valid"
                    : moat_strerror(rc));
        return 1;
    }
    add_name(c, row->user->name);
    c->codes += row->nrecovery;
    c->tokens += row->ntokens;
    return 0;
}

static void free_names(copy_ctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->names[i]);
    free(c->names);
    c->names = NULL;
    c->n = 0;
}

static void print_problem(const char *what, end *e, int rc)
{
    char why[512] = "";
    e->ops->problem(e->b, why, sizeof(why));
    fprintf(stderr, "moat store copy: %s %s: %s\n", what, T(e->shown),
            T(why[0] ? why : moat_strerror(rc)));
}

static int cmd_copy(int nargs, char **args)
{
    if (nargs != 2) {
        fprintf(stderr, "moat store copy: name the store to copy FROM and the store TO\n%s",
                usage_store);
        return 2;
    }
    if (strcmp(args[0], args[1]) == 0) {
        fprintf(stderr, "moat store copy: FROM and TO are the same store\n");
        return 2;
    }
    end from, to;
    int status = open_end("copy", args[0], false, true, &from);
    if (status) return status;
    status = open_end("copy", args[1], false, false, &to);
    if (status) {
        close_end(&from);
        return status;
    }
    /* Pass 1: nothing is written unless every name is free in TO. */
    copy_ctx c = {.to = &to};
    int rc = from.ops->export_users(from.b, check_one, &c);
    if (rc < 0 || c.err) {
        if (c.err)
            print_problem("reading", &to, c.err);
        else
            print_problem("reading", &from, rc);
        status = 1;
    } else if (c.n > 0) {
        fprintf(stderr, "moat store copy: %s already has %zu of the users of %s:", T(to.shown), c.n,
                T(from.shown));
        for (size_t i = 0; i < c.n; i++)
            fprintf(stderr, "%s %s", i ? "," : "", T(c.names[i]));
        fprintf(stderr, "\nmoat store copy: nothing copied\n");
        status = 1;
    }
    free_names(&c);
    if (status == 0) {
        /* Pass 2: one transaction per user; on a failure, undo the ones written. */
        c = (copy_ctx){.to = &to};
        rc = from.ops->export_users(from.b, copy_one, &c);
        if (rc < 0 || c.err) {
            if (rc < 0 && !c.err) print_problem("reading", &from, rc);
            size_t undone = 0;
            for (size_t i = 0; i < c.n; i++)
                if (to.ops->user_del(to.b, c.names[i], NULL) == 0) undone++;
            fprintf(stderr,
                    "moat store copy: %s; %zu of the %zu users written were removed "
                    "again\n",
                    undone == c.n ? "nothing copied" : "the copy is INCOMPLETE", undone, c.n);
            status = 1;
        } else {
            printf("%zu users (%zu unused recovery codes, %zu tokens) copied from %s to %s\n", c.n,
                   c.codes, c.tokens, T(from.shown), T(to.shown));
        }
        free_names(&c);
    }
    close_end(&to);
    close_end(&from);
    return status;
}

int moat_cmd_store(int argc, char **argv)
{
    static const char *const subs[] = {"migrate", "copy", NULL};
    const char *sub, *config;
    int front = moat_cli_sub_config(argc, argv, "store", usage_store, subs, &sub, &config);
    if (front >= 0) return front;
    bool migrate = strcmp(sub, "migrate") == 0;
    if (!migrate && config) {
        fprintf(stderr, "moat store copy: takes two URLs, not --config\n");
        return 2;
    }
    int status = migrate ? cmd_migrate(argc - optind, argv + optind, config)
                         : cmd_copy(argc - optind, argv + optind);
    moat_arena_free(out_arena);
    out_arena = NULL;
    return status;
}
