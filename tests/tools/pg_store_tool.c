/* pg_store_tool - drives the PostgreSQL users backend (src/store/postgres.c)
 * through its ops table against a real server, for
 * tests/integration/test_store_pg.py (which starts the server):
 *
 *   pg_store_tool ops URL URL2   every users-role op; URL2 is a second empty
 *                                migrated database (export/import). Prints
 *                                "ok NAME" per check; exit 1 at the first
 *                                failure, saying where.
 *   pg_store_tool open URL       opens it: "opened", or the message (exit 1).
 *   pg_store_tool watch URL      a backend that outlives the server: reads
 *                                commands on stdin, one a line: "get NAME"
 *                                prints "0 <id>" or "<rc> <problem()>".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "store/backend.h"

static const moat__backend_ops *ops = &moat__pg_ops;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);                      \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)
#define OK(name) printf("ok %s\n", name)

static moat__backend *open_or_die(const char *url)
{
    moat__backend *b = NULL;
    char *err = NULL;
    if (moat__pg_open(url, &b, &err) < 0) {
        fprintf(stderr, "FAILED open: %s\n", err ? err : "?");
        exit(1);
    }
    return b;
}

static int64_t id_of(moat__backend *b, const char *name)
{
    moat_user u;
    CHECK(ops->user_get(b, name, &u) == 0);
    int64_t id = u.id;
    moat_user_clear(&u);
    return id;
}

/* ---- concurrent ops: exactly one of N wins ------------------------------- */

typedef struct race {
    moat__backend *b;
    int64_t id;
    int which; /* 0 rehash, 1 recovery_use */
    int rc;
    pthread_barrier_t *bar;
} race;

static void *racer(void *arg)
{
    race *r = arg;
    pthread_barrier_wait(r->bar);
    if (r->which == 0)
        r->rc = ops->rehash(r->b, r->id, "$old$hash", "$new$hash");
    else
        r->rc = ops->recovery_use(r->b, r->id, "code-a", 1000);
    return NULL;
}

static int race_wins(moat__backend *b, int64_t id, int which)
{
    enum { N = 8 };
    pthread_t t[N];
    race r[N];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (race){.b = b, .id = id, .which = which, .bar = &bar};
        CHECK(pthread_create(&t[i], NULL, racer, &r[i]) == 0);
    }
    int wins = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK(r[i].rc == 0 || r[i].rc == MOAT_ENOENT);
        wins += r[i].rc == 0;
    }
    pthread_barrier_destroy(&bar);
    return wins;
}

/* ---- export / import ------------------------------------------------------- */

typedef struct into {
    moat__backend *to;
    int n;
} into;

static int import_cb(const moat__user_export *row, void *arg)
{
    into *c = arg;
    c->n++;
    return ops->import_user(c->to, row) == 0 ? 0 : 7;
}

