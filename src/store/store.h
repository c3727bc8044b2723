/* store.h - the public header of moat's state store: users (password hash,
 * roles, admin lock, lockout counters, TOTP secret and last used step,
 * recovery codes), sessions, bearer tokens and per-address login failures.
 * Only SQLite exists today (one file with a rollback journal, no shared
 * memory or mmap I/O, schema versioned with PRAGMA user_version). A store
 * whose file is deleted, replaced, made unreadable or damaged answers
 * MOAT_EIO to every call (never a crash) until the file at its path opens
 * again as a sound store (checked at most once a second). Every call is synchronous and may block
 * on disk: the gateway calls them from the libuv thread pool, the CLI directly. A store may be
 * shared by threads (calls are serialised inside). Secrets arrive here already hashed (session ids,
 * tokens, recovery codes); the TOTP secret is the one secret stored as is, which is why the file is
 * created 0600. Times are unix seconds. */
#ifndef MOAT_STORE_H
#define MOAT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

typedef struct moat_store moat_store;

/* Opens (creating if needed) the store at url: "sqlite:PATH". A new file is
 * created mode 0600. Returns 0, or MOAT_EINVAL / MOAT_EIO with *errmsg owning
 * a message (unknown scheme, unreadable file, schema from a newer moat). */
int moat_store_open(const char *url, moat_store **out, char **errmsg);
/* Opens a store whose two roles (backend.h) live apart: users_url is
 * "sqlite:PATH" or "postgresql://..." (libpq URI: sslmode, several hosts);
 * state_url is "redis://[user:pass@]host:port/db", "rediss://..." (TLS), or
 * the same "sqlite:PATH" as users_url. Same answers as moat_store_open; the
 * message never contains a password. */
int moat_store_open_roles(const char *users_url, const char *state_url, moat_store **out,
                          char **errmsg);
void moat_store_close(moat_store *s);
/* True while the store is unavailable (the last call failed, or the file
 * was deleted, replaced or damaged): buf (n bytes) gets why, no secret in it. */
bool moat_store_problem(moat_store *s, char *buf, size_t n);

/* ---- users ---------------------------------------------------------------- */

#define MOAT_USER_NAME_MAX 128
#define MOAT_ROLE_NAME_MAX 64

/* A user as read from the store; every pointer is owned (moat_user_clear). */
typedef struct moat_user {
    int64_t id;
    char *name;
    char *password_hash;
    char **roles; /* sorted */
    size_t nroles;
    bool locked;          /* locked by an administrator (moat user lock) */
    int64_t locked_until; /* lockout after failures: refused until then; 0 = not */
    uint32_t failures;    /* failures in the current window */
    int64_t failure_start;
    uint32_t lock_count;  /* lockouts since the last success (the lock grows) */
    uint8_t *totp_secret; /* NULL = no second factor */
    size_t totp_len;
    uint64_t totp_last_step;
    size_t recovery_left; /* unused recovery codes */
    /* lockout of the second factor after mfa_failures wrong codes (0 = not) */
    int64_t mfa_locked_until;
    int64_t created;
} moat_user;

void moat_user_clear(moat_user *u);

/* True when name is a valid user name (1..128 bytes of letters, digits and
 * . _ @ + -); the same rule for roles (1..64 bytes of letters, digits, . _ -). */
bool moat_user_name_valid(const char *name);
bool moat_role_name_valid(const char *role);

/* Adds a user. MOAT_EINVAL if the name is taken or invalid. */
int moat_store_user_add(moat_store *s, const char *name, const char *hash, const char *const *roles,
                        size_t nroles, int64_t now);
/* One user of an import. */
typedef struct moat_user_import {
    const char *name;
    const char *hash;
    const char *const *roles;
    size_t nroles;
} moat_user_import;

/* Adds every user or none (one transaction). On failure *failed (may be
 * NULL) is the index of the row that failed: MOAT_EINVAL when its name is
 * taken or invalid. */
int moat_store_users_import(moat_store *s, const moat_user_import *rows, size_t n, int64_t now,
                            size_t *failed);
