/* login.c - the login decision over the store: address throttling, account
 * lockout, password verification (a dummy one for unknown users, so that
 * timing tells nothing), the second factor (TOTP with replay refusal, or a
 * single-use recovery code) and the transparent rehash of old hashes. What
 * the client is told, and what goes to the security log, is the gateway's or
 * the CLI's to decide from the result. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void moat_auth_settings_from_config(const moat_config *cfg, moat_auth_settings *out)
{
    memset(out, 0, sizeof(*out));
    out->argon2.m_kib = (uint32_t)(cfg->auth.argon2_memory / 1024);
    out->argon2.t = (uint32_t)cfg->auth.argon2_time;
    out->argon2.p = (uint32_t)cfg->auth.argon2_parallelism;
    out->policy.min_length = (uint32_t)cfg->auth.password_min;
    out->totp = MOAT_TOTP_DEFAULTS;
    out->totp.window = (uint32_t)cfg->auth.totp_window;
    out->lockout.failures = (uint32_t)cfg->auth.lockout_failures;
    out->lockout.window = (int64_t)(cfg->auth.lockout_window_ms / 1000);
    out->lockout.duration = (int64_t)(cfg->auth.lockout_duration_ms / 1000);
    out->lockout.addr_failures = (uint32_t)cfg->auth.address_failures;
    out->lockout.mfa_failures = (uint32_t)cfg->auth.mfa_failures;
    /* the issuer authenticator apps show: the site's, not the gateway's name */
    out->issuer = cfg->auth.totp_issuer && cfg->auth.totp_issuer[0]     ? cfg->auth.totp_issuer
                  : cfg->portal.site_name && cfg->portal.site_name[0]   ? cfg->portal.site_name
                  : cfg->hosts.len && !strchr(cfg->hosts.items[0], ':') ? cfg->hosts.items[0]
                                                                        : "moat";
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return n > 0;
}

/* 0: right; MOAT_ENOENT: wrong or replayed; else a store error. */
static int check_code(moat_store *s, const moat_auth_settings *st, const moat_user *u,
                      const char *code, size_t n, int64_t now, bool *recovery_used)
{
    *recovery_used = false;
    if (!u->totp_secret) return MOAT_ENOENT;
    if (all_digits(code, n)) {
        uint64_t step = 0;
        if (moat_totp_verify(&st->totp, u->totp_secret, u->totp_len, code, n, (uint64_t)now,
                             u->totp_last_step, &step) < 0)
            return MOAT_ENOENT;
        /* The store's compare-and-set refuses a step another request used
         * meanwhile: two logins racing with one code cannot both win. */
        return moat_store_totp_use(s, u->id, step);
    }
    char hash[MOAT_SECRET_HASH_LEN + 1];
    if (moat_recovery_code_hash(code, n, hash) < 0) return MOAT_ENOENT;
    int rc = moat_store_recovery_use(s, u->id, hash, now);
    if (rc == 0) *recovery_used = true;
    return rc;
}

/* ---- the limiter ------------------------------------------------------------
 * Every check of a secret goes through these three: refused() before the
 * check (a throttled address, a locked account, a locked second factor: the
 * secret is then not even looked at), failed() after a wrong one (the
 * account's counter of that kind, and the address's), succeeded() after a
 * right one (the account's counter of that kind starts over). */

typedef enum {
    KIND_PASSWORD, /* the account's password counter (lockout_failures) */
    KIND_CODE,     /* the account's second-factor counter (mfa_failures) */
    KIND_TOKEN,    /* a bearer token: no account to count against */
} secret_kind;

/* 0 with r->status left alone when the check may go on; 0 with r->status
 * THROTTLED or LOCKED (and r->reason) when not; or a store error. u may be
 * NULL (unknown user, token). */
