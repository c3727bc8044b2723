/* auth.h - the public header of moat's auth module: password hashing and
 * verification (Argon2id, and the hash formats of Django, Werkzeug and
 * passlib), the NIST SP 800-63B password policy, TOTP (RFC 6238) with base32,
 * recovery codes, session ids and bearer tokens, and the login decision
 * (lockout, rehash) over the store. Every function here is synchronous and
 * may take tens of milliseconds (hashing): the gateway calls them from the
 * libuv thread pool, never on an event loop. Nothing here logs secrets. */
#ifndef MOAT_AUTH_H
#define MOAT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core.h"
#include "http/http.h"
#include "seclog/seclog.h"
#include "store/store.h"

/* ---- passwords (password.c) -------------------------------------------- */

/* Longest password accepted, in bytes: long enough for any passphrase, short
 * enough that hashing one is bounded. */
#define MOAT_PASSWORD_MAX 1024

/* Argon2id parameters: memory in KiB, passes, lanes. OWASP's defaults are
 * 19456 KiB, 2, 1. */
typedef struct moat_argon2_params {
    uint32_t m_kib;
    uint32_t t;
    uint32_t p;
} moat_argon2_params;

#define MOAT_ARGON2_DEFAULTS ((moat_argon2_params){.m_kib = 19456, .t = 2, .p = 1})

/* Hashes pw[0..n) with Argon2id and a fresh 16-byte salt. *out owns the PHC
 * string ($argon2id$v=19$m=...,t=...,p=...$salt$hash). Returns 0, MOAT_EINVAL
 * (parameters out of range, password too long) or MOAT_EINTERNAL. */
int moat_password_hash(const moat_argon2_params *params, const char *pw, size_t n, char **out);

/* The formats moat_password_verify understands. */
typedef enum {
    MOAT_HASH_UNKNOWN = 0,
    MOAT_HASH_ARGON2,               /* $argon2id$ / $argon2i$ / $argon2d$ (PHC, passlib) */
    MOAT_HASH_DJANGO_ARGON2,        /* argon2$argon2id$... */
    MOAT_HASH_DJANGO_PBKDF2,        /* pbkdf2_sha256$ITER$SALT$B64 (and pbkdf2_sha1$) */
    MOAT_HASH_DJANGO_BCRYPT,        /* bcrypt$$2b$... */
    MOAT_HASH_DJANGO_BCRYPT_SHA256, /* bcrypt_sha256$$2b$... */
    MOAT_HASH_WERKZEUG_PBKDF2,      /* pbkdf2:sha256:ITER$SALT$HEX (and sha512) */
    MOAT_HASH_WERKZEUG_SCRYPT,      /* scrypt:N:r:p$SALT$HEX */
    MOAT_HASH_PASSLIB_PBKDF2,       /* $pbkdf2-sha256$ITER$AB64$AB64 (and sha512) */
    MOAT_HASH_BCRYPT,               /* $2b$ / $2a$ / $2y$ */
} moat_hash_format;

/* Which format a stored hash is in (by its prefix; the rest is checked by
 * moat_password_verify). */
moat_hash_format moat_password_format(const char *stored);
/* A short name for the format ("argon2", "django-pbkdf2", ...). */
const char *moat_password_format_name(moat_hash_format f);

/* Checks that stored is a hash moat can verify, with parameters in the bounds
 * moat accepts (so that an imported hash cannot make one verification cost
 * minutes or gigabytes). Returns 0 or MOAT_EINVAL with *why (static). */
int moat_password_check_stored(const char *stored, const char **why);

/* Verifies pw[0..n) against a stored hash of any format above, comparing in
 * constant time. Returns 0 when it matches, MOAT_ENOENT when it does not,
 * MOAT_EINVAL when the stored hash is malformed or out of bounds. */
int moat_password_verify(const char *stored, const char *pw, size_t n);

/* True when stored should be replaced by a fresh moat_password_hash: any
 * format other than Argon2id, or Argon2id with other parameters. */