/* Reads a user by name (MOAT_ENOENT if none). */
int moat_store_user_get(moat_store *s, const char *name, moat_user *out);
int moat_store_user_get_id(moat_store *s, int64_t id, moat_user *out);
/* Every user, sorted by name; *out owns an array of *n users
 * (moat_user_clear each, then free the array). */
int moat_store_user_list(moat_store *s, moat_user **out, size_t *n);
/* Deletes a user with their sessions, tokens and codes (MOAT_ENOENT if none). */
int moat_store_user_del(moat_store *s, const char *name);
/* Replaces the password hash. With end_sessions, the user's sessions end
 * (a password change); not for a transparent rehash at login. */
int moat_store_user_set_password(moat_store *s, int64_t id, const char *hash, bool end_sessions);
/* Replaces the password hash only if it is still old_hash (a rehash racing a
 * password change loses). */
int moat_store_user_rehash(moat_store *s, int64_t id, const char *old_hash, const char *hash);
/* An administrator's lock (ends every session of the user) or unlock (also
 * clears the lockout counters). */
int moat_store_user_set_locked(moat_store *s, int64_t id, bool locked);
int moat_store_user_set_roles(moat_store *s, int64_t id, const char *const *roles, size_t nroles);

/* ---- second factor -------------------------------------------------------- */

/* Sets the TOTP secret (len > 0) and forgets the last used step; len 0
 * removes the second factor and the recovery codes. */
int moat_store_totp_set(moat_store *s, int64_t id, const uint8_t *secret, size_t len);
/* Records that step was used, atomically: 0 if it is later than the last
 * step used, MOAT_ENOENT if not (a replay, possibly a concurrent one). */
int moat_store_totp_use(moat_store *s, int64_t id, uint64_t step);
/* Replaces the user's recovery codes by these hashes. */
int moat_store_recovery_set(moat_store *s, int64_t id, const char *const *hashes, size_t n);
/* Uses a recovery code once: 0, or MOAT_ENOENT (unknown or used). */
int moat_store_recovery_use(moat_store *s, int64_t id, const char *hash, int64_t now);

/* ---- lockout -------------------------------------------------------------- */

typedef struct moat_lockout_params {
    uint32_t failures;      /* failures within window that lock (0 = never) */
    int64_t window;         /* seconds */
    int64_t duration;       /* first lock, seconds; doubles on each repeat, at most a day */
    uint32_t addr_failures; /* failures from one address within window that throttle it */
    uint32_t mfa_failures;  /* wrong second-factor codes within window that lock the second
                             * factor (0 = never); counted apart from the password's */
} moat_lockout_params;

/* Counts a failed login of user id; *locked_until is set when this failure
 * locks the account (else 0). */
int moat_store_login_failed(moat_store *s, int64_t id, const moat_lockout_params *p, int64_t now,
                            int64_t *locked_until);
/* A successful login: the counters start over. */
int moat_store_login_ok(moat_store *s, int64_t id);
/* The same two for the second factor's counter (mfa_failures; its lock is
 * moat_user.mfa_locked_until). */
int moat_store_mfa_failed(moat_store *s, int64_t id, const moat_lockout_params *p, int64_t now,
                          int64_t *locked_until);
int moat_store_mfa_ok(moat_store *s, int64_t id);
/* Counts a failed login from addr; *blocked_until as above. */
int moat_store_addr_failed(moat_store *s, const char *addr, const moat_lockout_params *p,
                           int64_t now, int64_t *blocked_until);
/* Until when addr is throttled (0 = it is not). */
int moat_store_addr_blocked(moat_store *s, const char *addr, int64_t now, int64_t *until);

/* ---- sessions ------------------------------------------------------------- */

typedef struct moat_session {
    char id_hash[65];
    int64_t user_id;
    int64_t created, last_seen, expires;
    bool mfa; /* the second factor was presented */
    char csrf[65];
} moat_session;

