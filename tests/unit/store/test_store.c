/* test_store.c - unit tests of the SQLite store on a real file in a fresh
 * temporary directory: users and roles, name rules, the admin lock and the
 * lockout counters (growth, unlock), TOTP replay refusal, single-use recovery
 * codes, sessions (ended by a password change and a lock), tokens (expiry,
 * revocation), the file's mode, refusal of a newer schema, and a file
 * deleted, replaced or emptied under an open store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test_helpers.h"
#include "store/store.h"

typedef struct fixture {
    moat_test_dir tmp;
    char path[128];
    char url[160];
    moat_store *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f || moat_test_dir_make(&f->tmp, "store", false) < 0) {
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

static int64_t add(moat_store *s, const char *name)
{
    const char *roles[] = {"staff", "admin", "staff"};
    assert_int_equal(moat_store_user_add(s, name, "$argon2id$fake", roles, 3, 1000), 0);
    moat_user u;
    assert_int_equal(moat_store_user_get(s, name, &u), 0);
    int64_t id = u.id;
    moat_user_clear(&u);
    return id;
}

static void test_users(void **state)
{
    fixture *f = *state;
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    int64_t id = add(f->s, "alice");
    moat_user u;
    assert_int_equal(moat_store_user_get(f->s, "ALICE", &u), 0); /* names ignore case */
    assert_int_equal(u.id, id);
    assert_string_equal(u.name, "alice");
    assert_string_equal(u.password_hash, "$argon2id$fake");
    assert_int_equal(u.nroles, 2);
    assert_string_equal(u.roles[0], "admin");
    assert_string_equal(u.roles[1], "staff");
    assert_null(u.totp_secret);
    assert_int_equal(u.created, 1000);
    moat_user_clear(&u);
    assert_int_equal(moat_store_user_add(f->s, "Alice", "h", NULL, 0, 1), MOAT_EINVAL);
    assert_int_equal(moat_store_user_add(f->s, "bad name", "h", NULL, 0, 1), MOAT_EINVAL);
    const char *badrole[] = {"ok", "no way"};
    assert_int_equal(moat_store_user_add(f->s, "bob", "h", badrole, 2, 1), MOAT_EINVAL);
    assert_int_equal(moat_store_user_get(f->s, "bob", &u), MOAT_ENOENT); /* rolled back */
    add(f->s, "bob");
    moat_user *all = NULL;
    size_t n = 0;
    assert_int_equal(moat_store_user_list(f->s, &all, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].name, "alice");
    assert_string_equal(all[1].name, "bob");
    for (size_t i = 0; i < n; i++)
        moat_user_clear(&all[i]);
    free(all);
    const char *one[] = {"ops"};
    assert_int_equal(moat_store_user_set_roles(f->s, id, one, 1), 0);
    assert_int_equal(moat_store_user_get_id(f->s, id, &u), 0);
    assert_int_equal(u.nroles, 1);
    assert_string_equal(u.roles[0], "ops");
    moat_user_clear(&u);
    assert_int_equal(moat_store_user_set_roles(f->s, 999, one, 1), MOAT_ENOENT);
    assert_int_equal(moat_store_user_rehash(f->s, id, "wrong-old", "new"), MOAT_ENOENT);
    assert_int_equal(moat_store_user_rehash(f->s, id, "$argon2id$fake", "new"), 0);
    assert_int_equal(moat_store_user_del(f->s, "bob"), 0);
    assert_int_equal(moat_store_user_del(f->s, "bob"), MOAT_ENOENT);
    assert_true(moat_user_name_valid("a.b_c@d+e-f"));
    assert_false(moat_user_name_valid(""));
    assert_false(moat_role_name_valid("a@b"));
}