bool moat_password_needs_rehash(const char *stored, const moat_argon2_params *params);

/* Verifies pw against a fixed Argon2id hash and throws the answer away, so
 * that an unknown user costs the same time as a wrong password. */
void moat_password_dummy_verify(const moat_argon2_params *params, const char *pw, size_t n);

/* ---- policy (policy.c) --------------------------------------------------- */

typedef struct moat_password_policy {
    uint32_t min_length; /* in Unicode code points; NIST: at least 8 */
} moat_password_policy;

/* NIST SP 800-63B: at least min_length code points, at most
 * MOAT_PASSWORD_MAX bytes of valid UTF-8, no composition rules; refused when
 * it is on the common-passwords list, equals the user name, or is one
 * character repeated. Returns 0, or MOAT_EINVAL with *why (static, safe to
 * show: it never contains the password). username may be NULL. */
int moat_password_policy_check(const moat_password_policy *pol, const char *username,
                               const char *pw, size_t n, const char **why);

/* True when pw (compared without regard to ASCII case) is on the shipped
 * list of common passwords. */
bool moat_password_is_common(const char *pw, size_t n);

/* ---- base32 (base32.c), RFC 4648 ----------------------------------------- */

/* Appends the base32 text of data[0..n), upper case, without padding. */
void moat_base32_encode(moat_buf *out, const void *data, size_t n);
/* Decodes base32 text (either case; '=' padding, spaces and '-' ignored) into
 * out[0..cap). Returns the number of bytes, or MOAT_EINVAL / MOAT_ETOOBIG. */
int moat_base32_decode(const char *s, size_t n, uint8_t *out, size_t cap);

/* ---- TOTP (totp.c), RFC 6238 --------------------------------------------- */

typedef enum { MOAT_TOTP_SHA1, MOAT_TOTP_SHA256, MOAT_TOTP_SHA512 } moat_totp_algo;

typedef struct moat_totp_params {
    moat_totp_algo algo;
    uint32_t digits; /* 6..8 */
    uint32_t period; /* seconds */
    uint32_t window; /* steps accepted either side of now */
} moat_totp_params;

#define MOAT_TOTP_DEFAULTS                                                                         \
    ((moat_totp_params){.algo = MOAT_TOTP_SHA1, .digits = 6, .period = 30, .window = 1})

/* Length of the secrets moat generates (160 bits, RFC 4226's recommendation). */
#define MOAT_TOTP_SECRET_LEN 20

/* The code for time step `step` (unix time / period), as digits + NUL. */
void moat_totp_code(const moat_totp_params *p, const uint8_t *key, size_t keylen, uint64_t step,
                    char out[9]);

/* Checks code against the steps now-window .. now+window (now = unix time /
 * period), comparing every candidate in constant time. A step at or before
 * last_step is refused (each code is accepted once): pass the step stored
 * after the last success, or 0 for none. On success returns 0 and *matched is
 * the step to store; else MOAT_ENOENT. */
int moat_totp_verify(const moat_totp_params *p, const uint8_t *key, size_t keylen, const char *code,
                     size_t codelen, uint64_t unix_now, uint64_t last_step, uint64_t *matched);

/* Appends the otpauth://totp/ISSUER:NAME?secret=...&issuer=...&algorithm=...
 * URI authenticator apps read (names percent-encoded). */
void moat_totp_uri(moat_buf *out, const moat_totp_params *p, const char *issuer, const char *name,
                   const uint8_t *key, size_t keylen);

/* ---- secrets: recovery codes, session ids, tokens (secret.c) -------------- */

#define MOAT_RECOVERY_CODES 10
/* "xxxx-xxxx-xxxx-xxxx": 16 base32 characters, 80 bits. */
#define MOAT_RECOVERY_CODE_LEN 19
/* SHA-256 as 64 lower-case hex digits + NUL. */
#define MOAT_SECRET_HASH_LEN 64