int moat_store_session_create(moat_store *s, const moat_session *sess);
/* MOAT_ENOENT if no such session. Expiry is the caller's to judge. */
int moat_store_session_get(moat_store *s, const char *id_hash, moat_session *out);
int moat_store_session_touch(moat_store *s, const char *id_hash, int64_t now);
int moat_store_session_delete(moat_store *s, const char *id_hash);
/* Ends every session of the user; *n (may be NULL) = how many. */
int moat_store_sessions_end_user(moat_store *s, int64_t id, size_t *n);
/* Removes sessions past their expiry and idle limit, and expired tokens. */
int moat_store_purge(moat_store *s, int64_t now, int64_t idle);

/* ---- bearer tokens -------------------------------------------------------- */

typedef struct moat_token_info {
    int64_t id;
    char *user;                          /* owned */
    char prefix[16];                     /* the first characters of the token, to recognise it */
    int64_t created, expires, last_used; /* expires 0 = never; last_used 0 = never */
} moat_token_info;

int moat_store_token_add(moat_store *s, int64_t user_id, const char *hash, const char *prefix,
                         int64_t now, int64_t expires, int64_t *token_id);
/* The user a token belongs to, if it exists and has not expired (and marks
 * it used). MOAT_ENOENT otherwise. */
int moat_store_token_find(moat_store *s, const char *hash, int64_t now, int64_t *user_id);
/* Tokens of one user (user NULL: all); *out owns *n entries (free each
 * .user, then the array). */
int moat_store_token_list(moat_store *s, const char *user, moat_token_info **out, size_t *n);
/* Revokes a token by id (MOAT_ENOENT if none). */
int moat_store_token_revoke(moat_store *s, int64_t token_id);

/* ---- rate limits and bans (state role) ------------------------------------ */

/* A sliding-window limit: at most `requests` per `window_ms`, plus `burst`
 * more before refusing (nginx limit_req's burst without delay). Exact: a
 * hit is allowed while fewer than requests + burst allowed hits lie within
 * the last window_ms (a log of allowed hits per key, refused hits are not
 * counted), so no window of window_ms ever holds more. */
typedef struct moat_rate_params {
    uint32_t requests;
    int64_t window_ms;
    uint32_t burst;
} moat_rate_params;

typedef struct moat_rate_result {
    bool allowed;
    uint32_t count;         /* hits counted in the window, this one included */
    int64_t retry_after_ms; /* when refused: until a hit would be allowed again */
} moat_rate_result;

/* Counts one hit of key (e.g. "rate:3:addr:192.0.2.1") at now_ms, atomically
 * across every instance sharing the state, and says whether it is allowed.
 * On SQLite each hit is a committed change of the file: with rate limits on,
 * the session cache (data_version) is re-read more often. */
int moat_store_rate_hit(moat_store *s, const char *key, const moat_rate_params *p, int64_t now_ms,
                        moat_rate_result *out);

/* Bad behaviour: `strikes` refusals within `window` seconds ban the address
 * for `duration` seconds. */
typedef struct moat_strike_params {
    uint32_t strikes;
    int64_t window;
    int64_t duration;
} moat_strike_params;

/* Counts a strike against addr; *banned_until is set when this strike bans
 * it (else 0). The ban is visible to every instance. */
int moat_store_strike(moat_store *s, const char *addr, const moat_strike_params *p, int64_t now,
                      int64_t *banned_until);

typedef struct moat_ban {
    char addr[64];
    int64_t until;
    char why[128];
} moat_ban;

int moat_store_ban_add(moat_store *s, const char *addr, int64_t until, const char *why);
/* Until when addr is banned (0 = it is not). */
int moat_store_ban_check(moat_store *s, const char *addr, int64_t now, int64_t *until);
int moat_store_ban_remove(moat_store *s, const char *addr); /* MOAT_ENOENT if none */
/* Bans in force; *out owns an array of *n. */
int moat_store_ban_list(moat_store *s, int64_t now, moat_ban **out, size_t *n);

/* ---- change counter ------------------------------------------------------- */

/* A number that changes whenever another connection (another process, or
 * another moat_store on the same file) commits a change, and whenever the
 * store reopens its file: for caches of what the store holds. It reads the
 * file's header (a cached page, one small read) and never waits for a
 * writer: MOAT_EAGAIN while one holds the lock. */
int moat_store_data_version(moat_store *s, uint64_t *out);

#endif