static int run_ops(const char *url, const char *url2)
{
    moat__backend *b = open_or_die(url);
    char why[256];
    CHECK(!ops->problem(b, why, sizeof(why)));

    /* names: unique without regard to case, kept as written */
    const char *roles[] = {"zeta", "admin", "Beta", "admin"};
    CHECK(ops->user_add(b, "Alice", "$h$alice", roles, 4, 100) == 0);
    CHECK(ops->user_add(b, "ALICE", "$h$x", NULL, 0, 100) == MOAT_EINVAL);
    CHECK(ops->user_add(b, "bad name", "$h$x", NULL, 0, 100) == MOAT_EINVAL);
    CHECK(ops->user_add(b, "x'; DROP TABLE moat_users; --", "$h", NULL, 0, 1) == MOAT_EINVAL);
    const char *badrole[] = {"ok", "no way"};
    CHECK(ops->user_add(b, "carol", "$h$c", badrole, 2, 100) == MOAT_EINVAL);
    moat_user u;
    CHECK(ops->user_get(b, "carol", &u) == MOAT_ENOENT); /* the add was one transaction */
    CHECK(ops->user_get(b, "aLiCe", &u) == 0);
    CHECK(strcmp(u.name, "Alice") == 0 && strcmp(u.password_hash, "$h$alice") == 0);
    CHECK(u.created == 100 && !u.locked && !u.totp_secret && u.recovery_left == 0);
    CHECK(u.nroles == 3 && strcmp(u.roles[0], "Beta") == 0 && strcmp(u.roles[1], "admin") == 0 &&
          strcmp(u.roles[2], "zeta") == 0);
    int64_t alice = u.id;
    moat_user_clear(&u);
    CHECK(ops->user_get_id(b, alice, &u) == 0 && strcmp(u.name, "Alice") == 0);
    moat_user_clear(&u);
    CHECK(ops->user_get_id(b, alice + 1000, &u) == MOAT_ENOENT);
    CHECK(ops->user_get(b, "nobody", &u) == MOAT_ENOENT);
    OK("add_get_case_insensitive");

    /* import: all or none */
    const char *r1[] = {"dev"};
    moat_user_import rows[] = {
        {"bob", "$h$bob", r1, 1}, {"dave", "$h$dave", NULL, 0}, {"alice", "$h$dup", NULL, 0}};
    size_t failed = 99;
    CHECK(ops->users_import(b, rows, 3, 200, &failed) == MOAT_EINVAL && failed == 2);
    CHECK(ops->user_get(b, "bob", &u) == MOAT_ENOENT);
    CHECK(ops->users_import(b, rows, 2, 200, &failed) == 0);
    OK("import_all_or_none");

    moat_user *all = NULL;
    size_t n = 0;
    CHECK(ops->user_add(b, "Ben", "$h$ben", NULL, 0, 300) == 0);
    CHECK(ops->user_list(b, &all, &n) == 0 && n == 4);
    CHECK(strcmp(all[0].name, "Alice") == 0 && strcmp(all[1].name, "Ben") == 0 &&
          strcmp(all[2].name, "bob") == 0 && strcmp(all[3].name, "dave") == 0);
    CHECK(all[2].nroles == 1 && strcmp(all[2].roles[0], "dev") == 0);
    for (size_t i = 0; i < n; i++)
        moat_user_clear(&all[i]);
    free(all);
    OK("list_sorted");

    /* roles */
    const char *nr[] = {"ops", "ops", "a.b-c_d"};
    CHECK(ops->set_roles(b, alice, nr, 3) == 0);
    CHECK(ops->user_get(b, "alice", &u) == 0 && u.nroles == 2 &&
          strcmp(u.roles[0], "a.b-c_d") == 0 && strcmp(u.roles[1], "ops") == 0);
    moat_user_clear(&u);
    CHECK(ops->set_roles(b, alice, badrole, 2) == MOAT_EINVAL);
    CHECK(ops->user_get(b, "alice", &u) == 0 && u.nroles == 2); /* unchanged */
    moat_user_clear(&u);
    CHECK(ops->set_roles(b, alice + 1000, nr, 1) == MOAT_ENOENT);
    CHECK(ops->set_roles(b, alice, NULL, 0) == 0);
    CHECK(ops->user_get(b, "alice", &u) == 0 && u.nroles == 0);
    moat_user_clear(&u);
    OK("roles");

    /* passwords: set, and a rehash that loses to a change */
    CHECK(ops->set_password(b, alice, "$old$hash", true) == 0);
    CHECK(ops->set_password(b, alice + 1000, "$x", true) == MOAT_ENOENT);
    CHECK(ops->rehash(b, alice, "$not$it", "$new$hash") == MOAT_ENOENT);
    CHECK(race_wins(b, alice, 0) == 1);
    CHECK(ops->user_get(b, "alice", &u) == 0 && strcmp(u.password_hash, "$new$hash") == 0);
    moat_user_clear(&u);
    OK("rehash_race");

    /* the administrator's lock */
    CHECK(ops->set_locked(b, alice, true) == 0);
    CHECK(ops->user_get(b, "alice", &u) == 0 && u.locked);
    moat_user_clear(&u);
    CHECK(ops->set_locked(b, alice, false) == 0);
    CHECK(ops->user_get(b, "alice", &u) == 0 && !u.locked);
    moat_user_clear(&u);
    CHECK(ops->set_locked(b, alice + 1000, true) == MOAT_ENOENT);
    OK("lock");

    /* TOTP secret: any bytes; removing it removes the recovery codes */
    const uint8_t secret[20] = {0, 1, 2, 0xff, 0x80, 0, 'x', 0x27, '\\', 9};
    CHECK(ops->totp_set(b, alice, secret, sizeof(secret)) == 0);
    CHECK(ops->user_get(b, "alice", &u) == 0 && u.totp_len == sizeof(secret) &&
          memcmp(u.totp_secret, secret, sizeof(secret)) == 0);
    moat_user_clear(&u);
    CHECK(ops->totp_set(b, alice + 1000, secret, sizeof(secret)) == MOAT_ENOENT);
    OK("totp");

    /* recovery codes: each once, even when raced */
    const char *codes[] = {"code-a", "code-b", "code-c"};
    CHECK(ops->recovery_set(b, alice, codes, 3) == 0);
    CHECK(ops->user_get(b, "alice", &u) == 0 && u.recovery_left == 3);
    moat_user_clear(&u);
    CHECK(race_wins(b, alice, 1) == 1);
    CHECK(ops->recovery_use(b, alice, "code-a", 1001) == MOAT_ENOENT);
    CHECK(ops->recovery_use(b, alice, "code-z", 1001) == MOAT_ENOENT);
    CHECK(ops->recovery_use(b, id_of(b, "bob"), "code-b", 1001) == MOAT_ENOENT);
    CHECK(ops->recovery_use(b, alice, "code-b", 1001) == 0);
    CHECK(ops->user_get(b, "alice", &u) == 0 && u.recovery_left == 1);
    moat_user_clear(&u);
    CHECK(ops->recovery_set(b, alice, codes, 2) == 0); /* replaced: all unused again */
    CHECK(ops->user_get(b, "alice", &u) == 0 && u.recovery_left == 2);
    moat_user_clear(&u);
    OK("recovery_once");

    /* tokens: expiry honoured, use marked, revocation, unknown user */
    int64_t t1 = 0, t2 = 0, t3 = 0, who = 0;
    CHECK(ops->token_add(b, alice, "tokhash-1", "moat_abc", 500, 0, &t1) == 0);
    CHECK(ops->token_add(b, alice, "tokhash-2", "moat_def", 500, 600, &t2) == 0);
    CHECK(ops->token_add(b, id_of(b, "bob"), "tokhash-3", "moat_ghi", 500, 0, &t3) == 0);
    CHECK(t1 > 0 && t2 > t1 && t3 > t2);
    CHECK(ops->token_add(b, alice, "tokhash-1", "moat_dup", 500, 0, NULL) == MOAT_EINVAL);
    CHECK(ops->token_add(b, alice + 1000, "tokhash-9", "moat_x", 500, 0, NULL) == MOAT_EINVAL);
    CHECK(ops->token_find(b, "tokhash-2", 599, &who) == 0 && who == alice);
    CHECK(ops->token_find(b, "tokhash-2", 600, &who) == MOAT_ENOENT);
    CHECK(ops->token_find(b, "tokhash-1", 700, &who) == 0 && who == alice);
    CHECK(ops->token_find(b, "tokhash-nope", 700, &who) == MOAT_ENOENT);
    moat_token_info *tl = NULL;
    CHECK(ops->token_list(b, "ALICE", &tl, &n) == 0 && n == 2);
    CHECK(tl[0].id == t1 && strcmp(tl[0].user, "Alice") == 0 &&
          strcmp(tl[0].prefix, "moat_abc") == 0 && tl[0].created == 500 && tl[0].expires == 0 &&
          tl[0].last_used == 700);
    CHECK(tl[1].id == t2 && tl[1].expires == 600 && tl[1].last_used == 599);
    for (size_t i = 0; i < n; i++)
        free(tl[i].user);
    free(tl);
    CHECK(ops->token_list(b, NULL, &tl, &n) == 0 && n == 3);
    for (size_t i = 0; i < n; i++)
        free(tl[i].user);
    free(tl);
    CHECK(ops->token_revoke(b, t1) == 0);
    CHECK(ops->token_revoke(b, t1) == MOAT_ENOENT);
    CHECK(ops->token_find(b, "tokhash-1", 701, &who) == MOAT_ENOENT);
    OK("tokens");

    /* export everything, import into an empty database */
    moat__backend *b2 = open_or_die(url2);
    into c = {.to = b2};
    CHECK(ops->export_users(b, import_cb, &c) == 0 && c.n == 4);
    CHECK(ops->user_get(b2, "alice", &u) == 0);
    CHECK(strcmp(u.password_hash, "$new$hash") == 0 && u.totp_len == sizeof(secret) &&
          memcmp(u.totp_secret, secret, sizeof(secret)) == 0 && u.recovery_left == 2 &&
          u.created == 100);
    int64_t alice2 = u.id;
    moat_user_clear(&u);
    CHECK(ops->recovery_use(b2, alice2, "code-a", 5) == 0);
    CHECK(ops->token_find(b2, "tokhash-2", 550, &who) == 0 && who == alice2);
    CHECK(ops->token_find(b2, "tokhash-2", 650, &who) == MOAT_ENOENT);
    CHECK(ops->user_get(b2, "bob", &u) == 0 && u.nroles == 1);
    moat_user_clear(&u);
    c.n = 0;
    CHECK(ops->export_users(b, import_cb, &c) == 7 && c.n == 1); /* alice is taken */
    CHECK(ops->user_list(b2, &all, &n) == 0 && n == 4);
    for (size_t i = 0; i < n; i++)
        moat_user_clear(&all[i]);
    free(all);
    ops->close(b2);
    OK("export_import");

    /* delete: by any case, with its tokens and codes */
    int64_t gone = 0;
    CHECK(ops->user_del(b, "ALICE", &gone) == 0 && gone == alice);
    CHECK(ops->user_del(b, "alice", NULL) == MOAT_ENOENT);
    CHECK(ops->token_find(b, "tokhash-2", 550, &who) == MOAT_ENOENT);
    CHECK(ops->token_list(b, NULL, &tl, &n) == 0 && n == 1);
    free(tl[0].user);
    free(tl);
    CHECK(ops->user_add(b, "alice", "$h$again", NULL, 0, 900) == 0); /* the name is free */
    CHECK(ops->user_get(b, "alice", &u) == 0 && u.recovery_left == 0 && !u.totp_secret);
    moat_user_clear(&u);
    OK("delete");

    CHECK(!ops->problem(b, why, sizeof(why)));
    ops->close(b);
    return 0;
}

