/* test_session.c - unit tests of the session lifecycle (session.c) and TOTP
 * enrollment (enroll.c) over a real SQLite store: credentials read from a
 * request head, resolve (live, idle, expired, locked, deleted user),
 * rotation (the presented session deleted, a step-up keeps the expiry),
 * logout of one and of all sessions, CSRF tokens, and an enrollment from
 * secret to stored second factor with recovery codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"

typedef struct fixture {
    char dir[32], path[64];
    moat_store *s;
    moat_config *cfg;
    moat_arena *a;
    int64_t uid;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/moat-sess-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/moat.db", f->dir);
    char url[96], *err = NULL;
    snprintf(url, sizeof(url), "sqlite:%s", f->path);
    assert_int_equal(moat_store_open(url, &f->s, &err), 0);
    f->cfg = moat_config_default();
    f->cfg->auth.session_idle_ms = 600 * 1000;
    f->cfg->auth.session_lifetime_ms = 3600 * 1000;
    f->cfg->auth.remember_ms = 86400 * 1000;
    f->a = moat_arena_new();
    assert_int_equal(moat_store_user_add(f->s, "alice", "x", NULL, 0, 1), 0);
    moat_user u;
    assert_int_equal(moat_store_user_get(f->s, "alice", &u), 0);
    f->uid = u.id;
    moat_user_clear(&u);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    moat_store_close(f->s);
    moat_config_free(f->cfg);
    moat_arena_free(f->a);
    char p[96];
    const char *const sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void creds_of(moat_session_creds *c, const char *sid, int64_t now)
{
    memset(c, 0, sizeof(*c));
    moat_secret_hash(sid, strlen(sid), c->sid_hash);
    c->has_sid = true;
    c->now = now;
}

static void test_creds_read(void **state)
{
    fixture *f = *state;
    char sid[MOAT_SESSION_ID_LEN + 1], want[MOAT_SECRET_HASH_LEN + 1];
    moat_session_id_new(sid);
    moat_secret_hash(sid, strlen(sid), want);
    moat_http_head *h = moat_arena_calloc(f->a, sizeof(*h));
    moat_http_head_add(h, f->a, "Cookie", moat_arena_printf(f->a, "a=1; moat_session=%s", sid));
    moat_session_creds c = {0};
    moat_session_creds_read(&c, h, f->a, false);
    assert_true(c.has_sid);
    assert_string_equal(c.sid_hash, want);
    /* over HTTPS only the __Host- cookie counts */
    memset(&c, 0, sizeof(c));
    moat_session_creds_read(&c, h, f->a, true);
    assert_false(c.has_sid);
    /* a cookie given twice (two headers) is nobody's */
    moat_http_head_add(h, f->a, "Cookie", moat_arena_printf(f->a, "moat_session=%s", sid));
    memset(&c, 0, sizeof(c));
    moat_session_creds_read(&c, h, f->a, false);
    assert_false(c.has_sid);
    /* a bearer token of the right length, when no session cookie is sent */
    char tok[MOAT_TOKEN_LEN + 1];
    moat_token_new(tok);
    moat_http_head *t = moat_arena_calloc(f->a, sizeof(*t));
    moat_http_head_add(t, f->a, "Authorization", moat_arena_printf(f->a, "bearer  %s", tok));
    memset(&c, 0, sizeof(c));
    moat_session_creds_read(&c, t, f->a, false);
    assert_true(c.has_tok);
    moat_secret_hash(tok, strlen(tok), want);
    assert_string_equal(c.tok_hash, want);
    moat_http_head *bad = moat_arena_calloc(f->a, sizeof(*bad));
    moat_http_head_add(bad, f->a, "Authorization", "Bearer short");
    moat_http_head_add(bad, f->a, "Cookie", "moat_session=short");
    memset(&c, 0, sizeof(c));
    moat_session_creds_read(&c, bad, f->a, false);
    assert_false(c.has_tok || c.has_sid);
}

