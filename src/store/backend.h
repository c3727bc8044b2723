/* backend.h - inside the store (not public): the two roles a backend plays
 * and the table of operations each one fills. store.c owns the public
 * moat_store: it opens one backend per role and routes every public call of
 * store.h to the backend that holds that part of the state.
 *
 *   users role: users, roles, password hashes, the admin lock flag, TOTP
 *               secrets, recovery codes, bearer tokens.
 *   state role: sessions, login/MFA/address failure counters and lockouts,
 *               TOTP replay marks (last used step), rate-limit counters,
 *               bans, and the change version that caches watch.
 *
 * Backends: sqlite.c plays both roles on one file (store.url, the default:
 * exactly today's schema and behaviour; its users rows carry the counters);
 * postgres.c plays the users role; redis.c plays the state role. The
 * supported pairs are (sqlite F, sqlite F) and (sqlite | postgresql, redis);
 * store.c refuses other pairs with a clear message.
 *
 * When the roles are held by two backends, store.c composes:
 *   user_get, user_get_id, user_list = users row + state->user_state (counters overlay);
 *   user_del            = users del, then state->user_forget + sessions_end_user;
 *   set_locked          = users set_locked, then state->user_forget (unlock
 *                         clears counters) and, on lock, sessions_end_user;
 *   set_password(end)   = users, then state sessions_end_user;
 *   totp_set            = users, then state->totp_forget;
 *   every users-role change also calls state->bump so data_version moves.
 *
 * Every op returns 0 or a negative MOAT_E* (MOAT_EIO while the backend is
 * unreachable; MOAT_ENOENT/MOAT_EINVAL as store.h documents for the public
 * call). An op a backend does not play is NULL. Every op may block (disk or
 * network): the gateway calls them from the libuv thread pool; a backend
 * serialises its own connection(s) and is safe to call from many threads.
 * Secrets arrive hashed exactly as store.h says; no op logs a secret. */
#ifndef MOAT_STORE_BACKEND_H
#define MOAT_STORE_BACKEND_H

#include "store.h"

typedef struct moat__backend moat__backend; /* one backend's connection(s); opaque */

/* The part of a user the state role keeps (the counters of moat_user). */
typedef struct moat__user_state {
    int64_t locked_until;
    uint32_t failures;
    int64_t failure_start;
    uint32_t lock_count;
    uint64_t totp_last_step;
    int64_t mfa_locked_until;
} moat__user_state;

/* Everything about one user that `moat store copy` moves: the user (with
 * totp secret; counters are not copied), the hashes of their unused
 * recovery codes, and their tokens (hash, prefix, created, expires). All
 * owned by the exporter's callback caller: valid only during the callback. */
typedef struct moat__token_row {
    const char *hash;
    const char *prefix;
    int64_t created, expires, last_used;
} moat__token_row;

typedef struct moat__user_export {
    const moat_user *user;
    const char *const *recovery_hashes;
    size_t nrecovery;
    const moat__token_row *tokens;
    size_t ntokens;
} moat__user_export;

/* Called once per user, in name order; a nonzero return stops the export
 * and is returned by it. */
typedef int (*moat__export_fn)(const moat__user_export *row, void *arg);

