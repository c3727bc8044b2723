/* test_store_rate.c - unit tests of the state role's rate limits, strikes
 * and bans on a real SQLite file: the sliding window (requests + burst, the
 * count, Retry-After, the window sliding), one limit counted together by
 * processes sharing the file (forked children), strikes that ban, the
 * administrator's bans, the migration of a version 2 file (before these
 * tables), and `moat store copy`'s export and import between two files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_helpers.h"
#include "store/backend.h"

typedef struct fixture {
    moat_test_dir tmp;
    char path[128];
    char url[160];
    moat_store *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f || moat_test_dir_make(&f->tmp, "store-rate", false) < 0) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/moat.db", f->tmp.dir);
    snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
    char *err = NULL;
    if (moat_store_open(f->url, &f->s, &err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    moat_store_close(f->s);
    moat_test_dir_remove(&f->tmp);
    free(f);
    return 0;
}

static void test_rate_window(void **state)
{
    fixture *f = *state;
    moat_rate_params p = {.requests = 3, .window_ms = 10000, .burst = 1};
    moat_rate_result r;
    /* 4 allowed (3 + burst 1) at 1000, 1100, 1200, 1300 */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(moat_store_rate_hit(f->s, "k", &p, 1000 + 100 * i, &r), 0);
        assert_true(r.allowed);
        assert_int_equal(r.count, i + 1);
    }
    assert_int_equal(moat_store_rate_hit(f->s, "k", &p, 2000, &r), 0);
    assert_false(r.allowed);
    assert_int_equal(r.count, 5);
    assert_int_equal(r.retry_after_ms, 9000); /* the hit at 1000 leaves at 11000 */
    /* another key is counted apart */
    assert_int_equal(moat_store_rate_hit(f->s, "other", &p, 2000, &r), 0);
    assert_true(r.allowed);
    assert_int_equal(r.count, 1);
    /* refused hits are not counted: at 11000 the first left, one place */
    assert_int_equal(moat_store_rate_hit(f->s, "k", &p, 11000, &r), 0);
    assert_true(r.allowed);
    assert_int_equal(moat_store_rate_hit(f->s, "k", &p, 11001, &r), 0);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 99); /* the hit at 1100 leaves at 11100 */
    /* a whole window later, everything left */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(moat_store_rate_hit(f->s, "k", &p, 40000, &r), 0);
        assert_true(r.allowed);
    }
    assert_int_equal(moat_store_rate_hit(f->s, "k", &p, 40000, &r), 0);
    assert_false(r.allowed);
}

/* Processes sharing the file share the limit: 4 children, 10 hits each, a
 * limit of 15: exactly 15 allowed in all. */
static void test_rate_processes(void **state)
{
    fixture *f = *state;
    moat_rate_params p = {.requests = 15, .window_ms = 3600 * 1000, .burst = 0};
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            moat_store *s = NULL;
            char *err = NULL;
            if (moat_store_open(f->url, &s, &err) < 0) _exit(100);
            int allowed = 0;
            for (int i = 0; i < 10; i++) {
                moat_rate_result r;
                if (moat_store_rate_hit(s, "shared", &p, 5000 + i, &r) < 0) _exit(101);
                allowed += r.allowed;
            }
            moat_store_close(s);
            _exit(allowed);
        }
    }
    int total = 0;
    for (int k = 0; k < 4; k++) {
        int st = 0;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st));
        assert_true(WEXITSTATUS(st) <= 10);
        total += WEXITSTATUS(st);
    }
    assert_int_equal(total, 15);
    moat_rate_result r;
    assert_int_equal(moat_store_rate_hit(f->s, "shared", &p, 6000, &r), 0);
    assert_false(r.allowed);
}

