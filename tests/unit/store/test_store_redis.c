/* test_store_redis.c - unit tests of the Redis state backend against a real
 * redis-server the test starts (127.0.0.1, a free port, no persistence, in
 * a fresh temporary directory; skipped when redis-server is not installed),
 * with the users in an SQLite file: sessions and their end with a password
 * change, a lock and a deletion; lockout counters overlaid on the user;
 * the TOTP step's compare-and-set from two stores; rate limits counted
 * together by two stores; strikes and bans; data_version moving on another
 * store's change; a server stopped (MOAT_EIO, problem() says why) and
 * started again on the same port (the same store works again); a wrong
 * password refused at open, and a password never in a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../test_helpers.h"
#include "store/store.h"

typedef struct fixture {
    moat_test_dir tmp;
    int port;
    pid_t redis;
    char users[200];
    char state[200];
    moat_store *s;
} fixture;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return -1;
    close(fd);
    return ntohs(sa.sin_port);
}

static bool redis_up(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (ok) {
        char buf[64];
        ok = write(fd, "PING\r\n", 6) == 6 && read(fd, buf, sizeof(buf)) > 0 &&
             strncmp(buf, "+PONG", 5) == 0;
    }
    close(fd);
    return ok;
}

static pid_t start_redis(fixture *f, const char *pass)
{
    char port[16], log[128];
    snprintf(port, sizeof(port), "%d", f->port);
    snprintf(log, sizeof(log), "%s/redis.log", f->tmp.dir);
    pid_t pid = fork();
    if (pid == 0) {
        if (pass)
            execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
                   "", "--appendonly", "no", "--dir", f->tmp.dir, "--requirepass", pass,
                   "--logfile", log, (char *)NULL);
        else
            execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
                   "", "--appendonly", "no", "--dir", f->tmp.dir, "--logfile", log, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        if (pass) {
            /* with a password PING answers -NOAUTH: wait for the port */
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET,
                                     .sin_port = htons((uint16_t)f->port),
                                     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
            close(fd);
            if (ok) return pid;
        } else if (redis_up(f->port)) {
            return pid;
        }
        usleep(50 * 1000);
    }
    return pid;
}