/* A fresh recovery code (NUL-terminated). */
void moat_recovery_code_new(char out[MOAT_RECOVERY_CODE_LEN + 1]);
/* The stored form of a recovery code as the user typed it: case, spaces and
 * dashes do not matter. Returns MOAT_EINVAL when it cannot be a code. */
int moat_recovery_code_hash(const char *code, size_t n, char out[MOAT_SECRET_HASH_LEN + 1]);

/* Session ids: 256 bits from the OS CSPRNG as 43 characters of base64url. */
#define MOAT_SESSION_ID_LEN 43
void moat_session_id_new(char out[MOAT_SESSION_ID_LEN + 1]);

/* Bearer tokens: "moat_" + 256 bits as base64url (48 characters). */
#define MOAT_TOKEN_LEN 48
void moat_token_new(char out[MOAT_TOKEN_LEN + 1]);

/* The stored form of a session id or token: SHA-256 in hex. */
void moat_secret_hash(const char *secret, size_t n, char out[MOAT_SECRET_HASH_LEN + 1]);

/* What the logs say for a login that names no user (perhaps a password
 * typed into the wrong field): "unknown:" + 12 hex digits of an HMAC-SHA-256
 * of the name (ASCII case folded) under a random per-process key, so that
 * attempts with one name correlate and the name cannot be read back. */
#define MOAT_NAME_TAG_LEN 20
void moat_auth_name_tag(const char *name, char out[MOAT_NAME_TAG_LEN + 1]);

/* ---- the login decision (login.c) ------------------------------------------ */

/* The parameters of authentication, taken from the [auth] settings. */
typedef struct moat_auth_settings {
    moat_argon2_params argon2;
    moat_password_policy policy;
    moat_totp_params totp;
    moat_lockout_params lockout;
    const char *issuer; /* borrowed from the config */
} moat_auth_settings;

void moat_auth_settings_from_config(const moat_config *cfg, moat_auth_settings *out);

typedef enum {
    MOAT_LOGIN_OK,        /* the password (and the code, if one was given) is right */
    MOAT_LOGIN_BAD,       /* unknown user, wrong password or wrong code */
    MOAT_LOGIN_LOCKED,    /* the account is locked (answer it exactly as BAD) */
    MOAT_LOGIN_THROTTLED, /* the client address is throttled */
} moat_login_status;

typedef struct moat_login_result {
    moat_login_status status;
    /* For the security log only: "unknown_user", "bad_password", "bad_code",
     * "locked", "admin_locked", "mfa_locked", "throttled", "unknown_token";
     * NULL on success. */
    const char *reason;
    int64_t user_id;         /* 0 for an unknown user */
    bool mfa;                /* a second factor was verified */
    bool mfa_enrolled;       /* the user has a second factor */
    bool recovery_used;      /* the second factor was a recovery code */
    bool rehashed;           /* the stored hash was replaced by a current Argon2id one */
    int64_t locked_until;    /* this failure locked the account's counter of its kind (else 0) */
    int64_t throttled_until; /* this failure throttled the client address (else 0) */
    /* THROTTLED or LOCKED: when the limiter would let the next attempt be
     * checked (the latest of the locks that refused this one; an admin lock,
     * which has no end, counts as auth.lockout_duration from now). */
    int64_t retry_at;
} moat_login_result;

/* The Retry-After (seconds, rounded up, at least 1) of a refused check
 * (THROTTLED or LOCKED), else 0. */
int64_t moat_login_retry_after(const moat_login_result *r, int64_t now);

/* Every check of a secret below goes through one limiter. Before the check:
 * a client address throttled after auth.address_failures failures, a locked
 * account (admin lock, or auth.lockout_failures password failures) and, for
 * a code, a second factor locked after auth.mfa_failures wrong codes are
 * refused (status THROTTLED or LOCKED, the secret not even compared). After
 * a wrong secret: one failure on the account's counter of its kind
 * (password or second factor; a token has no account) and one on the
 * address's (any kind). After a right one the account's counter of its
 * kind starts over. Locks last auth.lockout_duration, doubling with every
 * repeat until a success (at most a day). addr may be NULL (no address
 * counting, e.g. a local tool). Each returns 0 with *r filled, or a store
 * error (the caller must then refuse: fail closed). */

