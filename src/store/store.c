/* store.c - the public store (store.h): one backend per role (backend.h)
 * and the routing of every public call to the backend that holds that part
 * of the state. With one SQLite file for both roles (store.url, the
 * default) every call goes to that backend as is; with two backends
 * (users in SQLite or PostgreSQL, state in Redis) the calls that touch both
 * are composed here, as backend.h describes: the users backend first (the
 * record of truth), then the state backend (counters, sessions, replay
 * marks), then a bump so every instance's caches see the change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

struct moat_store {
    const moat__backend_ops *uo, *so; /* users role, state role */
    moat__backend *ub, *sb;           /* sb == ub: one backend plays both */
};

#define ONE(s) ((s)->sb == (s)->ub)

/* ---- names and users ------------------------------------------------------ */

static bool name_chars(const char *n, size_t max, const char *extra)
{
    size_t len = strlen(n);
    if (len == 0 || len > max) return false;
    for (const char *c = n; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr(extra, *c)))
            return false;
    return true;
}

bool moat_user_name_valid(const char *name)
{
    return name && name_chars(name, MOAT_USER_NAME_MAX, "._@+-");
}

bool moat_role_name_valid(const char *role)
{
    return role && name_chars(role, MOAT_ROLE_NAME_MAX, "._-");
}

void moat_user_clear(moat_user *u)
{
    free(u->name);
    if (u->password_hash) {
        memset(u->password_hash, 0, strlen(u->password_hash));
        free(u->password_hash);
    }
    for (size_t i = 0; i < u->nroles; i++)
        free(u->roles[i]);
    free(u->roles);
    if (u->totp_secret) {
        memset(u->totp_secret, 0, u->totp_len);
        free(u->totp_secret);
    }
    memset(u, 0, sizeof(*u));
}

/* ---- open / close --------------------------------------------------------- */

static bool scheme_is(const char *url, const char *scheme)
{
    size_t n = strlen(scheme);
    return strncmp(url, scheme, n) == 0;
}

static bool is_redis(const char *url)
{
    return scheme_is(url, "redis://") || scheme_is(url, "rediss://");
}

static bool is_pg(const char *url)
{
    return scheme_is(url, "postgresql://") || scheme_is(url, "postgres://");
}

static int open_users(const char *url, const moat__backend_ops **ops, moat__backend **b,
                      char **errmsg)
{
    if (scheme_is(url, "sqlite:")) {
        *ops = &moat__sqlite_ops;
        return moat__sqlite_open(url, false, b, errmsg);
    }
    if (is_pg(url)) {
#ifdef MOAT_HAVE_PG
        *ops = &moat__pg_ops;
        return moat__pg_open(url, b, errmsg);
#else
        *errmsg = moat_xasprintf("store.users: postgresql:// support is not built in this moat "
                                 "(libpq was missing when it was built)");
        return MOAT_EINVAL;
#endif
    }
    *errmsg = moat_xasprintf("store.users: expected \"sqlite:PATH\" or \"postgresql://...\"");
    return MOAT_EINVAL;
}