static void stop_redis(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static int setup(void **state)
{
    if (system("command -v redis-server >/dev/null 2>&1") != 0) return -1;
    fixture *f = calloc(1, sizeof(*f));
    if (!f || moat_test_dir_make(&f->tmp, "store-redis", false) < 0) return -1;
    f->port = free_port();
    f->redis = start_redis(f, NULL);
    if (!redis_up(f->port)) return -1;
    snprintf(f->users, sizeof(f->users), "sqlite:%s/users.db", f->tmp.dir);
    snprintf(f->state, sizeof(f->state), "redis://127.0.0.1:%d/2", f->port);
    char *err = NULL;
    if (moat_store_open_roles(f->users, f->state, &f->s, &err) < 0) {
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
    stop_redis(f->redis);
    moat_test_dir_remove(&f->tmp);
    free(f);
    return 0;
}

static moat_store *second(fixture *f)
{
    moat_store *s = NULL;
    char *err = NULL;
    assert_int_equal(moat_store_open_roles(f->users, f->state, &s, &err), 0);
    return s;
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

static moat_session sess(const char *hash, int64_t uid, int64_t now)
{
    moat_session x = {
        .user_id = uid, .created = now, .last_seen = now, .expires = now + 3600, .mfa = true};
    snprintf(x.id_hash, sizeof(x.id_hash), "%s", hash);
    snprintf(x.csrf, sizeof(x.csrf), "csrf-%s", hash);
    return x;
}

static void test_sessions(void **state)
{
    fixture *f = *state;
    int64_t now = (int64_t)time(NULL);
    int64_t id = add(f->s, "ann");
    moat_session x = sess("aa01", id, now), y;
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    assert_int_equal(moat_store_session_create(f->s, &x), MOAT_EINVAL); /* taken */
    moat_store *b = second(f);
    assert_int_equal(moat_store_session_get(b, "aa01", &y), 0);
    assert_int_equal(y.user_id, id);
    assert_int_equal(y.expires, now + 3600);
    assert_true(y.mfa);
    assert_string_equal(y.csrf, "csrf-aa01");
    assert_int_equal(moat_store_session_touch(b, "aa01", now + 5), 0);
    assert_int_equal(moat_store_session_get(f->s, "aa01", &y), 0);
    assert_int_equal(y.last_seen, now + 5);
    assert_int_equal(moat_store_session_touch(b, "nope", now), MOAT_ENOENT);
    assert_int_equal(moat_store_session_delete(b, "aa01"), 0);
    assert_int_equal(moat_store_session_get(f->s, "aa01", &y), MOAT_ENOENT);
    assert_int_equal(moat_store_session_delete(b, "aa01"), MOAT_ENOENT);

    /* a password change, a lock and a deletion end the user's sessions */
    x = sess("bb01", id, now);
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    x = sess("bb02", id, now);
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    size_t n = 0;
    assert_int_equal(moat_store_sessions_end_user(b, id, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(moat_store_session_get(f->s, "bb02", &y), MOAT_ENOENT);
    x = sess("cc01", id, now);
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    assert_int_equal(moat_store_user_set_password(b, id, "$argon2id$new", true), 0);
    assert_int_equal(moat_store_session_get(f->s, "cc01", &y), MOAT_ENOENT);
    x = sess("dd01", id, now);
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    assert_int_equal(moat_store_user_set_locked(b, id, true), 0);
    assert_int_equal(moat_store_session_get(f->s, "dd01", &y), MOAT_ENOENT);
    assert_int_equal(moat_store_user_set_locked(b, id, false), 0);
    x = sess("ee01", id, now);
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    assert_int_equal(moat_store_user_del(b, "ann"), 0);
    assert_int_equal(moat_store_session_get(f->s, "ee01", &y), MOAT_ENOENT);
    /* an expired session's key is gone by its TTL, and it does not take
     * the user's live sessions out of reach of a "log out everywhere" */
    x = sess("ff00", 99, now);
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    x = sess("ff01", 99, now - 7200);
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    assert_int_equal(moat_store_session_get(f->s, "ff01", &y), MOAT_ENOENT);
    assert_int_equal(moat_store_sessions_end_user(b, 99, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(moat_store_session_get(f->s, "ff00", &y), MOAT_ENOENT);
    moat_store_close(b);
}

static void test_lockout_totp(void **state)
{
    fixture *f = *state;
    int64_t id = add(f->s, "bob");
    moat_store *b = second(f);
    moat_lockout_params p = {
        .failures = 3, .window = 600, .duration = 900, .mfa_failures = 2, .addr_failures = 2};
    int64_t until = 0;
    assert_int_equal(moat_store_login_failed(f->s, id, &p, 100, &until), 0);
    assert_int_equal(until, 0);
    assert_int_equal(moat_store_login_failed(b, id, &p, 101, &until), 0);
    assert_int_equal(until, 0);
    moat_user u;
    assert_int_equal(moat_store_user_get(f->s, "bob", &u), 0);
    assert_int_equal(u.failures, 2);
    moat_user_clear(&u);
    assert_int_equal(moat_store_login_failed(f->s, id, &p, 102, &until), 0);
    assert_int_equal(until, 1002);
    assert_int_equal(moat_store_user_get(b, "bob", &u), 0);
    assert_int_equal(u.locked_until, 1002);
    assert_int_equal(u.lock_count, 1);
    moat_user_clear(&u);
    /* the second lock lasts twice as long */
    for (int i = 0; i < 3; i++)
        assert_int_equal(moat_store_login_failed(b, id, &p, 2000 + i, &until), 0);
    assert_int_equal(until, 2002 + 1800);
    assert_int_equal(moat_store_login_ok(f->s, id), 0);
    assert_int_equal(moat_store_user_get(b, "bob", &u), 0);
    assert_int_equal(u.failures, 0);
    assert_int_equal(u.lock_count, 0);
    moat_user_clear(&u);
    /* second factor: counted apart */
    assert_int_equal(moat_store_mfa_failed(f->s, id, &p, 100, &until), 0);
    assert_int_equal(moat_store_mfa_failed(b, id, &p, 101, &until), 0);
    assert_int_equal(until, 1001);
    assert_int_equal(moat_store_user_get(f->s, "bob", &u), 0);
    assert_int_equal(u.mfa_locked_until, 1001);
    moat_user_clear(&u);
    /* an administrator's unlock forgets the counters */
    assert_int_equal(moat_store_user_set_locked(b, id, false), 0);
    assert_int_equal(moat_store_user_get(f->s, "bob", &u), 0);
    assert_int_equal(u.mfa_locked_until, 0);
    assert_int_equal(u.locked_until, 0);
    moat_user_clear(&u);
    /* addresses */
    assert_int_equal(moat_store_addr_failed(f->s, "192.0.2.7", &p, 100, &until), 0);
    assert_int_equal(moat_store_addr_failed(b, "192.0.2.7", &p, 100, &until), 0);
    assert_int_equal(until, 1000);
    assert_int_equal(moat_store_addr_blocked(f->s, "192.0.2.7", 500, &until), 0);
    assert_int_equal(until, 1000);
    assert_int_equal(moat_store_addr_blocked(f->s, "192.0.2.7", 1000, &until), 0);
    assert_int_equal(until, 0);
    /* TOTP: a step is used once, whichever store sees it */
    const uint8_t secret[] = {9, 9, 9};
    assert_int_equal(moat_store_totp_set(f->s, id, secret, sizeof(secret)), 0);
    assert_int_equal(moat_store_totp_use(f->s, id, 500), 0);
    assert_int_equal(moat_store_totp_use(b, id, 500), MOAT_ENOENT);
    assert_int_equal(moat_store_totp_use(b, id, 499), MOAT_ENOENT);
    assert_int_equal(moat_store_totp_use(b, id, 501), 0);
    assert_int_equal(moat_store_user_get(f->s, "bob", &u), 0);
    assert_int_equal(u.totp_last_step, 501);
    assert_int_equal(u.totp_len, 3);
    moat_user_clear(&u);
    /* a new secret forgets the last step */
    assert_int_equal(moat_store_totp_set(b, id, secret, sizeof(secret)), 0);
    assert_int_equal(moat_store_totp_use(f->s, id, 10), 0);
    moat_store_close(b);
}

static void test_rate_bans(void **state)
{
    fixture *f = *state;
    moat_store *b = second(f);
    moat_rate_params p = {.requests = 3, .window_ms = 10000, .burst = 1};
    moat_rate_result r;
    int64_t t = 1700000000000;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(moat_store_rate_hit(i % 2 ? b : f->s, "k", &p, t + 100 * i, &r), 0);
        assert_true(r.allowed);
        assert_int_equal(r.count, i + 1);
    }
    assert_int_equal(moat_store_rate_hit(b, "k", &p, t + 1000, &r), 0);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 9000);
    assert_int_equal(moat_store_rate_hit(f->s, "k", &p, t + 10000, &r), 0);
    assert_true(r.allowed);
    assert_int_equal(moat_store_rate_hit(f->s, "k", &p, t + 10001, &r), 0);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 99);

    moat_strike_params sp = {.strikes = 3, .window = 60, .duration = 600};
    int64_t now = (int64_t)time(NULL), until = 0;
    assert_int_equal(moat_store_strike(f->s, "192.0.2.1", &sp, now, &until), 0);
    assert_int_equal(moat_store_strike(b, "192.0.2.1", &sp, now + 1, &until), 0);
    assert_int_equal(until, 0);
    assert_int_equal(moat_store_strike(f->s, "192.0.2.1", &sp, now + 2, &until), 0);
    assert_int_equal(until, now + 602);
    assert_int_equal(moat_store_ban_check(b, "192.0.2.1", now + 3, &until), 0);
    assert_int_equal(until, now + 602);
    assert_int_equal(moat_store_ban_add(b, "2001:db8::1", now + 50, "by hand"), 0);
    moat_ban *bans = NULL;
    size_t n = 0;
    assert_int_equal(moat_store_ban_list(f->s, now, &bans, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(bans[0].addr, "192.0.2.1");
    assert_string_equal(bans[1].addr, "2001:db8::1");
    assert_string_equal(bans[1].why, "by hand");
    assert_int_equal(bans[1].until, now + 50);
    free(bans);
    assert_int_equal(moat_store_ban_list(f->s, now + 100, &bans, &n), 0);
    assert_int_equal(n, 1);
    free(bans);
    assert_int_equal(moat_store_ban_remove(f->s, "192.0.2.1"), 0);
    assert_int_equal(moat_store_ban_remove(f->s, "192.0.2.1"), MOAT_ENOENT);
    assert_int_equal(moat_store_ban_check(b, "192.0.2.1", now + 3, &until), 0);
    assert_int_equal(until, 0);
    moat_store_close(b);
}

/* data_version: MOAT_EAGAIN until subscribed, then it moves on another
 * store's change (a logout), read at once, without waiting. */
static void test_data_version(void **state)
{
    fixture *f = *state;
    int64_t now = (int64_t)time(NULL);
    int64_t id = add(f->s, "cat");
    moat_store *b = second(f);
    uint64_t v1 = 0, v2 = 0;
    int rc = MOAT_EAGAIN;
    for (int i = 0; i < 100 && rc == MOAT_EAGAIN; i++) {
        rc = moat_store_data_version(f->s, &v1);
        if (rc == MOAT_EAGAIN) usleep(50 * 1000);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(moat_store_data_version(f->s, &v2), 0);
    assert_true(v1 == v2);
    moat_session x = sess("ab01", id, now);
    assert_int_equal(moat_store_session_create(b, &x), 0);
    assert_int_equal(moat_store_session_delete(b, "ab01"), 0);
    /* the message reaches this store's socket: bounded wait for delivery */
    for (int i = 0; i < 100 && v2 == v1; i++) {
        assert_int_equal(moat_store_data_version(f->s, &v2), 0);
        if (v2 == v1) usleep(10 * 1000);
    }
    assert_true(v2 != v1);
    /* a users-role change moves it too */
    assert_int_equal(moat_store_user_set_roles(b, id, NULL, 0), 0);
    uint64_t v3 = v2;
    for (int i = 0; i < 100 && v3 == v2; i++) {
        assert_int_equal(moat_store_data_version(f->s, &v3), 0);
        if (v3 == v2) usleep(10 * 1000);
    }
    assert_true(v3 != v2);
    moat_store_close(b);
}

/* Stopped: MOAT_EIO and a reason; started again on the same port: the
 * same store works again. */
static void test_outage(void **state)
{
    fixture *f = *state;
    int64_t now = (int64_t)time(NULL);
    int64_t id = add(f->s, "dan");
    moat_session x = sess("cd01", id, now), y;
    assert_int_equal(moat_store_session_create(f->s, &x), 0);
    char why[256];
    assert_false(moat_store_problem(f->s, why, sizeof(why)));
    stop_redis(f->redis);
    f->redis = 0;
    assert_int_equal(moat_store_session_get(f->s, "cd01", &y), MOAT_EIO);
    assert_int_equal(moat_store_session_get(f->s, "cd01", &y), MOAT_EIO);
    assert_true(moat_store_problem(f->s, why, sizeof(why)));
    assert_non_null(strstr(why, "127.0.0.1"));
    uint64_t v;
    assert_int_equal(moat_store_data_version(f->s, &v), MOAT_EAGAIN);
    /* users are in SQLite: still readable */
    moat_user u;
    assert_int_equal(moat_store_user_get_id(f->s, id, &u), MOAT_EIO); /* counters are not */
    f->redis = start_redis(f, NULL);
    assert_true(redis_up(f->port));
    int rc = MOAT_EIO;
    for (int i = 0; i < 100 && rc != 0; i++) { /* at most one attempt a second */
        rc = moat_store_session_create(f->s, &x);
        if (rc != 0) usleep(50 * 1000);
    }
    assert_int_equal(rc, 0); /* no persistence: the session was lost with the server */
    assert_int_equal(moat_store_session_get(f->s, "cd01", &y), 0);
    assert_false(moat_store_problem(f->s, why, sizeof(why)));
}

static void test_password(void **state)
{
    fixture *f = *state;
    moat_store_close(f->s);
    f->s = NULL;
    stop_redis(f->redis);
    f->redis = start_redis(f, "s3cret@pass");
    char url[200];
    char *err = NULL;
    moat_store *s = NULL;
    snprintf(url, sizeof(url), "redis://:wrong-one@127.0.0.1:%d/0", f->port);
    assert_int_equal(moat_store_open_roles(f->users, url, &s, &err), MOAT_EINVAL);
    assert_non_null(strstr(err, "AUTH"));
    assert_null(strstr(err, "wrong-one"));
    free(err);
    snprintf(url, sizeof(url), "redis://:s3cret%%40pass@127.0.0.1:%d/0", f->port);
    assert_int_equal(moat_store_open_roles(f->users, url, &s, &err), 0);
    moat_rate_params p = {.requests = 1, .window_ms = 1000};
    moat_rate_result r;
    assert_int_equal(moat_store_rate_hit(s, "k", &p, 5, &r), 0);
    assert_true(r.allowed);
    moat_store_close(s);
    /* pairs that are not supported */
    assert_int_equal(moat_store_open_roles(f->users, "sqlite:/tmp/other.db", &s, &err),
                     MOAT_EINVAL);
    free(err);
    assert_int_equal(moat_store_open_roles("redis://x", url, &s, &err), MOAT_EINVAL);
    free(err);
    assert_int_equal(moat_store_open_roles(f->users, "redis://h:99999", &s, &err), MOAT_EINVAL);
    free(err);
    /* a malformed URL's message shows no password, even an unescaped one */
    assert_int_equal(moat_store_open_roles(f->users, "redis://:pa/ss@127.0.0.1:1/0", &s, &err),
                     MOAT_EINVAL);
    assert_null(strstr(err, "pa/ss"));
    assert_non_null(strstr(err, ":***@127.0.0.1:1"));
    free(err);
    assert_int_equal(moat_store_open_roles(f->users, "redis://us:p?w@127.0.0.1:1/x", &s, &err),
                     MOAT_EINVAL);
    assert_null(strstr(err, "p?w"));
    free(err);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        printf("redis-server is not installed: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout_totp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_bans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