/* Decides a login: throttled address, unknown user, locked account, wrong
 * password and wrong code all cost one password verification (a dummy one
 * for an unknown user), so the answer's timing does not tell them apart.
 * Once the password is right, code (may be NULL) is a TOTP code or a
 * recovery code, each accepted once, and counted on the second factor's
 * counter; a success rehashes a password stored in an older format or with
 * other parameters. */
int moat_auth_login(moat_store *s, const moat_auth_settings *st, const char *name, const char *pw,
                    size_t n, const char *code, size_t codelen, const char *addr, int64_t now,
                    moat_login_result *r);

/* Verifies a second factor of user id (a TOTP code or a recovery code) for a
 * session that already has the first (the MFA step-up): OK (the code is now
 * used; r->recovery_used says which kind), BAD, LOCKED or THROTTLED. */
int moat_auth_verify_code(moat_store *s, const moat_auth_settings *st, int64_t id, const char *code,
                          size_t codelen, const char *addr, int64_t now, moat_login_result *r);

/* Verifies the current password of user id (the password-change form): OK,
 * BAD, LOCKED or THROTTLED, counted as a login's password would be. */
int moat_auth_check_password(moat_store *s, const moat_auth_settings *st, int64_t id,
                             const char *pw, size_t n, const char *addr, int64_t now,
                             moat_login_result *r);

/* Looks a bearer token up by its stored form (moat_secret_hash): OK with
 * r->user_id (the token is live; whether its user may log in is the
 * caller's to check), BAD (no such live token: counted against the
 * address) or THROTTLED. */
int moat_auth_token(moat_store *s, const moat_auth_settings *st, const char *hash, const char *addr,
                    int64_t now, moat_login_result *r);

/* ---- user import files (import.c) -------------------------------------- */

typedef struct moat_import_user {
    char *name, *hash; /* owned */
    char **roles;      /* owned */
    size_t nroles;
    unsigned line; /* CSV line, or position in the JSON array (1-based) */
} moat_import_user;

typedef struct moat_import {
    moat_import_user *rows;
    size_t n;
    bool json;
} moat_import;

/* Parses an import file: JSON when it starts with '[' or '{', else CSV with
 * a header line naming username, password_hash (or password) and optionally
 * roles. On failure returns MOAT_EPARSE with *errmsg owning "FILE:LINE: what"
 * and *out empty. */
int moat_import_parse(const char *path, const char *text, size_t len, moat_import *out,
                      char **errmsg);
/* Checks every row: names, hash formats and bounds, roles, names listed
 * twice (ignoring case). MOAT_EINVAL with *errmsg owning the first problem. */
int moat_import_check(const moat_import *im, const char *path, char **errmsg);
void moat_import_free(moat_import *im);

/* ---- sessions (session.c) -----------------------------------------------
 * The session lifecycle over the store: who a request's cookie or bearer
 * token is (expiry, idle limit, locked users), a new session at login or
 * step-up (rotation: a fresh id, the old one deleted), the end of one or of
 * all of a user's sessions, and the CSRF token each session carries. Only
 * this file calls the store's session functions. Synchronous (thread pool). */
/* The cookie that carries the session id: __Host- when the client uses
 * HTTPS (tls), else the plain name. */
#define MOAT_SESSION_COOKIE_TLS "__Host-moat_session"
#define MOAT_SESSION_COOKIE_PLAIN "moat_session"
/* Touched at most every this many seconds: the idle limit is that coarse,
 * the store is written that much less. */
#define MOAT_SESSION_TOUCH_S 15
/* What a request presents: the stored forms of its session id and bearer
 * token (a session cookie wins), the client address for throttling, now. */