static void test_lockout(void **state)
{
    fixture *f = *state;
    int64_t id = add(f->s, "carol");
    moat_lockout_params p = {.failures = 5, .window = 600, .duration = 900, .addr_failures = 3};
    int64_t until = 0, now = 10000;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(moat_store_login_failed(f->s, id, &p, now + i, &until), 0);
        assert_int_equal(until, 0);
    }
    assert_int_equal(moat_store_login_failed(f->s, id, &p, now + 4, &until), 0);
    assert_int_equal(until, now + 4 + 900);
    moat_user u;
    assert_int_equal(moat_store_user_get(f->s, "carol", &u), 0);
    assert_int_equal(u.locked_until, now + 4 + 900);
    assert_int_equal(u.lock_count, 1);
    moat_user_clear(&u);
    /* the second lock is twice as long */
    for (int i = 0; i < 5; i++)
        assert_int_equal(moat_store_login_failed(f->s, id, &p, now + 2000, &until), 0);
    assert_int_equal(until, now + 2000 + 1800);
    /* failures spread beyond the window do not lock */
    assert_int_equal(moat_store_user_set_locked(f->s, id, false), 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(moat_store_login_failed(f->s, id, &p, now + 5000 + i * 200, &until), 0);
        assert_int_equal(until, 0);
    }
    assert_int_equal(moat_store_user_get(f->s, "carol", &u), 0);
    assert_int_equal(u.locked_until, 0);
    assert_int_equal(u.lock_count, 0);
    moat_user_clear(&u);
    /* per address */
    assert_int_equal(moat_store_addr_blocked(f->s, "192.0.2.1", now, &until), 0);
    assert_int_equal(until, 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(moat_store_addr_failed(f->s, "192.0.2.1", &p, now, &until), 0);
    assert_int_equal(until, 0);
    assert_int_equal(moat_store_addr_failed(f->s, "192.0.2.1", &p, now, &until), 0);
    assert_int_equal(until, now + 900);
    assert_int_equal(moat_store_addr_blocked(f->s, "192.0.2.1", now + 1, &until), 0);
    assert_int_equal(until, now + 900);
    assert_int_equal(moat_store_addr_blocked(f->s, "192.0.2.1", now + 901, &until), 0);
    assert_int_equal(until, 0);
    assert_int_equal(moat_store_addr_blocked(f->s, "192.0.2.2", now, &until), 0);
    assert_int_equal(until, 0);
}

static void test_second_factor(void **state)
{
    fixture *f = *state;
    int64_t id = add(f->s, "dave");
    const uint8_t secret[20] = "12345678901234567890";
    assert_int_equal(moat_store_totp_set(f->s, id, secret, 20), 0);
    assert_int_equal(moat_store_totp_use(f->s, id, 100), 0);
    assert_int_equal(moat_store_totp_use(f->s, id, 100), MOAT_ENOENT);
    assert_int_equal(moat_store_totp_use(f->s, id, 99), MOAT_ENOENT);
    assert_int_equal(moat_store_totp_use(f->s, id, 101), 0);
    const char *codes[] = {"h1", "h2", "h3"};
    assert_int_equal(moat_store_recovery_set(f->s, id, codes, 3), 0);
    assert_int_equal(moat_store_recovery_use(f->s, id, "h2", 5), 0);
    assert_int_equal(moat_store_recovery_use(f->s, id, "h2", 6), MOAT_ENOENT);
    assert_int_equal(moat_store_recovery_use(f->s, id, "hx", 6), MOAT_ENOENT);
    moat_user u;
    assert_int_equal(moat_store_user_get(f->s, "dave", &u), 0);
    assert_int_equal(u.totp_len, 20);
    assert_memory_equal(u.totp_secret, secret, 20);
    assert_int_equal(u.totp_last_step, 101);
    assert_int_equal(u.recovery_left, 2);
    moat_user_clear(&u);
    assert_int_equal(moat_store_totp_set(f->s, id, NULL, 0), 0);
    assert_int_equal(moat_store_user_get(f->s, "dave", &u), 0);
    assert_null(u.totp_secret);
    assert_int_equal(u.recovery_left, 0);
    moat_user_clear(&u);
}