static void test_strikes_bans(void **state)
{
    fixture *f = *state;
    moat_strike_params p = {.strikes = 3, .window = 60, .duration = 600};
    int64_t until = -1;
    assert_int_equal(moat_store_strike(f->s, "192.0.2.1", &p, 1000, &until), 0);
    assert_int_equal(until, 0);
    assert_int_equal(moat_store_strike(f->s, "192.0.2.1", &p, 1010, &until), 0);
    assert_int_equal(until, 0);
    /* the window starts over after 60 s */
    assert_int_equal(moat_store_strike(f->s, "192.0.2.1", &p, 1070, &until), 0);
    assert_int_equal(until, 0);
    assert_int_equal(moat_store_ban_check(f->s, "192.0.2.1", 1070, &until), 0);
    assert_int_equal(until, 0);
    assert_int_equal(moat_store_strike(f->s, "192.0.2.1", &p, 1080, &until), 0);
    assert_int_equal(moat_store_strike(f->s, "192.0.2.1", &p, 1090, &until), 0);
    assert_int_equal(until, 1690);
    assert_int_equal(moat_store_ban_check(f->s, "192.0.2.1", 1100, &until), 0);
    assert_int_equal(until, 1690);
    assert_int_equal(moat_store_ban_check(f->s, "192.0.2.1", 1690, &until), 0);
    assert_int_equal(until, 0); /* over */
    assert_int_equal(moat_store_ban_check(f->s, "192.0.2.2", 1100, &until), 0);
    assert_int_equal(until, 0);

    /* an administrator's ban replaces, lists, and is removed */
    assert_int_equal(moat_store_ban_add(f->s, "2001:db8::1", 5000, "by hand"), 0);
    assert_int_equal(moat_store_ban_add(f->s, "192.0.2.1", 1200, "shorter"), 0);
    moat_ban *bans = NULL;
    size_t n = 0;
    assert_int_equal(moat_store_ban_list(f->s, 1100, &bans, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(bans[0].addr, "192.0.2.1");
    assert_int_equal(bans[0].until, 1200);
    assert_string_equal(bans[0].why, "shorter");
    assert_string_equal(bans[1].addr, "2001:db8::1");
    assert_string_equal(bans[1].why, "by hand");
    free(bans);
    assert_int_equal(moat_store_ban_remove(f->s, "2001:db8::1"), 0);
    assert_int_equal(moat_store_ban_remove(f->s, "2001:db8::1"), MOAT_ENOENT);
    assert_int_equal(moat_store_ban_list(f->s, 1300, &bans, &n), 0);
    assert_int_equal(n, 0);
    free(bans);
}

static int64_t add(moat_store *s, const char *name)
{
    const char *roles[] = {"staff"};
    assert_int_equal(moat_store_user_add(s, name, "$argon2id$fake", roles, 1, 1000), 0);
    moat_user u;
    assert_int_equal(moat_store_user_get(s, name, &u), 0);
    int64_t id = u.id;
    moat_user_clear(&u);
    return id;
}

static int file_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int v = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* A version 2 file (users, sessions: no rate tables) opens as version 3,
 * keeping its users, and `moat store migrate` says so. */
static void test_migrate_v2(void **state)
{
    fixture *f = *state;
    int64_t id = add(f->s, "vera");
    moat_store_close(f->s);
    f->s = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE rate_hits; DROP TABLE strikes; DROP TABLE bans;"
                                  "PRAGMA user_version = 2;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(file_version(f->path), 2);
    char *err = NULL;
    assert_int_equal(moat_store_open(f->url, &f->s, &err), 0);
    assert_int_equal(file_version(f->path), 3);
    moat_user u;
    assert_int_equal(moat_store_user_get(f->s, "vera", &u), 0);
    assert_int_equal(u.id, id);
    moat_user_clear(&u);
    moat_rate_result r;
    moat_rate_params p = {.requests = 1, .window_ms = 1000};
    assert_int_equal(moat_store_rate_hit(f->s, "k", &p, 1, &r), 0);
    assert_true(r.allowed);
    int64_t until = 0;
    assert_int_equal(moat_store_ban_add(f->s, "192.0.2.9", 50, "x"), 0);
    assert_int_equal(moat_store_ban_check(f->s, "192.0.2.9", 10, &until), 0);
    assert_int_equal(until, 50);
    moat__backend *b = NULL;
    const moat__backend_ops *ops = moat__store_users_ops(f->s, &b);
    int from = 0, to = 0;
    assert_int_equal(ops->migrate(b, &from, &to), 0);
    assert_int_equal(from, 2);
    assert_int_equal(to, 3);
}

static int copy_row(const moat__user_export *row, void *arg)
{
    moat__backend *b = NULL;
    const moat__backend_ops *ops = moat__store_users_ops(arg, &b);
    return ops->import_user(b, row);
}

/* export_users / import_user move users with roles, lock, TOTP secret,
 * unused recovery codes and tokens. */
static void test_export_import(void **state)
{
    fixture *f = *state;
    int64_t id = add(f->s, "ann");
    add(f->s, "bob");
    const uint8_t secret[] = {1, 2, 3, 4, 5};
    assert_int_equal(moat_store_totp_set(f->s, id, secret, sizeof(secret)), 0);
    const char *codes[] = {"c1", "c2"};
    assert_int_equal(moat_store_recovery_set(f->s, id, codes, 2), 0);
    assert_int_equal(moat_store_recovery_use(f->s, id, "c1", 10), 0);
    assert_int_equal(moat_store_token_add(f->s, id, "tokhash", "moat_ab", 10, 0, NULL), 0);
    assert_int_equal(moat_store_user_set_locked(f->s, id, true), 0);

    char url2[200];
    snprintf(url2, sizeof(url2), "sqlite:%s/copy.db", f->tmp.dir);
    moat_store *dst = NULL;
    char *err = NULL;
    assert_int_equal(moat_store_open(url2, &dst, &err), 0);
    moat__backend *b = NULL;
    const moat__backend_ops *ops = moat__store_users_ops(f->s, &b);
    assert_int_equal(ops->export_users(b, copy_row, dst), 0);
    /* a second copy: the names are taken */
    assert_int_equal(ops->export_users(b, copy_row, dst), MOAT_EINVAL);

    moat_user u;
    assert_int_equal(moat_store_user_get(dst, "ann", &u), 0);
    assert_true(u.locked);
    assert_int_equal(u.nroles, 1);
    assert_string_equal(u.roles[0], "staff");
    assert_string_equal(u.password_hash, "$argon2id$fake");
    assert_int_equal(u.totp_len, sizeof(secret));
    assert_memory_equal(u.totp_secret, secret, sizeof(secret));
    assert_int_equal(u.recovery_left, 1);
    int64_t id2 = u.id;
    moat_user_clear(&u);
    assert_int_equal(moat_store_recovery_use(dst, id2, "c2", 10), 0);
    assert_int_equal(moat_store_recovery_use(dst, id2, "c1", 10), MOAT_ENOENT);
    int64_t owner = 0;
    assert_int_equal(moat_store_token_find(dst, "tokhash", 20, &owner), 0);
    assert_int_equal(owner, id2);
    assert_int_equal(moat_store_user_get(dst, "bob", &u), 0);
    assert_false(u.locked);
    assert_null(u.totp_secret);
    moat_user_clear(&u);
    moat_store_close(dst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rate_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strikes_bans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_import, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