static int refused(moat_store *s, const moat_auth_settings *st, const moat_user *u,
                   secret_kind kind, const char *addr, int64_t now, moat_login_result *r)
{
    if (addr) {
        int64_t blocked = 0;
        int rc = moat_store_addr_blocked(s, addr, now, &blocked);
        if (rc < 0) return rc;
        if (blocked) {
            r->status = MOAT_LOGIN_THROTTLED;
            r->reason = "throttled";
            r->retry_at = blocked;
        }
    }
    int64_t until = 0;
    const char *why = NULL;
    if (u && u->locked) {
        why = "admin_locked";
        until = now + (st->lockout.duration > 0 ? st->lockout.duration : 1);
    } else if (u && u->locked_until > now) {
        why = "locked";
        until = u->locked_until;
    } else if (u && kind == KIND_CODE && u->mfa_locked_until > now) {
        why = "mfa_locked";
        until = u->mfa_locked_until;
    }
    if (why && r->status != MOAT_LOGIN_THROTTLED) {
        r->status = MOAT_LOGIN_LOCKED;
        r->reason = why;
    }
    if (until > r->retry_at) r->retry_at = until;
    return 0;
}

int64_t moat_login_retry_after(const moat_login_result *r, int64_t now)
{
    if (r->status != MOAT_LOGIN_THROTTLED && r->status != MOAT_LOGIN_LOCKED) return 0;
    return r->retry_at > now ? r->retry_at - now : 1;
}

static int failed(moat_store *s, const moat_auth_settings *st, int64_t id, secret_kind kind,
                  const char *addr, int64_t now, moat_login_result *r)
{
    int64_t until = 0;
    if (id > 0 && kind != KIND_TOKEN) {
        int rc = kind == KIND_CODE ? moat_store_mfa_failed(s, id, &st->lockout, now, &until)
                                   : moat_store_login_failed(s, id, &st->lockout, now, &until);
        if (rc < 0) return rc;
        if (until) r->locked_until = until;
    }
    if (addr) {
        int rc = moat_store_addr_failed(s, addr, &st->lockout, now, &until);
        if (rc < 0) return rc;
        if (until) r->throttled_until = until;
    }
    return 0;
}

static int succeeded(moat_store *s, int64_t id, secret_kind kind)
{
    return kind == KIND_CODE ? moat_store_mfa_ok(s, id) : moat_store_login_ok(s, id);
}

int moat_auth_login(moat_store *s, const moat_auth_settings *st, const char *name, const char *pw,
                    size_t n, const char *code, size_t codelen, const char *addr, int64_t now,
                    moat_login_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = MOAT_LOGIN_BAD;
    int rc = refused(s, st, NULL, KIND_PASSWORD, addr, now, r);
    if (rc < 0) return rc;
    if (r->status == MOAT_LOGIN_THROTTLED) {
        moat_password_dummy_verify(&st->argon2, pw, n);
        return 0;
    }
    moat_user u;
    rc = moat_user_name_valid(name) ? moat_store_user_get(s, name, &u) : MOAT_ENOENT;
    if (rc == MOAT_ENOENT) {
        moat_password_dummy_verify(&st->argon2, pw, n);
        r->reason = "unknown_user";
        return failed(s, st, 0, KIND_PASSWORD, addr, now, r);
    }
    if (rc < 0) return rc;
    r->user_id = u.id;
    r->mfa_enrolled = u.totp_secret != NULL;
    int v = moat_password_verify(u.password_hash, pw, n);
    if (v == MOAT_EINVAL) moat_password_dummy_verify(&st->argon2, pw, n);
    /* The address was checked above; a locked account is refused after the
     * same work as a wrong password, and only the address counts it. */
    rc = refused(s, st, &u, KIND_PASSWORD, NULL, now, r);
    if (rc < 0) goto out;
    if (r->status == MOAT_LOGIN_LOCKED) {
        rc = failed(s, st, 0, KIND_PASSWORD, addr, now, r);
        goto out;
    }
    if (v != 0) {
        r->reason = "bad_password";
        rc = failed(s, st, u.id, KIND_PASSWORD, addr, now, r);
        goto out;
    }
    if (code && codelen > 0) {
        /* The password was right: from here on it is the second factor's
         * counter, and its lock refuses even the right code. */
        rc = refused(s, st, &u, KIND_CODE, NULL, now, r);
        if (rc < 0) goto out;
        if (r->status == MOAT_LOGIN_LOCKED) {
            rc = failed(s, st, 0, KIND_CODE, addr, now, r);
            goto out;
        }
        rc = check_code(s, st, &u, code, codelen, now, &r->recovery_used);
        if (rc == MOAT_ENOENT) {
            r->reason = "bad_code";
            rc = failed(s, st, u.id, KIND_CODE, addr, now, r);
            goto out;
        }
        if (rc < 0) goto out;
        r->mfa = true;
        rc = succeeded(s, u.id, KIND_CODE);
        if (rc < 0) goto out;
    }
    rc = succeeded(s, u.id, KIND_PASSWORD);
    if (rc < 0) goto out;
    r->status = MOAT_LOGIN_OK;
    if (moat_password_needs_rehash(u.password_hash, &st->argon2)) {
        char *h = NULL;
        if (moat_password_hash(&st->argon2, pw, n, &h) == 0) {
            /* Losing a race with a password change is fine: keep theirs. */
            r->rehashed = moat_store_user_rehash(s, u.id, u.password_hash, h) == 0;
            memset(h, 0, strlen(h));
            free(h);
        }
    }
out:
    moat_user_clear(&u);
    return rc;
}