static int run_open(const char *url)
{
    moat__backend *b = NULL;
    char *err = NULL;
    int rc = moat__pg_open(url, &b, &err);
    if (rc < 0) {
        printf("%s %s\n", rc == MOAT_EINVAL ? "EINVAL" : "EIO", err ? err : "?");
        free(err);
        return 1;
    }
    printf("opened\n");
    ops->close(b);
    return 0;
}

static int run_watch(const char *url)
{
    moat__backend *b = open_or_die(url);
    char line[256];
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready\n");
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "get ", 4) == 0) {
            moat_user u;
            int rc = ops->user_get(b, line + 4, &u);
            char why[512] = "";
            bool down = ops->problem(b, why, sizeof(why));
            if (rc == 0) {
                printf("0 %lld\n", (long long)u.id);
                moat_user_clear(&u);
            } else {
                printf("%s %s%s\n", rc == MOAT_EIO ? "EIO" : moat_strerror(rc),
                       down ? "down: " : "", why);
            }
        }
    }
    ops->close(b);
    return 0;
}

int main(int argc, char **argv)
{
    moat_log_set_level(MOAT_LOG_WARN);
    if (argc == 4 && strcmp(argv[1], "ops") == 0) return run_ops(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "open") == 0) return run_open(argv[2]);
    if (argc == 3 && strcmp(argv[1], "watch") == 0) return run_watch(argv[2]);
    fprintf(stderr, "usage: pg_store_tool ops URL URL2 | open URL | watch URL\n");
    return 2;
}