static void test_sessions_tokens(void **state)
{
    fixture *f = *state;
    int64_t id = add(f->s, "erin");
    moat_session x = {.user_id = id, .created = 10, .last_seen = 10, .expires = 100, .mfa = true};
    snprintf(x.id_hash, sizeof(x.id_hash), "aaaa");
    snprintf(x.csrf, sizeof(x.csrf), "cccc");
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    snprintf(x.id_hash, sizeof(x.id_hash), "bbbb");
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    moat_session got;
    assert_int_equal(moat_store_session_get(f->s, "aaaa", &got), 0);
    assert_int_equal(got.user_id, id);
    assert_true(got.mfa);
    assert_string_equal(got.csrf, "cccc");
    assert_int_equal(moat_store_session_touch(f->s, "aaaa", 50), 0);
    assert_int_equal(moat_store_session_get(f->s, "aaaa", &got), 0);
    assert_int_equal(got.last_seen, 50);
    assert_int_equal(moat_store_session_delete(f->s, "aaaa"), 0);
    assert_int_equal(moat_store_session_get(f->s, "aaaa", &got), MOAT_ENOENT);
    /* a password change ends the rest */
    assert_int_equal(moat_store_user_set_password(f->s, id, "new", true), 0);
    assert_int_equal(moat_store_session_get(f->s, "bbbb", &got), MOAT_ENOENT);
    /* so does a lock */
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    assert_int_equal(moat_store_user_set_locked(f->s, id, true), 0);
    assert_int_equal(moat_store_session_get(f->s, "bbbb", &got), MOAT_ENOENT);
    moat_user u;
    assert_int_equal(moat_store_user_get(f->s, "erin", &u), 0);
    assert_true(u.locked);
    moat_user_clear(&u);
    /* purge: expired and idle sessions go */
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    assert_int_equal(moat_store_purge(f->s, 60, 100), 0);
    assert_int_equal(moat_store_session_get(f->s, "bbbb", &got), 0);
    assert_int_equal(moat_store_purge(f->s, 100, 1000), 0);
    assert_int_equal(moat_store_session_get(f->s, "bbbb", &got), MOAT_ENOENT);

    int64_t t1 = 0, t2 = 0, who = 0;
    assert_int_equal(moat_store_token_add(f->s, id, "th1", "moat_abc", 10, 0, &t1), 0);
    assert_int_equal(moat_store_token_add(f->s, id, "th2", "moat_def", 10, 20, &t2), 0);
    assert_int_equal(moat_store_token_add(f->s, id, "th2", "moat_def", 10, 20, NULL), MOAT_EINVAL);
    assert_int_equal(moat_store_token_find(f->s, "th1", 15, &who), 0);
    assert_int_equal(who, id);
    assert_int_equal(moat_store_token_find(f->s, "th2", 15, &who), 0);
    assert_int_equal(moat_store_token_find(f->s, "th2", 20, &who), MOAT_ENOENT);
    assert_int_equal(moat_store_token_find(f->s, "nope", 15, &who), MOAT_ENOENT);
    moat_token_info *list = NULL;
    size_t n = 0;
    assert_int_equal(moat_store_token_list(f->s, "erin", &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].prefix, "moat_abc");
    assert_int_equal(list[0].last_used, 15);
    assert_int_equal(list[1].expires, 20);
    for (size_t i = 0; i < n; i++)
        free(list[i].user);
    free(list);
    assert_int_equal(moat_store_token_revoke(f->s, t1), 0);
    assert_int_equal(moat_store_token_revoke(f->s, t1), MOAT_ENOENT);
    assert_int_equal(moat_store_token_find(f->s, "th1", 15, &who), MOAT_ENOENT);
    /* deleting the user removes what hangs off it */
    assert_int_equal(moat_store_user_del(f->s, "erin"), 0);
    assert_int_equal(moat_store_token_list(f->s, NULL, &list, &n), 0);
    assert_int_equal(n, 0);
    free(list);
}

/* The second factor's counter is the account's other one: it locks apart
 * from the password's, grows the same way, and unlock clears both. */
static void test_mfa_counter(void **state)
{
    fixture *f = *state;
    int64_t id = add(f->s, "mona");
    moat_lockout_params p = {.failures = 5, .window = 600, .duration = 900, .mfa_failures = 3};
    int64_t until = 0, now = 20000;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(moat_store_mfa_failed(f->s, id, &p, now, &until), 0);
        assert_int_equal(until, 0);
    }
    assert_int_equal(moat_store_mfa_failed(f->s, id, &p, now, &until), 0);
    assert_int_equal(until, now + 900);
    moat_user u;
    assert_int_equal(moat_store_user_get(f->s, "mona", &u), 0);
    assert_int_equal(u.mfa_locked_until, now + 900);
    assert_int_equal(u.locked_until, 0);
    assert_int_equal(u.failures, 0);
    moat_user_clear(&u);
    for (int i = 0; i < 3; i++)
        assert_int_equal(moat_store_mfa_failed(f->s, id, &p, now + 1000, &until), 0);
    assert_int_equal(until, now + 1000 + 1800);
    /* a success starts the growth over; the lock itself stays until it ends */
    assert_int_equal(moat_store_mfa_ok(f->s, id), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(moat_store_mfa_failed(f->s, id, &p, now + 5000, &until), 0);
    assert_int_equal(until, now + 5000 + 900);
    assert_int_equal(moat_store_user_set_locked(f->s, id, false), 0);
    assert_int_equal(moat_store_user_get(f->s, "mona", &u), 0);
    assert_int_equal(u.mfa_locked_until, 0);
    moat_user_clear(&u);
}