typedef struct moat_session_creds {
    char sid_hash[MOAT_SECRET_HASH_LEN + 1];
    char tok_hash[MOAT_SECRET_HASH_LEN + 1];
    bool has_sid, has_tok;
    char addr[46]; /* INET6_ADDRSTRLEN */
    int64_t now;
} moat_session_creds;
/* Reads the session cookie (named by tls) and an "Authorization: Bearer"
 * token of head into c, hashed; c->addr and c->now are the caller's. a
 * holds the cookie's copy. Malformed values are ignored (anonymous). */
void moat_session_creds_read(moat_session_creds *c, const moat_http_head *head, moat_arena *a,
                             bool tls);
/* Who a request is. */
typedef struct moat_session_who {
    bool authed;           /* a live session or token of an unlocked user */
    bool token;            /* ... and it was a bearer token */
    bool expired;          /* the cookie named a session past its limits (now deleted) */
    bool totp;             /* the user has a second factor */
    moat_session sess;     /* the session (not for a token) */
    moat_user user;        /* when authed (clear with moat_user_clear) */
    moat_login_result tok; /* the bearer token's check (has_tok) */
} moat_session_who;
/* Resolves c into *w (zeroed first): 0, or a store error (refuse). An
 * expired session, or one of a deleted or locked user, is deleted; a live
 * one is touched (MOAT_SESSION_TOUCH_S). A token is checked through the
 * limiter (moat_auth_token). */
int moat_session_resolve(moat_store *s, const moat_config *cfg, const moat_session_creds *c,
                         moat_session_who *w);
/* A new session for user uid: a fresh id into new_sid (never the one the
 * client sent: no fixation) and its record into *made, the session c
 * presented (if any) deleted. Its lifetime: auth.remember when remember
 * (and remembering is on), else that of keep (a step-up keeps the login's
 * expiry; NULL for none), else auth.session_lifetime. 0 or a store error. */
int moat_session_start(moat_store *s, const moat_config *cfg, const moat_session_creds *c,
                       const moat_session *keep, int64_t uid, bool mfa, bool remember,
                       char new_sid[MOAT_SESSION_ID_LEN + 1], moat_session *made);
/* Ends the session whose stored id is id_hash (logout). */
int moat_session_end(moat_store *s, const char *id_hash);
/* Ends every session of user uid; *n (may be NULL) = how many. */
int moat_session_end_user(moat_store *s, int64_t uid, size_t *n);
/* True when the session id_hash is in the store (rotation needs it). */
bool moat_session_exists(moat_store *s, const char *id_hash);
/* Removes sessions past their limits and expired tokens, at most once a
 * minute per process (housekeeping that rides on logins). */
void moat_session_purge(moat_store *s, const moat_config *cfg, int64_t now);
/* The Set-Cookie value of cookie name (Path=/, HttpOnly; Secure when tls;
 * Max-Age when max_age >= 0), in a. */
const char *moat_session_set_cookie(moat_arena *a, bool tls, const char *name, const char *value,
                                    int64_t max_age, const char *samesite);
/* A security event for the caller to record (strings borrowed: they live as
 * long as what they were taken from). */
typedef struct moat_auth_event {
    const char *name, *user, *reason;
    int status;
    moat_seclog_field fields[2];
    size_t nfields;
} moat_auth_event;
/* The lockout events a failed check lr caused (the account's counter of
 * its kind, mfa: the second factor's; the client address's), for user who,
 * with fields f[0..nf) (nf <= 2): how many of out[0..2) were filled. */
size_t moat_auth_lock_events(const char *who, const moat_login_result *lr, bool mfa,
                             const moat_seclog_field *f, size_t nf, moat_auth_event out[2]);
/* The events of a bearer token that matched no live token or came from a
 * throttled address (none for another request): how many of out[0..3). */
size_t moat_session_token_events(const moat_session_creds *c, const moat_session_who *w,
                                 moat_auth_event out[3]);