int moat_store_open_roles(const char *users_url, const char *state_url, moat_store **out,
                          char **errmsg)
{
    *out = NULL;
    *errmsg = NULL;
    moat_store *s = moat_xcalloc(1, sizeof(*s));
    int rc;
    if (scheme_is(users_url, "sqlite:") && strcmp(users_url, state_url) == 0) {
        if (!users_url[7]) {
            *errmsg =
                moat_xasprintf("store url '%s': only \"sqlite:PATH\" is supported", users_url);
            free(s);
            return MOAT_EINVAL;
        }
        s->uo = s->so = &moat__sqlite_ops;
        rc = moat__sqlite_open(users_url, false, &s->ub, errmsg);
        s->sb = s->ub;
    } else if (!is_redis(state_url)) {
        if (scheme_is(state_url, "sqlite:"))
            *errmsg = moat_xasprintf("store.state: an SQLite state must be the same file as "
                                     "store.users (\"%s\"); to share state between instances "
                                     "use redis:// or rediss://",
                                     scheme_is(users_url, "sqlite:") ? users_url : "sqlite:PATH");
        else
            *errmsg = moat_xasprintf("store.state: expected \"sqlite:PATH\" (the users' file), "
                                     "\"redis://...\" or \"rediss://...\"");
        free(s);
        return MOAT_EINVAL;
    } else {
        rc = open_users(users_url, &s->uo, &s->ub, errmsg);
        if (rc == 0) {
#ifdef MOAT_HAVE_REDIS
            s->so = &moat__redis_ops;
            rc = moat__redis_open(state_url, false, &s->sb, errmsg);
#else
            *errmsg = moat_xasprintf("store.state: redis:// support is not built in this moat");
            rc = MOAT_EINVAL;
#endif
        }
    }
    if (rc < 0) {
        moat_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int moat_store_open(const char *url, moat_store **out, char **errmsg)
{
    if (!scheme_is(url, "sqlite:") || !url[7]) {
        *out = NULL;
        *errmsg = moat_xasprintf("store url '%s': only \"sqlite:PATH\" is supported", url);
        return MOAT_EINVAL;
    }
    return moat_store_open_roles(url, url, out, errmsg);
}

void moat_store_close(moat_store *s)
{
    if (!s) return;
    if (s->sb && !ONE(s)) s->so->close(s->sb);
    if (s->ub) s->uo->close(s->ub);
    free(s);
}

bool moat_store_problem(moat_store *s, char *buf, size_t n)
{
    if (n) buf[0] = '\0';
    if (s->uo->problem(s->ub, buf, n)) return true;
    return !ONE(s) && s->so->problem(s->sb, buf, n);
}

/* ---- composition helpers ---------------------------------------------------- */

#define U(s, op, ...) ((s)->uo->op((s)->ub, __VA_ARGS__))
#define S(s, op, ...) ((s)->so->op((s)->sb, __VA_ARGS__))

/* A users-role change other instances must see. */
static int bumped(moat_store *s, int rc)
{
    if (rc == 0 && !ONE(s) && s->so->bump) {
        int r = s->so->bump(s->sb);
        if (r < 0) return r;
    }
    return rc;
}

static void overlay(const moat__user_state *st, moat_user *u)
{
    u->locked_until = st->locked_until;
    u->failures = st->failures;
    u->failure_start = st->failure_start;
    u->lock_count = st->lock_count;
    u->totp_last_step = st->totp_last_step;
    u->mfa_locked_until = st->mfa_locked_until;
}

static int with_state(moat_store *s, int rc, moat_user *u)
{
    if (rc < 0 || ONE(s)) return rc;
    moat__user_state st;
    int r = S(s, user_state, u->id, &st);
    if (r < 0) {
        moat_user_clear(u);
        return r;
    }
    overlay(&st, u);
    return 0;
}

/* ---- users ------------------------------------------------------------------ */

int moat_store_user_add(moat_store *s, const char *name, const char *hash, const char *const *roles,
                        size_t nroles, int64_t now)
{
    return bumped(s, U(s, user_add, name, hash, roles, nroles, now));
}

int moat_store_users_import(moat_store *s, const moat_user_import *rows, size_t n, int64_t now,
                            size_t *failed)
{
    return bumped(s, U(s, users_import, rows, n, now, failed));
}

int moat_store_user_get(moat_store *s, const char *name, moat_user *out)
{
    return with_state(s, U(s, user_get, name, out), out);
}

int moat_store_user_get_id(moat_store *s, int64_t id, moat_user *out)
{
    return with_state(s, U(s, user_get_id, id, out), out);
}

int moat_store_user_list(moat_store *s, moat_user **out, size_t *n)
{
    int rc = U(s, user_list, out, n);
    if (rc < 0 || ONE(s)) return rc;
    for (size_t i = 0; i < *n; i++) {
        moat__user_state st;
        rc = S(s, user_state, (*out)[i].id, &st);
        if (rc < 0) break;
        overlay(&st, &(*out)[i]);
    }
    if (rc < 0) {
        for (size_t i = 0; i < *n; i++)
            moat_user_clear(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int moat_store_user_del(moat_store *s, const char *name)
{
    int64_t id = 0;
    int rc = U(s, user_del, name, &id);
    if (rc < 0 || ONE(s)) return rc;
    rc = S(s, user_forget, id);
    if (rc == 0) rc = S(s, sessions_end_user, id, NULL);
    return bumped(s, rc);
}

int moat_store_user_set_password(moat_store *s, int64_t id, const char *hash, bool end_sessions)
{
    int rc = U(s, set_password, id, hash, end_sessions);
    if (rc < 0 || ONE(s)) return rc;
    if (end_sessions) rc = S(s, sessions_end_user, id, NULL);
    return bumped(s, rc);
}

int moat_store_user_rehash(moat_store *s, int64_t id, const char *old_hash, const char *hash)
{
    return U(s, rehash, id, old_hash, hash);
}

int moat_store_user_set_locked(moat_store *s, int64_t id, bool locked)
{
    int rc = U(s, set_locked, id, locked);
    if (rc < 0 || ONE(s)) return rc;
    rc = locked ? S(s, sessions_end_user, id, NULL) : S(s, user_forget, id);
    return bumped(s, rc);
}

int moat_store_user_set_roles(moat_store *s, int64_t id, const char *const *roles, size_t nroles)
{
    return bumped(s, U(s, set_roles, id, roles, nroles));
}

/* ---- second factor ---------------------------------------------------------- */

int moat_store_totp_set(moat_store *s, int64_t id, const uint8_t *secret, size_t len)
{
    int rc = U(s, totp_set, id, secret, len);
    if (rc < 0 || ONE(s)) return rc;
    return bumped(s, S(s, totp_forget, id));
}

int moat_store_totp_use(moat_store *s, int64_t id, uint64_t step)
{
    return S(s, totp_use, id, step);
}

int moat_store_recovery_set(moat_store *s, int64_t id, const char *const *hashes, size_t n)
{
    return bumped(s, U(s, recovery_set, id, hashes, n));
}

int moat_store_recovery_use(moat_store *s, int64_t id, const char *hash, int64_t now)
{
    return U(s, recovery_use, id, hash, now);
}

/* ---- lockout ----------------------------------------------------------------- */

int moat_store_login_failed(moat_store *s, int64_t id, const moat_lockout_params *p, int64_t now,
                            int64_t *locked_until)
{
    return S(s, login_failed, id, p, now, locked_until);
}

int moat_store_login_ok(moat_store *s, int64_t id)
{
    return S(s, login_ok, id);
}

int moat_store_mfa_failed(moat_store *s, int64_t id, const moat_lockout_params *p, int64_t now,
                          int64_t *locked_until)
{
    return S(s, mfa_failed, id, p, now, locked_until);
}

int moat_store_mfa_ok(moat_store *s, int64_t id)
{
    return S(s, mfa_ok, id);
}

int moat_store_addr_failed(moat_store *s, const char *addr, const moat_lockout_params *p,
                           int64_t now, int64_t *blocked_until)
{
    return S(s, addr_failed, addr, p, now, blocked_until);
}

int moat_store_addr_blocked(moat_store *s, const char *addr, int64_t now, int64_t *until)
{
    return S(s, addr_blocked, addr, now, until);
}

/* ---- sessions ------------------------------------------------------------------ */

int moat_store_session_create(moat_store *s, const moat_session *sess)
{
    return S(s, session_create, sess);
}

int moat_store_session_get(moat_store *s, const char *id_hash, moat_session *out)
{
    return S(s, session_get, id_hash, out);
}

int moat_store_session_touch(moat_store *s, const char *id_hash, int64_t now)
{
    return S(s, session_touch, id_hash, now);
}

int moat_store_session_delete(moat_store *s, const char *id_hash)
{
    return S(s, session_delete, id_hash);
}

int moat_store_sessions_end_user(moat_store *s, int64_t id, size_t *n)
{
    return S(s, sessions_end_user, id, n);
}

int moat_store_purge(moat_store *s, int64_t now, int64_t idle)
{
    int rc = S(s, purge, now, idle);
    if (rc < 0 || ONE(s)) return rc;
    /* the users backend's expired tokens */
    return s->uo->purge ? U(s, purge, now, idle) : 0;
}

/* ---- tokens ---------------------------------------------------------------------- */

int moat_store_token_add(moat_store *s, int64_t user_id, const char *hash, const char *prefix,
                         int64_t now, int64_t expires, int64_t *token_id)
{
    return bumped(s, U(s, token_add, user_id, hash, prefix, now, expires, token_id));
}

int moat_store_token_find(moat_store *s, const char *hash, int64_t now, int64_t *user_id)
{
    return U(s, token_find, hash, now, user_id);
}

int moat_store_token_list(moat_store *s, const char *user, moat_token_info **out, size_t *n)
{
    return U(s, token_list, user, out, n);
}

int moat_store_token_revoke(moat_store *s, int64_t token_id)
{
    return bumped(s, U(s, token_revoke, token_id));
}

/* ---- rate limits and bans ----------------------------------------------------------- */

#define STATE_OP(s, op, ...) ((s)->so->op ? S(s, op, __VA_ARGS__) : MOAT_EINTERNAL)

int moat_store_rate_hit(moat_store *s, const char *key, const moat_rate_params *p, int64_t now_ms,
                        moat_rate_result *out)
{
    return STATE_OP(s, rate_hit, key, p, now_ms, out);
}

int moat_store_strike(moat_store *s, const char *addr, const moat_strike_params *p, int64_t now,
                      int64_t *banned_until)
{
    return STATE_OP(s, strike, addr, p, now, banned_until);
}

int moat_store_ban_add(moat_store *s, const char *addr, int64_t until, const char *why)
{
    return STATE_OP(s, ban_add, addr, until, why);
}

int moat_store_ban_check(moat_store *s, const char *addr, int64_t now, int64_t *until)
{
    return STATE_OP(s, ban_check, addr, now, until);
}

int moat_store_ban_remove(moat_store *s, const char *addr)
{
    return STATE_OP(s, ban_remove, addr);
}

int moat_store_ban_list(moat_store *s, int64_t now, moat_ban **out, size_t *n)
{
    return STATE_OP(s, ban_list, now, out, n);
}

/* ---- change counter ------------------------------------------------------------------- */

int moat_store_data_version(moat_store *s, uint64_t *out)
{
    return S(s, data_version, out);
}

/* ---- for moat store copy / migrate (backend.h) --------------------------------------- */

const moat__backend_ops *moat__store_users_ops(moat_store *s, moat__backend **b)
{
    *b = s->ub;
    return s->uo;
}

const moat__backend_ops *moat__store_state_ops(moat_store *s, moat__backend **b)
{
    *b = s->sb;
    return s->so;
}