/* A version 1 store (before the second factor's counter) is migrated. */
static void test_migrate_v1(void **state)
{
    fixture *f = *state;
    int64_t id = add(f->s, "vera");
    moat_store_close(f->s);
    f->s = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "ALTER TABLE users DROP COLUMN mfa_failures;"
                                  "ALTER TABLE users DROP COLUMN mfa_failure_start;"
                                  "ALTER TABLE users DROP COLUMN mfa_lock_count;"
                                  "ALTER TABLE users DROP COLUMN mfa_locked_until;"
                                  "DROP TABLE rate_hits; DROP TABLE strikes; DROP TABLE bans;"
                                  "PRAGMA user_version = 1;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    char *err = NULL;
    assert_int_equal(moat_store_open(f->url, &f->s, &err), 0);
    moat_lockout_params p = {.failures = 5, .window = 600, .duration = 900, .mfa_failures = 1};
    int64_t until = 0;
    assert_int_equal(moat_store_mfa_failed(f->s, id, &p, 100, &until), 0);
    assert_int_equal(until, 1000);
    moat_user u;
    assert_int_equal(moat_store_user_get(f->s, "vera", &u), 0);
    assert_int_equal(u.mfa_locked_until, 1000);
    moat_user_clear(&u);
    moat_store *s2 = NULL;
    assert_int_equal(moat_store_open(f->url, &s2, &err), 0); /* now version 3 */
    moat_store_close(s2);
}

static void test_schema_version(void **state)
{
    fixture *f = *state;
    moat_store *s2 = NULL;
    char *err = NULL;
    assert_int_equal(moat_store_open(f->url, &s2, &err), 0); /* reopen: same schema */
    moat_store_close(s2);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(moat_store_open(f->url, &s2, &err), MOAT_EIO);
    assert_non_null(strstr(err, "schema version 99"));
    free(err);
    assert_int_equal(moat_store_open("redis://x", &s2, &err), MOAT_EINVAL);
    free(err);
    assert_int_equal(moat_store_open("sqlite:/nonexistent-dir/x.db", &s2, &err), MOAT_EIO);
    free(err);
}

/* Calls until get(name) answers want, for at most 10 s (the store checks
 * its file at most once a second). */
static int poll_get(moat_store *s, const char *name, int want)
{
    moat_user u;
    int rc = 0;
    for (int i = 0; i < 100; i++) {
        rc = moat_store_user_get(s, name, &u);
        if (rc == 0) moat_user_clear(&u);
        if (rc == want) break;
        usleep(100 * 1000);
    }
    return rc;
}

static void test_reopen(void **state)
{
    fixture *f = *state;
    add(f->s, "nina");
    moat_store *watch = NULL;
    char *err = NULL;
    assert_int_equal(moat_store_open(f->url, &watch, &err), 0);
    uint64_t v1 = 0, v2 = 0;
    assert_int_equal(moat_store_data_version(watch, &v1), 0);
    char why[256];
    assert_false(moat_store_problem(f->s, why, sizeof(why)));
    /* deleted: every call fails, and says why; nothing is created */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(poll_get(f->s, "nina", MOAT_EIO), MOAT_EIO);
    assert_true(moat_store_problem(f->s, why, sizeof(why)));
    assert_non_null(strstr(why, "deleted"));
    assert_int_equal(access(f->path, F_OK), -1);
    /* another store put at the path is the one used from then on */
    moat_store *other = NULL;
    assert_int_equal(moat_store_open(f->url, &other, &err), 0);
    add(other, "zed");
    moat_store_close(other);
    assert_int_equal(poll_get(f->s, "zed", 0), 0);
    assert_int_equal(moat_store_user_get(f->s, "nina", &(moat_user){0}), MOAT_ENOENT);
    assert_false(moat_store_problem(f->s, why, sizeof(why)));
    for (int i = 0; i < 100 && moat_store_data_version(watch, &v2) != 0; i++)
        usleep(100 * 1000);
    for (int i = 0; i < 100 && (v2 >> 32) == (v1 >> 32); i++) {
        usleep(100 * 1000);
        moat_store_data_version(watch, &v2);
    }
    assert_int_not_equal(v2 >> 32, v1 >> 32); /* a new generation: no stale cache */
    /* an emptied file is refused, not given a new schema */
    assert_int_equal(truncate(f->path, 0), 0);
    assert_int_equal(poll_get(f->s, "zed", MOAT_EIO), MOAT_EIO);
    assert_int_equal(poll_get(f->s, "zed", MOAT_EIO), MOAT_EIO);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    moat_store_close(watch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_factor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mfa_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