/* A fresh CSRF token of nbytes random bytes as hex into out (2 * nbytes + 1). */
void moat_session_csrf_new(char *out, size_t nbytes);
/* A CSRF token check in constant time: want non-empty and equal to got. */
bool moat_session_csrf_ok(const char *want, const char *got);

/* The setting an auth event's count or limit comes from (seclog's
 * config_key), or NULL. */
const char *moat_auth_event_key(const char *event);

/* ---- identity headers (identity.c) ----------------------------------------
 * Those a client may not send, and those moat sets for the application. */
/* True when the header name[0..n) claims an identity: one of moat's list,
 * or of more (auth.strip_headers: names, or prefixes ending in '*'). */
bool moat_auth_identity_header(const char *name, size_t n, const moat_strlist *more);
/* Removes every identity header from h; keep_csrf keeps X-Moat-Csrf (the
 * portal's own, on its requests: never forwarded). */
void moat_auth_identity_strip(moat_http_head *h, const moat_strlist *more, bool keep_csrf);
/* Removes the headers that override the request's method. */
void moat_auth_method_override_strip(moat_http_head *h);
/* How the user came: for the signed X-Moat-Identity. */
typedef struct moat_auth_identity {
    const char *secret; /* auth.identity_secret: NULL or "" = no X-Moat-Identity */
    bool mfa;           /* a second factor was presented */
    bool token;         /* a bearer token, not a session */
    int64_t now;
} moat_auth_identity;
/* Sets Remote-User, Remote-Groups (the roles, comma-separated) and, with a
 * secret, X-Moat-Identity ("v1;user=..;groups=..;mfa=..;via=..;ts=..;sig="
 * HMAC-SHA256 hex) on h, in a. */
void moat_auth_identity_set(moat_http_head *h, moat_arena *a, const moat_user *u,
                            const moat_auth_identity *id);

/* ---- TOTP enrollment (enroll.c) -------------------------------------------
 * One path for the portal's enrollment page and `moat user mfa enroll`: a
 * secret, its base32 text and otpauth:// URI, the QR code of the URI (SVG
 * for a page, Unicode half blocks for a terminal), and recovery codes. */
typedef struct moat_enrollment {
    uint8_t key[MOAT_TOTP_SECRET_LEN];
    char *secret_b32; /* owned, wiped by moat_enrollment_clear */
    char *uri;        /* owned, wiped by moat_enrollment_clear */
} moat_enrollment;
/* A fresh secret for user name. */
void moat_enrollment_new(moat_enrollment *e, const moat_auth_settings *st, const char *name);
/* The secret b32 shown before (the form sent it back): 0, or MOAT_EINVAL
 * when it is not a secret moat made (e is then empty). */
int moat_enrollment_from_b32(moat_enrollment *e, const moat_auth_settings *st, const char *name,
                             const char *b32);
void moat_enrollment_clear(moat_enrollment *e);
/* The QR code of text as an SVG image, or NULL when it cannot be made.
 * Owned. */
char *moat_enrollment_qr_svg(const char *text);
/* Appends the QR code of text for a terminal (two modules per line, light
 * modules as blocks): 0, or MOAT_EINVAL when it cannot be made. */
int moat_enrollment_qr_text(moat_buf *out, const char *text);
/* Checks code against e's secret (at now) and, when right, stores the
 * secret as user uid's second factor (the code's step used) with fresh
 * recovery codes, returned in codes. 0 with *ok, or a store error. */
int moat_enrollment_finish(moat_store *s, const moat_auth_settings *st, const moat_enrollment *e,
                           int64_t uid, const char *code, int64_t now, bool *ok,
                           char codes[MOAT_RECOVERY_CODES][MOAT_RECOVERY_CODE_LEN + 1]);
/* New recovery codes for user uid, stored hashed (the old ones gone) and
 * returned in codes, shown once. 0 or a store error. */
int moat_recovery_codes_replace(moat_store *s, int64_t uid,
                                char codes[MOAT_RECOVERY_CODES][MOAT_RECOVERY_CODE_LEN + 1]);

#endif