static void test_lifecycle(void **state)
{
    fixture *f = *state;
    const moat_config *cfg = f->cfg;
    int64_t now = 1700000000;
    moat_session_creds none = {.now = now};
    char sid[MOAT_SESSION_ID_LEN + 1];
    moat_session made, first;
    assert_int_equal(moat_session_start(f->s, cfg, &none, NULL, f->uid, false, false, sid, &made),
                     0);
    assert_int_equal(strlen(sid), MOAT_SESSION_ID_LEN);
    assert_int_equal(made.expires, now + 3600);
    assert_int_equal(strlen(made.csrf), 64);
    first = made;
    moat_session_creds c;
    creds_of(&c, sid, now + 10);
    moat_session_who w;
    assert_int_equal(moat_session_resolve(f->s, cfg, &c, &w), 0);
    assert_true(w.authed);
    assert_false(w.token || w.expired || w.totp || w.sess.mfa);
    assert_string_equal(w.user.name, "alice");
    assert_string_equal(w.sess.csrf, made.csrf);
    assert_true(moat_session_csrf_ok(w.sess.csrf, made.csrf));
    assert_false(moat_session_csrf_ok(w.sess.csrf, "00"));
    assert_false(moat_session_csrf_ok("", ""));
    assert_false(moat_session_csrf_ok(w.sess.csrf, NULL));
    /* a step-up rotates: a new id, the old one gone, the expiry kept */
    char sid2[MOAT_SESSION_ID_LEN + 1];
    assert_int_equal(moat_session_start(f->s, cfg, &c, &w.sess, f->uid, true, false, sid2, &made),
                     0);
    moat_user_clear(&w.user);
    assert_string_not_equal(sid, sid2);
    assert_false(moat_session_exists(f->s, first.id_hash));
    assert_true(moat_session_exists(f->s, made.id_hash));
    assert_int_equal(made.expires, first.expires);
    assert_true(made.mfa);
    assert_string_not_equal(made.csrf, first.csrf);
    /* the old cookie is nobody's now */
    assert_int_equal(moat_session_resolve(f->s, cfg, &c, &w), 0);
    assert_false(w.authed || w.expired);
    /* idle past the limit: expired, and deleted */
    creds_of(&c, sid2, now + 10 + 600); /* last seen at its start */
    assert_int_equal(moat_session_resolve(f->s, cfg, &c, &w), 0);
    assert_false(w.authed);
    assert_true(w.expired);
    assert_false(moat_session_exists(f->s, made.id_hash));
    /* remember me: the longer lifetime */
    assert_int_equal(moat_session_start(f->s, cfg, &none, NULL, f->uid, false, true, sid, &made),
                     0);
    assert_int_equal(made.expires, now + 86400);
    /* a locked user's session ends when it is next presented */
    assert_int_equal(moat_store_user_set_locked(f->s, f->uid, true), 0);
    creds_of(&c, sid, now + 1);
    assert_int_equal(moat_session_resolve(f->s, cfg, &c, &w), 0);
    assert_false(w.authed);
    assert_false(moat_session_exists(f->s, made.id_hash));
    assert_int_equal(moat_store_user_set_locked(f->s, f->uid, false), 0);
    /* logout: one, then every session of the user */
    assert_int_equal(moat_session_start(f->s, cfg, &none, NULL, f->uid, false, false, sid, &made),
                     0);
    assert_int_equal(moat_session_end(f->s, made.id_hash), 0);
    assert_false(moat_session_exists(f->s, made.id_hash));
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            moat_session_start(f->s, cfg, &none, NULL, f->uid, false, false, sid, &made), 0);
    size_t n = 0;
    assert_int_equal(moat_session_end_user(f->s, f->uid, &n), 0);
    assert_int_equal(n, 3);
    assert_false(moat_session_exists(f->s, made.id_hash));
}

static void test_enrollment(void **state)
{
    fixture *f = *state;
    moat_auth_settings st;
    moat_auth_settings_from_config(f->cfg, &st);
    moat_enrollment e, again;
    moat_enrollment_new(&e, &st, "alice");
    assert_int_equal(strlen(e.secret_b32), 32);
    assert_int_equal(strncmp(e.uri, "otpauth://totp/", 15), 0);
    assert_non_null(strstr(e.uri, e.secret_b32));
    /* the form sends the secret back: the same key */
    assert_int_equal(moat_enrollment_from_b32(&again, &st, "alice", e.secret_b32), 0);
    assert_memory_equal(again.key, e.key, sizeof(e.key));
    assert_string_equal(again.uri, e.uri);
    moat_enrollment_clear(&again);
    assert_int_equal(moat_enrollment_from_b32(&again, &st, "alice", "AAAA"), MOAT_EINVAL);
    assert_null(again.secret_b32);
    assert_int_equal(moat_enrollment_from_b32(&again, &st, "alice", NULL), MOAT_EINVAL);
    char *svg = moat_enrollment_qr_svg(e.uri);
    assert_non_null(svg);
    assert_int_equal(strncmp(svg, "<svg ", 5), 0);
    free(svg);
    moat_buf t;
    moat_buf_init(&t);
    assert_int_equal(moat_enrollment_qr_text(&t, e.uri), 0);
    assert_non_null(strstr(t.data, "\xe2\x96\x88"));
    moat_buf_free(&t);
    /* a wrong code stores nothing; the right one the secret and 10 codes */
    int64_t now = 1700000000;
    char codes[MOAT_RECOVERY_CODES][MOAT_RECOVERY_CODE_LEN + 1];
    char code[9], wrong[9];
    moat_totp_code(&st.totp, e.key, sizeof(e.key), (uint64_t)now / st.totp.period, code);
    snprintf(wrong, sizeof(wrong), "%06d", (int)((strtol(code, NULL, 10) + 1) % 1000000));
    bool ok = true;
    assert_int_equal(moat_enrollment_finish(f->s, &st, &e, f->uid, wrong, now, &ok, codes), 0);
    assert_false(ok);
    assert_int_equal(moat_enrollment_finish(f->s, &st, &e, f->uid, NULL, now, &ok, codes), 0);
    assert_false(ok);
    moat_user u;
    assert_int_equal(moat_store_user_get(f->s, "alice", &u), 0);
    assert_null(u.totp_secret);
    moat_user_clear(&u);
    assert_int_equal(moat_enrollment_finish(f->s, &st, &e, f->uid, code, now, &ok, codes), 0);
    assert_true(ok);
    assert_int_equal(moat_store_user_get(f->s, "alice", &u), 0);
    assert_non_null(u.totp_secret);
    assert_int_equal(u.recovery_left, MOAT_RECOVERY_CODES);
    moat_user_clear(&u);
    for (size_t i = 0; i < MOAT_RECOVERY_CODES; i++)
        assert_int_equal(strlen(codes[i]), MOAT_RECOVERY_CODE_LEN);
    assert_string_not_equal(codes[0], codes[1]);
    /* the code that turned it on was used: the step-up refuses it */
    moat_login_result r;
    assert_int_equal(moat_auth_verify_code(f->s, &st, f->uid, code, strlen(code), NULL, now, &r),
                     0);
    assert_int_equal(r.status, MOAT_LOGIN_BAD);
    /* a recovery code works once */
    assert_int_equal(
        moat_auth_verify_code(f->s, &st, f->uid, codes[3], strlen(codes[3]), NULL, now, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_OK);
    assert_true(r.recovery_used);
    moat_enrollment_clear(&e);
    assert_null(e.uri);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_creds_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enrollment, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