typedef struct moat__backend_ops {
    const char *scheme; /* "sqlite", "postgresql", "redis" */
    void (*close)(moat__backend *b);
    /* true while unavailable: buf gets why (no secret, no password). */
    bool (*problem)(moat__backend *b, char *buf, size_t n);

    /* ---- users role (NULL in a state-only backend) ---- */
    int (*user_add)(moat__backend *b, const char *name, const char *hash, const char *const *roles,
                    size_t nroles, int64_t now);
    int (*users_import)(moat__backend *b, const moat_user_import *rows, size_t n, int64_t now,
                        size_t *failed);
    int (*user_get)(moat__backend *b, const char *name, moat_user *out);
    int (*user_get_id)(moat__backend *b, int64_t id, moat_user *out);
    int (*user_list)(moat__backend *b, moat_user **out, size_t *n);
    /* deletes the user with codes and tokens (and, in sqlite, sessions) */
    int (*user_del)(moat__backend *b, const char *name, int64_t *id_out);
    int (*set_password)(moat__backend *b, int64_t id, const char *hash, bool end_sessions);
    int (*rehash)(moat__backend *b, int64_t id, const char *old_hash, const char *hash);
    int (*set_locked)(moat__backend *b, int64_t id, bool locked);
    int (*set_roles)(moat__backend *b, int64_t id, const char *const *roles, size_t n);
    int (*totp_set)(moat__backend *b, int64_t id, const uint8_t *secret, size_t len);
    int (*recovery_set)(moat__backend *b, int64_t id, const char *const *hashes, size_t n);
    int (*recovery_use)(moat__backend *b, int64_t id, const char *hash, int64_t now);
    int (*token_add)(moat__backend *b, int64_t user_id, const char *hash, const char *prefix,
                     int64_t now, int64_t expires, int64_t *token_id);
    int (*token_find)(moat__backend *b, const char *hash, int64_t now, int64_t *user_id);
    int (*token_list)(moat__backend *b, const char *user, moat_token_info **out, size_t *n);
    int (*token_revoke)(moat__backend *b, int64_t token_id);
    /* `moat store copy`: export every user; import one exported user (one
     * transaction; MOAT_EINVAL if the name is taken). */
    int (*export_users)(moat__backend *b, moat__export_fn fn, void *arg);
    int (*import_user)(moat__backend *b, const moat__user_export *row);
    /* `moat store migrate`: bring the schema to this moat's version;
     * *from and *to = versions before and after (equal: nothing to do). */
    int (*migrate)(moat__backend *b, int *from, int *to);

    /* ---- state role (NULL in a users-only backend) ---- */
    /* counters of user id (all zero if none kept) */
    int (*user_state)(moat__backend *b, int64_t id, moat__user_state *out);
    /* forget every counter and the replay mark of user id */
    int (*user_forget)(moat__backend *b, int64_t id);
    int (*totp_forget)(moat__backend *b, int64_t id);
    int (*totp_use)(moat__backend *b, int64_t id, uint64_t step);
    int (*login_failed)(moat__backend *b, int64_t id, const moat_lockout_params *p, int64_t now,
                        int64_t *locked_until);
    int (*login_ok)(moat__backend *b, int64_t id);
    int (*mfa_failed)(moat__backend *b, int64_t id, const moat_lockout_params *p, int64_t now,
                      int64_t *locked_until);
    int (*mfa_ok)(moat__backend *b, int64_t id);
    int (*addr_failed)(moat__backend *b, const char *addr, const moat_lockout_params *p,
                       int64_t now, int64_t *blocked_until);
    int (*addr_blocked)(moat__backend *b, const char *addr, int64_t now, int64_t *until);
    int (*session_create)(moat__backend *b, const moat_session *sess);
    int (*session_get)(moat__backend *b, const char *id_hash, moat_session *out);
    int (*session_touch)(moat__backend *b, const char *id_hash, int64_t now);
    int (*session_delete)(moat__backend *b, const char *id_hash);
    int (*sessions_end_user)(moat__backend *b, int64_t id, size_t *n);
    int (*purge)(moat__backend *b, int64_t now, int64_t idle);
    /* see store.h */
    int (*rate_hit)(moat__backend *b, const char *key, const moat_rate_params *p, int64_t now_ms,
                    moat_rate_result *out);
    int (*ban_add)(moat__backend *b, const char *addr, int64_t until, const char *why);
    int (*ban_check)(moat__backend *b, const char *addr, int64_t now, int64_t *until);
    int (*ban_remove)(moat__backend *b, const char *addr);
    int (*ban_list)(moat__backend *b, int64_t now, moat_ban **out, size_t *n);
    int (*strike)(moat__backend *b, const char *addr, const moat_strike_params *p, int64_t now,
                  int64_t *banned_until);
    int (*data_version)(moat__backend *b, uint64_t *out);
    /* a change another instance must see (users role changed something) */
    int (*bump)(moat__backend *b);
} moat__backend_ops;

/* Opening a backend: url is the whole setting ("sqlite:PATH",
 * "postgresql://...", "redis://..." / "rediss://..."). watch: opened only
 * for data_version (the gateway's cache watcher). 0, or MOAT_EINVAL/MOAT_EIO
 * with *errmsg owned (never containing a password). */
int moat__sqlite_open(const char *url, bool watch, moat__backend **out, char **errmsg);
int moat__pg_open(const char *url, moat__backend **out, char **errmsg);
int moat__redis_open(const char *url, bool watch, moat__backend **out, char **errmsg);
/* The backends of an open store (store.c), for `moat store copy|migrate`. */
const moat__backend_ops *moat__store_users_ops(moat_store *s, moat__backend **b);
const moat__backend_ops *moat__store_state_ops(moat_store *s, moat__backend **b);
extern const moat__backend_ops moat__sqlite_ops;
extern const moat__backend_ops moat__pg_ops;
extern const moat__backend_ops moat__redis_ops;

#endif