int moat_auth_verify_code(moat_store *s, const moat_auth_settings *st, int64_t id, const char *code,
                          size_t codelen, const char *addr, int64_t now, moat_login_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = MOAT_LOGIN_BAD;
    r->user_id = id;
    moat_user u;
    int rc = moat_store_user_get_id(s, id, &u);
    if (rc < 0) return rc;
    r->mfa_enrolled = u.totp_secret != NULL;
    rc = refused(s, st, &u, KIND_CODE, addr, now, r);
    if (rc < 0 || r->status != MOAT_LOGIN_BAD) goto out;
    rc = check_code(s, st, &u, code, codelen, now, &r->recovery_used);
    if (rc == MOAT_ENOENT) {
        r->reason = "bad_code";
        rc = failed(s, st, id, KIND_CODE, addr, now, r);
        goto out;
    }
    if (rc < 0) goto out;
    rc = succeeded(s, id, KIND_CODE);
    if (rc < 0) goto out;
    r->status = MOAT_LOGIN_OK;
    r->mfa = true;
out:
    moat_user_clear(&u);
    return rc;
}

int moat_auth_check_password(moat_store *s, const moat_auth_settings *st, int64_t id,
                             const char *pw, size_t n, const char *addr, int64_t now,
                             moat_login_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = MOAT_LOGIN_BAD;
    r->user_id = id;
    moat_user u;
    int rc = moat_store_user_get_id(s, id, &u);
    if (rc < 0) return rc;
    rc = refused(s, st, &u, KIND_PASSWORD, addr, now, r);
    if (rc < 0 || r->status != MOAT_LOGIN_BAD) goto out;
    int v = moat_password_verify(u.password_hash, pw, n);
    if (v == MOAT_EINVAL) moat_password_dummy_verify(&st->argon2, pw, n);
    if (v != 0) {
        r->reason = "bad_password";
        rc = failed(s, st, id, KIND_PASSWORD, addr, now, r);
        goto out;
    }
    rc = succeeded(s, id, KIND_PASSWORD);
    if (rc == 0) r->status = MOAT_LOGIN_OK;
out:
    moat_user_clear(&u);
    return rc;
}

int moat_auth_token(moat_store *s, const moat_auth_settings *st, const char *hash, const char *addr,
                    int64_t now, moat_login_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = MOAT_LOGIN_BAD;
    int rc = refused(s, st, NULL, KIND_TOKEN, addr, now, r);
    if (rc < 0 || r->status != MOAT_LOGIN_BAD) return rc;
    int64_t uid = 0;
    rc = moat_store_token_find(s, hash, now, &uid);
    if (rc == MOAT_ENOENT) {
        r->reason = "unknown_token";
        return failed(s, st, 0, KIND_TOKEN, addr, now, r);
    }
    if (rc < 0) return rc;
    r->user_id = uid;
    r->status = MOAT_LOGIN_OK;
    return 0;
}
